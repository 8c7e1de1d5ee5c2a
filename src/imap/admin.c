/* admin: control socket, session registry, WHO and KICK (see admin.h).
 *
 * Invariants: reg_lock guards the registry list only; a session's fields
 * are read or changed only on its loop's thread (admin_loop_task). A
 * request is shared by the control thread and the loop tasks and freed by
 * whoever drops the last reference, so a loop that answers late (after
 * the control thread gave up waiting) never writes into freed memory. */
#include "imap/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "imap/resp.h"
#include "imap/session.h"
#include "imap/view.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define ADMIN_MAX_LOOPS 1024
#define ADMIN_WAIT_MS 5000
#define ADMIN_LINE_MAX 1024

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct session *reg_head;

struct admin_server {
	struct imap_ctx *ctx;
	char *path;
	int fd;
	int stop_pipe[2];
	pthread_t thread;
};

/* One WHO or KICK, shared with the loop tasks. */
struct admin_req {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned refs;
	unsigned pending; /* loops that have not answered */
	bool kick;
	char *user, *ip; /* KICK's filter (ip NULL: any) */
	struct buf out;  /* WHO lines */
	size_t count;
};

struct admin_task {
	struct admin_req *req;
	struct loop *loop;
};

void admin_register(struct session *s)
{
	pthread_mutex_lock(&reg_lock);
	s->admin_prev = NULL;
	s->admin_next = reg_head;
	if (reg_head != NULL)
		reg_head->admin_prev = s;
	reg_head = s;
	pthread_mutex_unlock(&reg_lock);
}

void admin_unregister(struct session *s)
{
	pthread_mutex_lock(&reg_lock);
	if (s->admin_prev != NULL)
		s->admin_prev->admin_next = s->admin_next;
	else if (reg_head == s)
		reg_head = s->admin_next;
	if (s->admin_next != NULL)
		s->admin_next->admin_prev = s->admin_prev;
	s->admin_prev = s->admin_next = NULL;
	pthread_mutex_unlock(&reg_lock);
}

bool admin_peer_allowed(uid_t peer, uid_t self)
{
	return peer == self || peer == 0;
}

static void admin_req_unref(struct admin_req *r)
{
	pthread_mutex_lock(&r->lock);
	bool last = --r->refs == 0;
	pthread_mutex_unlock(&r->lock);
	if (!last)
		return;
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	buf_release(&r->out);
	free(r->user);
	free(r->ip);
	free(r);
}

/* Appends a field, control characters and tabs made '?' (one line per
 * session, tab-separated). */
static void admin_field(struct buf *out, const char *v)
{
	if (v == NULL || v[0] == '\0')
		v = "-";
	for (const char *p = v; *p != '\0'; p++) {
		char c = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
		buf_append(out, &c, 1);
	}
}

static void admin_who_line(struct buf *out, struct session *s)
{
	uint64_t age_ms = loop_now_ms(conn_loop(s->conn)) - s->start_ms;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	time_t since = now.tv_sec - (time_t)(age_ms / 1000);
	struct tm tm;
	gmtime_r(&since, &tm);
	char ts[32];
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_printf(out, "%016llx\t", (unsigned long long)s->id);
	admin_field(out, s->user);
	buf_append_str(out, "\t");
	admin_field(out, conn_peer_ip(s->conn));
	buf_printf(out, "\t%s\t", session_state_name(s->state));
	admin_field(out, s->view != NULL ? s->view->name : NULL);
	buf_printf(out, "\t%s\t%llu\t%llu\n", ts, (unsigned long long)s->bytes_in,
		   (unsigned long long)s->bytes_out);
}

static bool admin_kick_match(const struct admin_req *r, struct session *s)
{
	return s->user != NULL && strcmp(s->user, r->user) == 0 &&
	       (r->ip == NULL || strcmp(conn_peer_ip(s->conn), r->ip) == 0) &&
	       s->state != SESSION_LOGOUT && !conn_closing(s->conn);
}

