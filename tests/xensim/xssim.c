/*
 * xssim - drive a simulated Xen host: bring a xenstored up on it, create and
 * destroy domains as a toolstack would, and speak xenstore as a guest over
 * its ring.  `xssim --help` lists the commands.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenstore.h>

#include "xssim.h"

static const char usage_text[] =
    "usage: xssim [--dir DIR] COMMAND ...\n"
    "\n"
    "The sim directory is DIR, or $XSSIM_DIR.\n"
    "\n"
    "  up [--daemon oxenstored|xenstored] [--daemon-path PATH] [--proxy]\n"
    "                          create the sim, start the daemon (and xsproxy in\n"
    "                          front of it), print the environment a shell\n"
    "                          needs (eval \"$(xssim up)\")\n"
    "  env                     print that environment again\n"
    "  preload                 print the simulated Xen's library, for LD_PRELOAD\n"
    "                          of a program that is to run on the sim\n"
    "  down                    stop every process of the sim and remove it\n"
    "  daemon stop|restart [--daemon oxenstored|xenstored]\n"
    "                          stop the daemon, or start a fresh one in its place\n"
    "  proxy kill|start        kill -9 xsproxy (a crash), or start it again: it\n"
    "                          carries on from its journals\n"
    "  domain create D [--no-introduce]\n"
    "                          create domain D, its /local/domain/D nodes as\n"
    "                          libxl makes them, and introduce it\n"
    "  domain destroy D        D dies: @releaseDomain fires, its nodes go\n"
    "  domain shutdown D [REASON]\n"
    "  domain list\n"
    "  guest D OP ARGS...      one xenstore operation as guest D, on its ring:\n"
    "      read PATH | write PATH VALUE | ls PATH | rm PATH | mkdir PATH\n"
    "      getperms PATH | setperms PATH PERM... | watch PATH [N]\n"
    "      start                 open a transaction, print its id\n"
    "      commit T | abort T    end transaction T\n"
    "      watch-add PATH TOKEN  register a watch and leave it registered\n"
    "      events [N]            print the watch events waiting on the ring\n"
    "                            (path and token), N at most, 1 s for each;\n"
    "                            an event another command met before its\n"
    "                            reply went to that command's process\n"
    "    read, write, ls, rm and mkdir take --tx T (before OP) to act in\n"
    "    transaction T.\n";

static const char *sim_dir;

static void usage(void)
{
    fputs(usage_text, stderr);
    exit(2);
}

static unsigned parse_domid(const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v > XSSIM_MAX_DOMID) {
        fprintf(stderr, "xssim: bad domain id '%s'\n", s);
        exit(2);
    }
    return (unsigned)v;
}

static struct xssim *attach_or_die(void)
{
    struct xssim *sim = xssim_attach(sim_dir);
    if (!sim) {
        fprintf(stderr, "xssim: no sim in %s (run `xssim up`): %s\n", sim_dir, strerror(errno));
        exit(1);
    }
    return sim;
}

static void print_env(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/env", sim_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "xssim: no sim in %s\n", sim_dir);
        exit(1);
    }
    char line[PATH_MAX + 64];
    while (fgets(line, sizeof(line), f))
        printf("export %s", line);
    fclose(f);
}

static int cmd_up(int argc, char **argv)
{
    struct xssim_up_opts opts = { .daemon = XSSIM_OXENSTORED };
    static const struct option longopts[] = {
        { "daemon", required_argument, NULL, 'd' },
        { "daemon-path", required_argument, NULL, 'p' },
        { "proxy", no_argument, NULL, 'x' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    bool proxy = false;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd' && strcmp(optarg, "oxenstored") == 0)
            opts.daemon = XSSIM_OXENSTORED;
        else if (c == 'd' && strcmp(optarg, "xenstored") == 0)
            opts.daemon = XSSIM_XENSTORED;
        else if (c == 'p')
            opts.daemon_path = optarg;
        else if (c == 'x')
            proxy = true;
        else
            usage();
    }
    if (optind != argc)
        usage();
    if (xssim_up(sim_dir, &opts) < 0) {
        fprintf(stderr, "xssim: up failed: %s\n", strerror(errno));
        xssim_down(sim_dir);
        return 1;
    }
    if (proxy && xssim_start_proxy(sim_dir, NULL, false) < 0) {
        fprintf(stderr, "xssim: cannot start xsproxy: %s\n", strerror(errno));
        xssim_down(sim_dir);
        return 1;
    }
    print_env();
    return 0;
}

/* A libxenstore connection to the sim's store: $XENSTORED_PATH (which may
 * point at xsproxy), else the sim's own daemon. */
