/*
 * log_level.h - the levels of xsproxy's log (log.c), apart from proxy.h so
 * that the pure relay step (relay_step.h) can say how bad what it reports is.
 */
#ifndef XSPROXY_LOG_LEVEL_H
#define XSPROXY_LOG_LEVEL_H

enum { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

#endif
