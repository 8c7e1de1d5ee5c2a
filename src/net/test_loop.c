/* test_loop: the timer heap against a reference model, cross-thread
 * posting, deferred ordering. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/test.h"
#include "net/loop.h"

TEST_STATE_DEFINE;

#define N_TIMERS 500

struct fire_log {
	int order[N_TIMERS];
	int count;
	struct loop *loop;
	int expected;
};

struct tctx {
	struct fire_log *log;
	int id;
};

static void on_fire(void *arg)
{
	struct tctx *t = arg;
	t->log->order[t->log->count++] = t->id;
	if (t->log->count == t->log->expected)
		loop_stop(t->log->loop);
}

static void test_timer_heap(void)
{
	test_begin("timers fire in deadline order, stopped ones never");
	struct loop *loop = loop_new(0);
	static struct timer timers[N_TIMERS];
	static struct tctx ctxs[N_TIMERS];
	static int delay[N_TIMERS];
	bool stopped[N_TIMERS] = {false};
	struct fire_log log = {.loop = loop};
	srand(42);
	for (int i = 0; i < N_TIMERS; i++) {
		timer_init(&timers[i]);
		ctxs[i] = (struct tctx){&log, i};
		delay[i] = (rand() % 50) * 2 + (i % 2); /* distinct parity: ties broken below */
		timer_start(loop, &timers[i], (uint64_t)delay[i], on_fire, &ctxs[i]);
	}
	for (int i = 0; i < N_TIMERS; i += 3) {
		timer_stop(loop, &timers[i]);
		stopped[i] = true;
	}
	log.expected = N_TIMERS - (N_TIMERS + 2) / 3;
	loop_run(loop);
	test_assert(log.count == log.expected);
	for (int i = 0; i < log.count; i++) {
		test_assert(!stopped[log.order[i]]);
		if (i > 0)
			test_assert(delay[log.order[i - 1]] <= delay[log.order[i]]);
	}
	for (int i = 0; i < N_TIMERS; i++)
		test_assert(!timer_active(&timers[i]));
	loop_free(&loop);
	test_end();
}

static void test_timer_restart(void)
{
	test_begin("restarting an active timer moves it");
	struct loop *loop = loop_new(0);
	struct timer a, b;
	struct fire_log log = {.loop = loop, .expected = 2};
	struct tctx ca = {&log, 1}, cb = {&log, 2};
	timer_init(&a);
	timer_init(&b);
	timer_start(loop, &a, 5, on_fire, &ca);
	timer_start(loop, &b, 20, on_fire, &cb);
	timer_start(loop, &a, 40, on_fire, &ca);
	test_assert(timer_active(&a));
	loop_run(loop);
	test_assert(log.count == 2 && log.order[0] == 2 && log.order[1] == 1);
	loop_free(&loop);
	test_end();
}

struct post_ctx {
	struct loop *loop;
	int received;
	int total;
};

static void on_post(void *arg)
{
	struct post_ctx *p = arg;
	if (++p->received == p->total)
		loop_stop(p->loop);
}

static void *poster(void *arg)
{
	struct post_ctx *p = arg;
	for (int i = 0; i < 1000; i++)
		loop_post(p->loop, on_post, p);
	return NULL;
}

static void test_post(void)
{
	test_begin("loop_post from four threads delivers every task on the loop");
	struct post_ctx p = {.loop = loop_new(0), .total = 4000};
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, poster, &p);
	loop_run(p.loop);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	test_assert(p.received == 4000);
	loop_free(&p.loop);
	test_end();
}

struct defer_ctx {
	struct loop *loop;
	int seq[3];
	int n;
};

static void defer_b(void *arg)
{
	struct defer_ctx *d = arg;
	d->seq[d->n++] = 2;
	loop_stop(d->loop);
}

static void defer_a(void *arg)
{
	struct defer_ctx *d = arg;
	d->seq[d->n++] = 1;
	loop_defer(d->loop, defer_b, d); /* deferred from deferred: same round */
}

