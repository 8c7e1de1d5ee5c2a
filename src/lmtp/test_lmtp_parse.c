/* test_lmtp_parse: unit tests for LMTP verbs, paths, parameters, detail
 * splitting and dot-unstuffing.
 *
 * The unstuffer is fed every input whole, one byte at a time, and split
 * at every possible boundary: the result must be the same each time. */
#include "lmtp/lmtp_parse.h"

#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/test.h"

TEST_STATE_DEFINE;

static void test_verbs(void)
{
	const char *args;
	test_begin("lmtp: verbs");
	test_assert(lmtp_parse_verb("LHLO x.org", &args) == LMTP_VERB_LHLO);
	test_assert_str(args, "x.org");
	test_assert(lmtp_parse_verb("lhlo", &args) == LMTP_VERB_LHLO);
	test_assert_str(args, "");
	test_assert(lmtp_parse_verb("mail FROM:<a@b>", &args) == LMTP_VERB_MAIL);
	test_assert_str(args, "FROM:<a@b>");
	test_assert(lmtp_parse_verb("EHLO x", &args) == LMTP_VERB_EHLO);
	test_assert(lmtp_parse_verb("HELO x", &args) == LMTP_VERB_HELO);
	test_assert(lmtp_parse_verb("DATAX", &args) == LMTP_VERB_UNKNOWN);
	test_assert(lmtp_parse_verb("DAT", &args) == LMTP_VERB_UNKNOWN);
	test_assert(lmtp_parse_verb("", &args) == LMTP_VERB_UNKNOWN);
	test_assert(lmtp_parse_verb("QUIT", &args) == LMTP_VERB_QUIT);
	test_end();
}

struct path_case {
	const char *args;
	bool rcpt;
	int ret;
	const char *addr, *local, *domain; /* NULL addr: null path */
};

static const struct path_case path_cases[] = {
    {"FROM:<a@b.org>", false, 0, "a@b.org", "a", "b.org"},
    {"from: <a.b@c.d>", false, 0, "a.b@c.d", "a.b", "c.d"},
    {"FROM:<>", false, 0, NULL, NULL, NULL},
    {"TO:<>", true, -1, NULL, NULL, NULL},
    {"FROM:<a>", false, -1, NULL, NULL, NULL},
    {"TO:<postmaster>", true, 0, "postmaster", "postmaster", NULL},
    {"TO:<u+d@x.org>", true, 0, "u+d@x.org", "u+d", "x.org"},
    {"TO:<\"a b\"@x.org>", true, 0, "\"a b\"@x.org", "a b", "x.org"},
    {"TO:<\"a\\\"q\"@x.org>", true, 0, "\"a\\\"q\"@x.org", "a\"q", "x.org"},
    {"TO:<@r1.org,@r2.org:u@x.org>", true, 0, "u@x.org", "u", "x.org"},
    {"TO:<u@[127.0.0.1]>", true, 0, "u@[127.0.0.1]", "u", "[127.0.0.1]"},
    {"TO:<u@>", true, -1, NULL, NULL, NULL},
    {"TO:<.u@x>", true, -1, NULL, NULL, NULL},
    {"TO:<u..v@x>", true, -1, NULL, NULL, NULL},
    {"TO:<u@x", true, -1, NULL, NULL, NULL},
    {"TO:u@x", true, -1, NULL, NULL, NULL},
    {"TO:<\"unterminated@x>", true, -1, NULL, NULL, NULL},
    {"TO:<\"\"@x>", true, -1, NULL, NULL, NULL},
    {"TO:<u@x.org>junk", true, -1, NULL, NULL, NULL},
    {"FROM:<u@x.org>  SIZE=10", false, 0, "u@x.org", "u", "x.org"},
    {"FROM:<u@x.org> =10", false, -1, NULL, NULL, NULL},
    {"FROM:<u@x.org> SIZE=", false, -1, NULL, NULL, NULL},
    {"FROM <u@x.org>", false, -1, NULL, NULL, NULL},
    {"TO:<u@x\r.org>", true, -1, NULL, NULL, NULL},
};

static void test_paths(void)
{
	test_begin("lmtp: paths");
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *pc = &path_cases[i];
		struct lmtp_mail_args a;
		const char *why = NULL;
		int ret = lmtp_parse_mail_args(pc->args, pc->rcpt, &a, &why);
		if (ret != pc->ret)
			fprintf(stderr, "case %zu (%s): ret %d\n", i, pc->args, ret);
		test_assert(ret == pc->ret);
		if (ret < 0) {
			test_assert(why != NULL);
			continue;
		}
		test_assert(a.path.is_null == (pc->addr == NULL));
		if (pc->addr != NULL) {
			test_assert_str(a.path.addr, pc->addr);
			test_assert_str(a.path.local, pc->local);
			if (pc->domain == NULL)
				test_assert(a.path.domain == NULL);
			else
				test_assert_str(a.path.domain, pc->domain);
		}
		lmtp_mail_args_free(&a);
	}
	test_end();
}

