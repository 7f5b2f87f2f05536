// hostile_guest.h - a hostile guest for the tests and benchmarks of
// xsproxy under attack (test_proxy_hostile, xshostile): raw access to a
// guest's ring (RawGuest: any bytes on the request ring, responses read -
// or not - and parsed as they come), a flood of messages at the rate the
// ring takes them (Flood, of a FloodKind), and the messages: malformed ones
// of many kinds, the largest WRITE, xsproxy's own types.
#ifndef XSPROXY_TESTS_HOSTILE_GUEST_H
#define XSPROXY_TESTS_HOSTILE_GUEST_H

#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "sim_host.h"
#include "workload.h"
#include "xsproxy_wire.h"

namespace xstest {

inline uint32_t load(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

inline std::string msg_bytes(uint32_t type, uint32_t req, uint32_t tx,
                             const std::string &payload, uint32_t len_field)
{
    struct xsd_sockmsg h = { type, req, tx, len_field };
    std::string b((const char *)&h, sizeof(h));
    return b + payload;
}

inline std::string msg_bytes(uint32_t type, uint32_t req, uint32_t tx, const std::string &payload)
{
    return msg_bytes(type, req, tx, payload, (uint32_t)payload.size());
}

// Flood messages, req_id I: the largest WRITE (a payload of
// XENSTORE_PAYLOAD_MAX, which no daemon stores), and one of xsproxy's own
// (dom0-only) types, which xsproxy answers itself with EACCES.
inline std::string largest_write(uint32_t i)
{
    static const std::string big = [] {
        std::string b = nul_join({ "data/big" });
        return b + std::string(XENSTORE_PAYLOAD_MAX - b.size(), 'x');
    }();
    return msg_bytes(XS_WRITE, i, 0, big);
}

inline std::string dom0_only(uint32_t i)
{
    return msg_bytes(XSP_TYPE_BASE + 1 + i % (XSP_TYPE_END - XSP_TYPE_BASE - 1), i, 0,
                     nul_join({ "2" }));
}

// Message I (its req_id) of a flood of malformed messages, of kind K
// (0..kMalformedKinds-1): unknown and newer types, payloads without their
// NULs or empty, bad paths, made-up transaction ids, an illegal nested
// TRANSACTION_START, dom0-only types, a guest's own WATCH_EVENT and ERROR...
// None breaks the ring protocol (every len is at most 4096).
constexpr uint32_t kMalformedKinds = 26;
inline std::string malformed(uint32_t i, uint32_t k)
{
    static const std::string long_path = "data/" + std::string(3500, 'p');
    switch (k) {
    case 0: return msg_bytes(99, i, 0, nul_join({ "domid" }));
    case 1: return msg_bytes(23 + i % 4, i, 0, nul_join({ "1" }));
    case 2: return msg_bytes(0xffff, i, 0, "");
    case 3: return msg_bytes(XS_READ, i, 0, "data/x");   // no NUL
    case 4: return msg_bytes(XS_WRITE, i, 0, "data");
    case 5: return msg_bytes(XS_READ, i, 0, nul_join({ "data//x" }));
    case 6: return msg_bytes(XS_READ, i, 0, nul_join({ long_path }));
    case 7: return msg_bytes(XS_READ, i, 0xdeadbeef ^ i, nul_join({ "domid" }));
    case 8: return msg_bytes(XS_TRANSACTION_START, i, 7, std::string(1, '\0'));
    case 9: return msg_bytes(XS_TRANSACTION_END, i, 0, nul_join({ "T" }));
    case 10: return msg_bytes(XS_TRANSACTION_END, i, 12345, nul_join({ "X" }));
    case 11: return msg_bytes(XS_WATCH, i, 0, nul_join({ "data" }));
    case 12: return msg_bytes(XS_UNWATCH, i, 0, nul_join({ "nowatch", "t" }));
    case 13: return msg_bytes(XS_READ, i, 0, "");
    case 14: return msg_bytes(XS_DIRECTORY_PART, i, 0, nul_join({ "data", "x" }));
    case 15: return msg_bytes(XS_SET_PERMS, i, 0, nul_join({ "data/n", "zz" }));
    case 16: return msg_bytes(XS_WATCH_EVENT, i, 0, nul_join({ "a", "b" }));
    case 17: return msg_bytes(XS_ERROR, i, 0, nul_join({ "EINVAL" }));
    case 18: return msg_bytes(XS_INTRODUCE, i, 0, nul_join({ "5", "1", "1" }));
    case 19: return msg_bytes(XS_GET_DOMAIN_PATH, i, 0, nul_join({ "x1" }));
    case 20: return msg_bytes(XS_CONTROL, i, 0, nul_join({ "print", "x" }));
    case 21: return msg_bytes(XS_MKDIR, i, 0, std::string(40, '\0'));
    case 22: return msg_bytes(XSP_QUIESCE, i, 0, nul_join({ "2" }));
    case 23: return msg_bytes(XS_SET_TARGET, i, 0, nul_join({ "1", "2" }));
    case 24: return msg_bytes(XS_RESET_WATCHES, i, 0, "");
    default: return msg_bytes(XS_WRITE, i, i, std::string(4096, '\xff'));
    }
}

// ---- the hostile guest: raw access to its ring -----------------------------------

// What came back to the hostile guest: counts by kind, and whether the
// replies answered its requests in the order sent.
struct Replies {
    uint64_t replies = 0, events = 0;
    std::map<std::string, uint64_t> by_kind;   // "WATCH", "ERROR EQUOTA", ...
    uint32_t last_req = 0;
    uint64_t out_of_order = 0;
    std::string first_problem;
};

class RawGuest {
public:
    static std::unique_ptr<RawGuest> open(struct xssim *sim, unsigned domid)
    {
        struct xssim_dominfo info;
        if (!sim || xssim_domain_info(sim, domid, &info) < 0)
            return nullptr;
        std::unique_ptr<RawGuest> g(new RawGuest(sim, domid));
        g->port_ = info.store_port;
        g->ring_ = (struct xenstore_domain_interface *)xssim_map_ring(sim, domid);
        g->ev_ = xssim_evtchn_open(sim, domid);
        if (!g->ring_ || !g->ev_ || xssim_evtchn_adopt(g->ev_, g->port_) < 0)
            return nullptr;
        int fd = xssim_evtchn_fd(g->ev_);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        return g;
    }
    ~RawGuest()
    {
        if (ring_)
            xssim_unmap_ring(ring_);
        if (ev_) {
            // leave the store port to nobody (see RingConn's destructor)
            struct xsg *tmp = xsg_open(sim_, domid_);
            if (tmp)
                xsg_close(tmp);
            xssim_evtchn_close(ev_);
        }
    }
    struct xenstore_domain_interface *ring() { return ring_; }
    void notify() { xssim_evtchn_notify(ev_, port_); }
    // Wait up to MS for a notification, and consume it.
    void wait(int ms)
    {
        struct pollfd p = { xssim_evtchn_fd(ev_), POLLIN, 0 };
        poll(&p, 1, ms);
        while (xssim_evtchn_pending(ev_) >= 0) {
        }
    }
    bool broken() const { return broken_; }
    // The last write() gave up before its first byte, as asked.
    bool gave_up() const { return gave_up_; }

    // Copy what the response ring holds and parse it into REPLIES (and
    // `awaited_` for the reply to AWAIT_REQ).  False once the ring or the
    // stream is broken.
    bool take_responses()
    {
        if (broken_)
            return false;
        XENSTORE_RING_IDX prod = load(&ring_->rsp_prod), cons = ring_->rsp_cons;
        if (prod - cons > XENSTORE_RING_SIZE) {
            broken_ = true;
            return false;
        }
        if (prod == cons)
            return true;
        while (cons != prod) {
            uint32_t off = MASK_XENSTORE_IDX(cons);
            uint32_t chunk = std::min<uint32_t>(XENSTORE_RING_SIZE - off, prod - cons);
            buf_.append(ring_->rsp + off, chunk);
            cons += chunk;
        }
        __atomic_store_n(&ring_->rsp_cons, cons, __ATOMIC_RELEASE);
        notify();
        size_t at = 0;
        while (buf_.size() - at >= sizeof(struct xsd_sockmsg)) {
            struct xsd_sockmsg h;
            memcpy(&h, buf_.data() + at, sizeof(h));
            if (h.len > XENSTORE_PAYLOAD_MAX) {
                broken_ = true;
                note("a message from the server with len " + std::to_string(h.len));
                return false;
            }
            if (buf_.size() - at < sizeof(h) + h.len)
                break;
            std::string body = buf_.substr(at + sizeof(h), h.len);
            at += sizeof(h) + h.len;
            got(h, body);
        }
        buf_.erase(0, at);
        return true;
    }

    // Put BYTES on the request ring (one message, or garbage), waiting for
    // room; responses are taken meanwhile when DRAIN says so.  Gives up
    // (false) when GIVE_UP says so before the first byte is written, or
    // 5 s after it says so with the message begun, or after TIMEOUT_MS, or
    // when the ring is broken.
    bool write(const std::string &bytes, const std::function<bool()> &drain,
               const std::function<bool()> &give_up, int timeout_ms)
    {
        const char *p = bytes.data();
        size_t len = bytes.size();
        int64_t deadline = mono_ms() + timeout_ms;
        gave_up_ = false;
        while (len) {
            XENSTORE_RING_IDX cons = load(&ring_->req_cons), prod = ring_->req_prod;
            if (prod - cons > XENSTORE_RING_SIZE)
                return false;
            uint32_t space = XENSTORE_RING_SIZE - (prod - cons);
            if (space == 0) {
                notify();
                if (drain())
                    take_responses();
                if (give_up()) {
                    if (len == bytes.size()) {
                        gave_up_ = true;
                        return false;
                    }
                    deadline = std::min<int64_t>(deadline, mono_ms() + 5000);
                }
                if (mono_ms() > deadline)
                    return false;
                wait(5);
                continue;
            }
            uint32_t chunk = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod);
            chunk = std::min<uint32_t>({ chunk, space, (uint32_t)len });
            memcpy(ring_->req + MASK_XENSTORE_IDX(prod), p, chunk);
            __atomic_store_n(&ring_->req_prod, prod + chunk, __ATOMIC_RELEASE);
            p += chunk;
            len -= chunk;
        }
        notify();
        return true;
    }

    // One request and its reply (taking every response before it).
    bool request(uint32_t type, const std::string &body, WireMsg *reply, int timeout_ms)
    {
        uint32_t req = 0x7f000000u + next_own_++;
        awaited_req_ = req;
        have_awaited_ = false;
        if (!write(msg_bytes(type, req, 0, body), [] { return true; }, [] { return false; },
                   timeout_ms))
            return false;
        int64_t deadline = mono_ms() + timeout_ms;
        while (!have_awaited_ && !broken_ && mono_ms() < deadline) {
            take_responses();
            if (!have_awaited_)
                wait(10);
        }
        if (have_awaited_)
            *reply = awaited_;
        return have_awaited_;
    }
    // Take responses until none has come for QUIET_MS (at most MAX_MS).
    void settle(int quiet_ms, int max_ms)
    {
        int64_t end = mono_ms() + max_ms, last = mono_ms();
        uint64_t seen = r.replies + r.events;
        while (mono_ms() < end && mono_ms() - last < quiet_ms && !broken_) {
            take_responses();
            if (r.replies + r.events != seen) {
                seen = r.replies + r.events;
                last = mono_ms();
            }
            wait(10);
        }
    }

    Replies r;

private:
    RawGuest(struct xssim *sim, unsigned domid) : sim_(sim), domid_(domid) {}
    void note(const std::string &s)
    {
        if (r.first_problem.empty())
            r.first_problem = s;
    }
    void got(const struct xsd_sockmsg &h, const std::string &body)
    {
        if (h.type == XS_WATCH_EVENT) {
            r.events++;
            return;
        }
        if (h.req_id == awaited_req_ && !have_awaited_) {
            awaited_ = { h.type, h.req_id, h.tx_id, body };
            have_awaited_ = true;
            return;
        }
        r.replies++;
        std::string kind = type_name(h.type);
        if (h.type == XS_ERROR)
            kind += " " + body.substr(0, body.find('\0'));
        r.by_kind[kind]++;
        if (h.req_id != r.last_req + 1) {
            r.out_of_order++;
            note("reply " + std::to_string(h.req_id) + " after " + std::to_string(r.last_req));
        }
        r.last_req = h.req_id;
    }
    struct xssim *sim_;
    unsigned domid_;
    uint32_t port_ = 0;
    struct xenstore_domain_interface *ring_ = nullptr;
    struct xssim_evtchn *ev_ = nullptr;
    std::string buf_;
    bool broken_ = false;
    bool gave_up_ = false;
    uint32_t next_own_ = 1;
    uint32_t awaited_req_ = 0;
    bool have_awaited_ = false;
    WireMsg awaited_;
};

// The hostile guest's flood: message I (from FIRST, its req_id) is NEXT(I),
// written as fast as the ring takes it; responses are read (and counted)
// only when DRAIN.  stop() finishes the message being written, reading the
// responses meanwhile as a guest that starts reading again would.
class Flood {
public:
    Flood(RawGuest &g, std::function<std::string(uint32_t)> next, bool drain, uint32_t first = 1)
        : g_(g), next_(std::move(next)), drain_(drain), first_(first)
    {
        thread_ = std::thread([this] { run(); });
    }
    ~Flood() { stop(); }
    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    uint64_t sent() const { return sent_; }
    bool finished() const { return finished_; }
    std::thread::native_handle_type thread_handle() { return thread_.native_handle(); }

private:
    void run()
    {
        bool ok = true;
        for (uint32_t i = first_; !stop_; i++) {
            std::string m = next_(i);
            ok = g_.write(m, [this] { return drain_ || stop_; }, [this] { return (bool)stop_; },
                          600000);
            if (!ok)
                break;
            sent_++;
            if (drain_)
                g_.take_responses();
        }
        finished_ = !g_.broken() && (ok || g_.gave_up());
    }
    RawGuest &g_;
    std::function<std::string(uint32_t)> next_;
    bool drain_;
    uint32_t first_;
    std::thread thread_;
    std::atomic<bool> stop_{ false };
    std::atomic<uint64_t> sent_{ 0 };
    std::atomic<bool> finished_{ false };
};

// A kind of flood: message I is NEXT(I), the answers read when DRAIN; or,
// when NOTIFY_ONLY, event-channel notifications alone (no NEXT).
struct FloodKind {
    std::string name;
    bool drain = true;
    bool notify_only = false;
    std::function<std::string(uint32_t)> next;
};

}  // namespace xstest

#endif
