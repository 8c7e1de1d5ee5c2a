/* Unit tests for search.c: the SEARCH program parser (fed through the real
 * command parser, so the arguments have exactly the shapes a client's
 * command produces) and the three-valued evaluator against in-memory
 * message records. Every program is also checked for consistency: an
 * answer given without the message text (YES/NO) must equal the answer
 * with it. */
#include <stdlib.h>
#include <string.h>

#include "imap/parser.h"
#include "imap/search.h"
#include "lib/test.h"
#include "store/store.h"

TEST_STATE_DEFINE;

/* --- a message record with text --- */

struct tmsg {
	struct search_msg m;
	const char *from, *to, *subject, *xfield;
	const char *body;
};

static unsigned text_calls;
static char text_log[256];

static bool contains_ci(const char *hay, const char *needle)
{
	if (hay == NULL)
		return false;
	return strcasestr(hay, needle) != NULL;
}

static bool tmsg_text(void *ctx, enum search_text_kind kind, const char *field, const char *needle)
{
	const struct tmsg *t = ctx;
	text_calls++;
	strncat(text_log,
	        kind == SEARCH_TEXT_HEADER ? "H"
	        : kind == SEARCH_TEXT_BODY ? "B"
	                                   : "T",
	        sizeof(text_log) - strlen(text_log) - 1);
	if (kind == SEARCH_TEXT_BODY)
		return contains_ci(t->body, needle);
	if (kind == SEARCH_TEXT_ALL)
		return contains_ci(t->body, needle) || contains_ci(t->from, needle) ||
		       contains_ci(t->to, needle) || contains_ci(t->subject, needle);
	if (strcasecmp(field, "From") == 0)
		return contains_ci(t->from, needle);
	if (strcasecmp(field, "To") == 0)
		return contains_ci(t->to, needle);
	if (strcasecmp(field, "Subject") == 0)
		return contains_ci(t->subject, needle);
	if (strcasecmp(field, "X-Test") == 0)
		return contains_ci(t->xfield, needle);
	return false;
}

#define DAY 86400
/* 2024-03-10 00:00:00 UTC */
#define T0 1710028800LL

static struct tmsg msgs[] = {
    {{1, 10, STORE_FLAG_SEEN, "", false, T0, 0, 100, T0, 0, NULL, NULL},
     "Alice <alice@example.com>",
     "bob@example.com",
     "Hello world",
     NULL,
     "first body"},
    {{2, 11, STORE_FLAG_SEEN | STORE_FLAG_ANSWERED, "$Forwarded", false, T0 + DAY, 0, 2000,
      T0 - DAY, 0, NULL, NULL},
     "Bob <bob@example.com>",
     "alice@example.com",
     "Re: Hello",
     "",
     "second BODY text"},
    {{3, 15, STORE_FLAG_FLAGGED, "work Urgent", true, T0 + 2 * DAY, 0, 50, -1, 0, NULL, NULL},
     "carol@example.org",
     NULL,
     "Report",
     "yes",
     "quarterly numbers"},
    /* 23:30 on 11 March at UTC-5 is 12 March UTC: it is ON 11-Mar-2024 */
    {{4, 20, STORE_FLAG_DELETED, "", true, T0 + DAY + 23 * 3600 + 1800 + 5 * 3600, -300, 5000,
      T0 + 2 * DAY + 3600, 120, NULL, NULL},
     "dave@example.net",
     "alice@example.com",
     "Invoice",
     NULL,
     "please pay"},
    {{5, 21, STORE_FLAG_DRAFT | STORE_FLAG_SEEN, "work", false, T0 - 400 * DAY, 0, 1000,
      T0 - 400 * DAY, 0, NULL, NULL},
     "Alice <alice@example.com>",
     "carol@example.org",
     "Draft",
     NULL,
     "unfinished"},
};
#define N_MSGS (sizeof(msgs) / sizeof(msgs[0]))

/* --- parsing through the real command parser --- */

static struct imap_parser *cmd_parser;

static const struct imap_command *parse_command(const char *line)
{
	if (cmd_parser != NULL)
		imap_parser_free(&cmd_parser);
	cmd_parser = imap_parser_new(NULL);
	size_t len = strlen(line), pos = 0;
	while (pos < len) {
		size_t used;
		enum imap_parse_status st =
		    imap_parser_feed(cmd_parser, line + pos, len - pos, &used);
		pos += used;
		if (st == IMAP_PARSE_COMMAND)
			return imap_parser_command(cmd_parser);
		if (st == IMAP_PARSE_LITERAL)
			imap_parser_literal_accept(cmd_parser);
		else if (st == IMAP_PARSE_ERROR)
			return NULL;
	}
	return NULL;
}