static struct xs_handle *open_store(void)
{
    if (!getenv("XENSTORED_PATH")) {
        /* the sim's env file says where: xsproxy when it is up */
        char path[PATH_MAX], line[PATH_MAX + 32], sock[PATH_MAX];
        xssim_socket_path(sim_dir, sock, sizeof(sock));
        snprintf(path, sizeof(path), "%s/env", sim_dir);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof(line), f)) {
            if (strncmp(line, "XENSTORED_PATH=", 15) == 0) {
                line[strcspn(line, "\n")] = '\0';
                if (strlen(line + 15) < sizeof(sock))
                    memcpy(sock, line + 15, strlen(line + 15) + 1);
            }
        }
        if (f)
            fclose(f);
        setenv("XENSTORED_PATH", sock, 1);
    }
    struct xs_handle *xs = xs_open(0);
    if (!xs) {
        fprintf(stderr, "xssim: cannot connect to xenstored at %s: %s\n",
                getenv("XENSTORED_PATH"), strerror(errno));
        exit(1);
    }
    return xs;
}

static bool mk_node(struct xs_handle *xs, xs_transaction_t t, const char *path,
                    const char *value, struct xs_permissions *perms, unsigned nperms)
{
    if (value ? !xs_write(xs, t, path, value, strlen(value)) : !xs_mkdir(xs, t, path))
        return false;
    return xs_set_permissions(xs, t, path, perms, nperms);
}

/* The nodes libxl gives a new domain: the domain's directory is dom0's and
 * readable by the guest; data/, control/shutdown and a few more are the
 * guest's own. */
static int make_domain_nodes(struct xs_handle *xs, unsigned domid, const struct xssim_dominfo *di)
{
    char base[64], path[128], val[64];
    snprintf(base, sizeof(base), "/local/domain/%u", domid);
    struct xs_permissions ro[2] = { { 0, XS_PERM_NONE }, { domid, XS_PERM_READ } };
    struct xs_permissions rw[1] = { { domid, XS_PERM_NONE } };
    static const char *const ro_dirs[] = { "cpu", "memory", "device", "control", "store",
                                           "console", "error" };
    static const char *const rw_dirs[] = { "data", "drivers", "attr", "messages",
                                           "control/shutdown", "device/suspend",
                                           "feature" };
    for (int attempt = 0; attempt < 10; attempt++) {
        xs_transaction_t t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            return -1;
        bool ok = mk_node(xs, t, base, NULL, ro, 2);
        for (size_t i = 0; ok && i < sizeof(ro_dirs) / sizeof(ro_dirs[0]); i++) {
            snprintf(path, sizeof(path), "%s/%s", base, ro_dirs[i]);
            ok = mk_node(xs, t, path, NULL, ro, 2);
        }
        for (size_t i = 0; ok && i < sizeof(rw_dirs) / sizeof(rw_dirs[0]); i++) {
            snprintf(path, sizeof(path), "%s/%s", base, rw_dirs[i]);
            ok = mk_node(xs, t, path, NULL, rw, 1);
        }
        snprintf(path, sizeof(path), "%s/domid", base);
        snprintf(val, sizeof(val), "%u", domid);
        ok = ok && mk_node(xs, t, path, val, ro, 2);
        snprintf(path, sizeof(path), "%s/name", base);
        snprintf(val, sizeof(val), "guest%u", domid);
        ok = ok && mk_node(xs, t, path, val, ro, 2);
        snprintf(path, sizeof(path), "%s/memory/target", base);
        ok = ok && mk_node(xs, t, path, "131072", ro, 2);
        snprintf(path, sizeof(path), "%s/store/port", base);
        snprintf(val, sizeof(val), "%u", di->store_port);
        ok = ok && mk_node(xs, t, path, val, ro, 2);
        snprintf(path, sizeof(path), "%s/store/ring-ref", base);
        snprintf(val, sizeof(val), "%llu", (unsigned long long)di->ring_gfn);
        ok = ok && mk_node(xs, t, path, val, ro, 2);
        if (!ok) {
            xs_transaction_end(xs, t, true);
            return -1;
        }
        if (xs_transaction_end(xs, t, false))
            return 0;
        if (errno != EAGAIN)
            return -1;
    }
    return -1;
}

