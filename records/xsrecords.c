/*
 * xsrecords.c - the xsrecords command: dump, verify and convert xenstore
 * migration streams (upstream format) and seed record files.  All file I/O
 * of libxsrecords users lives here; the library only sees buffers.
 *
 * Exit status: 0 success, 1 the stream breaks a rule (or a conversion
 * would lose data), 2 usage or I/O errors.
 */
#include "xsrecords.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsproxy_type_names.h"

static const char usage[] =
    "usage: xsrecords dump FILE\n"
    "       xsrecords verify FILE...\n"
    "       xsrecords convert --to upstream|seed [OPTIONS] IN OUT\n"
    "\n"
    "Reads xenstore migration streams (Xen's docs/designs/xenstore-migration.md,\n"
    "version 1) and seed record files (records/FORMAT.md); the format of an\n"
    "input is detected from its first octets.  FILE, IN and OUT may be '-'.\n"
    "\n"
    "  dump      print one line per record: offset, type, decoded fields\n"
    "            (strings and values escaped in C style)\n"
    "  verify    check every rule; print 'FILE: ok (N records)' or\n"
    "            'FILE: offset 0x..: rule: message'\n"
    "  convert   re-encode IN as OUT in the given format\n"
    "\n"
    "convert options:\n"
    "  --to upstream|seed   the output format (required)\n"
    "  --big-endian, --little-endian\n"
    "                       upstream byte order (default: this machine's)\n"
    "  --exact-len          upstream record len without padding (default:\n"
    "                       padded, as C xenstored 4.17 writes and reads it)\n"
    "  --domid N, --evtchn P\n"
    "                       seed input: the domain and event channel of the\n"
    "                       connection the seed format does not carry\n"
    "  --allow-loss         to seed: drop what the seed format cannot carry\n"
    "                       (GLOBAL_DATA, CONNECTION_DATA and its pending data,\n"
    "                       transaction nodes, permission flags) with a warning,\n"
    "                       instead of refusing\n"
    "\n"
    "Exit status: 0 ok, 1 invalid stream or refused conversion, 2 usage/I/O.\n";

/* ------------------------------------------------------------------ I/O */

static int read_file(const char *name, uint8_t **buf, size_t *len)
{
    bool in = !strcmp(name, "-");
    FILE *f = in ? stdin : fopen(name, "rb");
    uint8_t *data = NULL;
    size_t used = 0, cap = 0;
    const char *problem = NULL;

    *buf = NULL;
    *len = 0;
    if (!f) {
        fprintf(stderr, "xsrecords: %s: %s\n", name, strerror(errno));
        return -1;
    }
    while (!problem) {
        if (used == cap) {
            cap = cap ? 2 * cap : 65536;
            uint8_t *p = realloc(data, cap);
            if (!p) {
                problem = "out of memory";
                break;
            }
            data = p;
        }
        size_t n = fread(data + used, 1, cap - used, f);
        used += n;
        if (n == 0 && ferror(f))
            problem = "read error";
        else if (n == 0)
            break;
    }
    if (!in)
        fclose(f);
    if (problem) {
        fprintf(stderr, "xsrecords: %s: %s\n", name, problem);
        free(data);
        return -1;
    }
    *buf = data;
    *len = used;
    return 0;
}

static int write_file(const char *name, const uint8_t *buf, size_t len)
{
    bool out = !strcmp(name, "-");
    FILE *f = out ? stdout : fopen(name, "wb");

    if (!f) {
        fprintf(stderr, "xsrecords: %s: %s\n", name, strerror(errno));
        return -1;
    }
    bool ok = fwrite(buf, 1, len, f) == len;
    ok = (out ? fflush(f) : fclose(f)) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "xsrecords: %s: write error\n", name);
        if (!out)
            remove(name);  /* no half-written stream */
        return -1;
    }
    return 0;
}

static void print_error(FILE *f, const char *name, const struct xsrec_error *err)
{
    fprintf(f, "%s: offset 0x%zx: %s: %s\n", name, err->offset,
            err->rule ? err->rule : "error", err->message);
}

/* ----------------------------------------------------------------- dump */

/* C-style escapes, so a value with NULs or newlines stays on its line. */
static void put_escaped(const uint8_t *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c >= 0x20 && c < 0x7f)
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    putchar('"');
}

static void put_str(const char *s)
{
    put_escaped((const uint8_t *)s, strlen(s));
}

