/*
 * sim_test_hooks.c - reaching into the sim's shared state where a test must
 * make a state no API call makes (C: the state uses C11 atomics).
 */
#include "sim_internal.h"
#include "sim_test_hooks.h"

int sim_test_set_pending(struct xssim *sim, uint32_t domid, uint32_t port)
{
    struct sim_port *p = sim_port(sim, sim_dom(sim, domid), port);
    if (!p)
        return -1;
    atomic_store(&p->pending, 1);
    return 0;
}
