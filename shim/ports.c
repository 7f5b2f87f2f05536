/*
 * ports.c - xenstored's port numbers in front of Xen's (see ports.h).
 */
#include "ports.h"

#include <stdlib.h>
#include <string.h>

static struct port_pair *by_virt(const struct port_map *m, uint32_t virt)
{
    for (unsigned i = 0; i < m->len; i++)
        if (m->v[i].virt == virt)
            return &m->v[i];
    return NULL;
}

static struct port_pair *by_actual(const struct port_map *m, uint32_t actual)
{
    for (unsigned i = 0; i < m->len; i++)
        if (m->v[i].actual == actual)
            return &m->v[i];
    return NULL;
}

uint32_t port_to_actual(const struct port_map *m, uint32_t virt)
{
    const struct port_pair *p = by_virt(m, virt);
    return p ? p->actual : virt;
}

uint32_t port_to_virt(const struct port_map *m, uint32_t actual)
{
    const struct port_pair *p = by_actual(m, actual);
    return p ? p->virt : actual;
}

static int add(struct port_map *m, uint32_t virt, uint32_t actual)
{
    if (m->len == m->cap) {
        unsigned cap = m->cap ? m->cap * 2 : 8;
        struct port_pair *nv = realloc(m->v, cap * sizeof(*nv));
        if (!nv)
            return -1;
        m->v = nv;
        m->cap = cap;
    }
    m->v[m->len++] = (struct port_pair){ virt, actual };
    return 0;
}

static void drop(struct port_map *m, struct port_pair *p)
{
    *p = m->v[--m->len];
}

uint32_t port_bound(struct port_map *m, uint32_t actual)
{
    if (!by_virt(m, actual))
        return actual;   /* nobody holds that number: identity */
    if (m->next_virt < PORT_VIRT_BASE)
        m->next_virt = PORT_VIRT_BASE;
    while (by_virt(m, m->next_virt))
        m->next_virt++;
    uint32_t virt = m->next_virt++;
    return add(m, virt, actual) == 0 ? virt : 0;
}

int port_rebind(struct port_map *m, uint32_t virt, uint32_t actual)
{
    struct port_pair *p = by_virt(m, virt);
    if (p)
        drop(m, p);
    return virt == actual ? 0 : add(m, virt, actual);
}

void port_forget(struct port_map *m, uint32_t virt)
{
    struct port_pair *p = by_virt(m, virt);
    if (p)
        drop(m, p);
}

void port_map_free(struct port_map *m)
{
    free(m->v);
    memset(m, 0, sizeof(*m));
}
