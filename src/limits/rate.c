/* rate: token bucket and rolling-window arithmetic (see rate.h). */
#include "limits/rate.h"

static int64_t rate_burst_milli(unsigned burst)
{
	return (int64_t)(burst > 0 ? burst : 1) * 1000;
}

void rate_bucket_refill(struct rate_bucket *b, unsigned rate, unsigned burst, uint64_t now_ms)
{
	int64_t full = rate_burst_milli(burst);
	if (!b->started) {
		b->started = true;
		b->level_milli = full;
		b->last_ms = now_ms;
		return;
	}
	if (now_ms <= b->last_ms)
		return;
	uint64_t elapsed = now_ms - b->last_ms;
	b->last_ms = now_ms;
	/* rate tokens/s = rate milli-tokens/ms. Cap elapsed so the product
	 * cannot overflow (a day refills any bucket). */
	if (elapsed > 86400000ull)
		elapsed = 86400000ull;
	int64_t level = b->level_milli + (int64_t)elapsed * (int64_t)rate;
	b->level_milli = level > full ? full : level;
}

uint64_t rate_bucket_take(struct rate_bucket *b, unsigned rate, unsigned burst, unsigned cost,
			  uint64_t now_ms)
{
	if (rate == 0)
		return 0;
	rate_bucket_refill(b, rate, burst, now_ms);
	b->level_milli -= (int64_t)cost * 1000;
	if (b->level_milli >= 0)
		return 0;
	/* Round up: waiting a millisecond too little would leave a debt. */
	return (uint64_t)((-b->level_milli + rate - 1) / rate);
}

void rate_bucket_give(struct rate_bucket *b, unsigned burst, unsigned cost)
{
	int64_t full = rate_burst_milli(burst);
	b->level_milli += (int64_t)cost * 1000;
	if (b->level_milli > full)
		b->level_milli = full;
}

uint64_t rate_bucket_wait_one(const struct rate_bucket *b, unsigned rate)
{
	if (rate == 0 || b->level_milli >= 1000)
		return 0;
	return (uint64_t)((1000 - b->level_milli + rate - 1) / rate);
}

bool rate_bucket_full(const struct rate_bucket *b, unsigned rate, unsigned burst,
		      uint64_t now_ms)
{
	if (!b->started || rate == 0)
		return true;
	uint64_t elapsed = now_ms > b->last_ms ? now_ms - b->last_ms : 0;
	if (elapsed > 86400000ull)
		return true;
	return b->level_milli + (int64_t)elapsed * (int64_t)rate >= rate_burst_milli(burst);
}

/* Moves the window forward to the one containing now_ms. */
static void rate_window_roll(struct rate_window *w, uint64_t window_ms, uint64_t now_ms)
{
	if (window_ms == 0)
		window_ms = 1;
	if (!w->started) {
		w->started = true;
		w->start_ms = now_ms;
		w->cur = w->prev = 0;
		return;
	}
	if (now_ms < w->start_ms + window_ms)
		return;
	uint64_t windows = (now_ms - w->start_ms) / window_ms;
	w->prev = windows == 1 ? w->cur : 0;
	w->cur = 0;
	w->start_ms += windows * window_ms;
}

void rate_window_add(struct rate_window *w, uint64_t window_ms, uint64_t n, uint64_t now_ms)
{
	rate_window_roll(w, window_ms, now_ms);
	w->cur += n;
}

/* The part of the previous window still inside the rolling window. */
static uint64_t rate_window_prev_share(const struct rate_window *w, uint64_t window_ms,
				       uint64_t now_ms)
{
	uint64_t elapsed = now_ms > w->start_ms ? now_ms - w->start_ms : 0;
	if (elapsed >= window_ms)
		return 0;
	/* prev * (window - elapsed) / window without overflow for sane sizes. */
	return (uint64_t)(((unsigned __int128)w->prev * (window_ms - elapsed)) / window_ms);
}

uint64_t rate_window_count(struct rate_window *w, uint64_t window_ms, uint64_t now_ms)
{
	if (window_ms == 0)
		window_ms = 1;
	rate_window_roll(w, window_ms, now_ms);
	return rate_window_prev_share(w, window_ms, now_ms) + w->cur;
}

/* The elapsed time e in a window at which prev * (W - e) / W <= room. */
static uint64_t rate_window_decay_at(uint64_t prev, uint64_t window_ms, uint64_t room)
{
	if (prev <= room)
		return 0;
	/* e >= W * (prev - room) / prev, rounded up. */
	unsigned __int128 num = (unsigned __int128)window_ms * (prev - room);
	return (uint64_t)((num + prev - 1) / prev);
}

uint64_t rate_window_wait(struct rate_window *w, uint64_t window_ms, uint64_t limit,
			  uint64_t now_ms)
{
	if (window_ms == 0)
		window_ms = 1;
	if (rate_window_count(w, window_ms, now_ms) <= limit)
		return 0;
	uint64_t elapsed = now_ms - w->start_ms;
	if (w->cur <= limit) {
		/* The previous window's share has to fade. */
		uint64_t at = rate_window_decay_at(w->prev, window_ms, limit - w->cur);
		return at > elapsed ? at - elapsed : 1;
	}
	/* The current window alone is over: wait for it to become the
	 * previous one, then for enough of it to fade. */
	return (window_ms - elapsed) + rate_window_decay_at(w->cur, window_ms, limit);
}