static enum search_parse_status parse(const char *program, struct search_program **p_r,
                                      unsigned *ret_r, const char **error_r)
{
	char line[8192];
	snprintf(line, sizeof(line), "t SEARCH %s\r\n", program);
	const struct imap_command *cmd = parse_command(line);
	if (cmd == NULL) {
		*p_r = NULL;
		*error_r = "command parser refused";
		return SEARCH_PARSE_BAD;
	}
	unsigned ret;
	return search_parse(cmd->args, cmd->nargs, p_r, ret_r != NULL ? ret_r : &ret, error_r);
}

/* Runs a program over the records; returns "1 3" (matching sequence
 * numbers) in a static buffer, or "BAD"/"BADCHARSET". Checks the
 * no-text answers against the full ones. */
static const char *run(const char *program)
{
	static char out[256];
	static const uint32_t saved[] = {11, 20, 99};
	struct search_program *p;
	const char *error;
	enum search_parse_status st = parse(program, &p, NULL, &error);
	if (st != SEARCH_PARSE_OK)
		return st == SEARCH_PARSE_BAD ? "BAD" : "BADCHARSET";
	search_program_bind(p, N_MSGS, 21, saved, 3);
	out[0] = '\0';
	for (size_t k = 0; k < N_MSGS; k++) {
		struct search_msg m = msgs[k].m;
		enum search_result quick = search_eval(p, &m);
		m.text = tmsg_text;
		m.text_ctx = &msgs[k];
		enum search_result full = search_eval(p, &m);
		test_assert(full != SEARCH_MAYBE);
		test_assert(quick == SEARCH_MAYBE || quick == full);
		if (quick == SEARCH_MAYBE)
			test_assert(p->need_text);
		if (full == SEARCH_YES) {
			size_t len = strlen(out);
			snprintf(out + len, sizeof(out) - len, "%s%u", len ? " " : "", m.seq);
		}
	}
	search_program_free(&p);
	return out;
}

static void test_dates(void)
{
	int64_t d;
	test_begin("search: dates");
	test_assert(search_parse_date("1-Jan-1970", 10, &d) == 0 && d == 0);
	test_assert(search_parse_date("01-jan-1970", 11, &d) == 0 && d == 0);
	test_assert(search_parse_date("10-MAR-2024", 11, &d) == 0 && d == T0 / DAY);
	test_assert(search_parse_date("29-Feb-2024", 11, &d) == 0);
	test_assert(search_parse_date("31-Dec-1969", 11, &d) == 0 && d == -1);
	test_assert(search_parse_date("1-Mar-2000", 10, &d) == 0 && d == 11017);
	test_assert(search_parse_date("29-Feb-2023", 11, &d) < 0);
	test_assert(search_parse_date("31-Apr-2024", 11, &d) < 0);
	test_assert(search_parse_date("0-Jan-2024", 10, &d) < 0);
	test_assert(search_parse_date("100-Jan-2024", 12, &d) < 0);
	test_assert(search_parse_date("1-Jax-2024", 10, &d) < 0);
	test_assert(search_parse_date("1-Jan-24", 8, &d) < 0);
	test_assert(search_parse_date("1-Jan-20244", 11, &d) < 0);
	test_assert(search_parse_date("1 Jan 2024", 10, &d) < 0);
	test_assert(search_parse_date("", 0, &d) < 0);
	test_assert(search_parse_date("-Jan-2024", 9, &d) < 0);
	test_assert(search_parse_date("1-Jan-2O24", 10, &d) < 0);
	test_end();
}

static void test_flags(void)
{
	test_begin("search: flag keys");
	test_assert_str(run("ALL"), "1 2 3 4 5");
	test_assert_str(run("SEEN"), "1 2 5");
	test_assert_str(run("UNSEEN"), "3 4");
	test_assert_str(run("ANSWERED"), "2");
	test_assert_str(run("UNANSWERED"), "1 3 4 5");
	test_assert_str(run("FLAGGED"), "3");
	test_assert_str(run("UNFLAGGED"), "1 2 4 5");
	test_assert_str(run("DELETED"), "4");
	test_assert_str(run("UNDELETED"), "1 2 3 5");
	test_assert_str(run("DRAFT"), "5");
	test_assert_str(run("UNDRAFT"), "1 2 3 4");
	test_assert_str(run("seen unanswered"), "1 5");
	test_assert_str(run("RECENT"), "3 4");
	test_assert_str(run("NEW"), "3 4");
	test_assert_str(run("OLD"), "1 2 5");
	test_assert_str(run("KEYWORD work"), "3 5");
	test_assert_str(run("KEYWORD WORK"), "3 5");
	test_assert_str(run("KEYWORD urgent"), "3");
	test_assert_str(run("KEYWORD wor"), "");
	test_assert_str(run("KEYWORD $Forwarded"), "2");
	test_assert_str(run("UNKEYWORD work"), "1 2 4");
	test_assert_str(run("KEYWORD \\Seen"), "1 2 5");
	test_end();
}

