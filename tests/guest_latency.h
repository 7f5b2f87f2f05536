// guest_latency.h - the other guests' latency while one floods, as the
// xshostile benchmark and test_proxy_hostile_latency measure it: guests
// in serial WRITE/READ loops whose request times are kept while recording
// (GoodGuests), the hostile guest's flood or notifications on a thread of
// their own (HostileLoad), and a CPU for that thread alone, as on Xen,
// where a guest's vCPU is not dom0's.
#ifndef XSPROXY_TESTS_GUEST_LATENCY_H
#define XSPROXY_TESTS_GUEST_LATENCY_H

#include <stdint.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hostile_guest.h"
#include "workload.h"

namespace xstest {

// Keep the calling process (and what it starts from now on) off the last
// CPU, so that a flooding guest's thread can have it alone: that CPU, or
// -1 when there are fewer than 2 or the affinity cannot be set.
int keep_off_last_cpu();
// Move THREAD onto CPU; nothing when CPU is negative.
void run_on_cpu(std::thread::native_handle_type thread, int cpu);

// Guests DOMIDS of STORE, each a thread with a serial loop of WRITE then
// READ of NODE (relative to its domain), every answer checked; the loops
// stop at the first wrong answer (problem()).
class GoodGuests {
public:
    GoodGuests(Store &store, const std::vector<unsigned> &domids, const std::string &node);
    ~GoodGuests() { stop(); }
    void stop();
    // Record for SECONDS: every request's time (µs) meanwhile, all guests
    // pooled; the window's length (seconds) in *ELAPSED.
    std::vector<double> record(double seconds, double *elapsed = nullptr);
    // "" while every answer was right.
    std::string problem() const;

private:
    struct Worker {
        std::unique_ptr<RingConn> conn;
        unsigned domid = 0;
        std::thread thread;
        std::mutex mu;
        std::vector<double> lat;
    };
    void fail(const std::string &why);
    bool timed(Worker &w, uint32_t type, const std::string &body, uint32_t want_type,
               const std::string &want_body);
    void run(Worker &w);

    std::string path_;   // NODE with its NUL
    std::vector<std::unique_ptr<Worker>> workers_;
    std::atomic<bool> stop_{ false }, recording_{ false };
    mutable std::mutex mu_;
    std::string problem_;
};

// The hostile guest G at work on a thread of its own, on CPU (when >= 0):
// event-channel notifications as fast as it can send them when
// NOTIFY_ONLY, else a Flood of NEXT's messages from req_id FIRST, reading
// the answers when DRAIN.
class HostileLoad {
public:
    HostileLoad(RawGuest &g, bool notify_only, std::function<std::string(uint32_t)> next,
                bool drain, uint32_t first, int cpu);
    ~HostileLoad() { stop(); }
    // Ends it (see Flood::stop); the messages or notifications sent.
    uint64_t stop();

private:
    RawGuest &g_;
    std::unique_ptr<Flood> flood_;
    std::thread notifier_;
    std::atomic<bool> stop_{ false };
    std::atomic<uint64_t> notifies_{ 0 };
};

}  // namespace xstest

#endif
