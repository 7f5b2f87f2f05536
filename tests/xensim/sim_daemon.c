/*
 * sim_daemon.c - bringing a sim up with a real xenstored on it, and down.
 *
 * The daemon (Debian's unmodified oxenstored or C xenstored) runs with
 * libxsshim.so preloaded and XSSIM_DIR set, in its own session so that
 * xssim_down can stop it and everything it started.  DIR/run/socket is its
 * socket whichever daemon it is (a symlink for oxenstored, whose path is
 * fixed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim_internal.h"

#ifndef XSSIM_INSTALL_LIBDIR
#define XSSIM_INSTALL_LIBDIR "/usr/lib/xsproxy-sim"
#endif
#ifndef XSPROXY_SHIM_LIBDIR
#define XSPROXY_SHIM_LIBDIR "/usr/lib/xsproxy"   /* libxsshim.so, installed */
#endif

const char *xssim_daemon_name(enum xssim_daemon d)
{
    return d == XSSIM_XENSTORED ? "xenstored" : "oxenstored";
}

const char *xssim_daemon_default_path(enum xssim_daemon d)
{
    return d == XSSIM_XENSTORED ? "/usr/lib/xen-4.17/bin/xenstored"
                                : "/usr/lib/xen-4.17/bin/oxenstored";
}

/* NAME beside the calling program (the build tree: bin/ and lib/), or in
 * INSTALLED.  ENV overrides both. */
static const char *find_lib(const char *env, const char *name, const char *installed,
                            char *found, size_t len)
{
    const char *e = getenv(env);
    if (e && *e)
        return e;
    if (found[0])
        return found;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        static const char *const rel[] = { "", "/../lib", "/../lib/xsproxy",
                                           "/../lib/xsproxy-sim" };
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
            char cand[PATH_MAX + 64];
            if (snprintf(cand, sizeof(cand), "%s%s/%s", exe, rel[i], name) >= (int)sizeof(cand))
                continue;
            if (access(cand, R_OK) == 0 && realpath(cand, found))
                return found;
        }
    }
    snprintf(found, len, "%s/%s", installed, name);
    return found;
}

const char *xssim_shim_path(void)
{
    static char found[PATH_MAX];
    return find_lib("XSSIM_SHIM", "libxsshim.so", XSPROXY_SHIM_LIBDIR, found, sizeof(found));
}

const char *xssim_lib_path(void)
{
    static char found[PATH_MAX];
    return find_lib("XSSIM_LIB", "libxensim.so", XSSIM_INSTALL_LIBDIR, found, sizeof(found));
}

/* In a child about to exec a program on the sim: the simulated Xen below
 * its Xen libraries (after PRE, if not NULL: the shim), and an ASan build
 * told that a library comes before its runtime. */
static void preload_sim(const char *pre)
{
    char preload[2 * PATH_MAX + 2];
    snprintf(preload, sizeof(preload), "%s%s%s", pre ? pre : "", pre ? ":" : "",
             xssim_lib_path());
    setenv("LD_PRELOAD", preload, 1);
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
}

/* fork() for a server of the sim: the child in a session of its own, and
 * with DIE_WITH_PARENT killed when the forking process goes. */
static pid_t fork_server(bool die_with_parent)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        if (die_with_parent) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);
        }
    }
    return pid;
}

int xssim_socket_path(const char *dir, char *buf, size_t len)
{
    return sim_path(dir, "run/socket", buf, len);
}

