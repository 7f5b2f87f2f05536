/* sim_test_hooks.h - see sim_test_hooks.c. */
#ifndef XSSIM_TEST_HOOKS_H
#define XSSIM_TEST_HOOKS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xssim;
/* Set PORT's pending flag of DOMID, as the first half of a raise does,
 * without telling its owner.  0, or -1 when there is no such port. */
int sim_test_set_pending(struct xssim *sim, uint32_t domid, uint32_t port);

#ifdef __cplusplus
}
#endif

#endif