static int cmd_domain(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *sub = argv[1];
    if (strcmp(sub, "list") == 0) {
        struct xssim *sim = attach_or_die();
        struct xssim_dominfo di[256];
        static const char *const states[] = { "running", "shutdown", "dying" };
        printf("%-6s %-9s %-10s %s\n", "domid", "state", "ring-gfn", "store-port");
        unsigned first = 0;
        int n;
        while ((n = xssim_domain_list(sim, first, 256, di)) > 0) {
            for (int i = 0; i < n; i++)
                printf("%-6u %-9s %#-10llx %u\n", di[i].domid, states[di[i].state],
                       (unsigned long long)di[i].ring_gfn, di[i].store_port);
            first = di[n - 1].domid + 1;
        }
        xssim_detach(sim);
        return 0;
    }
    if (argc < 3)
        usage();
    unsigned domid = parse_domid(argv[2]);
    struct xssim *sim = attach_or_die();
    int rc = 0;
    if (strcmp(sub, "create") == 0) {
        bool introduce = !(argc > 3 && strcmp(argv[3], "--no-introduce") == 0);
        if (domid == 0) {
            fprintf(stderr, "xssim: domain 0 always exists\n");
            return 1;
        }
        if (xssim_domain_create(sim, domid) < 0) {
            fprintf(stderr, "xssim: cannot create domain %u: %s\n", domid, strerror(errno));
            return 1;
        }
        struct xssim_dominfo di;
        xssim_domain_info(sim, domid, &di);
        struct xs_handle *xs = open_store();
        if (make_domain_nodes(xs, domid, &di) < 0) {
            fprintf(stderr, "xssim: cannot write /local/domain/%u: %s\n", domid, strerror(errno));
            rc = 1;
        } else if (introduce && !xs_introduce_domain(xs, domid, di.ring_gfn, di.store_port)) {
            fprintf(stderr, "xssim: INTRODUCE of domain %u failed: %s\n", domid, strerror(errno));
            rc = 1;
        }
        if (rc)
            xssim_domain_destroy(sim, domid);
        xs_close(xs);
    } else if (strcmp(sub, "destroy") == 0) {
        if (xssim_domain_destroy(sim, domid) < 0) {
            fprintf(stderr, "xssim: cannot destroy domain %u: %s\n", domid, strerror(errno));
            return 1;
        }
        struct xs_handle *xs = open_store();
        char path[64];
        snprintf(path, sizeof(path), "/local/domain/%u", domid);
        xs_rm(xs, XBT_NULL, path);   /* as libxl does after the domain died */
        xs_close(xs);
    } else if (strcmp(sub, "shutdown") == 0) {
        unsigned reason = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
        if (xssim_domain_shutdown(sim, domid, reason) < 0) {
            fprintf(stderr, "xssim: cannot shut down domain %u: %s\n", domid, strerror(errno));
            return 1;
        }
    } else {
        usage();
    }
    xssim_detach(sim);
    return rc;
}

static struct xsg *watch_guest;
static volatile sig_atomic_t stop_watch;

static void on_signal(int sig)
{
    (void)sig;
    stop_watch = 1;
}

/* Report an XS_ERROR (positive rc) or transport failure (-1) like the stock
 * tools do. */
static int fail(const char *what, const char *path, int rc)
{
    fprintf(stderr, "xssim guest: couldn't %s path %s: %s\n", what, path,
            rc > 0 ? xs_errno_name(rc) : strerror(errno));
    return 1;
}