static void test_params(void)
{
	struct lmtp_mail_args a;
	const char *why;
	bool present;
	test_begin("lmtp: parameters");
	test_assert(
	    lmtp_parse_mail_args("FROM:<a@b> size=123 body=8BITMIME X-FLAG", false, &a, &why) == 0);
	test_assert(a.n_params == 3);
	test_assert_str(lmtp_param_get(&a, "SIZE", &present), "123");
	test_assert(present);
	test_assert_str(lmtp_param_get(&a, "BODY", &present), "8BITMIME");
	test_assert(lmtp_param_get(&a, "X-FLAG", &present) == NULL && present);
	test_assert(lmtp_param_get(&a, "NONE", &present) == NULL && !present);
	lmtp_mail_args_free(&a);
	/* too many */
	char many[512] = "FROM:<a@b>";
	for (int i = 0; i <= LMTP_MAX_PARAMS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), " K%d=v", i);
	test_assert(lmtp_parse_mail_args(many, false, &a, &why) == -1);
	test_end();
}

static void test_detail(void)
{
	size_t n;
	const char *detail;
	test_begin("lmtp: user+detail");
	lmtp_split_detail("bob+lists", "+", &n, &detail);
	test_assert(n == 3 && detail != NULL && strcmp(detail, "lists") == 0);
	lmtp_split_detail("bob", "+", &n, &detail);
	test_assert(n == 3 && detail == NULL);
	lmtp_split_detail("bob-a+b", "+-", &n, &detail);
	test_assert(n == 3 && strcmp(detail, "a+b") == 0);
	lmtp_split_detail("bob+x", "", &n, &detail);
	test_assert(n == 5 && detail == NULL);
	lmtp_split_detail("bob+", "+", &n, &detail);
	test_assert(n == 3 && detail != NULL && detail[0] == '\0');
	test_end();
}

struct unstuff_case {
	const char *in;
	const char *out; /* message bytes */
	size_t consumed; /* bytes up to the end of the final line; 0: not done */
};

static const struct unstuff_case unstuff_cases[] = {
    {".\r\n", "", 3},
    {"a\r\n.\r\n", "a\r\n", 6},
    {"..a\r\n.\r\nNEXT", ".a\r\n", 8},
    {"a\r\n..\r\n.\r\n", "a\r\n.\r\n", 10},
    {"a.\r\n.b\r\n.\r\n", "a.\r\nb\r\n", 11},
    {"x\n.\n", "x\n", 4},
    {".\rz\r\n.\r\n", "\rz\r\n", 8},
    {"no end\r\n", "no end\r\n", 0},
    {"a\r\n.", "a\r\n", 0},
};

/* Feeds in split into pieces of `step` bytes (0: whole). */
static void unstuff_run(const char *in, size_t step, struct buf *out, size_t *consumed_r,
                        bool *done_r)
{
	struct lmtp_unstuff u;
	lmtp_unstuff_init(&u);
	size_t len = strlen(in), pos = 0;
	uint64_t counted = 0;
	while (pos < len && !u.done) {
		size_t n = step == 0 || len - pos < step ? len - pos : step;
		pos += lmtp_unstuff_feed(&u, in + pos, n, out, &counted);
	}
	*consumed_r = pos;
	*done_r = u.done;
	test_assert(counted == buf_rlen(out));
}

static void test_unstuff(void)
{
	test_begin("lmtp: dot-unstuffing at every chunk boundary");
	for (size_t i = 0; i < sizeof(unstuff_cases) / sizeof(unstuff_cases[0]); i++) {
		const struct unstuff_case *uc = &unstuff_cases[i];
		const char *want = uc->out;
		size_t want_consumed = uc->consumed;
		for (size_t step = 0; step <= strlen(uc->in); step++) {
			struct buf out = {0};
			size_t consumed;
			bool done;
			unstuff_run(uc->in, step, &out, &consumed, &done);
			if (strcmp(buf_rdata(&out), want) != 0)
				fprintf(stderr, "case %zu step %zu: got '%s'\n", i, step,
				        buf_rdata(&out));
			test_assert_str(buf_rdata(&out), want);
			test_assert(done == (want_consumed != 0));
			if (want_consumed != 0)
				test_assert(consumed == want_consumed);
			buf_release(&out);
		}
	}
	/* discarding: nothing appended, everything counted */
	struct lmtp_unstuff u;
	lmtp_unstuff_init(&u);
	uint64_t counted = 0;
	const char *in = "abc\r\n..\r\n.\r\n";
	size_t n = lmtp_unstuff_feed(&u, in, strlen(in), NULL, &counted);
	test_assert(u.done && n == strlen(in) && counted == 8);
	test_end();
}

int main(void)
{
	test_verbs();
	test_paths();
	test_params();
	test_detail();
	test_unstuff();
	return test_done();
}
