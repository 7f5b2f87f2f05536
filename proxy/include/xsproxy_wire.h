/*
 * xsproxy_wire.h - the xenstore operations xsproxy adds, as wire message
 * types and as XS_CONTROL commands.  The numbers sit far above upstream's
 * enum xsd_sockmsg_type (which ends below 32; 0xffff is XS_INVALID), so no
 * future upstream type can collide with them.
 */
#ifndef XSPROXY_WIRE_H
#define XSPROXY_WIRE_H

#include <stdint.h>   /* xs_wire.h uses uint32_t without it */
#include <xen/io/xs_wire.h>

#define XSP_TYPE_BASE 0x58500000u /* 'X' 'P' */

enum xsp_msg_type {
    XSP_QUIESCE = XSP_TYPE_BASE + 1,          /* <domid>| */
    XSP_GET_DOMAIN_WATCHES,                   /* <domid>|<index>| */
    XSP_ADD_DOMAIN_WATCHES,                   /* <domid>|<path>|<token>|... */
    XSP_RESTORE_TRANSACTIONS,                 /* <domid>|<txid>|... */
    XSP_RESUME,                               /* <domid>| */
    XSP_INSERT,                               /* <domid>| */
    XSP_REMOVE,                               /* <domid>| */
    XSP_TYPE_END
};

static inline int xsp_is_proxy_type(uint32_t type)
{
    return type > XSP_TYPE_BASE && type < XSP_TYPE_END;
}

/* XS_CONTROL commands xsproxy answers itself; any other goes on to
 * xenstored.  `xenstore-control insert 5` is the same as XSP_INSERT. */
#define XSP_CONTROL_COMMANDS \
    "insert <domid>        put xsproxy in front of a domain (reads its store/ nodes),\n" \
    "                      also one xenstored serves already (live insertion)\n" \
    "remove <domid> [release]\n" \
    "                      hand the domain back to xenstored (release: release it)\n" \
    "list [<domid>]        inserted domains, or one domain's shadow state\n" \
    "share <domid>|dom0 [<weight>]\n" \
    "                      its share of xenstored under contention (weight 1-10000,\n" \
    "                      100 by default: equal shares)\n" \
    "trace <domid>|sockets on|off [<file>]\n" \
    "                      one line per message of that domain (or of dom0 sockets)\n" \
    "capture start <file> [dom=..] [conn=..] [type=..] [size=..] [files=..]\n" \
    "capture stop|status|filter [dom=..] [conn=..] [type=..]\n" \
    "                      every message (as filtered) to a pcap file, rotated\n" \
    "quiesce <domid>       finish what was passed on, then take nothing more from\n" \
    "                      the domain's ring (answered once quiesced)\n" \
    "resume <domid>        serve the domain's ring again\n" \
    "get-domain-watches <domid> [<index>]\n" \
    "                      the domain's watches: gencnt, then path and token\n" \
    "add-domain-watches <domid> <path> <token> ...\n" \
    "                      register watches as the domain\n" \
    "save <domid> <file> [force]\n" \
    "                      a quiesced domain's state as a migration stream\n" \
    "restore <domid> <file> [<from-domid>]\n" \
    "                      insert a domain from a stream, then serve its ring\n" \
    "transfer send|receive <domid> [<from-domid>] [resume]\n" \
    "                      this connection becomes a host-to-host transfer's link\n" \
    "transfer status|abort <domid> [force]\n" \
    "                      where a transfer stands; give it up\n"

#endif
