/* test_seqset: unit tests for sequence sets.
 *
 * A table of valid and invalid sets, then randomized sets over 1..200
 * checked against a reference model (a bitmap) for resolve, contains,
 * count and format. */
#include "imap/seqset.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/test.h"

TEST_STATE_DEFINE;

struct valid_case {
	const char *in;
	const char *parsed; /* format() before resolve: ranges in client order */
	uint32_t star;
	const char *resolved; /* format() after resolve(star) */
	uint64_t count;
};

static const struct valid_case valid_cases[] = {
    {"1", "1", 10, "1", 1},
    {"1:2", "1:2", 10, "1:2", 2},
    {"2:1", "1:2", 10, "1:2", 2},
    {"3:3", "3", 10, "3", 1},
    {"*", "*", 10, "10", 1},
    {"1:*", "1:*", 10, "1:10", 10},
    {"*:1", "1:*", 10, "1:10", 10},
    {"*:*", "*", 7, "7", 1},
    {"*:20", "20:*", 10, "10:20", 11},
    {"20:*", "20:*", 10, "10:20", 11},
    {"1,2,3", "1,2,3", 10, "1:3", 3},
    {"3,1,2", "3,1,2", 10, "1:3", 3},
    {"1,3,5", "1,3,5", 10, "1,3,5", 3},
    {"5:7,1:3,2:6", "5:7,1:3,2:6", 10, "1:7", 7},
    {"1:3,5,7:9", "1:3,5,7:9", 100, "1:3,5,7:9", 7},
    {"9:7,5,3:1", "7:9,5,1:3", 100, "1:3,5,7:9", 7},
    {"1,1,1", "1,1,1", 10, "1", 1},
    {"1:4,4:8", "1:4,4:8", 10, "1:8", 8},
    {"1:4,5:8", "1:4,5:8", 10, "1:8", 8},
    {"1:4,6:8", "1:4,6:8", 10, "1:4,6:8", 7},
    {"1,*", "1,*", 1, "1", 1},
    {"4294967294", "4294967294", 10, "4294967294", 1},
    {"4294967294:*", "4294967294:*", 10, "10:4294967294", 4294967285ULL},
    {"1:4294967294", "1:4294967294", 10, "1:4294967294", 4294967294ULL},
    {"1:*", "1:*", 4294967295U, "1:*", 4294967295ULL},
    {"4294967294,*", "4294967294,*", 4294967295U, "4294967294:*", 2},
    /* Empty mailbox: "*" is 0, which names nothing. */
    {"*", "*", 0, "", 0},
    {"1:*", "1:*", 0, "1", 1},
    {"3:*,5", "3:*,5", 0, "1:3,5", 4},
    {"$", "$", 10, "$", 0},
};

static const char *const invalid_cases[] = {
    "",
    "0",
    "0:1",
    "1:0",
    "00",
    "01",
    "1:01",
    "010",
    "4294967296",
    "1:4294967296",
    "99999999999999999999",
    "18446744073709551617",
    "1,,2",
    "1,",
    ",1",
    ",",
    ":",
    "1:",
    ":1",
    "1:2:3",
    "1::2",
    "**",
    "*1",
    "1*",
    "a",
    "1a",
    "1 ",
    " 1",
    "1, 2",
    "+1",
    "-1",
    "1.2",
    "1;2",
    "$1",
    "$,1",
    "1,$",
    "$$",
    "$:1",
    "1:$",
    "*:*:*",
    "1\xc3\xa9",
    "\xef\xbc\x91", /* a full-width digit one */
};

static void test_valid(void)
{
	struct arena a;
	char out[128];

	arena_init(&a, 0);
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		const struct valid_case *vc = &valid_cases[i];
		struct seqset set;
		const char *error = NULL;
		test_begin("seqset: valid set");
		if (seqset_parse(vc->in, strlen(vc->in), &a, &set, &error) != 0) {
			fprintf(stderr, "  \"%s\" rejected: %s\n", vc->in, error);
			test_assert(!"parse failed");
			test_end();
			continue;
		}
		test_assert(set.is_saved == (strcmp(vc->in, "$") == 0));
		test_assert(seqset_format(&set, out, sizeof(out)) == strlen(vc->parsed));
		test_assert_str(out, vc->parsed);
		seqset_resolve(&set, vc->star);
		test_assert(seqset_format(&set, out, sizeof(out)) == strlen(vc->resolved));
		test_assert_str(out, vc->resolved);
		test_assert(seqset_count(&set) == vc->count);
		test_end();
	}
	arena_release(&a);
}