static const char *msg_type_name(uint32_t t)
{
    const char *name = xsp_type_name(t);
    return name ? name : "type";
}

/* The messages of pending data (host order, already checked by the parse). */
static void put_msgs(const char *what, const uint8_t *p, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        size_t rem = len - pos;
        uint32_t h[4];
        if (rem < 16) {
            printf(" %s[partial header, %zu of 16 octets]", what, rem);
            return;
        }
        memcpy(h, p + pos, sizeof(h));
        printf(" %s[%s(%u) req %u tx %u len %u ", what, msg_type_name(h[0]), h[0],
               h[1], h[2], h[3]);
        size_t body = rem - 16 < h[3] ? rem - 16 : h[3];
        put_escaped(p + pos + 16, body);
        if (body < h[3])
            printf(" partial, %zu of %u octets", body, h[3]);
        putchar(']');
        pos += 16 + body;
    }
}

static void put_conn(const struct xsrec_conn *c)
{
    printf(" conn %u", c->id);
    if (c->type == XSREC_CONN_RING) {
        printf(" ring domid %u tdomid ", c->domid);
        if (c->tdomid == XSREC_DOMID_INVALID)
            printf("invalid");
        else
            printf("%u", c->tdomid);
        printf(" evtchn %u", c->evtchn);
    } else {
        printf(" socket fd %d", c->socket_fd);
    }
    printf(" in-data-len %zu out-resp-len %zu out-data-len %zu", c->in_len,
           c->out_resp_len, c->out_len);
    put_msgs("in", c->in_data, c->in_len);
    if (c->out_resp_len) {
        printf(" out[rest of a response ");
        put_escaped(c->out_data, c->out_resp_len);
        putchar(']');
    }
    put_msgs("out", c->out_data + c->out_resp_len, c->out_len - c->out_resp_len);
}

static void put_node(const struct xsrec_node *n)
{
    if (n->conn_id)
        printf(" conn %u tx %u access %s%s", n->conn_id, n->tx_id,
               n->access & XSREC_ACCESS_READ ? "r" : "",
               n->access & XSREC_ACCESS_WRITTEN ? "w" : n->access ? "" : "-");
    else if (n->tx_id || n->access)  /* ignored by readers, but shown */
        printf(" (ignored: tx %u access 0x%x)", n->tx_id, n->access);
    printf(" path ");
    put_str(n->path);
    if (n->conn_id && n->nperms == 0) {
        printf(" deleted");
        return;
    }
    printf(" perms ");
    for (size_t i = 0; i < n->nperms; i++)
        printf("%s%c%u%s", i ? "," : "", n->perms[i].perm, n->perms[i].domid,
               n->perms[i].flags & XSREC_PERM_STALE ? "(stale)" : "");
    printf(" value-len %zu value ", n->value_len);
    put_escaped(n->value, n->value_len);
}

static int dump_record(void *ctx, const struct xsrec_record *r, struct xsrec_error *err)
{
    (void)ctx;
    (void)err;
    printf("0x%06zx ", r->offset);
    if (r->kind == XSREC_K_HEADER) {
        printf("header %s version %u", xsrec_format_name(r->info->format),
               r->info->version);
        if (r->format == XSREC_FMT_UPSTREAM)
            printf(" %s-endian", r->info->order == XSREC_BIG_ENDIAN ? "big" : "little");
        putchar('\n');
        return 0;
    }
    printf("%s len %u:", xsrec_type_name(r->format, r->type), r->len);
    switch (r->kind) {
    case XSREC_K_HEADER:
    case XSREC_K_END:
        break;
    case XSREC_K_GLOBAL:
        printf(" rw-socket-fd %d evtchn-fd %d", r->global->socket_fd,
               r->global->evtchn_fd);
        break;
    case XSREC_K_CONN:
        put_conn(r->conn);
        break;
    case XSREC_K_WATCH:
        if (r->format == XSREC_FMT_UPSTREAM)
            printf(" conn %u", r->watch->conn_id);
        printf(" path ");
        put_str(r->watch->path);
        printf(" token ");
        put_str(r->watch->token);
        break;
    case XSREC_K_TX:
        if (r->format == XSREC_FMT_UPSTREAM) {
            printf(" conn %u tx %u", r->txs[0].conn_id, r->txs[0].tx_id);
            break;
        }
        printf(" count %zu ids", r->ntxs);
        for (size_t i = 0; i < r->ntxs; i++)
            printf(" %u", r->txs[i].tx_id);
        break;
    case XSREC_K_NODE:
        put_node(r->node);
        break;
    case XSREC_K_TX_OP:
        printf(" conn %u tx %u", r->tx_op->conn_id, r->tx_op->tx_id);
        if (r->tx_op->req_type == XSREC_TX_OP_CUT) {
            printf(" (log cut short: not replayable)");
            break;
        }
        printf(" %s ", msg_type_name(r->tx_op->req_type));
        put_escaped(r->tx_op->req, r->tx_op->req_len);
        printf(" -> %s ", msg_type_name(r->tx_op->rsp_type));
        put_escaped(r->tx_op->rsp, r->tx_op->rsp_len);
        break;
    }
    putchar('\n');
    return 0;
}

