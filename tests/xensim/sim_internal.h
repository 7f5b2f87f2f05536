/*
 * sim_internal.h - the layout of a sim's shared state file and the helpers
 * the sim's files share.  Every process attached to a sim maps DIR/state
 * MAP_SHARED; structural changes take the robust process-shared mutex,
 * notification (the hot path) only uses atomics on the port it touches.
 */
#ifndef XSSIM_SIM_INTERNAL_H
#define XSSIM_SIM_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "xssim.h"

#define SIM_MAGIC 0x7873736d30303033ull /* "xssim003": the layout below */
#define SIM_MAX_SLOTS 4096u          /* domains alive at once, dom0 included */
#define SIM_DOM0_PORTS 16384u        /* dom0 binds a port per guest, often two */
#define SIM_DOMU_PORTS 64u
#define SIM_NR_PORTS (SIM_DOM0_PORTS + (SIM_MAX_SLOTS - 1) * SIM_DOMU_PORTS)
#define SIM_GFN_BASE 0xfeff0000ull   /* ring gfn = base + domid */

enum port_state { PORT_FREE = 0, PORT_UNBOUND, PORT_INTERDOMAIN, PORT_VIRQ };

struct sim_port {
    _Atomic uint32_t state;
    uint32_t remote_dom;    /* UNBOUND: who may bind; INTERDOMAIN: peer */
    uint32_t remote_port;
    uint32_t virq;
    _Atomic uint64_t owner; /* handle id that receives its events, 0: none */
    _Atomic uint32_t pending;
    _Atomic uint32_t masked;   /* read through /dev/xen/evtchn and not yet
                                  unmasked: raises set pending, wake no one */
};

struct sim_domain {
    uint32_t in_use;
    uint32_t domid;
    uint32_t state;           /* enum xssim_dom_state */
    uint32_t shutdown_reason;
    uint32_t store_port;
    uint32_t nr_ports;
    uint32_t port_base;       /* index of port 0 in the port array */
    uint32_t pad;
    /* The highest port ever allocated in this slot (written under the
     * lock, read atomically): every port above it and above store_port is
     * free, so an overflow rescan stops there. */
    uint32_t port_hwm;
    uint32_t pad2;
};

#define SIM_MAX_HANDLES 4096u        /* open event-channel handles, all processes */
#define SIM_HANDLE_SLOT(id) ((uint32_t)((id) & (SIM_MAX_HANDLES - 1)))

/* A handle's shared record.  A notifier whose wake-up datagram does not fit
 * in the owner's socket queue sets `overflow`; the owner then rescans its
 * ports (up to its domain's port_hwm) for pending ones, so no event is ever
 * lost. */
struct sim_handle {
    _Atomic uint64_t id;    /* 0: slot free */
    _Atomic uint32_t overflow;
    uint32_t domid;
    int32_t pid;
    uint32_t pad;
};

/* One process's counts of device calls (xssim_calls_of). */
#define SIM_MAX_PROCS 512u
struct sim_proc {
    _Atomic int32_t pid;   /* 0: slot free */
    uint32_t pad;
    _Atomic uint64_t n[XSSIM_NR_CALLS][XSSIM_NR_CALLERS];
};

struct sim_header {
    uint64_t magic;
    uint64_t sim_id;              /* names this sim's sockets */
    pthread_mutex_t lock;
    _Atomic uint64_t next_handle;
    int16_t slot_of[XSSIM_MAX_DOMID + 1];   /* domid -> slot, -1: none */
    struct sim_domain doms[SIM_MAX_SLOTS];
    struct sim_handle handles[SIM_MAX_HANDLES];
    struct sim_port ports[SIM_NR_PORTS];
    struct sim_proc procs[SIM_MAX_PROCS];
};

struct xssim {
    char *dir;
    int fd;
    struct sim_header *hdr;
};

struct xssim_evtchn {
    struct xssim *sim;
    uint32_t domid;
    uint64_t id;
    int sock;   /* datagram socket, abstract name from (sim_id, id) */
    /* Ports found pending by an overflow rescan, served first-in first-out
     * from backlog[backlog_head] to backlog[backlog_len - 1]. */
    uint32_t *backlog;
    unsigned backlog_head, backlog_len, backlog_cap;
    uint32_t scan_next;  /* where the next rescan starts: after the last
                            port served from a rescan (round-robin) */
    uint32_t last_port;  /* the last port pending() returned */
};

/* Lock the domain table, recovering from a holder that died. */
void sim_lock(struct xssim *sim);
void sim_unlock(struct xssim *sim);
struct sim_domain *sim_dom(struct xssim *sim, uint32_t domid); /* locked or atomic use */
struct sim_port *sim_port(struct xssim *sim, struct sim_domain *d, uint32_t port);
/* Fill ADDR with the abstract socket name of handle ID; returns its length. */
socklen_t sim_handle_addr(const struct xssim *sim, uint64_t id, struct sockaddr_un *addr);
/* Mark PORT of D pending and wake its owner (no lock; one sendto at most). */
void sim_raise(struct xssim *sim, struct sim_domain *d, uint32_t port);
/* Close every port of D (domain death), peers become unbound. Locked. */
void sim_close_domain_ports(struct xssim *sim, struct sim_domain *d);
/* Raise VIRQ_DOM_EXC on every dom0 port bound to it. Locked. */
void sim_raise_dom_exc(struct xssim *sim);

/* Is PID a live process?  A zombie nobody has reaped yet is not: its
 * evtchn handles are closed already, as the kernel does on exit. */
bool sim_pid_alive(pid_t pid);

/* Count one CALL by CALLER for this process. */
void sim_count(struct xssim *sim, enum xssim_call call, enum xssim_caller caller);

/* Paths inside the sim directory: DIR/SUB, into BUF. */
int sim_path(const char *dir, const char *sub, char *buf, size_t len);

#endif
