/* test_fetch_items: unit tests for the FETCH item parser.
 *
 * Arguments are built by hand the way the command parser delivers them
 * (a section with its header list and partial is one atom). Valid items
 * are checked field by field, and a table of invalid ones must all fail. */
#include "imap/fetch_items.h"

#include <string.h>

#include "lib/test.h"

TEST_STATE_DEFINE;

static struct imap_arg atom(const char *s)
{
	struct imap_arg a = {.type = IMAP_ARG_ATOM, .str = s, .len = strlen(s)};
	return a;
}

/* Parses one atom; returns 0/-1 like fetch_items_parse. */
static int parse_atom(const char *s, struct arena *a, struct fetch_items *r)
{
	struct imap_arg arg = atom(s);
	const char *error = NULL;
	int ret = fetch_items_parse(&arg, a, r, &error);
	if (ret < 0)
		test_assert(error != NULL);
	return ret;
}

static void test_simple(void)
{
	struct arena a;
	arena_init(&a, 0);
	struct fetch_items r;
	test_begin("fetch_items: simple items, case-insensitive");
	test_assert(parse_atom("flags", &a, &r) == 0);
	test_assert(r.count == 1 && r.items[0].att == FETCH_ATT_FLAGS && r.has_flags);
	test_assert_str(r.items[0].name, "FLAGS");
	test_assert(!r.need_summary && !r.need_body && !r.set_seen);
	test_assert(parse_atom("RFC822.SIZE", &a, &r) == 0 &&
	            r.items[0].att == FETCH_ATT_RFC822_SIZE);
	test_assert(parse_atom("uid", &a, &r) == 0 && r.has_uid);
	test_assert(parse_atom("InternalDate", &a, &r) == 0 &&
	            r.items[0].att == FETCH_ATT_INTERNALDATE);
	test_assert(parse_atom("ENVELOPE", &a, &r) == 0 && r.need_summary && !r.need_body);
	test_assert(parse_atom("BODY", &a, &r) == 0 && r.items[0].att == FETCH_ATT_BODY &&
	            r.need_summary);
	test_assert(parse_atom("BODYSTRUCTURE", &a, &r) == 0 &&
	            r.items[0].att == FETCH_ATT_BODYSTRUCTURE);
	test_end();
	arena_release(&a);
}

static void test_macros(void)
{
	struct arena a;
	arena_init(&a, 0);
	struct fetch_items r;
	test_begin("fetch_items: macros");
	test_assert(parse_atom("FAST", &a, &r) == 0 && r.count == 3 && !r.need_summary);
	test_assert(r.items[0].att == FETCH_ATT_FLAGS && r.items[2].att == FETCH_ATT_RFC822_SIZE);
	test_assert(parse_atom("all", &a, &r) == 0 && r.count == 4 && r.need_summary);
	test_assert(r.items[3].att == FETCH_ATT_ENVELOPE);
	test_assert(parse_atom("FULL", &a, &r) == 0 && r.count == 5);
	test_assert(r.items[4].att == FETCH_ATT_BODY);
	/* Macros are not fetch-atts: not allowed inside a list. */
	struct imap_arg inner[] = {atom("ALL")};
	struct imap_arg list = {.type = IMAP_ARG_LIST, .list = inner, .count = 1};
	const char *error;
	test_assert(fetch_items_parse(&list, &a, &r, &error) < 0);
	test_end();
	arena_release(&a);
}

static void test_list(void)
{
	struct arena a;
	arena_init(&a, 0);
	struct fetch_items r;
	const char *error;
	test_begin("fetch_items: lists");
	struct imap_arg inner[] = {atom("UID"), atom("BODY.PEEK[HEADER.FIELDS (From to)]"),
	                           atom("RFC822.SIZE")};
	struct imap_arg list = {.type = IMAP_ARG_LIST, .list = inner, .count = 3};
	test_assert(fetch_items_parse(&list, &a, &r, &error) == 0);
	test_assert(r.count == 3 && r.has_uid && r.need_body && r.need_summary && !r.set_seen);
	test_assert(r.items[1].spec == FETCH_SPEC_HEADER_FIELDS && r.items[1].n_fields == 2);
	test_assert_str(r.items[1].fields[0], "From");
	test_assert_str(r.items[1].fields[1], "to");
	test_assert_str(r.items[1].name, "BODY[HEADER.FIELDS (From to)]");
	struct imap_arg empty = {.type = IMAP_ARG_LIST};
	test_assert(fetch_items_parse(&empty, &a, &r, &error) < 0);
	struct imap_arg nested_inner[] = {atom("UID"), list};
	struct imap_arg nested = {.type = IMAP_ARG_LIST, .list = nested_inner, .count = 2};
	test_assert(fetch_items_parse(&nested, &a, &r, &error) < 0);
	struct imap_arg q = {.type = IMAP_ARG_QUOTED, .str = "FLAGS", .len = 5};
	test_assert(fetch_items_parse(&q, &a, &r, &error) < 0);
	test_end();
	arena_release(&a);
}

