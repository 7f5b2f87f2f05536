/*
 * control.c - the operations xsproxy answers itself for dom0: INTRODUCE
 * and RELEASE of the domains it stands in front of, its wire types, and
 * its XS_CONTROL commands, dispatched from XSP_CONTROL_TABLE
 * (xsproxy_wire.h), whose usage text `help` adds to xenstored's.
 * Anything else goes on to xenstored.
 *
 * An INTRODUCE or RELEASE from a client goes to xenstored on that client's
 * connection (client.c tracks the reply); `insert` of a domain xenstored
 * does not serve yet and `remove D release` use xsproxy's own connection,
 * synchronously (one request each).  A live insertion, a hand-back, a save
 * and a restore are jobs (job.h), answered when they are done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control_table.h"
#include "files.h"
#include "job.h"
#include "migrate.h"
#include "transfer.h"
#include "proxy.h"
#include "share.h"
#include "xsproxy_wire.h"

static void reply_text(struct msg *reply, const struct msg *req, const char *text)
{
    msg_build(reply, req->hdr.type, req->hdr.req_id, req->hdr.tx_id, text,
              (uint32_t)strlen(text) + 1);
}

static void reply_errno(struct msg *reply, const struct msg *req, int err)
{
    msg_build_error(reply, &req->hdr, msg_errno_name(err));
}

/* Introduce DOMID to xenstored through xsproxy.  0, or an errno with a
 * message in ERR. */
static int introduce(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port, char *err,
                     size_t errlen)
{
    if (domid == 0 || domid >= DOMID_FIRST_RESERVED) {
        snprintf(err, errlen, "cannot insert domain %u", domid);
        return EINVAL;
    }
    if (domain_insert(px, domid, gfn, port, false, err, errlen) < 0)
        return EINVAL;
    if (!xs_introduce_domain(px->xs, domid, gfn, port)) {
        int e = errno ? errno : EIO;
        snprintf(err, errlen, "xenstored refused INTRODUCE of domain %u: %s", domid,
                 strerror(e));
        domain_remove(px, domain_find(px, domid));
        return e;
    }
    return 0;
}

static int release(struct proxy *px, struct domain *d, char *err, size_t errlen)
{
    if (!xs_release_domain(px->xs, d->domid)) {
        int e = errno ? errno : EIO;
        snprintf(err, errlen, "xenstored refused RELEASE of domain %u: %s", d->domid, strerror(e));
        return e;
    }
    domain_remove(px, d);
    return 0;
}

static bool read_u64(struct proxy *px, const char *path, uint64_t *out)
{
    unsigned len;
    char *v = xs_read(px->xs, XBT_NULL, path, &len);
    if (!v)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    bool ok = !errno && end != v && *end == '\0';
    free(v);
    *out = n;
    return ok;
}

/* `insert D`: what a toolstack's INTRODUCE would do, from the store/
 * nodes libxl wrote for D. */
static int cmd_insert(struct proxy *px, uint32_t domid, struct job **job, char *err,
                      size_t errlen)
{
    char path[64];
    uint64_t port, gfn;
    snprintf(path, sizeof(path), "/local/domain/%u/store/port", domid);
    if (!read_u64(px, path, &port)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return ENOENT;
    }
    snprintf(path, sizeof(path), "/local/domain/%u/store/ring-ref", domid);
    if (!read_u64(px, path, &gfn)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return ENOENT;
    }
    if (xs_is_domain_introduced(px->xs, domid))
        return live_insert(px, domid, gfn, (uint32_t)port, job, err, errlen);
    return introduce(px, domid, gfn, (uint32_t)port, err, errlen);
}

