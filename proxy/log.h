/*
 * log.h - xsproxy's log (log.c; the levels: log_level.h).
 */
#ifndef XSPROXY_LOG_H
#define XSPROXY_LOG_H

#include "proxy.h"

void log_init(const struct config *cfg);
void log_reopen(void);
void xlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xlog_v(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
bool xlog_enabled(int level);   /* whether LEVEL is written at all */

#endif
