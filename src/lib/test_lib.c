/* test_lib: buf, arena and log_escape. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/test.h"

TEST_STATE_DEFINE;

static void test_buf_fifo(void)
{
	test_begin("buf: append/consume behaves as a FIFO and releases memory");
	struct buf b = {0};
	char ref[70000];
	size_t ref_r = 0, ref_w = 0;
	srand(7);
	for (int round = 0; round < 2000; round++) {
		char chunk[100];
		size_t n = (size_t)(rand() % 100);
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)rand();
		if (ref_w + n < sizeof(ref)) {
			buf_append(&b, chunk, n);
			memcpy(ref + ref_w, chunk, n);
			ref_w += n;
		}
		size_t take = (size_t)(rand() % 120);
		if (take > ref_w - ref_r)
			take = ref_w - ref_r;
		test_assert(buf_rlen(&b) == ref_w - ref_r);
		test_assert(memcmp(buf_rdata(&b), ref + ref_r, buf_rlen(&b)) == 0);
		buf_consume(&b, take);
		ref_r += take;
	}
	buf_release(&b);
	test_assert(b.data == NULL && b.cap == 0 && buf_rlen(&b) == 0);
	test_end();
}

static void test_buf_empty(void)
{
	test_begin("buf: an empty buffer reads as an empty string");
	struct buf b = {0};
	test_assert(buf_rlen(&b) == 0 && buf_rdata(&b) != NULL && buf_rdata(&b)[0] == '\0');
	buf_append(&b, "", 0);
	test_assert(b.data == NULL);
	test_end();
}

static void test_buf_printf(void)
{
	test_begin("buf: printf of short and long strings");
	struct buf b = {0};
	buf_printf(&b, "%s-%d", "ab", 12);
	test_assert(b.len == 5 && memcmp(b.data, "ab-12", 5) == 0);
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "[%s]", big);
	test_assert(b.len == 5 + 1001);
	test_assert(b.data[5] == '[' && b.data[b.len - 1] == ']');
	buf_release(&b);
	test_end();
}

static void test_arena(void)
{
	test_begin("arena: aligned, distinct, large allocations, reset");
	struct arena a;
	arena_init(&a, 128);
	char *prev = NULL;
	for (int i = 1; i < 300; i++) {
		char *p = arena_alloc(&a, (size_t)i);
		test_assert(((uintptr_t)p & 7) == 0);
		memset(p, i & 0xff, (size_t)i);
		test_assert(p != prev);
		prev = p;
	}
	char *big = arena_alloc(&a, 10000);
	memset(big, 1, 10000);
	char *s = arena_strndup(&a, "hello world", 5);
	test_assert(strcmp(s, "hello") == 0);
	arena_reset(&a);
	test_assert(a.used_total == 0);
	char *z = arena_zalloc(&a, 64);
	for (int i = 0; i < 64; i++)
		test_assert(z[i] == 0);
	arena_release(&a);
	test_assert(a.head == NULL);
	test_end();
}

static void test_log_escape(void)
{
	test_begin("log_escape: quotes, escapes control and 8-bit bytes, truncates");
	char out[64];
	log_escape(out, sizeof(out), "a\"b\\c\r\n\x01\xff", 9);
	test_assert_str(out, "\"a\\\"b\\\\c\\x0d\\x0a\\x01\\xff\"");
	char longin[200];
	memset(longin, 'y', sizeof(longin));
	log_escape(out, sizeof(out), longin, sizeof(longin));
	test_assert(strlen(out) < sizeof(out));
	test_assert(strstr(out, "...\"") != NULL);
	test_end();
}

static void test_log_level(void)
{
	test_begin("log levels parse");
	enum log_level l;
	test_assert(log_level_parse("debug", &l) == 0 && l == LOG_DEBUG);
	test_assert(log_level_parse("WARN", &l) == 0 && l == LOG_WARN);
	test_assert(log_level_parse("loud", &l) < 0);
	test_end();
}

int main(void)
{
	test_buf_fifo();
	test_buf_empty();
	test_buf_printf();
	test_arena();
	test_log_escape();
	test_log_level();
	return test_done();
}
