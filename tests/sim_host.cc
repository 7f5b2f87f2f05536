// sim_host.cc - test support: SimHost (a sim with a running daemon in a temp
// dir, torn down and checked on destruction), temp dirs, and running
// programs without a shell, their output captured.
#include "sim_host.h"

#include <mutex>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

extern "C" {
#include <xenstore.h>
}

extern char **environ;

namespace xstest {

namespace {

int64_t now_ms()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

std::string make_temp_dir(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    std::string tmpl = std::string(base) + "/" + prefix + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
        report_failure("mkdtemp " + tmpl + ": " + strerror(errno));
        return "";
    }
    char real[PATH_MAX];
    if (!realpath(buf.data(), real))
        return buf.data();
    return real;
}

// environ with ENV's entries ("NAME=value") replacing those of the same name.
std::vector<std::string> merged_env(const std::vector<std::string> &env)
{
    std::vector<std::string> out;
    for (char **e = environ; e && *e; e++) {
        std::string cur(*e);
        std::string name = cur.substr(0, cur.find('='));
        bool overridden = false;
        for (const auto &o : env)
            if (o.compare(0, name.size() + 1, name + "=") == 0)
                overridden = true;
        if (!overridden)
            out.push_back(cur);
    }
    out.insert(out.end(), env.begin(), env.end());
    return out;
}

std::vector<char *> c_strings(std::vector<std::string> &v)
{
    std::vector<char *> out;
    for (auto &s : v)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// Spawn ARGV; its stdout goes to *OUT_FD, stderr to *ERR_FD (when non-null;
// else stderr is inherited).
pid_t spawn(const std::vector<std::string> &argv, const std::vector<std::string> &env,
            int *out_fd, int *err_fd)
{
    int out[2] = { -1, -1 }, err[2] = { -1, -1 };
    if (pipe2(out, O_CLOEXEC) < 0)
        return -1;
    if (err_fd && pipe2(err, O_CLOEXEC) < 0) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (err_fd)
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<std::string> args = argv, envs = merged_env(env);
    std::vector<char *> cargv = c_strings(args), cenv = c_strings(envs);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (err_fd)
        close(err[1]);
    if (rc != 0) {
        close(out[0]);
        if (err_fd)
            close(err[0]);
        errno = rc;
        return -1;
    }
    *out_fd = out[0];
    if (err_fd)
        *err_fd = err[0];
    return pid;
}

// Read FDS until EOF on all (or the deadline), then reap PID.
RunResult collect(pid_t pid, int out_fd, int err_fd, int timeout_ms)
{
    RunResult r;
    int64_t deadline = now_ms() + timeout_ms;
    int fds[2] = { out_fd, err_fd };
    std::string *bufs[2] = { &r.out, &r.err };
    for (;;) {
        struct pollfd p[2];
        int n = 0, which[2];
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0) {
                p[n] = { fds[i], POLLIN, 0 };
                which[n++] = i;
            }
        if (n == 0)
            break;
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            r.timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        int rc = poll(p, (nfds_t)n, (int)left);
        if (rc < 0 && errno != EINTR)
            break;
        for (int k = 0; k < n && rc > 0; k++) {
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t got = read(p[k].fd, buf, sizeof(buf));
            if (got > 0) {
                bufs[which[k]]->append(buf, (size_t)got);
            } else if (got == 0 || errno != EINTR) {
                close(fds[which[k]]);
                fds[which[k]] = -1;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (w != pid)
        r.err += "(not reaped here: " + std::string(strerror(errno)) + ")";
    else if (WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r.term_signal = WTERMSIG(status);
    return r;
}

}  // namespace

void report_failure(const std::string &what)
{
    if (::testing::UnitTest::GetInstance()->current_test_info())
        ADD_FAILURE() << what;
    else
        fprintf(stderr, "error: %s\n", what.c_str());
}

TempDir::TempDir(const char *prefix) : path_(make_temp_dir(prefix)) {}

TempDir::~TempDir()
{
    if (path_.empty())
        return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec)
        report_failure("removing " + path_ + ": " + ec.message());
}

RunResult run_program(const std::vector<std::string> &argv, const std::vector<std::string> &env,
                      int timeout_ms)
{
    int out_fd = -1, err_fd = -1;
    pid_t pid = spawn(argv, env, &out_fd, &err_fd);
    if (pid < 0) {
        RunResult r;
        r.err = "cannot run " + argv.at(0) + ": " + strerror(errno);
        return r;
    }
    return collect(pid, out_fd, err_fd, timeout_ms);
}

std::string asan_options_for_preload()
{
    const char *asan = getenv("ASAN_OPTIONS");
    std::string opts = asan ? asan : "";
    return "ASAN_OPTIONS=" + opts + (opts.empty() ? "" : ":") + "verify_asan_link_order=0";
}

Child spawn_program(const std::vector<std::string> &argv, const std::vector<std::string> &env)
{
    Child c;
    c.pid = spawn(argv, env, &c.out_fd, nullptr);
    if (c.pid < 0)
        report_failure("cannot run " + argv.at(0) + ": " + strerror(errno));
    return c;
}

RunResult finish_program(Child &child, int timeout_ms)
{
    if (child.pid < 0)
        return RunResult{};
    RunResult r = collect(child.pid, child.out_fd, -1, timeout_ms);
    child.pid = -1;
    child.out_fd = -1;
    return r;
}

std::string self_dir()
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return ".";
    exe[n] = '\0';
    std::string s(exe);
    return s.substr(0, s.rfind('/'));
}

std::string xssim_program()
{
    return self_dir() + "/xssim";
}

namespace {
std::mutex reaped_lock;
std::map<pid_t, int> reaped;   // the wait status of each child pid_alive reaped
}  // namespace

std::string how_it_ended(pid_t pid)
{
    std::lock_guard<std::mutex> hold(reaped_lock);
    auto it = reaped.find(pid);
    if (it == reaped.end())
        return "not reaped here";
    int st = it->second;
    if (WIFSIGNALED(st))
        return std::string("killed by signal ") + std::to_string(WTERMSIG(st)) + " (" +
               strsignal(WTERMSIG(st)) + ")";
    return "exited with status " + std::to_string(WEXITSTATUS(st));
}

bool pid_alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {   /* our own child, now reaped */
        std::lock_guard<std::mutex> hold(reaped_lock);
        reaped[pid] = status;
        return false;
    }
    if (kill(pid, 0) < 0)
        return errno == EPERM;
    // a zombie (not ours to reap) is dead
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line))
        return false;
    size_t paren = line.rfind(')');
    return !(paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z');
}

