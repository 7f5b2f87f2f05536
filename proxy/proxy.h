/*
 * proxy.h - xsproxy's process-wide state and the interfaces between its
 * files: domain.c (the relay between a guest ring and its shadow ring),
 * client.c (dom0 socket clients), control.c (the operations xsproxy
 * answers itself), trace.c, log.c and main.c (flags, the libev loop).
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
    struct xenstore_domain_interface *shadow;   /* ours, xenstored's view */
    uint64_t gfn;               /* as introduced, to introduce again */
    uint32_t remote_port;       /* the guest's store port */
    evtchn_port_t guest_port;   /* local port bound to the guest's */
    evtchn_port_t shadow_port;  /* local port xenstored binds to */
    char shadow_file[256];
    char claim_file[256];
    struct relay rl;            /* the relay's state (relay_step.h) */
    char inject_error[16];      /* first error xenstored gave xsproxy's own
                                   requests (ADD_DOMAIN_WATCHES) */
    struct shadow sh;
    FILE *trace;
    uint64_t requests, replies, events;
    bool live;                  /* inserted while xenstored served it */
    bool switching;             /* live insertion: the shim may have switched
                                   the ring; nothing relayed yet (a crash
                                   here: recover asks the shim, live.c) */
    bool notify_guest_due;      /* a notification to send at the end of this
                                   batch of events (domain_notify_flush) */
    bool notify_shadow_due;
    bool handing_back;          /* being handed back (rl.removing), and the shim
                                   is switching it back now: nothing of it is
                                   relayed until it answers */
    bool diverged;              /* xsproxy sent requests of its own on the
                                   shadow ring: its indexes are no longer the
                                   guest's, so xenstored cannot take it back */
    /* The four ring indexes xsproxy writes, as the relay means them to be.
     * The relay moves these; the rings see them only once the journal
     * holds the state that goes with them (domain_publish), so that after a
     * crash the journal is never behind what the guest or xenstored saw. */
    XENSTORE_RING_IDX g_req_cons, s_req_prod, s_rsp_cons, g_rsp_prod;
    evtchn_port_t xsd_port;     /* xenstored's end of the shadow channel (0:
                                   not known yet): bound again by a restarted
                                   xsproxy, xenstored keeping its port */
    struct journal *jnl;        /* run-dir/journal/dom<D> */
    bool jnl_dirty;             /* changed outside the relay: commit */
    struct journal *jnl_watches;  /* run-dir/journal/dom<D>.watches, once the
                                     domain has had more than
                                     JOURNAL_WATCHES_INLINE watches (fewer stay
                                     in jnl): committed before jnl, when the
                                     list changed */
    uint32_t jnl_watch_gen;     /* the watch_gencnt it holds */
    bool jnl_watches_stale;     /* commit it whatever the generation */
    unsigned idle_kicks;        /* notifications in a row with nothing to do */
    bool kicks_held;            /* ... so its port stays masked a moment */
    bool storm_logged;          /* said so, until it asks something again */
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

/* domain.c */
/* Re-attach to every domain the run directory's journals name (after a
 * crash or a stop): their rings, shadow rings and channels, and carry on.
 * Returns how many; a journal that cannot be used is logged and left. */
int domain_recover_all(struct proxy *px);
/* Commit D's state to its journal, then let the rings see the indexes that
 * go with it.  Runs after every pump; also after changes elsewhere. */
void domain_publish(struct domain *d);
/* Send the notifications the relays noted while PX->batching was set
 * (and settle the cost of the replies they saw: share.h). */
void domain_notify_flush(struct proxy *px);
/* xsproxy stops: let go of D's memory and handles, keep its files, so that
 * the next xsproxy carries on (the guest waits meanwhile). */
void domain_detach(struct proxy *px, struct domain *d);
/* Unbind D's ports, unmap its pages, close its journal; with REMOVE_FILES
 * also remove the journal, claim and shadow file (D is no longer
 * xsproxy's).  What is not there yet is skipped: also for half-made D. */
void domain_let_go(struct proxy *px, struct domain *d, bool remove_files);
/* RUN-DIR/journal/dom<DOMID>.watches: the watch list's own journal. */
void watch_journal_path(const struct proxy *px, uint32_t domid, char *buf, size_t len);
/* Up to this many watches stay in a domain's journal; past it the list gets
 * a journal of its own, committed only when it changes. */