static int cmd_trace(struct proxy *px, const char *who, const char *onoff, const char *file,
                     char *err, size_t errlen)
{
    bool on = strcmp(onoff, "on") == 0;
    if (!on && strcmp(onoff, "off") != 0) {
        snprintf(err, errlen, "trace: say on or off");
        return EINVAL;
    }
    FILE **slot;
    char deffile[300];
    if (strcmp(who, "sockets") == 0) {
        slot = &px->socket_trace;
        snprintf(deffile, sizeof(deffile), "%s/trace-sockets.log", px->cfg.run_dir);
    } else {
        uint32_t domid;
        struct domain *d = msg_parse_u32(who, &domid) ? domain_find(px, domid) : NULL;
        if (!d) {
            snprintf(err, errlen, "trace: no inserted domain %s", who);
            return ENOENT;
        }
        slot = &d->trace;
        snprintf(deffile, sizeof(deffile), "%s/trace-dom%u.log", px->cfg.run_dir, domid);
    }
    if (*slot) {
        fclose(*slot);
        *slot = NULL;
    }
    if (on) {
        const char *path = file ? file : deffile;
        char why[400];
        int fd = file_open_regular(path, O_WRONLY | O_CREAT | O_APPEND, 0644, why, sizeof(why));
        *slot = fd >= 0 ? fdopen(fd, "a") : NULL;
        if (!*slot) {
            int e = errno;
            if (fd >= 0) {
                snprintf(why, sizeof(why), "%s: %s", path, strerror(e));
                close(fd);
            }
            snprintf(err, errlen, "trace: cannot open %s", why);
            return e;
        }
        setvbuf(*slot, NULL, _IOLBF, 0);
        snprintf(err, errlen, "tracing %s to %s", who, path);
    } else {
        snprintf(err, errlen, "tracing %s off", who);
    }
    return 0;
}

/* `capture start FILE [key=value...]`, `stop`, `status`, `filter
 * [key=value...]`: the pcap capture (capture.h), one per xsproxy. */
static int cmd_capture(struct proxy *px, const char *const *args, unsigned n, char *text,
                       size_t len)
{
    char spec[1024] = "";
    for (unsigned i = 1 + (n && strcmp(args[0], "start") == 0); i < n; i++) {
        size_t at = strlen(spec);
        snprintf(spec + at, sizeof(spec) - at, "%s%s", at ? " " : "", args[i]);
    }
    if (n >= 2 && strcmp(args[0], "start") == 0) {
        struct capture_settings s;
        if (capture_settings_copy(&s, &px->cfg.capture) < 0) {
            snprintf(text, len, "capture: out of memory");
            return ENOMEM;
        }
        if (capture_settings_parse(&s, spec, true, text, len) < 0) {
            capture_settings_free(&s);
            return EINVAL;
        }
        struct capture *c = capture_open(args[1], &s, text, len);
        capture_settings_free(&s);
        if (!c)
            return EACCES;
        capture_close(px->capture);   /* a capture already on stops */
        px->capture = c;
        capture_describe(c, text, len);
        xlog(LOG_LVL_INFO, "capture started: %s", text);
        return 0;
    }
    if (n == 1 && strcmp(args[0], "stop") == 0) {
        if (!px->capture) {
            snprintf(text, len, "capture: none is on");
            return ENOENT;
        }
        capture_describe(px->capture, text, len);
        capture_close(px->capture);
        px->capture = NULL;
        xlog(LOG_LVL_INFO, "capture stopped: %s", text);
        return 0;
    }
    if (n == 1 && strcmp(args[0], "status") == 0) {
        if (px->capture)
            capture_describe(px->capture, text, len);
        else
            snprintf(text, len, "capture off\n");
        return 0;
    }
    if (n >= 1 && strcmp(args[0], "filter") == 0) {
        if (!px->capture) {
            snprintf(text, len, "capture: none is on");
            return ENOENT;
        }
        if (capture_set_filter(px->capture, spec, text, len) < 0)
            return EINVAL;
        capture_describe(px->capture, text, len);
        return 0;
    }
    snprintf(text, len, "capture: say start FILE [dom=..] [conn=..] [type=..] [size=..] "
                        "[files=..], stop, status or filter [dom=..] [conn=..] [type=..]");
    return EINVAL;
}

int control_introduce_release(struct proxy *px, const struct msg *req, uint32_t *domid,
                              char *err, size_t errlen)
{
    const char *parts[3] = { 0 };
    unsigned n = msg_split(msg_body((struct msg *)req), req->hdr.len, parts, 3);
    if (n < 1 || !msg_parse_u32(parts[0], domid))
        return -1;   /* malformed: xenstored gives its own answer */
    if (req->hdr.type == XS_RELEASE)
        return domain_find(px, *domid) ? 0 : -1;
    uint32_t port;
    char *end;
    if (domain_find(px, *domid))
        return -2;   /* a repeated INTRODUCE: xenstored decides */
    if (n < 3 || !msg_parse_u32(parts[2], &port) || *domid == 0 ||
        *domid >= DOMID_FIRST_RESERVED)
        return -1;
    errno = 0;
    uint64_t gfn = strtoull(parts[1], &end, 10);
    if (errno || *end)
        return -1;
    if (domain_insert(px, *domid, gfn, port, false, err, errlen) < 0)
        return EINVAL;
    return 0;
}