static void test_sizes_sets(void)
{
	test_begin("search: sizes and sets");
	test_assert_str(run("LARGER 1000"), "2 4");
	test_assert_str(run("SMALLER 100"), "3");
	test_assert_str(run("LARGER 0"), "1 2 3 4 5");
	test_assert_str(run("SMALLER 9223372036854775807"), "1 2 3 4 5");
	test_assert_str(run("1:3"), "1 2 3");
	test_assert_str(run("2,4"), "2 4");
	test_assert_str(run("*"), "5");
	test_assert_str(run("4:*"), "4 5");
	test_assert_str(run("3:1"), "1 2 3");
	test_assert_str(run("100"), ""); /* beyond EXISTS: no match, no error */
	test_assert_str(run("5:100"), "5");
	test_assert_str(run("UID 10:15"), "1 2 3");
	test_assert_str(run("UID 20,21"), "4 5");
	test_assert_str(run("UID *"), "5");
	test_assert_str(run("UID 30:*"), "5"); /* RFC 9051: 30:* is 21:30 here */
	test_assert_str(run("UID 1:9"), "");
	test_assert_str(run("UID 1000"), "");
	test_assert_str(run("$"), "2 4"); /* saved UIDs 11, 20 (99 is gone) */
	test_assert_str(run("UID $"), "2 4");
	test_assert_str(run("NOT $"), "1 3 5");
	test_assert_str(run("1:4 UID 11:20"), "2 3 4");
	test_end();
}

static void test_dates_eval(void)
{
	test_begin("search: date keys");
	test_assert_str(run("ON 10-Mar-2024"), "1");
	test_assert_str(run("ON 11-Mar-2024"), "2 4"); /* 4: its own zone's date */
	test_assert_str(run("BEFORE 11-Mar-2024"), "1 5");
	test_assert_str(run("SINCE 11-Mar-2024"), "2 3 4");
	test_assert_str(run("SINCE \"12-Mar-2024\""), "3");
	test_assert_str(run("BEFORE 1-Jan-1970"), "");
	test_assert_str(run("SENTON 9-Mar-2024"), "2");
	test_assert_str(run("SENTON 12-Mar-2024"), "4");
	test_assert_str(run("SENTBEFORE 10-Mar-2024"), "2 5");
	test_assert_str(run("SENTSINCE 10-Mar-2024"), "1 4"); /* 3 has no Date: */
	test_assert_str(run("NOT SENTSINCE 10-Mar-2024"), "2 3 5");
	test_end();
}

static void test_text_eval(void)
{
	test_begin("search: text keys");
	test_assert_str(run("FROM alice"), "1 5");
	test_assert_str(run("FROM ALICE"), "1 5");
	test_assert_str(run("TO alice@example.com"), "2 4");
	test_assert_str(run("SUBJECT hello"), "1 2");
	test_assert_str(run("SUBJECT \"re: hello\""), "2");
	test_assert_str(run("CC anything"), "");
	test_assert_str(run("BCC x"), "");
	test_assert_str(run("BODY body"), "1 2");
	test_assert_str(run("BODY {4}\r\nPLEA"), "4");
	test_assert_str(run("TEXT hello"), "1 2");
	test_assert_str(run("TEXT pay"), "4");
	test_assert_str(run("HEADER X-Test \"\""), "2 3");
	test_assert_str(run("HEADER x-test yes"), "3");
	test_assert_str(run("HEADER Subject report"), "3");
	test_assert_str(run("SEEN BODY body"), "1 2");
	test_assert_str(run("OR FROM bob SUBJECT report"), "2 3");
	test_assert_str(run("NOT FROM alice"), "2 3 4");
	test_end();
}

