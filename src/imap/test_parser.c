/* test_parser: unit tests for the incremental IMAP parser.
 *
 * Most tests are table-driven through one driver: it feeds an input in a
 * given split (whole, cut in two at every byte, one byte at a time, random
 * cuts), accepts literals, and writes every event into a log string:
 *   "C <tag> <NAME> <args>|"  a command (args dumped, see dump_arg)
 *   "L <size> s|n[8]|"        a literal header (then accepted)
 *   "E <kind> <tag or ->|"    an error
 * Each split must give exactly the expected log. Input chunks are private
 * copies scribbled over after each feed, so a parser that kept pointers
 * into its input would show garbage (and ASan would complain). */
#include "imap/parser.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/test.h"
#include "lib/xalloc.h"

TEST_STATE_DEFINE;

#define S(x) x, sizeof(x) - 1

static struct imap_parser_limits test_limits = {
    .max_line = 200,
    .max_literal = 100,
    .max_depth = 5,
    .max_args = 50,
};

/* --- dumping --- */

/* Bytes as text: in atoms anything outside 0x21..0x7e becomes \xHH; in
 * strings SP stays, and " and \ are escaped. '|' separates log events. */
static void dump_bytes(struct buf *b, const char *s, size_t len, bool string)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (string && (c == '"' || c == '\\'))
			buf_printf(b, "\\%c", c);
		else if (c == '|' || c < (string ? 0x20 : 0x21) || c > 0x7e)
			buf_printf(b, "\\x%02x", c);
		else
			buf_append(b, &s[i], 1);
	}
}

static void dump_arg(struct buf *b, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
		dump_bytes(b, a->str, a->len, false);
		break;
	case IMAP_ARG_NIL:
		buf_append_str(b, "NIL");
		break;
	case IMAP_ARG_LITERAL:
		buf_printf(b, "%s{%zu}", a->literal8 ? "~" : "", a->len);
		/* fall through */
	case IMAP_ARG_QUOTED:
		buf_append_str(b, "\"");
		dump_bytes(b, a->str, a->len, true);
		buf_append_str(b, "\"");
		break;
	case IMAP_ARG_LIST:
		buf_append_str(b, "(");
		for (size_t i = 0; i < a->count; i++) {
			if (i > 0)
				buf_append_str(b, " ");
			dump_arg(b, &a->list[i]);
		}
		buf_append_str(b, ")");
		break;
	}
	/* Strings are NUL-terminated for convenience (parser.h). */
	if (a->type != IMAP_ARG_LIST && a->str[a->len] != '\0')
		buf_append_str(b, "<not NUL-terminated>");
}

static const char *kind_name(enum imap_parse_error kind)
{
	switch (kind) {
	case IMAP_ERR_SYNTAX:
		return "syntax";
	case IMAP_ERR_LINE_TOO_LONG:
		return "line";
	case IMAP_ERR_LITERAL_TOO_BIG:
		return "toobig";
	case IMAP_ERR_NUL:
		return "nul";
	case IMAP_ERR_TOO_COMPLEX:
		return "complex";
	case IMAP_ERR_FATAL:
		return "fatal";
	}
	return "?";
}

/* Error texts go into BAD lines: short, printable, never client bytes. */
static bool text_is_clean(const char *text)
{
	size_t len = text ? strlen(text) : 0;

	if (len == 0 || len > 60)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < 0x20 || text[i] > 0x7e)
			return false;
	}
	return true;
}

/* --- the driver --- */

struct policy {
	uint64_t reject_over; /* reject literals larger than this */
};
static const struct policy accept_all = {UINT64_MAX};

static void log_event(struct imap_parser *p, enum imap_parse_status st, struct buf *log,
                      const struct policy *pol)
{
	const struct imap_command *cmd;
	const struct imap_literal_info *lit;
	const char *text, *tag;
	enum imap_parse_error kind;

	switch (st) {
	case IMAP_PARSE_COMMAND:
		cmd = imap_parser_command(p);
		buf_printf(log, "C %s %s", cmd->tag, cmd->name);
		for (size_t i = 0; i < cmd->nargs; i++) {
			buf_append_str(log, " ");
			dump_arg(log, &cmd->args[i]);
		}
		buf_append_str(log, imap_parser_idle(p) ? "|" : " <not idle>|");
		break;
	case IMAP_PARSE_LITERAL:
		lit = imap_parser_literal(p);
		buf_printf(log, "L %llu %s%s", (unsigned long long)lit->size, lit->sync ? "s" : "n",
		           lit->literal8 ? "8" : "");
		if (imap_parser_current_tag(p) == NULL || imap_parser_current_name(p) == NULL)
			buf_append_str(log, " <no tag/name>");
		if (lit->size > pol->reject_over) {
			buf_append_str(log, " rejected");
			imap_parser_literal_reject(p);
		} else {
			imap_parser_literal_accept(p);
		}
		buf_append_str(log, "|");
		break;
	case IMAP_PARSE_ERROR:
		kind = imap_parser_error(p, &text, &tag);
		buf_printf(log, "E %s %s%s|", kind_name(kind), tag ? tag : "-",
		           text_is_clean(text) ? "" : " <bad text>");
		break;
	case IMAP_PARSE_NEED_MORE:
		break;
	}
}

/* Feeds one chunk until it is all consumed. */
static void feed_chunk(struct imap_parser *p, char *chunk, size_t len, struct buf *log,
                       const struct policy *pol)
{
	size_t off = 0, rounds = 0;

	while (off < len) {
		size_t used = SIZE_MAX;
		enum imap_parse_status st = imap_parser_feed(p, chunk + off, len - off, &used);
		if (used > len - off) {
			buf_append_str(log, "<overconsumed>|");
			return;
		}
		memset(chunk + off, 0xee, used); /* the parser must not need them */
		off += used;
		if (st == IMAP_PARSE_NEED_MORE && off != len) {
			buf_append_str(log, "<need more with input left>|");
			return;
		}
		log_event(p, st, log, pol);
		if (++rounds > 2 * len + 8) {
			buf_append_str(log, "<stalled>|");
			return;
		}
	}
}

/* Runs input through a new parser: a first chunk of `first` bytes, then
 * chunks of `step` bytes. Returns the log (malloc'd); *idle_r tells if
 * the parser ended idle. */
static char *run(const struct imap_parser_limits *lim, const struct policy *pol, const char *in,
                 size_t len, size_t first, size_t step, bool *idle_r)
{
	struct imap_parser *p = imap_parser_new(lim);
	struct buf log = {0};
	size_t off = 0;
	bool first_chunk = true;

	/* The first chunk may be empty: an empty feed must be harmless. */
	while (off < len || first_chunk) {
		size_t n = first_chunk ? first : step;
		if (n > len - off)
			n = len - off;
		char *chunk = xmalloc(n + 1);
		memcpy(chunk, in + off, n);
		feed_chunk(p, chunk, n, &log, pol);
		free(chunk);
		off += n;
		first_chunk = false;
	}
	if (idle_r != NULL)
		*idle_r = imap_parser_idle(p);
	imap_parser_free(&p);
	test_assert(p == NULL);
	char *s = xstrdup(log.data ? log.data : "");
	buf_release(&log);
	return s;
}