int xssim_add_pid(const char *dir, pid_t pid)
{
    char path[PATH_MAX];
    if (sim_path(dir, "pids", path, sizeof(path)) < 0)
        return -1;
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    fprintf(f, "%d\n", (int)pid);
    return fclose(f);
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int write_oxenstored_conf(const char *dir, char *conf, size_t len)
{
    char text[4 * PATH_MAX];
    /* The Debian defaults, with every file inside the sim. */
    int n = snprintf(text, sizeof(text),
             "pid-file = %s/run/oxenstored.pid\n"
             "test-eagain = false\n"
             "merge-activate = true\n"
             "conflict-burst-limit = 5.0\n"
             "conflict-max-history-seconds = 0.05\n"
             "conflict-rate-limit-is-aggregate = true\n"
             "perms-activate = true\n"
             "perms-watch-activate = true\n"
             "quota-activate = true\n"
             "quota-maxentity = 1000\n"
             "quota-maxsize = 2048\n"
             "quota-maxwatch = 100\n"
             "quota-transaction = 10\n"
             "quota-maxrequests = 1024\n"
             "quota-path-max = 1024\n"
             "quota-maxoutstanding = 1024\n"
             "quota-maxwatchevents = 1024\n"
             "persistent = false\n"
             "xenstored-log-file = %s/fs/var/log/xen/xenstored.log\n"
             "xenstored-log-level = warn\n"
             "access-log-file = %s/fs/var/log/xen/xenstored-access.log\n"
             "xenstored-kva = /proc/xen/xsd_kva\n"
             "xenstored-port = /proc/xen/xsd_port\n",
             dir, dir, dir);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (sim_path(dir, "oxenstored.conf", conf, len) < 0)
        return -1;
    return write_text(conf, text);
}

static int socket_ready(const char *path)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    if (snprintf(a.sun_path, sizeof(a.sun_path), "%s", path) >= (int)sizeof(a.sun_path)) {
        close(s);
        return 0;
    }
    int ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

static void print_log_tail(const char *dir)
{
    char path[PATH_MAX];
    if (sim_path(dir, "daemon.log", path, sizeof(path)) < 0)
        return;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f))
        fprintf(stderr, "  daemon: %s", line);
    fclose(f);
}

