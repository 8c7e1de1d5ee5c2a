/* conn: client connection over TCP or TLS (see conn.h).
 *
 * The two transports sit behind a small vtable (read/write returning
 * bytes, 0 for end of stream, CONN_AGAIN or CONN_FAILED), the way Redis
 * puts TCP and TLS behind one connection type. With TLS, OpenSSL may need
 * the socket to be readable in order to write (and the reverse); the
 * transport records that in tls_wants and the interest set follows it.
 *
 * Reads take a fair share per event (CONN_READ_BUDGET) so one busy client
 * cannot starve the others on its loop; epoll is level-triggered, so the
 * rest is reported again. */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "metrics/metrics.h"

#define CONN_AGAIN (-2)
#define CONN_FAILED (-1)
#define CONN_READ_CHUNK 16384
#define CONN_READ_BUDGET 65536
#define CONN_WRITE_BUDGET (256 * 1024)

enum conn_tls_state { TLS_NONE, TLS_WAIT_FLUSH, TLS_HANDSHAKE, TLS_ON };

struct conn_transport {
	ssize_t (*read)(struct conn *c, void *data, size_t len);
	ssize_t (*write)(struct conn *c, const void *data, size_t len);
};

struct conn {
	struct loop *loop;
	struct conn_list *list;
	struct conn *prev, *next;
	int fd;
	struct loop_fd lfd; /* lfd.fd is -1 once unregistered */
	const struct conn_transport *transport;
	const struct conn_handler *handler;
	void *handler_ctx;

	struct buf in;
	struct buf out;
	struct timer timer; /* TLS handshake or close-after-flush deadline */

	SSL *ssl;
	SSL_CTX *pending_ctx; /* for TLS_WAIT_FLUSH */
	enum conn_tls_state tls_state;
	unsigned tls_timeout_ms;
	unsigned tls_wants; /* LOOP_READ/LOOP_WRITE OpenSSL asked for */
	uint64_t tls_start_ns; /* handshake start (metrics) */

	bool input_paused;
	bool eof;           /* the peer finished sending (it may still read) */
	bool write_blocked; /* output is waiting for a write event */
	uint64_t write_event_ns; /* time spent writing on write events, not yet taken */
	bool closing;
	bool close_after_flush;
	bool read_scheduled;
	const char *close_reason;

	char peer_ip[INET6_ADDRSTRLEN];
	unsigned peer_port;
	bool peer_loopback;
};

static void conn_update_interest(struct conn *c);
static void conn_on_event(void *ctx, unsigned events);

/* --- transports --- */

static ssize_t tcp_read(struct conn *c, void *data, size_t len)
{
	ssize_t n = read(c->fd, data, len);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return CONN_AGAIN;
	return CONN_FAILED;
}

static ssize_t tcp_write(struct conn *c, const void *data, size_t len)
{
	ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return CONN_AGAIN;
	return CONN_FAILED;
}

/* Maps an OpenSSL result to the transport convention and records what
 * OpenSSL waits for. */
static ssize_t tls_result(struct conn *c, int r)
{
	int err = SSL_get_error(c->ssl, r);
	switch (err) {
	case SSL_ERROR_NONE:
		return r;
	case SSL_ERROR_WANT_READ:
		c->tls_wants |= LOOP_READ;
		return CONN_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->tls_wants |= LOOP_WRITE;
		return CONN_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		/* No OpenSSL error queued: the peer closed without close_notify,
		 * which clients do all the time; report it as end of stream. */
		if (ERR_peek_error() == 0 && (r == 0 || errno == 0 || errno == ECONNRESET))
			return 0;
		ERR_clear_error();
		return CONN_FAILED;
	default:
		ERR_clear_error();
		return CONN_FAILED;
	}
}

static ssize_t tls_read(struct conn *c, void *data, size_t len)
{
	c->tls_wants &= ~(unsigned)LOOP_READ;
	int r = SSL_read(c->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	return r > 0 ? r : tls_result(c, r);
}

static ssize_t tls_write(struct conn *c, const void *data, size_t len)
{
	c->tls_wants &= ~(unsigned)LOOP_WRITE;
	int r = SSL_write(c->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	return r > 0 ? r : tls_result(c, r);
}

static const struct conn_transport transport_tcp = {tcp_read, tcp_write};
static const struct conn_transport transport_tls = {tls_read, tls_write};

/* --- life cycle --- */

static void conn_peer_fill(struct conn *c, const struct sockaddr *peer)
{
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;
		inet_ntop(AF_INET, &sin->sin_addr, c->peer_ip, sizeof(c->peer_ip));
		c->peer_port = ntohs(sin->sin_port);
		c->peer_loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
		c->peer_port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			struct in_addr v4;
			memcpy(&v4, &sin6->sin6_addr.s6_addr[12], 4);
			inet_ntop(AF_INET, &v4, c->peer_ip, sizeof(c->peer_ip));
			c->peer_loopback = sin6->sin6_addr.s6_addr[12] == 127;
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, c->peer_ip, sizeof(c->peer_ip));
			c->peer_loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		}
	} else {
		strcpy(c->peer_ip, "local");
		c->peer_loopback = true;
	}
}