static void test_invalid(void)
{
	struct arena a;

	arena_init(&a, 0);
	for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
		const char *in = invalid_cases[i];
		struct seqset set;
		const char *error = NULL;
		test_begin("seqset: invalid set");
		if (seqset_parse(in, strlen(in), &a, &set, &error) == 0)
			fprintf(stderr, "  \"%s\" accepted\n", in);
		else
			test_assert(error != NULL && error[0] != '\0');
		test_assert(seqset_parse(in, strlen(in), &a, &set, NULL) == -1);
		test_end();
	}
	/* The length is authoritative: bytes after it are not read, and a NUL
	 * inside is junk. */
	test_begin("seqset: explicit length");
	struct seqset set;
	const char *error;
	test_assert(seqset_parse("1:5,junk", 3, &a, &set, &error) == 0);
	test_assert(set.count == 1 && set.ranges[0].lo == 1 && set.ranges[0].hi == 5);
	test_assert(seqset_parse("1\0", 2, &a, &set, &error) == -1);
	test_assert(seqset_parse("1,\0"
	                         "2",
	                         4, &a, &set, &error) == -1);
	test_end();
	arena_release(&a);
}

static void test_contains_edges(void)
{
	struct arena a;
	struct seqset set;
	const char *error;

	arena_init(&a, 0);
	test_begin("seqset: contains at the edges");
	test_assert(seqset_parse("2:4,10,4294967290:*", 19, &a, &set, &error) == 0);
	seqset_resolve(&set, 4294967295U);
	test_assert(set.count == 3);
	test_assert(!seqset_contains(&set, 0));
	test_assert(!seqset_contains(&set, 1));
	test_assert(seqset_contains(&set, 2) && seqset_contains(&set, 3));
	test_assert(seqset_contains(&set, 4) && !seqset_contains(&set, 5));
	test_assert(!seqset_contains(&set, 9) && seqset_contains(&set, 10));
	test_assert(!seqset_contains(&set, 11));
	test_assert(!seqset_contains(&set, 4294967289U));
	test_assert(seqset_contains(&set, 4294967290U));
	test_assert(seqset_contains(&set, 4294967295U));
	test_assert(seqset_count(&set) == 3 + 1 + 6);
	test_end();

	test_begin("seqset: saved result");
	test_assert(seqset_parse("$", 1, &a, &set, &error) == 0);
	test_assert(set.is_saved && set.count == 0);
	seqset_resolve(&set, 5);
	test_assert(!seqset_contains(&set, 1) && seqset_count(&set) == 0);
	test_end();
	arena_release(&a);
}

static void test_format_truncation(void)
{
	struct arena a;
	struct seqset set;
	const char *error;
	char out[8];

	arena_init(&a, 0);
	test_begin("seqset: format truncates like snprintf");
	test_assert(seqset_parse("1:3,5,7:9", 9, &a, &set, &error) == 0);
	memset(out, 'x', sizeof(out));
	test_assert(seqset_format(&set, out, 5) == 9);
	test_assert_str(out, "1:3,");
	test_assert(out[5] == 'x');
	test_assert(seqset_format(&set, out, 1) == 9 && out[0] == '\0');
	test_assert(seqset_format(&set, NULL, 0) == 9);
	test_assert(seqset_format(&set, out, 8) == 9);
	test_assert_str(out, "1:3,5,7");
	test_end();
	arena_release(&a);
}

/* --- randomized sets against a bitmap over 1..200 --- */

#define MODEL_MAX 200

static unsigned rng_state = 4242;
static unsigned rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) & 0x7fff;
}

/* A number 1..MODEL_MAX, or "*" (UINT32_MAX) now and then. */
static uint32_t random_number(void)
{
	return rng() % 8 == 0 ? SEQ_STAR : 1 + rng() % MODEL_MAX;
}

