/*
 * persist.h - a domain's state as journal bytes, and back (persist.c).
 */
#ifndef XSPROXY_PERSIST_H
#define XSPROXY_PERSIST_H

#include "proxy.h"

/* D's state as bytes (into a growable buffer, replacing its
 * content), and back into a zeroed domain whose shadow is initialised.
 * 0, or -1 (out of memory; or a damaged journal, the reason in ERR).  The
 * watch list is in it unless D has a journal of its own for the list
 * (*WATCHES_APART on the way back). */
int persist_encode(const struct domain *d, uint8_t **buf, size_t *len, size_t *cap);
int persist_decode(struct domain *d, const uint8_t *buf, size_t len, bool *watches_apart,
                   char *err, size_t errlen);
/* The watch list, journalled apart (it changes seldom, and may be large);
 * decoded after persist_decode. */
int persist_encode_watches(const struct domain *d, uint8_t **buf, size_t *len, size_t *cap);
int persist_decode_watches(struct domain *d, const uint8_t *buf, size_t len, char *err,
                           size_t errlen);

#endif