static void test_sections(void)
{
	struct arena a;
	arena_init(&a, 0);
	struct fetch_items r;
	test_begin("fetch_items: BODY sections");
	test_assert(parse_atom("BODY[]", &a, &r) == 0 && r.set_seen && r.need_body);
	test_assert(!r.need_summary && r.items[0].depth == 0 &&
	            r.items[0].spec == FETCH_SPEC_CONTENT);
	test_assert_str(r.items[0].name, "BODY[]");
	test_assert(parse_atom("body.peek[header]", &a, &r) == 0 && !r.set_seen && r.need_summary);
	test_assert(r.items[0].spec == FETCH_SPEC_HEADER);
	test_assert_str(r.items[0].name, "BODY[HEADER]");
	test_assert(parse_atom("BODY[1.2.3]", &a, &r) == 0);
	test_assert(r.items[0].depth == 3 && r.items[0].path[0] == 1 && r.items[0].path[2] == 3);
	test_assert(r.items[0].spec == FETCH_SPEC_CONTENT);
	test_assert_str(r.items[0].name, "BODY[1.2.3]");
	test_assert(parse_atom("BODY.PEEK[2.header]", &a, &r) == 0);
	test_assert(r.items[0].depth == 1 && r.items[0].spec == FETCH_SPEC_HEADER);
	test_assert_str(r.items[0].name, "BODY[2.HEADER]");
	test_assert(parse_atom("BODY[4.2.TEXT]", &a, &r) == 0 && r.items[0].depth == 2);
	test_assert(r.items[0].spec == FETCH_SPEC_TEXT);
	test_assert(parse_atom("BODY[1.MIME]", &a, &r) == 0 && r.items[0].spec == FETCH_SPEC_MIME);
	test_assert(parse_atom("BODY[TEXT]", &a, &r) == 0 && r.items[0].spec == FETCH_SPEC_TEXT);
	test_assert(parse_atom("BODY[3.HEADER.FIELDS.NOT (X-A)]", &a, &r) == 0);
	test_assert(r.items[0].spec == FETCH_SPEC_HEADER_FIELDS_NOT && r.items[0].n_fields == 1);
	test_assert_str(r.items[0].name, "BODY[3.HEADER.FIELDS.NOT (X-A)]");
	test_assert(parse_atom("BODY[4294967295]", &a, &r) == 0 &&
	            r.items[0].path[0] == 4294967295u);
	test_end();
	arena_release(&a);
}

static void test_partial(void)
{
	struct arena a;
	arena_init(&a, 0);
	struct fetch_items r;
	test_begin("fetch_items: partials");
	test_assert(parse_atom("BODY[]<0.100>", &a, &r) == 0 && r.items[0].partial);
	test_assert(r.items[0].offset == 0 && r.items[0].count == 100);
	test_assert_str(r.items[0].name, "BODY[]");
	test_assert(parse_atom("BODY.PEEK[HEADER.FIELDS (A B)]<5.7>", &a, &r) == 0);
	test_assert(r.items[0].offset == 5 && r.items[0].count == 7 && r.items[0].n_fields == 2);
	test_assert(parse_atom("BINARY[1]<10.20>", &a, &r) == 0 && r.items[0].partial);
	test_assert(parse_atom("BODY[]<9223372036854775807.1>", &a, &r) == 0);
	test_assert(parse_atom("BODY[]<00.1>", &a, &r) == 0 && r.items[0].offset == 0);
	test_end();
	arena_release(&a);
}

