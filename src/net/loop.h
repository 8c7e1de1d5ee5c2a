/* loop: one event loop per network thread (epoll), with timers and a
 * thread-safe way to hand it work.
 *
 * A loop owns the descriptors registered with it; callbacks run on the
 * loop's thread only. Timers live in a binary min-heap keyed by deadline
 * (O(log n) start/stop, so tens of thousands of idle-timeout timers cost
 * nothing until they fire). loop_post() is the only function that may be
 * called from another thread: it queues a function and wakes the loop
 * through an eventfd. loop_defer() queues work to run after the current
 * batch of events, which is how connections are freed: never inside a
 * callback that may still be using them. */
#ifndef ROOST_NET_LOOP_H
#define ROOST_NET_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

enum {
	LOOP_READ = 1u << 0,
	LOOP_WRITE = 1u << 1,
	LOOP_ERROR = 1u << 2,     /* reported only: hang-up or error on the fd */
	LOOP_EXCLUSIVE = 1u << 3, /* loop_fd_add only: EPOLLEXCLUSIVE (shared listeners) */
};

typedef void loop_fd_cb(void *ctx, unsigned events);

/* A registered descriptor; embed it in the owner's struct. */
struct loop_fd {
	int fd;
	unsigned events; /* current interest */
	loop_fd_cb *cb;
	void *ctx;
};

typedef void loop_fn(void *ctx);

struct timer {
	uint64_t deadline_ms;
	size_t heap_index; /* SIZE_MAX when not running */
	loop_fn *cb;
	void *ctx;
};

/* Creates a loop; id names it in logs. Aborts on failure to create the
 * epoll or eventfd descriptors (nothing can work without them). */
struct loop *loop_new(unsigned id);
void loop_free(struct loop **loop);
unsigned loop_id(const struct loop *loop);

/* Registers fd with interest `events` (LOOP_READ|LOOP_WRITE). The
 * struct must stay valid until loop_fd_del(). Returns 0 or -1 (errno). */
int loop_fd_add(struct loop *loop, struct loop_fd *lfd, int fd, unsigned events, loop_fd_cb *cb,
		void *ctx);
/* Changes the interest set; a no-op when unchanged. */
void loop_fd_set(struct loop *loop, struct loop_fd *lfd, unsigned events);
void loop_fd_del(struct loop *loop, struct loop_fd *lfd);

/* Runs until loop_stop(). */
void loop_run(struct loop *loop);
/* Makes loop_run() return after the current iteration; any thread. */
void loop_stop(struct loop *loop);

/* Thread-safe: run fn(ctx) on the loop's thread soon. */
void loop_post(struct loop *loop, loop_fn *fn, void *ctx);
/* Loop thread only: run fn(ctx) after the current batch of events, in
 * the order queued. */
void loop_defer(struct loop *loop, loop_fn *fn, void *ctx);

/* Loop thread only: run fn(ctx) in a later iteration, after the ready
 * descriptors; each iteration runs the bulk tasks queued so far once,
 * oldest first, within a time budget (the next slice of a long command:
 * other connections go first, and every stream moves each iteration). */
void loop_post_bulk(struct loop *loop, loop_fn *fn, void *ctx);
/* Sets the wall time a round of bulk tasks may take at least (default
 * 1 ms); before loop_run. */
void loop_set_bulk_budget(struct loop *loop, uint64_t ns);

/* Runs whatever is posted or deferred now, without waiting; for the
 * final clean-up after loop_run() has returned. Returns how many tasks
 * ran (0: the loop was quiet). */
size_t loop_drain(struct loop *loop);

/* Milliseconds on a monotonic clock, cached per loop iteration. */
uint64_t loop_now_ms(struct loop *loop);

static inline void timer_init(struct timer *t) { t->heap_index = SIZE_MAX; }
static inline bool timer_active(const struct timer *t) { return t->heap_index != SIZE_MAX; }
/* (Re)starts t to fire once after delay_ms. */
void timer_start(struct loop *loop, struct timer *t, uint64_t delay_ms, loop_fn *cb, void *ctx);
void timer_stop(struct loop *loop, struct timer *t);

#endif