static void print_input(const char *in, size_t len)
{
	struct buf b = {0};
	dump_bytes(&b, in, len, true);
	fprintf(stderr, "  input: \"%s\"\n", b.data ? b.data : "");
	buf_release(&b);
}

/* Checks one split; reports details on mismatch. */
static bool check_run(const struct imap_parser_limits *lim, const struct policy *pol,
                      const char *in, size_t len, size_t first, size_t step, const char *expect,
                      bool expect_idle)
{
	bool idle;
	char *got = run(lim, pol, in, len, first, step, &idle);
	bool ok = strcmp(got, expect) == 0 && idle == expect_idle;

	if (!ok) {
		fprintf(stderr, "FAIL %s: first=%zu step=%zu\n", test_state_g.name, first, step);
		print_input(in, len);
		fprintf(stderr, "  expected: %s%s\n  got:      %s%s\n", expect,
		        expect_idle ? "" : " (busy)", got, idle ? "" : " (busy)");
	}
	free(got);
	return ok;
}

static unsigned rng_state = 12345;
static unsigned rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (rng_state >> 16) & 0x7fff;
}

/* Whole, cut in two at every byte, one byte at a time, random cuts. */
static void check_all_splits(const struct imap_parser_limits *lim, const struct policy *pol,
                             const char *in, size_t len, const char *expect, bool expect_idle)
{
	if (!check_run(lim, pol, in, len, len, 1, expect, expect_idle)) {
		test_assert(!"whole input");
		return;
	}
	for (size_t k = 0; k <= len; k++) {
		if (!check_run(lim, pol, in, len, k, len, expect, expect_idle)) {
			test_assert(!"split in two");
			return;
		}
	}
	if (!check_run(lim, pol, in, len, 0, 1, expect, expect_idle)) {
		test_assert(!"byte at a time");
		return;
	}
	for (int i = 0; i < 3; i++) {
		size_t first = len ? rng() % len : 0, step = 1 + rng() % 7;
		if (!check_run(lim, pol, in, len, first, step, expect, expect_idle)) {
			test_assert(!"random cuts");
			return;
		}
	}
}

/* --- valid commands --- */

struct valid_case {
	const char *in;
	size_t len;
	const char *log;
};

