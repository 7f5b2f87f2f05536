/*
 * sim_calls.c - per-process counts of the calls that reach the simulated
 * devices, and who made them (xssim.h: xssim_calls_of).  Kept in the sim's
 * shared state, so that a test reads a daemon's counts from outside it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sim_internal.h"

static const char *const call_names[XSSIM_NR_CALLS] = {
    [XSSIM_EVTCHN_OPEN] = "evtchn open",
    [XSSIM_EVTCHN_BIND_INTERDOMAIN] = "evtchn bind interdomain",
    [XSSIM_EVTCHN_BIND_UNBOUND] = "evtchn bind unbound",
    [XSSIM_EVTCHN_BIND_VIRQ] = "evtchn bind virq",
    [XSSIM_EVTCHN_UNBIND] = "evtchn unbind",
    [XSSIM_EVTCHN_NOTIFY] = "evtchn notify",
    [XSSIM_EVTCHN_RESET] = "evtchn reset",
    [XSSIM_EVTCHN_RESTRICT] = "evtchn restrict",
    [XSSIM_EVTCHN_READ] = "evtchn read",
    [XSSIM_EVTCHN_WRITE] = "evtchn write",
    [XSSIM_GNTDEV_OPEN] = "gntdev open",
    [XSSIM_GNTDEV_MAP] = "gntdev map grant ref",
    [XSSIM_GNTDEV_UNMAP] = "gntdev unmap grant ref",
    [XSSIM_GNTDEV_OFFSET] = "gntdev get offset for vaddr",
    [XSSIM_GNTDEV_MAX_GRANTS] = "gntdev set max grants",
    [XSSIM_GNTDEV_MMAP] = "gntdev mmap",
    [XSSIM_PRIVCMD_OPEN] = "privcmd open",
    [XSSIM_PRIVCMD_DOMCTL] = "privcmd domctl",
    [XSSIM_PRIVCMD_SYSCTL] = "privcmd sysctl",
    [XSSIM_PRIVCMD_EVTCHN_OP] = "privcmd event_channel_op",
    [XSSIM_PRIVCMD_MMAP] = "privcmd mmap",
    [XSSIM_PRIVCMD_MMAPBATCH] = "privcmd mmapbatch_v2",
    [XSSIM_PRIVCMD_PROBE] = "privcmd probe",
    [XSSIM_UNSUPPORTED] = "unsupported",
};

static const char *const caller_names[XSSIM_NR_CALLERS] = {
    [XSSIM_BY_XEN_LIB] = "Xen's library", [XSSIM_BY_SHIM] = "libxsshim.so",
    [XSSIM_BY_OTHER] = "other",
};

const char *xssim_call_name(enum xssim_call call)
{
    return call < XSSIM_NR_CALLS ? call_names[call] : "?";
}

const char *xssim_caller_name(enum xssim_caller caller)
{
    return caller < XSSIM_NR_CALLERS ? caller_names[caller] : "?";
}

/* This process's slot, claimed on first use (and again after a fork). */
static struct sim_proc *own_slot(struct xssim *sim)
{
    static struct sim_proc *slot;
    static pid_t slot_pid;
    pid_t me = getpid();
    if (slot && slot_pid == me)
        return slot;
    struct sim_proc *procs = sim->hdr->procs;
    for (unsigned i = 0; i < SIM_MAX_PROCS; i++) {
        int32_t pid = atomic_load(&procs[i].pid);
        if (pid != 0 && (pid == me || sim_pid_alive(pid)))
            continue;
        if (!atomic_compare_exchange_strong(&procs[i].pid, &pid, me))
            continue;
        for (unsigned c = 0; c < XSSIM_NR_CALLS; c++)
            for (unsigned w = 0; w < XSSIM_NR_CALLERS; w++)
                atomic_store(&procs[i].n[c][w], 0);
        slot = &procs[i];
        slot_pid = me;
        return slot;
    }
    return NULL;   /* more processes than slots: not counted */
}

void sim_count(struct xssim *sim, enum xssim_call call, enum xssim_caller caller)
{
    struct sim_proc *p = own_slot(sim);
    if (p && call < XSSIM_NR_CALLS && caller < XSSIM_NR_CALLERS)
        atomic_fetch_add_explicit(&p->n[call][caller], 1, memory_order_relaxed);
}

int xssim_calls_of(struct xssim *sim, pid_t pid, struct xssim_calls *out)
{
    for (unsigned i = 0; i < SIM_MAX_PROCS; i++) {
        struct sim_proc *p = &sim->hdr->procs[i];
        if (atomic_load(&p->pid) != pid)
            continue;
        for (unsigned c = 0; c < XSSIM_NR_CALLS; c++)
            for (unsigned w = 0; w < XSSIM_NR_CALLERS; w++)
                out->n[c][w] = atomic_load(&p->n[c][w]);
        return 0;
    }
    errno = ESRCH;
    return -1;
}
