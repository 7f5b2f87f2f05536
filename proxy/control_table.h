/*
 * control_table.h - what the XS_CONTROL commands xsproxy answers say about
 * themselves (name, usage, description), taken from XSP_CONTROL_TABLE in
 * xsproxy_wire.h, and the help text made of it.  xsproxy's `help` and
 * xsproxyctl's usage print the same text from it.
 */
#ifndef CONTROL_TABLE_H
#define CONTROL_TABLE_H

#include <stddef.h>

#include "xsproxy_wire.h"

struct control_doc {
    const char *name;
    const char *usage;   /* one line per form, without the name */
    const char *desc;    /* its lines */
};

/* every command of XSP_CONTROL_TABLE, in its order */
extern const struct control_doc control_docs[];
extern const size_t control_ndocs;

/* The help text of DOCS[0..N) into BUF (LEN bytes, NUL-terminated when LEN
 * is not 0): each form on a line of its own, the description in a column
 * beside the last form, or under it when that form is too long.  Returns
 * the text's length, also when it did not fit (as snprintf). */
size_t control_docs_format(const struct control_doc *docs, size_t n, char *buf, size_t len);

#endif
