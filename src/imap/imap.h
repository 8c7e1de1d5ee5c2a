/* imap: the server-wide IMAP context shared by every session.
 *
 * Built once by `roost serve` (cli/cmd_serve.c) and passed to the network
 * layer as its protocol. Holds the configuration, the TLS context, the
 * password database, the worker pools (password hashing; blocking store
 * writes, see store_job.h) and the settings that SIGHUP may change. Reloadable settings are atomics so loop threads read them
 * without locks; the passdb is refcounted and swapped under a mutex. */
#ifndef ROOST_IMAP_IMAP_H
#define ROOST_IMAP_IMAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "auth/credcache.h"
#include "auth/passdb.h"
#include "config/config.h"
#include "limits/limits.h"
#include "net/server.h"
#include "net/tls.h"
#include "net/workpool.h"
#include "store/store.h"

/* Settings a SIGHUP may change, read by sessions at the moment of use. */
struct imap_settings {
	atomic_size_t max_line;
	atomic_size_t max_literal;
	atomic_size_t max_literal_preauth;
	atomic_size_t max_connections;
	atomic_size_t output_buffer_limit;
	atomic_uint preauth_timeout_s;
	atomic_uint idle_timeout_s;
	atomic_uint idle_keepalive_s;
	atomic_uint tls_handshake_timeout_s;
	atomic_uint output_stall_timeout_s;
	atomic_int plaintext_auth; /* enum plaintext_auth */
	atomic_size_t mail_quota;  /* default per-user limits, 0 = none */
	atomic_uint mail_quota_messages;
};

struct imap_ctx {
	const struct config *cfg; /* as loaded at start (listeners, threads) */
	char *config_path;        /* re-read on SIGHUP; NULL: defaults */
	char **overrides;         /* -o values, re-applied on reload */
	size_t n_overrides;
	struct imap_settings settings;
	struct tls_ctx *tls;
	struct workpool *auth_pool;
	struct workpool *store_pool; /* APPEND, COPY, MOVE, STORE, EXPUNGE (fsync) */
	/* Full-text indexing and index queries: CPU-heavy, at nice 10, one
	 * thread per core, so that indexing a mailbox never competes with
	 * the network threads (or any user's budget) for CPU. */
	struct workpool *index_pool;
	struct store *store;      /* the mail store backend */
	struct limits *limits;    /* connection limits, rates, auth penalties (reloadable) */

	pthread_mutex_t passdb_lock;
	struct passdb *passdb; /* guarded by passdb_lock; NULL if it failed to load */

	char *dummy_hash; /* verified for unknown users: same work, same answer */
	struct credcache *credcache; /* passwords verified recently (auth_cache_ttl) */

	atomic_size_t sessions;  /* live sessions, all threads */
	/* Set once shutdown begins: background work (full-text indexing)
	 * stops queueing more of itself, so the pools can run down. */
	atomic_bool stopping;
	atomic_uint_fast64_t next_sid;
	uint64_t sid_key;        /* random per process: session ids are not guessable */
};

/* The network protocol entry points (on_accept, on_reload). */
extern const struct net_protocol imap_protocol;

/* Creates the context: TLS, passdb, auth and store pools. Returns NULL with a
 * malloc'd message in *error_r. cfg must outlive the context. */
struct imap_ctx *imap_ctx_new(const struct config *cfg, const char *config_path,
			      char **overrides, size_t n_overrides, char **error_r);
void imap_ctx_free(struct imap_ctx **ctx);
/* Stops the auth, store and index pools (waits for running and queued jobs);
 * call after net_server_quiesce() has run the loops and the pools down. */
void imap_ctx_stop_workers(struct imap_ctx *ctx);
/* The current passdb with a reference (passdb_unref when done), or NULL. */
struct passdb *imap_ctx_passdb(struct imap_ctx *ctx);
/* Re-reads the config file, TLS files and passdb (SIGHUP). */
void imap_ctx_reload(struct imap_ctx *ctx);
/* A new unique, unguessable session id. */
uint64_t imap_ctx_new_sid(struct imap_ctx *ctx);

#endif