static const struct valid_case valid_cases[] = {
    {S("A1 NOOP\r\n"), "C A1 NOOP|"},
    {S("a1 noop\r\n"), "C a1 NOOP|"},
    {S("A1 NOOP\n"), "C A1 NOOP|"},
    {S("A1 X123\r\n"), "C A1 X123|"},
    {S("a]b[c~ NOOP\r\n"), "C a]b[c~ NOOP|"},
    {S("A.1-2_3&'!#$<>=?@^`|/ NOOP\r\n"), "C A.1-2_3&'!#$<>=?@^`|/ NOOP|"},
    {S("A1 LOGIN user pass\r\n"), "C A1 LOGIN user pass|"},
    {S("A1 LOGIN \"us\\\"er\" \"pa\\\\ss\"\r\n"), "C A1 LOGIN \"us\\\"er\" \"pa\\\\ss\"|"},
    {S("A1 LOGIN \"\" \"\"\r\n"), "C A1 LOGIN \"\" \"\"|"},
    {S("A1 X \"\\\\\" \"\\\"\"\r\n"), "C A1 X \"\\\\\" \"\\\"\"|"},
    {S("A1 SELECT \"caf\xc3\xa9\"\r\n"), "C A1 SELECT \"caf\\xc3\\xa9\"|"},
    {S("A1 SELECT \"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xa6\"\r\n"),
     "C A1 SELECT \"\\xe6\\x97\\xa5\\xe6\\x9c\\xac \\xf0\\x9f\\x90\\xa6\"|"},
    {S("A1 SELECT \"\xff\xfe\"\r\n"), "C A1 SELECT \"\\xff\\xfe\"|"},
    {S("A1 X \"a\tb (c) {3} [d] %*~NIL\"\r\n"), "C A1 X \"a\\x09b (c) {3} [d] %*~NIL\"|"},
    {S("A1 LOGIN {4}\r\nuser {4}\r\npass\r\n"), "L 4 s|L 4 s|C A1 LOGIN {4}\"user\" {4}\"pass\"|"},
    {S("A1 LOGIN {4+}\r\nuser {4+}\r\npass\r\n"),
     "L 4 n|L 4 n|C A1 LOGIN {4}\"user\" {4}\"pass\"|"},
    {S("A1 LOGIN \"fred\" {7+}\r\nse\"cr\\t\r\n"),
     "L 7 n|C A1 LOGIN \"fred\" {7}\"se\\\"cr\\\\t\"|"},
    {S("A1 APPEND INBOX {6}\r\na\r\nb\nc\r\n"),
     "L 6 s|C A1 APPEND INBOX {6}\"a\\x0d\\x0ab\\x0ac\"|"},
    {S("A1 X {2}\r\n\xff\x01\r\n"), "L 2 s|C A1 X {2}\"\\xff\\x01\"|"},
    {S("A1 X {6}\r\n{3+}\r\n\r\n"), "L 6 s|C A1 X {6}\"{3+}\\x0d\\x0a\"|"},
    {S("A1 X {1}\r\n \r\n"), "L 1 s|C A1 X {1}\" \"|"},
    {S("A1 X {1}\r\n)\r\n"), "L 1 s|C A1 X {1}\")\"|"},
    {S("A1 X {1+}\r\n\r\r\n"), "L 1 n|C A1 X {1}\"\\x0d\"|"},
    {S("A1 X {003}\r\nabc\r\n"), "L 3 s|C A1 X {3}\"abc\"|"},
    {S("A1 X {1}\nx\n"), "L 1 s|C A1 X {1}\"x\"|"},
    {S("A1 APPEND INBOX ~{3}\r\na\0b\r\n"), "L 3 s8|C A1 APPEND INBOX ~{3}\"a\\x00b\"|"},
    {S("A1 APPEND INBOX ~{2+}\r\n\0\0\r\n"), "L 2 n8|C A1 APPEND INBOX ~{2}\"\\x00\\x00\"|"},
    {S("A1 X ~{0}\r\n\r\n"), "L 0 s8|C A1 X ~{0}\"\"|"},
    {S("A1 LOGIN {0}\r\n {0+}\r\n\r\n"), "L 0 s|L 0 n|C A1 LOGIN {0}\"\" {0}\"\"|"},
    {S("A1 X (a (b (c)) d)\r\n"), "C A1 X (a (b (c)) d)|"},
    {S("A1 X ((a) (b))\r\n"), "C A1 X ((a) (b))|"},
    {S("A1 X () (()) (() ())\r\n"), "C A1 X () (()) (() ())|"},
    {S("A1 X (a)\r\n"), "C A1 X (a)|"},
    {S("A1 X NIL nil Nil NILX \"NIL\" (NIL) NI\r\n"), "C A1 X NIL NIL NIL NILX \"NIL\" (NIL) NI|"},
    {S("A1 FETCH 1 BODY[HEADER.FIELDS (A B)]<1.2>\r\n"),
     "C A1 FETCH 1 BODY[HEADER.FIELDS\\x20(A\\x20B)]<1.2>|"},
    {S("A1 UID FETCH 1:* (FLAGS)\r\n"), "C A1 UID FETCH 1:* (FLAGS)|"},
    {S("A1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100> BODY[] "
       "BINARY[1.2])\r\n"),
     "C A1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS\\x20(From\\x20To)]<0.100> BODY[] "
     "BINARY[1.2])|"},
    /* header-fld-name is an astring: quoted names join the atom unquoted */
    {S("A1 FETCH 1 BODY.PEEK[HEADER.FIELDS (\"Subject\" From)]\r\n"),
     "C A1 FETCH 1 BODY.PEEK[HEADER.FIELDS\\x20(Subject\\x20From)]|"},
    {S("A1 FETCH 1 (BODY[HEADER.FIELDS.NOT (X-A X-B)] BODY.PEEK[1.2.MIME])\r\n"),
     "C A1 FETCH 1 (BODY[HEADER.FIELDS.NOT\\x20(X-A\\x20X-B)] BODY.PEEK[1.2.MIME])|"},
    {S("A1 X [a (b c)] d\r\n"), "C A1 X [a\\x20(b\\x20c)] d|"},
    {S("A1 X BODY[X(A)]\r\n"), "C A1 X BODY[X(A)]|"},
    {S("A1 APPEND INBOX (\\Seen \\Flagged) \"01-Jan-2024 10:00:00 +0000\" {5}\r\nhello\r\n"),
     "L 5 s|C A1 APPEND INBOX (\\Seen \\Flagged) \"01-Jan-2024 10:00:00 +0000\" "
     "{5}\"hello\"|"},
    {S("A1 LIST \"\" *\r\n"), "C A1 LIST \"\" *|"},
    {S("A1 LIST \"\" %/%\r\n"), "C A1 LIST \"\" %/%|"},
    {S("A1 X \\* % * ] [ <0.5> 1:*,2 $\r\n"), "C A1 X \\* % * ] [ <0.5> 1:*,2 $|"},
    {S("A1 X ~foo ~ a~b\r\n"), "C A1 X ~foo ~ a~b|"},
    {S("A1 X (~)\r\n"), "C A1 X (~)|"},
    {S("A1 CREATE foo[bar\r\n"), "C A1 CREATE foo[bar|"},
    {S("A1 SELECT [Gmail]/Sent\r\n"), "C A1 SELECT [Gmail]/Sent|"},
    {S("A1 X a[b c\r\n"), "C A1 X a[b c|"},
    {S("A1 X a[b]c[d e]\r\n"), "C A1 X a[b]c[d e]|"},
    {S("A1 X (BODY[TEXT] FLAGS)\r\n"), "C A1 X (BODY[TEXT] FLAGS)|"},
    {S("A1 X (a[b)\r\n"), "C A1 X (a[b)|"},
    {S("A1 X a]b\r\n"), "C A1 X a]b|"},
    {S("A1 X (a {3}\r\nb c)\r\n"), "L 3 s|C A1 X (a {3}\"b c\")|"},
    {S("A1 X ({1}\r\nx)\r\n"), "L 1 s|C A1 X ({1}\"x\")|"},
    {S("A1 X ((({1}\r\na)))\r\n"), "L 1 s|C A1 X ((({1}\"a\")))|"},
    {S("A1 X \"a\" (b) {1}\r\nc NIL\r\n"), "L 1 s|C A1 X \"a\" (b) {1}\"c\" NIL|"},
    {S("A1 ID (\"name\" \"roost\" \"version\" NIL)\r\n"),
     "C A1 ID (\"name\" \"roost\" \"version\" NIL)|"},
    {S("A1 SEARCH CHARSET UTF-8 TEXT {5+}\r\ncaf\xc3\xa9\r\n"),
     "L 5 n|C A1 SEARCH CHARSET UTF-8 TEXT {5}\"caf\\xc3\\xa9\"|"},
    {S("A1 STORE 1:3,5 +FLAGS.SILENT (\\Deleted)\r\n"),
     "C A1 STORE 1:3,5 +FLAGS.SILENT (\\Deleted)|"},
    {S("A1 NOOP\r\nA2 LOGIN a b\r\nA3 LOGOUT\n"), "C A1 NOOP|C A2 LOGIN a b|C A3 LOGOUT|"},
    {S("A1 LOGIN {1}\r\na b\r\nA2 X \"q\"\r\nA3 Y (z)\r\n"),
     "L 1 s|C A1 LOGIN {1}\"a\" b|C A2 X \"q\"|C A3 Y (z)|"},
    {S(""), ""},
};

static void test_valid(void)
{
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		const struct valid_case *vc = &valid_cases[i];
		test_begin("parser: valid command, all splits");
		check_all_splits(&test_limits, &accept_all, vc->in, vc->len, vc->log, true);
		test_end();
	}
}

static char *repeat(const char *head, char c, size_t n, const char *tail, size_t *len_r)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = xmalloc(hl + n + tl + 1);

	memcpy(s, head, hl);
	memset(s + hl, c, n);
	memcpy(s + hl + n, tail, tl + 1);
	*len_r = hl + n + tl;
	return s;
}

static void check_generated_valid(const char *name, char *in, size_t len, const char *log)
{
	test_begin(name);
	check_all_splits(&test_limits, &accept_all, in, len, log, true);
	test_end();
	free(in);
}

/* Inputs exactly at the limits pass. */
static void test_valid_limits(void)
{
	size_t len;
	char *in, *log;
	struct buf b = {0};

	/* 200 bytes including CRLF. */
	in = repeat("A1 NOOP ", 'a', 190, "\r\n", &len);
	test_assert(len == 200);
	log = repeat("C A1 NOOP ", 'a', 190, "|", &len);
	check_generated_valid("parser: line exactly max_line", in, strlen(in), log);
	free(log);

	in = repeat("A1 X {100}\r\n", 'x', 100, "\r\n", &len);
	log = repeat("L 100 s|C A1 X {100}\"", 'x', 100, "\"|", &len);
	check_generated_valid("parser: literal exactly max_literal", in, strlen(in), log);
	free(log);

	check_generated_valid("parser: depth exactly max_depth", xstrdup("A1 X (((((a)))))\r\n"),
	                      18, "C A1 X (((((a)))))|");

	buf_append_str(&b, "A1 X");
	for (int i = 0; i < 50; i++)
		buf_append_str(&b, " a");
	buf_append_str(&b, "\r\n");
	struct buf lb = {0};
	buf_append_str(&lb, "C A1 X");
	for (int i = 0; i < 50; i++)
		buf_append_str(&lb, " a");
	buf_append_str(&lb, "|");
	check_generated_valid("parser: args exactly max_args", xstrdup(b.data), b.len, lb.data);
	buf_release(&b);
	buf_release(&lb);
}

/* --- malformed commands --- */