static void put_number(struct buf *b, uint32_t n)
{
	if (n == SEQ_STAR)
		buf_append_str(b, "*");
	else
		buf_printf(b, "%u", n);
}

/* Builds a random set string and marks the model: "*" is star, and 0
 * (the "*" of an empty mailbox) names nothing. */
static void random_set(struct buf *b, bool model[MODEL_MAX + 2], uint32_t star)
{
	unsigned elements = 1 + rng() % 6;

	memset(model, 0, (MODEL_MAX + 2) * sizeof(model[0]));
	for (unsigned e = 0; e < elements; e++) {
		uint32_t x = random_number(), y = rng() % 2 ? random_number() : x;
		if (e > 0)
			buf_append_str(b, ",");
		put_number(b, x);
		if (y != x || rng() % 4 == 0) {
			buf_append_str(b, ":");
			put_number(b, y);
		}
		uint32_t rx = x == SEQ_STAR ? star : x, ry = y == SEQ_STAR ? star : y;
		uint32_t lo = rx < ry ? rx : ry, hi = rx < ry ? ry : rx;
		for (uint32_t n = lo; n <= hi; n++)
			model[n] = n != 0;
	}
}

/* The canonical form of the model. */
static void model_format(const bool model[MODEL_MAX + 2], struct buf *b)
{
	for (uint32_t n = 1; n <= MODEL_MAX + 1; n++) {
		if (!model[n])
			continue;
		uint32_t end = n;
		while (end + 1 <= MODEL_MAX + 1 && model[end + 1])
			end++;
		if (b->len > 0)
			buf_append_str(b, ",");
		if (end == n)
			buf_printf(b, "%u", n);
		else
			buf_printf(b, "%u:%u", n, end);
		n = end;
	}
}

static bool check_random_set(struct arena *a, uint32_t star)
{
	bool model[MODEL_MAX + 2];
	struct buf in = {0}, want = {0};
	struct seqset set, again;
	const char *error;
	char out[1024];
	bool ok = true;
	uint64_t count = 0;

	random_set(&in, model, star);
	model_format(model, &want);
	if (seqset_parse(in.data, in.len, a, &set, &error) != 0)
		ok = false;
	if (ok) {
		seqset_resolve(&set, star);
		for (uint32_t n = 0; n <= MODEL_MAX + 1; n++) {
			ok = ok && seqset_contains(&set, n) == model[n];
			count += model[n];
		}
		ok = ok && seqset_count(&set) == count;
		/* sorted, disjoint, not touching */
		for (size_t i = 0; i + 1 < set.count; i++)
			ok = ok && set.ranges[i].hi + 1 < set.ranges[i + 1].lo;
		size_t len = seqset_format(&set, out, sizeof(out));
		ok = ok && len == want.len && strcmp(out, want.data ? want.data : "") == 0;
		/* round trip: the canonical form parses to itself */
		if (ok && len > 0) {
			ok = seqset_parse(out, len, a, &again, &error) == 0;
			ok = ok && again.count == set.count;
			for (size_t i = 0; ok && i < set.count; i++)
				ok = again.ranges[i].lo == set.ranges[i].lo &&
				     again.ranges[i].hi == set.ranges[i].hi;
		}
	}
	if (!ok)
		fprintf(stderr, "  set \"%s\" star %u: want \"%s\" got \"%s\"\n", in.data, star,
		        want.data ? want.data : "", out);
	buf_release(&in);
	buf_release(&want);
	return ok;
}

static void test_random_model(void)
{
	struct arena a;

	arena_init(&a, 0);
	test_begin("seqset: random sets against a bitmap model");
	for (int i = 0; i < 5000; i++) {
		uint32_t star = rng() % 10 == 0 ? 0 : rng() % (MODEL_MAX + 1);
		if (!check_random_set(&a, star)) {
			test_assert(!"random set differs from the model");
			break;
		}
		if (i % 500 == 0)
			arena_reset(&a);
	}
	test_end();
	arena_release(&a);
}

int main(void)
{
	test_valid();
	test_invalid();
	test_contains_edges();
	test_format_truncation();
	test_random_model();
	return test_done();
}