static void kick(void *arg)
{
	struct defer_ctx *d = arg;
	d->seq[d->n++] = 0;
	loop_defer(d->loop, defer_a, d);
}

static void test_defer(void)
{
	test_begin("deferred tasks run after the batch, in order, including nested ones");
	struct defer_ctx d = {.loop = loop_new(0)};
	loop_post(d.loop, kick, &d);
	loop_run(d.loop);
	test_assert(d.n == 3 && d.seq[0] == 0 && d.seq[1] == 1 && d.seq[2] == 2);
	loop_free(&d.loop);
	test_end();
}

struct bulk_ctx {
	struct loop *loop;
	struct loop_fd lfd;
	int rfd;
	char log[64];
	int n;
	int left[2]; /* slices left for streams 'A' and 'B' */
	int fbytes;  /* bytes the descriptor's callback read */
	unsigned slice_us; /* how long each slice takes */
};

static void bulk_a(void *arg);
static void bulk_b(void *arg);

static void bulk_done_check(struct bulk_ctx *b)
{
	if (b->left[0] == 0 && b->left[1] == 0 && b->fbytes == 8)
		loop_stop(b->loop);
}

static void bulk_slice(struct bulk_ctx *b, int i)
{
	b->log[b->n++] = (char)('A' + i);
	if (b->slice_us > 0)
		usleep(b->slice_us);
	if (--b->left[i] > 0)
		loop_post_bulk(b->loop, i == 0 ? bulk_a : bulk_b, b);
	bulk_done_check(b);
}

static void bulk_a(void *arg) { bulk_slice(arg, 0); }
static void bulk_b(void *arg) { bulk_slice(arg, 1); }

/* One byte per event: level-triggered, ready again next iteration. */
static void bulk_fd_cb(void *arg, unsigned events)
{
	struct bulk_ctx *b = arg;
	char c;
	(void)events;
	if (read(b->rfd, &c, 1) == 1) {
		b->log[b->n++] = 'F';
		b->fbytes++;
	}
	bulk_done_check(b);
}

/* Two streams of three slices each (slice_us long) beside a descriptor
 * with 8 one-byte events, rounds of budget_ns; b->log: the order
 * everything ran in. */
static void bulk_run(struct bulk_ctx *b, unsigned slice_us, uint64_t budget_ns)
{
	int p[2];
	test_assert(pipe2(p, O_NONBLOCK) == 0);
	*b = (struct bulk_ctx){.loop = loop_new(0), .rfd = p[0], .left = {3, 3}, .slice_us = slice_us};
	test_assert(write(p[1], "xxxxxxxx", 8) == 8);
	loop_set_bulk_budget(b->loop, budget_ns);
	loop_fd_add(b->loop, &b->lfd, p[0], LOOP_READ, bulk_fd_cb, b);
	loop_post_bulk(b->loop, bulk_a, b);
	loop_post_bulk(b->loop, bulk_b, b);
	loop_run(b->loop);
	b->log[b->n] = '\0';
	loop_fd_del(b->loop, &b->lfd);
	loop_free(&b->loop);
	close(p[0]);
	close(p[1]);
}

static void test_bulk(void)
{
	test_begin("bulk tasks: a round per iteration after ready descriptors, within a budget");
	struct bulk_ctx b;
	/* A budget ample for the round: every stream moves once each
	 * iteration, after the event; a slice posted during the round waits
	 * for the next one. */
	bulk_run(&b, 0, 10000000000ull);
	test_assert(strcmp(b.log, "FABFABFABFFFFF") == 0);
	/* Slices (5 ms) longer than the budget (1 us) and than the event's
	 * own work: one per iteration, the streams taking turns. */
	bulk_run(&b, 5000, 1000);
	test_assert(strcmp(b.log, "FAFBFAFBFAFBFF") == 0);
	test_end();
}

int main(void)
{
	test_timer_heap();
	test_timer_restart();
	test_post();
	test_defer();
	test_bulk();
	return test_done();
}
