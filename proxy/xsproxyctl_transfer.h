/*
 * xsproxyctl_transfer.h - xsproxyctl's send, receive and migrate-status
 * (xsproxyctl_transfer.c).
 */
#ifndef XSPROXYCTL_TRANSFER_H
#define XSPROXYCTL_TRANSFER_H

#include <stdio.h>

/* ARGV[0] is the command; SOCK xsproxy's socket.  The exit code. */
int xsproxyctl_transfer(const char *sock, int argc, char **argv);
/* Those commands' usage, for xsproxyctl's. */
void xsproxyctl_transfer_usage(FILE *out);

#endif