static void cmd_list(struct proxy *px, const char *arg, struct msg *reply, const struct msg *req)
{
    char *buf = malloc(XENSTORE_PAYLOAD_MAX);
    if (!buf) {
        reply_errno(reply, req, ENOMEM);
        return;
    }
    size_t off = 0;
    uint32_t domid;
    if (arg && msg_parse_u32(arg, &domid)) {
        struct domain *d = domain_find(px, domid);
        if (!d) {
            free(buf);
            reply_errno(reply, req, ENOENT);
            return;
        }
        off = domain_describe(d, true, buf, XENSTORE_PAYLOAD_MAX - 1);
    } else {
        for (struct domain *d = px->domains; d && off < XENSTORE_PAYLOAD_MAX - 1; d = d->next)
            off += domain_describe(d, false, buf + off, XENSTORE_PAYLOAD_MAX - 1 - off);
        if (!px->domains)
            off = (size_t)snprintf(buf, XENSTORE_PAYLOAD_MAX, "no domains inserted\n");
    }
    buf[off] = '\0';
    reply_text(reply, req, buf);
    free(buf);
}

/* A command's answer: TEXT, or (RC set) the errno, TEXT going to the log
 * as why. */
static void answer(struct msg *reply, const struct msg *req, int rc, const char *text)
{
    if (rc) {
        xlog(LOG_LVL_WARN, "%s", text);
        reply_errno(reply, req, rc);
    } else {
        reply_text(reply, req, text);
    }
}

/* The same, TEXT being a line */
static void answer_line(struct msg *reply, const struct msg *req, int rc, char *text,
                        size_t len)
{
    if (!rc)
        strncat(text, "\n", len - strlen(text) - 1);
    answer(reply, req, rc, text);
}

/* A domain id argument: returns false (and fills REPLY) when it is not one. */
static bool domid_arg(const char *s, uint32_t *domid, struct msg *reply, const struct msg *req)
{
    if (s && msg_parse_u32(s, domid) && *domid < DOMID_FIRST_RESERVED)
        return true;
    reply_errno(reply, req, EINVAL);
    return false;
}

/* The client's answer is JOB's (job.h), once it is done. */
static void wait_for_job(struct wait_for *wait, struct job *job)
{
    wait->kind = WAIT_JOB;
    wait->domid = job->domid;
    wait->job = job;
}

/* One command being answered: ARGS are the words after its name (for a
 * wire type, the whole body).  NAME is for the log. */
struct ctl {
    struct proxy *px;
    const struct msg *req;
    struct msg *reply;
    struct wait_for *wait;
    const char *name;
    const char *const *args;
    unsigned n;
};

/* The Ith argument, or NULL past the last. */
static const char *arg(const struct ctl *c, unsigned i)
{
    return i < c->n ? c->args[i] : NULL;
}

/* An insert or remove: its job to wait for, or its line of TEXT; on an
 * error the errno, TEXT going to the log as why. */
static void answer_or_wait(const struct ctl *c, int rc, struct job *job, char *text,
                           size_t len)
{
    if (!rc && job) {   /* a live insertion or a hand-back: answered when done */
        wait_for_job(c->wait, job);
        return;
    }
    size_t l = strlen(text);
    if (rc && l + 2 < len)   /* say why, as xenstore-control prints the reply */
        strcpy(text + l, "\n");
    answer(c->reply, c->req, rc, text);
}

/* `insert D`, answered with a line; or XSP_INSERT (WIRE), answered "OK",
 * also when a live insertion is done. */
static void insert(const struct ctl *c, bool wire)
{
    uint32_t domid;
    if (!domid_arg(arg(c, 0), &domid, c->reply, c->req))
        return;
    char text[1024] = "";
    struct job *job = NULL;
    int rc = cmd_insert(c->px, domid, &job, text, sizeof(text));
    if (!rc && job) {   /* a live insertion: answered when done */
        job->answer_ok = wire;
        wait_for_job(c->wait, job);
    } else if (wire) {
        answer(c->reply, c->req, rc, rc ? text : "OK");
    } else {
        if (!rc && !text[0])
            snprintf(text, sizeof(text), "domain %u inserted\n", domid);
        answer_or_wait(c, rc, NULL, text, sizeof(text));
    }
}

