/* loop: epoll event loop, timer heap, cross-thread posting (see loop.h).
 *
 * Level-triggered epoll: a descriptor with unread input is reported again
 * on the next iteration, so a handler may stop reading after a fair share
 * (64 KiB) without losing the rest. Interest changes are applied at once
 * with epoll_ctl, skipped when unchanged.
 *
 * Bulk tasks (loop_post_bulk: the next slice of a long FETCH or SEARCH)
 * run after every ready descriptor, the deferred tasks and the timers,
 * one round per iteration: each task queued before the round runs once,
 * oldest first, until its budget is spent (a task posted during the round
 * waits for the next iteration). The budget is LOOP_BULK_BUDGET_NS, or as
 * long as the iteration's other work took when that was longer: a command
 * that arrives waits for at most about the budget, and when the loop is
 * busy streams and commands share it about evenly, each of k streaming
 * sessions still moving every iteration, not every k-th. */
#include "net/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define LOOP_MAX_EVENTS 256
/* A round of bulk slices stops after this much wall time (by default). */
#define LOOP_BULK_BUDGET_NS 1000000ull

struct loop_task {
	loop_fn *fn;
	void *ctx;
};

struct task_vec {
	struct loop_task *items;
	size_t count, cap;
};

struct loop {
	unsigned id;
	int epfd;
	int wakefd;
	struct loop_fd wake_lfd;
	volatile int stopping;
	uint64_t now_ms;

	struct timer **heap;
	size_t heap_count, heap_cap;

	struct task_vec deferred;
	struct task_vec bulk; /* FIFO from bulk_head: one round per iteration */
	size_t bulk_head;
	uint64_t bulk_budget_ns;
	pthread_mutex_t posted_lock;
	struct task_vec posted; /* guarded by posted_lock */
};

static uint64_t loop_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t monotonic_ms(void)
{
	return loop_clock_ns() / 1000000u;
}

static void task_vec_push(struct task_vec *v, loop_fn *fn, void *ctx)
{
	if (v->count == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->items = xrealloc(v->items, v->cap * sizeof(*v->items));
	}
	v->items[v->count++] = (struct loop_task){fn, ctx};
}

/* Runs the posted queue; returns how many tasks ran. */
static size_t loop_run_posted(struct loop *loop)
{
	/* Swap the posted queue out under the lock, run it without. */
	pthread_mutex_lock(&loop->posted_lock);
	struct task_vec tasks = loop->posted;
	memset(&loop->posted, 0, sizeof(loop->posted));
	pthread_mutex_unlock(&loop->posted_lock);
	for (size_t i = 0; i < tasks.count; i++)
		tasks.items[i].fn(tasks.items[i].ctx);
	free(tasks.items);
	return tasks.count;
}

static void loop_wake_cb(void *ctx, unsigned events)
{
	struct loop *loop = ctx;
	uint64_t n;
	ssize_t r = read(loop->wakefd, &n, sizeof(n));
	(void)r;
	(void)events;
	loop_run_posted(loop);
}

struct loop *loop_new(unsigned id)
{
	struct loop *loop = xcalloc(1, sizeof(*loop));
	loop->id = id;
	loop->bulk_budget_ns = LOOP_BULK_BUDGET_NS;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		log_fatal("event=fatal what=epoll_create error=\"%s\"", strerror(errno));
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->wakefd < 0)
		log_fatal("event=fatal what=eventfd error=\"%s\"", strerror(errno));
	pthread_mutex_init(&loop->posted_lock, NULL);
	loop->now_ms = monotonic_ms();
	if (loop_fd_add(loop, &loop->wake_lfd, loop->wakefd, LOOP_READ, loop_wake_cb, loop) < 0)
		log_fatal("event=fatal what=epoll_ctl error=\"%s\"", strerror(errno));
	return loop;
}

void loop_free(struct loop **loopp)
{
	struct loop *loop = *loopp;
	if (loop == NULL)
		return;
	close(loop->wakefd);
	close(loop->epfd);
	pthread_mutex_destroy(&loop->posted_lock);
	free(loop->posted.items);
	free(loop->deferred.items);
	free(loop->bulk.items);
	free(loop->heap);
	free(loop);
	*loopp = NULL;
}

unsigned loop_id(const struct loop *loop) { return loop->id; }
uint64_t loop_now_ms(struct loop *loop) { return loop->now_ms; }