struct bad_case {
	const char *in;
	size_t len;
	enum imap_parse_error kind;
	const char *tag; /* NULL: no tag known, the reply is "* BAD" */
	const char *pre; /* events logged before the error */
};

#define SYN  IMAP_ERR_SYNTAX
#define NUL  IMAP_ERR_NUL
#define BIG  IMAP_ERR_LITERAL_TOO_BIG
#define CPLX IMAP_ERR_TOO_COMPLEX

static const struct bad_case bad_cases[] = {
    /* tag */
    {S("\r\n"), SYN, NULL, ""},
    {S("\n"), SYN, NULL, ""},
    {S("\r\r\n"), SYN, NULL, ""},
    {S(" A1 NOOP\r\n"), SYN, NULL, ""},
    {S("A*1 NOOP\r\n"), SYN, NULL, ""},
    {S("A%1 NOOP\r\n"), SYN, NULL, ""},
    {S("A+1 NOOP\r\n"), SYN, NULL, ""},
    {S("+ NOOP\r\n"), SYN, NULL, ""},
    {S("* NOOP\r\n"), SYN, NULL, ""},
    {S("A(1 NOOP\r\n"), SYN, NULL, ""},
    {S("A)1 NOOP\r\n"), SYN, NULL, ""},
    {S("A{1 NOOP\r\n"), SYN, NULL, ""},
    {S("A\"1 NOOP\r\n"), SYN, NULL, ""},
    {S("A\\1 NOOP\r\n"), SYN, NULL, ""},
    {S("A\x01 NOOP\r\n"), SYN, NULL, ""},
    {S("A\x7f NOOP\r\n"), SYN, NULL, ""},
    {S("\xc3\xa9 NOOP\r\n"), SYN, NULL, ""},
    {S("A\t1 NOOP\r\n"), SYN, NULL, ""},
    {S("A1\tNOOP\r\n"), SYN, NULL, ""},
    {S("\0A1 NOOP\r\n"), NUL, NULL, ""},
    {S("A\0 NOOP\r\n"), NUL, NULL, ""},
    {S("{5}\r\n"), SYN, NULL, ""},
    {S("{5+}\r\nhello\r\n"), SYN, NULL, ""},
    /* command name */
    {S("A1\r\n"), SYN, "A1", ""},
    {S("A1\n"), SYN, "A1", ""},
    {S("A1\rNOOP\r\n"), SYN, "A1", ""},
    {S("A1 \r\n"), SYN, "A1", ""},
    {S("A1  NOOP\r\n"), SYN, "A1", ""},
    {S("A1 NO-OP\r\n"), SYN, "A1", ""},
    {S("A1 NOOP.X\r\n"), SYN, "A1", ""},
    {S("A1 N\xc3\xa9\r\n"), SYN, "A1", ""},
    {S("A1 \"NOOP\"\r\n"), SYN, "A1", ""},
    {S("A1 {4}\r\n"), SYN, "A1", ""},
    {S("A1 {4+}\r\nNOOP\r\n"), SYN, "A1", ""},
    {S("A1 (NOOP)\r\n"), SYN, "A1", ""},
    {S("A1 NOOP(\r\n"), SYN, "A1", ""},
    {S("A1 NOOP\0\r\n"), NUL, "A1", ""},
    {S("A1 NO\tOP\r\n"), SYN, "A1", ""},
    {S("A1 NOOP*\r\n"), SYN, "A1", ""},
    {S("A1 ~NOOP\r\n"), SYN, "A1", ""},
    {S("A1 \\NOOP\r\n"), SYN, "A1", ""},
    /* spacing */
    {S("A1 NOOP \r\n"), SYN, "A1", ""},
    {S("A1 NOOP \n"), SYN, "A1", ""},
    {S("A1 NOOP  a\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a \r\n"), SYN, "A1", ""},
    {S("A1 NOOP a  b\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ( a)\r\n"), SYN, "A1", ""},
    {S("A1 NOOP (a )\r\n"), SYN, "A1", ""},
    {S("A1 NOOP (a  b)\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ( )\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a\tb\r\n"), SYN, "A1", ""},
    {S("A1 NOOP (a) \r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"a\" \r\n"), SYN, "A1", ""},
    /* line ends, lists, separators */
    {S("A1 NOOP\rX\r\n"), SYN, "A1", ""},
    {S("A1 NOOP\r\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a\rb\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a\r\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"a\rb\"\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"a\n"), SYN, "A1", ""},
    {S("A1 NOOP \"abc\r\n"), SYN, "A1", ""},
    {S("A1 NOOP (a\r\n"), SYN, "A1", ""},
    {S("A1 NOOP (a\n"), SYN, "A1", ""},
    {S("A1 NOOP ((a)\r\n"), SYN, "A1", ""},
    {S("A1 NOOP (\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a)\r\n"), SYN, "A1", ""},
    {S("A1 NOOP )\r\n"), SYN, "A1", ""},
    {S("A1 NOOP (a))\r\n"), SYN, "A1", ""},
    {S("A1 NOOP (a)b\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ()a\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"a\"b\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"a\"\"b\"\r\n"), SYN, "A1", ""},
    {S("A1 NOOP (a)(b)\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a(b)\r\n"), SYN, "A1", ""},
    {S("A1 NOOP NIL(\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a\"b\"\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a{3}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"a\"{3}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a\0\r\n"), NUL, "A1", ""},
    {S("A1 NOOP \"a\" \"b\"\0\r\n"), NUL, "A1", ""},
    /* quoted strings */
    {S("A1 NOOP \"a\\b\"\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"a\\n\"\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"\\\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"a\0b\"\r\n"), NUL, "A1", ""},
    {S("A1 NOOP \"\\\0\"\r\n"), NUL, "A1", ""},
    {S("A1 NOOP \"a\\\xc3\xa9\"\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"abc\\\"\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \"bad\\q\" {5+}\r\nhello world\r\n"), SYN, "A1", ""},
    /* atoms and sections */
    {S("A1 NOOP a\xc3\xa9\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \xff\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a\x7f\x62\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a\x01\r\n"), SYN, "A1", ""},
    {S("A1 NOOP \x1b\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a\0b\r\n"), NUL, "A1", ""},
    {S("A1 NOOP ~\"a\"\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[HEADER.FIELDS (A\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[HEADER.FIELDS (A \"B C\")]\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[HEADER.FIELDS (\"B:\")]\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[HEADER.FIELDS (\"\\\\\")]\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[HEADER.FIELDS ((A))]\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[X (A\xc3\xa9)]\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[X (A\tB)]\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[X (A\0B)]\r\n"), NUL, "A1", ""},
    {S("A1 NOOP BODY[\xc3]\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[X (A{3}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[X\"]\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[X] (\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[X  (A)]\r\n"), SYN, "A1", ""},
    {S("A1 NOOP BODY[X \r\n"), SYN, "A1", ""},
    {S("A1 NOOP a[b (c\r\n"), SYN, "A1", ""},
    {S("A1 NOOP a[b{\r\n"), SYN, "A1", ""},
    /* literal headers */
    {S("A1 NOOP {}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {+}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {-1}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {+1}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP { 1}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1 }\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1a}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1++}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1+x}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1}}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {{1}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1}x\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1} \r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1}\rx\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1+\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {1}\0\r\n"), NUL, "A1", ""},
    {S("A1 NOOP {4294967296}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP {99999999999999999999999}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ~{1}x\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ~x{1}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ~{\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ~~{1}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ~{1+x}\r\n"), SYN, "A1", ""},
    /* literal sizes over max_literal (100 here) */
    {S("A1 APPEND x {101}\r\n"), BIG, "A1", ""},
    {S("A1 APPEND x {4294967295}\r\n"), BIG, "A1", ""},
    {S("A1 APPEND x {00000000000000000000000101}\r\n"), BIG, "A1", ""},
    {S("A1 APPEND x ~{101}\r\n"), BIG, "A1", ""},
    {S("A1 APPEND x ~{101}\n"), BIG, "A1", ""},
    /* after literal data */
    {S("A1 NOOP {3}\r\na\0b\r\n"), NUL, "A1", "L 3 s|"},
    {S("A1 NOOP {3+}\r\n\0ab c\r\n"), NUL, "A1", "L 3 n|"},
    {S("A1 NOOP {3+}\r\nab\0 {2+}\r\nxy\r\n"), NUL, "A1", "L 3 n|"},
    {S("A1 NOOP {1}\r\nx\0\r\n"), NUL, "A1", "L 1 s|"},
    {S("A1 NOOP {0}\r\n\0\r\n"), NUL, "A1", "L 0 s|"},
    {S("A1 NOOP {1}\r\nab\r\n"), SYN, "A1", "L 1 s|"},
    {S("A1 NOOP {1}\r\na \r\n"), SYN, "A1", "L 1 s|"},
    {S("A1 NOOP {1}\r\na)\r\n"), SYN, "A1", "L 1 s|"},
    {S("A1 NOOP ({1}\r\na\r\n"), SYN, "A1", "L 1 s|"},
    {S("A1 NOOP {2}\r\n\r\n\r\r\n"), SYN, "A1", "L 2 s|"},
    {S("A1 NOOP ~{2}\r\n\0\0x\r\n"), SYN, "A1", "L 2 s8|"},
    /* skipping the rest of a bad command */
    {S("A1 NOOP ) {2+}\r\nab {3+}\r\nabc\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ) {2}\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ) ~{2+}\r\n\0\0\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ) {0+}\r\n{1+}\r\n\n\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ) {2+}\n\r\n\n"), SYN, "A1", ""},
    {S("A1 NOOP ) {2+}\r\r\n"), SYN, "A1", ""},
    {S("A1 NOOP ) {2+} \r\n"), SYN, "A1", ""},
    /* depth (5 here) */
    {S("A1 X ((((((a))))))\r\n"), CPLX, "A1", ""},
    {S("A1 X ((((((\r\n"), CPLX, "A1", ""},
};

static void check_bad(const struct imap_parser_limits *lim, const char *in, size_t len,
                      enum imap_parse_error kind, const char *tag, const char *pre)
{
	struct buf input = {0}, expect = {0};

	/* The parser must be able to parse the next command afterwards. */
	buf_append(&input, in, len);
	buf_append_str(&input, "A1 NOOP\r\n");
	buf_printf(&expect, "%sE %s %s|C A1 NOOP|", pre, kind_name(kind), tag ? tag : "-");
	check_all_splits(lim, &accept_all, input.data, input.len, expect.data, true);
	buf_release(&input);
	buf_release(&expect);
}

static void test_bad(void)
{
	size_t n = sizeof(bad_cases) / sizeof(bad_cases[0]);

	test_assert(n >= 120);
	for (size_t i = 0; i < n; i++) {
		const struct bad_case *bc = &bad_cases[i];
		test_begin("parser: malformed command, then a good one");
		check_bad(&test_limits, bc->in, bc->len, bc->kind, bc->tag, bc->pre);
		test_end();
	}
}

static void check_generated_bad(const char *name, char *in, size_t len, enum imap_parse_error kind,
                                const char *tag, const char *pre)
{
	test_begin(name);
	check_bad(&test_limits, in, len, kind, tag, pre);
	test_end();
	free(in);
}

/* Malformed inputs that are too long to write out. */
static void test_bad_generated(void)
{
	size_t len;
	char *in;
	struct buf b = {0};

	in = repeat("A1 NOOP ", 'a', 300, "\r\n", &len);
	check_generated_bad("parser: line too long", in, len, IMAP_ERR_LINE_TOO_LONG, "A1", "");
	in = repeat("", 'a', 300, " NOOP\r\n", &len);
	check_generated_bad("parser: tag too long", in, len, IMAP_ERR_LINE_TOO_LONG, NULL, "");
	in = repeat("A1 X ", 'a', 250, " {3+}\r\nabc\r\n", &len);
	check_generated_bad("parser: line too long, then {n+} skipped", in, len,
	                    IMAP_ERR_LINE_TOO_LONG, "A1", "");
	/* The 201st byte is the LF, or the CR. */
	in = repeat("A1 NOOP ", 'a', 191, "\r\n", &len);
	test_assert(len == 201);
	check_generated_bad("parser: line too long at LF", in, len, IMAP_ERR_LINE_TOO_LONG, "A1",
	                    "");
	in = repeat("A1 NOOP ", 'a', 192, "\r\n", &len);
	check_generated_bad("parser: line too long at CR", in, len, IMAP_ERR_LINE_TOO_LONG, "A1",
	                    "");
	/* A literal header whose LF is the 201st byte: its data is skipped. */
	in = repeat("A1 X ", 'a', 189, " {3+}\r\nabc\r\n", &len);
	test_assert(strchr(in, '\n') - in + 1 == 201);
	check_generated_bad("parser: line too long at literal LF", in, len, IMAP_ERR_LINE_TOO_LONG,
	                    "A1", "");
	in = repeat("A1 X {1}\r\na ", 'b', 300, "\r\n", &len);
	check_generated_bad("parser: line after literal too long", in, len, IMAP_ERR_LINE_TOO_LONG,
	                    "A1", "L 1 s|");
	in = repeat("A1 APPEND x {101+}\r\n", 'z', 101, " more {2+}\r\nab\r\n", &len);
	check_generated_bad("parser: non-sync literal too big, skipped", in, len,
	                    IMAP_ERR_LITERAL_TOO_BIG, "A1", "");

	buf_append_str(&b, "A1 X");
	for (int i = 0; i < 51; i++)
		buf_append_str(&b, " a");
	buf_append_str(&b, "\r\n");
	check_generated_bad("parser: too many args", xstrdup(b.data), b.len, IMAP_ERR_TOO_COMPLEX,
	                    "A1", "");
	buf_release(&b);
	/* Lists count too: 25 lists of one = 50 args, then one more. */
	buf_append_str(&b, "A1 X");
	for (int i = 0; i < 25; i++)
		buf_append_str(&b, " (a)");
	buf_append_str(&b, " b\r\n");
	check_generated_bad("parser: too many args in lists", xstrdup(b.data), b.len,
	                    IMAP_ERR_TOO_COMPLEX, "A1", "");
	buf_release(&b);
}

/* --- literal flow and other scenarios --- */

static enum imap_parse_status feed_str(struct imap_parser *p, const char *s, size_t len,
                                       size_t *used_r)
{
	return imap_parser_feed(p, s, len, used_r);
}

static void test_literal_flow(void)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char *in = "A1 LOGIN {5}\r\nhello {3+}\r\nabc\r\n";
	size_t used, len = strlen(in);

	test_begin("parser: literal flow");
	test_assert(imap_parser_idle(p));
	test_assert(feed_str(p, in, len, &used) == IMAP_PARSE_LITERAL);
	test_assert(used == 14);
	test_assert(!imap_parser_idle(p));
	test_assert(imap_parser_literal(p)->size == 5);
	test_assert(imap_parser_literal(p)->sync);
	test_assert(!imap_parser_literal(p)->literal8);
	test_assert_str(imap_parser_current_tag(p), "A1");
	test_assert_str(imap_parser_current_name(p), "LOGIN");
	/* Nothing moves while waiting. */
	test_assert(feed_str(p, in + 14, len - 14, &used) == IMAP_PARSE_LITERAL);
	test_assert(used == 0);
	test_assert(feed_str(p, in + 14, 0, &used) == IMAP_PARSE_LITERAL);
	test_assert(used == 0);
	imap_parser_literal_accept(p);
	test_assert(feed_str(p, in + 14, 3, &used) == IMAP_PARSE_NEED_MORE);
	test_assert(used == 3);
	test_assert(feed_str(p, in + 17, len - 17, &used) == IMAP_PARSE_LITERAL);
	test_assert(used == strlen("lo {3+}\r\n"));
	test_assert(imap_parser_literal(p)->size == 3);
	test_assert(!imap_parser_literal(p)->sync);
	imap_parser_literal_accept(p);
	test_assert(feed_str(p, "abc\r\nA2", 7, &used) == IMAP_PARSE_COMMAND);
	test_assert(used == 5);
	test_assert(imap_parser_idle(p));
	const struct imap_command *cmd = imap_parser_command(p);
	test_assert_str(cmd->tag, "A1");
	test_assert_str(cmd->name, "LOGIN");
	test_assert(cmd->nargs == 2);
	test_assert(cmd->args[0].type == IMAP_ARG_LITERAL && cmd->args[0].len == 5);
	test_assert(memcmp(cmd->args[0].str, "hello", 6) == 0);
	test_assert(cmd->args[1].type == IMAP_ARG_LITERAL && cmd->args[1].len == 3);
	test_assert_str(cmd->args[1].str, "abc");
	/* accept/reject outside a literal wait do nothing */
	imap_parser_literal_accept(p);
	imap_parser_literal_reject(p);
	test_assert(imap_parser_idle(p));
	test_end();
	imap_parser_free(&p);
}

static void test_literal_reject(void)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char *sync = "A1 APPEND X {5}\r\nA2 NOOP\r\n";
	const char *nonsync = "A1 APPEND X {5+}\r\nhello more {2+}\r\nab\r\nA2 NOOP\r\n";
	size_t used;

	test_begin("parser: reject a synchronizing literal");
	test_assert(feed_str(p, sync, strlen(sync), &used) == IMAP_PARSE_LITERAL);
	imap_parser_literal_reject(p);
	test_assert(imap_parser_idle(p));
	test_assert_str(imap_parser_current_tag(p), "A1"); /* for the NO reply */
	test_assert(feed_str(p, sync + used, strlen(sync) - used, &used) == IMAP_PARSE_COMMAND);
	test_assert_str(imap_parser_command(p)->tag, "A2");
	test_end();

	test_begin("parser: reject a non-synchronizing literal");
	test_assert(feed_str(p, nonsync, strlen(nonsync), &used) == IMAP_PARSE_LITERAL);
	test_assert(used == strlen("A1 APPEND X {5+}\r\n"));
	imap_parser_literal_reject(p);
	test_assert(!imap_parser_idle(p)); /* its data is still to come */
	size_t off = used;
	test_assert(feed_str(p, nonsync + off, strlen(nonsync) - off, &used) == IMAP_PARSE_COMMAND);
	test_assert(off + used == strlen(nonsync));
	test_assert_str(imap_parser_command(p)->tag, "A2");
	test_end();

	test_begin("parser: reject policy in the driver");
	struct policy pol = {3};
	check_all_splits(&test_limits, &pol, S("A1 X {4+}\r\nabcd\r\nA2 Y {3}\r\nabc\r\n"),
	                 "L 4 n rejected|L 3 s|C A2 Y {3}\"abc\"|", true);
	check_all_splits(&test_limits, &pol, S("A1 X {4}\r\nA2 Y\r\n"), "L 4 s rejected|C A2 Y|",
	                 true);
	test_end();
	imap_parser_free(&p);
}

