// test_teardown.cc - a sim's teardown stops every process and removes every
// file: on normal destruction, when the test body fails, for processes
// registered with xssim_add_pid, and (die_with_parent) when the process that
// brought the sim up crashes or exits without tearing it down.
#include <gtest/gtest-spi.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "sim_host.h"

namespace xstest {
namespace {

constexpr int kWaitMs = 5000;

using Teardown = DaemonTest;

TEST_P(Teardown, DestructorStopsDaemonAndRemovesDir)
{
    std::string dir = host().dir();
    pid_t pid = host().daemon_pid();
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(pid_alive(pid));
    EXPECT_TRUE(path_exists(host().socket_path()));
    // the daemon serves
    ASSERT_TRUE(host().run({ "xenstore-write", "/t", "1" }).ok());
    host_.reset();
    EXPECT_TRUE(wait_pid_gone(pid, kWaitMs)) << "daemon " << pid << " still runs";
    EXPECT_FALSE(path_exists(dir)) << dir;
}

TEST_P(Teardown, StopsRegisteredProcessesAndGuests)
{
    std::string dir = host().dir();
    // a process of the sim (as a proxy would be), registered
    Child sleeper = spawn_program({ "sleep", "600" }, {});
    ASSERT_GT(sleeper.pid, 0);
    ASSERT_EQ(xssim_add_pid(dir.c_str(), sleeper.pid), 0);
    // a watcher in the middle of a blocking call
    Child watcher = host().spawn({ "xenstore-watch", "/t" });
    ASSERT_GT(watcher.pid, 0);
    ASSERT_EQ(xssim_add_pid(dir.c_str(), watcher.pid), 0);
    // a guest attached to the sim
    ASSERT_TRUE(host().create_domain(3));
    struct xsg *g = xsg_open(host().attach(), 3);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(xsg_write(g, 0, "data/x", "1", 1), 0);
    xsg_close(g);
    pid_t daemon = host().daemon_pid();

    host().down();
    EXPECT_TRUE(wait_pid_gone(sleeper.pid, kWaitMs));
    EXPECT_TRUE(wait_pid_gone(watcher.pid, kWaitMs));
    EXPECT_TRUE(wait_pid_gone(daemon, kWaitMs));
    EXPECT_FALSE(path_exists(dir));
    // xssim_down reaped them (they are our children): just close the pipes
    EXPECT_FALSE(finish_program(sleeper, kWaitMs).timed_out);
    EXPECT_FALSE(finish_program(watcher, kWaitMs).timed_out);
}

// A test whose body fails half-way still tears its sim down.
TEST(TeardownOnFailure, FatalFailureStillTearsDown)
{
    std::string dir;
    pid_t pid = -1;
    ::testing::TestPartResultArray failures;
    {
        ::testing::ScopedFakeTestPartResultReporter reporter(
            ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
        [&] {
            SimHost host(XSSIM_XENSTORED);
            ASSERT_TRUE(host.ok());
            dir = host.dir();
            pid = host.daemon_pid();
            ASSERT_TRUE(false) << "a deliberate failure inside a test";
        }();
    }
    ASSERT_EQ(failures.size(), 1) << "the deliberate failure, and nothing from teardown";
    EXPECT_TRUE(failures.GetTestPartResult(0).fatally_failed());
    ASSERT_FALSE(dir.empty());
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(wait_pid_gone(pid, kWaitMs));
    EXPECT_FALSE(path_exists(dir));
}

// A process brings a sim up and dies without tearing it down: with
// die_with_parent the daemon dies with it, and SimHost's watchdog removes
// the sim's files.
class TeardownCrash : public ::testing::TestWithParam<xssim_daemon> {
protected:
    // Fork a child that brings a sim up, reports (dir, daemon pid) on a pipe,
    // then ends as HOW says.  Returns the child's wait status.
    int run_child(void (*how)(), std::string *dir, pid_t *daemon)
    {
        int fds[2];
        if (pipe(fds) < 0)
            return -1;
        pid_t child = fork();
        if (child == 0) {
            close(fds[0]);
            SimHost *host = new SimHost(GetParam());   // never destroyed
            std::string msg = host->ok() ? host->dir() + "\n" + std::to_string(host->daemon_pid())
                                         : std::string("failed");
            if (write(fds[1], msg.data(), msg.size()) < 0)
                _exit(3);
            close(fds[1]);
            how();
            _exit(4);
        }
        close(fds[1]);
        std::string msg;
        char buf[512];
        ssize_t n;
        while ((n = read(fds[0], buf, sizeof(buf))) > 0)
            msg.append(buf, (size_t)n);
        close(fds[0]);
        int status = 0;
        waitpid(child, &status, 0);
        size_t nl = msg.find('\n');
        if (nl != std::string::npos) {
            *dir = msg.substr(0, nl);
            *daemon = (pid_t)atoi(msg.c_str() + nl + 1);
        }
        return status;
    }
    void check_orphan(const std::string &dir, pid_t daemon)
    {
        ASSERT_FALSE(dir.empty()) << "the child did not bring a sim up";
        ASSERT_GT(daemon, 0);
        EXPECT_TRUE(wait_pid_gone(daemon, kWaitMs))
            << "daemon " << daemon << " outlived the process that started it";
        // and SimHost's watchdog removes the files
        bool gone = false;
        for (int i = 0; i < 1000 && !(gone = !path_exists(dir)); i++)
            usleep(10000);
        EXPECT_TRUE(gone) << dir << " outlived the process that made it";
        if (!gone)
            xssim_down(dir.c_str());
    }
};

TEST_P(TeardownCrash, DaemonDiesWhenStarterIsKilled)
{
    std::string dir;
    pid_t daemon = -1;
    int status = run_child([] { raise(SIGKILL); }, &dir, &daemon);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    check_orphan(dir, daemon);
}

TEST_P(TeardownCrash, DaemonDiesWhenStarterAborts)
{
    std::string dir;
    pid_t daemon = -1;
    int status = run_child([] {
        prctl(PR_SET_DUMPABLE, 0);   // no core file for this deliberate abort
        abort();
    }, &dir, &daemon);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) << status;
    check_orphan(dir, daemon);
}

TEST_P(TeardownCrash, DaemonDiesWhenStarterExitsWithoutTeardown)
{
    std::string dir;
    pid_t daemon = -1;
    int status = run_child([] { _exit(0); }, &dir, &daemon);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    check_orphan(dir, daemon);
}

INSTANTIATE_TEST_SUITE_P(Daemons, Teardown, both_daemons(), DaemonName());
INSTANTIATE_TEST_SUITE_P(Daemons, TeardownCrash, both_daemons(), DaemonName());

}  // namespace
}  // namespace xstest