static int cmd_guest(int argc, char **argv)
{
    if (argc < 3)
        usage();
    unsigned domid = parse_domid(argv[1]);
    uint32_t tx = 0;
    if (argc >= 5 && strcmp(argv[2], "--tx") == 0) {
        /* guest D --tx T OP ...: OP inside transaction T */
        char *end;
        unsigned long t = strtoul(argv[3], &end, 10);
        if (*end || end == argv[3] || t > UINT32_MAX)
            usage();
        tx = (uint32_t)t;
        argv[3] = argv[1];
        argv += 2;
        argc -= 2;
    }
    const char *op = argv[2], *path = argc > 3 ? argv[3] : "";
    bool no_path = strcmp(op, "start") == 0 || strcmp(op, "events") == 0;
    if (argc < 4 && !no_path)
        usage();
    struct xssim *sim = attach_or_die();
    struct xsg *g = xsg_open(sim, domid);
    if (!g) {
        fprintf(stderr, "xssim: cannot attach to domain %u's ring: %s\n", domid, strerror(errno));
        return 1;
    }
    int rc = 0, status = 0;
    if (strcmp(op, "read") == 0 && argc == 4) {
        char *v;
        unsigned len;
        rc = xsg_read(g, tx, path, &v, &len);
        if (rc)
            status = fail("read", path, rc);
        else {
            fwrite(v, 1, len, stdout);
            putchar('\n');
            free(v);
        }
    } else if (strcmp(op, "write") == 0 && argc == 5) {
        rc = xsg_write(g, tx, path, argv[4], (unsigned)strlen(argv[4]));
        if (rc)
            status = fail("write", path, rc);
    } else if ((strcmp(op, "rm") == 0 || strcmp(op, "mkdir") == 0) && argc == 4) {
        rc = xsg_simple(g, op[0] == 'r' ? XS_RM : XS_MKDIR, tx, path);
        if (rc)
            status = fail(op[0] == 'r' ? "remove" : "create", path, rc);
    } else if ((strcmp(op, "ls") == 0 || strcmp(op, "getperms") == 0) && argc == 4) {
        struct xsg_msg *m = malloc(sizeof(*m));
        bool ls = op[0] == 'l';
        rc = xsg_request(g, ls ? XS_DIRECTORY : XS_GET_PERMS, tx, path,
                         (uint32_t)strlen(path) + 1, m, 10000);
        if (rc == 0 && m->hdr.type == XS_ERROR)
            rc = xs_errno_from_name(m->body);
        if (rc) {
            status = fail(ls ? "list" : "get permissions of", path, rc);
        } else {
            /* NUL-separated strings: a line each (ls), or one line (perms) */
            for (uint32_t off = 0; off < m->hdr.len; off += (uint32_t)strlen(m->body + off) + 1) {
                if (ls)
                    printf("%s\n", m->body + off);
                else
                    printf("%s%s", off ? " " : "", m->body + off);
            }
            if (!ls)
                putchar('\n');
        }
        free(m);
    } else if (strcmp(op, "setperms") == 0 && argc >= 5) {
        char buf[XENSTORE_PAYLOAD_MAX];
        size_t off = 0;
        for (int i = 3; i < argc; i++) {
            size_t l = strlen(argv[i]) + 1;
            if (off + l > sizeof(buf)) {
                fprintf(stderr, "xssim guest: permissions too long\n");
                return 2;
            }
            memcpy(buf + off, argv[i], l);
            off += l;
        }
        struct xsg_msg *m = malloc(sizeof(*m));
        rc = xsg_request(g, XS_SET_PERMS, 0, buf, (uint32_t)off, m, 10000);
        if (rc == 0 && m->hdr.type == XS_ERROR)
            rc = xs_errno_from_name(m->body);
        if (rc)
            status = fail("set permissions of", path, rc);
        free(m);
    } else if (strcmp(op, "watch") == 0 && (argc == 4 || argc == 5)) {
        long want = argc == 5 ? atol(argv[4]) : -1;
        char token[32];
        snprintf(token, sizeof(token), "xssim-%d", (int)getpid());
        rc = xsg_watch(g, path, token);
        if (rc) {
            status = fail("watch", path, rc);
        } else {
            watch_guest = g;
            signal(SIGINT, on_signal);
            signal(SIGTERM, on_signal);
            struct xsg_msg *ev = malloc(sizeof(*ev));
            for (long n = 0; (want < 0 || n < want) && !stop_watch;) {
                int r = xsg_next_event(g, ev, 200);
                if (r < 0)
                    break;
                if (r == 1 && strcmp(ev->body + strlen(ev->body) + 1, token) == 0) {
                    printf("%s\n", ev->body);
                    fflush(stdout);
                    n++;
                }
            }
            free(ev);
            char buf[256];
            size_t pl = strlen(path) + 1;
            if (pl + strlen(token) + 1 <= sizeof(buf)) {
                memcpy(buf, path, pl);
                strcpy(buf + pl, token);
                struct xsg_msg *m = malloc(sizeof(*m));
                xsg_request(g, XS_UNWATCH, 0, buf, (uint32_t)(pl + strlen(token) + 1), m, 5000);
                free(m);
            }
        }
    } else if (strcmp(op, "start") == 0 && argc == 3) {
        uint32_t id;
        rc = xsg_transaction_start(g, &id);
        if (rc)
            status = fail("start a transaction on", "/", rc);
        else
            printf("%u\n", id);
    } else if ((strcmp(op, "commit") == 0 || strcmp(op, "abort") == 0) && argc == 4) {
        char *end;
        unsigned long t = strtoul(path, &end, 10);
        if (*end || end == path || t > UINT32_MAX)
            usage();
        rc = xsg_transaction_end(g, (uint32_t)t, op[0] == 'c');
        if (rc) {
            fprintf(stderr, "xssim guest: couldn't %s transaction %s: %s\n", op, path,
                    rc > 0 ? xs_errno_name(rc) : strerror(errno));
            status = 1;
        }
    } else if (strcmp(op, "watch-add") == 0 && argc == 5) {
        rc = xsg_watch(g, path, argv[4]);
        if (rc)
            status = fail("watch", path, rc);
    } else if (strcmp(op, "events") == 0 && argc <= 4) {
        long want = argc == 4 ? atol(argv[3]) : -1;
        struct xsg_msg *ev = malloc(sizeof(*ev));
        for (long n = 0; ev && (want < 0 || n < want); n++) {
            if (xsg_next_event(g, ev, 1000) != 1)
                break;
            printf("%s %s\n", ev->body, ev->body + strlen(ev->body) + 1);
        }
        free(ev);
    } else {
        usage();
    }
    xsg_close(g);
    xssim_detach(sim);
    return status;
}

