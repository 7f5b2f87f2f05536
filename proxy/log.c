/*
 * log.c - xsproxy's log: stderr, a file (reopened on SIGHUP, for
 * logrotate) or syslog, filtered by level.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "proxy.h"

static const struct config *log_cfg;
static FILE *log_fp;

void log_init(const struct config *cfg)
{
    log_cfg = cfg;
    if (cfg->syslog)
        openlog("xsproxy", LOG_PID, LOG_DAEMON);
    log_reopen();
}

void log_reopen(void)
{
    if (!log_cfg || !log_cfg->log_file)
        return;
    FILE *f = fopen(log_cfg->log_file, "a");
    if (!f)
        return;   /* keep the old one */
    setvbuf(f, NULL, _IOLBF, 0);
    if (log_fp)
        fclose(log_fp);
    log_fp = f;
}

bool xlog_enabled(int level)
{
    return !log_cfg || level <= log_cfg->log_level;
}

void xlog(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    xlog_v(level, fmt, ap);
    va_end(ap);
}

void xlog_v(int level, const char *fmt, va_list ap)
{
    if (!xlog_enabled(level))
        return;
    static const char *const names[] = { "error", "warn", "info", "debug" };
    if (log_cfg && log_cfg->syslog) {
        static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
        vsyslog(prio[level], fmt, ap);
    } else {
        FILE *f = log_fp ? log_fp : stderr;
        time_t t = time(NULL);
        struct tm tm;
        char when[32];
        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(f, "%s xsproxy %s: ", when, names[level]);
        vfprintf(f, fmt, ap);
        fputc('\n', f);
    }
}