static void ctl_insert(const struct ctl *c)
{
    insert(c, false);
}

/* remove D: hand it back to xenstored, which serves it directly from then
 * on; remove D release: release it at xenstored too (a domain going away) */
static void ctl_remove(const struct ctl *c)
{
    uint32_t domid;
    if (!domid_arg(arg(c, 0), &domid, c->reply, c->req))
        return;
    const char *how = arg(c, 1);
    bool rel = how && strcmp(how, "release") == 0;
    struct domain *d = domain_find(c->px, domid);
    char text[1024] = "";
    struct job *job = NULL;
    int rc;
    if (how && !rel) {
        rc = EINVAL;
        snprintf(text, sizeof(text), "remove %u: say `release` or nothing", domid);
    } else if (!d) {
        rc = ENOENT;
        snprintf(text, sizeof(text), "domain %u is not inserted", domid);
    } else {
        rc = rel ? release(c->px, d, text, sizeof(text))
                 : live_remove(c->px, d, &job, text, sizeof(text));
    }
    if (!rc && rel)
        snprintf(text, sizeof(text), "domain %u released and removed\n", domid);
    answer_or_wait(c, rc, job, text, sizeof(text));
}

/* The domain a migration operation names (its first argument), or NULL
 * with the reply filled. */
static struct domain *migrating(const struct ctl *c)
{
    uint32_t domid;
    if (!domid_arg(arg(c, 0), &domid, c->reply, c->req))
        return NULL;
    struct domain *d = domain_find(c->px, domid);
    if (!d && transfer_sent_away(c->px, domid)) {
        xlog(LOG_LVL_WARN, "%s %u: the domain was sent to another host for good", c->name,
             domid);
        reply_errno(c->reply, c->req, EPERM);
        return NULL;
    }
    if (!d)
        reply_errno(c->reply, c->req, ENOENT);
    return d;
}

/* take nothing more from the ring; answer once all that was passed on has
 * been answered */
static void ctl_quiesce(const struct ctl *c)
{
    struct domain *d = migrating(c);
    if (!d)
        return;
    d->rl.quiesce = true;
    xlog(LOG_LVL_INFO, "domain %u: quiesce", d->domid);
    c->wait->kind = WAIT_QUIESCED;
    c->wait->domid = d->domid;
    domain_pump(d);
}

static void ctl_resume(const struct ctl *c)
{
    struct domain *d = migrating(c);
    if (!d)
        return;
    if (d->rl.transfer_held) {
        /* the source may still run it: only the transfer's commit serves
         * it here */
        xlog(LOG_LVL_WARN, "resume %u: held for a transfer from another host", d->domid);
        reply_errno(c->reply, c->req, EPERM);
        return;
    }
    d->rl.quiesce = false;
    xlog(LOG_LVL_INFO, "domain %u: resume", d->domid);
    reply_text(c->reply, c->req, "OK");
    domain_pump(d);
}

/* A watch page (gencnt, then path and token, NUL-separated) for people, as
 * xenstore-control prints up to the first NUL: a line for the gencnt, then
 * "<path> <token>" lines. */
static void watches_as_lines(char *b, uint32_t len)
{
    for (uint32_t i = 0; i + 1 < len; i++)
        if (b[i] == '\0')
            b[i] = '\n';
    bool path = true;   /* the gencnt's newline is followed by a path */
    for (char *nl = strchr(b, '\n'); nl && nl < b + len - 1; nl = strchr(nl + 1, '\n')) {
        if (!path)
            *nl = ' ';   /* path and token share a line */
        path = !path;
    }
}

static void ctl_get_domain_watches(const struct ctl *c)
{
    struct domain *d = migrating(c);
    if (!d)
        return;
    uint32_t index = 0;
    if (arg(c, 1) && !msg_parse_u32(arg(c, 1), &index)) {
        reply_errno(c->reply, c->req, EINVAL);
        return;
    }
    char *buf = malloc(XENSTORE_PAYLOAD_MAX);
    if (!buf) {
        reply_errno(c->reply, c->req, ENOMEM);
        return;
    }
    uint32_t len = shadow_watch_page(&d->sh, index, buf, XENSTORE_PAYLOAD_MAX);
    msg_build(c->reply, c->req->hdr.type, c->req->hdr.req_id, c->req->hdr.tx_id, buf, len);
    if (c->req->hdr.type == XS_CONTROL)
        watches_as_lines((char *)msg_body(c->reply), len);
    free(buf);
}

