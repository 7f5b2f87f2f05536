/*
 * job.c - operations that take longer than one pass of the event loop
 * (job.h): their list, their connection to xenstored, their answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

static void job_reply(void *ctx, const struct msg *reply, int err)
{
    struct job *j = ctx;
    j->on_reply(j, reply, err);
}

int job_connect(struct job *j)
{
    xsd_conn_close(j->conn);   /* xenstored ends what it held for it */
    j->conn = xsd_conn_open(j->px->loop, j->px->cfg.backend_path, job_reply, j);
    if (j->conn)
        return 0;
    int e = errno ? errno : EIO;
    snprintf(j->text, sizeof(j->text), "cannot connect to xenstored at %s: %s",
             j->px->cfg.backend_path, strerror(e));
    return e;
}

void job_start(struct proxy *px, struct job *j, const char *what, uint32_t domid)
{
    j->px = px;
    j->what = what;
    j->domid = domid;
    j->next = px->jobs;
    px->jobs = j;
}

struct job *job_find(struct proxy *px, uint32_t domid)
{
    for (struct job *j = px->jobs; j; j = j->next)
        if (j->domid == domid && !j->done)
            return j;
    return NULL;
}

void jobs_wake(struct proxy *px)
{
    /* a job's step may end it and answer its client, which frees any job
     * done meanwhile: look for the next one from the top each time */
    static unsigned round;
    round++;
    for (;;) {
        struct job *j = px->jobs;
        while (j && (!j->on_wake || j->done || j->woken == round))
            j = j->next;
        if (!j)
            return;
        j->woken = round;
        j->on_wake(j);
    }
}

int job_busy(struct proxy *px, uint32_t domid, char *err, size_t errlen)
{
    struct job *j = job_find(px, domid);
    if (!j)
        return 0;
    snprintf(err, errlen, "domain %u: a%s %s of it is under way", domid,
             strchr("aeiou", j->what[0]) ? "n" : "", j->what);
    return EBUSY;
}

static void unlink_job(struct job *j)
{
    for (struct job **p = &j->px->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            return;
        }
}

static void job_free(struct job *j)
{
    unlink_job(j);
    xsd_conn_close(j->conn);
    j->free_own(j);
}

void job_finish(struct job *j, int rc)
{
    j->rc = rc;
    j->done = true;
    xsd_conn_close(j->conn);   /* ends the transaction xenstored may hold */
    j->conn = NULL;
    if (rc)
        xlog(LOG_LVL_WARN, "%s %u: %s", j->what, j->domid, j->text);
    else
        xlog(LOG_LVL_INFO, "%s", j->text);
    if (j->on_done)
        j->on_done(j);
    else if (j->abandoned)
        job_free(j);
    else
        waiters_check(j->px);
}

bool job_answer(struct job *j, const struct xsd_sockmsg *req, struct msg *reply)
{
    if (!j->done)
        return false;
    if (j->rc)
        msg_build_error(reply, req, msg_errno_name(j->rc));
    else if (j->answer_ok)
        msg_build(reply, req->type, req->req_id, req->tx_id, "OK", 3);
    else
        msg_build(reply, req->type, req->req_id, req->tx_id, j->text,
                  (uint32_t)strlen(j->text) + 1);
    job_free(j);
    return true;
}

void job_discard(struct job *j)
{
    job_free(j);
}

void job_abandon(struct job *j)
{
    if (j->done)
        job_free(j);
    else
        j->abandoned = true;
}

void jobs_cancel(struct proxy *px)
{
    while (px->jobs) {
        struct job *j = px->jobs;
        if (!j->done) {
            xlog(LOG_LVL_WARN, "%s %u: cut short, xsproxy is stopping", j->what, j->domid);
            if (j->on_cancel)
                j->on_cancel(j);
        }
        job_free(j);
    }
}