static void test_combinations(void)
{
	test_begin("search: OR, NOT, lists");
	test_assert_str(run("OR SEEN FLAGGED"), "1 2 3 5");
	test_assert_str(run("OR (SEEN ANSWERED) DELETED"), "2 4");
	test_assert_str(run("NOT SEEN"), "3 4");
	test_assert_str(run("NOT NOT SEEN"), "1 2 5");
	test_assert_str(run("NOT (SEEN DRAFT)"), "1 2 3 4");
	test_assert_str(run("(SEEN) (DRAFT)"), "5");
	test_assert_str(run("((((ALL))))"), "1 2 3 4 5");
	test_assert_str(run("OR OR DRAFT FLAGGED DELETED"), "3 4 5");
	test_assert_str(run("OR BODY numbers NOT LARGER 10"), "3");
	test_assert_str(run("OR BODY numbers LARGER 1000"), "2 3 4");
	test_assert_str(run("NOT OR SEEN RECENT"), "");
	test_assert_str(run("UNSEEN OR KEYWORD work TEXT invoice"), "3 4");
	test_end();
}

static void test_errors(void)
{
	test_begin("search: syntax errors");
	static const char *const bad[] = {
	    "",
	    "FOO",
	    "SEEN FOO",
	    "FROM",
	    "HEADER Subject",
	    "BEFORE",
	    "BEFORE 1-Foo-2024",
	    "BEFORE 32-Jan-2024",
	    "ON \"1 Jan 2024\"",
	    "LARGER",
	    "LARGER x",
	    "LARGER -1",
	    "LARGER 9223372036854775808",
	    "SMALLER 12a",
	    "NOT",
	    "OR SEEN",
	    "OR",
	    "()",
	    "(SEEN",
	    "UID",
	    "UID x",
	    "UID 0",
	    "0",
	    "1:",
	    "1,,2",
	    "01",
	    "KEYWORD",
	    "KEYWORD \"\"",
	    "RETURN",
	    "RETURN ALL SEEN",
	    "RETURN (FOO) ALL",
	    "RETURN (MIN",
	    "CHARSET",
	    "CHARSET UTF-8",
	    "RETURN (ALL)",
	    "SEEN RETURN (ALL)",
	    "ALL CHARSET UTF-8",
	    "LARGER (1)",
	    "UID (1)",
	    "\"SEEN\"",
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		if (strcmp(run(bad[k]), "BAD") != 0) {
			fprintf(stderr, "not BAD: %s\n", bad[k]);
			test_assert(false);
		}
	}
	test_end();
}

static void test_charset(void)
{
	test_begin("search: CHARSET");
	test_assert_str(run("CHARSET UTF-8 SEEN"), "1 2 5");
	test_assert_str(run("CHARSET utf-8 SEEN"), "1 2 5");
	test_assert_str(run("CHARSET \"US-ASCII\" SEEN"), "1 2 5");
	test_assert_str(run("CHARSET ISO-8859-1 SEEN"), "BADCHARSET");
	test_assert_str(run("CHARSET UTF-7 SEEN"), "BADCHARSET");
	test_assert_str(run("RETURN (COUNT) CHARSET UTF-8 SEEN"), "1 2 5");
	test_end();
}

static void test_return(void)
{
	struct search_program *p;
	const char *error;
	unsigned ret;
	test_begin("search: RETURN options");
	test_assert(parse("SEEN", &p, &ret, &error) == SEARCH_PARSE_OK);
	test_assert(!p->has_return && p->return_opts == 0 && ret == 0);
	search_program_free(&p);
	test_assert(parse("RETURN () SEEN", &p, &ret, &error) == SEARCH_PARSE_OK);
	test_assert(p->has_return && p->return_opts == SEARCH_RETURN_ALL);
	search_program_free(&p);
	test_assert(parse("return (min MAX count) SEEN", &p, &ret, &error) == SEARCH_PARSE_OK);
	test_assert(p->return_opts ==
	            (SEARCH_RETURN_MIN | SEARCH_RETURN_MAX | SEARCH_RETURN_COUNT));
	search_program_free(&p);
	test_assert(parse("RETURN (SAVE ALL SAVE) SEEN", &p, &ret, &error) == SEARCH_PARSE_OK);
	test_assert(p->return_opts == (SEARCH_RETURN_SAVE | SEARCH_RETURN_ALL));
	search_program_free(&p);
	/* No arguments at all (the parser gives a NULL array). */
	test_assert(search_parse(NULL, 0, &p, &ret, &error) == SEARCH_PARSE_BAD);
	test_assert(p == NULL && ret == 0 && error != NULL);
	/* A failed SAVE search still reports that SAVE was asked for. */
	test_assert(parse("RETURN (SAVE) FOO", &p, &ret, &error) == SEARCH_PARSE_BAD);
	test_assert(p == NULL && ret == SEARCH_RETURN_SAVE && error != NULL);
	test_assert(parse("RETURN (SAVE) CHARSET KOI8-R ALL", &p, &ret, &error) ==
	            SEARCH_PARSE_BADCHARSET);
	test_assert(ret == SEARCH_RETURN_SAVE);
	test_end();
}

