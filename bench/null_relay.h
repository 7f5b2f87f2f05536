// null_relay.h - the least a process between a client and a socket can do:
// copy bytes both ways and nothing else.  The benchmarks run the same
// serial workload through it to measure what one more process hop costs on
// this machine (its wake-ups and copies), which is the floor under any
// proxy's serial ratio, xsproxy's included.
#pragma once

#include <sys/types.h>

#include <string>

namespace xstest {

struct NullRelay {
    pid_t pid = -1;
    std::string path;   // where clients connect
};

// Forks a relay listening at PATH that, for each client, connects to
// UPSTREAM and copies bytes both ways (one client at a time).  pid < 0 on
// failure.
NullRelay null_relay_start(const std::string &path, const std::string &upstream);
void null_relay_stop(NullRelay &r);

}  // namespace xstest
