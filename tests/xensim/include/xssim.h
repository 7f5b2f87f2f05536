/*
 * xssim.h - the simulated Xen hypervisor and the guest side of a xenstore
 * ring: test equipment.
 *
 * A sim lives in one directory (XSSIM_DIR).  Every process that attaches to it
 * shares: the domain table, every domain's event-channel port space, and one
 * xenstore ring page per domain.  libxensim.so, preloaded, exposes the sim to
 * unmodified programs below Xen's own libraries: it answers the kernel's Xen
 * devices (/dev/xen/evtchn, gntdev, privcmd and its hypercalls) and
 * /proc/xen; the guests, tests and the xssim command use this API directly.
 */
#ifndef XSSIM_H
#define XSSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <xen/io/xs_wire.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XSSIM_MAX_DOMID 32767u   /* DOMID_FIRST_RESERVED - 1 */
#define XSSIM_PAGE_SIZE 4096u

/* ---- the sim itself ------------------------------------------------- */

struct xssim;   /* one process's attachment to a sim directory */

/* Create a new sim in DIR (made if missing; must not already hold a sim).
 * Creates dom0 with its ring page and store port.  NULL + errno on failure. */
struct xssim *xssim_create(const char *dir);
/* Attach to an existing sim.  NULL + errno (ENOENT: no sim there). */
struct xssim *xssim_attach(const char *dir);
/* Attach to the sim named by $XSSIM_DIR (once per process, cached). */
struct xssim *xssim_default(void);
void xssim_detach(struct xssim *sim);
const char *xssim_dir(const struct xssim *sim);

/* ---- domains --------------------------------------------------------- */

enum xssim_dom_state { XSSIM_RUNNING = 0, XSSIM_SHUTDOWN = 1, XSSIM_DYING = 2 };

struct xssim_dominfo {
    uint32_t domid;
    enum xssim_dom_state state;
    uint32_t shutdown_reason;
    uint64_t ring_gfn;     /* what a toolstack passes to INTRODUCE */
    uint32_t store_port;   /* unbound port in the domain, remote dom0 */
    bool privileged;       /* dom0 */
};

/* Create domain DOMID: a zeroed ring page and an unbound store port for
 * dom0 (what libxl's xc_evtchn_alloc_unbound gives).  EEXIST, EINVAL. */
int xssim_domain_create(struct xssim *sim, uint32_t domid);
/* The domain dies: its ports close (peers become unbound), VIRQ_DOM_EXC is
 * raised, and it disappears from the domain list. */
int xssim_domain_destroy(struct xssim *sim, uint32_t domid);
/* Mark shut down (reason as SHUTDOWN_*); raises VIRQ_DOM_EXC. */
int xssim_domain_shutdown(struct xssim *sim, uint32_t domid, uint32_t reason);
int xssim_domain_info(struct xssim *sim, uint32_t domid, struct xssim_dominfo *out);
/* Fill up to MAX entries with domains whose id >= FIRST, ascending.
 * Returns the count. */
int xssim_domain_list(struct xssim *sim, uint32_t first, unsigned max,
                      struct xssim_dominfo *out);
/* Path of DOMID's ring page file (for moving a page between sims). */
int xssim_ring_path(struct xssim *sim, uint32_t domid, char *buf, size_t len);
/* Map DOMID's ring page read-write (as grant ref 1 or the gfn would). */
void *xssim_map_ring(struct xssim *sim, uint32_t domid);
void xssim_unmap_ring(void *page);

/* ---- event channels -------------------------------------------------- */

struct xssim_evtchn;   /* a handle: like one open of /dev/xen/evtchn */

/* A handle acting for domain DOMID (dom0 for ordinary processes). */
struct xssim_evtchn *xssim_evtchn_open(struct xssim *sim, uint32_t domid);
void xssim_evtchn_close(struct xssim_evtchn *h);
int xssim_evtchn_fd(struct xssim_evtchn *h);
/* Each returns the local port, or -1 with errno as Xen/Linux would set it. */
int xssim_evtchn_bind_unbound(struct xssim_evtchn *h, uint32_t remote_dom);
int xssim_evtchn_bind_interdomain(struct xssim_evtchn *h, uint32_t remote_dom,
                                  uint32_t remote_port);
int xssim_evtchn_bind_virq(struct xssim_evtchn *h, uint32_t virq);
/* Take over an existing port of the handle's domain (a guest process
 * attaching to its domain's store port). */
int xssim_evtchn_adopt(struct xssim_evtchn *h, uint32_t port);
int xssim_evtchn_unbind(struct xssim_evtchn *h, uint32_t port);
/* Unbind every port of H (IOCTL_EVTCHN_RESET).  0. */
int xssim_evtchn_reset(struct xssim_evtchn *h);
int xssim_evtchn_notify(struct xssim_evtchn *h, uint32_t port);
/* Next pending port (blocking unless the fd is non-blocking), -1 + errno. */
int xssim_evtchn_pending(struct xssim_evtchn *h);
int xssim_evtchn_unmask(struct xssim_evtchn *h, uint32_t port);
/* PORT, just returned by pending(), stays masked until unmasked, as a port
 * read from Linux's /dev/xen/evtchn does: raises meanwhile wake no one. */
