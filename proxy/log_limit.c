/*
 * log_limit.c - a burst of log messages per window for one source; see
 * log_limit.h.
 */
#include "log_limit.h"

bool log_limit_take(struct log_limit *l, int64_t now_ms, uint32_t *suppressed)
{
    /* a clock that went back starts a window too */
    if (now_ms - l->window_start_ms >= LOG_LIMIT_WINDOW_MS || now_ms < l->window_start_ms) {
        l->window_start_ms = now_ms;
        l->used = 0;
    }
    if (l->used >= LOG_LIMIT_BURST) {
        if (l->suppressed < UINT32_MAX)
            l->suppressed++;
        return false;
    }
    l->used++;
    *suppressed = l->suppressed;
    l->suppressed = 0;
    return true;
}
