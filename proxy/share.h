/*
 * share.h - fair share of xenstored (fair.h) applied to xsproxy's domains
 * and dom0 socket clients: the relay asks before it takes a request,
 * reports what it sent and what was answered; whoever was held back is
 * served again when its turn comes.
 */
#ifndef XSPROXY_SHARE_H
#define XSPROXY_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct proxy;
struct domain;
struct client;
struct fair_account;

uint64_t share_now(void);
void share_init(struct proxy *px);
void share_stop(struct proxy *px);

/* D has a request on its ring to start taking (QUEUED: and more behind
 * it): may it?  If not, it stays there and D is served again once its turn
 * comes. */
bool share_may_take(struct domain *d, bool queued);
/* D has nothing to take, or takes nothing now (quiesced). */
void share_idle(struct domain *d);
/* D's request M went to its shadow ring / D's oldest one was answered. */
void share_sent(struct domain *d, const struct msg *m);
void share_answered(struct domain *d);
/* D's requests at xenstored will not be answered (xenstored went, the
 * ring was reset); D goes. */
void share_reset(struct domain *d);
void share_domain_gone(struct domain *d);

/* xenstored was restarted (or went): its CPU time is read afresh. */
void share_backend_changed(struct proxy *px);
/* The replies seen so far are all in: charge them, then serve whoever was
 * held back and may go now. */
void share_settle(struct proxy *px);

/* `share DOMID|dom0 [WEIGHT]`: 0 or an errno, the account's line in TEXT. */
int share_command(struct proxy *px, const char *who, const char *weight, char *text,
                  size_t len);
/* " weight W share S% cost Nms held Nms" for A, appended by `list`. */
size_t share_describe(struct proxy *px, const struct fair_account *a, char *buf, size_t len);

#endif
