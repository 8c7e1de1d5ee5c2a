/*
 * load_conn.c — one IMAP client connection of roost-load: non-blocking
 * connect from a rotating source address, optional TLS, a bounded response
 * reader and a bounded output queue, all driven by epoll events.
 *
 * Reader (RFC 9051 §4.3 literals, §7 responses): bytes are consumed from a
 * shared read buffer as they arrive. A physical line goes into the
 * session's line buffer (its first LOAD_LINE_MAX bytes; the rest is
 * dropped) while the last bytes are kept apart to spot a literal marker
 * "{n}" or "{n+}" at its end. A literal is then skipped and counted, never
 * stored, so a FETCH of a 10 MB message costs no memory; the response goes
 * on with the next physical line. A complete response is handed to the
 * workload (tagged, untagged or continuation). Nothing the server sends can
 * grow a buffer.
 *
 * Writer: command text (at most LOAD_OUT_MAX bytes) then, for APPEND, a
 * pointer into a shared read-only message and a CRLF tail. Without
 * LITERAL+ the message waits for the server's "+" (RFC 9051 §7.5).
 *
 * Lifetime: a session's socket is only created from the main loop's timer
 * pass, after an event batch, so a stale event of a closed socket (phase
 * PH_OFF) is recognised and ignored.
 */
#include "load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONN_READ_BUF (256 * 1024)
/* Reads per readable event on a plaintext socket before yielding (fairness;
 * epoll is level-triggered so the rest comes on the next wait). */
#define CONN_READ_BUDGET 16

static char conn_rbuf[CONN_READ_BUF];

static void conn_epoll(struct load_sess *s, int op, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = s};
	if (epoll_ctl(s->run->epfd, op, s->fd, &ev) == 0)
		s->epollout = out;
}

static void conn_want_out(struct load_sess *s, bool out)
{
	if (s->epollout != out)
		conn_epoll(s, EPOLL_CTL_MOD, out);
}

static void conn_reset(struct load_sess *s)
{
	s->ssl = NULL;
	s->epollout = false;
	s->starttls_done = false;
	s->literal_plus = false;
	s->cmd_inflight = false;
	s->idling = false;
	s->line_len = 0;
	s->ltail_len = 0;
	s->literal_left = 0;
	s->cmd_literal_bytes = 0;
	s->out_len = s->out_pos = 0;
	s->body = s->tail = NULL;
	s->body_len = s->body_pos = s->tail_len = s->tail_pos = 0;
	s->hold_for_cont = false;
	s->exists = 0;
}

static bool conn_bind_source(struct load_sess *s)
{
	struct load_run *r = s->run;
	if (r->o.src_first == 0)
		return true;
	int one = 1;
	/* The port is chosen at connect() time, per destination, so 254
	 * addresses give 254 times the ephemeral range (ip(7)). */
	(void)setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	uint32_t span = r->o.src_last - r->o.src_first + 1;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(r->o.src_first + r->src_next % span);
	r->src_next++;
	return bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

void load_conn_start(struct load_sess *s)
{
	struct load_run *r = s->run;
	conn_reset(s);
	s->want_connect = false;
	s->wake_us = 0;
	s->cycle_start_us = r->now_us;
	s->deadline_us = r->now_us + (uint64_t)(r->o.timeout_s * 1e6);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		s->phase = PH_OFF;
		load_count_error(r, ERR_CONNECT);
		s->want_connect = !r->draining && !s->deliverer;
		s->wake_us = r->now_us + 100000;
		return;
	}
	s->phase = PH_CONNECTING;
	int one = 1;
	(void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->o.port)};
	if (inet_pton(AF_INET, r->o.host, &sa.sin_addr) != 1 || !conn_bind_source(s) ||
	    (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)) {
		load_conn_fail(s, ERR_CONNECT, true);
		return;
	}
	conn_epoll(s, EPOLL_CTL_ADD, true);
}

void load_conn_close(struct load_sess *s)
{
	struct load_run *r = s->run;
	if (s->phase == PH_OFF)
		return;
	if (s->idling) {
		r->users[s->user].idle_count--;
		r->idle_now--;
		s->idling = false;
	}
	if (s->ssl) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	/* Closing the descriptor removes it from the epoll set. */
	close(s->fd);
	s->fd = -1;
	s->phase = PH_OFF;
	s->cmd_inflight = false;
	s->deadline_us = 0;
}

/* The session failed: count it, close, and come back after a pause (not
 * while draining; deliverers are restarted by the delivery schedule). */
void load_conn_fail(struct load_sess *s, enum load_err e, bool refused)
{
	struct load_run *r = s->run;
	if (s->phase == PH_OFF)
		return;
	load_count_error(r, e);
	if (refused && !r->draining)
		r->sessions_refused++;
	load_conn_close(s);
	s->want_connect = !r->draining && !s->deliverer;
	s->wake_us = r->now_us + 100000;
}

