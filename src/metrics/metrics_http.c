/* metrics_http: the /metrics endpoint (see metrics_http.h).
 *
 * Why a dedicated thread with its own poll() loop rather than one of the
 * network loops: metrics/ sits below net/ in the layering (conn.c and
 * store.c report into it), so it cannot use net/'s loop or conn without a
 * dependency cycle; and a scrape should be answered precisely when the
 * IMAP loops are saturated, which is when an operator looks. The thread
 * is cheap: it sleeps in poll() between scrapes, serves at most
 * METRICS_HTTP_MAX_CLIENTS connections at once (further ones wait in the
 * listen backlog: the listeners are not polled while the table is full),
 * and every connection has a deadline covering both reading the request
 * and writing the answer.
 *
 * HTTP (RFC 9112): one request per connection, answered with
 * "Connection: close" and a Content-Length; the request body, if any, is
 * ignored. The thread blocks every signal, so signals keep going to the
 * thread that waits for them (net/server.c). */
#include "metrics/metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "metrics/metrics.h"

#define METRICS_HTTP_DEFAULT_TIMEOUT_MS 10000
#define METRICS_HTTP_BACKLOG            64

struct metrics_http_client {
	int fd; /* -1: free slot */
	uint64_t deadline_ns;
	bool responding; /* the answer is in out; waiting to write it */
	size_t req_len;
	char req[METRICS_HTTP_MAX_REQUEST];
	struct buf out;
};

struct metrics_http {
	int listen_fd[METRICS_HTTP_MAX_LISTEN];
	size_t n_listen;
	int wake[2]; /* pipe: a byte in wake[0] stops the thread */
	unsigned timeout_ms;
	pthread_t thread;
	struct metrics_http_client clients[METRICS_HTTP_MAX_CLIENTS];
};

/* --- responses --- */

static void metrics_http_status(struct buf *out, const char *status, const char *extra,
                                const char *body, bool head)
{
	buf_printf(out,
	           "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	           "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
	           status, strlen(body), extra);
	if (!head)
		buf_append_str(out, body);
}

static void metrics_http_ok(struct buf *out, bool head)
{
	struct buf body = {0};
	metrics_render(&body);
	buf_printf(out,
	           "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	           "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	           buf_rlen(&body));
	if (!head)
		buf_append(out, buf_rdata(&body), buf_rlen(&body));
	buf_release(&body);
}

/* RFC 9110 §5.6.2: a method is a token. */
static bool metrics_http_tchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

void metrics_http_respond(const char *req, size_t len, struct buf *out)
{
	const char *eol = memchr(req, '\n', len);
	size_t line_len = eol != NULL ? (size_t)(eol - req) : len;
	if (line_len > 0 && req[line_len - 1] == '\r')
		line_len--;
	/* RFC 9112 §3: method SP request-target SP HTTP-version */
	const char *sp1 = memchr(req, ' ', line_len);
	const char *sp2 =
	    sp1 != NULL ? memchr(sp1 + 1, ' ', line_len - (size_t)(sp1 + 1 - req)) : NULL;
	const char *version = sp2 != NULL ? sp2 + 1 : NULL;
	size_t vlen = version != NULL ? line_len - (size_t)(version - req) : 0;
	bool ok = sp1 != NULL && sp1 > req && sp2 != NULL && sp2 > sp1 + 1 && vlen == 8 &&
	          strncmp(version, "HTTP/1.", 7) == 0 && version[7] >= '0' && version[7] <= '9';
	for (const char *p = req; ok && p < sp1; p++)
		ok = metrics_http_tchar(*p);
	if (!ok) {
		metrics_http_status(out, "400 Bad Request", "", "Bad request\n", false);
		return;
	}
	size_t mlen = (size_t)(sp1 - req);
	bool get = mlen == 3 && memcmp(req, "GET", 3) == 0;
	bool head = mlen == 4 && memcmp(req, "HEAD", 4) == 0;
	if (!get && !head) {
		metrics_http_status(out, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
		                    "Only GET is supported\n", false);
		return;
	}
	const char *target = sp1 + 1;
	size_t tlen = (size_t)(sp2 - target);
	const char *q = memchr(target, '?', tlen);
	size_t plen = q != NULL ? (size_t)(q - target) : tlen;
	if (plen != 8 || memcmp(target, "/metrics", 8) != 0) {
		metrics_http_status(out, "404 Not Found", "", "Not found; try /metrics\n", head);
		return;
	}
	metrics_http_ok(out, head);
}

/* --- connections --- */

