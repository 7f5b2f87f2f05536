/*
 * trace.h - the text trace and the pcap capture of messages (trace.c).
 */
#ifndef XSPROXY_TRACE_H
#define XSPROXY_TRACE_H

#include "proxy.h"

/* A message to the pcap capture (stopped, and logged, when its file
 * cannot be written), and to the text trace. */
void proxy_capture(struct proxy *px, enum capture_source source, uint32_t id,
                   enum capture_dir dir, uint8_t flags, const struct msg *m, uint32_t guest_tx,
                   uint32_t backend_tx);
void trace_msg(FILE *f, const char *who, const char *dir, const struct msg *m,
               uint32_t guest_tx, uint32_t backend_tx);

#endif
