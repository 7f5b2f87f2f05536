/*
 * journal.h - a crash-consistent blob in a file of the run directory: after
 * any kill, the file holds the last whole commit (see journal.c).
 */
#ifndef XSPROXY_JOURNAL_H
#define XSPROXY_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct journal;

/* A new, empty journal at PATH (replacing any).  NULL with a message. */
struct journal *journal_create(const char *path, char *err, size_t errlen);
/* An existing journal and its last commit (*DATA stays valid until the next
 * commit or close).  NULL with a message when PATH is not a journal or
 * holds no commit (errno ENODATA: a journal made and never written). */
struct journal *journal_open(const char *path, const uint8_t **data, size_t *len, char *err,
                             size_t errlen);
/* Make DATA the journal's content, all or nothing.  0 or -1 + errno. */
int journal_commit(struct journal *j, const void *data, size_t len);
/* Let go of the file (it stays: the next xsproxy finds it). */
void journal_close(struct journal *j);
/* Let go of it and remove it (the domain is no longer xsproxy's). */
void journal_delete(struct journal *j);

#endif
