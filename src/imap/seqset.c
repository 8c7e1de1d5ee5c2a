/* seqset: IMAP sequence sets (contract in seqset.h).
 *
 * A parsed set is an array of ranges in the order the client wrote them,
 * each with lo <= hi, where SEQ_STAR (UINT32_MAX) stands for "*". Since
 * "*" is the largest value, swapping a:b into order is right before "*" is
 * known too ("*:4" is stored 4:*). seqset_resolve() substitutes "*",
 * swaps again where that broke the order, then sorts and merges, so that
 * afterwards the ranges ascend with gaps between them: contains() is a
 * binary search and format() prints the canonical form.
 *
 * Note: 4294967295 is a valid nz-number and is indistinguishable from "*"
 * (as in other servers); no mailbox reaches that number in practice. */
#include "imap/seqset.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int seq_fail(const char **error_r, const char *text)
{
	if (error_r != NULL)
		*error_r = text;
	return -1;
}

/* seq-number = nz-number / "*" at s[*pos]; advances *pos. */
static int parse_number(const char *s, size_t len, size_t *pos, uint32_t *num_r,
                        const char **error_r)
{
	size_t i = *pos;
	uint64_t n = 0;

	if (i < len && s[i] == '*') {
		*num_r = SEQ_STAR;
		*pos = i + 1;
		return 0;
	}
	if (i == len || s[i] < '0' || s[i] > '9')
		return seq_fail(error_r, "Invalid sequence set");
	/* nz-number = digit-nz *DIGIT: no 0, no leading zero */
	if (s[i] == '0')
		return seq_fail(error_r, i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9'
		                             ? "Leading zero in sequence number"
		                             : "Sequence number 0 is invalid");
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > UINT32_MAX)
			return seq_fail(error_r, "Sequence number too large");
	}
	*num_r = (uint32_t)n;
	*pos = i;
	return 0;
}

int seqset_parse(const char *s, size_t len, struct arena *a, struct seqset *set_r,
                 const char **error_r)
{
	size_t n = 1, count = 0, pos = 0;

	memset(set_r, 0, sizeof(*set_r));
	if (len == 1 && s[0] == '$') { /* RFC 5182 §2 */
		set_r->is_saved = true;
		return 0;
	}
	if (len == 0)
		return seq_fail(error_r, "Empty sequence set");
	for (size_t i = 0; i < len; i++)
		n += s[i] == ',';
	struct seq_range *ranges = arena_alloc(a, n * sizeof(*ranges));
	for (;;) {
		uint32_t lo, hi;
		if (parse_number(s, len, &pos, &lo, error_r) < 0)
			return -1;
		hi = lo;
		if (pos < len && s[pos] == ':') {
			pos++;
			if (parse_number(s, len, &pos, &hi, error_r) < 0)
				return -1;
		}
		/* RFC 9051 §9 seq-range: 4:2 and 2:4 are the same. */
		ranges[count].lo = lo < hi ? lo : hi;
		ranges[count].hi = lo < hi ? hi : lo;
		count++;
		if (pos == len)
			break;
		if (s[pos] != ',')
			return seq_fail(error_r, "Invalid sequence set");
		pos++;
	}
	set_r->ranges = ranges;
	set_r->count = count;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct seq_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

/* Substitutes "*" and drops 0, which only an empty mailbox's "*" yields
 * (sequence numbers and UIDs start at 1). Returns the ranges kept. */
static size_t resolve_star(struct seqset *set, uint32_t star)
{
	size_t out = 0;

	for (size_t i = 0; i < set->count; i++) {
		struct seq_range r = set->ranges[i];
		if (r.lo == SEQ_STAR)
			r.lo = star;
		if (r.hi == SEQ_STAR)
			r.hi = star;
		if (r.lo > r.hi) { /* RFC 9051 §9: "*:4" with 3 messages is 3:4 */
			uint32_t t = r.lo;
			r.lo = r.hi;
			r.hi = t;
		}
		if (r.hi == 0)
			continue;
		if (r.lo == 0)
			r.lo = 1;
		set->ranges[out++] = r;
	}
	return out;
}

void seqset_resolve(struct seqset *set, uint32_t star)
{
	size_t n = resolve_star(set, star), out = 0;

	if (n > 1)
		qsort(set->ranges, n, sizeof(set->ranges[0]), range_cmp);
	for (size_t i = 0; i < n; i++) {
		struct seq_range r = set->ranges[i];
		/* Merge overlapping and touching ranges (64-bit: hi + 1 may be 2^32). */
		if (out > 0 && (uint64_t)r.lo <= (uint64_t)set->ranges[out - 1].hi + 1) {
			if (r.hi > set->ranges[out - 1].hi)
				set->ranges[out - 1].hi = r.hi;
			continue;
		}
		set->ranges[out++] = r;
	}
	set->count = out;
}

bool seqset_contains(const struct seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (n < set->ranges[mid].lo)
			hi = mid;
		else if (n > set->ranges[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t seqset_count(const struct seqset *set)
{
	uint64_t total = 0;

	for (size_t i = 0; i < set->count; i++)
		total += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return total;
}

/* Appends s[0..len) at dst[pos] as far as it fits (keeping room for the
 * NUL); returns the new logical length. */
static size_t put(char *dst, size_t cap, size_t pos, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (pos + i + 1 < cap)
			dst[pos + i] = s[i];
	}
	return pos + len;
}

static size_t put_number(char *dst, size_t cap, size_t pos, uint32_t n)
{
	char tmp[16];
	int len;

	if (n == SEQ_STAR)
		return put(dst, cap, pos, "*", 1);
	len = snprintf(tmp, sizeof(tmp), "%" PRIu32, n);
	return put(dst, cap, pos, tmp, (size_t)len);
}

size_t seqset_format(const struct seqset *set, char *dst, size_t cap)
{
	size_t pos = 0;

	if (set->is_saved)
		pos = put(dst, cap, pos, "$", 1);
	for (size_t i = 0; i < set->count; i++) {
		if (pos > 0)
			pos = put(dst, cap, pos, ",", 1);
		pos = put_number(dst, cap, pos, set->ranges[i].lo);
		if (set->ranges[i].hi != set->ranges[i].lo) {
			pos = put(dst, cap, pos, ":", 1);
			pos = put_number(dst, cap, pos, set->ranges[i].hi);
		}
	}
	if (cap > 0)
		dst[pos < cap ? pos : cap - 1] = '\0';
	return pos;
}
