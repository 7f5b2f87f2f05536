/*
 * control.h - the XS_CONTROL commands and wire types xsproxy implements
 * (control.c; the table of them: control_table.h).
 */
#ifndef XSPROXY_CONTROL_H
#define XSPROXY_CONTROL_H

#include "proxy.h"

/* Fills REPLY and returns true when it handled REQ (from dom0); when the
 * answer must wait, sets WAIT instead and the client defers it. */
bool control_handle(struct proxy *px, const struct msg *req, struct msg *reply,
                    struct wait_for *wait);
/* An INTRODUCE or RELEASE from a dom0 client: -1 when xsproxy has no part
 * in it (pass it on), 0 when it must be passed on and its reply tracked
 * (INTRODUCE: the domain is inserted already), -2 for an INTRODUCE of a
 * domain already inserted, or an errno to answer. */
int control_introduce_release(struct proxy *px, const struct msg *req, uint32_t *domid,
                              char *err, size_t errlen);
/* Append xsproxy's commands to xenstored's `help` reply. */
void control_extend_help(struct msg *reply);

#endif
