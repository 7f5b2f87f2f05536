// guest_latency.cc - see guest_latency.h.
#include "guest_latency.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>

namespace xstest {

int keep_off_last_cpu()
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2)
        return -1;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (long c = 0; c < n - 1; c++)
        CPU_SET(c, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        return -1;
    return (int)(n - 1);
}

void run_on_cpu(std::thread::native_handle_type thread, int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(thread, sizeof(set), &set);
}

// ---- GoodGuests ------------------------------------------------------------

GoodGuests::GoodGuests(Store &store, const std::vector<unsigned> &domids,
                       const std::string &node)
    : path_(nul_join({ node }))
{
    for (unsigned d : domids) {
        auto g = store.guest(d);
        if (!g) {
            fail("cannot open guest " + std::to_string(d));
            continue;
        }
        workers_.push_back(std::make_unique<Worker>());
        Worker *w = workers_.back().get();
        w->conn = std::move(g);
        w->domid = d;
    }
    for (auto &w : workers_)
        w->thread = std::thread([this, w = w.get()] { run(*w); });
}

void GoodGuests::stop()
{
    stop_ = true;
    for (auto &w : workers_)
        if (w->thread.joinable())
            w->thread.join();
}

std::vector<double> GoodGuests::record(double seconds, double *elapsed)
{
    for (auto &w : workers_) {
        std::lock_guard<std::mutex> l(w->mu);
        w->lat.clear();
    }
    auto t0 = std::chrono::steady_clock::now();
    recording_ = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    recording_ = false;
    if (elapsed)
        *elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<double> all;
    for (auto &w : workers_) {
        std::lock_guard<std::mutex> l(w->mu);
        all.insert(all.end(), w->lat.begin(), w->lat.end());
    }
    return all;
}

std::string GoodGuests::problem() const
{
    std::lock_guard<std::mutex> l(mu_);
    return problem_;
}

void GoodGuests::fail(const std::string &why)
{
    std::lock_guard<std::mutex> l(mu_);
    if (problem_.empty())
        problem_ = why;
    stop_ = true;
}

bool GoodGuests::timed(Worker &w, uint32_t type, const std::string &body, uint32_t want_type,
                       const std::string &want_body)
{
    WireMsg r;
    auto t0 = std::chrono::steady_clock::now();
    bool ok = w.conn->request(type, 0, body, &r, 10000);
    double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    if (!ok || r.type != want_type || r.body != want_body) {
        fail("guest " + std::to_string(w.domid) + ": " + type_name(type) + " " +
             escape(body, 40) + " -> " +
             (ok ? type_name(r.type) + " " + escape(r.body, 40) : w.conn->error()));
        return false;
    }
    if (recording_) {
        std::lock_guard<std::mutex> l(w.mu);
        w.lat.push_back(us);
    }
    return true;
}

void GoodGuests::run(Worker &w)
{
    for (unsigned i = 0; !stop_; i++) {
        std::string v = "v" + std::to_string(i);
        if (!timed(w, XS_WRITE, path_ + v, XS_WRITE, std::string("OK", 3)) ||
            !timed(w, XS_READ, path_, XS_READ, v))
            return;
    }
}

// ---- HostileLoad -----------------------------------------------------------

HostileLoad::HostileLoad(RawGuest &g, bool notify_only, std::function<std::string(uint32_t)> next,
                         bool drain, uint32_t first, int cpu)
    : g_(g)
{
    if (notify_only) {
        notifier_ = std::thread([this] {
            while (!stop_) {
                g_.notify();
                notifies_++;
            }
        });
        run_on_cpu(notifier_.native_handle(), cpu);
    } else {
        flood_ = std::make_unique<Flood>(g_, std::move(next), drain, first);
        run_on_cpu(flood_->thread_handle(), cpu);
    }
}

uint64_t HostileLoad::stop()
{
    if (flood_) {
        flood_->stop();
        return flood_->sent();
    }
    stop_ = true;
    if (notifier_.joinable())
        notifier_.join();
    return notifies_;
}

}  // namespace xstest
