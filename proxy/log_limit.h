/*
 * log_limit.h - how many log messages one source (a domain) may write: a
 * burst per window, the rest counted and reported with the next one let
 * through.  A guest that breaks or reconnects its ring in a loop must not
 * fill dom0's log.  Pure: the caller gives the time.
 */
#ifndef XSPROXY_LOG_LIMIT_H
#define XSPROXY_LOG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define LOG_LIMIT_BURST 10          /* messages per window */
#define LOG_LIMIT_WINDOW_MS 60000   /* a minute, like journald's default */

struct log_limit {
    int64_t window_start_ms;
    uint32_t used;         /* messages let through in this window */
    uint32_t suppressed;   /* held back since the last one let through */
};

/* May a message be written at NOW_MS?  If so, *SUPPRESSED is how many
 * were held back before it (to be reported), and the count starts again;
 * if not, the message is counted.  A zeroed struct log_limit is ready. */
bool log_limit_take(struct log_limit *l, int64_t now_ms, uint32_t *suppressed);

#endif
