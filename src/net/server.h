/* server: the network threads, their listeners and the process's signal
 * handling.
 *
 * net_server_new() binds every listener (so a port clash fails at start,
 * before privileges are dropped), net_server_run() starts one thread per
 * loop and then waits for signals on the calling thread:
 *   SIGHUP          params.on_reload(ctx) on the main thread, then each extra
 *                   protocol's on_reload
 *   SIGTERM/SIGINT  graceful shutdown: listeners close, every connection's
 *                   handler gets on_shutdown (the session says BYE and
 *                   closes after flushing), the loops stop once their
 *                   connections are gone or after shutdown_grace_ms.
 * SIGPIPE is ignored process-wide (writes report EPIPE instead). */
#ifndef ROOST_NET_SERVER_H
#define ROOST_NET_SERVER_H

#include <stdbool.h>

#include "net/conn.h"
#include "net/workpool.h"

struct net_protocol {
	/* A new connection on its loop's thread: attach a handler with
	 * conn_set_handler() before returning. implicit_tls: it came in on
	 * an imaps listener (the handler starts TLS itself). */
	void (*on_accept)(void *ctx, struct conn *c, bool implicit_tls);
	/* SIGHUP, on the main thread. */
	void (*on_reload)(void *ctx);
};

/* Another protocol served by the same threads (LMTP): its own listeners
 * and its own struct net_protocol; connections on them never reach the
 * main protocol. on_accept's implicit_tls is always false for these. */
struct net_extra_listener {
	const char *name;        /* for logs: "lmtp" */
	const char *listen;      /* TCP "addr:port" list as for imap_listen; NULL/empty: none */
	const char *unix_path;   /* unix-domain socket file; NULL/empty: none */
	unsigned unix_mode;      /* permission bits of that file (0660) */
	const struct net_protocol *proto;
	void *proto_ctx;
};

struct net_server_params {
	const char *imap_listen;  /* plaintext + STARTTLS; may be empty */
	const char *imaps_listen; /* implicit TLS; may be empty */
	const struct net_extra_listener *extra; /* n_extra of them; copied by net_server_new */
	size_t n_extra;
	unsigned threads;         /* 0: one per online core */
	unsigned shutdown_grace_ms;
	const struct net_protocol *proto;
	void *proto_ctx;
};

struct net_server;

/* Parses and binds the listeners (unix socket files of extra listeners are
 * removed again by net_server_free). Returns NULL with a malloc'd message in
 * *error_r. */
struct net_server *net_server_new(const struct net_server_params *params, char **error_r);
/* Blocks SIGTERM/SIGINT/SIGHUP in every thread, runs the loops and
 * handles signals until shutdown has completed. Returns 0. */
int net_server_run(struct net_server *srv);
unsigned net_server_threads(const struct net_server *srv);
/* The loops, for work that must run on each (e.g. listing sessions). */
struct loop *net_server_loop(const struct net_server *srv, unsigned i);
struct conn_list *net_server_conns(const struct net_server *srv, unsigned i);
/* After net_server_run, while the worker pools still run: closes every
 * connection and alternates between running the loops' queues and waiting
 * for the pools (workpool_wait_idle) until neither has work left. Every
 * completion then has run and every session is freed, and what a freed
 * session hands to a pool (its user's release) has run too; the pools can
 * be stopped after it. NULL pools are skipped. */
void net_server_quiesce(struct net_server *srv, struct workpool *const *pools, size_t n_pools);
/* Runs after the loops have stopped: drains their queues (completions of
 * pool jobs) so nothing is left half-done, then frees everything. */
void net_server_free(struct net_server **srv);

#endif
