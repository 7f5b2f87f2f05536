/*
 * main.c - the xsproxy daemon: flags and config file, start-up, and the
 * libev loop whose callbacks hand events to domain.c and client.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fatal.h"
#include "proxy.h"
#include "share.h"
#include "transfer.h"
#include "unix_sock.h"

static const char usage_text[] =
    "usage: xsproxy [OPTIONS]\n"
    "A xenstore protocol proxy between guests' rings and an unmodified xenstored.\n"
    "\n"
    "  --socket PATH          where dom0 clients connect (/run/xsproxy/socket)\n"
    "  --backend PATH         xenstored's socket (/run/xenstored/socket)\n"
    "  --run-dir DIR          claims, shadow rings, traces (/run/xsproxy)\n"
    "  --pid-file PATH        (RUN-DIR/xsproxy.pid)\n"
    "  --log-file PATH        log there instead of stderr (reopened on SIGHUP)\n"
    "  --syslog               log to syslog instead\n"
    "  --log-level LEVEL      error, warn, info (default) or debug\n"
    "  --max-outstanding N    requests of one domain at xenstored at once (20,\n"
    "                         C xenstored's default quota)\n"
    "  --capture FILE         write every message to FILE as a pcap capture\n"
    "                         (deploy/wireshark/xenstore.lua decodes it)\n"
    "  --capture-filter SPEC  what to capture: dom=LIST|all|none conn=LIST|all|none\n"
    "                         type=LIST|all (LIST: comma-separated domids, dom0\n"
    "                         connection numbers or types such as WRITE)\n"
    "  --capture-size SIZE    rotate the capture at SIZE bytes, suffix k M G (64M)\n"
    "  --capture-files N      keep FILE, FILE.1 ... FILE.N-1 (4)\n"
    "  --config FILE          read `key = value` lines first (keys as the\n"
    "                         long options); options given here win\n"
    "  --help\n";

static struct proxy proxy;

static int parse_level(const char *s)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    fprintf(stderr, "xsproxy: unknown log level '%s'\n", s);
    exit(2);
}

static void set_option(struct config *cfg, const char *key, const char *val)
{
    if (strcmp(key, "socket") == 0)
        cfg->socket_path = strdup(val);
    else if (strcmp(key, "backend") == 0)
        cfg->backend_path = strdup(val);
    else if (strcmp(key, "run-dir") == 0)
        cfg->run_dir = strdup(val);
    else if (strcmp(key, "pid-file") == 0)
        cfg->pid_file = strdup(val);
    else if (strcmp(key, "log-file") == 0)
        cfg->log_file = strdup(val);
    else if (strcmp(key, "syslog") == 0)
        cfg->syslog = strcmp(val, "false") != 0 && strcmp(val, "0") != 0;
    else if (strcmp(key, "log-level") == 0)
        cfg->log_level = parse_level(val);
    else if (strcmp(key, "max-outstanding") == 0) {
        char *end;
        unsigned long n = strtoul(val, &end, 10);
        if (*end || n == 0 || n > 1024) {
            fprintf(stderr, "xsproxy: max-outstanding must be 1..1024\n");
            exit(2);
        }
        cfg->max_outstanding = (unsigned)n;
    } else if (strcmp(key, "capture") == 0) {
        cfg->capture_file = strdup(val);
    } else if (strncmp(key, "capture-", 8) == 0) {
        /* --capture-size 16M is the spec word size=16M, and so on */
        char spec[1024], err[256];
        if (strcmp(key, "capture-filter") == 0)
            snprintf(spec, sizeof(spec), "%s", val);
        else if (strcmp(key, "capture-size") == 0 || strcmp(key, "capture-files") == 0)
            snprintf(spec, sizeof(spec), "%s=%s", key + 8, val);
        else {
            fprintf(stderr, "xsproxy: unknown option '%s'\n", key);
            exit(2);
        }
        if (capture_settings_parse(&cfg->capture, spec, strcmp(key, "capture-filter") != 0, err,
                                   sizeof(err)) < 0) {
            fprintf(stderr, "xsproxy: --%s: %s\n", key, err);
            exit(2);
        }
    } else {
        fprintf(stderr, "xsproxy: unknown option '%s'\n", key);
        exit(2);
    }
}

