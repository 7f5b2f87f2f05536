/*
 * backend.h - xsproxy's connection to xenstored (backend.c).
 */
#ifndef XSPROXY_BACKEND_H
#define XSPROXY_BACKEND_H

#include "proxy.h"

int backend_start(struct proxy *px);
void backend_stop(struct proxy *px);

#endif
