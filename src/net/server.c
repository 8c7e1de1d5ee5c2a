/* server: network threads, shared listeners, signals (see server.h).
 *
 * Each thread runs one loop and owns the connections it accepted; a
 * connection never moves. Listening sockets are shared: every loop
 * registers each one with EPOLLEXCLUSIVE, and whichever thread is woken
 * accepts (a burst of up to ACCEPT_BATCH at a time, so one thread does not
 * swallow a whole storm while the other idles). */
#include "net/server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "net/listener.h"

#define ACCEPT_BATCH 32
#define ACCEPT_BACKOFF_MS 100
#define SHUTDOWN_POLL_MS 50

struct net_thread;

struct net_listen_fd {
	struct loop_fd lfd;
	struct timer backoff;
	struct net_thread *thread;
	const struct listen_addr *addr;
	int fd;
	bool registered;
};

struct net_thread {
	struct net_server *srv;
	unsigned index;
	pthread_t tid;
	struct loop *loop;
	struct conn_list conns;
	struct net_listen_fd *listeners; /* one per server listen address */
	struct timer shutdown_timer;
	uint64_t shutdown_deadline;
};

struct net_server {
	struct net_server_params params;
	struct listen_addr *addrs;
	size_t n_addrs;
	int *listen_fds;
	unsigned nthreads;
	struct net_thread *threads;
	atomic_bool stopping;
};

static void net_accept_cb(void *ctx, unsigned events);

/* Group 0 is the main protocol; group i + 1 is params.extra[i]. */
static int net_parse_extra(struct net_server *srv, size_t i, char **error_r)
{
	const struct net_extra_listener *x = &srv->params.extra[i];
	size_t first = srv->n_addrs;
	if (x->listen != NULL && x->listen[0] != '\0' &&
	    listen_addrs_parse(x->listen, false, &srv->addrs, &srv->n_addrs, error_r) < 0)
		return -1;
	if (x->unix_path != NULL && x->unix_path[0] != '\0' &&
	    listen_addr_unix(x->unix_path, x->unix_mode, &srv->addrs, &srv->n_addrs, error_r) < 0)
		return -1;
	for (size_t k = first; k < srv->n_addrs; k++)
		srv->addrs[k].group = (unsigned)i + 1;
	return 0;
}

static const char *net_group_name(const struct net_server *srv, const struct listen_addr *a)
{
	if (a->group > 0)
		return srv->params.extra[a->group - 1].name;
	return a->tls ? "imaps" : "imap";
}

static int net_open_listeners(struct net_server *srv, char **error_r)
{
	const struct net_server_params *p = &srv->params;
	if (p->imap_listen != NULL && p->imap_listen[0] != '\0' &&
	    listen_addrs_parse(p->imap_listen, false, &srv->addrs, &srv->n_addrs, error_r) < 0)
		return -1;
	if (p->imaps_listen != NULL && p->imaps_listen[0] != '\0' &&
	    listen_addrs_parse(p->imaps_listen, true, &srv->addrs, &srv->n_addrs, error_r) < 0)
		return -1;
	for (size_t i = 0; i < p->n_extra; i++)
		if (net_parse_extra(srv, i, error_r) < 0)
			return -1;
	if (srv->n_addrs == 0) {
		*error_r = xstrdup("no listen address configured (imap_listen, imaps_listen)");
		return -1;
	}
	srv->listen_fds = xcalloc(srv->n_addrs, sizeof(int));
	for (size_t i = 0; i < srv->n_addrs; i++)
		srv->listen_fds[i] = -1;
	for (size_t i = 0; i < srv->n_addrs; i++) {
		srv->listen_fds[i] = listen_socket_open(&srv->addrs[i], error_r);
		if (srv->listen_fds[i] < 0)
			return -1;
		if (srv->addrs[i].group == 0)
			log_info("event=listen addr=%s tls=%s", srv->addrs[i].text,
				 srv->addrs[i].tls ? "implicit" : "starttls");
		else
			log_info("event=listen addr=%s protocol=%s", srv->addrs[i].text,
				 net_group_name(srv, &srv->addrs[i]));
	}
	return 0;
}

