// bench_common.h - what the benchmarks share and the tests do not: the
// time since a moment, percentiles, a ratio against a reference figure, a
// process's CPU time, the --daemon option, and a domain created with its
// INTRODUCE sent to a given socket (the daemon's or xsproxy's).
#ifndef XSPROXY_BENCH_COMMON_H
#define XSPROXY_BENCH_COMMON_H

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "sim_host.h"
#include "workload.h"

namespace xsbench {

using Clock = std::chrono::steady_clock;

// The time from T to now.
double seconds_since(Clock::time_point t);
double ms_since(Clock::time_point t);
double us_since(Clock::time_point t);

// The P-th percentile (0-100, nearest rank) of V; 0 when V is empty.
double percentile(std::vector<double> v, double p);

// A against its reference B: A / B, or 0 when B is not positive.
double ratio(double a, double b);

// utime + stime of PID so far, in seconds (-1: unreadable).
double cpu_seconds(pid_t pid);

// The daemons "--daemon ARG" names (oxenstored, xenstored or both) in
// *DAEMONS; false, and *DAEMONS as it was, for anything else.
bool parse_daemons(const char *arg, std::vector<xssim_daemon> *daemons);

// `xssim domain create D [--no-introduce]` on STORE's sim, with its
// INTRODUCE sent to SOCKET (XENSTORED_PATH), killed after TIMEOUT_MS.
xstest::RunResult create_domain_at(const xstest::Store &store, unsigned domid,
                                   const std::string &socket, bool introduce,
                                   int timeout_ms = 10000);

}  // namespace xsbench

#endif
