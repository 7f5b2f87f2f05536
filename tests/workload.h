// workload.h - support for the xsproxy core suites: a sim host with or
// without xsproxy in front of its daemon (Store), raw xenstore connections
// over a guest's ring or a dom0 unix socket (XsConn), and a deterministic
// recorder of every reply and watch event for differential runs (Recorder),
// plus the scripted workload that uses every operation type.
#ifndef XSPROXY_TESTS_WORKLOAD_H
#define XSPROXY_TESTS_WORKLOAD_H

#include <stdint.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim_host.h"

namespace xstest {

// One message as it travels: header fields and the payload bytes.
struct WireMsg {
    uint32_t type = 0, req_id = 0, tx_id = 0;
    std::string body;
};

// NULs as \0, other unprintable bytes as \ooo; long payloads shortened.
std::string escape(const std::string &s, size_t max = 200);
// "ERROR" for 16, "TYPE_99" for unknown numbers.
std::string type_name(uint32_t type);
// "a\0b\0" from {"a", "b"}.
std::string nul_join(const std::vector<std::string> &parts);


// A xenstore connection that sends and receives whole messages.
class XsConn {
public:
    virtual ~XsConn() = default;
    virtual bool send(const WireMsg &m, int timeout_ms = 5000) = 0;
    // 1: a message; 0: nothing within the timeout; -1: the connection
    // failed (closed, protocol error) - see error().
    virtual int recv(WireMsg *m, int timeout_ms) = 0;
    // Send and wait for the reply with the same req_id (watch events that
    // come first are kept for next_event).  False on timeout or failure.
    bool request(uint32_t type, uint32_t tx, const std::string &body, WireMsg *reply,
                 int timeout_ms = 5000);
    // A queued or newly arrived watch event.  1, 0, -1 as recv.
    int next_event(WireMsg *ev, int timeout_ms);
    std::string error() const { return error_; }
    uint32_t next_req_id = 1;

protected:
    std::string error_;
    std::vector<WireMsg> events_;
};

// When set, every whole message a SockConn or RingConn sends or receives
// is appended here (the capture test compares it with what xsproxy
// captured).  RING says which kind; DOMID is the guest's (0 for dom0).
struct TapEntry {
    const XsConn *conn;
    bool ring;
    unsigned domid;
    bool sent;
    WireMsg m;
};
extern std::vector<TapEntry> *wire_tap;

// dom0 over a unix socket (the daemon's or xsproxy's).
class SockConn : public XsConn {
public:
    static std::unique_ptr<SockConn> connect(const std::string &path);
    ~SockConn() override;
    bool send(const WireMsg &m, int timeout_ms = 5000) override;
    bool send_bytes(const void *data, size_t len);
    int recv(WireMsg *m, int timeout_ms) override;
    // True once the peer closed the connection (read gave 0 / error).
    bool closed() const { return closed_; }
    int fd() const { return fd_; }

private:
    explicit SockConn(int fd) : fd_(fd) {}
    int fd_;
    bool closed_ = false;
    std::string buf_;
};

// A guest over its ring (xsg_* from xssim.h).
class RingConn : public XsConn {
public:
    static std::unique_ptr<RingConn> open(struct xssim *sim, unsigned domid);
    ~RingConn() override;
    bool send(const WireMsg &m, int timeout_ms = 5000) override;
    int recv(WireMsg *m, int timeout_ms) override;
    struct xsg *guest() { return g_; }
    struct xenstore_domain_interface *ring();
    // Raw bytes onto the request ring (no framing), and a notify.
    bool send_bytes(const void *data, size_t len, int timeout_ms = 5000);
    void notify();

private:
    explicit RingConn(struct xsg *g, struct xssim *sim, unsigned domid)
        : g_(g), sim_(sim), domid_(domid) {}
    struct xsg *g_;
    // our own mapping of the page: stays valid when notify() replaces g_
    struct xenstore_domain_interface *ring_ = nullptr;
    struct xssim *sim_;
    unsigned domid_;
    // a second evtchn handle for notifying without disturbing xsg's
    struct xssim_evtchn *notifier_ = nullptr;
    uint32_t port_ = 0;
};

// A sim host with its daemon, and xsproxy in front of it when PROXIED.
// Everything a test does to "the store" goes to store_socket(): xsproxy's
// socket when proxied, else the daemon's.
class Store {
public:
    Store(xssim_daemon daemon, bool proxied);
    ~Store();
    bool ok() const { return ok_; }
    bool proxied() const { return proxied_; }
    SimHost &host() { return *host_; }
    const std::string &dir() const { return host_->dir(); }
    std::string store_socket() const;
    std::vector<std::string> env() const;
    struct xssim *sim() { return host_->attach(); }
    pid_t proxy_pid() const { return proxy_pid_; }
    bool proxy_alive() const;
    // kill -9 xsproxy and start it again on the same run directory (its
    // journals); true once it serves again.  Call it from the main thread:
    // the new xsproxy is killed when the thread that started it ends.
    bool restart_proxy(std::string *why);
    // The test kills the daemon on purpose (else its death is a failure).
    void daemon_killed() { daemon_killed_ = true; }
    std::string proxy_log() const;

