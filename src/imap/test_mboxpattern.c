/* Unit tests for mboxpattern: "*" and "%" (RFC 9051 §6.3.9), INBOX
 * matched case-insensitively, wildcard collapsing, and a hostile
 * pattern that must stay cheap. Results are checked against a simple
 * recursive reference matcher too. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/mboxpattern.h"
#include "lib/test.h"

TEST_STATE_DEFINE;

static bool match(const char *pattern, const char *name)
{
	struct mboxpattern p;
	mboxpattern_compile(&p, pattern, strlen(pattern));
	bool m = mboxpattern_match(&p, name, strlen(name));
	mboxpattern_free(&p);
	return m;
}

static const struct {
	const char *pattern, *name;
	bool match;
} cases[] = {
	{"*", "a", true},
	{"*", "a/b/c", true},
	{"*", "", true},
	{"%", "a", true},
	{"%", "a/b", false},
	{"%", "", true},
	{"", "", true},
	{"", "a", false},
	{"a", "a", true},
	{"a", "A", false},
	{"a", "ab", false},
	{"a/%", "a/b", true},
	{"a/%", "a/b/c", false},
	{"a/%", "a", false},
	{"a/*", "a/b/c", true},
	{"a*", "a", true},
	{"a*", "ab/c", true},
	{"a%", "ab/c", false},
	{"a%c", "abc", true},
	{"a%c", "a/c", false},
	{"a*c", "a/b/c", true},
	{"a*c", "a/b/cd", false},
	{"%/%", "a/b", true},
	{"%/%", "a", false},
	{"%/%", "a/b/c", false},
	{"*/c", "a/b/c", true},
	{"%*", "a/b", true},
	{"*%", "a/b", true},
	{"%%", "a/b", false},
	{"%%/%", "a/b", true},
	{"Entw*", "Entw\xc3\xbcrfe", true},
	{"%rfe", "Entw\xc3\xbcrfe", true},
	/* INBOX in any case (RFC 9051 §5.1) */
	{"inbox", "INBOX", true},
	{"InBoX", "INBOX", true},
	{"in*", "INBOX", true},
	{"inbox/%", "INBOX/x", true},
	{"INBOX/X", "INBOX/x", false},
	{"inbox/x", "INBOX/x", true},
	{"inbox*", "INBOX2", false},
	{"INBOX*", "INBOX2", true},
	{"inbox2", "INBOX2", false},
	{"inbox", "x/INBOX", false},
	{"inbox", "inbox", true},
};

static void test_cases(void)
{
	test_begin("mboxpattern: table of patterns");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool m = match(cases[i].pattern, cases[i].name);
		if (m != cases[i].match)
			fprintf(stderr, "pattern %s name %s: got %d\n", cases[i].pattern,
				cases[i].name, m);
		test_assert(m == cases[i].match);
	}
	test_end();
}

static void test_compile(void)
{
	struct mboxpattern p;
	test_begin("mboxpattern: collapsing and trailing %");
	mboxpattern_compile(&p, "a%*%b%%", 7);
	test_assert_str(p.pat, "a*b%");
	test_assert(p.literals == 2);
	test_assert(p.trailing_percent);
	mboxpattern_free(&p);
	mboxpattern_compile(&p, "a/%*", 4);
	test_assert_str(p.pat, "a/*");
	test_assert(!p.trailing_percent);
	mboxpattern_free(&p);
	mboxpattern_compile(&p, "", 0);
	test_assert_str(p.pat, "");
	test_assert(!p.trailing_percent);
	mboxpattern_free(&p);
	test_end();
}

/* Reference: straightforward recursion (exponential, only for short
 * inputs). */
static bool ref_match(const char *p, const char *n)
{
	if (*p == '\0')
		return *n == '\0';
	if (*p == '*') {
		for (const char *m = n;; m++) {
			if (ref_match(p + 1, m))
				return true;
			if (*m == '\0')
				return false;
		}
	}
	if (*p == '%') {
		for (const char *m = n;; m++) {
			if (ref_match(p + 1, m))
				return true;
			if (*m == '\0' || *m == '/')
				return false;
		}
	}
	if (*n == '\0' || *p != *n)
		return false;
	return ref_match(p + 1, n + 1);
}

static void test_reference(void)
{
	static const char pchars[] = "ab/*%";
	static const char nchars[] = "ab/";
	unsigned seed = 4242;
	test_begin("mboxpattern: agrees with a reference matcher");
	for (int iter = 0; iter < 20000; iter++) {
		char pat[9], name[9];
		seed = seed * 1103515245u + 12345u;
		size_t pl = (seed >> 16) % 8, nl = (seed >> 8) % 8;
		for (size_t i = 0; i < pl; i++) {
			seed = seed * 1103515245u + 12345u;
			pat[i] = pchars[(seed >> 16) % 5];
		}
		for (size_t i = 0; i < nl; i++) {
			seed = seed * 1103515245u + 12345u;
			name[i] = nchars[(seed >> 16) % 3];
		}
		pat[pl] = name[nl] = '\0';
		test_assert(match(pat, name) == ref_match(pat, name));
	}
	test_end();
}

static void test_hostile(void)
{
	char pat[20001], name[513];
	test_begin("mboxpattern: hostile patterns stay cheap");
	for (size_t i = 0; i < 20000; i += 2) {
		pat[i] = '%';
		pat[i + 1] = i % 4 == 0 ? '*' : 'a';
	}
	pat[20000] = '\0';
	memset(name, 'a', 512);
	name[512] = '\0';
	clock_t start = clock();
	for (int i = 0; i < 10; i++)
		(void)match(pat, name);
	struct mboxpattern p;
	mboxpattern_compile(&p, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", 34);
	for (int i = 0; i < 1000; i++)
		test_assert(!mboxpattern_match(&p, name, 512));
	mboxpattern_free(&p);
	test_assert((double)(clock() - start) / CLOCKS_PER_SEC < 2.0);
	test_end();
}

int main(void)
{
	test_cases();
	test_compile();
	test_reference();
	test_hostile();
	return test_done();
}
