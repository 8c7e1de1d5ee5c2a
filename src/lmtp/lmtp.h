/* lmtp: local mail delivery over LMTP (RFC 2033), the server-wide part.
 *
 * An MTA (Postfix's lmtp client, say) connects on the unix socket
 * (lmtp_socket) or a loopback TCP listener (lmtp_listen) and hands over
 * messages; each is written into the recipients' mailboxes through the
 * same store path as IMAP APPEND (store_append_begin/add/commit, on the
 * store worker pool), and a recipient's 250 goes out only after its
 * commit returned STORE_OK, so an acknowledged message is on disk.
 *
 * The context is built by `roost serve` beside the IMAP one and shares its
 * store, store pool, limits registry and session count (the global
 * connection limit covers both protocols); the current passdb is asked of
 * the IMAP side through passdb_get, so one SIGHUP reloads it for both.
 * Settings a SIGHUP may change are atomics; lmtp_detail_separator and the
 * listeners need a restart. */
#ifndef ROOST_LMTP_LMTP_H
#define ROOST_LMTP_LMTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/passdb.h"
#include "config/config.h"
#include "limits/limits.h"
#include "net/server.h"
#include "net/workpool.h"
#include "store/store.h"

struct lmtp_settings {
	atomic_size_t max_message_size;
	atomic_uint max_recipients;
	atomic_uint timeout_s;
	atomic_bool detail_to_folder;
	atomic_size_t max_connections; /* the server total (IMAP + LMTP) */
	atomic_size_t output_buffer_limit;
};

struct lmtp_params {
	const struct config *cfg; /* as loaded at start; must outlive the context */
	const char *config_path;  /* re-read on SIGHUP; NULL: defaults */
	char *const *overrides;   /* -o values, re-applied on reload */
	size_t n_overrides;
	struct store *store;
	struct workpool *store_pool;
	struct limits *limits;
	atomic_size_t *sessions; /* live sessions of the whole server */
	/* The current passdb with a reference (passdb_unref when done), or
	 * NULL when none is loaded. Any loop thread. */
	struct passdb *(*passdb_get)(void *ctx);
	void *passdb_ctx;
};

struct lmtp_ctx {
	struct lmtp_params p;
	struct lmtp_settings settings;
	char *server_name;
	char *detail_separator;
	atomic_uint_fast64_t next_sid;
	uint64_t sid_key;
};

/* The network protocol entry points (on_accept, on_reload). */
extern const struct net_protocol lmtp_protocol;

/* Creates the context; the params' objects must outlive it. */
struct lmtp_ctx *lmtp_ctx_new(const struct lmtp_params *params);
void lmtp_ctx_free(struct lmtp_ctx **ctx);
/* Re-reads the reloadable settings from the config file (SIGHUP). */
void lmtp_ctx_reload(struct lmtp_ctx *ctx);
/* A new unique session id (for logs and the Received: header). */
uint64_t lmtp_ctx_new_sid(struct lmtp_ctx *ctx);

/* The socket path lmtp_socket names: "" when disabled, a relative path
 * inside state_dir, an absolute one as is. Returns a malloc'd string. */
char *lmtp_socket_path(const struct config *cfg);

#endif