static void ctl_add_domain_watches(const struct ctl *c)
{
    struct domain *d = migrating(c);
    if (!d)
        return;
    unsigned n = c->n - 1;   /* path and token pairs */
    if (n == 0 || n % 2) {
        reply_errno(c->reply, c->req, EINVAL);
        return;
    }
    if (domain_add_watches(d, c->args + 1, n) < 0) {
        reply_errno(c->reply, c->req, E2BIG);
        return;
    }
    c->wait->kind = WAIT_INJECTED;
    c->wait->domid = d->domid;
}

/* A save or restore: its job to wait for, or the errno, WHY to the log. */
static void start_job(const struct ctl *c, uint32_t domid, int rc, struct job *job,
                      const char *why)
{
    if (rc) {
        xlog(LOG_LVL_WARN, "%s %u: %s", c->name, domid, why);
        reply_errno(c->reply, c->req, rc);
    } else {
        wait_for_job(c->wait, job);
    }
}

static void ctl_save(const struct ctl *c)
{
    uint32_t domid;
    if (!domid_arg(arg(c, 0), &domid, c->reply, c->req))
        return;
    char why[512] = "";
    struct job *job = NULL;
    struct domain *d = domain_find(c->px, domid);
    bool force = arg(c, 2) && strcmp(arg(c, 2), "force") == 0;
    int rc;
    if (d && d->sh.incomplete && !force) {
        rc = EBUSY;
        snprintf(why, sizeof(why),
                 "domain %u was inserted live on a daemon that cannot list its watches: a "
                 "save would miss the ones registered before; `save %u FILE force` saves "
                 "what xsproxy knows",
                 domid, domid);
    } else {
        rc = d ? migrate_save(c->px, d, c->args[1], &job, why, sizeof(why)) : ENOENT;
    }
    start_job(c, domid, rc, job, why);
}

static void ctl_restore(const struct ctl *c)
{
    uint32_t domid, from = UINT32_MAX;
    if (!domid_arg(arg(c, 0), &domid, c->reply, c->req))
        return;
    if (arg(c, 2) && !msg_parse_u32(arg(c, 2), &from)) {
        reply_errno(c->reply, c->req, EINVAL);
        return;
    }
    char why[512] = "";
    struct job *job = NULL;
    int rc = migrate_restore(c->px, domid, c->args[1], from, false, &job, why, sizeof(why));
    start_job(c, domid, rc, job, why);
}

static void ctl_capture(const struct ctl *c)
{
    char text[1024] = "";
    int rc = cmd_capture(c->px, c->args, c->n, text, sizeof(text));
    answer(c->reply, c->req, rc, text);
}

static void ctl_share(const struct ctl *c)
{
    char text[1024] = "";
    int rc = share_command(c->px, arg(c, 0), arg(c, 1), text, sizeof(text));
    answer_line(c->reply, c->req, rc, text, sizeof(text));
}

static void ctl_list(const struct ctl *c)
{
    cmd_list(c->px, arg(c, 0), c->reply, c->req);
}

static void ctl_trace(const struct ctl *c)
{
    char text[1024] = "";
    int rc = cmd_trace(c->px, c->args[0], c->args[1], arg(c, 2), text, sizeof(text));
    answer_line(c->reply, c->req, rc, text, sizeof(text));
}

static void ctl_transfer(const struct ctl *c)
{
    transfer_command(c->px, c->args, c->n, c->req, c->reply, c->wait);
}

static void wire_insert(const struct ctl *c)
{
    insert(c, true);
}

/* XSP_REMOVE: release the domain at xenstored, and forget it. */
static void wire_remove(const struct ctl *c)
{
    uint32_t domid;
    if (!domid_arg(arg(c, 0), &domid, c->reply, c->req))
        return;
    char text[1024] = "";
    struct domain *d = domain_find(c->px, domid);
    int rc = d ? release(c->px, d, text, sizeof(text)) : ENOENT;
    answer(c->reply, c->req, rc, rc ? text : "OK");
}

static void not_implemented(const struct ctl *c)
{
    reply_errno(c->reply, c->req, ENOSYS);
}

struct control_cmd {
    const char *name;
    void (*fn)(const struct ctl *c);
    unsigned min, max;   /* arguments after the name */
};

/* The XS_CONTROL commands: XSP_CONTROL_TABLE's names and argument counts
 * with their handlers, ctl_<id>. */