static int cmd_dump(const char *name)
{
    uint8_t *buf;
    size_t len;
    struct xsrec_error err;

    if (read_file(name, &buf, &len))
        return 2;
    int rc = xsrec_parse(buf, len, dump_record, NULL, NULL, &err);
    fflush(stdout);
    if (rc)
        print_error(stderr, name, &err);
    free(buf);
    return rc ? 1 : 0;
}

/* --------------------------------------------------------------- verify */

static int cmd_verify(int argc, char **argv)
{
    int status = 0;

    for (int i = 0; i < argc; i++) {
        uint8_t *buf;
        size_t len;
        struct xsrec_info info;
        struct xsrec_error err;

        if (read_file(argv[i], &buf, &len)) {
            status = 2;
            continue;
        }
        if (xsrec_verify(buf, len, &info, &err)) {
            print_error(stdout, argv[i], &err);
            if (!status)
                status = 1;
        } else {
            printf("%s: ok (%zu records)\n", argv[i], info.nrecords);
        }
        free(buf);
    }
    return status;
}

/* -------------------------------------------------------------- convert */

struct convert_opts {
    enum xsrec_format to;
    enum xsrec_byteorder order;
    unsigned up_flags;
    bool allow_loss;
    long domid, evtchn;  /* -1: not given */
};

static long parse_num(const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno || *s == '\0' || *end || v < 0 || v > max)
        return -1;
    return v;
}

/* The seed has no connection: fill in, or warn about, the placeholder. */
static int fix_placeholder(struct xsrec_stream *s, const struct convert_opts *o,
                           enum xsrec_format from)
{
    if ((o->domid >= 0 || o->evtchn >= 0) && from != XSREC_FMT_SEED) {
        fprintf(stderr, "xsrecords: --domid and --evtchn apply to seed input only\n");
        return -1;
    }
    if (from != XSREC_FMT_SEED || s->nconns == 0)
        return 0;
    struct xsrec_conn *c = &s->conns[0];  /* the seed reader's placeholder */
    if (o->domid >= 0)
        c->domid = (uint16_t)o->domid;
    if (o->evtchn >= 0)
        c->evtchn = (uint32_t)o->evtchn;
    if (o->to == XSREC_FMT_UPSTREAM && (o->domid < 0 || o->evtchn < 0))
        fprintf(stderr, "xsrecords: warning: the seed format carries no connection: "
                "CONNECTION_DATA conn-id %u gets domid %u, evtchn %u "
                "(give --domid and --evtchn)\n", c->id, c->domid, c->evtchn);
    return 0;
}

/* Say what the seed format cannot carry; refuse unless allowed. */
static int seed_losses(const struct xsrec_stream *s, bool allow)
{
    struct xsrec_seed_loss l;

    if (!xsrec_seed_loss(s, &l))
        return 0;
    if (l.domains > 1) {
        fprintf(stderr, "xsrecords: the model has watches or transactions of several "
                "connections; the seed format carries one domain's\n");
        return -1;
    }
    fprintf(stderr, allow ? "xsrecords: warning: dropped, the seed format cannot carry:\n"
                          : "xsrecords: refused: the seed format cannot carry:\n");
    if (l.global)
        fprintf(stderr, "  GLOBAL_DATA\n");
    if (l.conns)
        fprintf(stderr, "  %zu CONNECTION_DATA record(s) (domid, evtchn, %zu octets of "
                "pending data)\n", l.conns, l.pending_octets);
    if (l.tx_nodes)
        fprintf(stderr, "  %zu NODE_DATA record(s) of pending transactions\n", l.tx_nodes);
    if (l.tx_ops)
        fprintf(stderr, "  %zu TX_OP record(s): transactions' operation logs\n", l.tx_ops);
    if (l.perm_flags)
        fprintf(stderr, "  %zu permission flag(s) (stale)\n", l.perm_flags);
    if (!allow) {
        fprintf(stderr, "xsrecords: use --allow-loss to drop them\n");
        return -1;
    }
    return 0;
}

