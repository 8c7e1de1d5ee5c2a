/* admin: the local control socket behind `roost who` and `roost kick`.
 *
 * A unix stream socket at <state_dir>/control.sock (mode 0600), served by
 * one small thread. Every peer is checked with SO_PEERCRED: only the
 * server's own uid and root may use it. One request per connection, one
 * line, fields separated by tabs (user names may hold spaces):
 *   WHO                 one line per session: sid, user, ip, state,
 *                       mailbox, since (ISO 8601 UTC), bytes in, bytes out;
 *                       then "OK <count>"
 *   KICK<TAB>user[<TAB>ip]  ends the user's sessions (from ip only, when
 *                       given) with "* BYE [UNAVAILABLE] Disconnected by
 *                       administrator"; answers "OK <count>"
 * Errors answer "ERR <text>".
 *
 * Sessions live on several loop threads, so the thread never touches one:
 * a registry (mutex) lists every live session, and a request is posted to
 * each loop that has sessions, which reads or ends its own sessions on its
 * own thread and reports back. A session is in the registry from
 * session_accept() until its connection's on_closed, both on its loop, so
 * a loop walking the registry for its own sessions never sees one freed. */
#ifndef ROOST_IMAP_ADMIN_H
#define ROOST_IMAP_ADMIN_H

#include <stdbool.h>
#include <sys/types.h>

#include "imap/imap.h"

struct session;
struct admin_server;

/* Loop thread of s. */
void admin_register(struct session *s);
void admin_unregister(struct session *s);

/* Binds path (replacing a stale socket) and starts the thread. Returns
 * NULL with a malloc'd message in *error_r. */
struct admin_server *admin_start(struct imap_ctx *ctx, const char *path, char **error_r);
/* Stops the thread and removes the socket; call while the loops still
 * exist. */
void admin_stop(struct admin_server **a);

/* Whether a peer with this uid may use the socket of a server running as
 * self: the same uid, or root. */
bool admin_peer_allowed(uid_t peer, uid_t self);

#endif