static void net_thread_init(struct net_server *srv, struct net_thread *t, unsigned index)
{
	t->srv = srv;
	t->index = index;
	t->loop = loop_new(index);
	timer_init(&t->shutdown_timer);
	t->listeners = xcalloc(srv->n_addrs, sizeof(*t->listeners));
	for (size_t i = 0; i < srv->n_addrs; i++) {
		struct net_listen_fd *l = &t->listeners[i];
		l->thread = t;
		l->addr = &srv->addrs[i];
		l->fd = srv->listen_fds[i];
		timer_init(&l->backoff);
		if (loop_fd_add(t->loop, &l->lfd, l->fd, LOOP_READ | LOOP_EXCLUSIVE, net_accept_cb,
				l) < 0)
			log_fatal("event=fatal what=listen_register error=\"%s\"", strerror(errno));
		l->registered = true;
	}
}

struct net_server *net_server_new(const struct net_server_params *params, char **error_r)
{
	struct net_server *srv = xcalloc(1, sizeof(*srv));
	srv->params = *params;
	srv->params.extra = NULL;
	if (params->n_extra > 0) {
		struct net_extra_listener *x = xcalloc(params->n_extra, sizeof(*x));
		memcpy(x, params->extra, params->n_extra * sizeof(*x));
		srv->params.extra = x;
	}
	if (net_open_listeners(srv, error_r) < 0) {
		net_server_free(&srv);
		return NULL;
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	srv->nthreads = params->threads ? params->threads : (cores > 0 ? (unsigned)cores : 1);
	srv->threads = xcalloc(srv->nthreads, sizeof(*srv->threads));
	for (unsigned i = 0; i < srv->nthreads; i++)
		net_thread_init(srv, &srv->threads[i], i);
	return srv;
}

/* --- accepting --- */

static void net_listener_resume(void *ctx)
{
	struct net_listen_fd *l = ctx;
	if (l->registered || atomic_load(&l->thread->srv->stopping))
		return;
	if (loop_fd_add(l->thread->loop, &l->lfd, l->fd, LOOP_READ | LOOP_EXCLUSIVE, net_accept_cb,
			l) == 0)
		l->registered = true;
}

/* Out of descriptors: stop accepting on this thread for a moment instead
 * of spinning on a listener that stays readable. */
static void net_listener_backoff(struct net_listen_fd *l)
{
	log_warn("event=accept_paused addr=%s error=\"%s\" ms=%d", l->addr->text, strerror(errno),
		 ACCEPT_BACKOFF_MS);
	loop_fd_del(l->thread->loop, &l->lfd);
	l->registered = false;
	timer_start(l->thread->loop, &l->backoff, ACCEPT_BACKOFF_MS, net_listener_resume, l);
}

static void net_accept_cb(void *ctx, unsigned events)
{
	struct net_listen_fd *l = ctx;
	struct net_thread *t = l->thread;
	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				net_listener_backoff(l);
			return;
		}
		struct conn *c = conn_new(t->loop, &t->conns, fd, (struct sockaddr *)&ss, len);
		const struct net_server_params *p = &t->srv->params;
		if (l->addr->group > 0) {
			const struct net_extra_listener *x = &p->extra[l->addr->group - 1];
			x->proto->on_accept(x->proto_ctx, c, false);
		} else {
			p->proto->on_accept(p->proto_ctx, c, l->addr->tls);
		}
	}
}

/* --- threads and shutdown --- */

static void *net_thread_main(void *arg)
{
	struct net_thread *t = arg;
	loop_run(t->loop);
	return NULL;
}

static void net_thread_shutdown_poll(void *ctx)
{
	struct net_thread *t = ctx;
	if (t->conns.count == 0 || loop_now_ms(t->loop) >= t->shutdown_deadline) {
		for (struct conn *c = conn_list_first(&t->conns); c != NULL; c = conn_list_next(c))
			conn_close(c, "shutdown");
		loop_stop(t->loop);
		return;
	}
	timer_start(t->loop, &t->shutdown_timer, SHUTDOWN_POLL_MS, net_thread_shutdown_poll, t);
}

