/*
 * ports.h - the event-channel ports xenstored holds, and the ones bound in
 * their place.  A live switch moves a domain's channel between the guest
 * and xsproxy's shadow by unbinding it and binding again, and Xen need not
 * give the new binding the number xenstored holds: the shim then keeps
 * xenstored's number (virtual) in front of Xen's (actual), both ways.  A
 * port Xen gives later that is some virtual number already gets a number
 * of its own above every port Xen gives, so that no two of xenstored's
 * ports ever look alike.  Identity is not stored.  Pure: no I/O.
 */
#ifndef XSSHIM_PORTS_H
#define XSSHIM_PORTS_H

#include <stdint.h>

#define PORT_VIRT_BASE 0x40000u   /* above every port Xen gives (FIFO: 2^17) */

struct port_pair {
    uint32_t virt, actual;
};

struct port_map {
    struct port_pair *v;
    unsigned len, cap;
    uint32_t next_virt;
};

/* The port bound under xenstored's VIRT (VIRT itself unless moved). */
uint32_t port_to_actual(const struct port_map *m, uint32_t virt);
/* The number xenstored holds for Xen's ACTUAL (ACTUAL itself unless moved). */
uint32_t port_to_virt(const struct port_map *m, uint32_t actual);
/* Xen gave ACTUAL to a new binding: the number xenstored gets for it.
 * 0 when out of memory. */
uint32_t port_bound(struct port_map *m, uint32_t actual);
/* xenstored's VIRT stands for ACTUAL from now on (a switch bound it again).
 * 0, or -1 when out of memory. */
int port_rebind(struct port_map *m, uint32_t virt, uint32_t actual);
/* xenstored unbound VIRT. */
void port_forget(struct port_map *m, uint32_t virt);
void port_map_free(struct port_map *m);

#endif
