/* Unit tests for mboxname: modified UTF-7 (RFC 3501 §5.1.3) both ways,
 * canonical-form checks, round trips, INBOX folding, name validation and
 * the wire form of names. Links mboxname.c, parser.c (argument helpers)
 * and the store's store_name_valid(); session_utf8() is defined here. */
#include <stdlib.h>
#include <string.h>

#include "imap/mboxname.h"
#include "imap/session.h"
#include "lib/test.h"

TEST_STATE_DEFINE;

/* The one session function mboxname uses, over a bare struct session. */
bool session_utf8(const struct session *s)
{
	return (s->enabled & (SESSION_ENABLED_IMAP4REV2 | SESSION_ENABLED_UTF8_ACCEPT)) != 0;
}

/* mUTF-7 <-> UTF-8 pairs; every one must convert exactly both ways. */
static const struct {
	const char *mutf7, *utf8;
} pairs[] = {
	{"", ""},
	{"INBOX", "INBOX"},
	{"&-", "&"},
	{"A&-B", "A&B"},
	{"&-&-", "&&"},
	{"Entw&APw-rfe", "Entw\xc3\xbc" "rfe"},
	{"&AOQ-", "\xc3\xa4"},
	{"&AOQA5A-", "\xc3\xa4\xc3\xa4"},
	{"&AOQ-&-", "\xc3\xa4&"},
	{"&-&AOQ-", "&\xc3\xa4"},
	/* RFC 3501 §5.1.3's example */
	{"~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	 "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"},
	/* U+1F600: a UTF-16 surrogate pair */
	{"&2D3eAA-", "\xf0\x9f\x98\x80"},
	{"a&2D3eAA-b", "a\xf0\x9f\x98\x80" "b"},
	/* Control characters are encoded, never sent raw */
	{"a&AAE-b", "a\x01" "b"},
	{"&AH8-", "\x7f"},
	{"&AIU-", "\xc2\x85"},
	{"Sent Items", "Sent Items"},
	{"~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}", "~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}"},
};

static void test_pairs(void)
{
	test_begin("mutf7: vectors convert exactly both ways");
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct buf a = {0}, b = {0};
		test_assert(mutf7_to_utf8(pairs[i].mutf7, strlen(pairs[i].mutf7), &a) == 0);
		test_assert_str(a.data, pairs[i].utf8);
		test_assert(utf8_to_mutf7(pairs[i].utf8, strlen(pairs[i].utf8), &b) == 0);
		test_assert_str(b.data, pairs[i].mutf7);
		buf_release(&a);
		buf_release(&b);
	}
	test_end();
}

static const char *const bad_mutf7[] = {
	"&",            /* unterminated */
	"a&",           /* unterminated */
	"&AOQ",         /* unterminated shift */
	"&Jjo!",        /* RFC 3501's example of an illegal name */
	"&U,BTFw-&ZeVnLIqe-", /* RFC 3501: adjacent shifts are not canonical */
	"&AOQ-&AOQ-",   /* same */
	"&AGE-",        /* 'a' encoded: printable ASCII must be direct */
	"&ACY-",        /* '&' encoded */
	"&AC8-",        /* '/' encoded */
	"&ACA-",        /* SP encoded */
	"&AOR-",        /* non-zero padding bits */
	"&AOQA-",       /* a whole unused base64 character */
	"&A-",          /* fewer than 16 bits */
	"&AA-",         /* fewer than 16 bits */
	"&AAA-",        /* U+0000 */
	"&2D0-",        /* lone high surrogate */
	"&3gA-",        /* lone low surrogate */
	"&2D3YPQ-",     /* high surrogate followed by a high surrogate */
	"&AOQ/-",       /* '/' is not modified base64 (',' is) */
	"&AOQ=-",       /* no '=' padding */
	"Entw\xc3\xbcrfe", /* raw 8-bit */
	"a\x01" "b",    /* raw control character */
	"a\x7f" "b",    /* raw DEL */
	"a\tb",         /* raw TAB */
};