void xssim_evtchn_mask(struct xssim_evtchn *h, uint32_t port);
/* Allocate an unbound port in DOM for REMOTE, owned by no handle yet (what
 * xc_evtchn_alloc_unbound does for a toolstack). */
int xssim_evtchn_alloc_unbound(struct xssim *sim, uint32_t dom, uint32_t remote);
/* What EVTCHNOP_status tells about PORT of DOM: XSSIM_PORT_* and, for an
 * interdomain port, its peer (xsproxy learns which port of xenstored's is
 * the other end of a shadow channel, to bind to it again after a restart).
 * 0, or -1 + errno (ESRCH, EINVAL). */
enum { XSSIM_PORT_CLOSED = 0, XSSIM_PORT_UNBOUND, XSSIM_PORT_INTERDOMAIN, XSSIM_PORT_VIRQ };
struct xssim_port_status {
    uint32_t state;
    uint32_t remote_dom, remote_port;
    uint32_t virq;   /* XSSIM_PORT_VIRQ: which */
};
int xssim_evtchn_status(struct xssim *sim, uint32_t dom, uint32_t port,
                        struct xssim_port_status *st);

/* Live switching (a domain moved between xenstored's direct ring and
 * xsproxy's shadow ring) is the claim protocol of shim/claim.h, over the
 * wake-up channel the shim binds in xenstored: nothing of the sim's. */

/* ---- what reached the simulated devices ---------------------------------
 *
 * libxensim.so counts, per process, every call a program makes on the
 * simulated devices, and who made it: one of Xen's own libraries (the one
 * the device belongs to: libxenevtchn for /dev/xen/evtchn, libxengnttab for
 * gntdev, libxencall, libxenforeignmemory or libxendevicemodel for
 * privcmd), libxsshim.so (the live switch maps rings itself), or anything
 * else - which a test of the layering wants to be nothing. */
enum xssim_call {
    XSSIM_EVTCHN_OPEN, XSSIM_EVTCHN_BIND_INTERDOMAIN, XSSIM_EVTCHN_BIND_UNBOUND,
    XSSIM_EVTCHN_BIND_VIRQ, XSSIM_EVTCHN_UNBIND, XSSIM_EVTCHN_NOTIFY, XSSIM_EVTCHN_RESET,
    XSSIM_EVTCHN_RESTRICT, XSSIM_EVTCHN_READ, XSSIM_EVTCHN_WRITE,
    XSSIM_GNTDEV_OPEN, XSSIM_GNTDEV_MAP, XSSIM_GNTDEV_UNMAP, XSSIM_GNTDEV_OFFSET,
    XSSIM_GNTDEV_MAX_GRANTS, XSSIM_GNTDEV_MMAP,
    XSSIM_PRIVCMD_OPEN, XSSIM_PRIVCMD_DOMCTL, XSSIM_PRIVCMD_SYSCTL, XSSIM_PRIVCMD_EVTCHN_OP,
    XSSIM_PRIVCMD_MMAP, XSSIM_PRIVCMD_MMAPBATCH,
    XSSIM_PRIVCMD_PROBE,   /* the libraries' probes of what the driver has */
    XSSIM_UNSUPPORTED,   /* an ioctl or hypercall the sim does not model */
    XSSIM_NR_CALLS
};
enum xssim_caller { XSSIM_BY_XEN_LIB, XSSIM_BY_SHIM, XSSIM_BY_OTHER, XSSIM_NR_CALLERS };

struct xssim_calls {
    uint64_t n[XSSIM_NR_CALLS][XSSIM_NR_CALLERS];
};

/* What process PID has done on the sim's devices so far (it must still be
 * running or have been the last to use its slot).  0, or -1 + errno
 * (ESRCH: no record of PID). */
int xssim_calls_of(struct xssim *sim, pid_t pid, struct xssim_calls *out);
const char *xssim_call_name(enum xssim_call call);
const char *xssim_caller_name(enum xssim_caller caller);

/* ---- daemons --------------------------------------------------------- */

enum xssim_daemon { XSSIM_OXENSTORED, XSSIM_XENSTORED };

struct xssim_up_opts {
    enum xssim_daemon daemon;
    const char *daemon_path;  /* NULL: the Debian xen-utils-4.17 binary */
    const char *shim_path;    /* NULL: found beside the calling program */
    bool die_with_parent;     /* tests: the daemon dies if the caller does */
    int timeout_ms;           /* wait for the socket (0: 10 s) */
};

/* Create the sim in DIR and start the daemon on it in the background.
 * Writes DIR/daemon.pid and DIR/env.  Returns 0 or -1 + errno (with a
 * message on stderr). */
int xssim_up(const char *dir, const struct xssim_up_opts *opts);
/* Stop the sim's daemon (as if it crashed, but with SIGTERM first), and
 * start a fresh one on the same sim: domains stay, the store is empty. */