/* RFC 9051 §4.3: a literal marker "{n}" or "{n+}" (LITERAL+, RFC 7888)
 * ends the line. Returns true with its size. */
static bool conn_literal_marker(const char *t, size_t n, uint64_t *size_r)
{
	if (n >= 2 && t[n - 2] == '\r' && t[n - 1] == '\n')
		n -= 2;
	else if (n >= 1 && t[n - 1] == '\n')
		n -= 1;
	if (n < 3 || t[n - 1] != '}')
		return false;
	size_t i = n - 1;
	if (t[i - 1] == '+')
		i--;
	uint64_t v = 0, mul = 1;
	size_t digits = 0;
	while (i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9' && digits < 19) {
		v += (uint64_t)(t[i - 1] - '0') * mul;
		mul *= 10;
		i--;
		digits++;
	}
	if (digits == 0 || i == 0 || t[i - 1] != '{')
		return false;
	*size_r = v;
	return true;
}

static void conn_line_append(struct load_sess *s, const char *p, size_t k)
{
	size_t room = LOAD_LINE_MAX - 1 - s->line_len;
	size_t c = k < room ? k : room;
	memcpy(s->line + s->line_len, p, c);
	s->line_len += c;
	/* keep the last sizeof(ltail) bytes of the physical line */
	size_t cap = sizeof(s->ltail);
	if (k >= cap) {
		memcpy(s->ltail, p + k - cap, cap);
		s->ltail_len = cap;
	} else {
		size_t keep = s->ltail_len + k > cap ? cap - k : s->ltail_len;
		memmove(s->ltail, s->ltail + s->ltail_len - keep, keep);
		memcpy(s->ltail + keep, p, k);
		s->ltail_len = keep + k;
	}
}

static bool conn_starts(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && strncasecmp(line, prefix, n) == 0;
}

static void conn_greeting(struct load_sess *s, const char *line, size_t len)
{
	if (conn_starts(line, len, "* OK")) {
		s->literal_plus = memmem(line, len, "LITERAL+", 8) != NULL;
		load_record_op(s->run, OP_CONNECT, s->cycle_start_us, false);
		s->phase = PH_READY;
		load_wl_greeting(s);
	} else if (conn_starts(line, len, "* BYE")) {
		load_conn_fail(s, ERR_BYE, true);
	} else {
		load_conn_fail(s, ERR_PROTOCOL, true);
	}
}

/* One complete response (literals elided), CRLF stripped. */
static void conn_dispatch(struct load_sess *s, const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (s->phase == PH_GREETING) {
		conn_greeting(s, line, len);
		return;
	}
	if (len > 0 && line[0] == '*') {
		load_wl_untagged(s, line, len);
		return;
	}
	if (len > 0 && line[0] == '+') {
		load_wl_continuation(s);
		return;
	}
	size_t tl = strlen(s->tag);
	if (s->cmd_inflight && len > tl && memcmp(line, s->tag, tl) == 0 && line[tl] == ' ') {
		load_wl_tagged(s, line + tl + 1, len - tl - 1);
		return;
	}
	load_conn_fail(s, ERR_PROTOCOL, false);
}

/* Consumes n bytes; stops when the session closes or starts TLS. */
static void conn_parse(struct load_sess *s, const char *p, size_t n)
{
	while (n > 0 && (s->phase == PH_GREETING || s->phase == PH_READY)) {
		if (s->literal_left > 0) {
			size_t take = n < s->literal_left ? n : (size_t)s->literal_left;
			s->literal_left -= take;
			s->cmd_literal_bytes += take;
			p += take;
			n -= take;
			continue;
		}
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) + 1 : n;
		conn_line_append(s, p, seg);
		p += seg;
		n -= seg;
		if (!nl)
			return;
		uint64_t lit;
		bool more = conn_literal_marker(s->ltail, s->ltail_len, &lit);
		s->ltail_len = 0;
		if (more) {
			s->literal_left = lit;
			continue;
		}
		s->line[s->line_len] = '\0';
		size_t len = s->line_len;
		s->line_len = 0;
		conn_dispatch(s, s->line, len);
	}
	if (n > 0 && s->phase == PH_HANDSHAKE)
		load_conn_fail(s, ERR_PROTOCOL, false); /* bytes after STARTTLS's OK */
}

static void conn_read(struct load_sess *s)
{
	struct load_run *r = s->run;
	for (int i = 0; s->ssl || i < CONN_READ_BUDGET; i++) {
		long n;
		if (s->ssl) {
			n = load_tls_read(s, conn_rbuf, sizeof(conn_rbuf));
		} else {
			n = read(s->fd, conn_rbuf, sizeof(conn_rbuf));
			if (n < 0)
				n = (errno == EAGAIN || errno == EINTR) ? -2 : -1;
		}
		if (n == -2)
			return;
		if (n <= 0) {
			load_conn_fail(s, ERR_CLOSED, s->phase < PH_READY);
			return;
		}
		/* a response read in the same batch as its command was sent
		 * must not be timed with the batch's clock */
		r->now_us = load_now_us();
		if (r->in_window)
			r->bytes_in += (uint64_t)n;
		conn_parse(s, conn_rbuf, (size_t)n);
		if (s->phase != PH_GREETING && s->phase != PH_READY)
			return;
	}
}