static void test_needs(void)
{
	struct search_program *p;
	const char *error;
	test_begin("search: program needs");
	test_assert(parse("SEEN 1:* UID 3 LARGER 5 SINCE 1-Jan-2000", &p, NULL, &error) ==
	            SEARCH_PARSE_OK);
	test_assert(!p->need_text && !p->need_parts && !p->need_sent_date && !p->uses_saved);
	search_program_free(&p);
	test_assert(parse("SENTON 1-Jan-2000", &p, NULL, &error) == SEARCH_PARSE_OK);
	test_assert(p->need_sent_date && !p->need_text);
	search_program_free(&p);
	test_assert(parse("NOT FROM x", &p, NULL, &error) == SEARCH_PARSE_OK);
	test_assert(p->need_text && !p->need_parts);
	search_program_free(&p);
	test_assert(parse("OR ALL TEXT x", &p, NULL, &error) == SEARCH_PARSE_OK);
	test_assert(p->need_text && p->need_parts);
	search_program_free(&p);
	test_assert(parse("UID $", &p, NULL, &error) == SEARCH_PARSE_OK);
	test_assert(p->uses_saved);
	search_program_free(&p);
	test_end();
}

/* Cheap keys first: text is never consulted when metadata decides, and
 * header keys run before body keys whatever the client's order. */
static void test_order(void)
{
	struct search_program *p;
	const char *error;
	test_begin("search: evaluation order");
	test_assert(parse("BODY x FROM y SEEN", &p, NULL, &error) == SEARCH_PARSE_OK);
	search_program_bind(p, N_MSGS, 21, NULL, 0);
	struct search_msg m = msgs[2].m; /* unseen */
	m.text = tmsg_text;
	m.text_ctx = &msgs[2];
	text_calls = 0;
	test_assert(search_eval(p, &m) == SEARCH_NO && text_calls == 0);
	m = msgs[0].m;
	m.text = tmsg_text;
	m.text_ctx = &msgs[0];
	text_log[0] = '\0';
	test_assert(search_eval(p, &m) == SEARCH_NO);
	test_assert_str(text_log, "H"); /* FROM y failed: BODY never scanned */
	search_program_free(&p);
	test_assert(parse("OR TEXT first SEEN", &p, NULL, &error) == SEARCH_PARSE_OK);
	search_program_bind(p, N_MSGS, 21, NULL, 0);
	m = msgs[0].m;
	test_assert(search_eval(p, &m) == SEARCH_YES); /* decided without text */
	m = msgs[2].m;
	test_assert(search_eval(p, &m) == SEARCH_MAYBE);
	search_program_free(&p);
	test_end();
}

static void test_depth(void)
{
	char prog[4096];
	test_begin("search: nesting limit");
	prog[0] = '\0';
	for (int k = 0; k < 41; k++)
		strcat(prog, "NOT ");
	strcat(prog, "SEEN");
	test_assert_str(run(prog), "3 4");
	prog[0] = '\0';
	for (int k = 0; k < 500; k++)
		strcat(prog, "NOT ");
	strcat(prog, "SEEN");
	test_assert_str(run(prog), "BAD");
	prog[0] = '\0';
	for (int k = 0; k < 500; k++)
		strcat(prog, "OR SEEN ");
	strcat(prog, "SEEN");
	test_assert_str(run(prog), "BAD");
	/* Long flat lists are fine (iterated, not recursed). */
	prog[0] = '\0';
	for (int k = 0; k < 800; k++)
		strcat(prog, "ALL ");
	strcat(prog, "DRAFT");
	test_assert_str(run(prog), "5");
	test_end();
}

static void test_append_set(void)
{
	struct buf b = {0};
	static const uint32_t a[] = {1, 2, 3, 5, 7, 8, 10, 4294967295u};
	test_begin("search: sequence-set output");
	search_append_set(&b, a, 8);
	test_assert_str(buf_rdata(&b), "1:3,5,7:8,10,4294967295");
	buf_release(&b);
	search_append_set(&b, a, 0);
	test_assert(b.len == 0);
	search_append_set(&b, a + 3, 1);
	test_assert_str(buf_rdata(&b), "5");
	buf_release(&b);
	test_end();
}

int main(void)
{
	test_dates();
	test_flags();
	test_sizes_sets();
	test_dates_eval();
	test_text_eval();
	test_combinations();
	test_errors();
	test_charset();
	test_return();
	test_needs();
	test_order();
	test_depth();
	test_append_set();
	imap_parser_free(&cmd_parser);
	return test_done();
}