/* Runs on each loop: stop accepting, tell every session to say BYE. */
static void net_thread_begin_shutdown(void *ctx)
{
	struct net_thread *t = ctx;
	for (size_t i = 0; i < t->srv->n_addrs; i++) {
		struct net_listen_fd *l = &t->listeners[i];
		timer_stop(t->loop, &l->backoff);
		if (l->registered)
			loop_fd_del(t->loop, &l->lfd);
		l->registered = false;
	}
	for (struct conn *c = conn_list_first(&t->conns); c != NULL; c = conn_list_next(c)) {
		if (!conn_closing(c))
			conn_shutdown_notify(c);
	}
	t->shutdown_deadline = loop_now_ms(t->loop) + t->srv->params.shutdown_grace_ms;
	timer_start(t->loop, &t->shutdown_timer, SHUTDOWN_POLL_MS, net_thread_shutdown_poll, t);
}

static void net_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void net_wait_signals(struct net_server *srv, const sigset_t *set)
{
	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(set, &info);
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			log_info("event=reload signal=SIGHUP");
			if (srv->params.proto->on_reload != NULL)
				srv->params.proto->on_reload(srv->params.proto_ctx);
			for (size_t i = 0; i < srv->params.n_extra; i++) {
				const struct net_extra_listener *x = &srv->params.extra[i];
				if (x->proto->on_reload != NULL)
					x->proto->on_reload(x->proto_ctx);
			}
			continue;
		}
		log_info("event=shutdown signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		return;
	}
}

int net_server_run(struct net_server *srv)
{
	sigset_t set;
	net_block_signals(&set);
	for (unsigned i = 0; i < srv->nthreads; i++) {
		pthread_create(&srv->threads[i].tid, NULL, net_thread_main, &srv->threads[i]);
		char tname[32];
		snprintf(tname, sizeof(tname), "roost-net%u", i);
		tname[15] = '\0'; /* the kernel keeps 15 characters */
		pthread_setname_np(srv->threads[i].tid, tname);
	}
	net_wait_signals(srv, &set);
	atomic_store(&srv->stopping, true);
	for (unsigned i = 0; i < srv->nthreads; i++)
		loop_post(srv->threads[i].loop, net_thread_begin_shutdown, &srv->threads[i]);
	for (unsigned i = 0; i < srv->nthreads; i++)
		pthread_join(srv->threads[i].tid, NULL);
	return 0;
}

unsigned net_server_threads(const struct net_server *srv) { return srv->nthreads; }
struct loop *net_server_loop(const struct net_server *srv, unsigned i)
{
	return srv->threads[i].loop;
}
struct conn_list *net_server_conns(const struct net_server *srv, unsigned i)
{
	return &srv->threads[i].conns;
}

/* Closes what is still open and runs every loop's queue once; returns
 * how many tasks ran. */
static size_t net_server_drain(struct net_server *srv)
{
	size_t ran = 0;
	for (unsigned i = 0; i < srv->nthreads; i++) {
		struct net_thread *t = &srv->threads[i];
		for (struct conn *c = conn_list_first(&t->conns); c != NULL; c = conn_list_next(c))
			conn_close(c, "shutdown");
		ran += loop_drain(t->loop);
	}
	return ran;
}

void net_server_quiesce(struct net_server *srv, struct workpool *const *pools, size_t n_pools)
{
	/* A completion may free a session, whose release queues another job,
	 * whose completion may... : repeat until a round finds no work. */
	for (;;) {
		size_t ran = net_server_drain(srv);
		bool waited = false;
		for (size_t i = 0; i < n_pools; i++)
			if (pools[i] != NULL)
				waited |= workpool_wait_idle(pools[i]);
		if (ran == 0 && !waited && net_server_drain(srv) == 0)
			return;
	}
}

void net_server_free(struct net_server **srvp)
{
	struct net_server *srv = *srvp;
	if (srv == NULL)
		return;
	net_server_drain(srv);
	net_server_drain(srv);
	for (unsigned i = 0; i < srv->nthreads; i++) {
		struct net_thread *t = &srv->threads[i];
		free(t->listeners);
		loop_free(&t->loop);
	}
	for (size_t i = 0; srv->listen_fds != NULL && i < srv->n_addrs; i++) {
		if (srv->listen_fds[i] >= 0) {
			close(srv->listen_fds[i]);
			listen_socket_remove(&srv->addrs[i]);
		}
	}
	free(srv->listen_fds);
	free((void *)srv->params.extra);
	free(srv->addrs);
	free(srv->threads);
	free(srv);
	*srvp = NULL;
}