static void test_bad_mutf7(void)
{
	test_begin("mutf7: invalid and non-canonical input is refused");
	for (size_t i = 0; i < sizeof(bad_mutf7) / sizeof(bad_mutf7[0]); i++) {
		struct buf out = {0};
		buf_append_str(&out, "keep");
		int ret = mutf7_to_utf8(bad_mutf7[i], strlen(bad_mutf7[i]), &out);
		if (ret != -1)
			fprintf(stderr, "accepted: %s\n", bad_mutf7[i]);
		test_assert(ret == -1);
		/* A failed conversion leaves what was there before. */
		test_assert_str(out.data, "keep");
		buf_release(&out);
	}
	/* A NUL byte inside the input */
	struct buf out = {0};
	test_assert(mutf7_to_utf8("a\0b", 3, &out) == -1);
	buf_release(&out);
	test_end();
}

static void test_bad_utf8(void)
{
	static const char *const bad[] = {
		"\xff", "a\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80",
		"\xc3", "\x80", "\xe0\x80\xaf", "\xf8\x88\x80\x80\x80",
	};
	test_begin("utf8_to_mutf7: invalid UTF-8 is refused");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf out = {0};
		test_assert(utf8_to_mutf7(bad[i], strlen(bad[i]), &out) == -1);
		test_assert(out.len == 0);
		buf_release(&out);
	}
	struct buf out = {0};
	test_assert(utf8_to_mutf7("a\0b", 3, &out) == -1);
	buf_release(&out);
	test_end();
}

/* Round trips over generated strings: UTF-8 -> mUTF-7 -> UTF-8 is the
 * identity, and the mUTF-7 form decodes. */