int xssim_stop_daemon(const char *dir);
int xssim_restart_daemon(const char *dir, const struct xssim_up_opts *opts);
/* Start xsproxy (PROXY_PATH, or the one beside the calling program) in
 * front of the sim's daemon: socket DIR/proxy/socket, run dir DIR/proxy,
 * log DIR/proxy/xsproxy.log.  Rewrites DIR/env so that XENSTORED_PATH
 * points at xsproxy.  Returns its pid, or -1 + errno. */
pid_t xssim_start_proxy(const char *dir, const char *proxy_path, bool die_with_parent);
/* DIR/proxy/socket. */
int xssim_proxy_socket_path(const char *dir, char *buf, size_t len);
/* Stop every process of the sim (the daemon, anything in DIR/pids) and
 * remove DIR.  Safe to call on a half-made sim. */
int xssim_down(const char *dir);
/* The socket path the sim's daemon listens on (DIR/run/socket...). */
int xssim_socket_path(const char *dir, char *buf, size_t len);
/* Record PID as a process of the sim (stopped by xssim_down). */
int xssim_add_pid(const char *dir, pid_t pid);
/* Where libxsshim.so is (beside the program, or installed; $XSSIM_SHIM),
 * and the simulated Xen, libxensim.so ($XSSIM_LIB). */
const char *xssim_shim_path(void);
const char *xssim_lib_path(void);
const char *xssim_daemon_default_path(enum xssim_daemon d);
const char *xssim_daemon_name(enum xssim_daemon d);

/* ---- the guest side of a xenstore ring -------------------------------- */

struct xsg;   /* a guest's xenstore connection over its ring */

struct xsg_msg {
    struct xsd_sockmsg hdr;
    char body[XENSTORE_PAYLOAD_MAX + 1];   /* NUL added after len bytes */
};

/* Attach as guest DOMID: map its ring, adopt its store port. */
struct xsg *xsg_open(struct xssim *sim, uint32_t domid);
void xsg_close(struct xsg *g);
int xsg_fd(struct xsg *g);   /* readable when the server notified us */
/* Consume the notifications pending on xsg_fd(G), without waiting (the fd
 * is non-blocking), and re-arm the port.  For callers that poll() many rings
 * themselves: when the fd is readable, call xsg_ack() first and then read
 * the ring with xsg_recv(G, msg, 0) until it returns 0.  A notify sent after
 * the ack makes the fd readable again, so no wake-up is lost.  (xsg_send
 * and xsg_recv ack on their own whenever they wait.)  Returns how many
 * notifications it consumed (0: a spurious wake-up), or -1 + errno. */
int xsg_ack(struct xsg *g);
struct xenstore_domain_interface *xsg_ring(struct xsg *g);

/* Write one message to the request ring, streaming when it is larger than
 * the free space.  TIMEOUT_MS < 0 blocks.  0, or -1 + errno (ETIMEDOUT). */
int xsg_send(struct xsg *g, uint32_t type, uint32_t req_id, uint32_t tx_id,
             const void *payload, uint32_t len, int timeout_ms);
/* Read one message (response or watch event) from the response ring.
 * 1 when one was read, 0 on timeout (TIMEOUT_MS 0: don't wait), -1 + errno
 * (EPROTO for a bad header from the server). */
int xsg_recv(struct xsg *g, struct xsg_msg *msg, int timeout_ms);

/* Send a request and wait for its reply (req_id matched); watch events that
 * arrive meanwhile are queued for xsg_next_event.  Returns 0, or -1 + errno;
 * an XS_ERROR reply is returned as a message (check msg->hdr.type). */
int xsg_request(struct xsg *g, uint32_t type, uint32_t tx_id,
                const void *payload, uint32_t len, struct xsg_msg *reply,
                int timeout_ms);
/* Next watch event: queued ones first, then from the ring. 1, 0, -1. */
int xsg_next_event(struct xsg *g, struct xsg_msg *ev, int timeout_ms);

/* Helpers over xsg_request for the common operations.  They return 0, or
 * the positive errno from an XS_ERROR reply, or -1 + errno on transport
 * failure.  Returned strings are malloc'd. */
int xsg_read(struct xsg *g, uint32_t tx, const char *path, char **value,
             unsigned *len);
int xsg_write(struct xsg *g, uint32_t tx, const char *path, const void *value,
              unsigned len);
int xsg_simple(struct xsg *g, uint32_t type, uint32_t tx, const char *arg);
int xsg_watch(struct xsg *g, const char *path, const char *token);
int xsg_transaction_start(struct xsg *g, uint32_t *tx);
int xsg_transaction_end(struct xsg *g, uint32_t tx, bool commit);

/* "EACCES" -> EACCES; unknown names -> EINVAL. */
int xs_errno_from_name(const char *name);
const char *xs_errno_name(int err);
/* "READ" for XS_READ (xsproxy's types too); "UNKNOWN" for a type with no name. */
const char *xs_type_name(uint32_t type);

#ifdef __cplusplus
}
#endif
#endif
