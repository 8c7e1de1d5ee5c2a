/* test_audit: JSON string escaping (RFC 8259 §7, invalid UTF-8 replaced),
 * the line format, and append + reopen on a real file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/audit.h"
#include "lib/test.h"

TEST_STATE_DEFINE;

/* The escaped form of src[0..len) as a NUL-terminated heap string. */
static char *esc(const char *src, size_t len)
{
	struct buf b = {0};
	audit_json_string(&b, src, len);
	char *r = strndup(buf_rdata(&b), buf_rlen(&b));
	buf_release(&b);
	return r;
}

static void check_esc(const char *src, size_t len, const char *want)
{
	char *got = esc(src, len);
	test_assert_str(got, want);
	free(got);
}

static void test_escape_ascii(void)
{
	test_begin("audit: quotes, backslashes and control characters are escaped");
	check_esc("", 0, "\"\"");
	check_esc("alice", 5, "\"alice\"");
	check_esc("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	check_esc("a\nb\r\t", 5, "\"a\\u000ab\\u000d\\u0009\"");
	check_esc("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
	check_esc("x\0y", 3, "\"x\\u0000y\"");
	check_esc("/ <>&'", 6, "\"/ <>&'\"");
	test_end();
}

static void test_escape_utf8(void)
{
	test_begin("audit: valid UTF-8 passes, invalid bytes become U+FFFD");
	check_esc("K\xc3\xa4se \xe2\x82\xac \xf0\x9f\x90\xa6", 14,
		  "\"K\xc3\xa4se \xe2\x82\xac \xf0\x9f\x90\xa6\"");
	check_esc("\xff", 1, "\"\xef\xbf\xbd\"");
	check_esc("a\xc3", 2, "\"a\xef\xbf\xbd\"");           /* truncated */
	check_esc("\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""); /* overlong */
	check_esc("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
	check_esc("\xf4\x90\x80\x80", 4,
		  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* > U+10FFFF */
	check_esc("\xe2\x82", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	check_esc("\x80x", 2, "\"\xef\xbf\xbdx\"");
	test_end();
}

static void test_format(void)
{
	test_begin("audit: line format, optional fields left out");
	struct buf b = {0};
	struct audit_event ev = {.event = "rename", .sid = 0xabc, .user = "bob\"",
				 .ip = "::1", .mailbox = "A", .to = "B\n", .count = -1};
	audit_format(&b, &ev, 1795428000123ull);
	test_assert_str(buf_rdata(&b),
			"{\"ts\":\"2026-11-23T10:00:00.123Z\",\"event\":\"rename\","
			"\"sid\":\"0000000000000abc\",\"user\":\"bob\\\"\",\"ip\":\"::1\","
			"\"mailbox\":\"A\",\"to\":\"B\\u000a\"}\n");
	buf_release(&b);
	struct audit_event ev2 = {.event = "expunge", .sid = 1, .count = 3};
	audit_format(&b, &ev2, 0);
	test_assert_str(buf_rdata(&b), "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"event\":\"expunge\","
				       "\"sid\":\"0000000000000001\",\"count\":3}\n");
	buf_release(&b);
	test_end();
}

static size_t count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = 0;
	int c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void test_file_reopen(void)
{
	test_begin("audit: appends lines, and reopen follows a rotated file");
	char dir[] = "/tmp/test_audit.XXXXXX";
	test_assert(mkdtemp(dir) != NULL);
	char path[64], rotated[64];
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/audit.log.1", dir);
	struct audit_event ev = {.event = "login", .user = "a", .count = -1};
	audit_write(&ev); /* nothing open: ignored */
	test_assert(audit_open(path) == 0);
	audit_write(&ev);
	audit_write(&ev);
	test_assert(rename(path, rotated) == 0);
	audit_write(&ev); /* still the old file until reopened */
	test_assert(audit_reopen(NULL) == 0);
	audit_write(&ev);
	test_assert(count_lines(rotated) == 3);
	test_assert(count_lines(path) == 1);
	test_assert(audit_reopen("/nonexistent-dir/x") < 0);
	audit_write(&ev); /* the old descriptor stays */
	test_assert(count_lines(path) == 2);
	audit_close();
	unlink(path);
	unlink(rotated);
	rmdir(dir);
	test_end();
}

int main(void)
{
	test_escape_ascii();
	test_escape_utf8();
	test_format();
	test_file_reopen();
	return test_done();
}