#define JOURNAL_WATCHES_INLINE 8u
struct domain *domain_find(struct proxy *px, uint32_t domid);
/* Put xsproxy in front of DOMID: map its ring, bind its channel, make the
 * shadow ring and channel, publish the claim.  0 or -1 with a message. */
int domain_insert(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port,
                  bool quiesced, char *err, size_t errlen);
void domain_remove(struct proxy *px, struct domain *d);
/* The pieces of an insertion, for live.c: a domain with its guest page
 * mapped and its shadow made (LIVE: the guest's channel not bound yet),
 * not yet linked; the claim; linking; undoing a prepared one. */
struct domain *domain_prepare_live(struct proxy *px, uint32_t domid, uint64_t gfn,
                                   uint32_t port, char *err, size_t errlen);
int domain_write_claim(const struct domain *d, enum claim_live live);
void domain_link(struct proxy *px, struct domain *d);
void domain_discard(struct proxy *px, struct domain *d);
int domain_set_port(struct proxy *px, evtchn_port_t port, struct domain *d);
/* Commit D's state to its journal now, touching no ring.  0 or -1. */
int domain_journal_now(struct domain *d);
/* A live switch handed D's streams over wherever they stood (the shim's
 * answer A, claim.h): D's pages are mapped and nothing is relayed yet.  The
 * requests xenstored has not answered become D's requests in flight, the
 * request the guest is writing and the reply xenstored is writing are
 * finished by the relay, and the guest's ring learns that what is on the
 * shadow ring was taken.  0, or -1 (out of memory, A not for these rings)
 * with a message. */
int domain_adopt_switch(struct domain *d, const struct switch_answer *a, char *err,
                        size_t errlen);

/* live.c: put xsproxy in front of a domain xenstored serves directly, and
 * hand it back: each starts a job (job.h) and sets *JOB, whose answer
 * comes later.  0, or an errno at once with a message in ERR. */
int live_insert(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port,
                struct job **job, char *err, size_t errlen);
int live_remove(struct proxy *px, struct domain *d, struct job **job, char *err,
                size_t errlen);
/* A journal says a live insertion of D was under way when xsproxy died:
 * ask the shim how it ended.  1: D was switched to its shadow ring (the
 * shim's answer in A, its xenstored port set): re-attach it, then
 * live_finish_recovered; 0: it was not, and now will not be (its claim
 * removed): D stays with xenstored; -1 with a message. */
int live_recover_switch(struct proxy *px, struct domain *d, struct switch_answer *a,
                        char *err, size_t errlen);
/* Finish that insertion as live_insert does after the switch (D's pages
 * mapped again, nothing relayed since).  0, or -1 with a message. */
int live_finish_recovered(struct proxy *px, struct domain *d, const struct switch_answer *a,
                          char *err, size_t errlen);
/* Did the shim hand DOMID back to xenstored (its last answer)? */
bool live_handed_back(struct proxy *px, uint32_t domid);
/* Tests: XSPROXY_CRASH_AT=NAME makes xsproxy kill itself at point NAME. */
void crash_point(const char *name);
/* Queue a request xsproxy makes as D for its shadow ring.  0 or -1. */
int domain_inject(struct domain *d, const struct msg *m);
/* Move whatever can move, in both directions: after a change to D made
 * outside the relay (its state is committed to the journal even if no
 * ring moves), and, as domain_poll, to look at the rings now and then. */
void domain_pump(struct domain *d);
void domain_poll(struct domain *d);
void domain_on_port(struct proxy *px, evtchn_port_t port);
/* Is PORT a guest's port left masked for now (a notification storm)? */
bool domain_port_held(const struct proxy *px, evtchn_port_t port);
void domain_check_dead(struct proxy *px);
/* QUIESCE has taken effect: nothing passed on is unanswered. */
bool domain_is_quiesced(const struct domain *d);
/* Register watches as D (ADD_DOMAIN_WATCHES): PARTS are path, token, ... */
int domain_add_watches(struct domain *d, const char *const *parts, unsigned n);
/* Answer the waiters whose domain has reached what they wait for (D NULL:
 * all domains; a waiter whose domain is gone gets ENOENT). */
void waiters_check(struct proxy *px);
void waiter_add(struct proxy *px, struct client *c, void *req, const struct xsd_sockmsg *hdr,
                const struct wait_for *what);
