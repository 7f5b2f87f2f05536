// busy_guest.h - test support: one request answered strictly, and a guest's
// busy workload with sequence numbers, transactions and a watch, whose
// answers a direct run can be compared with (the live-insertion suite and
// its benchmark).
#ifndef XSPROXY_TESTS_BUSY_GUEST_H
#define XSPROXY_TESTS_BUSY_GUEST_H

#include <atomic>
#include <string>
#include <vector>

#include "workload.h"

namespace xstest {

// PATH NUL VALUE: a WRITE's payload.
std::string wr(const std::string &path, const std::string &value);

// One request and its reply, strictly: the next message that is not a
// watch event must answer it (a lost request times out, a repeated one
// shows as a reply nobody asked for).  Events are counted in EVENTS.
bool strict(XsConn &c, uint32_t type, uint32_t tx, const std::string &body, WireMsg *reply,
            std::string *why, std::atomic<int> *events = nullptr);

// A guest's busy workload: writes with sequence numbers read back, a
// transaction every fifth round, a watch fired by every write.  Each answer
// goes into LOG (a transaction's id as "T"), for the differential check.
struct Worker {
    std::string problem;
    std::vector<std::string> log;
    int rounds = 0, txs = 0, writes = -1;
    std::atomic<int> events{ 0 };
    std::atomic<int> rounds_done{ 0 };   // as it goes, for a benchmark's rate
};

// Run the workload as guest DOMID on its ring until STOP (or MAX_ROUNDS
// rounds, -1: no limit).  W->writes is set once a last read came after every
// write's event.
void busy_guest(Store &store, unsigned domid, Worker *w, const std::atomic<bool> &stop,
                int max_rounds);

}  // namespace xstest

#endif