static const struct control_cmd cmds[] = {
#define XSP_CMD(id, name, min, max, usage, desc) { name, ctl_##id, min, max },
    XSP_CONTROL_TABLE(XSP_CMD)
#undef XSP_CMD
};

/* The wire types: the body is the arguments.  No counts: each handler
 * checks the arguments it reads and ignores any after them. */
static const struct wire_cmd {
    uint32_t type;
    struct control_cmd cmd;
} wire_cmds[] = {
    { XSP_INSERT, { "insert", wire_insert, 0, XSP_ARGS_ANY } },
    { XSP_REMOVE, { "remove", wire_remove, 0, XSP_ARGS_ANY } },
    { XSP_QUIESCE, { "quiesce", ctl_quiesce, 0, XSP_ARGS_ANY } },
    { XSP_RESUME, { "resume", ctl_resume, 0, XSP_ARGS_ANY } },
    { XSP_GET_DOMAIN_WATCHES, { "get-domain-watches", ctl_get_domain_watches, 0, XSP_ARGS_ANY } },
    { XSP_ADD_DOMAIN_WATCHES, { "add-domain-watches", ctl_add_domain_watches, 0, XSP_ARGS_ANY } },
};

/* REQ's command, or NULL when it is xenstored's to answer (as is any
 * XS_CONTROL command not in the table). */
static const struct control_cmd *command_of(const struct msg *req)
{
    static const struct control_cmd unknown_wire = { "?", not_implemented, 0, XSP_ARGS_ANY };
    if (req->hdr.type == XS_CONTROL) {
        const char *name[1];
        if (msg_split(msg_body((struct msg *)req), req->hdr.len, name, 1) == 0)
            return NULL;
        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
            if (strcmp(name[0], cmds[i].name) == 0)
                return &cmds[i];
        return NULL;
    }
    if (!xsp_is_proxy_type(req->hdr.type))
        return NULL;
    for (size_t i = 0; i < sizeof(wire_cmds) / sizeof(wire_cmds[0]); i++)
        if (wire_cmds[i].type == req->hdr.type)
            return &wire_cmds[i].cmd;
    return &unknown_wire;   /* not implemented yet */
}

/* REQ's words (as msg_split cuts them), on the heap: an add-domain-watches
 * may have 2048. */
static const char **split_words(const struct msg *req, unsigned *n)
{
    const uint8_t *body = msg_body((struct msg *)req);
    unsigned max = 1;
    for (uint32_t i = 0; i < req->hdr.len; i++)
        max += body[i] == '\0';
    const char **words = malloc(max * sizeof(*words));
    if (words)
        *n = msg_split(body, req->hdr.len, words, max);
    return words;
}

bool control_handle(struct proxy *px, const struct msg *req, struct msg *reply,
                    struct wait_for *wait)
{
    const struct control_cmd *cmd = command_of(req);
    if (!cmd)
        return false;
    unsigned n;
    const char **words = split_words(req, &n);
    if (!words) {
        reply_errno(reply, req, ENOMEM);
        return true;
    }
    unsigned skip = req->hdr.type == XS_CONTROL;   /* the command's name */
    const struct ctl c = { px, req, reply, wait, cmd->name, words + skip, n - skip };
    if (c.n < cmd->min || c.n > cmd->max) {
        xlog(LOG_LVL_WARN, "%s: %u arguments do not fit its usage (see help)", cmd->name, c.n);
        reply_errno(reply, req, EINVAL);
    } else {
        cmd->fn(&c);
    }
    free(words);
    return true;
}

void control_extend_help(struct msg *reply)
{
    if (reply->hdr.type != XS_CONTROL)
        return;
    /* xenstored's text (without its NUL), then ours */
    uint32_t len = reply->hdr.len;
    if (len && msg_body(reply)[len - 1] == '\0')
        len--;
    static const char head[] = "xsproxy:\n";
    const size_t hl = sizeof(head) - 1;
    size_t ours = hl + control_docs_format(control_docs, control_ndocs, NULL, 0) + 1;   /* NUL */
    if (len + ours > XENSTORE_PAYLOAD_MAX)
        return;   /* xenstored's alone, then */
    char *at = (char *)msg_body(reply) + len;
    memcpy(at, head, hl);
    control_docs_format(control_docs, control_ndocs, at + hl, ours - hl);
    reply->hdr.len = len + (uint32_t)ours;
    reply->got = MSG_HDR_LEN + reply->hdr.len;
}