static void test_binary_rfc822(void)
{
	struct arena a;
	arena_init(&a, 0);
	struct fetch_items r;
	test_begin("fetch_items: BINARY and RFC822 items");
	test_assert(parse_atom("BINARY[1.2]", &a, &r) == 0 && r.set_seen && r.need_summary);
	test_assert(r.items[0].att == FETCH_ATT_BINARY && r.items[0].depth == 2);
	test_assert_str(r.items[0].name, "BINARY[1.2]");
	test_assert(parse_atom("BINARY.PEEK[]", &a, &r) == 0 && !r.set_seen && !r.need_summary);
	test_assert_str(r.items[0].name, "BINARY[]");
	test_assert(parse_atom("binary.size[3]", &a, &r) == 0 && !r.set_seen);
	test_assert(r.items[0].att == FETCH_ATT_BINARY_SIZE);
	test_assert_str(r.items[0].name, "BINARY.SIZE[3]");
	test_assert(parse_atom("RFC822", &a, &r) == 0 && r.set_seen && !r.need_summary);
	test_assert(r.items[0].att == FETCH_ATT_SECTION && r.items[0].spec == FETCH_SPEC_CONTENT);
	test_assert_str(r.items[0].name, "RFC822");
	test_assert(parse_atom("RFC822.HEADER", &a, &r) == 0 && !r.set_seen && r.need_summary);
	test_assert(r.items[0].spec == FETCH_SPEC_HEADER);
	test_assert(parse_atom("rfc822.text", &a, &r) == 0 && r.set_seen);
	test_assert(r.items[0].spec == FETCH_SPEC_TEXT);
	test_end();
	arena_release(&a);
}

static const char *const invalid_items[] = {
    "",
    "FOO",
    "BODY[",
    "BODY]",
    "BODY[]]",
    "BODY[MIME]",
    "BODY[0]",
    "BODY[01]",
    "BODY[1.0]",
    "BODY[1.]",
    "BODY[.1]",
    "BODY[1..2]",
    "BODY[4294967296]",
    "BODY[HEAD]",
    "BODY[HEADERX]",
    "BODY[TEXT.1]",
    "BODY[1.TEXTX]",
    "BODY[HEADER.FIELDS]",
    "BODY[HEADER.FIELDS ()]",
    "BODY[HEADER.FIELDS (A  B)]",
    "BODY[HEADER.FIELDS (A )]",
    "BODY[HEADER.FIELDS ( A)]",
    "BODY[HEADER.FIELDS(A)]",
    "BODY[HEADER.FIELDS (A:)]",
    "BODY[HEADER.FIELDS (A)",
    "BODY[]<",
    "BODY[]<1>",
    "BODY[]<1.>",
    "BODY[]<.1>",
    "BODY[]<0.0>",
    "BODY[]<1.2",
    "BODY[]<1.2>x",
    "BODY[]<-1.2>",
    "BODY[]<a.2>",
    "BODY[]<9223372036854775808.1>",
    "BODY[]x",
    "BODYX[]",
    "BODY.PEEK",
    "BODY.PEEKX[]",
    "BINARY",
    "BINARY[HEADER]",
    "BINARY[1.MIME]",
    "BINARY[1.TEXT]",
    "BINARY.SIZE[1]<0.5>",
    "BINARY.SIZE",
    "BINARY.PEEK[TEXT]",
    "RFC822.FOO",
    "RFC822[]",
    "FLAGSX",
    "UID[]",
    "ENVELOPE[]",
    "ALL[]",
    ("BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26.27.28.29."
     "30.31.32.33]"),
};

static void test_invalid(void)
{
	struct arena a;
	arena_init(&a, 0);
	struct fetch_items r;
	test_begin("fetch_items: invalid items are refused");
	for (size_t i = 0; i < sizeof(invalid_items) / sizeof(invalid_items[0]); i++) {
		if (parse_atom(invalid_items[i], &a, &r) != -1) {
			fprintf(stderr, "accepted: %s\n", invalid_items[i]);
			test_assert(!"invalid item accepted");
		}
	}
	test_end();
	arena_release(&a);
}

static void test_depth_limit(void)
{
	struct arena a;
	arena_init(&a, 0);
	struct fetch_items r;
	char s[256] = "BODY[";
	test_begin("fetch_items: a path of FETCH_PATH_MAX parts is accepted");
	for (int i = 0; i < FETCH_PATH_MAX; i++)
		strcat(s, i ? ".1" : "1");
	strcat(s, ".MIME]");
	test_assert(parse_atom(s, &a, &r) == 0 && r.items[0].depth == FETCH_PATH_MAX);
	test_assert(r.items[0].spec == FETCH_SPEC_MIME);
	test_end();
	arena_release(&a);
}

int main(void)
{
	test_simple();
	test_macros();
	test_list();
	test_sections();
	test_partial();
	test_binary_rfc822();
	test_invalid();
	test_depth_limit();
	return test_done();
}
