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
 * xenstored.  `xenstore-control insert 5` is the same as XSP_INSERT.
 *
 * The one list of them: xsproxy dispatches on it, its `help` and
 * xsproxyctl's usage are printed from it.  Each entry is
 *   X(id, name, min, max, usage, description)
 * id the name as a C identifier; min and max how many arguments may follow
 * the name (XSP_ARGS_ANY: no limit, the command checks them); usage one
 * line per form of the command, without the name; description one or a
 * few lines, after the last form. */
#define XSP_ARGS_ANY 0xffffffffu
#define XSP_CONTROL_TABLE(X) \
    X(insert, "insert", 1, 1, "<domid>", \
      "put xsproxy in front of a domain (reads its store/ nodes),\n" \
      "also one xenstored serves already (live insertion)") \
    X(remove, "remove", 1, 2, "<domid> [release]", \
      "hand the domain back to xenstored (release: release it)") \
    X(list, "list", 0, 1, "[<domid>]", "inserted domains, or one domain's shadow state") \
    X(share, "share", 1, 2, "<domid>|dom0 [<weight>]", \
      "its share of xenstored under contention (weight 1-10000,\n" \
      "100 by default: equal shares)") \
    X(trace, "trace", 2, 3, "<domid>|sockets on|off [<file>]", \
      "one line per message of that domain (or of dom0 sockets)") \
    X(capture, "capture", 1, XSP_ARGS_ANY, \
      "start <file> [dom=..] [conn=..] [type=..] [size=..] [files=..]\n" \
      "stop|status|filter [dom=..] [conn=..] [type=..]", \
      "every message (as filtered) to a pcap file, rotated") \
    X(quiesce, "quiesce", 1, 1, "<domid>", \
      "finish what was passed on, then take nothing more from\n" \
      "the domain's ring (answered once quiesced)") \
    X(resume, "resume", 1, 1, "<domid>", "serve the domain's ring again") \
    X(get_domain_watches, "get-domain-watches", 1, 2, "<domid> [<index>]", \
      "the domain's watches: gencnt, then path and token") \
    X(add_domain_watches, "add-domain-watches", 3, XSP_ARGS_ANY, \
      "<domid> <path> <token> ...", "register watches as the domain") \
    X(save, "save", 2, 3, "<domid> <file> [force]", \
      "a quiesced domain's state as a migration stream") \
    X(restore, "restore", 2, 3, "<domid> <file> [<from-domid>]", \
      "insert a domain from a stream, then serve its ring") \
    X(transfer, "transfer", 2, 4, \
      "send|receive <domid> [<from-domid>] [resume]\n" \
      "status|abort <domid> [force]", \
      "send|receive: this connection becomes a transfer's link;\n" \
      "status: where a transfer stands; abort: give it up")

#endif