/* Loop thread: WHO or KICK over this loop's sessions. */
static void admin_loop_task(void *arg)
{
	struct admin_task *t = arg;
	struct admin_req *r = t->req;
	struct buf local = {0};
	size_t n = 0;
	pthread_mutex_lock(&reg_lock);
	for (struct session *s = reg_head; s != NULL; s = s->admin_next) {
		if (conn_loop(s->conn) != t->loop || s->conn_gone)
			continue;
		if (!r->kick) {
			admin_who_line(&local, s);
			n++;
		} else if (admin_kick_match(r, s)) {
			log_info("event=kick sid=%016llx", (unsigned long long)s->id);
			/* Freeing is deferred (conn.c), so the list stays intact.
			 * No BYE inside a TLS handshake or a streaming FETCH
			 * literal: it would corrupt what the client reads. */
			if (!s->tls_pending && s->producer == NULL)
				resp_status_untagged(s, RESP_BYE, RESP_CODE_UNAVAILABLE, NULL,
						     "Disconnected by administrator");
			session_bye(s, NULL, "kicked");
			n++;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	pthread_mutex_lock(&r->lock);
	buf_append(&r->out, buf_rdata(&local), buf_rlen(&local));
	r->count += n;
	r->pending--;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	buf_release(&local);
	admin_req_unref(r);
	free(t);
}

/* Control thread: posts r to every loop with sessions and waits for the
 * answers (bounded: a stopping server may never run them). */
static void admin_run(struct admin_req *r)
{
	struct loop *loops[ADMIN_MAX_LOOPS];
	size_t n = 0;
	pthread_mutex_lock(&reg_lock);
	for (struct session *s = reg_head; s != NULL; s = s->admin_next) {
		struct loop *l = conn_loop(s->conn);
		size_t i = 0;
		while (i < n && loops[i] != l)
			i++;
		if (i == n && n < ADMIN_MAX_LOOPS)
			loops[n++] = l;
	}
	pthread_mutex_unlock(&reg_lock);
	r->refs = 1 + (unsigned)n;
	r->pending = (unsigned)n;
	for (size_t i = 0; i < n; i++) {
		struct admin_task *t = xcalloc(1, sizeof(*t));
		t->req = r;
		t->loop = loops[i];
		loop_post(loops[i], admin_loop_task, t);
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ADMIN_WAIT_MS / 1000;
	pthread_mutex_lock(&r->lock);
	while (r->pending > 0)
		if (pthread_cond_timedwait(&r->cond, &r->lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&r->lock);
}

/* Parses and answers one request line into reply. */
static void admin_handle(char *line, struct buf *reply)
{
	struct admin_req *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->refs = 1;
	if (strcmp(line, "WHO") == 0) {
		r->kick = false;
	} else if (strncmp(line, "KICK\t", 5) == 0 && line[5] != '\0' && line[5] != '\t') {
		r->kick = true;
		char *tab = strchr(line + 5, '\t');
		if (tab != NULL) {
			*tab = '\0';
			r->ip = xstrdup(tab + 1);
		}
		r->user = xstrdup(line + 5);
	} else {
		buf_append_str(reply, "ERR unknown request\n");
		admin_req_unref(r);
		return;
	}
	admin_run(r);
	pthread_mutex_lock(&r->lock);
	buf_append(reply, buf_rdata(&r->out), buf_rlen(&r->out));
	buf_printf(reply, "OK %zu\n", r->count);
	pthread_mutex_unlock(&r->lock);
	admin_req_unref(r);
}

/* Reads one line (up to ADMIN_LINE_MAX) from a blocking fd with a
 * receive timeout. Returns false on error, timeout or overlong line. */
static bool admin_read_line(int fd, char *line, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t n = read(fd, line + len, 1);
		if (n <= 0)
			return false;
		if (line[len] == '\n') {
			if (len > 0 && line[len - 1] == '\r')
				len--;
			line[len] = '\0';
			return true;
		}
		len++;
	}
	return false;
}

static void admin_serve_client(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    !admin_peer_allowed(cred.uid, geteuid())) {
		log_warn("event=control_refused uid=%d", len == sizeof(cred) ? (int)cred.uid : -1);
		(void)!write(fd, "ERR permission denied\n", 22);
		return;
	}
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char line[ADMIN_LINE_MAX];
	if (!admin_read_line(fd, line, sizeof(line)))
		return;
	log_info("event=control uid=%d request=%s", (int)cred.uid,
		 strncmp(line, "KICK", 4) == 0 ? "kick" : strcmp(line, "WHO") == 0 ? "who" : "other");
	struct buf reply = {0};
	admin_handle(line, &reply);
	size_t off = 0;
	while (off < buf_rlen(&reply)) {
		ssize_t n = write(fd, buf_rdata(&reply) + off, buf_rlen(&reply) - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf_release(&reply);
}

static void *admin_thread(void *arg)
{
	struct admin_server *a = arg;
	for (;;) {
		struct pollfd pfd[2] = {{.fd = a->fd, .events = POLLIN},
					{.fd = a->stop_pipe[0], .events = POLLIN}};
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents != 0)
			break;
		int fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		admin_serve_client(fd);
		close(fd);
	}
	return NULL;
}

static char *admin_error(const char *what, const char *path)
{
	struct buf b = {0};
	buf_printf(&b, "control socket %s: %s: %s", path, what, strerror(errno));
	char *msg = xstrdup(buf_rdata(&b));
	buf_release(&b);
	return msg;
}

/* Binds the listening socket, mode 0600. */
static int admin_bind(const char *path, char **error_r)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		*error_r = admin_error("path", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = admin_error("socket", path);
		return -1;
	}
	/* A socket left by a server that died; the listeners' bind already
	 * proved no other server runs with this configuration. */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		*error_r = admin_error("bind", path);
		close(fd);
		return -1;
	}
	return fd;
}

struct admin_server *admin_start(struct imap_ctx *ctx, const char *path, char **error_r)
{
	int fd = admin_bind(path, error_r);
	if (fd < 0)
		return NULL;
	struct admin_server *a = xcalloc(1, sizeof(*a));
	a->ctx = ctx;
	a->path = xstrdup(path);
	a->fd = fd;
	if (pipe2(a->stop_pipe, O_CLOEXEC) == 0) {
		if (pthread_create(&a->thread, NULL, admin_thread, a) == 0) {
			log_info("event=control_listen path=%s", path);
			return a;
		}
		close(a->stop_pipe[0]);
		close(a->stop_pipe[1]);
	}
	*error_r = admin_error("thread", path);
	close(fd);
	unlink(path);
	free(a->path);
	free(a);
	return NULL;
}

void admin_stop(struct admin_server **ap)
{
	struct admin_server *a = *ap;
	if (a == NULL)
		return;
	(void)!write(a->stop_pipe[1], "x", 1);
	pthread_join(a->thread, NULL);
	close(a->stop_pipe[0]);
	close(a->stop_pipe[1]);
	close(a->fd);
	unlink(a->path);
	free(a->path);
	free(a);
	*ap = NULL;
}