static void test_round_trips(void)
{
	static const uint32_t alphabet[] = {'a', '&', '-', ' ', '/', 0x7e, 0x01, 0xe4, 0xfc,
					    0x20ac, 0x53f0, 0xffff, 0x10000, 0x1f600, 0x10ffff};
	const size_t n = sizeof(alphabet) / sizeof(alphabet[0]);
	test_begin("mutf7: round trips of generated strings");
	unsigned seed = 12345;
	for (int iter = 0; iter < 5000; iter++) {
		struct buf u = {0}, m = {0}, back = {0}, again = {0};
		int len = iter % 13;
		for (int k = 0; k < len; k++) {
			seed = seed * 1103515245u + 12345u;
			uint32_t cp = alphabet[(seed >> 16) % n];
			char enc[5];
			size_t l;
			if (cp < 0x80) {
				enc[0] = (char)cp;
				l = 1;
			} else if (cp < 0x800) {
				enc[0] = (char)(0xc0 | (cp >> 6));
				enc[1] = (char)(0x80 | (cp & 0x3f));
				l = 2;
			} else if (cp < 0x10000) {
				enc[0] = (char)(0xe0 | (cp >> 12));
				enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
				enc[2] = (char)(0x80 | (cp & 0x3f));
				l = 3;
			} else {
				enc[0] = (char)(0xf0 | (cp >> 18));
				enc[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
				enc[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
				enc[3] = (char)(0x80 | (cp & 0x3f));
				l = 4;
			}
			buf_append(&u, enc, l);
		}
		test_assert(utf8_to_mutf7(u.data ? u.data : "", u.len, &m) == 0);
		for (size_t k = 0; k < m.len; k++)
			test_assert(m.data[k] >= 0x20 && m.data[k] <= 0x7e);
		test_assert(mutf7_to_utf8(m.data, m.len, &back) == 0);
		test_assert(back.len == u.len && memcmp(back.data, u.data ? u.data : "", u.len) == 0);
		test_assert(utf8_to_mutf7(back.data, back.len, &again) == 0);
		test_assert(again.len == m.len && memcmp(again.data, m.data, m.len) == 0);
		buf_release(&u);
		buf_release(&m);
		buf_release(&back);
		buf_release(&again);
	}
	test_end();
}

/* Converts with mboxname_from_wire; returns the name (static copy) or
 * NULL when refused. */
static char wire_result[1024];
static const char *wire(const char *str, size_t len, bool utf8)
{
	char *name = NULL;
	const char *error = NULL;
	if (mboxname_from_wire(str, len, utf8, &name, &error) < 0) {
		test_assert(name == NULL && error != NULL && error[0] != '\0');
		return NULL;
	}
	test_assert(strlen(name) < sizeof(wire_result));
	snprintf(wire_result, sizeof(wire_result), "%s", name);
	free(name);
	return wire_result;
}

static const char *wire_str(const char *str, bool utf8)
{
	return wire(str, strlen(str), utf8);
}

static void test_inbox(void)
{
	test_begin("mboxname: INBOX is folded in any case, alone or as first level");
	test_assert_str(wire_str("INBOX", false), "INBOX");
	test_assert_str(wire_str("inbox", false), "INBOX");
	test_assert_str(wire_str("InBoX", true), "INBOX");
	test_assert_str(wire_str("inbox/x", false), "INBOX/x");
	test_assert_str(wire_str("iNBOX/Sub/inbox", false), "INBOX/Sub/inbox");
	test_assert_str(wire_str("inboxes", false), "inboxes");
	test_assert_str(wire_str("inbo", false), "inbo");
	test_assert_str(wire_str("x/inbox", false), "x/inbox");
	test_assert_str(wire_str("inbox.x", false), "inbox.x");
	test_end();
}

static void test_encodings(void)
{
	test_begin("mboxname: mUTF-7 for rev1, UTF-8 once enabled");
	test_assert_str(wire_str("Entw&APw-rfe", false), "Entw\xc3\xbcrfe");
	test_assert_str(wire_str("Entw\xc3\xbcrfe", true), "Entw\xc3\xbcrfe");
	/* Under UTF-8 '&' is an ordinary character. */
	test_assert_str(wire_str("Entw&APw-rfe", true), "Entw&APw-rfe");
	test_assert_str(wire_str("a&-b", false), "a&b");
	test_assert(wire_str("Entw\xc3\xbcrfe", false) == NULL);
	test_assert(wire_str("&Jjo!", false) == NULL);
	test_assert(wire_str("&AGE-", false) == NULL);
	test_assert(wire_str("a\xff", true) == NULL);
	test_assert(wire_str("\xed\xa0\x80", true) == NULL);
	test_assert(wire("a\0b", 3, true) == NULL);
	test_assert(wire("a\0b", 3, false) == NULL);
	test_end();
}

static void test_refused(void)
{
	static const char *const refused[] = {
		"", "..", ".", "../x", "a/../b", "a/./b", "a/..", "/x", "/", "x/", "a//b",
		"a\x01" "b", "a\x7f" "b", "a\tb", "a\rb", "a\nb", "a*", "%", "a/%/b",
		"a\xc2\x85" "b", /* U+0085 (NEL), a C1 control */
	};
	test_begin("mboxname: refused names");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		test_assert(wire_str(refused[i], true) == NULL);
		/* The same name smuggled through mUTF-7 is refused too. */
		struct buf m = {0};
		if (utf8_to_mutf7(refused[i], strlen(refused[i]), &m) == 0)
			test_assert(wire(m.data, m.len, false) == NULL);
		buf_release(&m);
	}
	test_assert(wire_str("&AAE-", false) == NULL);   /* U+0001 */
	test_assert(wire_str("a/&AIU-", false) == NULL); /* U+0085 */
	test_assert_str(wire_str("...", true), "...");
	test_assert_str(wire_str("a/.b/c.", true), "a/.b/c.");
	test_assert_str(wire_str("~x", true), "~x");
	test_assert_str(wire_str("a b", false), "a b");
	test_end();
}

static const char *wire_error(const char *str, bool utf8)
{
	char *name = NULL;
	const char *error = "";
	test_assert(mboxname_from_wire(str, strlen(str), utf8, &name, &error) == -1);
	test_assert(name == NULL);
	return error;
}

static void test_error_texts(void)
{
	test_begin("mboxname: refusals say why");
	test_assert(strstr(wire_error("a\x01" "b", false), "control") != NULL);
	test_assert(strstr(wire_error("a\x01" "b", true), "control") != NULL);
	test_assert(strstr(wire_error("a&AAE-b", false), "control") != NULL);
	test_assert(strstr(wire_error("Entw\xc3\xbcrfe", false), "8-bit") != NULL);
	test_assert(strstr(wire_error("&Jjo!", false), "modified UTF-7") != NULL);
	test_assert(strstr(wire_error("a\xff", true), "UTF-8") != NULL);
	test_assert(strstr(wire_error("a/../b", true), "..") != NULL);
	test_assert(strstr(wire_error("/a", true), "start") != NULL);
	test_assert(strstr(wire_error("a/", true), "end") != NULL);
	test_assert(strstr(wire_error("a//b", true), "empty") != NULL);
	test_assert(strstr(wire_error("a*", true), "wildcard") != NULL);
	test_assert(strstr(wire_error("", true), "empty") != NULL);
	test_end();
}

static void test_limits(void)
{
	char name[2048];
	test_begin("mboxname: length and depth limits");
	memset(name, 'x', STORE_NAME_MAX);
	test_assert(wire(name, STORE_NAME_MAX, true) != NULL);
	test_assert(wire(name, STORE_NAME_MAX + 1, true) == NULL);
	test_assert(wire(name, sizeof(name), false) == NULL);
	/* 32 levels "a/a/.../a" are fine, 33 are not. */
	size_t len = 0;
	for (int i = 0; i < STORE_DEPTH_MAX; i++) {
		if (i > 0)
			name[len++] = '/';
		name[len++] = 'a';
	}
	test_assert(wire(name, len, true) != NULL);
	name[len++] = '/';
	name[len++] = 'a';
	test_assert(wire(name, len, true) == NULL);
	test_end();
}

static struct imap_arg arg_of(enum imap_arg_type type, const char *str)
{
	struct imap_arg a = {.type = type, .str = str, .len = str ? strlen(str) : 0};
	return a;
}

static void test_from_arg(void)
{
	struct session s;
	memset(&s, 0, sizeof(s));
	char *name;
	bool bad;
	const char *error;
	test_begin("mboxname_from_arg: astrings only; UTF-8 follows the session");
	struct imap_arg a = arg_of(IMAP_ARG_ATOM, "inbox");
	test_assert(mboxname_from_arg(&s, &a, &name, &bad, &error) == 0);
	test_assert_str(name, "INBOX");
	free(name);
	a = arg_of(IMAP_ARG_QUOTED, "Entw&APw-rfe");
	test_assert(mboxname_from_arg(&s, &a, &name, &bad, &error) == 0);
	test_assert_str(name, "Entw\xc3\xbcrfe");
	free(name);
	a = arg_of(IMAP_ARG_LITERAL, "a/../b");
	test_assert(mboxname_from_arg(&s, &a, &name, &bad, &error) == -1);
	test_assert(!bad && name == NULL);
	a = arg_of(IMAP_ARG_LIST, NULL);
	test_assert(mboxname_from_arg(&s, &a, &name, &bad, &error) == -1);
	test_assert(bad);
	a = arg_of(IMAP_ARG_LITERAL, "x");
	a.literal8 = true;
	test_assert(mboxname_from_arg(&s, &a, &name, &bad, &error) == -1);
	test_assert(bad);
	a = arg_of(IMAP_ARG_QUOTED, "Entw\xc3\xbcrfe");
	test_assert(mboxname_from_arg(&s, &a, &name, &bad, &error) == -1);
	test_assert(!bad);
	s.enabled = SESSION_ENABLED_UTF8_ACCEPT;
	test_assert(mboxname_from_arg(&s, &a, &name, &bad, &error) == 0);
	test_assert_str(name, "Entw\xc3\xbcrfe");
	free(name);
	test_end();
}

static void test_append(void)
{
	struct session s;
	memset(&s, 0, sizeof(s));
	struct buf out = {0};
	test_begin("mboxname_append: quoted, mUTF-7 unless UTF-8 is enabled");
	mboxname_append(&s, &out, "Entw\xc3\xbcrfe");
	test_assert_str(out.data, "\"Entw&APw-rfe\"");
	buf_release(&out);
	mboxname_append(&s, &out, "a&b");
	test_assert_str(out.data, "\"a&-b\"");
	buf_release(&out);
	mboxname_append(&s, &out, "a\"b\\c");
	test_assert_str(out.data, "\"a\\\"b\\\\c\"");
	buf_release(&out);
	mboxname_append(&s, &out, "");
	test_assert_str(out.data, "\"\"");
	buf_release(&out);
	s.enabled = SESSION_ENABLED_IMAP4REV2;
	mboxname_append(&s, &out, "Entw\xc3\xbcrfe");
	test_assert_str(out.data, "\"Entw\xc3\xbcrfe\"");
	buf_release(&out);
	mboxname_append(&s, &out, "a&b");
	test_assert_str(out.data, "\"a&b\"");
	buf_release(&out);
	test_end();
}

int main(void)
{
	test_pairs();
	test_bad_mutf7();
	test_bad_utf8();
	test_round_trips();
	test_inbox();
	test_encodings();
	test_refused();
	test_error_texts();
	test_limits();
	test_from_arg();
	test_append();
	return test_done();
}
