/*
 * control_table.c - the XS_CONTROL commands' names, usage and
 * descriptions (XSP_CONTROL_TABLE), and their help text.  Shared by xsproxy
 * (`help`) and xsproxyctl (its usage), so that both say what xsproxy does.
 */
#include "control_table.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const struct control_doc control_docs[] = {
#define XSP_DOC(id, name, min, max, usage, desc) { name, usage, desc },
    XSP_CONTROL_TABLE(XSP_DOC)
#undef XSP_DOC
};
const size_t control_ndocs = sizeof(control_docs) / sizeof(control_docs[0]);

/* where descriptions start: a short form and its description share a line */
#define DESC_COLUMN 22

/* A text built as snprintf would: AT counts what did not fit too. */
struct text {
    char *buf;
    size_t len, at;
};

static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->at < t->len ? t->buf + t->at : NULL, t->at < t->len ? t->len - t->at : 0,
                      fmt, ap);
    va_end(ap);
    if (n > 0)
        t->at += (size_t)n;
}

/* The lines of S, one after the other: the next one's length, or -1 after
 * the last. */
static int next_line(const char **s, const char **line)
{
    if (!*s)
        return -1;
    *line = *s;
    size_t l = strcspn(*s, "\n");
    *s = (*s)[l] ? *s + l + 1 : NULL;
    return (int)l;
}

static void format_one(struct text *t, const struct control_doc *d)
{
    const char *s = d->usage, *line;
    int l;
    size_t width = 0;   /* of the last form */
    for (bool first = true; (l = next_line(&s, &line)) >= 0; first = false) {
        put(t, "%s%s%s%.*s", first ? "" : "\n", d->name, l ? " " : "", l, line);
        width = strlen(d->name) + (l ? 1 + (size_t)l : 0);
    }
    if (width < DESC_COLUMN)
        put(t, "%*s", (int)(DESC_COLUMN - width), "");
    else
        put(t, "\n%*s", DESC_COLUMN, "");
    s = d->desc;
    for (bool first = true; (l = next_line(&s, &line)) >= 0; first = false) {
        if (!first)
            put(t, "\n%*s", DESC_COLUMN, "");
        put(t, "%.*s", l, line);
    }
    put(t, "\n");
}

size_t control_docs_format(const struct control_doc *docs, size_t n, char *buf, size_t len)
{
    struct text t = { buf, len, 0 };
    if (len)
        buf[0] = '\0';   /* N may be 0 */
    for (size_t i = 0; i < n; i++)
        format_one(&t, &docs[i]);
    return t.at;
}