static void test_literal_too_big(void)
{
	struct imap_parser *p = imap_parser_new(&test_limits);
	const char *sync = "A1 APPEND X {200}\r\nxxx";
	const char *text, *tag;
	size_t used, off;
	struct buf b = {0};

	test_begin("parser: literal too big is reported before its bytes");
	test_assert(feed_str(p, sync, strlen(sync), &used) == IMAP_PARSE_ERROR);
	test_assert(used == strlen("A1 APPEND X {200}\r\n"));
	test_assert(imap_parser_error(p, &text, &tag) == IMAP_ERR_LITERAL_TOO_BIG);
	test_assert_str(tag, "A1");
	test_assert(imap_parser_idle(p)); /* the client waits for "+" */
	test_end();

	test_begin("parser: non-sync literal too big, its bytes are skipped");
	imap_parser_reset(p);
	buf_append_str(&b, "A1 APPEND X {200+}\r\n");
	off = b.len;
	for (int i = 0; i < 200; i++)
		buf_append_str(&b, "\n");
	buf_append_str(&b, " rest\r\nA2 NOOP\r\n");
	test_assert(feed_str(p, b.data, b.len, &used) == IMAP_PARSE_ERROR);
	test_assert(used == off);
	test_assert(!imap_parser_idle(p));
	test_assert(feed_str(p, b.data + off, b.len - off, &used) == IMAP_PARSE_COMMAND);
	test_assert(off + used == b.len);
	test_assert_str(imap_parser_command(p)->tag, "A2");
	test_end();
	buf_release(&b);
	imap_parser_free(&p);
}