static uint32_t loop_epoll_mask(unsigned events)
{
	uint32_t mask = 0;
	if (events & LOOP_EXCLUSIVE) /* EPOLLRDHUP is not allowed with it */
		return EPOLLIN | EPOLLEXCLUSIVE;
	if (events & LOOP_READ)
		mask |= EPOLLIN | EPOLLRDHUP;
	if (events & LOOP_WRITE)
		mask |= EPOLLOUT;
	return mask;
}

int loop_fd_add(struct loop *loop, struct loop_fd *lfd, int fd, unsigned events, loop_fd_cb *cb,
		void *ctx)
{
	lfd->fd = fd;
	lfd->events = events;
	lfd->cb = cb;
	lfd->ctx = ctx;
	struct epoll_event ev = {.events = loop_epoll_mask(events), .data.ptr = lfd};
	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void loop_fd_set(struct loop *loop, struct loop_fd *lfd, unsigned events)
{
	if (lfd->events == events)
		return;
	lfd->events = events;
	struct epoll_event ev = {.events = loop_epoll_mask(events), .data.ptr = lfd};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, lfd->fd, &ev) < 0)
		log_warn("event=epoll_ctl fd=%d error=\"%s\"", lfd->fd, strerror(errno));
}

void loop_fd_del(struct loop *loop, struct loop_fd *lfd)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, lfd->fd, NULL);
	lfd->events = 0;
	lfd->fd = -1; /* events already fetched for it in this batch are dropped */
}

void loop_stop(struct loop *loop)
{
	loop->stopping = 1;
	uint64_t one = 1;
	ssize_t r = write(loop->wakefd, &one, sizeof(one));
	(void)r;
}

void loop_post(struct loop *loop, loop_fn *fn, void *ctx)
{
	pthread_mutex_lock(&loop->posted_lock);
	bool was_empty = loop->posted.count == 0;
	task_vec_push(&loop->posted, fn, ctx);
	pthread_mutex_unlock(&loop->posted_lock);
	if (was_empty) {
		uint64_t one = 1;
		ssize_t r = write(loop->wakefd, &one, sizeof(one));
		(void)r;
	}
}

void loop_defer(struct loop *loop, loop_fn *fn, void *ctx)
{
	task_vec_push(&loop->deferred, fn, ctx);
}

void loop_set_bulk_budget(struct loop *loop, uint64_t ns)
{
	loop->bulk_budget_ns = ns;
}

void loop_post_bulk(struct loop *loop, loop_fn *fn, void *ctx)
{
	if (loop->bulk_head == loop->bulk.count) {
		loop->bulk.count = loop->bulk_head = 0; /* empty: start over */
	} else if (loop->bulk_head > 64 && loop->bulk_head * 2 > loop->bulk.count) {
		/* Mostly consumed: move the rest to the front. */
		size_t n = loop->bulk.count - loop->bulk_head;
		memmove(loop->bulk.items, loop->bulk.items + loop->bulk_head, n * sizeof(*loop->bulk.items));
		loop->bulk.count = n;
		loop->bulk_head = 0;
	}
	task_vec_push(&loop->bulk, fn, ctx);
}

/* Runs the oldest bulk task; returns whether there was one. */
static bool loop_run_one_bulk(struct loop *loop)
{
	if (loop->bulk_head == loop->bulk.count)
		return false;
	struct loop_task t = loop->bulk.items[loop->bulk_head++];
	t.fn(t.ctx);
	return true;
}

static size_t loop_run_deferred(struct loop *loop)
{
	/* Deferred tasks may defer more; run until the queue is empty. */
	size_t i;
	for (i = 0; i < loop->deferred.count; i++) {
		struct loop_task t = loop->deferred.items[i];
		t.fn(t.ctx);
	}
	loop->deferred.count = 0;
	return i;
}

/* One round: the tasks queued now run once each, oldest first, with the
 * deferred work each leaves, until the budget is spent. started_ns: when
 * the iteration's other work began. */
static void loop_run_bulk_round(struct loop *loop, uint64_t started_ns)
{
	size_t n = loop->bulk.count - loop->bulk_head;
	if (n == 0)
		return;
	uint64_t now = loop_clock_ns();
	uint64_t busy = now - started_ns;
	uint64_t deadline = now + (busy > loop->bulk_budget_ns ? busy : loop->bulk_budget_ns);
	for (size_t i = 0; i < n && loop_run_one_bulk(loop); i++) {
		loop_run_deferred(loop);
		if (loop_clock_ns() >= deadline)
			break;
	}
}

