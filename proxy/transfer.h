/*
 * transfer.h - a domain's xenstore state sent to another host's xsproxy
 * over a link the toolstack provides (xsproxyctl send / receive carry it
 * over an ssh pipe or TCP), with a handshake that runs the guest on exactly
 * one host whatever breaks:
 *
 *   source                                   destination
 *   quiesce D, save its stream
 *   journal "sending"           HELLO -->
 *                               <-- STATE    journal "receiving"
 *   stream bytes                DATA  -->    kept
 *                               <-- ACK
 *                                            restore D held (quiesced)
 *                               <-- HELD     journal "held"
 *   journal "committed",
 *   D removed for good          COMMIT -->   journal "serving",
 *                               <-- DONE     D's ring served
 *
 * Before the source journals "committed", an abort on either side leaves D
 * on the source; after it, D is the destination's.  A link that breaks
 * pauses both sides where they stand; a new link (send --resume, receive
 * --resume) starts with HELLO / STATE again and goes on from the last
 * acknowledged byte or the outcome already journalled.  Both sides'
 * journals (RUN-DIR/transfer/D.send, D.recv) survive a crash of xsproxy.
 *
 * transfer.c keeps the list and the commands, transfer_source.c and
 * transfer_dest.c the two sides, transfer_link.c the link,
 * transfer_journal.c the journals (transfer_int.h between them).
 */
#ifndef XSPROXY_TRANSFER_H
#define XSPROXY_TRANSFER_H

#include "proxy.h"

/* `transfer send D [resume]`, `transfer receive D [S] [resume]`,
 * `transfer status D`, `transfer abort D [force]` (ARGS after "transfer").
 * send and receive set WAIT to WAIT_LINK: once "OK" reaches the client,
 * client.c hands its connection over (transfer_attach). */
void transfer_command(struct proxy *px, const char *const *args, unsigned n,
                      const struct msg *req, struct msg *reply, struct wait_for *wait);
/* T's link is FD from now on (REST: bytes read after the command). */
void transfer_attach(struct transfer *t, int fd, const uint8_t *rest, size_t len);
/* At start-up, before domains are recovered: was DOMID sent away for good
 * (its journal is then removed, nothing of it relayed)? */
bool transfer_sent_away(const struct proxy *px, uint32_t domid);
/* At start-up, as D is recovered: quiesce it if a transfer holds it (being
 * sent, or received and not yet committed); release it if the transfer to
 * it was committed. */
void transfer_hold_at_recovery(const struct proxy *px, struct domain *d);
/* At start-up, once domains are recovered: the journalled transfers, paused. */
void transfer_recover_all(struct proxy *px);
/* A line per transfer for `list`, into BUF; its length. */
size_t transfer_describe_all(const struct proxy *px, char *buf, size_t len);
/* xsproxy stops: close the links, free everything (the journals stay). */
void transfer_free_all(struct proxy *px);

#endif
