// sim_host.h - test support: a simulated Xen host with a real xenstored
// (oxenstored or C xenstored) on it, in a temp dir of its own, torn down by
// the destructor; running stock tools and `xssim` against it; temp dirs;
// googletest parameters for "both daemons".
#ifndef XSPROXY_TESTS_SIM_HOST_H
#define XSPROXY_TESTS_SIM_HOST_H

#include <sys/types.h>

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "xssim.h"

struct xs_handle;

namespace xstest {

// Report a failure: a googletest failure inside a test, else stderr (the
// benchmark uses these helpers outside any test).
void report_failure(const std::string &what);

// A fresh directory from mkdtemp ($TMPDIR or /tmp), removed with everything
// in it by the destructor unless release()d.
class TempDir {
public:
    explicit TempDir(const char *prefix = "xstest");
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }
    std::string sub(const std::string &name) const { return path_ + "/" + name; }
    void release() { path_.clear(); }

private:
    std::string path_;
};

// A process's result, as run_program() captures it.
struct RunResult {
    int exit_code = -1;      // -1 when killed by a signal or not started
    int term_signal = 0;     // the signal, when killed by one
    bool timed_out = false;  // killed by us after the timeout
    std::string out, err;
    bool ok() const { return exit_code == 0 && !timed_out; }
};

// Run ARGV (argv[0] searched in PATH) with the caller's environment plus
// ENV ("NAME=value" entries override), stdin from /dev/null, stdout and stderr
// captured.  No shell.  Killed after TIMEOUT_MS.
RunResult run_program(const std::vector<std::string> &argv,
                      const std::vector<std::string> &env = {}, int timeout_ms = 10000);

// "ASAN_OPTIONS=..." for a program that runs with the simulated Xen
// preloaded (as xsproxy-launch starts xsproxy on a sim): an ASan build of it
// is told that a library comes before its runtime.  Harmless without ASan.
std::string asan_options_for_preload();

// A program running in the background with its stdout on a pipe.
struct Child {
    pid_t pid = -1;
    int out_fd = -1;
};
Child spawn_program(const std::vector<std::string> &argv, const std::vector<std::string> &env);
// Read CHILD's stdout until EOF and reap it (killing it after TIMEOUT_MS).
RunResult finish_program(Child &child, int timeout_ms);

// The directory of the running program, and programs beside it (xssim).
std::string self_dir();
std::string xssim_program();

// True while PID is a live process (not a zombie).
bool pid_alive(pid_t pid);
// How a child that pid_alive found gone ended: "killed by signal 11 (...)".
std::string how_it_ended(pid_t pid);
// Wait up to TIMEOUT_MS for PID to die. True when it did.
bool wait_pid_gone(pid_t pid, int timeout_ms);
bool path_exists(const std::string &path);
// Whole file (or "" when missing).
std::string read_text(const std::string &path);

// A simulated host: temp dir, sim, daemon (die_with_parent), torn down and
// checked by the destructor.  A watchdog process removes the sim if this
// process dies without tearing it down (a crash, _exit, SIGKILL).
class SimHost {
public:
    explicit SimHost(xssim_daemon daemon);
    ~SimHost();
    SimHost(const SimHost &) = delete;
    SimHost &operator=(const SimHost &) = delete;

    bool ok() const { return ok_; }   // the daemon came up
    xssim_daemon daemon() const { return daemon_; }
    const char *daemon_name() const { return xssim_daemon_name(daemon_); }
    const std::string &dir() const { return dir_; }
    std::string socket_path() const;
    pid_t daemon_pid() const;   // from DIR/daemon.pid, -1 if none

    // This process's attachment to the sim (made on first use, detached by
    // the destructor).  NULL on failure.
    struct xssim *attach();

    // Environment for a program that talks to this sim's store.
    std::vector<std::string> env() const;
    // A stock tool (or any program) run against this sim.
    RunResult run(const std::vector<std::string> &argv, int timeout_ms = 10000) const;
    Child spawn(const std::vector<std::string> &argv) const;
    // `xssim --dir DIR ARGS...`
    RunResult xssim(const std::vector<std::string> &args, int timeout_ms = 10000) const;
    // As libxl would: `xssim domain create D` (nodes, INTRODUCE).  Reports a
    // failure and returns false when it fails.
    bool create_domain(unsigned domid);
    bool destroy_domain(unsigned domid);

    // A new daemon of the same kind on this sim in place of the old one
    // (stopped first if it still runs; one that was killed is reaped): the
    // domains, their rings and channels stay, the store is empty - a
    // xenstored crash and restart.  Waits for its socket.  Reports a
    // failure and returns false when it does not come up.
    bool restart_daemon();

    // A libxenstore connection (dom0, over the socket).  Sets
    // XENSTORED_PATH in this process's environment to this sim's socket.
    struct xs_handle *xs_open();

    // Stop everything and remove the directory (the destructor does this;
    // idempotent).  Reports a failure if the directory survives.
    void down();

private:
    xssim_daemon daemon_;
    std::string dir_;
    bool ok_ = false;
    struct xssim *sim_ = nullptr;
    std::mutex attach_mu_;
    pid_t watchdog_ = -1;     // runs xssim_down if we die before down()
    int watchdog_fd_ = -1;    // the pipe's write end, held only here
    void start_watchdog();
};

// Parameters and test names for suites run against both daemons.
inline auto both_daemons()
{
    return ::testing::Values(XSSIM_OXENSTORED, XSSIM_XENSTORED);
}
struct DaemonName {
    std::string operator()(const ::testing::TestParamInfo<xssim_daemon> &info) const
    {
        return xssim_daemon_name(info.param);
    }
};

// A fixture with a SimHost for the test's daemon, made in SetUp.
class DaemonTest : public ::testing::TestWithParam<xssim_daemon> {
protected:
    void SetUp() override;
    void TearDown() override { host_.reset(); }
    SimHost &host() { return *host_; }
    std::unique_ptr<SimHost> host_;
};

}  // namespace xstest

#endif