static void metrics_http_client_close(struct metrics_http_client *c)
{
	close(c->fd);
	c->fd = -1;
	c->req_len = 0;
	c->responding = false;
	buf_release(&c->out);
}

/* The end of the header section (an empty line), or NULL. */
static const char *metrics_http_headers_end(const char *req, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (req[i] == '\n' && (req[i + 1] == '\n' ||
		                       (req[i + 1] == '\r' && i + 2 < len && req[i + 2] == '\n')))
			return req + i;
	}
	return NULL;
}

static void metrics_http_client_read(struct metrics_http_client *c)
{
	ssize_t n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - c->req_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		metrics_http_client_close(c);
		return;
	}
	c->req_len += (size_t)n;
	if (metrics_http_headers_end(c->req, c->req_len) != NULL) {
		metrics_http_respond(c->req, c->req_len, &c->out);
		c->responding = true;
	} else if (c->req_len == sizeof(c->req)) {
		/* Bounded request size (RFC 6585 §5). */
		metrics_http_status(&c->out, "431 Request Header Fields Too Large", "",
		                    "Request too large\n", false);
		c->responding = true;
	}
}

static void metrics_http_client_write(struct metrics_http_client *c)
{
	while (buf_rlen(&c->out) > 0) {
		ssize_t n = send(c->fd, buf_rdata(&c->out), buf_rlen(&c->out), MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0)
			break;
		buf_consume(&c->out, (size_t)n);
	}
	/* Done (or failed): a clean FIN after the whole answer. */
	shutdown(c->fd, SHUT_WR);
	metrics_http_client_close(c);
}

static void metrics_http_accept(struct metrics_http *h, int lfd)
{
	for (size_t i = 0; i < METRICS_HTTP_MAX_CLIENTS; i++) {
		struct metrics_http_client *c = &h->clients[i];
		if (c->fd >= 0)
			continue;
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c->fd = fd;
		c->deadline_ns = metrics_now_ns() + (uint64_t)h->timeout_ms * 1000000u;
		c->req_len = 0;
		c->responding = false;
		return;
	}
}

/* --- the thread --- */

/* Fills fds for poll: wake pipe, listeners (when a slot is free), then
 * clients; map[i] is the client index of fds[i] or -1. Returns the count
 * and the poll timeout in ms in *timeout_r. */
static size_t metrics_http_pollset(struct metrics_http *h, struct pollfd *fds, int *map,
                                   int *timeout_r)
{
	size_t n = 0, free_slots = 0;
	uint64_t now = metrics_now_ns(), next = UINT64_MAX;
	fds[n] = (struct pollfd){.fd = h->wake[0], .events = POLLIN};
	map[n++] = -1;
	for (size_t i = 0; i < METRICS_HTTP_MAX_CLIENTS; i++) {
		struct metrics_http_client *c = &h->clients[i];
		if (c->fd < 0) {
			free_slots++;
			continue;
		}
		if (c->deadline_ns <= now) {
			metrics_http_client_close(c); /* timeout */
			free_slots++;
			continue;
		}
		if (c->deadline_ns < next)
			next = c->deadline_ns;
		fds[n] = (struct pollfd){.fd = c->fd, .events = c->responding ? POLLOUT : POLLIN};
		map[n++] = (int)i;
	}
	for (size_t i = 0; free_slots > 0 && i < h->n_listen; i++) {
		fds[n] = (struct pollfd){.fd = h->listen_fd[i], .events = POLLIN};
		map[n++] = -2 - (int)i;
	}
	*timeout_r = next == UINT64_MAX ? -1 : (int)((next - now) / 1000000u + 1);
	return n;
}

