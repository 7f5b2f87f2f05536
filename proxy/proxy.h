/*
 * proxy.h - xsproxy's process-wide state (struct proxy) and what each
 * domain and dom0 client is (struct domain, struct client).  Each module's
 * functions are declared in its own header (domain.h, live.h, recover.h,
 * client.h, control.h, ...), included at the end for the files that use
 * several.
 */
#ifndef XSPROXY_PROXY_H
#define XSPROXY_PROXY_H

#include <ev.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "bytequeue.h"
#include "capture.h"
#include "claim.h"
#include "fair.h"
#include "journal.h"
#include "log_level.h"
#include "log_limit.h"
#include "msg.h"
#include "relay_step.h"
#include "shadow.h"

struct config {
    const char *socket_path;    /* where dom0 clients connect */
    const char *backend_path;   /* xenstored's socket */
    const char *run_dir;        /* pid file, claims/, shadow/ */
    const char *pid_file;
    const char *log_file;       /* NULL: stderr */
    bool syslog;
    int log_level;
    unsigned max_outstanding;   /* requests of one domain at xenstored */
    const char *capture_file;   /* --capture: pcap from the start */
    struct capture_settings capture;   /* --capture-filter/-size/-files */
};

struct domain {
    struct domain *next;
    struct proxy *px;
    uint32_t domid;
    struct log_limit log_limit; /* what domain_log may still write */
    struct xenstore_domain_interface *guest;    /* the guest's page */
    struct xenstore_domain_interface *xsd_ring; /* ours, the page xenstored
                                                   reads: the "shadow ring" */
    uint64_t gfn;               /* as introduced, to introduce again */
    uint32_t remote_port;       /* the guest's store port */
    evtchn_port_t guest_port;   /* local port bound to the guest's */
    evtchn_port_t shadow_port;  /* local port xenstored binds to */
    char xsd_ring_file[256];
    char claim_file[256];
    struct relay rl;            /* the relay's state (relay_step.h) */
    char inject_error[16];      /* first error xenstored gave xsproxy's own
                                   requests (ADD_DOMAIN_WATCHES) */
    struct shadow sh;           /* the shadow: its watches, transactions and
                                   requests in flight (shadow.h) */
    FILE *trace;
    uint64_t requests, replies, events;
    struct {
        bool live;              /* inserted while xenstored served it */
        bool switching;         /* live insertion: the shim may have switched
                                   the ring; nothing relayed yet (a crash
                                   here: recover asks the shim, live.c) */
        bool handing_back;      /* being handed back (rl.removing), and the
                                   shim is switching it back now: nothing of
                                   it is relayed until it answers */
        bool diverged;          /* xsproxy sent requests of its own on the
                                   shadow ring: its indexes are no longer the
                                   guest's, so xenstored cannot take it back */
    } sw;                       /* live insertion and hand-back (live.c) */
    bool notify_guest_due;      /* a notification to send at the end of this
                                   batch of events (domain_notify_flush) */
    bool notify_shadow_due;
    /* The four ring indexes xsproxy writes, as the relay means them to be.
     * The relay moves these; the rings see them only once the journal
     * holds the state that goes with them (domain_publish), so that after a
     * crash the journal is never behind what the guest or xenstored saw. */
    XENSTORE_RING_IDX g_req_cons, s_req_prod, s_rsp_cons, g_rsp_prod;
    evtchn_port_t xsd_port;     /* xenstored's end of the shadow channel (0:
                                   not known yet): bound again by a restarted
                                   xsproxy, xenstored keeping its port */
    struct {
        struct journal *main;   /* run-dir/journal/dom<D> */
        bool dirty;             /* changed outside the relay: commit */
        struct journal *watches;  /* run-dir/journal/dom<D>.watches, once the
                                     domain has had more than
                                     JOURNAL_WATCHES_INLINE watches (fewer
                                     stay in main): committed before main,
                                     when the list changed */
        uint32_t watch_gen;     /* the watch_gencnt it holds */
        bool watches_stale;     /* commit it whatever the generation */
    } jnl;
    struct {
        unsigned idle_kicks;    /* notifications in a row with nothing to do */
        bool held;              /* ... so its port stays masked a moment */
        bool logged;            /* said so, until it asks something again */
    } storm;                    /* a notification storm (domain.c) */
    struct fair_account fair;   /* its share of xenstored (fair.h) */
    struct fair_flow fair_flow; /* its requests at xenstored, for their cost */
};