bool wait_pid_gone(pid_t pid, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (pid_alive(pid)) {
        if (now_ms() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

bool path_exists(const std::string &path)
{
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

std::string read_text(const std::string &path)
{
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// ---- SimHost ------------------------------------------------------------

SimHost::SimHost(xssim_daemon daemon) : daemon_(daemon), dir_(make_temp_dir("xssim"))
{
    if (dir_.empty())
        return;
    struct xssim_up_opts opts = {};
    opts.daemon = daemon;
    opts.die_with_parent = true;
    opts.timeout_ms = 10000;
    if (xssim_up(dir_.c_str(), &opts) < 0) {
        report_failure(std::string("xssim_up(") + dir_ + ", " + daemon_name() +
                       "): " + strerror(errno) + "\n" + read_text(dir_ + "/daemon.log"));
        return;
    }
    ok_ = true;
    start_watchdog();
}

// A child that waits on a pipe whose only write end this process holds
// (close-on-exec, so no spawned program keeps it).  Normal teardown writes a
// byte after removing the sim: the watchdog just exits.  EOF means this
// process died without teardown: the watchdog runs xssim_down.
void SimHost::start_watchdog()
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        report_failure(std::string("watchdog pipe: ") + strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        report_failure(std::string("watchdog fork: ") + strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        // keep only the read end (and stdio): other hosts' write ends would
        // keep their watchdogs waiting
        if (fds[0] != 3) {
            dup2(fds[0], 3);
            close(fds[0]);
        }
        if (close_range(4, ~0u, 0) < 0)
            for (int fd = 4; fd < 1024; fd++)
                close(fd);
        signal(SIGINT, SIG_IGN);   // a ^C to the test must not skip cleanup
        char c;
        ssize_t n;
        while ((n = read(3, &c, 1)) < 0 && errno == EINTR)
            ;
        if (n != 1)
            xssim_down(dir_.c_str());
        _exit(0);
    }
    close(fds[0]);
    watchdog_ = pid;
    watchdog_fd_ = fds[1];
}

SimHost::~SimHost()
{
    down();
}

void SimHost::down()
{
    if (dir_.empty())
        return;
    if (sim_) {
        xssim_detach(sim_);
        sim_ = nullptr;
    }
    pid_t pid = daemon_pid();
    if (path_exists(dir_ + "/.xssim")) {
        if (xssim_down(dir_.c_str()) < 0)
            report_failure("xssim_down(" + dir_ + "): " + strerror(errno));
    } else {
        // xssim_up failed before marking the directory: only our mkdtemp
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    if (path_exists(dir_))
        report_failure("the sim directory " + dir_ + " survived teardown");
    if (pid > 0 && pid_alive(pid))
        report_failure("the daemon (pid " + std::to_string(pid) + ") survived teardown");
    if (watchdog_fd_ >= 0) {
        if (write(watchdog_fd_, "k", 1) != 1)   // "keep calm": nothing to clean
            report_failure(std::string("telling the watchdog: ") + strerror(errno));
        close(watchdog_fd_);
        watchdog_fd_ = -1;
    }
    if (watchdog_ > 0) {
        if (!wait_pid_gone(watchdog_, 10000))   // reaps it
            report_failure("the sim's watchdog (pid " + std::to_string(watchdog_) +
                           ") did not finish");
        watchdog_ = -1;
    }
    dir_.clear();
    ok_ = false;
}

std::string SimHost::socket_path() const
{
    char buf[PATH_MAX];
    if (xssim_socket_path(dir_.c_str(), buf, sizeof(buf)) < 0)
        return "";
    return buf;
}

pid_t SimHost::daemon_pid() const
{
    std::string s = read_text(dir_ + "/daemon.pid");
    return s.empty() ? -1 : (pid_t)atoi(s.c_str());
}

struct xssim *SimHost::attach()
{
    // tests attach from several threads (busy guests): one attachment
    std::lock_guard<std::mutex> l(attach_mu_);
    if (!sim_) {
        sim_ = xssim_attach(dir_.c_str());
        if (!sim_)
            report_failure("xssim_attach(" + dir_ + "): " + strerror(errno));
    }
    return sim_;
}

std::vector<std::string> SimHost::env() const
{
    return { "XSSIM_DIR=" + dir_, "XENSTORED_PATH=" + socket_path() };
}

RunResult SimHost::run(const std::vector<std::string> &argv, int timeout_ms) const
{
    return run_program(argv, env(), timeout_ms);
}

Child SimHost::spawn(const std::vector<std::string> &argv) const
{
    return spawn_program(argv, env());
}

RunResult SimHost::xssim(const std::vector<std::string> &args, int timeout_ms) const
{
    std::vector<std::string> argv = { xssim_program(), "--dir", dir_ };
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(argv, env(), timeout_ms);
}

bool SimHost::create_domain(unsigned domid)
{
    RunResult r = xssim({ "domain", "create", std::to_string(domid) });
    if (!r.ok())
        report_failure("xssim domain create " + std::to_string(domid) + " (exit " +
                       std::to_string(r.exit_code) + "): " + r.err);
    return r.ok();
}

bool SimHost::destroy_domain(unsigned domid)
{
    RunResult r = xssim({ "domain", "destroy", std::to_string(domid) });
    if (!r.ok())
        report_failure("xssim domain destroy " + std::to_string(domid) + " (exit " +
                       std::to_string(r.exit_code) + "): " + r.err);
    return r.ok();
}

bool SimHost::restart_daemon()
{
    struct xssim_up_opts opts = {};
    opts.daemon = daemon_;
    opts.die_with_parent = true;
    opts.timeout_ms = 10000;
    if (xssim_restart_daemon(dir_.c_str(), &opts) < 0) {
        std::string log = read_text(dir_ + "/daemon.log");
        if (log.size() > 4000)
            log = log.substr(log.size() - 4000);
        report_failure(std::string("xssim_restart_daemon(") + dir_ + ", " + daemon_name() +
                       "): " + strerror(errno) + "\n" + log);
        return false;
    }
    return true;
}

struct xs_handle *SimHost::xs_open()
{
    setenv("XENSTORED_PATH", socket_path().c_str(), 1);
    struct xs_handle *xs = ::xs_open(0);
    if (!xs)
        report_failure("xs_open(" + socket_path() + "): " + strerror(errno));
    return xs;
}

void DaemonTest::SetUp()
{
    host_ = std::make_unique<SimHost>(GetParam());
    ASSERT_TRUE(host_->ok()) << "the sim did not come up";
}

}  // namespace xstest
