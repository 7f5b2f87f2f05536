/*
 * xsproxy_type_names.h - the one table of xenstore message type names
 * ("READ" for XS_READ, "QUIESCE" for XSP_QUIESCE), header-only so that
 * every program that names types uses it: xsproxy and xsproxyctl (through
 * proxy/msg.c), the xsrecords command and the simulated Xen's guests.
 * The Wireshark dissector (deploy/wireshark/xenstore.lua) keeps a copy in
 * Lua; XsproxyCaptureDissector.NamesTheTypesAsTheCTable checks it against
 * this one.
 */
#ifndef XSPROXY_TYPE_NAMES_H
#define XSPROXY_TYPE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "xsproxy_wire.h"

/* The name of upstream's TYPE (enum xsd_sockmsg_type, up to the newest
 * types this table knows, whatever the installed xs_wire.h has) or of
 * xsproxy's own; NULL for a type without a name. */
static inline const char *xsp_type_name(uint32_t type)
{
    /* upstream's types in enum order, then xsproxy's from XSP_TYPE_BASE + 1 */
    static const char *const upstream[] = {
        "CONTROL", "DIRECTORY", "READ", "GET_PERMS", "WATCH", "UNWATCH",
        "TRANSACTION_START", "TRANSACTION_END", "INTRODUCE", "RELEASE",
        "GET_DOMAIN_PATH", "WRITE", "MKDIR", "RM", "SET_PERMS", "WATCH_EVENT",
        "ERROR", "IS_DOMAIN_INTRODUCED", "RESUME", "SET_TARGET", "RESTRICT",
        "RESET_WATCHES", "DIRECTORY_PART", "GET_FEATURE", "SET_FEATURE",
        "GET_QUOTA", "SET_QUOTA",
    };
    static const char *const proxy[] = {
        "QUIESCE", "GET_DOMAIN_WATCHES", "ADD_DOMAIN_WATCHES", "RESTORE_TRANSACTIONS",
        "XSP_RESUME", "XSP_INSERT", "XSP_REMOVE",
    };
    if (type < sizeof(upstream) / sizeof(upstream[0]))
        return upstream[type];
    if (type > XSP_TYPE_BASE && type - XSP_TYPE_BASE <= sizeof(proxy) / sizeof(proxy[0]))
        return proxy[type - XSP_TYPE_BASE - 1];
    return NULL;
}

#endif