int main(int argc, char **argv)
{
    int i = 1;
    sim_dir = getenv("XSSIM_DIR");
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--dir") == 0) {
        sim_dir = argv[2];
        i = 3;
    }
    if (i >= argc)
        usage();
    if (strcmp(argv[i], "preload") == 0) {
        printf("%s\n", xssim_lib_path());
        return 0;
    }
    if (!sim_dir || !*sim_dir) {
        fprintf(stderr, "xssim: no sim directory: give --dir DIR or set XSSIM_DIR\n");
        return 2;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "up") == 0)
        return cmd_up(argc - i, argv + i);
    if (strcmp(cmd, "down") == 0) {
        if (xssim_down(sim_dir) < 0) {
            fprintf(stderr, "xssim: down: %s\n", strerror(errno));
            return 1;
        }
        return 0;
    }
    if (strcmp(cmd, "env") == 0) {
        print_env();
        return 0;
    }
    if (strcmp(cmd, "domain") == 0)
        return cmd_domain(argc - i, argv + i);
    if (strcmp(cmd, "daemon") == 0 && i + 1 < argc) {
        if (strcmp(argv[i + 1], "stop") == 0)
            return xssim_stop_daemon(sim_dir) < 0;
        if (strcmp(argv[i + 1], "restart") == 0) {
            struct xssim_up_opts opts = { .daemon = XSSIM_OXENSTORED };
            char path[PATH_MAX], name[32] = "";
            snprintf(path, sizeof(path), "%s/daemon", sim_dir);
            FILE *f = fopen(path, "r");
            if (f) {
                if (!fgets(name, sizeof(name), f))
                    name[0] = '\0';
                fclose(f);
            }
            if (strncmp(name, "xenstored", 9) == 0)
                opts.daemon = XSSIM_XENSTORED;
            if (i + 3 < argc && strcmp(argv[i + 2], "--daemon") == 0)
                opts.daemon = strcmp(argv[i + 3], "xenstored") == 0 ? XSSIM_XENSTORED
                                                                    : XSSIM_OXENSTORED;
            if (xssim_restart_daemon(sim_dir, &opts) < 0) {
                fprintf(stderr, "xssim: daemon restart failed: %s\n", strerror(errno));
                return 1;
            }
            return 0;
        }
    }
    if (strcmp(cmd, "proxy") == 0 && i + 1 < argc && strcmp(argv[i + 1], "kill") == 0) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/proxy/xsproxy.pid", sim_dir);
        FILE *f = fopen(path, "r");
        int pid = 0;
        if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0 || kill(pid, SIGKILL) < 0) {
            fprintf(stderr, "xssim: no xsproxy to kill (%s)\n", path);
            if (f)
                fclose(f);
            return 1;
        }
        fclose(f);
        return 0;
    }
    if (strcmp(cmd, "proxy") == 0 && i + 1 < argc && strcmp(argv[i + 1], "start") == 0) {
        if (xssim_start_proxy(sim_dir, NULL, false) < 0) {
            fprintf(stderr, "xssim: cannot start xsproxy: %s\n", strerror(errno));
            return 1;
        }
        return 0;
    }
    if (strcmp(cmd, "guest") == 0)
        return cmd_guest(argc - i, argv + i);
    usage();
}
