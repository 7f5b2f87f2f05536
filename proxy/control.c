/*
 * control.c - the operations xsproxy answers itself for dom0: INTRODUCE
 * and RELEASE of the domains it stands in front of, and its XS_CONTROL
 * commands (insert, remove, list, trace; `help` is xenstored's list plus
 * these).  Anything else goes on to xenstored.
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

/* A command's answer: its line of TEXT, or (RC set) the errno, TEXT going
 * to the log as why. */
static void answer_line(struct msg *reply, const struct msg *req, int rc, char *text,
                        size_t len)
{
    if (rc) {
        xlog(LOG_LVL_WARN, "%s", text);
        reply_errno(reply, req, rc);
        return;
    }
    strncat(text, "\n", len - strlen(text) - 1);
    reply_text(reply, req, text);
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

static void finish(struct msg *reply, const struct msg *req, int rc, const char *text)
{
    if (rc) {
        xlog(LOG_LVL_WARN, "%s", text);
        reply_errno(reply, req, rc);
    } else {
        reply_text(reply, req, text[0] ? text : "OK");
    }
}

/* The migration operations, from the wire type or the XS_CONTROL command
 * (ARGS are what follows the domid).  Returns false when OP is none. */
static bool migration_op(struct proxy *px, const char *op, const char *dom,
                         const char *const *args, unsigned nargs, const struct msg *req,
                         struct msg *reply, struct wait_for *wait)
{
    uint32_t domid;
    if (strcmp(op, "quiesce") && strcmp(op, "resume") && strcmp(op, "get-domain-watches") &&
        strcmp(op, "add-domain-watches"))
        return false;
    if (!domid_arg(dom, &domid, reply, req))
        return true;
    struct domain *d = domain_find(px, domid);
    if (!d && transfer_sent_away(px, domid)) {
        xlog(LOG_LVL_WARN, "%s %u: the domain was sent to another host for good", op, domid);
        reply_errno(reply, req, EPERM);
        return true;
    }
    if (!d) {
        reply_errno(reply, req, ENOENT);
        return true;
    }
    if (strcmp(op, "quiesce") == 0) {
        /* take nothing more from the ring; answer once all that was passed
         * on has been answered */
        d->quiesce = true;
        xlog(LOG_LVL_INFO, "domain %u: quiesce", domid);
        wait->kind = WAIT_QUIESCED;
        wait->domid = domid;
        domain_pump(d);
    } else if (strcmp(op, "resume") == 0) {
        if (d->transfer_held) {
            /* the source may still run it: only the transfer's commit
             * serves it here */
            xlog(LOG_LVL_WARN, "resume %u: held for a transfer from another host", domid);
            reply_errno(reply, req, EPERM);
            return true;
        }
        d->quiesce = false;
        xlog(LOG_LVL_INFO, "domain %u: resume", domid);
        reply_text(reply, req, "OK");
        domain_pump(d);
    } else if (strcmp(op, "get-domain-watches") == 0) {
        uint32_t index = 0;
        if (nargs > 0 && !msg_parse_u32(args[0], &index)) {
            reply_errno(reply, req, EINVAL);
            return true;
        }
        char *buf = malloc(XENSTORE_PAYLOAD_MAX);
        if (!buf) {
            reply_errno(reply, req, ENOMEM);
            return true;
        }
        uint32_t len = shadow_watch_page(&d->sh, index, buf, XENSTORE_PAYLOAD_MAX);
        if (req->hdr.type == XS_CONTROL) {
            /* for people (xenstore-control prints up to the first NUL): a
             * line for the gencnt, then "<path> <token>" lines */
            for (uint32_t i = 0; i + 1 < len; i++)
                if (buf[i] == '\0')
                    buf[i] = '\n';
            msg_build(reply, req->hdr.type, req->hdr.req_id, req->hdr.tx_id, buf, len);
            /* path and token share a line */
            char *b = (char *)msg_body(reply);
            bool path = true;
            for (char *nl = strchr(b, '\n'); nl && nl < b + len - 1; nl = strchr(nl + 1, '\n')) {
                if (!path)
                    *nl = ' ';
                path = !path;
            }
        } else {
            msg_build(reply, req->hdr.type, req->hdr.req_id, req->hdr.tx_id, buf, len);
        }
        free(buf);
    } else {   /* add-domain-watches */
        if (nargs == 0 || nargs % 2) {
            reply_errno(reply, req, EINVAL);
            return true;
        }
        if (domain_add_watches(d, args, nargs) < 0) {
            reply_errno(reply, req, E2BIG);
            return true;
        }
        wait->kind = WAIT_INJECTED;
        wait->domid = domid;
    }
    return true;
}

bool control_handle(struct proxy *px, const struct msg *req, struct msg *reply,
                    struct wait_for *wait)
{
    /* Not zero-initialised: clearing 16 KiB of pointers per request was a
     * third of xsproxy's instructions per relayed message.  msg_split fills
     * parts[0..n); the few fixed positions the commands read are cleared. */
    const char *parts[XENSTORE_PAYLOAD_MAX / 2];
    unsigned n = msg_split(msg_body((struct msg *)req), req->hdr.len, parts,
                           XENSTORE_PAYLOAD_MAX / 2);
    for (unsigned i = n; i < 4; i++)
        parts[i] = NULL;
    char text[1024];
    text[0] = '\0';
    uint32_t domid;
    int rc;
    switch (req->hdr.type) {
    case XSP_INSERT:
        if (domid_arg(n ? parts[0] : NULL, &domid, reply, req)) {
            struct job *job = NULL;
            rc = cmd_insert(px, domid, &job, text, sizeof(text));
            if (!rc && job) {
                job->answer_ok = true;
                wait_for_job(wait, job);
            } else {
                finish(reply, req, rc, "");
            }
        }
        return true;
    case XSP_REMOVE:
        if (domid_arg(n ? parts[0] : NULL, &domid, reply, req)) {
            struct domain *d = domain_find(px, domid);
            rc = d ? release(px, d, text, sizeof(text)) : ENOENT;
            finish(reply, req, rc, "");
        }
        return true;
    case XSP_QUIESCE:
    case XSP_RESUME:
    case XSP_GET_DOMAIN_WATCHES:
    case XSP_ADD_DOMAIN_WATCHES: {
        static const char *const ops[] = { "quiesce", "get-domain-watches",
                                           "add-domain-watches", NULL, "resume" };
        const char *op = ops[req->hdr.type - XSP_QUIESCE];
        return migration_op(px, op, n ? parts[0] : NULL, parts + 1, n ? n - 1 : 0, req, reply,
                            wait);
    }
    case XS_CONTROL:
        break;
    default:
        if (xsp_is_proxy_type(req->hdr.type)) {
            reply_errno(reply, req, ENOSYS);   /* not implemented yet */
            return true;
        }
        return false;
    }
    if (n == 0)
        return false;
    const char *cmd = parts[0];
    if (strcmp(cmd, "transfer") == 0) {
        transfer_command(px, parts + 1, n - 1, req, reply, wait);
        return true;
    }
    if (strcmp(cmd, "insert") == 0 || strcmp(cmd, "remove") == 0) {
        if (!domid_arg(n > 1 ? parts[1] : NULL, &domid, reply, req))
            return true;
        struct job *job = NULL;
        if (cmd[0] == 'i') {
            text[0] = '\0';
            rc = cmd_insert(px, domid, &job, text, sizeof(text));
            if (!rc && !text[0])
                snprintf(text, sizeof(text), "domain %u inserted\n", domid);
        } else {
            /* remove D: hand it back to xenstored, which serves it directly
             * from then on; remove D release: release it at xenstored too
             * (a domain going away) */
            bool rel = n > 2 && strcmp(parts[2], "release") == 0;
            struct domain *d = domain_find(px, domid);
            if (n > 2 && !rel) {
                rc = EINVAL;
                snprintf(text, sizeof(text), "remove %u: say `release` or nothing", domid);
            } else if (!d) {
                rc = ENOENT;
                snprintf(text, sizeof(text), "domain %u is not inserted", domid);
            } else {
                rc = rel ? release(px, d, text, sizeof(text))
                         : live_remove(px, d, &job, text, sizeof(text));
            }
            if (!rc && rel)
                snprintf(text, sizeof(text), "domain %u released and removed\n", domid);
        }
        if (!rc && job) {   /* a live insertion or a hand-back: answered when done */
            wait_for_job(wait, job);
            return true;
        }
        if (rc) {   /* say why, as xenstore-control prints the reply */
            size_t l = strlen(text);
            if (l + 2 < sizeof(text))
                strcpy(text + l, "\n");
            xlog(LOG_LVL_WARN, "%s", text);
            reply_errno(reply, req, rc);
            return true;
        }
        reply_text(reply, req, text);
        return true;
    }
    if (migration_op(px, cmd, n > 1 ? parts[1] : NULL, parts + 2, n > 2 ? n - 2 : 0, req, reply,
                     wait))
        return true;
    if (strcmp(cmd, "save") == 0 || strcmp(cmd, "restore") == 0) {
        char msgbuf[512] = "";
        if (n < 3 || !domid_arg(parts[1], &domid, reply, req)) {
            if (n < 3)
                reply_errno(reply, req, EINVAL);
            return true;
        }
        struct job *job = NULL;
        if (cmd[0] == 's') {
            struct domain *d = domain_find(px, domid);
            bool force = n > 3 && strcmp(parts[3], "force") == 0;
            if (d && d->sh.incomplete && !force) {
                rc = EBUSY;
                snprintf(msgbuf, sizeof(msgbuf),
                         "domain %u was inserted live on a daemon that cannot list its "
                         "watches: a save would miss the ones registered before; `save %u "
                         "FILE force` saves what xsproxy knows",
                         domid, domid);
            } else {
                rc = d ? migrate_save(px, d, parts[2], &job, msgbuf, sizeof(msgbuf)) : ENOENT;
            }
        } else {
            uint32_t from = UINT32_MAX;
            if (n > 3 && !msg_parse_u32(parts[3], &from)) {
                reply_errno(reply, req, EINVAL);
                return true;
            }
            rc = migrate_restore(px, domid, parts[2], from, false, &job, msgbuf, sizeof(msgbuf));
        }
        if (rc) {
            xlog(LOG_LVL_WARN, "%s %u: %s", cmd, domid, msgbuf);
            reply_errno(reply, req, rc);
        } else {
            wait_for_job(wait, job);
        }
        return true;
    }
    if (strcmp(cmd, "capture") == 0) {
        rc = cmd_capture(px, parts + 1, n - 1, text, sizeof(text));
        if (rc) {
            xlog(LOG_LVL_WARN, "%s", text);
            reply_errno(reply, req, rc);
        } else {
            reply_text(reply, req, text);
        }
        return true;
    }
    if (strcmp(cmd, "share") == 0) {
        rc = share_command(px, n > 1 ? parts[1] : NULL, n > 2 ? parts[2] : NULL, text,
                           sizeof(text));
        answer_line(reply, req, rc, text, sizeof(text));
        return true;
    }
    if (strcmp(cmd, "list") == 0) {
        cmd_list(px, n > 1 ? parts[1] : NULL, reply, req);
        return true;
    }
    if (strcmp(cmd, "trace") == 0) {
        if (n < 3) {
            reply_errno(reply, req, EINVAL);
            return true;
        }
        rc = cmd_trace(px, parts[1], parts[2], n > 3 ? parts[3] : NULL, text, sizeof(text));
        answer_line(reply, req, rc, text, sizeof(text));
        return true;
    }
    return false;
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