/* Start the daemon on the sim in ABS_DIR and wait for its socket. */
static int start_daemon(const char *abs_dir, const struct xssim_up_opts *opts)
{
    char path[PATH_MAX], sock[PATH_MAX], conf[PATH_MAX];
    const char *daemon = opts->daemon_path ? opts->daemon_path
                                           : xssim_daemon_default_path(opts->daemon);
    if (access(daemon, X_OK) < 0) {
        fprintf(stderr, "xssim: %s not found (install xen-utils-4.17): %s\n", daemon,
                strerror(errno));
        return -1;
    }
    const char *shim = opts->shim_path ? opts->shim_path : xssim_shim_path();
    if (access(shim, R_OK) < 0) {
        fprintf(stderr, "xssim: the shim %s is missing: %s\n", shim, strerror(errno));
        return -1;
    }
    if (access(xssim_lib_path(), R_OK) < 0) {
        fprintf(stderr, "xssim: the simulated Xen %s is missing: %s\n", xssim_lib_path(),
                strerror(errno));
        return -1;
    }
    char rundir[PATH_MAX], logpath[PATH_MAX];
    if (sim_path(abs_dir, "run", rundir, sizeof(rundir)) < 0 ||
        xssim_socket_path(abs_dir, sock, sizeof(sock)) < 0 ||
        sim_path(abs_dir, "daemon.log", logpath, sizeof(logpath)) < 0)
        return -1;
    if (opts->daemon == XSSIM_OXENSTORED) {
        char real_sock[PATH_MAX];
        if (write_oxenstored_conf(abs_dir, conf, sizeof(conf)) < 0 ||
            sim_path(abs_dir, "fs/run/xenstored/socket", real_sock, sizeof(real_sock)) < 0 ||
            (unlink(sock) < 0 && errno != ENOENT) || symlink(real_sock, sock) < 0)
            return -1;
    }

    pid_t pid = fork_server(opts->die_with_parent);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        int log = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (null >= 0)
            dup2(null, 0);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        setenv("XSSIM_DIR", abs_dir, 1);
        unsetenv("ASAN_OPTIONS");   /* the daemon is no ASan build */
        preload_sim(shim);
        setenv("XENSTORED_RUNDIR", rundir, 1);
        setenv("XENSTORED_PATH", sock, 1);
        /* where an xsproxy on this sim publishes the domains it claims */
        char claims[PATH_MAX];
        if (sim_path(abs_dir, "proxy/claims", claims, sizeof(claims)) == 0)
            setenv("XSSHIM_CLAIMS", claims, 1);
        if (opts->daemon == XSSIM_OXENSTORED)
            execl(daemon, daemon, "--no-fork", "--config-file", conf, (char *)NULL);
        else
            execl(daemon, daemon, "-N", (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", daemon, strerror(errno));
        _exit(127);
    }
    char num[32];
    snprintf(num, sizeof(num), "%d\n", (int)pid);
    if (sim_path(abs_dir, "daemon.pid", path, sizeof(path)) < 0 || write_text(path, num) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s", xssim_daemon_name(opts->daemon));
    char dfile[PATH_MAX];
    if (sim_path(abs_dir, "daemon", dfile, sizeof(dfile)) == 0)
        write_text(dfile, path);

    int timeout = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
    for (int waited = 0;; waited += 10) {
        if (socket_ready(sock))
            break;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "xssim: %s exited during start-up (status %d)\n",
                    xssim_daemon_name(opts->daemon), status);
            print_log_tail(abs_dir);
            errno = ECHILD;
            return -1;
        }
        if (waited >= timeout) {
            fprintf(stderr, "xssim: %s did not open %s within %d ms\n",
                    xssim_daemon_name(opts->daemon), sock, timeout);
            print_log_tail(abs_dir);
            errno = ETIMEDOUT;
            return -1;
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return 0;
}

int xssim_up(const char *dir, const struct xssim_up_opts *opts)
{
    char abs_dir[PATH_MAX], path[PATH_MAX], sock[PATH_MAX];
    struct stat st;
    if (sim_path(dir, "state", path, sizeof(path)) < 0)
        return -1;
    if (stat(path, &st) == 0) {
        fprintf(stderr, "xssim: %s already holds a sim (run `xssim down` first)\n", dir);
        errno = EEXIST;
        return -1;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -1;
    if (!realpath(dir, abs_dir))
        return -1;
    if (sim_path(abs_dir, ".xssim", path, sizeof(path)) < 0 || write_text(path, "") < 0)
        return -1;
    struct xssim *sim = xssim_create(abs_dir);
    if (!sim) {
        fprintf(stderr, "xssim: cannot create a sim in %s: %s\n", abs_dir, strerror(errno));
        return -1;
    }
    xssim_detach(sim);

    if (start_daemon(abs_dir, opts) < 0 || xssim_socket_path(abs_dir, sock, sizeof(sock)) < 0)
        return -1;
    char env[2 * PATH_MAX + 64];
    snprintf(env, sizeof(env), "XSSIM_DIR=%s\nXENSTORED_PATH=%s\n", abs_dir, sock);
    if (sim_path(abs_dir, "env", path, sizeof(path)) < 0 || write_text(path, env) < 0)
        return -1;
    return 0;
}

static void stop_pid(pid_t pid);

int xssim_stop_daemon(const char *dir)
{
    char path[PATH_MAX];
    if (sim_path(dir, "daemon.pid", path, sizeof(path)) < 0)
        return -1;
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    if (pid > 1)
        stop_pid(pid);
    return 0;
}

int xssim_restart_daemon(const char *dir, const struct xssim_up_opts *opts)
{
    char abs_dir[PATH_MAX];
    if (!realpath(dir, abs_dir))
        return -1;
    xssim_stop_daemon(abs_dir);
    return start_daemon(abs_dir, opts);
}

int xssim_proxy_socket_path(const char *dir, char *buf, size_t len)
{
    return sim_path(dir, "proxy/socket", buf, len);
}

/* A program beside the calling one (the build tree and an install keep
 * xssim and xsproxy side by side), else on PATH. */
static void find_sibling(const char *name, char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            static const char *const rel[] = { "", "/../sbin" };
            for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
                if (snprintf(out, len, "%s%s/%s", exe, rel[i], name) < (int)len &&
                    access(out, X_OK) == 0)
                    return;
            }
        }
    }
    snprintf(out, len, "%s", name);
}

