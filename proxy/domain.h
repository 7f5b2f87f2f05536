/*
 * domain.h - a domain xsproxy stands in front of: inserting, relaying (the
 * pure pass: relay_step.h), journalling, letting go (domain.c).
 */
#ifndef XSPROXY_DOMAIN_H
#define XSPROXY_DOMAIN_H

#include "proxy.h"

/* Commit D's state to its journal, then let the rings see the indexes that
 * go with it.  Runs after every pump; also after changes elsewhere. */
void domain_publish(struct domain *d);
/* Send the notifications the relays noted while PX->batching was set
 * (and settle the cost of the replies they saw: share.h). */
void domain_notify_flush(struct proxy *px);
/* xsproxy stops: let go of D's memory and handles, keep its files, so that
 * the next xsproxy carries on (the guest waits meanwhile). */
void domain_detach(struct proxy *px, struct domain *d);
/* Unbind D's ports, unmap its pages, close its journal; with REMOVE_FILES
 * also remove the journal, claim and shadow file (D is no longer
 * xsproxy's).  What is not there yet is skipped: also for half-made D. */
void domain_let_go(struct proxy *px, struct domain *d, bool remove_files);
/* RUN-DIR/journal/dom<DOMID>.watches: the watch list's own journal. */
void watch_journal_path(const struct proxy *px, uint32_t domid, char *buf, size_t len);
/* Up to this many watches stay in a domain's journal; past it the list gets
 * a journal of its own, committed only when it changes. */
#define JOURNAL_WATCHES_INLINE 8u
struct domain *domain_find(struct proxy *px, uint32_t domid);
/* Put xsproxy in front of DOMID: map its ring, bind its channel, make the
 * shadow ring and channel, publish the claim.  0 or -1 with a message. */
int domain_insert(struct proxy *px, uint32_t domid, uint64_t gfn, uint32_t port,
                  bool quiesced, char *err, size_t errlen);
void domain_remove(struct proxy *px, struct domain *d);
/* The pieces of an insertion, for live.c: a domain with its guest page
 * mapped and its shadow made (LIVE: the guest's channel not bound yet),
 * not yet linked; the claim; linking; undoing a prepared one. */
struct domain *domain_prepare_live(struct proxy *px, uint32_t domid, uint64_t gfn,
                                   uint32_t port, char *err, size_t errlen);
int domain_write_claim(const struct domain *d, enum claim_live live);
void domain_link(struct proxy *px, struct domain *d);
void domain_discard(struct proxy *px, struct domain *d);
int domain_set_port(struct proxy *px, evtchn_port_t port, struct domain *d);
/* Commit D's state to its journal now, touching no ring.  0 or -1. */
int domain_journal_now(struct domain *d);
/* A live switch handed D's streams over wherever they stood (the shim's
 * answer A, claim.h): D's pages are mapped and nothing is relayed yet.  The
 * requests xenstored has not answered become D's requests in flight, the
 * request the guest is writing and the reply xenstored is writing are
 * finished by the relay, and the guest's ring learns that what is on the
 * shadow ring was taken.  0, or -1 (out of memory, A not for these rings)
 * with a message. */
int domain_adopt_switch(struct domain *d, const struct switch_answer *a, char *err,
                        size_t errlen);

/* Queue a request xsproxy makes as D for its shadow ring.  0 or -1. */
int domain_inject(struct domain *d, const struct msg *m);
/* Move whatever can move, in both directions: after a change to D made
 * outside the relay (its state is committed to the journal even if no
 * ring moves), and, as domain_poll, to look at the rings now and then. */
void domain_pump(struct domain *d);
void domain_poll(struct domain *d);
void domain_on_port(struct proxy *px, evtchn_port_t port);
/* Is PORT a guest's port left masked for now (a notification storm)? */
bool domain_port_held(const struct proxy *px, evtchn_port_t port);
void domain_check_dead(struct proxy *px);
/* QUIESCE has taken effect: nothing passed on is unanswered. */
bool domain_is_quiesced(const struct domain *d);
/* Register watches as D (ADD_DOMAIN_WATCHES): PARTS are path, token, ... */
int domain_add_watches(struct domain *d, const char *const *parts, unsigned n);
/* xenstored went away: answer what waits on it with EIO. */
void domain_backend_lost(struct domain *d);
/* A new xenstored: introduce D again and register its watches as D. */
int domain_reintroduce(struct domain *d);
size_t domain_describe(const struct domain *d, bool detail, char *buf, size_t len);

/* a message the guest can cause, within the domain's log limit */
void domain_log(struct domain *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
