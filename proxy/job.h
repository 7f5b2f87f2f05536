/*
 * job.h - an operation that takes longer than one pass of the event loop
 * (a save, a restore, a live insertion or removal): a state machine driven
 * by events - replies on a connection of its own to xenstored
 * (xsd_conn.h), timers - so that every other domain and client is served
 * while it runs.  The dom0 client that asked waits for the job's answer
 * (waiters.c, WAIT_JOB); one that goes leaves the job to finish alone.
 */
#ifndef XSPROXY_JOB_H
#define XSPROXY_JOB_H

#include "proxy.h"
#include "xsd_conn.h"

#define JOB_WINDOW 256   /* requests a job keeps in flight */

struct job {
    struct job *next;
    struct proxy *px;
    const char *what;           /* "save", "restore", "insert", "remove" */
    uint32_t domid;
    struct xsd_conn *conn;
    bool done;                  /* rc and text hold the answer */
    bool abandoned;             /* nobody waits for it: freed when done */
    int rc;                     /* 0, or an errno */
    char text[1024];            /* the reply, or why it failed */
    bool answer_ok;             /* the reply is "OK" (a wire type's), not text */
    unsigned woken;             /* jobs_wake's round that last woke it */
    /* the job's own: a reply (NULL: the connection failed with ERR);
     * xsproxy stops (the job ends unanswered); its memory */
    void (*on_reply)(struct job *j, const struct msg *reply, int err);
    void (*on_wake)(struct job *j);   /* the shim notified its wake-up port */
    void (*on_cancel)(struct job *j);
    void (*free_own)(struct job *j);
    /* set by an owner inside xsproxy (transfer.c) instead of a waiting
     * client: called when the job is done; the owner then discards it */
    void (*on_done)(struct job *j);
    void *owner;
};

/* Link J (zeroed but for its own fields) into PX's jobs. */
void job_start(struct proxy *px, struct job *j, const char *what, uint32_t domid);
/* A new connection for J, closing the one it had (xenstored then ends the
 * transaction it held for it).  0, or an errno with why in J->text. */
int job_connect(struct job *j);
/* Unlink and free J, answering nobody (it failed before it started). */
void job_discard(struct job *j);
/* A job for DOMID under way, or NULL. */
struct job *job_find(struct proxy *px, uint32_t domid);
/* The shim notified its wake-up port: its answers are written. */
void jobs_wake(struct proxy *px);
/* EBUSY with why in ERR when a job for DOMID is under way, else 0. */
int job_busy(struct proxy *px, uint32_t domid, char *err, size_t errlen);
/* J has its answer (RC; the text is in J->text): log it, tell the waiter. */
void job_finish(struct job *j, int rc);

/* a job's answer, once it has one (then the job is freed);
 * false while it runs. */
bool job_answer(struct job *j, const struct xsd_sockmsg *req, struct msg *reply);
/* Nobody waits for J any more (its client went): it is freed when done. */
void job_abandon(struct job *j);
/* xsproxy stops: end every job now, answering nobody. */
void jobs_cancel(struct proxy *px);

#endif