struct client;

/* An answer xsproxy owes a dom0 client until a domain reaches a state. */
enum wait_kind {
    WAIT_NONE,
    WAIT_QUIESCED,   /* QUIESCE: everything passed on has been answered */
    WAIT_INJECTED,   /* ADD_DOMAIN_WATCHES: xenstored answered them all */
    WAIT_JOB,        /* a job (job.h) has its answer */
    WAIT_LINK,       /* `transfer send|receive`: once answered, the client's
                        connection is the transfer's link (transfer.c) */
};

struct job;
struct transfer;

struct wait_for {
    enum wait_kind kind;
    uint32_t domid;
    struct job *job;   /* WAIT_JOB */
    struct transfer *transfer;   /* WAIT_LINK */
};

struct waiter {
    struct waiter *next;
    struct client *c;
    void *req;                 /* the client's queue entry */
    struct xsd_sockmsg hdr;    /* the request's header, for the reply */
    struct wait_for what;
};

struct proxy {
    struct ev_loop *loop;
    struct config cfg;
    xenevtchn_handle *xce;
    xengnttab_handle *xgt;
    xc_interface *xch;
    struct xs_handle *xs;         /* xsproxy's own connection to xenstored */
    ev_io evtchn_watcher;
    evtchn_port_t virq_port;
    evtchn_port_t wake_port;      /* bound to the shim's wake-up port (0: not yet) */
    uint32_t wake_remote;         /* its number in xenstored, and xenstored's pid */
    int wake_pid;
    uint32_t *claims_asked;       /* the shim's .asked page (claim.h) */
    int listen_fd;
    ev_io listen_watcher;
    ev_timer scan_timer;
    struct domain *domains;
    struct domain **by_port;      /* local port -> domain */
    size_t by_port_len;
    unsigned nr_domains;
    struct client *clients;
    struct waiter *waiters;
    unsigned next_client_id;
    FILE *socket_trace;           /* trace of dom0 socket clients */
    struct capture *capture;      /* the pcap capture, when on */
    bool backend_up;              /* xenstored answers */
    int probe_fd;                 /* idle connection: EOF = xenstored gone */
    ev_io probe_watcher;
    ev_timer reconnect_timer;
    bool stopping;
    uint8_t *jbuf;                /* a domain's state being encoded */
    size_t jbuf_len, jbuf_cap;
    uint64_t commits;             /* journal commits, for `list` */
    struct job *jobs;             /* long operations under way (job.h) */
    struct transfer *transfers;   /* host-to-host transfers (transfer.h) */
    bool batching;                /* relays note notifications, sent by
                                     domain_notify_flush */
    struct domain **notify_due;   /* the domains with one noted */
    size_t notify_due_len, notify_due_cap;
    struct fair fair;             /* xenstored's time between domains */
    struct fair_account dom0_fair;   /* dom0's socket clients, together */
    ev_timer fair_timer;          /* while one is held back: look again */
    ev_timer kicks_timer;         /* unmasks the ports of notification storms */
    unsigned nr_kicks_held;
    bool fair_waking;             /* share.c's wake is under way */
    int xsd_stat_fd;              /* xenstored's /proc/PID/schedstat */
    bool xsd_stat_tried;
    uint64_t xsd_cpu_last;        /* its CPU time at the last settle */
    uint64_t fair_settled;        /* when (share.c) */
};

/* Each module's interface, in its own header. */
#include "domain.h"
#include "recover.h"
#include "live.h"
#include "waiters.h"
#include "persist.h"
#include "job.h"
#include "backend.h"
#include "client.h"
#include "control.h"
#include "trace.h"
#include "log.h"

#endif