static void read_config(struct config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "xsproxy: cannot read %s: %s\n", path, strerror(errno));
        exit(2);
    }
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            fprintf(stderr, "xsproxy: %s:%d: expected key = value\n", path, lineno);
            exit(2);
        }
        char *key = p, *val = eq + 1;
        *eq = '\0';
        key[strcspn(key, " \t")] = '\0';
        val += strspn(val, " \t");
        val[strcspn(val, "\r\n")] = '\0';
        for (char *e = val + strlen(val); e > val && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = '\0';
        set_option(cfg, key, val);
    }
    fclose(f);
}

static void parse_args(struct config *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "socket", required_argument, NULL, 0 },
        { "backend", required_argument, NULL, 0 },
        { "run-dir", required_argument, NULL, 0 },
        { "pid-file", required_argument, NULL, 0 },
        { "log-file", required_argument, NULL, 0 },
        { "syslog", no_argument, NULL, 0 },
        { "log-level", required_argument, NULL, 0 },
        { "max-outstanding", required_argument, NULL, 0 },
        { "capture", required_argument, NULL, 0 },
        { "capture-filter", required_argument, NULL, 0 },
        { "capture-size", required_argument, NULL, 0 },
        { "capture-files", required_argument, NULL, 0 },
        { "config", required_argument, NULL, 0 },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    /* the config file first, so that options on the command line win */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            read_config(cfg, argv[i + 1]);
        else if (strncmp(argv[i], "--config=", 9) == 0)
            read_config(cfg, argv[i] + 9);
    }
    int idx, c;
    while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
        if (c == 'h') {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (c != 0) {
            fputs(usage_text, stderr);
            exit(2);
        }
        const char *key = longopts[idx].name;
        if (strcmp(key, "config") == 0)
            continue;
        set_option(cfg, key, optarg ? optarg : "true");
    }
    if (optind != argc) {
        fputs(usage_text, stderr);
        exit(2);
    }
}

static int make_dir(const char *path)
{
    return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int listen_on(const char *path)
{
    struct sockaddr_un a;
    int s = unix_socket(path, SOCK_NONBLOCK, &a);
    if (s < 0)
        return -1;
    unlink(path);
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(path, 0600) < 0 ||
        listen(s, 128) < 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

static void evtchn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    proxy.batching = true;
    for (;;) {
        int port = xenevtchn_pending(proxy.xce);
        if (port < 0)
            break;
        if (!domain_port_held(&proxy, (evtchn_port_t)port))
            xenevtchn_unmask(proxy.xce, (evtchn_port_t)port);
        domain_on_port(&proxy, (evtchn_port_t)port);
    }
    proxy.batching = false;
    domain_notify_flush(&proxy);
}

static void listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    client_accept(&proxy, w->fd);
}

/* A safety net, like oxenstored's ring scan: look at every ring now and
 * then even if an event was missed. */
static void scan_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    struct domain *next;
    for (struct domain *d = proxy.domains; d; d = next) {
        next = d->next;
        domain_poll(d);
    }
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    xlog(LOG_LVL_INFO, "signal %d: shutting down", w->signum);
    proxy.stopping = true;
    ev_break(loop, EVBREAK_ALL);
}

static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    log_reopen();
    xlog(LOG_LVL_INFO, "log reopened");
}

static struct xs_handle *open_backend(const char *path)
{
    /* libxenstore finds xenstored through XENSTORED_PATH: make sure that
     * is xenstored, never xsproxy itself */
    setenv("XENSTORED_PATH", path, 1);
    for (int i = 0; i < 50; i++) {
        struct xs_handle *xs = xs_open(0);
        if (xs)
            return xs;
        usleep(100 * 1000);
    }
    return NULL;
}

