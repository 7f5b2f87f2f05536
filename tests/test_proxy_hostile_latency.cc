// test_proxy_hostile_latency.cc - the bound the fair share keeps
// (docs/fair-share.md): for the floods that meet the goal on both daemons,
// the other guests' p99 under the flood stays within 1.5 times of quiet
// through xsproxy.  Two good guests do WRITE then READ in a loop; the
// flooding guest runs on a CPU of its own, everything else on the others,
// as on Xen.  The suite runs alone (RUN_SERIAL): the bound is about what
// one flood does, not what other tests running at the same time do.  The
// figures of every flood, and directly, come from the xshostile benchmark.
#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "hostile_guest.h"
#include "sim_host.h"
#include "workload.h"
#include "xsproxy_wire.h"

namespace xstest {
namespace {

using Clock = std::chrono::steady_clock;
constexpr unsigned kHostile = 1;
constexpr double kBound = 1.5;

// Keep this process off the last CPU, and put THREAD on it.
bool off_last_cpu()
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    for (long c = 0; c < n - 1; c++)
        CPU_SET(c, &set);
    return n >= 2 && sched_setaffinity(0, sizeof(set), &set) == 0;
}

void on_last_cpu(pthread_t thread)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) - 1, &set);
    pthread_setaffinity_np(thread, sizeof(set), &set);
}

// Guests doing WRITE then READ of their own node in a loop, every answer
// checked; the latencies (µs) of what they did while recording.
class Loops {
public:
    Loops(Store &store, std::vector<unsigned> domids)
    {
        for (unsigned d : domids) {
            conns_.push_back(store.guest(d));
            if (!conns_.back())
                problem_ = "no ring for guest " + std::to_string(d);
        }
        for (auto &c : conns_)
            if (c)
                threads_.emplace_back([this, g = c.get()] { run(*g); });
    }
    ~Loops()
    {
        stop_ = true;
        for (auto &t : threads_)
            t.join();
    }
    std::vector<double> record(int ms)
    {
        {
            std::lock_guard<std::mutex> l(mu_);
            lat_.clear();
        }
        recording_ = true;
        sleep_ms(ms);
        recording_ = false;
        std::lock_guard<std::mutex> l(mu_);
        return lat_;
    }
    std::string problem()
    {
        std::lock_guard<std::mutex> l(mu_);
        return problem_;
    }

private:
    void run(RingConn &g)
    {
        std::string path = nul_join({ "data/loop" });
        for (unsigned i = 0; !stop_; i++) {
            std::string v = std::to_string(i);
            if (!timed(g, XS_WRITE, path + v, std::string("OK", 3)) || !timed(g, XS_READ, path, v))
                return;
        }
    }
    bool timed(RingConn &g, uint32_t type, const std::string &body, const std::string &want)
    {
        WireMsg r;
        auto t0 = Clock::now();
        bool ok = g.request(type, 0, body, &r, 10000) && r.body == want;
        double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
        std::lock_guard<std::mutex> l(mu_);
        if (!ok) {
            if (problem_.empty())
                problem_ = type_name(type) + " answered " + escape(r.body, 40);
            stop_ = true;
            return false;
        }
        if (recording_)
            lat_.push_back(us);
        return true;
    }
    std::vector<std::unique_ptr<RingConn>> conns_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stop_{ false }, recording_{ false };
    std::mutex mu_;
    std::vector<double> lat_;
    std::string problem_;
};

double p99(std::vector<double> v)
{
    if (v.empty())
        return 0;
    size_t i = (v.size() - 1) * 99 / 100;
    std::nth_element(v.begin(), v.begin() + (long)i, v.end());
    return v[i];
}

struct FloodKind {
    const char *name;
    bool drain;
    bool notify_only;
    std::function<std::string(uint32_t)> next;
};

using Case = std::tuple<xssim_daemon, size_t>;

const std::vector<FloodKind> &floods()
{
    static const std::string big = [] {
        std::string b = nul_join({ "data/big" });
        return b + std::string(XENSTORE_PAYLOAD_MAX - b.size(), 'x');
    }();
    static const std::vector<FloodKind> f = {
        { "LargestNeverReading", false, false,
          [](uint32_t i) { return msg_bytes(XS_WRITE, i, 0, big); } },
        { "XsproxysOwnTypesNeverReading", false, false,
          [](uint32_t i) {
              return msg_bytes(XSP_TYPE_BASE + 1 + i % (XSP_TYPE_END - XSP_TYPE_BASE - 1), i, 0,
                               nul_join({ "2" }));
          } },
        { "NotificationsOnly", true, true, nullptr },
    };
    return f;
}

class HostileLatency : public ::testing::TestWithParam<Case> {};

TEST_P(HostileLatency, TheOthersP99StaysWithinOneAndAHalfOfQuiet)
{
    auto [daemon, which] = GetParam();
    const FloodKind &kind = floods()[which];
    ASSERT_TRUE(off_last_cpu()) << "needs 2 CPUs";
    Store store(daemon, true);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.create_domain(kHostile) && store.create_domain(2) &&
                store.create_domain(3));
    auto hostile = RawGuest::open(store.sim(), kHostile);
    ASSERT_TRUE(hostile);
    Loops loops(store, { 2, 3 });
    sleep_ms(300);
    std::vector<double> quiet, flooded;
    for (int round = 0; round < 3; round++) {
        auto q = loops.record(1000);
        quiet.insert(quiet.end(), q.begin(), q.end());
        std::atomic<bool> stop{ false };
        std::thread notifier;
        std::unique_ptr<Flood> flood;
        if (kind.notify_only) {
            notifier = std::thread([&] {
                while (!stop)
                    hostile->notify();
            });
            on_last_cpu(notifier.native_handle());
        } else {
            flood = std::make_unique<Flood>(*hostile, kind.next, kind.drain,
                                            1 + 1000000u * (uint32_t)round);
            on_last_cpu(flood->thread_handle());
        }
        sleep_ms(200);
        auto f = loops.record(1000);
        flooded.insert(flooded.end(), f.begin(), f.end());
        stop = true;
        if (notifier.joinable())
            notifier.join();
        if (flood)
            flood->stop();
        hostile->settle(100, 5000);
    }
    ASSERT_EQ("", loops.problem());
    ASSERT_GT(quiet.size(), 1000u);
    ASSERT_GT(flooded.size(), 500u);
    double q = p99(quiet), f = p99(flooded);
    std::cout << "  the others' p99: quiet " << q << " µs, under the flood " << f << " µs (x"
              << f / q << ")\n";
    EXPECT_LE(f, kBound * q) << "quiet p99 " << q << " µs, flooded " << f << " µs";
    EXPECT_TRUE(store.proxy_alive()) << store.proxy_log();
}

INSTANTIATE_TEST_SUITE_P(
    Floods, HostileLatency,
    ::testing::Combine(::testing::Values(XSSIM_OXENSTORED, XSSIM_XENSTORED),
                       ::testing::Range<size_t>(0, 3)),
    [](const auto &info) {
        return std::string(floods()[std::get<1>(info.param)].name) + "_" +
               xssim_daemon_name(std::get<0>(info.param));
    });

}  // namespace
}  // namespace xstest
