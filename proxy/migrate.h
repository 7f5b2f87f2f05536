/*
 * migrate.h - what migrate.c (the shared pieces and the jobs), save.c and
 * restore.c share.  A save or a restore is a job: a state machine driven
 * by the replies on a connection of its own to xenstored (xsd_conn.h),
 * its requests pipelined, so that every other domain and client is served
 * while it runs.  The dom0 client that asked waits for the job's answer
 * (waiters.c, WAIT_JOB).
 */
#ifndef XSPROXY_MIGRATE_H
#define XSPROXY_MIGRATE_H

#include "proxy.h"
#include "xsd_conn.h"
#include "xsrecords.h"

#define MIGRATE_WINDOW 256   /* requests a job keeps in flight */

struct migrate_job {
    struct migrate_job *next;
    struct proxy *px;
    const char *what;           /* "save", "restore" */
    uint32_t domid;
    struct xsd_conn *conn;
    bool done;                  /* rc and text hold the answer */
    bool abandoned;             /* nobody waits for it: freed when done */
    int rc;                     /* 0, or an errno */
    char text[1024];            /* the reply, or why it failed */
    /* the job's own: a reply (NULL: the connection failed with ERR) */
    void (*on_reply)(struct migrate_job *j, const struct msg *reply, int err);
    void (*free_own)(struct migrate_job *j);
};

/* Link J (zeroed but for its own fields) into PX's jobs. */
void migrate_job_start(struct proxy *px, struct migrate_job *j, const char *what,
                       uint32_t domid);
/* A new connection for J, closing the one it had (xenstored then ends the
 * transaction it held for it).  0, or an errno with why in J->text. */
int migrate_job_connect(struct migrate_job *j);
/* Unlink and free J, answering nobody (it failed before it started). */
void migrate_job_discard(struct migrate_job *j);
/* A save or a restore of DOMID under way, or NULL. */
struct migrate_job *migrate_job_find(struct proxy *px, uint32_t domid);
/* J has its answer (RC; the text is in J->text): log it, tell the waiter. */
void migrate_job_finish(struct migrate_job *j, int rc);

/* Shared by save.c and restore.c. */
char migrate_perm_char(unsigned xs_perm);
unsigned migrate_perm_bits(char c);
/* "/local/domain/FROM[/...]" as "/local/domain/TO[/...]"; other paths as
 * they are.  malloc'd, or NULL. */
char *migrate_map_path(const char *path, uint32_t from, uint32_t to);
bool migrate_map_op(const struct xsrec_tx_op *in, uint32_t from, uint32_t to,
                    struct tx_op *out, char req[XENSTORE_PAYLOAD_MAX],
                    char rsp[XENSTORE_PAYLOAD_MAX]);
int migrate_write_file(const char *path, const uint8_t *buf, size_t len, char *err,
                       size_t errlen);
int migrate_read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen);

#endif
