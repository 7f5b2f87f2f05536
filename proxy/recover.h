/*
 * recover.h - carrying on after a crash or a stop from the journals (recover.c).
 */
#ifndef XSPROXY_RECOVER_H
#define XSPROXY_RECOVER_H

#include "proxy.h"

/* Re-attach to every domain the run directory's journals name (after a
 * crash or a stop): their rings, shadow rings and channels, and carry on.
 * Returns how many; a journal that cannot be used is logged and left. */
int domain_recover_all(struct proxy *px);

#endif