/* convert's options into O and its two file names into FILES: 0, or 2
 * (the exit status) when they are wrong, said on stderr. */
static int parse_convert_args(int argc, char **argv, struct convert_opts *o,
                              const char *files[2])
{
    int nfiles = 0;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--to") && i + 1 < argc) {
            a = argv[++i];
            o->to = !strcmp(a, "upstream") ? XSREC_FMT_UPSTREAM
                  : !strcmp(a, "seed") ? XSREC_FMT_SEED : XSREC_FMT_UNKNOWN;
            if (o->to == XSREC_FMT_UNKNOWN) {
                fprintf(stderr, "xsrecords: --to takes upstream or seed\n");
                return 2;
            }
        } else if (!strcmp(a, "--big-endian")) {
            o->order = XSREC_BIG_ENDIAN;
        } else if (!strcmp(a, "--little-endian")) {
            o->order = XSREC_LITTLE_ENDIAN;
        } else if (!strcmp(a, "--exact-len")) {
            o->up_flags |= XSREC_UP_EXACT_LEN;
        } else if (!strcmp(a, "--allow-loss")) {
            o->allow_loss = true;
        } else if (!strcmp(a, "--domid") && i + 1 < argc) {
            if ((o->domid = parse_num(argv[++i], UINT16_MAX)) < 0) {
                fprintf(stderr, "xsrecords: --domid takes 0..65535\n");
                return 2;
            }
        } else if (!strcmp(a, "--evtchn") && i + 1 < argc) {
            if ((o->evtchn = parse_num(argv[++i], (long)INT32_MAX)) < 0) {
                fprintf(stderr, "xsrecords: --evtchn takes a port number\n");
                return 2;
            }
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "xsrecords: unknown or incomplete option %s\n%s", a, usage);
            return 2;
        } else if (nfiles < 2) {
            files[nfiles++] = a;
        } else {
            fprintf(stderr, "%s", usage);
            return 2;
        }
    }
    if (o->to == XSREC_FMT_UNKNOWN || nfiles != 2) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    return 0;
}

static int cmd_convert(int argc, char **argv)
{
    struct convert_opts o = {
        .to = XSREC_FMT_UNKNOWN, .order = xsrec_host_order(), .domid = -1, .evtchn = -1,
    };
    const char *files[2];
    if (parse_convert_args(argc, argv, &o, files))
        return 2;

    uint8_t *in, *out = NULL;
    size_t in_len, out_len = 0;
    struct xsrec_stream s;
    struct xsrec_info info;
    struct xsrec_error err = { 0 };
    int status = 0;

    if (read_file(files[0], &in, &in_len))
        return 2;
    if (xsrec_read(in, in_len, &s, &info, &err)) {
        print_error(stderr, files[0], &err);
        free(in);
        return 1;
    }
    free(in);
    if (fix_placeholder(&s, &o, info.format)) {
        status = 2;
    } else if (o.to == XSREC_FMT_SEED) {
        if (seed_losses(&s, o.allow_loss))
            status = 1;
        else if (xsrec_write_seed(&s, o.allow_loss ? XSREC_SEED_ALLOW_LOSS : 0,
                                  &out, &out_len, &err))
            status = 1;
    } else if (xsrec_write_upstream(&s, o.order, o.up_flags, &out, &out_len, &err)) {
        status = 1;
    }
    if (status == 1 && err.rule)
        fprintf(stderr, "xsrecords: cannot write %s: %s: %s\n", files[1], err.rule,
                err.message);
    if (!status && write_file(files[1], out, out_len))
        status = 2;
    free(out);
    xsrec_stream_free(&s);
    return status;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
                      !strcmp(argv[1], "help"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "dump"))
        return cmd_dump(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "verify"))
        return cmd_verify(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "convert"))
        return cmd_convert(argc - 2, argv + 2);
    fputs(usage, stderr);
    return 2;
}