struct conn *conn_new(struct loop *loop, struct conn_list *list, int fd,
		      const struct sockaddr *peer, socklen_t peer_len)
{
	(void)peer_len;
	struct conn *c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->list = list;
	c->fd = fd;
	c->lfd.fd = -1;
	c->transport = &transport_tcp;
	timer_init(&c->timer);
	conn_peer_fill(c, peer);
	/* Output is gathered in our own buffer and written once per reply
	 * batch, so Nagle's algorithm only adds delay: a reply written in two
	 * parts (a job's result after its untagged lines) would wait for the
	 * client's delayed ACK of the first. */
	if (peer->sa_family == AF_INET || peer->sa_family == AF_INET6) {
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->next = list->head;
	if (list->head != NULL)
		list->head->prev = c;
	list->head = c;
	list->count++;
	if (loop_fd_add(loop, &c->lfd, fd, LOOP_READ, conn_on_event, c) < 0) {
		log_warn("event=epoll_add fd=%d error=\"%s\"", fd, strerror(errno));
		c->lfd.fd = -1;
		conn_close(c, "register failed");
	}
	return c;
}

void conn_set_handler(struct conn *c, const struct conn_handler *h, void *ctx)
{
	c->handler = h;
	c->handler_ctx = ctx;
}

static void conn_free_deferred(void *ctx)
{
	struct conn *c = ctx;
	if (c->handler != NULL && c->handler->on_closed != NULL)
		c->handler->on_closed(c->handler_ctx);
	timer_stop(c->loop, &c->timer);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->pending_ctx != NULL)
		SSL_CTX_free(c->pending_ctx);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->list->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->list->count--;
	buf_release(&c->in);
	buf_release(&c->out);
	free(c);
}

void conn_close(struct conn *c, const char *reason)
{
	if (c->closing && !c->close_after_flush)
		return;
	bool was_closing = c->closing;
	c->closing = true;
	c->close_after_flush = false;
	if (!was_closing || c->close_reason == NULL)
		c->close_reason = reason;
	timer_stop(c->loop, &c->timer);
	if (c->ssl != NULL && c->tls_state == TLS_ON && strcmp(reason, "eof") != 0) {
		/* Best effort close_notify; never wait for the peer's. */
		SSL_set_quiet_shutdown(c->ssl, 0);
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	if (c->lfd.fd >= 0)
		loop_fd_del(c->loop, &c->lfd); /* the fd is closed in conn_free_deferred */
	loop_defer(c->loop, conn_free_deferred, c);
}

void conn_abort(struct conn *c, const char *reason)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	conn_close(c, reason);
}

static void conn_flush_deadline(void *ctx)
{
	struct conn *c = ctx;
	conn_close(c, c->close_reason != NULL ? c->close_reason : "flush timeout");
}

void conn_close_after_flush(struct conn *c, const char *reason, unsigned timeout_ms)
{
	if (c->closing)
		return;
	c->close_reason = reason;
	if (c->out.len - c->out.rpos == 0 && c->tls_state != TLS_WAIT_FLUSH) {
		conn_close(c, reason);
		return;
	}
	c->closing = true;
	c->close_after_flush = true;
	c->input_paused = true;
	if (timeout_ms > 0)
		timer_start(c->loop, &c->timer, timeout_ms, conn_flush_deadline, c);
	conn_update_interest(c);
	(void)conn_flush(c);
}

void conn_shutdown_notify(struct conn *c)
{
	if (c->closing)
		return;
	if (c->handler != NULL && c->handler->on_shutdown != NULL)
		c->handler->on_shutdown(c->handler_ctx);
	else
		conn_close(c, "shutdown");
}

/* --- accessors --- */

struct loop *conn_loop(const struct conn *c) { return c->loop; }
const char *conn_peer_ip(const struct conn *c) { return c->peer_ip; }
unsigned conn_peer_port(const struct conn *c) { return c->peer_port; }
bool conn_peer_is_loopback(const struct conn *c) { return c->peer_loopback; }
bool conn_is_tls(const struct conn *c) { return c->tls_state == TLS_ON; }
struct buf *conn_input(struct conn *c) { return &c->in; }
bool conn_input_paused(const struct conn *c) { return c->input_paused; }
bool conn_eof(const struct conn *c) { return c->eof; }
size_t conn_output_pending(const struct conn *c) { return c->out.len - c->out.rpos; }