static void conn_handshake(struct load_sess *s)
{
	int rc = load_tls_handshake(s);
	if (rc < 0) {
		load_conn_fail(s, ERR_TLS, !s->starttls_done);
		return;
	}
	if (rc == 0) {
		conn_want_out(s, SSL_want_write(s->ssl));
		return;
	}
	conn_want_out(s, false);
	if (s->starttls_done) {
		s->phase = PH_READY;
		load_wl_after_tls(s);
		return;
	}
	s->phase = PH_GREETING;
	conn_read(s); /* the greeting may sit in OpenSSL's buffer already */
}

/* STARTTLS got its OK (RFC 9051 §6.2.1): the handshake starts now. */
void load_conn_begin_tls(struct load_sess *s)
{
	s->starttls_done = true;
	s->phase = PH_HANDSHAKE;
	conn_handshake(s);
}

static void conn_connected(struct load_sess *s)
{
	int err = 0;
	socklen_t el = sizeof(err);
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
		load_conn_fail(s, ERR_CONNECT, true);
		return;
	}
	if (s->run->o.tls == LOAD_TLS_IMPLICIT) {
		s->phase = PH_HANDSHAKE;
		conn_handshake(s);
		return;
	}
	s->phase = PH_GREETING;
	conn_want_out(s, false);
}

void load_conn_event(struct load_sess *s, uint32_t events)
{
	switch (s->phase) {
	case PH_OFF:
		return;
	case PH_CONNECTING:
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_connected(s);
		return;
	case PH_HANDSHAKE:
		conn_handshake(s);
		return;
	case PH_GREETING:
	case PH_READY:
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			conn_read(s);
		if ((events & EPOLLOUT) && s->phase == PH_READY)
			load_conn_flush(s);
		return;
	}
}

/* The next piece of output, or NULL when nothing may be sent now. */
static const char *conn_next_out(struct load_sess *s, size_t *len_r, size_t **pos_r)
{
	if (s->out_pos < s->out_len) {
		*len_r = s->out_len - s->out_pos;
		*pos_r = &s->out_pos;
		return s->out + s->out_pos;
	}
	if (s->hold_for_cont)
		return NULL;
	if (s->body && s->body_pos < s->body_len) {
		*len_r = s->body_len - s->body_pos;
		*pos_r = &s->body_pos;
		return s->body + s->body_pos;
	}
	if (s->tail && s->tail_pos < s->tail_len) {
		*len_r = s->tail_len - s->tail_pos;
		*pos_r = &s->tail_pos;
		return s->tail + s->tail_pos;
	}
	return NULL;
}

void load_conn_flush(struct load_sess *s)
{
	struct load_run *r = s->run;
	for (;;) {
		size_t len, *pos;
		const char *p = conn_next_out(s, &len, &pos);
		if (!p) {
			conn_want_out(s, false);
			return;
		}
		long w;
		if (s->ssl) {
			w = load_tls_write(s, p, len);
		} else {
			w = send(s->fd, p, len, MSG_NOSIGNAL);
			if (w < 0)
				w = (errno == EAGAIN || errno == EINTR) ? -2 : -1;
		}
		if (w == -2) {
			conn_want_out(s, true);
			return;
		}
		if (w < 0) {
			load_conn_fail(s, ERR_CLOSED, false);
			return;
		}
		*pos += (size_t)w;
		if (r->in_window)
			r->bytes_out += (uint64_t)w;
	}
}

/* Queues a command (text must fit LOAD_OUT_MAX) and an optional literal
 * body followed by CRLF; wait_cont holds the body until "+". */
void load_conn_send(struct load_sess *s, const char *text, size_t len, const char *body,
                    size_t body_len, bool wait_cont)
{
	if (len > LOAD_OUT_MAX)
		len = LOAD_OUT_MAX;
	memcpy(s->out, text, len);
	s->out_len = len;
	s->out_pos = 0;
	s->body = body;
	s->body_len = body_len;
	s->body_pos = 0;
	s->tail = body ? "\r\n" : NULL;
	s->tail_len = body ? 2 : 0;
	s->tail_pos = 0;
	s->hold_for_cont = body && wait_cont;
	load_conn_flush(s);
}

/* The server's "+" arrived: the held literal may go. */
void load_conn_release_body(struct load_sess *s)
{
	s->hold_for_cont = false;
	load_conn_flush(s);
}
