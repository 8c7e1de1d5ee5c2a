/* conn: one client connection: socket, optional TLS, input and output
 * buffers, and the interest it registers with its loop.
 *
 * A connection belongs to one loop (thread) for its whole life. The
 * protocol layer (an IMAP session) attaches a handler and is called back
 * on that loop's thread only:
 *   on_input    bytes were appended to conn_input(); consume what you can
 *               (unconsumed bytes stay for the next call); also called once
 *               when the peer ends its side (conn_eof()): the handler
 *               answers what it has and then closes
 *   on_drained  output that could not be written at once has now all been
 *               written (the moment to resume work paused for back-pressure)
 *   on_tls_done a handshake started with conn_start_tls() finished
 *   on_shutdown the server is stopping: say goodbye, close after flush
 *   on_closed   the connection is going away: release everything attached;
 *               called from the loop's deferred queue, never from inside
 *               another handler callback
 *
 * Memory: buffers are allocated when bytes are waiting and freed when they
 * are drained, and OpenSSL releases its record buffers when idle
 * (SSL_MODE_RELEASE_BUFFERS), so an idle connection costs the struct and,
 * with TLS, OpenSSL's per-connection state. */
#ifndef ROOST_NET_CONN_H
#define ROOST_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "lib/buf.h"
#include "net/loop.h"

struct conn;

struct conn_handler {
	void (*on_input)(void *ctx);
	void (*on_drained)(void *ctx);
	void (*on_tls_done)(void *ctx, bool ok);
	void (*on_shutdown)(void *ctx);
	void (*on_closed)(void *ctx);
};

/* The set of live connections of one loop (for shutdown and listing). */
struct conn_list {
	struct conn *head;
	size_t count;
};

/* Takes ownership of the connected, non-blocking fd. peer is copied. The
 * connection is linked into list and registered for reading; no callback
 * runs until conn_set_handler() (call it before returning to the loop). */
struct conn *conn_new(struct loop *loop, struct conn_list *list, int fd,
		      const struct sockaddr *peer, socklen_t peer_len);
void conn_set_handler(struct conn *c, const struct conn_handler *h, void *ctx);

struct loop *conn_loop(const struct conn *c);
const char *conn_peer_ip(const struct conn *c);
unsigned conn_peer_port(const struct conn *c);
bool conn_peer_is_loopback(const struct conn *c);
bool conn_is_tls(const struct conn *c);
/* "TLSv1.3" and the cipher name once TLS is established, else NULL. */
const char *conn_tls_version(const struct conn *c);
const char *conn_tls_cipher(const struct conn *c);
bool conn_tls_resumed(const struct conn *c);
/* Walks a conn_list: first, then next (NULL at the end). */
struct conn *conn_list_first(const struct conn_list *list);
struct conn *conn_list_next(const struct conn *c);

/* Unread input. The handler consumes with buf_consume(). */
struct buf *conn_input(struct conn *c);
/* Stop or resume reading from the socket (back-pressure, async work).
 * Resuming with TLS bytes already decrypted inside OpenSSL schedules a
 * read so they are not stranded. */
void conn_pause_input(struct conn *c, bool pause);
bool conn_input_paused(const struct conn *c);
/* The peer has finished sending; no more input will come. */
bool conn_eof(const struct conn *c);

/* Queues bytes for the client. Nothing is sent until conn_flush() or the
 * next write event. */
void conn_write(struct conn *c, const void *data, size_t len);
/* Writes as much queued output as the socket takes now; the rest goes out
 * on write events. Returns 0, or -1 when the connection failed (it is
 * then closing). */
int conn_flush(struct conn *c);
size_t conn_output_pending(const struct conn *c);
/* Time the loop spent writing this connection's queued output when the
 * socket became writable, since the last call (the handler charges it to
 * whoever produced the output). */
uint64_t conn_take_write_event_ns(struct conn *c);

/* Discards unread input and begins a server-side TLS handshake once the
 * queued output (e.g. the STARTTLS OK) has been sent in plaintext; input
 * is paused until on_tls_done. ctx is up-ref'd by OpenSSL. timeout_ms
 * bounds the handshake (0: none). Discarding is what makes STARTTLS
 * command injection impossible (RFC 9051 §6.2.1). */
void conn_start_tls(struct conn *c, SSL_CTX *ctx, unsigned timeout_ms);

/* Calls the handler's on_shutdown (server stopping), or closes when the
 * handler has none. */
void conn_shutdown_notify(struct conn *c);

/* Closes now, dropping queued output. reason is for logs (static string). */
void conn_close(struct conn *c, const char *reason);
/* Stops reading, sends queued output (bounded by timeout_ms), then closes. */
void conn_close_after_flush(struct conn *c, const char *reason, unsigned timeout_ms);
bool conn_closing(const struct conn *c);
/* Closes now and resets the connection (SO_LINGER 0): the kernel drops
 * the unsent output too, instead of holding it for a client that does
 * not read. For stalled clients. */
void conn_abort(struct conn *c, const char *reason);
const char *conn_close_reason(const struct conn *c);

#endif
