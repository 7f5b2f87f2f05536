/*
 * xsproxyctl - ask a running xsproxy to insert, remove, list, trace,
 * capture, quiesce, save and restore domains.  Each command is an
 * XS_CONTROL message on xsproxy's socket, so `xenstore-control insert 5`
 * does the same with XENSTORED_PATH pointing at xsproxy.  The commands and
 * their usage are xsproxy's table (control_table.h); send, receive and
 * migrate-status are xsproxyctl_transfer.c's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "capture.h"
#include "control_table.h"
#include "xsproxyctl_transfer.h"

/* The commands as xsproxy's `help` has them (control_table.h), but for
 * `transfer`, the link xsproxyctl's own send and receive carry. */
static void usage(FILE *out)
{
    fputs("usage: xsproxyctl [--socket PATH] COMMAND [ARGS...]\n"
          "COMMAND is one of xsproxy's:\n",
          out);
    for (size_t i = 0; i < control_ndocs; i++) {
        char text[1024];
        if (strcmp(control_docs[i].name, "transfer") == 0)
            continue;
        control_docs_format(&control_docs[i], 1, text, sizeof(text));
        fputs(text, out);
    }
    fputs("(save also takes --force, restore --from-domid <from-domid>)\n"
          "or one of xsproxyctl's, to move a domain to another host:\n",
          out);
    xsproxyctl_transfer_usage(out);
    fputs("The socket is PATH, or $XSPROXY_SOCKET, or /run/xsproxy/socket.\n", out);
}

/* FILE arguments are xsproxy's to open: make ARGV's absolute (ARGV[0] is
 * the command). */
static void absolute_file(int argc, char **argv)
{
    static char abs[4096];
    char cwd[4096];
    int file_arg = 0;
    if (strcmp(argv[0], "save") == 0 || strcmp(argv[0], "restore") == 0 ||
        (strcmp(argv[0], "capture") == 0 && argc > 1 && strcmp(argv[1], "start") == 0))
        file_arg = 2;
    else if (strcmp(argv[0], "trace") == 0)
        file_arg = 3;
    if (file_arg && file_arg < argc && argv[file_arg][0] != '/' && realpath(".", cwd)) {
        snprintf(abs, sizeof(abs), "%.3000s/%.1000s", cwd, argv[file_arg]);
        argv[file_arg] = abs;
    }
}

/* A capture filter is checked here too, to say what is wrong with it
 * (xsproxy's answer can only be an error name).  False when it is wrong. */
static bool capture_words_ok(int argc, char **argv)
{
    if (strcmp(argv[0], "capture") || argc < 2 ||
        (strcmp(argv[1], "start") && strcmp(argv[1], "filter")))
        return true;
    bool start = argv[1][0] == 's';
    char spec[4096] = "", err[256];
    for (int a = 2 + start; a < argc; a++) {
        size_t at = strlen(spec);
        snprintf(spec + at, sizeof(spec) - at, "%s%s", at ? " " : "", argv[a]);
    }
    struct capture_settings s;
    capture_settings_init(&s);
    int bad = capture_settings_parse(&s, spec, start, err, sizeof(err));
    capture_settings_free(&s);
    if (bad < 0 || (start && argc < 3)) {
        fprintf(stderr, "xsproxyctl: %s\n", bad < 0 ? err : "capture start needs a FILE");
        return false;
    }
    return true;
}

/* save D FILE --force and restore D FILE --from-domid S, as xsproxy has
 * them (save D FILE force, restore D FILE S). */
static void xsproxy_spelling(int *argc, char **argv)
{
    if (strcmp(argv[0], "save") && strcmp(argv[0], "restore"))
        return;
    if (*argc > 3 && strcmp(argv[3], "--force") == 0)
        argv[3] = "force";
    if (*argc > 4 && strcmp(argv[3], "--from-domid") == 0) {
        argv[3] = argv[4];
        (*argc)--;
    }
}

/* ARGV (the command, then its arguments) as one XS_CONTROL message, and
 * its answer printed.  The exit code. */
static int control(struct xs_handle *xs, int argc, char **argv)
{
    /* the arguments after the command, NUL-separated */
    size_t len = 0;
    for (int a = 1; a < argc; a++)
        len += strlen(argv[a]) + 1;
    char *data = calloc(1, len + 1);
    size_t off = 0;
    for (int a = 1; a < argc; a++) {
        strcpy(data + off, argv[a]);
        off += strlen(argv[a]) + 1;
    }
    char *reply = xs_control_command(xs, argv[0], data, (unsigned)len);
    int rc = 0;
    if (!reply) {
        fprintf(stderr, "xsproxyctl: %s failed: %s\n", argv[0], strerror(errno));
        rc = 1;
    } else {
        fputs(reply, stdout);
        if (!*reply || reply[strlen(reply) - 1] != '\n')
            putchar('\n');
        free(reply);
    }
    free(data);
    return rc;
}

int main(int argc, char **argv)
{
    const char *sock = getenv("XSPROXY_SOCKET");
    int i = 1;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--socket") == 0) {
        sock = argv[2];
        i = 3;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    argc -= i;   /* from here ARGV[0] is the command */
    argv += i;
    if (strcmp(argv[0], "send") == 0 || strcmp(argv[0], "receive") == 0 ||
        strcmp(argv[0], "migrate-status") == 0)
        return xsproxyctl_transfer(sock ? sock : "/run/xsproxy/socket", argc, argv);
    setenv("XENSTORED_PATH", sock ? sock : "/run/xsproxy/socket", 1);
    struct xs_handle *xs = xs_open(0);
    if (!xs) {
        fprintf(stderr, "xsproxyctl: cannot connect to xsproxy at %s: %s\n",
                getenv("XENSTORED_PATH"), strerror(errno));
        return 1;
    }
    absolute_file(argc, argv);
    int rc = 2;
    if (capture_words_ok(argc, argv)) {
        xsproxy_spelling(&argc, argv);
        rc = control(xs, argc, argv);
    }
    xs_close(xs);
    return rc;
}