static void test_pipelined(void)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char *in = "A1 NOOP\r\nA2 CHECK\nA3 LOGOUT\r\nA4";
	size_t used, off = 0;

	test_begin("parser: pipelined commands in one buffer");
	test_assert(feed_str(p, in, strlen(in), &used) == IMAP_PARSE_COMMAND);
	test_assert(used == 9);
	test_assert_str(imap_parser_command(p)->name, "NOOP");
	off += used;
	test_assert(feed_str(p, in + off, strlen(in) - off, &used) == IMAP_PARSE_COMMAND);
	test_assert(used == 9);
	test_assert_str(imap_parser_command(p)->name, "CHECK");
	off += used;
	test_assert(feed_str(p, in + off, strlen(in) - off, &used) == IMAP_PARSE_COMMAND);
	test_assert(used == 11);
	test_assert_str(imap_parser_command(p)->tag, "A3");
	off += used;
	test_assert(feed_str(p, in + off, strlen(in) - off, &used) == IMAP_PARSE_NEED_MORE);
	test_assert(used == 2);
	test_assert(!imap_parser_idle(p));
	test_end();
	imap_parser_free(&p);
}

/* A huge line is discarded without memory growth, then parsing resumes. */
static void test_line_too_long_resync(void)
{
	struct imap_parser_limits lim = test_limits;
	struct imap_parser *p;
	size_t used, big = 1 << 20;
	char *junk = xmalloc(big);

	lim.max_line = 50;
	p = imap_parser_new(&lim);
	memset(junk, 'a', big);
	test_begin("parser: line too long, resync after a 1 MiB line");
	test_assert(feed_str(p, "A1 NOOP ", 8, &used) == IMAP_PARSE_NEED_MORE);
	test_assert(feed_str(p, junk, big, &used) == IMAP_PARSE_ERROR);
	test_assert(used == 50 - 8 + 1);
	test_assert(imap_parser_error(p, NULL, NULL) == IMAP_ERR_LINE_TOO_LONG);
	size_t before = imap_parser_command_size(p);
	for (int i = 0; i < 8; i++) {
		test_assert(feed_str(p, junk, big, &used) == IMAP_PARSE_NEED_MORE);
		test_assert(used == big);
	}
	test_assert(imap_parser_command_size(p) == before);
	test_assert(!imap_parser_idle(p));
	/* The end of the skipped line and the next command in one feed. */
	test_assert(feed_str(p, "x\r\nA2 NOOP\r\n", 12, &used) == IMAP_PARSE_COMMAND);
	test_assert(used == 12);
	test_assert_str(imap_parser_command(p)->tag, "A2");
	test_end();
	imap_parser_free(&p);
	free(junk);
}