uint64_t conn_take_write_event_ns(struct conn *c)
{
	uint64_t ns = c->write_event_ns;
	c->write_event_ns = 0;
	return ns;
}
bool conn_closing(const struct conn *c) { return c->closing; }
const char *conn_close_reason(const struct conn *c) { return c->close_reason; }
struct conn *conn_list_first(const struct conn_list *list) { return list->head; }
struct conn *conn_list_next(const struct conn *c) { return c->next; }

const char *conn_tls_version(const struct conn *c)
{
	return c->tls_state == TLS_ON ? SSL_get_version(c->ssl) : NULL;
}

const char *conn_tls_cipher(const struct conn *c)
{
	return c->tls_state == TLS_ON ? SSL_get_cipher_name(c->ssl) : NULL;
}

bool conn_tls_resumed(const struct conn *c)
{
	return c->tls_state == TLS_ON && SSL_session_reused(c->ssl);
}

/* --- interest --- */

static void conn_update_interest(struct conn *c)
{
	if (c->lfd.fd < 0 || (c->closing && !c->close_after_flush))
		return;
	unsigned ev = 0;
	if (c->tls_state == TLS_HANDSHAKE) {
		ev = c->tls_wants ? c->tls_wants : LOOP_READ;
	} else {
		if (!c->input_paused && !c->eof && c->tls_state != TLS_WAIT_FLUSH)
			ev |= LOOP_READ;
		if (c->write_blocked)
			ev |= LOOP_WRITE;
		ev |= c->tls_wants;
	}
	loop_fd_set(c->loop, &c->lfd, ev);
}

static void conn_read_scheduled(void *ctx);

void conn_pause_input(struct conn *c, bool pause)
{
	if (c->closing || c->input_paused == pause)
		return;
	c->input_paused = pause;
	conn_update_interest(c);
	/* Decrypted bytes inside OpenSSL do not make the socket readable. */
	if (!pause && c->ssl != NULL && c->tls_state == TLS_ON && SSL_pending(c->ssl) > 0 &&
	    !c->read_scheduled) {
		c->read_scheduled = true;
		loop_defer(c->loop, conn_read_scheduled, c);
	}
}

/* --- output --- */

void conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->closing && !c->close_after_flush)
		return;
	buf_append(&c->out, data, len);
}

static void conn_begin_handshake(struct conn *c);

int conn_flush(struct conn *c)
{
	if (c->closing && !c->close_after_flush)
		return -1;
	size_t budget = CONN_WRITE_BUDGET;
	while (buf_rlen(&c->out) > 0 && budget > 0) {
		size_t len = buf_rlen(&c->out);
		if (len > budget)
			len = budget;
		ssize_t n = c->transport->write(c, buf_rdata(&c->out), len);
		if (n == CONN_AGAIN)
			break;
		if (n <= 0) {
			conn_close(c, "write error");
			return -1;
		}
		buf_consume(&c->out, (size_t)n);
		budget -= (size_t)n;
		metrics_bytes_out((uint64_t)n);
	}
	bool pending = buf_rlen(&c->out) > 0;
	if (!pending) {
		buf_release(&c->out);
		if (c->close_after_flush) {
			conn_close(c, c->close_reason);
			return 0;
		}
		if (c->tls_state == TLS_WAIT_FLUSH)
			conn_begin_handshake(c);
	}
	if (pending != c->write_blocked) {
		c->write_blocked = pending;
		conn_update_interest(c);
	}
	return 0;
}

/* --- input --- */

/* Reads up to the budget into c->in. Returns 1 when bytes arrived, 0 when
 * none, -1 when the connection ended (closed here). */
static int conn_read_some(struct conn *c)
{
	size_t total = 0;
	while (total < CONN_READ_BUDGET) {
		buf_reserve(&c->in, CONN_READ_CHUNK);
		ssize_t n = c->transport->read(c, buf_wptr(&c->in), buf_wlen(&c->in));
		if (n == CONN_AGAIN)
			break;
		if (n == 0) {
			/* Half-close: commands sent before it still get answers
			 * (`printf 'a LOGOUT' | nc -N` style clients). The handler
			 * closes once it has dealt with them. */
			c->eof = true;
			conn_update_interest(c);
			return 1;
		}
		if (n < 0) {
			if (buf_rlen(&c->in) == 0)
				buf_release(&c->in);
			conn_close(c, "read error");
			return -1;
		}
		c->in.len += (size_t)n;
		total += (size_t)n;
		metrics_bytes_in((uint64_t)n);
	}
	if (total >= CONN_READ_BUDGET && c->ssl != NULL && SSL_pending(c->ssl) > 0 &&
	    !c->read_scheduled) {
		c->read_scheduled = true;
		loop_defer(c->loop, conn_read_scheduled, c);
	}
	return total > 0 ? 1 : 0;
}

