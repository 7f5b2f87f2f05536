/*
 * migrate.h - what migrate.c, save.c and restore.c share.  A save or a
 * restore is a job (job.h) with its requests pipelined on a connection of
 * its own, so that every other domain and client is served while it runs.
 */
#ifndef XSPROXY_MIGRATE_H
#define XSPROXY_MIGRATE_H

#include "proxy.h"
#include "job.h"
#include "xsrecords.h"

/* `save D FILE` (D quiesced) and `restore D FILE [S]`
 * start a job (job.h) and set *JOB; its answer comes later.  0, or an
 * errno at once with a message in ERR. */
int migrate_save(struct proxy *px, struct domain *d, const char *file,
                 struct job **job, char *err, size_t errlen);
/* HELD: the domain stays quiesced once restored (d->transfer_held). */
int migrate_restore(struct proxy *px, uint32_t domid, const char *file, uint32_t from_domid,
                    bool held, struct job **job, char *err, size_t errlen);

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