/* The defaults, then the config file and the command line. */
static void configure(struct config *cfg, int argc, char **argv)
{
    static char pidbuf[512];
    cfg->socket_path = "/run/xsproxy/socket";
    cfg->backend_path = "/run/xenstored/socket";
    cfg->run_dir = "/run/xsproxy";
    cfg->log_level = LOG_LVL_INFO;
    cfg->max_outstanding = 20;
    capture_settings_init(&cfg->capture);
    parse_args(cfg, argc, argv);
    if (!cfg->pid_file) {
        snprintf(pidbuf, sizeof(pidbuf), "%s/xsproxy.pid", cfg->run_dir);
        cfg->pid_file = pidbuf;
    }
}

/* The run directory and what it holds: claims, shadow rings, journals. */
static int make_run_dirs(const struct config *cfg)
{
    char path[512], shadow_dir[512], journal_dir[512];
    snprintf(path, sizeof(path), "%s/claims", cfg->run_dir);
    snprintf(shadow_dir, sizeof(shadow_dir), "%s/shadow", cfg->run_dir);
    snprintf(journal_dir, sizeof(journal_dir), "%s/journal", cfg->run_dir);
    if (make_dir(cfg->run_dir) < 0 || make_dir(path) < 0 || make_dir(shadow_dir) < 0 ||
        make_dir(journal_dir) < 0) {
        xlog(LOG_LVL_ERROR, "cannot create %s: %s", cfg->run_dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Xen's interfaces, the domain-exception VIRQ and xenstored.  The event
 * channels' descriptor (non-blocking), or -1. */
static int open_xen(const struct config *cfg)
{
    proxy.xce = xenevtchn_open(NULL, 0);
    proxy.xgt = xengnttab_open(NULL, 0);
    proxy.xch = xc_interface_open(NULL, NULL, 0);
    if (!proxy.xce || !proxy.xgt || !proxy.xch) {
        xlog(LOG_LVL_ERROR, "cannot open the Xen interfaces (evtchn, gnttab, xenctrl): %s",
             strerror(errno));
        return -1;
    }
    int efd = xenevtchn_fd(proxy.xce);
    fcntl(efd, F_SETFL, fcntl(efd, F_GETFL) | O_NONBLOCK);
    int vp = xenevtchn_bind_virq(proxy.xce, VIRQ_DOM_EXC);
    if (vp < 0) {
        xlog(LOG_LVL_ERROR, "cannot bind VIRQ_DOM_EXC: %s", strerror(errno));
        return -1;
    }
    proxy.virq_port = (evtchn_port_t)vp;
    proxy.xs = open_backend(cfg->backend_path);
    if (!proxy.xs) {
        xlog(LOG_LVL_ERROR, "cannot reach xenstored at %s: %s", cfg->backend_path,
             strerror(errno));
        return -1;
    }
    return efd;
}

/* The loop, with the event channels, the ring scan and the signals. */
static void start_loop(int efd)
{
    static ev_signal sigterm, sigint, sighup;
    proxy.loop = ev_default_loop(EVFLAG_AUTO);
    share_init(&proxy);
    ev_io_init(&proxy.evtchn_watcher, evtchn_cb, efd, EV_READ);
    ev_io_start(proxy.loop, &proxy.evtchn_watcher);
    ev_timer_init(&proxy.scan_timer, scan_cb, 1.0, 1.0);
    ev_timer_start(proxy.loop, &proxy.scan_timer);
    ev_signal_init(&sigterm, stop_cb, SIGTERM);
    ev_signal_init(&sigint, stop_cb, SIGINT);
    ev_signal_init(&sighup, hup_cb, SIGHUP);
    ev_signal_start(proxy.loop, &sigterm);
    ev_signal_start(proxy.loop, &sigint);
    ev_signal_start(proxy.loop, &sighup);
}

static int start_capture(struct config *cfg)
{
    char err[512];
    proxy.capture = capture_open(cfg->capture_file, &cfg->capture, err, sizeof(err));
    if (!proxy.capture) {
        xlog(LOG_LVL_ERROR, "%s", err);
        return -1;
    }
    char spec[1024];
    capture_settings_describe(&cfg->capture, spec, sizeof(spec));
    xlog(LOG_LVL_INFO, "capturing to %s (%s)", cfg->capture_file, spec);
    return 0;
}

/* The domains and transfers the last xsproxy had, if it crashed or stopped. */
static void carry_on(const struct config *cfg)
{
    int recovered = domain_recover_all(&proxy);
    if (recovered > 0)
        xlog(LOG_LVL_INFO, "carried on with %d domains from the journals in %s/journal",
             recovered, cfg->run_dir);
    transfer_recover_all(&proxy);   /* paused, until the toolstack resumes them */
}

/* Listen last: a client that can connect finds xsproxy ready. */
static int start_listening(const struct config *cfg)
{
    proxy.listen_fd = listen_on(cfg->socket_path);
    if (proxy.listen_fd < 0) {
        xlog(LOG_LVL_ERROR, "cannot listen on %s: %s", cfg->socket_path, strerror(errno));
        return -1;
    }
    FILE *pf = fopen(cfg->pid_file, "w");
    if (pf) {
        fprintf(pf, "%d\n", (int)getpid());
        fclose(pf);
    }
    ev_io_init(&proxy.listen_watcher, listen_cb, proxy.listen_fd, EV_READ);
    ev_io_start(proxy.loop, &proxy.listen_watcher);
    xlog(LOG_LVL_INFO, "serving %s in front of %s", cfg->socket_path, cfg->backend_path);
    return 0;
}

static void shut_down(struct config *cfg)
{
    backend_stop(&proxy);
    client_close_all(&proxy);
    transfer_free_all(&proxy);
    jobs_cancel(&proxy);
    /* the domains stay xsproxy's: the next one carries on with them */
    while (proxy.domains)
        domain_detach(&proxy, proxy.domains);
    share_stop(&proxy);
    free(proxy.jbuf);
    if (proxy.socket_trace)
        fclose(proxy.socket_trace);
    capture_close(proxy.capture);
    capture_settings_free(&cfg->capture);
    close(proxy.listen_fd);
    unlink(cfg->socket_path);
    unlink(cfg->pid_file);
    xs_close(proxy.xs);
    xenevtchn_close(proxy.xce);
    xengnttab_close(proxy.xgt);
    xc_interface_close(proxy.xch);
    free(proxy.by_port);
    free(proxy.notify_due);
    if (proxy.claims_asked)
        munmap(proxy.claims_asked, 4096);
    ev_loop_destroy(proxy.loop);
    xlog(LOG_LVL_INFO, "stopped");
}

int main(int argc, char **argv)
{
    struct config *cfg = &proxy.cfg;
    configure(cfg, argc, argv);
    log_init(cfg);
    fatal_signals_logged();
    signal(SIGPIPE, SIG_IGN);
    /* the claims are for xenstored's shim; xsproxy maps the real rings */
    unsetenv("XSSHIM_CLAIMS");
    if (make_run_dirs(cfg) < 0)
        return 1;
    int efd = open_xen(cfg);
    if (efd < 0)
        return 1;
    start_loop(efd);
    if (backend_start(&proxy) < 0) {
        xlog(LOG_LVL_ERROR, "cannot reach xenstored at %s: %s", cfg->backend_path,
             strerror(errno));
        return 1;
    }
    if (cfg->capture_file && start_capture(cfg) < 0)
        return 1;
    carry_on(cfg);
    if (start_listening(cfg) < 0)
        return 1;
    ev_run(proxy.loop, 0);
    shut_down(cfg);
    return 0;
}