static void conn_deliver_input(struct conn *c)
{
	if (c->handler == NULL) {
		if (c->eof)
			conn_close(c, "eof");
		return;
	}
	if (buf_rlen(&c->in) > 0 || c->eof)
		c->handler->on_input(c->handler_ctx);
	if (buf_rlen(&c->in) == 0)
		buf_release(&c->in);
}

static void conn_do_read(struct conn *c)
{
	if (conn_read_some(c) > 0)
		conn_deliver_input(c);
}

static void conn_read_scheduled(void *ctx)
{
	struct conn *c = ctx;
	c->read_scheduled = false;
	if (c->closing || c->input_paused || c->tls_state != TLS_ON)
		return;
	conn_do_read(c);
}

/* --- TLS --- */

static void conn_tls_deadline(void *ctx)
{
	struct conn *c = ctx;
	/* Nothing is written: mid-handshake, a BYE would be neither TLS nor
	 * readable; the log line is the only trace. */
	log_info("event=timeout kind=tls_handshake ip=%s port=%u", c->peer_ip, c->peer_port);
	metrics_timeout(METRICS_TIMEOUT_TLS_HANDSHAKE);
	metrics_tls_handshake(false, 0);
	conn_close(c, "tls handshake timeout");
}

static void conn_tls_finish(struct conn *c, bool ok)
{
	timer_stop(c->loop, &c->timer);
	metrics_tls_handshake(ok, metrics_now_ns() - c->tls_start_ns);
	if (ok) {
		c->tls_state = TLS_ON;
		c->transport = &transport_tls;
		c->input_paused = false;
	}
	conn_update_interest(c);
	if (c->handler != NULL && c->handler->on_tls_done != NULL)
		c->handler->on_tls_done(c->handler_ctx, ok);
	if (!ok)
		conn_close(c, "tls handshake failed");
}

static void conn_handshake_step(struct conn *c)
{
	c->tls_wants = 0;
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->tls_wants = 0;
		conn_tls_finish(c, true);
		return;
	}
	if (tls_result(c, r) == CONN_AGAIN) {
		conn_update_interest(c);
		return;
	}
	conn_tls_finish(c, false);
}

static void conn_begin_handshake(struct conn *c)
{
	c->ssl = SSL_new(c->pending_ctx);
	SSL_CTX_free(c->pending_ctx);
	c->pending_ctx = NULL;
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		ERR_clear_error();
		conn_close(c, "tls setup failed");
		return;
	}
	SSL_set_accept_state(c->ssl);
	c->tls_state = TLS_HANDSHAKE;
	c->tls_start_ns = metrics_now_ns();
	if (c->tls_timeout_ms > 0)
		timer_start(c->loop, &c->timer, c->tls_timeout_ms, conn_tls_deadline, c);
	conn_handshake_step(c);
}

void conn_start_tls(struct conn *c, SSL_CTX *ctx, unsigned timeout_ms)
{
	if (c->closing || c->tls_state != TLS_NONE)
		return;
	/* RFC 9051 §6.2.1: nothing the client pipelined after STARTTLS may be
	 * taken as a command: drop it before the handshake. */
	buf_release(&c->in);
	SSL_CTX_up_ref(ctx);
	c->pending_ctx = ctx;
	c->tls_timeout_ms = timeout_ms;
	c->tls_state = TLS_WAIT_FLUSH;
	conn_update_interest(c);
	if (buf_rlen(&c->out) == 0)
		conn_begin_handshake(c);
	else
		(void)conn_flush(c);
}

/* --- events --- */

static void conn_on_event(void *ctx, unsigned events)
{
	struct conn *c = ctx;
	if (c->closing && !c->close_after_flush)
		return;
	if (c->tls_state == TLS_HANDSHAKE) {
		conn_handshake_step(c);
		return;
	}
	bool was_blocked = c->write_blocked;
	if ((events & LOOP_WRITE) || (c->tls_wants & LOOP_READ && events & LOOP_READ)) {
		uint64_t start = metrics_now_ns();
		int r = conn_flush(c);
		c->write_event_ns += metrics_now_ns() - start;
		if (r < 0)
			return;
	}
	if (c->closing)
		return;
	if (was_blocked && !c->write_blocked && c->handler != NULL &&
	    c->handler->on_drained != NULL)
		c->handler->on_drained(c->handler_ctx);
	if (c->closing)
		return;
	if ((events & LOOP_READ) && !c->input_paused && !c->eof && c->tls_state != TLS_WAIT_FLUSH)
		conn_do_read(c);
	else if ((events & LOOP_ERROR) && !(events & LOOP_WRITE))
		conn_close(c, "socket error");
}