    // A program (stock tool) with XENSTORED_PATH at store_socket().
    RunResult run(const std::vector<std::string> &argv, int timeout_ms = 10000) const;
    RunResult xssim(const std::vector<std::string> &args, int timeout_ms = 10000) const;
    // xsproxyctl --socket <xsproxy's socket> ARGS (proxied stores only).
    RunResult xsproxyctl(const std::vector<std::string> &args, int timeout_ms = 10000) const;
    // `xssim domain create D [--no-introduce]` through store_socket().
    bool create_domain(unsigned domid, bool introduce = true);
    bool destroy_domain(unsigned domid);
    // The nodes `xssim domain create` writes for DOMID (as libxl does:
    // /local/domain/D, its directories, domid, name, store/port,
    // store/ring-ref... with the same permissions), without INTRODUCE,
    // through store_socket() in one transaction.  What a toolstack writes
    // again when xenstored was restarted with an empty store.  Reports a
    // failure and returns false when it fails.
    bool write_domain_nodes(unsigned domid);

    std::unique_ptr<SockConn> dom0();
    std::unique_ptr<RingConn> guest(unsigned domid);

private:
    std::unique_ptr<SimHost> host_;
    bool proxied_;
    bool ok_ = false;
    pid_t proxy_pid_ = -1;
    bool daemon_killed_ = false;
};

// Records, in one sequence, every message each actor receives: the reply to
// each request (and any watch events that came before it on that
// connection), and after each step the events every actor has been sent,
// made certain by a synchronising request on each connection (a connection
// is answered in order, so events queued for it come before that reply).
// Transaction ids are logged by order of appearance per actor, so runs
// against different stores compare equal when they behave the same.
class Recorder {
public:
    int add(const std::string &name, std::unique_ptr<XsConn> conn, uint32_t sync_domid);
    XsConn &conn(int actor) { return *actors_.at((size_t)actor).conn; }
    // One request from ACTOR, its reply logged; then settle() unless
    // SETTLE is false.  Returns the reply (type 0xffffffff when none came).
    WireMsg request(int actor, uint32_t type, uint32_t tx, const std::string &body,
                    bool settle = true);
    // Shorthands; the body gets NUL-terminated parts.
    WireMsg op(int actor, uint32_t type, const std::vector<std::string> &parts, uint32_t tx = 0,
               bool settle = true)
    {
        return request(actor, type, tx, nul_join(parts), settle);
    }
    // TRANSACTION_START; the id (0 when refused).
    uint32_t start(int actor, uint32_t tx_hdr = 0);
    // Drain every actor's watch events (see above).
    void settle();
    // ACTOR takes no more part (its domain is being released or destroyed).
    void retire(int actor) { actors_.at((size_t)actor).dead = true; }
    void note(const std::string &text) { log_.push_back("## " + text); }
    const std::vector<std::string> &log() const { return log_; }
    // The logged transaction-id name ("T1"...) for an id seen on ACTOR.
    std::string tx_name(int actor, uint32_t id);
    size_t count(const std::string &needle) const;

private:
    struct Actor {
        std::string name;
        std::unique_ptr<XsConn> conn;
        uint32_t sync_domid;
        std::map<uint32_t, int> tx_ids;
        bool dead = false;
    };
    std::string show(int actor, const WireMsg &m, bool is_reply_to_start);
    std::vector<Actor> actors_;
    std::vector<std::string> log_;
    uint32_t next_req_ = 1;
    unsigned step_ = 0;
};

// The scripted workload (every operation type, three guests and two dom0
// connections, transactions with a conflict, watches, errors, a domain
// introduced and released mid-run, one destroyed).  STORE must be fresh.
// Returns the log.
std::vector<std::string> run_standard_workload(Store &store);

// Every node under BASE as "relative-path" -> "value (perms)", with DOMID
// in the perms written as D: what differential checks compare (a domain's
// tree on two hosts, or through xsproxy and directly).
std::map<std::string, std::string> subtree(SockConn &c, const std::string &base,
                                           const std::string &domid);

// "" when equal, else the first difference with context.
std::string first_difference(const std::vector<std::string> &direct,
                             const std::vector<std::string> &proxied);

// A differential run: SESSION on a fresh store of DAEMON served directly,
// then on a fresh one with xsproxy in front of the daemon (xsproxy still
// up afterwards); what each returned in *DIRECT and *PROXIED.  A store that
// does not come up is a fatal failure: call it in ASSERT_NO_FATAL_FAILURE.
void run_direct_and_proxied(xssim_daemon daemon,
                            const std::function<std::vector<std::string>(Store &)> &session,
                            std::vector<std::string> *direct, std::vector<std::string> *proxied);

// A "Name:   1234 kB" line of /proc/PID/status, in KiB (-1: none), and a
// process's resident memory split as the kernel counts it (benchmarks).
long proc_status_kib(pid_t pid, const char *name);
struct Rss {
    long total = -1, anon = -1, file = -1, shmem = -1;
};
Rss read_rss(pid_t pid);

// Send REQS on C (their req_ids assigned), at most WINDOW ahead of the
// replies; the replies in REPLIES, in order.  Watch events are skipped.
bool pipeline(XsConn &c, std::vector<WireMsg> &reqs, std::vector<WireMsg> *replies,
              unsigned window, std::string *err);

// Millisecond clock and sleeping.
int64_t mono_ms();
void sleep_ms(int ms);
// Ask for a ring reconnection (XENSTORE_RECONNECT) and wait until the
// server has done it; false after 3 s.
bool reconnect_ring(RingConn &g);

}  // namespace xstest

#endif