pid_t xssim_start_proxy(const char *dir, const char *proxy_path, bool die_with_parent)
{
    char abs_dir[PATH_MAX], prog[PATH_MAX], sock[PATH_MAX], backend[PATH_MAX],
        rundir[PATH_MAX], logfile[PATH_MAX], path[PATH_MAX];
    if (!realpath(dir, abs_dir))
        return -1;
    if (proxy_path)
        snprintf(prog, sizeof(prog), "%s", proxy_path);
    else
        find_sibling("xsproxy", prog, sizeof(prog));
    if (xssim_proxy_socket_path(abs_dir, sock, sizeof(sock)) < 0 ||
        xssim_socket_path(abs_dir, backend, sizeof(backend)) < 0 ||
        sim_path(abs_dir, "proxy", rundir, sizeof(rundir)) < 0 ||
        sim_path(abs_dir, "proxy/xsproxy.log", logfile, sizeof(logfile)) < 0)
        return -1;
    if (mkdir(rundir, 0700) < 0 && errno != EEXIST)
        return -1;
    unlink(sock);
    pid_t pid = fork_server(die_with_parent);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        int log = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (log >= 0)
            dup2(log, 2);
        setenv("XSSIM_DIR", abs_dir, 1);
        preload_sim(NULL);   /* xsproxy runs on Xen's libraries, the sim below */
        /* XSSIM_PROXY_WRAPPER: a command to run xsproxy under (a profiler,
         * valgrind), split at spaces */
        const char *wrapper = getenv("XSSIM_PROXY_WRAPPER");
        if (wrapper && *wrapper) {
            char *words = strdup(wrapper), *save = NULL, *argv[32];
            int n = 0;
            for (char *w = strtok_r(words, " ", &save); w && n < 20; w = strtok_r(NULL, " ", &save))
                argv[n++] = w;
            const char *rest[] = { prog, "--socket", sock, "--backend", backend, "--run-dir",
                                   rundir, "--log-level", "info" };
            for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
                argv[n++] = (char *)rest[i];
            argv[n] = NULL;
            execvp(argv[0], argv);
            fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
            _exit(127);
        }
        execl(prog, prog, "--socket", sock, "--backend", backend, "--run-dir", rundir,
              "--log-level", "info", (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    xssim_add_pid(abs_dir, pid);
    for (int waited = 0;; waited += 10) {
        if (socket_ready(sock))
            break;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid || waited >= 10000) {
            fprintf(stderr, "xssim: xsproxy did not start; its log %s says:\n", logfile);
            FILE *f = fopen(logfile, "r");
            char line[512];
            while (f && fgets(line, sizeof(line), f))
                fprintf(stderr, "  %s", line);
            if (f)
                fclose(f);
            errno = ECHILD;
            return -1;
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    char env[4 * PATH_MAX];
    snprintf(env, sizeof(env), "XSSIM_DIR=%s\nXENSTORED_PATH=%s\nXSPROXY_SOCKET=%s\n", abs_dir,
             sock, sock);
    if (sim_path(abs_dir, "env", path, sizeof(path)) < 0 || write_text(path, env) < 0)
        return -1;
    return pid;
}

static int alive(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid)
        return 0;   /* reaped our own child */
    return sim_pid_alive(pid);
}

static void stop_pid(pid_t pid)
{
    if (pid <= 1 || kill(pid, 0) < 0)
        return;
    kill(-pid, SIGTERM);   /* its session's group, when it leads one */
    kill(pid, SIGTERM);
    for (int i = 0; i < 200 && alive(pid); i++) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (alive(pid)) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        for (int i = 0; i < 200 && alive(pid); i++) {
            struct timespec ts = { 0, 10 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
}

static void stop_pids_in(const char *dir, const char *file)
{
    char path[PATH_MAX];
    if (sim_path(dir, file, path, sizeof(path)) < 0)
        return;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int pid;
    while (fscanf(f, "%d", &pid) == 1)
        stop_pid(pid);
    fclose(f);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int xssim_down(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    if (stat(dir, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    stop_pids_in(dir, "pids");        /* proxies and guests before the daemon */
    stop_pids_in(dir, "daemon.pid");
    if (sim_path(dir, ".xssim", path, sizeof(path)) < 0)
        return -1;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "xssim: %s is not a sim directory; left alone\n", dir);
        errno = ENOTDIR;
        return -1;
    }
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
