/* rate: the arithmetic behind roost's rate limits, with an explicit clock.
 *
 * Two shapes, both O(1) in memory and time and both driven by a caller's
 * monotonic now_ms (so unit tests use a fake clock):
 *
 *  - rate_bucket, a token bucket (burst + sustained rate). A take always
 *    succeeds and may leave the level negative: the debt is the time the
 *    caller must wait (rate_bucket_take returns it), which is exactly how
 *    long it takes the bucket to refill to zero. Levels are kept in
 *    milli-tokens so rates below one token per millisecond stay exact.
 *
 *  - rate_window, a rolling-window counter (the two-window estimate:
 *    count = previous window * the part of it still inside the rolling
 *    window + current window). Used for bytes per window (download and
 *    upload shaping) and connection attempts per minute.
 *
 * Invariants: last_ms never moves backwards (an earlier now_ms is taken
 * as last_ms); a bucket's level never exceeds burst. Not thread-safe: the
 * caller holds the lock of the state that embeds them. */
#ifndef ROOST_LIMITS_RATE_H
#define ROOST_LIMITS_RATE_H

#include <stdbool.h>
#include <stdint.h>

struct rate_bucket {
	int64_t level_milli; /* tokens * 1000; negative = debt */
	uint64_t last_ms;
	bool started;
};

/* Refills b to now_ms at rate tokens per second, up to burst tokens (a new
 * bucket starts full). */
void rate_bucket_refill(struct rate_bucket *b, unsigned rate, unsigned burst, uint64_t now_ms);
/* Takes cost tokens and returns the wait in ms before the taker is back
 * under the rate (0: none). rate 0 means unlimited (returns 0). */
uint64_t rate_bucket_take(struct rate_bucket *b, unsigned rate, unsigned burst, unsigned cost,
			  uint64_t now_ms);
/* Gives back tokens a refused taker did not use. */
void rate_bucket_give(struct rate_bucket *b, unsigned burst, unsigned cost);
/* Milliseconds until one whole token is available (0: now). */
uint64_t rate_bucket_wait_one(const struct rate_bucket *b, unsigned rate);
/* Whether the bucket is full at now_ms (nothing to remember). */
bool rate_bucket_full(const struct rate_bucket *b, unsigned rate, unsigned burst,
		      uint64_t now_ms);

struct rate_window {
	uint64_t start_ms; /* start of the current window */
	uint64_t cur, prev;
	bool started;
};

/* Adds n to the window of length window_ms at now_ms. */
void rate_window_add(struct rate_window *w, uint64_t window_ms, uint64_t n, uint64_t now_ms);
/* The rolling count at now_ms. */
uint64_t rate_window_count(struct rate_window *w, uint64_t window_ms, uint64_t now_ms);
/* Milliseconds from now_ms until the rolling count is at most limit
 * (0: it is already). */
uint64_t rate_window_wait(struct rate_window *w, uint64_t window_ms, uint64_t limit,
			  uint64_t now_ms);

#endif