static void test_fatal(void)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char *in = "A1 X {99999999999999999999999+}\r\nA2 NOOP\r\n";
	const char *text, *tag;
	size_t used;

	test_begin("parser: unskippable literal size is fatal");
	test_assert(feed_str(p, in, strlen(in), &used) == IMAP_PARSE_ERROR);
	test_assert(imap_parser_error(p, &text, &tag) == IMAP_ERR_FATAL);
	test_assert(text_is_clean(text));
	test_assert(used == strlen(in));
	test_assert(feed_str(p, "A3 NOOP\r\n", 9, &used) == IMAP_PARSE_ERROR);
	test_assert(used == 9);
	test_assert(!imap_parser_idle(p));
	imap_parser_reset(p);
	test_assert(feed_str(p, "A3 NOOP\r\n", 9, &used) == IMAP_PARSE_COMMAND);
	test_end();

	test_begin("parser: fatal found while skipping");
	imap_parser_reset(p);
	in = "A1 X ) {99999999999999999999999+}\r\nxyz";
	test_assert(feed_str(p, in, strlen(in), &used) == IMAP_PARSE_ERROR);
	test_assert(imap_parser_error(p, NULL, NULL) == IMAP_ERR_SYNTAX);
	test_assert(used == 6);
	size_t off = used;
	test_assert(feed_str(p, in + off, strlen(in) - off, &used) == IMAP_PARSE_ERROR);
	test_assert(imap_parser_error(p, NULL, NULL) == IMAP_ERR_FATAL);
	test_assert(off + used == strlen(in));
	test_end();

	test_begin("parser: out-of-range non-sync literal is skipped");
	imap_parser_reset(p);
	in = "A1 X {4294967296+}\r\n";
	test_assert(feed_str(p, in, strlen(in), &used) == IMAP_PARSE_ERROR);
	test_assert(imap_parser_error(p, NULL, &tag) == IMAP_ERR_SYNTAX);
	test_assert_str(tag, "A1");
	for (int i = 0; i < 100; i++) {
		test_assert(feed_str(p, "A2 NOOP\r\n", 9, &used) == IMAP_PARSE_NEED_MORE);
		test_assert(used == 9);
	}
	test_assert(!imap_parser_idle(p));
	test_end();
	imap_parser_free(&p);
}

static void test_reset_trim(void)
{
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;

	test_begin("parser: reset drops a partial command");
	test_assert(feed_str(p, "A1 LOGIN {5}\r\n", 14, &used) == IMAP_PARSE_LITERAL);
	imap_parser_reset(p);
	test_assert(imap_parser_idle(p));
	test_assert(imap_parser_current_tag(p) == NULL);
	test_assert(feed_str(p, "A2 NOOP\r\n", 9, &used) == IMAP_PARSE_COMMAND);
	test_assert_str(imap_parser_command(p)->tag, "A2");
	test_assert(feed_str(p, "A3 X \"ab", 8, &used) == IMAP_PARSE_NEED_MORE);
	imap_parser_reset(p);
	const char *rest = "c\" d\r\nA4 NOOP\r\n";
	test_assert(feed_str(p, rest, 15, &used) == IMAP_PARSE_ERROR);
	test_assert(used == 2); /* c" is a bad tag */
	test_assert(feed_str(p, rest + 2, 13, &used) == IMAP_PARSE_COMMAND);
	test_assert_str(imap_parser_command(p)->tag, "A4");
	test_end();

	test_begin("parser: trim frees memory only when idle");
	test_assert(feed_str(p, "A5 X \"ab", 8, &used) == IMAP_PARSE_NEED_MORE);
	imap_parser_trim(p); /* not idle: no effect */
	test_assert(feed_str(p, "c\" (d e)\r\n", 10, &used) == IMAP_PARSE_COMMAND);
	const struct imap_command *cmd = imap_parser_command(p);
	test_assert(cmd->nargs == 2 && cmd->args[0].type == IMAP_ARG_QUOTED);
	test_assert_str(cmd->args[0].str, "abc");
	test_assert(cmd->args[1].type == IMAP_ARG_LIST && cmd->args[1].count == 2);
	test_assert(imap_parser_command_size(p) > 0);
	imap_parser_trim(p);
	test_assert(imap_parser_command_size(p) == 0);
	test_assert(imap_parser_idle(p));
	test_assert(feed_str(p, "A6 NOOP\r\n", 9, &used) == IMAP_PARSE_COMMAND);
	test_assert_str(imap_parser_command(p)->tag, "A6");
	test_assert(imap_parser_command(p)->nargs == 0);
	test_end();

	test_begin("parser: set_limits applies to the next bytes");
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	test_assert(lim.max_line == 65536 && lim.max_literal == 64 * 1024 * 1024);
	test_assert(lim.max_depth == 32 && lim.max_args == 100000);
	lim.max_literal = 3;
	imap_parser_set_limits(p, &lim);
	test_assert(feed_str(p, "A7 X {4}\r\n", 10, &used) == IMAP_PARSE_ERROR);
	test_assert(imap_parser_error(p, NULL, NULL) == IMAP_ERR_LITERAL_TOO_BIG);
	test_assert(feed_str(p, "A8 X {3}\r\n", 10, &used) == IMAP_PARSE_LITERAL);
	test_end();

	test_begin("parser: empty feeds");
	imap_parser_reset(p);
	test_assert(feed_str(p, "", 0, &used) == IMAP_PARSE_NEED_MORE && used == 0);
	test_assert(imap_parser_idle(p));
	imap_parser_free(&p);
	test_assert(p == NULL);
	imap_parser_free(&p); /* NULL is fine */
	test_end();
}

