/* Unit tests for the token bucket and rolling-window arithmetic, on a
 * fake clock. */
#include "lib/test.h"
#include "limits/rate.h"

TEST_STATE_DEFINE;

static void test_bucket_burst_then_rate(void)
{
	test_begin("rate: bucket burst, then the sustained rate");
	struct rate_bucket b = {0};
	uint64_t t = 1000;
	/* burst 5 at 10/s: five free takes, then 100 ms per token */
	for (int i = 0; i < 5; i++)
		test_assert(rate_bucket_take(&b, 10, 5, 1, t) == 0);
	test_assert(rate_bucket_take(&b, 10, 5, 1, t) == 100);
	test_assert(rate_bucket_take(&b, 10, 5, 1, t) == 200);
	/* after waiting out the debt, the next take waits one period again */
	t += 200;
	test_assert(rate_bucket_take(&b, 10, 5, 1, t) == 100);
	/* a long pause refills to the burst, never beyond */
	t += 60000;
	for (int i = 0; i < 5; i++)
		test_assert(rate_bucket_take(&b, 10, 5, 1, t) == 0);
	test_assert(rate_bucket_take(&b, 10, 5, 1, t) > 0);
	test_end();
}

static void test_bucket_give_and_wait_one(void)
{
	test_begin("rate: bucket give back, wait for one token, full");
	struct rate_bucket b = {0};
	test_assert(rate_bucket_full(&b, 4, 2, 0));
	test_assert(rate_bucket_take(&b, 4, 2, 2, 0) == 0);
	test_assert(!rate_bucket_full(&b, 4, 2, 0));
	test_assert(rate_bucket_wait_one(&b, 4) == 250);
	test_assert(rate_bucket_take(&b, 4, 2, 1, 0) == 250);
	rate_bucket_give(&b, 2, 1);
	test_assert(rate_bucket_wait_one(&b, 4) == 250);
	test_assert(rate_bucket_full(&b, 4, 2, 500));
	/* rate 0 = unlimited; an earlier clock does not refill */
	test_assert(rate_bucket_take(&b, 0, 2, 100, 0) == 0);
	struct rate_bucket c = {0};
	test_assert(rate_bucket_take(&c, 1, 1, 1, 5000) == 0);
	test_assert(rate_bucket_take(&c, 1, 1, 1, 4000) == 1000);
	test_end();
}

static void test_window_count(void)
{
	test_begin("rate: rolling window count");
	struct rate_window w = {0};
	rate_window_add(&w, 1000, 100, 0);
	test_assert(rate_window_count(&w, 1000, 500) == 100);
	/* next window: the old one counts for the part still inside */
	test_assert(rate_window_count(&w, 1000, 1250) == 75);
	rate_window_add(&w, 1000, 10, 1250);
	test_assert(rate_window_count(&w, 1000, 1500) == 60);
	/* two windows later everything is forgotten */
	test_assert(rate_window_count(&w, 1000, 3100) == 0);
	test_end();
}

static void test_window_wait(void)
{
	test_begin("rate: rolling window wait");
	struct rate_window w = {0};
	rate_window_add(&w, 1000, 50, 0);
	test_assert(rate_window_wait(&w, 1000, 100, 10) == 0);
	rate_window_add(&w, 1000, 150, 10);
	/* current window alone is 200 > 100: wait for it to roll over (990)
	 * and then half of it to fade (500) */
	uint64_t wait = rate_window_wait(&w, 1000, 100, 10);
	test_assert(wait == 1490);
	test_assert(rate_window_count(&w, 1000, 10 + wait) <= 100);
	test_assert(rate_window_count(&w, 1000, 10 + wait - 20) > 100);
	/* previous window still fading: a shorter wait */
	struct rate_window v = {0};
	rate_window_add(&v, 1000, 200, 0);
	rate_window_add(&v, 1000, 50, 1000);
	wait = rate_window_wait(&v, 1000, 100, 1000);
	test_assert(wait == 750);
	test_assert(rate_window_count(&v, 1000, 1000 + wait) <= 100);
	test_end();
}

int main(void)
{
	test_bucket_burst_then_rate();
	test_bucket_give_and_wait_one();
	test_window_count();
	test_window_wait();
	return test_done();
}
