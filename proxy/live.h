/*
 * live.h - live insertion and hand-back of a domain xenstored serves directly
 * (live.c).
 */
#ifndef XSPROXY_LIVE_H
#define XSPROXY_LIVE_H

#include "proxy.h"

/* Put xsproxy in front of a domain xenstored serves directly, and
 * hand it back: each starts a job (job.h) and sets *JOB, whose answer
 * comes later.  0, or an errno at once with a message in ERR. */
int live_insert(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port,
                struct job **job, char *err, size_t errlen);
int live_remove(struct proxy *px, struct domain *d, struct job **job, char *err,
                size_t errlen);
/* A journal says a live insertion of D was under way when xsproxy died:
 * ask the shim how it ended.  1: D was switched to its shadow ring (the
 * shim's answer in A, its xenstored port set): re-attach it, then
 * live_finish_recovered; 0: it was not, and now will not be (its claim
 * removed): D stays with xenstored; -1 with a message. */
int live_recover_switch(struct proxy *px, struct domain *d, struct switch_answer *a,
                        char *err, size_t errlen);
/* Finish that insertion as live_insert does after the switch (D's pages
 * mapped again, nothing relayed since).  0, or -1 with a message. */
int live_finish_recovered(struct proxy *px, struct domain *d, const struct switch_answer *a,
                          char *err, size_t errlen);
/* Did the shim hand DOMID back to xenstored (its last answer)? */
bool live_handed_back(struct proxy *px, uint32_t domid);
/* Tests: XSPROXY_CRASH_AT=NAME makes xsproxy kill itself at point NAME. */
void crash_point(const char *name);

#endif
