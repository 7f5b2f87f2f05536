/*
 * waiters.c - answers xsproxy owes dom0 clients until a domain gets there:
 * QUIESCE is answered once everything of the domain passed to xenstored
 * has been answered, ADD_DOMAIN_WATCHES once xenstored took every watch,
 * a save or a restore once its job is done (migrate.h).
 * The client keeps the request's place in its reply order meanwhile.
 */
#include <stdlib.h>

#include "proxy.h"

void waiter_add(struct proxy *px, struct client *c, void *req, const struct xsd_sockmsg *hdr,
                const struct wait_for *what)
{
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w) {
        if (what->kind == WAIT_JOB)
            job_abandon(what->job);
        return;
    }
    w->c = c;
    w->req = req;
    w->hdr = *hdr;
    w->what = *what;
    w->next = px->waiters;
    px->waiters = w;
    waiters_check(px);
}

/* The reply W is owed now, or NULL while it must still wait. */
static struct msg *ready(struct proxy *px, const struct waiter *w)
{
    if (w->what.kind == WAIT_JOB) {
        struct msg *reply = malloc(sizeof(*reply));
        if (reply && !job_answer(w->what.job, &w->hdr, reply)) {
            free(reply);
            return NULL;
        }
        return reply;
    }
    struct domain *d = domain_find(px, w->what.domid);
    const char *error = NULL;
    if (!d) {
        error = "ENOENT";
    } else if (w->what.kind == WAIT_QUIESCED) {
        if (!domain_is_quiesced(d))
            return NULL;
    } else if (w->what.kind == WAIT_INJECTED) {
        if (shadow_internal_inflight(&d->sh) || bq_pending(&d->rl.inject))
            return NULL;
        if (d->inject_error[0])
            error = d->inject_error;
    }
    struct msg *reply = malloc(sizeof(*reply));
    if (!reply)
        return NULL;
    if (error)
        msg_build_error(reply, &w->hdr, error);
    else
        msg_build(reply, w->hdr.type, w->hdr.req_id, w->hdr.tx_id, "OK", 3);
    return reply;
}

void waiters_check(struct proxy *px)
{
    for (struct waiter **p = &px->waiters; *p;) {
        struct waiter *w = *p;
        struct msg *reply = ready(px, w);
        if (!reply) {
            p = &w->next;
            continue;
        }
        *p = w->next;
        client_complete(w->c, w->req, reply);
        free(w);
    }
}

void waiters_drop_client(struct proxy *px, struct client *c)
{
    for (struct waiter **p = &px->waiters; *p;) {
        struct waiter *w = *p;
        if (w->c == c) {
            *p = w->next;
            if (w->what.kind == WAIT_JOB)
                job_abandon(w->what.job);
            free(w);
        } else {
            p = &w->next;
        }
    }
}