static void test_arg_helpers(void)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char *in = "A1 X atom \"q s\" {2+}\r\nli nil ~{1+}\r\nz (a) \"\"\r\n";
	size_t used, off = 0, len;
	const char *s;
	enum imap_parse_status st;

	test_begin("parser: argument helpers");
	while ((st = feed_str(p, in + off, strlen(in) - off, &used)) == IMAP_PARSE_LITERAL) {
		imap_parser_literal_accept(p);
		off += used;
	}
	test_assert(st == IMAP_PARSE_COMMAND);
	const struct imap_command *cmd = imap_parser_command(p);
	const struct imap_arg *a = cmd->args;
	test_assert(cmd->nargs == 7);
	test_assert(imap_arg_get_astring(&a[0], &s, &len) && len == 4 && strcmp(s, "atom") == 0);
	test_assert(!imap_arg_get_string(&a[0], &s, &len));
	test_assert(imap_arg_atom_equals(&a[0], "ATOM"));
	test_assert(imap_arg_atom_equals(&a[0], "atom"));
	test_assert(!imap_arg_atom_equals(&a[0], "ato"));
	test_assert(!imap_arg_atom_equals(&a[0], "atoms"));
	test_assert(imap_arg_get_astring(&a[1], &s, &len) && strcmp(s, "q s") == 0);
	test_assert(imap_arg_get_string(&a[1], &s, &len) && len == 3);
	test_assert(!imap_arg_atom_equals(&a[1], "q s"));
	test_assert(imap_arg_get_string(&a[2], &s, &len) && len == 2 && strcmp(s, "li") == 0);
	test_assert(imap_arg_get_astring(&a[2], &s, &len));
	test_assert(a[3].type == IMAP_ARG_NIL);
	test_assert(imap_arg_get_astring(&a[3], &s, &len) && strcmp(s, "nil") == 0);
	test_assert(!imap_arg_get_string(&a[3], &s, &len));
	test_assert(imap_arg_atom_equals(&a[3], "NIL"));
	test_assert(a[4].type == IMAP_ARG_LITERAL && a[4].literal8);
	test_assert(!imap_arg_get_string(&a[4], &s, &len));
	test_assert(!imap_arg_get_astring(&a[4], &s, &len));
	test_assert(!imap_arg_get_astring(&a[5], &s, &len));
	test_assert(!imap_arg_atom_equals(&a[5], "a"));
	test_assert(imap_arg_get_string(&a[6], &s, &len) && len == 0 && s[0] == '\0');
	test_end();
	imap_parser_free(&p);
}

/* Random byte soup: every split must give the same log, and the parser
 * must never stall or crash (a cheap in-tree fuzzer). */
static void test_random_consistency(void)
{
	static const char alphabet[] = "A1 ()\"\\{}+~\r\n[]x5 0\xc3\x80*%NIL";
	char in[64];

	test_begin("parser: random inputs give the same log in every split");
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = 1 + rng() % (sizeof(in) - 1);
		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		if (rng() % 4 == 0)
			in[rng() % len] = '\0';
		bool idle;
		char *expect = run(&test_limits, &accept_all, in, len, len, 1, &idle);
		if (!check_run(&test_limits, &accept_all, in, len, 0, 1, expect, idle) ||
		    !check_run(&test_limits, &accept_all, in, len, rng() % len, 1 + rng() % 5,
		               expect, idle)) {
			test_assert(!"random input split-dependent");
			free(expect);
			break;
		}
		test_assert(strchr(expect, '<') == NULL); /* no driver complaint */
		free(expect);
	}
	test_end();
}

/* Feeds in chunks of `step` bytes, accepting literals; returns the status
 * of the last feed. */
static enum imap_parse_status feed_chunks(struct imap_parser *p, const char *in, size_t len,
					  size_t step)
{
	enum imap_parse_status st = IMAP_PARSE_NEED_MORE;
	size_t off = 0;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		size_t used = 0;
		st = imap_parser_feed(p, in + off, n, &used);
		off += used;
		if (st == IMAP_PARSE_LITERAL)
			imap_parser_literal_accept(p);
		else if (st != IMAP_PARSE_NEED_MORE)
			break;
	}
	return st;
}

static void test_big_literal(void)
{
	test_begin("large literals grow as data arrives and arrive intact");
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	struct imap_parser *p = imap_parser_new(&lim);
	size_t size = 300000;
	char header[64];
	int hl = snprintf(header, sizeof(header), "A1 APPEND box {%zu+}\r\n", size);
	char *in = malloc((size_t)hl + size + 2);
	memcpy(in, header, (size_t)hl);
	for (size_t i = 0; i < size; i++)
		in[hl + (int)i] = (char)('a' + i % 26);
	memcpy(in + hl + size, "\r\n", 2);
	enum imap_parse_status st = feed_chunks(p, in, (size_t)hl + size + 2, 7001);
	test_assert(st == IMAP_PARSE_COMMAND);
	const struct imap_command *cmd = imap_parser_command(p);
	test_assert(cmd->nargs == 2 && cmd->args[1].type == IMAP_ARG_LITERAL);
	test_assert(cmd->args[1].len == size && cmd->args[1].str != NULL);
	test_assert(memcmp(cmd->args[1].str, in + hl, size) == 0);
	test_assert(cmd->args[1].str[size] == '\0');
	/* A second command frees the first one's literal (ASan checks). */
	st = feed_chunks(p, "A2 NOOP\r\n", 9, 100);
	test_assert(st == IMAP_PARSE_COMMAND);
	/* An announced literal whose data never comes costs nothing yet, and a
	 * NUL inside a large literal is still an error. */
	char nulcmd[80];
	int nl = snprintf(nulcmd, sizeof(nulcmd), "A3 X {%d+}\r\nabc", 100000);
	st = feed_chunks(p, nulcmd, (size_t)nl, 1000);
	test_assert(st == IMAP_PARSE_NEED_MORE);
	test_assert(imap_parser_command_size(p) >= 100000);
	size_t used = 0;
	st = imap_parser_feed(p, "\0", 1, &used);
	test_assert(st == IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	imap_parser_free(&p);
	free(in);
	test_end();
}

int main(void)
{
	test_big_literal();
	test_valid();
	test_valid_limits();
	test_bad();
	test_bad_generated();
	test_literal_flow();
	test_literal_reject();
	test_literal_too_big();
	test_pipelined();
	test_line_too_long_resync();
	test_fatal();
	test_reset_trim();
	test_arg_helpers();
	test_random_consistency();
	return test_done();
}