void waiters_drop_client(struct proxy *px, struct client *c);
/* xenstored went away: answer what waits on it with EIO. */
void domain_backend_lost(struct domain *d);
/* A new xenstored: introduce D again and register its watches as D. */
int domain_reintroduce(struct domain *d);
size_t domain_describe(const struct domain *d, bool detail, char *buf, size_t len);

/* persist.c: D's state as bytes (into a growable buffer, replacing its
 * content), and back into a zeroed domain whose shadow is initialised.
 * 0, or -1 (out of memory; or a damaged journal, the reason in ERR).  The
 * watch list is in it unless D has a journal of its own for the list
 * (*WATCHES_APART on the way back). */
int persist_encode(const struct domain *d, uint8_t **buf, size_t *len, size_t *cap);
int persist_decode(struct domain *d, const uint8_t *buf, size_t len, bool *watches_apart,
                   char *err, size_t errlen);
/* The watch list, journalled apart (it changes seldom, and may be large);
 * decoded after persist_decode. */
int persist_encode_watches(const struct domain *d, uint8_t **buf, size_t *len, size_t *cap);
int persist_decode_watches(struct domain *d, const uint8_t *buf, size_t len, char *err,
                           size_t errlen);

/* save.c, restore.c: `save D FILE` (D quiesced) and `restore D FILE [S]`
 * start a job (job.h) and set *JOB; its answer comes later.  0, or an
 * errno at once with a message in ERR. */
int migrate_save(struct proxy *px, struct domain *d, const char *file,
                 struct job **job, char *err, size_t errlen);
/* HELD: the domain stays quiesced once restored (d->transfer_held). */
int migrate_restore(struct proxy *px, uint32_t domid, const char *file, uint32_t from_domid,
                    bool held, struct job **job, char *err, size_t errlen);
/* job.c: a job's answer, once it has one (then the job is freed);
 * false while it runs. */
bool job_answer(struct job *j, const struct xsd_sockmsg *req, struct msg *reply);
/* Nobody waits for J any more (its client went): it is freed when done. */
void job_abandon(struct job *j);
/* xsproxy stops: end every job now, answering nobody. */
void jobs_cancel(struct proxy *px);

/* backend.c */
int backend_start(struct proxy *px);
void backend_stop(struct proxy *px);

/* client.c */
void client_accept(struct proxy *px, int listen_fd);
void client_close_all(struct proxy *px);
/* Give a deferred request its reply (takes REPLY). */
void client_complete(struct client *c, void *req, struct msg *reply);
/* dom0's share lets its clients be read again. */
void client_fair_resume(struct proxy *px);

/* control.c: the XS_CONTROL commands and wire types xsproxy implements.
 * Fills REPLY and returns true when it handled REQ (from dom0); when the
 * answer must wait, sets WAIT instead and the client defers it. */
bool control_handle(struct proxy *px, const struct msg *req, struct msg *reply,
                    struct wait_for *wait);
/* An INTRODUCE or RELEASE from a dom0 client: -1 when xsproxy has no part
 * in it (pass it on), 0 when it must be passed on and its reply tracked
 * (INTRODUCE: the domain is inserted already), -2 for an INTRODUCE of a
 * domain already inserted, or an errno to answer. */
int control_introduce_release(struct proxy *px, const struct msg *req, uint32_t *domid,
                              char *err, size_t errlen);
/* Append xsproxy's commands to xenstored's `help` reply. */
void control_extend_help(struct msg *reply);

/* trace.c: the text trace, and the pcap capture (stopped, and logged,
 * when its file cannot be written) */
void proxy_capture(struct proxy *px, enum capture_source source, uint32_t id,
                   enum capture_dir dir, uint8_t flags, const struct msg *m, uint32_t guest_tx,
                   uint32_t backend_tx);
void trace_msg(FILE *f, const char *who, const char *dir, const struct msg *m,
               uint32_t guest_tx, uint32_t backend_tx);

/* log.c (the levels: log_level.h) */
void log_init(const struct config *cfg);
void log_reopen(void);
void xlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xlog_v(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
bool xlog_enabled(int level);   /* whether LEVEL is written at all */
/* domain.c: a message the guest can cause, within the domain's log limit */
void domain_log(struct domain *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
