/*
 * xsproxyctl - ask a running xsproxy to insert, remove, list, trace,
 * capture, quiesce, save and restore domains.  Each command is an XS_CONTROL message on xsproxy's socket, so
 * `xenstore-control insert 5` does the same with XENSTORED_PATH pointing
 * at xsproxy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "capture.h"
#include "xsproxyctl_transfer.h"

static const char usage_text[] =
    "usage: xsproxyctl [--socket PATH] COMMAND [ARGS...]\n"
    "  insert DOMID           put xsproxy in front of DOMID (running or not)\n"
    "  remove DOMID [release] hand DOMID back to xenstored (with release: release\n"
    "                         it at xenstored too, for a domain going away)\n"
    "  list [DOMID]           inserted domains, or DOMID's shadow state\n"
    "  share DOMID|dom0 [WEIGHT]  its share of xenstored when domains compete\n"
    "                         (weight 1-10000, 100 by default: equal shares)\n"
    "  trace DOMID|sockets on|off [FILE]\n"
    "  capture start FILE [dom=LIST|all|none] [conn=LIST|all|none] [type=LIST|all]\n"
    "                [size=SIZE] [files=N]       a pcap capture (one at a time)\n"
    "  capture stop | status | filter [dom=...] [conn=...] [type=...]\n"
    "  quiesce DOMID | resume DOMID\n"
    "  get-domain-watches DOMID [INDEX] | add-domain-watches DOMID PATH TOKEN...\n"
    "  save DOMID FILE [--force]  (quiesced) its state as a migration stream\n"
    "  restore DOMID FILE [--from-domid S]\n"
    "  send DOMID [--resume] [--to HOST:PORT --token T | --ssh CMD]\n"
    "                         quiesce DOMID and send it to another host's xsproxy\n"
    "                         (standard input and output, a command, or TCP)\n"
    "  receive DOMID [--from-domid S] [--resume] [--listen ADDR:PORT [--token T]]\n"
    "                         take a domain sent from another host; serve it once\n"
    "                         the source has let go of it\n"
    "  send|receive DOMID --abort [--force]   give a transfer up\n"
    "  migrate-status DOMID   where a transfer stands\n"
    "The socket is PATH, or $XSPROXY_SOCKET, or /run/xsproxy/socket.\n";

int main(int argc, char **argv)
{
    const char *sock = getenv("XSPROXY_SOCKET");
    int i = 1;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--socket") == 0) {
        sock = argv[2];
        i = 3;
    }
    if (i >= argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (strcmp(argv[i], "send") == 0 || strcmp(argv[i], "receive") == 0 ||
        strcmp(argv[i], "migrate-status") == 0)
        return xsproxyctl_transfer(sock ? sock : "/run/xsproxy/socket", argc - i, argv + i);
    setenv("XENSTORED_PATH", sock ? sock : "/run/xsproxy/socket", 1);
    struct xs_handle *xs = xs_open(0);
    if (!xs) {
        fprintf(stderr, "xsproxyctl: cannot connect to xsproxy at %s: %s\n",
                getenv("XENSTORED_PATH"), strerror(errno));
        return 1;
    }
    /* FILE arguments are xsproxy's to open: make them absolute */
    char absbuf[2][4096];
    int file_arg = 0;
    if (strcmp(argv[i], "save") == 0 || strcmp(argv[i], "restore") == 0 ||
        (strcmp(argv[i], "capture") == 0 && i + 1 < argc && strcmp(argv[i + 1], "start") == 0))
        file_arg = i + 2;
    else if (strcmp(argv[i], "trace") == 0)
        file_arg = i + 3;
    if (file_arg && file_arg < argc && argv[file_arg][0] != '/' && realpath(".", absbuf[0])) {
        snprintf(absbuf[1], sizeof(absbuf[1]), "%.3000s/%.1000s", absbuf[0], argv[file_arg]);
        argv[file_arg] = absbuf[1];
    }
    /* a capture filter is checked here too, to say what is wrong with it
     * (xsproxy's answer can only be an error name) */
    if (strcmp(argv[i], "capture") == 0 && i + 1 < argc &&
        (strcmp(argv[i + 1], "start") == 0 || strcmp(argv[i + 1], "filter") == 0)) {
        bool start = argv[i + 1][0] == 's';
        char spec[4096] = "", err[256];
        for (int a = i + 2 + start; a < argc; a++) {
            size_t at = strlen(spec);
            snprintf(spec + at, sizeof(spec) - at, "%s%s", at ? " " : "", argv[a]);
        }
        struct capture_settings s;
        capture_settings_init(&s);
        int bad = capture_settings_parse(&s, spec, start, err, sizeof(err));
        capture_settings_free(&s);
        if (bad < 0 || (start && i + 2 >= argc)) {
            fprintf(stderr, "xsproxyctl: %s\n", bad < 0 ? err : "capture start needs a FILE");
            xs_close(xs);
            return 2;
        }
    }
    if (strcmp(argv[i], "save") == 0 || strcmp(argv[i], "restore") == 0) {
        if (i + 3 < argc && strcmp(argv[i + 3], "--force") == 0)
            argv[i + 3] = "force";   /* save D FILE --force */
        if (i + 4 < argc && strcmp(argv[i + 3], "--from-domid") == 0) {
            argv[i + 3] = argv[i + 4];   /* restore D FILE S */
            argc--;
        }
    }
    /* the arguments after the command, NUL-separated */
    size_t len = 0;
    for (int a = i + 1; a < argc; a++)
        len += strlen(argv[a]) + 1;
    char *data = calloc(1, len + 1);
    size_t off = 0;
    for (int a = i + 1; a < argc; a++) {
        strcpy(data + off, argv[a]);
        off += strlen(argv[a]) + 1;
    }
    char *reply = xs_control_command(xs, argv[i], data, (unsigned)len);
    int rc = 0;
    if (!reply) {
        fprintf(stderr, "xsproxyctl: %s failed: %s\n", argv[i], strerror(errno));
        rc = 1;
    } else {
        fputs(reply, stdout);
        if (!*reply || reply[strlen(reply) - 1] != '\n')
            putchar('\n');
        free(reply);
    }
    free(data);
    xs_close(xs);
    return rc;
}