/* --- timer heap --- */

static void heap_set(struct loop *loop, size_t i, struct timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void heap_sift_up(struct loop *loop, size_t i)
{
	struct timer *t = loop->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (loop->heap[parent]->deadline_ms <= t->deadline_ms)
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void heap_sift_down(struct loop *loop, size_t i)
{
	struct timer *t = loop->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= loop->heap_count)
			break;
		if (child + 1 < loop->heap_count &&
		    loop->heap[child + 1]->deadline_ms < loop->heap[child]->deadline_ms)
			child++;
		if (loop->heap[child]->deadline_ms >= t->deadline_ms)
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, t);
}

void timer_stop(struct loop *loop, struct timer *t)
{
	if (!timer_active(t))
		return;
	size_t i = t->heap_index;
	t->heap_index = SIZE_MAX;
	loop->heap_count--;
	if (i == loop->heap_count)
		return;
	heap_set(loop, i, loop->heap[loop->heap_count]);
	heap_sift_down(loop, i);
	heap_sift_up(loop, loop->heap[i]->heap_index);
}

void timer_start(struct loop *loop, struct timer *t, uint64_t delay_ms, loop_fn *cb, void *ctx)
{
	timer_stop(loop, t);
	t->deadline_ms = loop->now_ms + delay_ms;
	t->cb = cb;
	t->ctx = ctx;
	if (loop->heap_count == loop->heap_cap) {
		loop->heap_cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		loop->heap = xrealloc(loop->heap, loop->heap_cap * sizeof(*loop->heap));
	}
	size_t i = loop->heap_count++;
	heap_set(loop, i, t);
	heap_sift_up(loop, i);
}

static void loop_run_timers(struct loop *loop)
{
	while (loop->heap_count > 0 && loop->heap[0]->deadline_ms <= loop->now_ms) {
		struct timer *t = loop->heap[0];
		timer_stop(loop, t);
		t->cb(t->ctx);
	}
}

static int loop_next_timeout(struct loop *loop)
{
	if (loop->deferred.count > 0 || loop->bulk_head < loop->bulk.count)
		return 0;
	if (loop->heap_count == 0)
		return -1;
	uint64_t deadline = loop->heap[0]->deadline_ms;
	if (deadline <= loop->now_ms)
		return 0;
	uint64_t wait = deadline - loop->now_ms;
	return wait > 60000 ? 60000 : (int)wait;
}

static unsigned loop_events_from_epoll(uint32_t mask)
{
	unsigned events = 0;
	if (mask & (EPOLLIN | EPOLLRDHUP))
		events |= LOOP_READ;
	if (mask & EPOLLOUT)
		events |= LOOP_WRITE;
	if (mask & (EPOLLERR | EPOLLHUP))
		events |= LOOP_ERROR | LOOP_READ;
	return events;
}

void loop_run(struct loop *loop)
{
	struct epoll_event events[LOOP_MAX_EVENTS];
	while (!loop->stopping) {
		int n = epoll_wait(loop->epfd, events, LOOP_MAX_EVENTS, loop_next_timeout(loop));
		uint64_t started_ns = loop_clock_ns();
		loop->now_ms = started_ns / 1000000u; /* monotonic_ms */
		if (n < 0 && errno != EINTR)
			log_fatal("event=fatal what=epoll_wait error=\"%s\"", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct loop_fd *lfd = events[i].data.ptr;
			/* A callback earlier in this batch may have removed it;
			 * its owner is freed only after the batch (loop_defer). */
			if (lfd->fd < 0)
				continue;
			lfd->cb(lfd->ctx, loop_events_from_epoll(events[i].events));
		}
		loop_run_deferred(loop);
		loop_run_timers(loop);
		loop_run_deferred(loop);
		loop_run_bulk_round(loop, started_ns);
	}
}

size_t loop_drain(struct loop *loop)
{
	size_t n = loop_run_posted(loop);
	n += loop_run_deferred(loop);
	while (loop_run_one_bulk(loop))
		n += 1 + loop_run_deferred(loop);
	return n;
}
