/* workpool: a few threads for work that must not run on an event loop
 * (password hashing now; blocking storage calls later).
 *
 * work(ctx) runs on a pool thread; then done(ctx) runs on the loop that
 * submitted it, through loop_post(). The submitter keeps ctx alive until
 * done runs, and done always runs (also during shutdown, before the pool
 * is freed), so callers can count jobs in flight to know when they may
 * free their state. */
#ifndef ROOST_NET_WORKPOOL_H
#define ROOST_NET_WORKPOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "net/loop.h"

struct workpool;

/* Starts `threads` threads (at least 1); name is for logs. */
struct workpool *workpool_new(unsigned threads, const char *name);
/* The same with every thread at the given nice value (10: background
 * work that must not take CPU from the network threads). */
struct workpool *workpool_new_nice(unsigned threads, const char *name, int nice);
/* Queues a job: work(ctx) on a pool thread, then done(ctx) posted to
 * reply_loop. With done NULL nothing is posted (reply_loop may be NULL):
 * fire-and-forget work such as releasing a resource whose release may
 * block; workpool_free still waits for it. Any loop thread. */
void workpool_submit(struct workpool *pool, struct loop *reply_loop, loop_fn *work, loop_fn *done,
		     void *ctx);
/* Jobs waiting (not yet started), for metrics and back-pressure. */
size_t workpool_queued(struct workpool *pool);
/* Blocks until no job is queued or running (every completion of the jobs
 * so far is posted). Returns whether it had to wait. For shutdown: see
 * net_server_quiesce. */
bool workpool_wait_idle(struct workpool *pool);
/* Finishes queued jobs, joins the threads and frees the pool. */
void workpool_free(struct workpool **pool);

#endif