static void *metrics_http_main(void *arg)
{
	struct metrics_http *h = arg;
	struct pollfd fds[1 + METRICS_HTTP_MAX_CLIENTS + METRICS_HTTP_MAX_LISTEN];
	int map[1 + METRICS_HTTP_MAX_CLIENTS + METRICS_HTTP_MAX_LISTEN];
	for (;;) {
		int timeout;
		size_t n = metrics_http_pollset(h, fds, map, &timeout);
		if (poll(fds, n, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents != 0)
			break; /* metrics_http_stop */
		for (size_t i = 1; i < n; i++) {
			if (fds[i].revents == 0)
				continue;
			if (map[i] <= -2) {
				metrics_http_accept(h, h->listen_fd[-2 - map[i]]);
				continue;
			}
			struct metrics_http_client *c = &h->clients[map[i]];
			if (c->responding) {
				metrics_http_client_write(c);
			} else {
				metrics_http_client_read(c);
				if (c->fd >= 0 && c->responding)
					metrics_http_client_write(c);
			}
		}
	}
	return NULL;
}

/* --- addresses --- */

static char *metrics_http_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *metrics_http_error(const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	char *s = xstrdup(buf_rdata(&b));
	buf_release(&b);
	return s;
}

/* Opens one listening socket for "host:port" ("[v6]:port", "*:port"). */
static int metrics_http_listen_one(const char *elem, char **error_r)
{
	char host[256];
	const char *colon = strrchr(elem, ':');
	size_t hlen = colon != NULL ? (size_t)(colon - elem) : 0;
	if (colon == NULL || hlen == 0 || hlen >= sizeof(host)) {
		*error_r = metrics_http_error("metrics_listen: bad address '%s'", elem);
		return -1;
	}
	memcpy(host, elem, hlen);
	host[hlen] = '\0';
	char *h = host;
	if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
		h[hlen - 1] = '\0';
		h++;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	bool any = strcmp(h, "*") == 0;
	if (any)
		hints.ai_family = AF_INET; /* as for imap_listen: "*" is every IPv4 address */
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(any ? NULL : h, colon + 1, &hints, &ai);
	if (rc != 0) {
		*error_r = metrics_http_error("metrics_listen %s: %s", elem, gai_strerror(rc));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, METRICS_HTTP_BACKLOG) < 0) {
		*error_r = metrics_http_error("cannot listen on %s (metrics_listen): %s", elem,
		                              strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void metrics_http_free(struct metrics_http *h)
{
	for (size_t i = 0; i < h->n_listen; i++)
		close(h->listen_fd[i]);
	for (size_t i = 0; i < METRICS_HTTP_MAX_CLIENTS; i++) {
		if (h->clients[i].fd >= 0)
			metrics_http_client_close(&h->clients[i]);
	}
	if (h->wake[0] >= 0)
		close(h->wake[0]);
	if (h->wake[1] >= 0)
		close(h->wake[1]);
	free(h);
}

/* Binds every element of the comma-separated list. Returns 0 or -1. */
static int metrics_http_bind(struct metrics_http *h, const char *listen, char **error_r)
{
	char *list = xstrdup(listen), *save = NULL;
	int ret = 0;
	for (char *e = strtok_r(list, ",", &save); e != NULL; e = strtok_r(NULL, ",", &save)) {
		while (*e == ' ' || *e == '\t')
			e++;
		size_t len = strlen(e);
		while (len > 0 && (e[len - 1] == ' ' || e[len - 1] == '\t'))
			e[--len] = '\0';
		if (h->n_listen == METRICS_HTTP_MAX_LISTEN) {
			*error_r = metrics_http_error("metrics_listen: more than %d addresses",
			                              METRICS_HTTP_MAX_LISTEN);
			ret = -1;
			break;
		}
		int fd = metrics_http_listen_one(e, error_r);
		if (fd < 0) {
			ret = -1;
			break;
		}
		h->listen_fd[h->n_listen++] = fd;
	}
	free(list);
	return ret;
}

struct metrics_http *metrics_http_start(const char *listen, unsigned timeout_ms, char **error_r)
{
	*error_r = NULL;
	if (listen == NULL || listen[strspn(listen, " \t,")] == '\0')
		return NULL;
	struct metrics_http *h = xcalloc(1, sizeof(*h));
	h->timeout_ms = timeout_ms > 0 ? timeout_ms : METRICS_HTTP_DEFAULT_TIMEOUT_MS;
	h->wake[0] = h->wake[1] = -1;
	for (size_t i = 0; i < METRICS_HTTP_MAX_CLIENTS; i++)
		h->clients[i].fd = -1;
	if (metrics_http_bind(h, listen, error_r) < 0) {
		metrics_http_free(h);
		return NULL;
	}
	if (pipe2(h->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		*error_r = metrics_http_error("metrics: pipe: %s", strerror(errno));
		metrics_http_free(h);
		return NULL;
	}
	/* The thread inherits a mask with every signal blocked. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&h->thread, NULL, metrics_http_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		*error_r = metrics_http_error("metrics: thread: %s", strerror(rc));
		metrics_http_free(h);
		return NULL;
	}
	log_info("event=metrics_listen addr=%s", listen);
	return h;
}

void metrics_http_stop(struct metrics_http **hp)
{
	struct metrics_http *h = *hp;
	if (h == NULL)
		return;
	*hp = NULL;
	char byte = 1;
	while (write(h->wake[1], &byte, 1) < 0 && errno == EINTR)
		;
	pthread_join(h->thread, NULL);
	metrics_http_free(h);
}
