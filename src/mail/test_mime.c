/* test_mime: the MIME golden set (tests/mime) and unit tests of the mail
 * layer: headers, parameters, addresses, dates, decoders, header filter,
 * sections and search.
 *
 * Every golden message is parsed whole, one byte at a time and in random
 * chunks; all three results must be identical and match the expected
 * ENVELOPE / BODYSTRUCTURE / BODY text. `test_mime --dump FILE` prints the
 * results for one message (to inspect a new golden file by hand). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "lib/xalloc.h"
#include "mail/mime.h"
#include "mail/mime_internal.h"

TEST_STATE_DEFINE;

#define GOLDEN_DIR ROOST_SOURCE_DIR "/tests/mime"

static char *read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	struct buf b = {0};
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	*len_r = b.len;
	char *r = xmalloc(b.len + 1);
	memcpy(r, buf_rdata(&b), b.len);
	r[b.len] = '\0';
	buf_release(&b);
	return r;
}

/* An expected-output file without its final newline. */
static char *read_expected(const char *base, const char *ext)
{
	char path[1024];
	size_t len;
	snprintf(path, sizeof(path), "%s/%s.%s", GOLDEN_DIR, base, ext);
	char *s = read_file(path, &len);
	if (s != NULL && len > 0 && s[len - 1] == '\n')
		s[len - 1] = '\0';
	return s;
}

static void parse_chunked(const char *msg, size_t len, int mode, struct mail_summary *r)
{
	struct mime_parser *p = mime_parser_new();
	unsigned seed = (unsigned)len * 2654435761u + (unsigned)mode;
	for (size_t i = 0; i < len;) {
		size_t n = 1;
		if (mode == 2) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 97;
		}
		if (n > len - i)
			n = len - i;
		mime_parser_feed(p, msg + i, n);
		i += n;
	}
	mime_parser_finish(&p, r);
}

static bool summary_equal(const struct mail_summary *a, const struct mail_summary *b)
{
	return strcmp(a->envelope, b->envelope) == 0 &&
	       strcmp(a->bodystructure, b->bodystructure) == 0 && strcmp(a->body, b->body) == 0 &&
	       a->parts_len == b->parts_len && memcmp(a->parts, b->parts, a->parts_len) == 0 &&
	       a->sent_date == b->sent_date && a->sent_tz == b->sent_tz;
}

static void golden_one(const char *base, int *count)
{
	char path[1024];
	size_t len;
	snprintf(path, sizeof(path), "%s/%s.eml", GOLDEN_DIR, base);
	char *msg = read_file(path, &len);
	char *env = read_expected(base, "envelope");
	char *bs = read_expected(base, "bodystructure");
	char *body = read_expected(base, "body");
	struct mail_summary whole, bytes, chunks;
	test_begin(base);
	test_assert(msg != NULL && env != NULL && bs != NULL);
	if (msg != NULL) {
		mime_parse(msg, len, &whole);
		parse_chunked(msg, len, 1, &bytes);
		parse_chunked(msg, len, 2, &chunks);
		test_assert(summary_equal(&whole, &bytes));
		test_assert(summary_equal(&whole, &chunks));
		test_assert_str(whole.envelope, env);
		test_assert_str(whole.bodystructure, bs);
		if (body != NULL)
			test_assert_str(whole.body, body);
		mail_summary_free(&whole);
		mail_summary_free(&bytes);
		mail_summary_free(&chunks);
		(*count)++;
	}
	test_end();
	free(msg);
	free(env);
	free(bs);
	free(body);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_golden(void)
{
	DIR *d = opendir(GOLDEN_DIR);
	char **names = NULL;
	size_t n = 0;
	int count = 0;
	test_begin("golden: directory");
	test_assert(d != NULL);
	test_end();
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".eml") == 0) {
			names = xrealloc(names, (n + 1) * sizeof(char *));
			names[n++] = xstrndup(e->d_name, l - 4);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(char *), name_cmp);
	for (size_t i = 0; i < n; i++) {
		golden_one(names[i], &count);
		free(names[i]);
	}
	free(names);
	test_begin("golden: at least 30 messages");
	test_assert(count >= 30);
	test_end();
}

/* ---- sections ---- */

static char *golden_msg(const char *base, size_t *len_r, struct mail_summary *s)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s.eml", GOLDEN_DIR, base);
	char *msg = read_file(path, len_r);
	if (msg != NULL)
		mime_parse(msg, *len_r, s);
	return msg;
}

/* Whether section path/kind of msg is exactly `expect` (NULL: absent). */
static bool section_is(const char *msg, const struct mail_summary *s, const uint32_t *path,
		       size_t depth, enum mime_section_kind kind, const char *expect)
{
	struct mime_range r;
	int ret = mime_section(s->parts, s->parts_len, path, depth, kind, &r);
	if (expect == NULL)
		return ret == -1;
	if (ret != 0 || r.len != strlen(expect) || memcmp(msg + r.offset, expect, r.len) != 0) {
		fprintf(stderr, "section: got %d [%.*s]\n", ret, ret == 0 ? (int)r.len : 0,
			ret == 0 ? msg + r.offset : "");
		return false;
	}
	return true;
}

static void test_sections_simple(void)
{
	struct mail_summary s;
	size_t len;
	char *msg = golden_msg("01-simple-text", &len, &s);
	const char *body = "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n\r\n-- Fred\r\n";
	uint32_t p1[] = {1}, p11[] = {1, 1}, p2[] = {2};
	struct mime_range r;
	test_begin("section: single part message");
	test_assert(msg != NULL);
	test_assert(mime_section(s.parts, s.parts_len, NULL, 0, MIME_SECTION_CONTENT, &r) == 0 &&
		    r.offset == 0 && r.len == len);
	test_assert(section_is(msg, &s, NULL, 0, MIME_SECTION_TEXT, body));
	test_assert(mime_section(s.parts, s.parts_len, NULL, 0, MIME_SECTION_HEADER, &r) == 0 &&
		    r.offset == 0 && r.len == len - strlen(body));
	test_assert(section_is(msg, &s, p1, 1, MIME_SECTION_CONTENT, body));
	test_assert(section_is(msg, &s, p1, 1, MIME_SECTION_HEADER, NULL));
	test_assert(section_is(msg, &s, p11, 2, MIME_SECTION_CONTENT, NULL));
	test_assert(section_is(msg, &s, p2, 1, MIME_SECTION_CONTENT, NULL));
	test_assert(section_is(msg, &s, NULL, 0, MIME_SECTION_MIME, NULL));
	test_end();
	mail_summary_free(&s);
	free(msg);
}

static void test_sections_multipart(void)
{
	struct mail_summary s;
	size_t len;
	char *msg = golden_msg("06-rfc822-attachment", &len, &s);
	uint32_t p1[] = {1}, p2[] = {2}, p21[] = {2, 1}, p22[] = {2, 2}, p3[] = {3}, p211[] = {2, 1, 1};
	struct mime_range r;
	test_begin("section: multipart with message/rfc822");
	test_assert(msg != NULL);
	test_assert(section_is(msg, &s, p1, 1, MIME_SECTION_CONTENT, "Forwarding this.\r\n"));
	test_assert(section_is(msg, &s, p1, 1, MIME_SECTION_MIME, "\r\n"));
	test_assert(section_is(msg, &s, p1, 1, MIME_SECTION_TEXT, NULL));
	test_assert(section_is(msg, &s, p2, 1, MIME_SECTION_MIME,
			       "Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"));
	test_assert(section_is(msg, &s, p21, 2, MIME_SECTION_CONTENT, "inner plain\r\n"));
	test_assert(section_is(msg, &s, p22, 2, MIME_SECTION_CONTENT, "<b>inner</b>\r\n"));
	test_assert(section_is(msg, &s, p22, 2, MIME_SECTION_MIME, "Content-Type: text/html\r\n\r\n"));
	test_assert(section_is(msg, &s, p3, 1, MIME_SECTION_CONTENT, NULL));
	test_assert(section_is(msg, &s, p211, 3, MIME_SECTION_CONTENT, NULL));
	test_assert(mime_section(s.parts, s.parts_len, p2, 1, MIME_SECTION_HEADER, &r) == 0 &&
		    strncmp(msg + r.offset, "From: Inner Sender", 18) == 0 &&
		    memcmp(msg + r.offset + r.len - 4, "\r\n\r\n", 4) == 0);
	test_assert(mime_section(s.parts, s.parts_len, p2, 1, MIME_SECTION_TEXT, &r) == 0 &&
		    strncmp(msg + r.offset, "--in\r\n", 6) == 0 && r.offset + r.len + 8 < len);
	test_assert(mime_section(s.parts, s.parts_len, p2, 1, MIME_SECTION_CONTENT, &r) == 0 &&
		    r.composite && strncmp(msg + r.offset, "From: Inner", 11) == 0);
	test_assert(mime_section(s.parts, s.parts_len, p21, 2, MIME_SECTION_CONTENT, &r) == 0 &&
		    !r.composite && r.cte == MIME_CTE_7BIT);
	test_assert(mime_section(s.parts, s.parts_len, p1, 1, MIME_SECTION_CONTENT, &r) == 0 &&
		    !r.composite);
	test_end();
	mail_summary_free(&s);
	free(msg);
}

static void test_sections_nested(void)
{
	struct mail_summary s;
	size_t len;
	char *msg = golden_msg("07-rfc822-in-rfc822", &len, &s);
	uint32_t p2[] = {2}, p21[] = {2, 1}, p211[] = {2, 1, 1}, p2111[] = {2, 1, 1, 1};
	uint32_t p3[] = {3}, p12[] = {1, 2};
	test_begin("section: message/rfc822 inside message/rfc822");
	test_assert(section_is(msg, &s, p2, 1, MIME_SECTION_HEADER,
			       "Subject: outer\r\nContent-Type: message/rfc822\r\n\r\n"));
	test_assert(section_is(msg, &s, p21, 2, MIME_SECTION_HEADER,
			       "Subject: middle\r\nContent-Type: message/rfc822\r\n\r\n"));
	test_assert(section_is(msg, &s, p211, 3, MIME_SECTION_HEADER, "Subject: deepest\r\n\r\n"));
	test_assert(section_is(msg, &s, p211, 3, MIME_SECTION_TEXT, "the innermost text\r\n"));
	test_assert(section_is(msg, &s, p2111, 4, MIME_SECTION_CONTENT, "the innermost text\r\n"));
	test_assert(section_is(msg, &s, p3, 1, MIME_SECTION_CONTENT, NULL));
	test_assert(section_is(msg, &s, p12, 2, MIME_SECTION_CONTENT, NULL));
	test_end();
	mail_summary_free(&s);
	free(msg);

	msg = golden_msg("03-mixed-attachments", &len, &s);
	uint32_t q2[] = {2};
	struct mime_range r;
	test_begin("section: cte of a base64 part");
	test_assert(mime_section(s.parts, s.parts_len, q2, 1, MIME_SECTION_CONTENT, &r) == 0 &&
		    r.cte == MIME_CTE_BASE64 && strncmp(msg + r.offset, "JVBERi0x", 8) == 0);
	test_assert(mime_section(s.parts, s.parts_len, q2, 1, MIME_SECTION_CONTENT, &r) == 0 &&
		    msg[r.offset + r.len] == '\r' && msg[r.offset + r.len + 2] == '-');
	test_assert(mime_section("junk", 4, q2, 1, MIME_SECTION_CONTENT, &r) == -1);
	test_assert(mime_section(s.parts, s.parts_len / 2, q2, 1, MIME_SECTION_CONTENT, &r) == -1);
	test_end();
	mail_summary_free(&s);
	free(msg);
}

/* ---- headers, parameters, addresses, dates ---- */

static void test_fields(void)
{
	const char *h = "Subject: a\r\n folded\r\n\tline\r\nno colon here\r\nX-Empty:\r\n"
			"From : x@y\r\n\r\nBody: not a field\r\n";
	struct mime_fields f;
	mime_fields_parse(h, strlen(h), &f);
	test_begin("header: fields and unfolding");
	test_assert(f.n == 3);
	test_assert_str(mime_fields_find(&f, "subject")->value, "a folded\tline");
	test_assert_str(mime_fields_find(&f, "X-EMPTY")->value, "");
	test_assert_str(mime_fields_find(&f, "from")->value, "x@y");
	test_assert(mime_fields_find(&f, "Body") == NULL);
	test_end();
	mime_fields_free(&f);
}

static void test_params(void)
{
	char *t = NULL, *st = NULL;
	struct mime_params p;
	test_begin("header: content-type parameters");
	test_assert(mime_header_parse_ctype("Text/Plain; Charset=\"utf-8\"; x=\"a\\\"b\"", true, &t,
					    &st, &p) == 0);
	test_assert_str(t, "Text");
	test_assert_str(st, "Plain");
	test_assert(p.n == 2);
	test_assert_str(mime_params_get(&p, "charset"), "utf-8");
	test_assert_str(mime_params_get(&p, "x"), "a\"b");
	free(t);
	free(st);
	mime_params_free(&p);
	test_assert(mime_header_parse_ctype("text/", true, &t, &st, &p) == -1);
	test_assert(mime_header_parse_ctype(";;", true, &t, &st, &p) == -1);
	test_assert(mime_header_parse_ctype("/plain", true, &t, &st, &p) == -1);
	test_end();

	test_begin("header: RFC 2231");
	test_assert(mime_header_parse_ctype(
			    "attachment; filename=plain.txt; filename*0*=us-ascii'en'a%20b;"
			    " filename*1=\" c\"; filename*2*=%41; other*=''%7e",
			    false, &t, NULL, &p) == 0);
	test_assert_str(t, "attachment");
	test_assert(p.n == 2);
	test_assert_str(p.v[0].name, "filename");
	test_assert_str(p.v[0].value, "a b cA");
	test_assert_str(p.v[1].name, "other");
	test_assert_str(p.v[1].value, "~");
	free(t);
	mime_params_free(&p);
	test_assert(mime_header_parse_ctype("a/b; n*=iso-8859-1''%E9t%E9", true, &t, &st, &p) == 0);
	test_assert_str(mime_params_get(&p, "n"), "\xc3\xa9t\xc3\xa9");
	free(t);
	free(st);
	mime_params_free(&p);
	/* missing section 1: sections stop at the gap */
	test_assert(mime_header_parse_ctype("a/b; n*0=x; n*2=z", true, &t, &st, &p) == 0);
	test_assert_str(mime_params_get(&p, "n"), "x");
	free(t);
	free(st);
	mime_params_free(&p);
	test_end();
}

static void addr_is(const char *value, const char *expect)
{
	struct buf b = {0};
	mime_address_write(value, &b);
	test_assert_str(buf_rdata(&b), expect);
	buf_release(&b);
}

static void test_addresses(void)
{
	test_begin("address: lists");
	addr_is("", "NIL");
	addr_is(" , ,", "NIL");
	addr_is("a@b", "((NIL NIL \"a\" \"b\"))");
	addr_is("\"A B\" <a@b>, c@d", "((\"A B\" NIL \"a\" \"b\")(NIL NIL \"c\" \"d\"))");
	addr_is("John Q. Public <jqp@x.example>", "((\"John Q. Public\" NIL \"jqp\" \"x.example\"))");
	addr_is("g: ;", "((NIL NIL \"g\" NIL)(NIL NIL NIL NIL))");
	addr_is("g: a@b", "((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL))");
	addr_is("\"a b\"@c", "((NIL NIL \"\\\"a b\\\"\" \"c\"))");
	addr_is("x@[1.2.3.4]", "((NIL NIL \"x\" \"[1.2.3.4]\"))");
	addr_is("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
		"((\"Pete\" NIL \"pete\" \"silly.test\"))");
	addr_is("a@b (Name (nested))", "((\"Name (nested)\" NIL \"a\" \"b\"))");
	addr_is("Only Words", "((\"Only Words\" NIL \"\" \"\"))");
	test_end();
}

static void date_is(const char *s, int64_t t, int32_t tz)
{
	int64_t rt = 0;
	int32_t rtz = 0;
	int ret = mime_date_parse(s, &rt, &rtz);
	if (t == -1) {
		test_assert(ret == -1);
		return;
	}
	test_assert(ret == 0);
	if (rt != t || rtz != tz)
		fprintf(stderr, "date %s: %lld %d\n", s, (long long)rt, rtz);
	test_assert(rt == t && rtz == tz);
}

static void test_dates(void)
{
	test_begin("date: RFC 5322 and obsolete forms");
	date_is("Mon, 7 Feb 1994 21:52:25 -0800 (PST)", 760686745, -480);
	date_is("7 Feb 1994 21:52:25 -0800", 760686745, -480);
	date_is("Thu, 01 Jan 1970 00:00:00 +0000", 0, 0);
	date_is("1 Jan 70 00:00 GMT", 0, 0);
	date_is("Sat, 29 Feb 2020 12:30 EST", 1582997400, -300);
	date_is("Sat, 29 Feb 2020 12:30:00 PDT", 1583004600, -420);
	date_is("1 Jan 2000 00:00:00 Z", 946684800, 0);
	date_is("1 jan 49 00:00:00 +0100", 2493068400, 60);
	date_is("Fri, 31 Dec 1999 23:59:59 +0530", 946664999, 330);
	date_is("1-Mar-2022 10:00:00 +0100", 1646125200, 60);
	date_is("1 Mar 2022 10:00:00", 1646128800, 0);
	date_is("garbage", -1, 0);
	date_is("", -1, 0);
	date_is("32 Jan 2020 00:00:00 +0000", -1, 0);
	date_is("1 Foo 2020 00:00:00 +0000", -1, 0);
	date_is("1 Jan 2020", -1, 0);
	test_end();

	struct mail_summary s;
	const char *m = "Date: Thu, 01 Jan 1970 01:00:00 +0100\r\n\r\nx";
	mime_parse(m, strlen(m), &s);
	test_begin("date: sent date in the summary");
	test_assert(s.sent_date == 0 && s.sent_tz == 60);
	mail_summary_free(&s);
	mime_parse("Subject: x\r\n\r\n", 14, &s);
	test_assert(s.sent_date == -1);
	mail_summary_free(&s);
	test_end();
}

/* ---- decoders ---- */

static char *decode(enum mime_cte cte, const char *in, size_t chunk, int *ret_r)
{
	struct mime_decoder *d = mime_decoder_new(cte);
	struct buf out = {0};
	size_t len = strlen(in);
	*ret_r = 0;
	for (size_t i = 0; i < len; i += chunk)
		if (mime_decoder_feed(d, in + i, len - i < chunk ? len - i : chunk, &out) < 0)
			*ret_r = -1;
	mime_decoder_finish(&d, &out);
	char *r = xstrndup(buf_rdata(&out), buf_rlen(&out));
	buf_release(&out);
	return r;
}

static void decode_is(enum mime_cte cte, const char *in, const char *expect)
{
	static const size_t chunks[] = {1, 2, 3, 5, 1000};
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		int ret;
		char *r = decode(cte, in, chunks[i], &ret);
		test_assert(ret == 0);
		test_assert_str(r, expect);
		free(r);
	}
}

static void test_decoders(void)
{
	test_begin("decode: base64");
	decode_is(MIME_CTE_BASE64, "SGVsbG8gd29ybGQh", "Hello world!");
	decode_is(MIME_CTE_BASE64, "SGVs\r\nbG8=\r\n", "Hello");
	decode_is(MIME_CTE_BASE64, "SG!!Vs*bG8", "Hello");
	decode_is(MIME_CTE_BASE64, "SGk=SGk=", "HiHi");
	decode_is(MIME_CTE_BASE64, "SGk", "Hi");
	decode_is(MIME_CTE_BASE64, "S", "");
	test_end();

	test_begin("decode: quoted-printable");
	decode_is(MIME_CTE_QUOTED_PRINTABLE, "Caf=E9 =3d=3D", "Caf\xe9 ==");
	decode_is(MIME_CTE_QUOTED_PRINTABLE, "soft=\r\nbreak=\nhere", "softbreakhere");
	decode_is(MIME_CTE_QUOTED_PRINTABLE, "pad  \r\nnext\t\nend", "pad\r\nnext\nend");
	decode_is(MIME_CTE_QUOTED_PRINTABLE, "ws=  \r\nx", "wsx");
	decode_is(MIME_CTE_QUOTED_PRINTABLE, "bad=ZZ=4 =", "bad=ZZ=4 =");
	decode_is(MIME_CTE_QUOTED_PRINTABLE, "a b", "a b");
	decode_is(MIME_CTE_QUOTED_PRINTABLE, "cr\rx", "cr\rx");
	test_end();

	test_begin("decode: identity and unknown");
	decode_is(MIME_CTE_7BIT, "as is=20\r\n", "as is=20\r\n");
	decode_is(MIME_CTE_BINARY, "\x01\x02", "\x01\x02");
	int ret;
	char *r = decode(MIME_CTE_UNKNOWN, "x", 1, &ret);
	test_assert(ret == -1);
	free(r);
	test_end();
}

static void filter_is(const char *hdr, const char *const *names, size_t n, bool exclude,
		      const char *expect)
{
	struct buf b = {0};
	mime_header_filter(hdr, strlen(hdr), names, n, exclude, &b);
	test_assert_str(buf_rdata(&b), expect);
	buf_release(&b);
}

static void test_filter(void)
{
	const char *h = "From: a@b\r\nSubject: one\r\n two\r\nTo: c@d\r\nsubject: again\r\n"
			"junk line\r\nX-Y : z\r\n\r\n";
	const char *subj[] = {"SUBJECT", "x-y"};
	const char *none[] = {"Nope"};
	test_begin("header filter: FIELDS and FIELDS.NOT");
	filter_is(h, subj, 2, false, "Subject: one\r\n two\r\nsubject: again\r\nX-Y : z\r\n\r\n");
	filter_is(h, subj, 2, true, "From: a@b\r\nTo: c@d\r\n\r\n");
	filter_is(h, none, 1, false, "\r\n");
	filter_is("To: x", subj, 0, true, "To: x\r\n\r\n");
	filter_is("", subj, 2, true, "\r\n");
	test_end();
}

/* ---- search ---- */

static const char search_msg[] =
	"From: =?iso-8859-1?q?J=F6rg?= <joerg@example.de>\r\n"
	"Subject: =?UTF-8?B?zpPOtc65zrEgz4POsc+C?= =?utf-8?q?_and_More?=\r\n"
	"To: team@example.com\r\n"
	"Content-Type: multipart/mixed; boundary=b\r\n"
	"\r\n"
	"--b\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Stra=DFe und GR=D6SSE, soft=\r\nbreak\r\n"
	"--b\r\n"
	"Content-Type: text/html; charset=koi8-r\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"8NLJ18XU\r\n" /* koi8-r "привет" */
	"--b\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"attachment-secret\r\n"
	"--b\r\n"
	"Content-Type: text/plain; charset=x-unknown-cs\r\n"
	"\r\n"
	"raw bytes \xff here\r\n"
	"--b--\r\n";

static void test_search(void)
{
	size_t len = sizeof(search_msg) - 1;
	struct mail_summary s;
	mime_parse(search_msg, len, &s);
	test_begin("search: header");
	test_assert(mail_header_contains(search_msg, len, "from", "jÖRG"));
	test_assert(mail_header_contains(search_msg, len, "From", "EXAMPLE.de"));
	test_assert(mail_header_contains(search_msg, len, "subject", "ΓΕΙΑ ΣΑΣ AND more"));
	test_assert(mail_header_contains(search_msg, len, "subject", "σας and"));
	test_assert(!mail_header_contains(search_msg, len, "subject", "team"));
	test_assert(mail_header_contains(search_msg, len, NULL, "team@"));
	test_assert(mail_header_contains(search_msg, len, NULL, "to: TEAM"));
	test_assert(mail_header_contains(search_msg, len, "to", ""));
	test_assert(!mail_header_contains(search_msg, len, "cc", ""));
	test_assert(!mail_header_contains(search_msg, len, NULL, "Straße"));
	test_end();

	test_begin("search: body");
	test_assert(mail_body_contains(search_msg, len, s.parts, s.parts_len, "STRASSE", false) ==
		    false);
	test_assert(mail_body_contains(search_msg, len, s.parts, s.parts_len, "straße", false));
	test_assert(mail_body_contains(search_msg, len, s.parts, s.parts_len, "grösse", false));
	test_assert(mail_body_contains(search_msg, len, s.parts, s.parts_len, "softbreak", false));
	test_assert(mail_body_contains(search_msg, len, s.parts, s.parts_len, "ПРИВЕТ", false));
	test_assert(mail_body_contains(search_msg, len, s.parts, s.parts_len, "bytes \xff", false));
	test_assert(!mail_body_contains(search_msg, len, s.parts, s.parts_len, "secret", false));
	test_assert(!mail_body_contains(search_msg, len, s.parts, s.parts_len, "jörg", false));
	test_assert(mail_body_contains(search_msg, len, s.parts, s.parts_len, "jörg", true));
	test_assert(mail_body_contains(search_msg, len, s.parts, s.parts_len, "octet-stream", true));
	test_assert(mail_body_contains(search_msg, len, NULL, 0, "straße", false));
	test_assert(mail_body_contains(search_msg, len, s.parts, s.parts_len, "", false));
	test_end();
	mail_summary_free(&s);
}

/* ---- robustness ---- */

static void test_garbage(void)
{
	unsigned seed = 12345;
	struct buf m = {0};
	static const char *const pieces[] = {
		"--a\r\n", "--b--\r\n", "Content-Type: multipart/mixed; boundary=a\r\n",
		"Content-Type: multipart/alternative; boundary=b\r\n",
		"Content-Type: message/rfc822\r\n", "\r\n", "\n", "text\r\n", "From: a@b\r\n",
		"\xff\xfe", "To: g: x@y;\r\n", " folded\r\n", "--a--\r\n", "--b\r\n", "\r"};
	test_begin("robustness: random structure soup");
	for (int round = 0; round < 300; round++) {
		m.len = m.rpos = 0;
		int n = 1 + (int)(seed % 60);
		for (int i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf_append_str(&m, pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))]);
		}
		struct mail_summary a, b;
		mime_parse(buf_rdata(&m), m.len, &a);
		parse_chunked(buf_rdata(&m), m.len, 1, &b);
		test_assert(summary_equal(&a, &b));
		uint32_t path[3] = {1, 1, 1};
		struct mime_range r;
		for (size_t d = 0; d <= 3; d++)
			if (mime_section(a.parts, a.parts_len, path, d, MIME_SECTION_CONTENT, &r) == 0)
				test_assert(r.offset + r.len <= m.len);
		mail_summary_free(&a);
		mail_summary_free(&b);
	}
	buf_release(&m);
	test_end();
}

static void test_limits(void)
{
	struct buf m = {0};
	test_begin("robustness: deep nesting and many parts");
	for (int i = 0; i < 200; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=x%d\r\n\r\n--x%d\r\n", i, i);
	buf_append_str(&m, "\r\nleaf\r\n");
	struct mail_summary s;
	mime_parse(buf_rdata(&m), m.len, &s);
	test_assert(s.bodystructure != NULL && s.bodystructure[0] == '(');
	mail_summary_free(&s);
	m.len = m.rpos = 0;
	buf_append_str(&m, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (int i = 0; i < 5000; i++)
		buf_append_str(&m, "--p\r\n\r\nx\r\n");
	mime_parse(buf_rdata(&m), m.len, &s);
	test_assert(s.bodystructure != NULL);
	mail_summary_free(&s);
	buf_release(&m);
	test_end();
}

static int dump(const char *path)
{
	size_t len;
	char *msg = read_file(path, &len);
	if (msg == NULL)
		return 1;
	struct mail_summary s;
	mime_parse(msg, len, &s);
	printf("ENVELOPE %s\nBODYSTRUCTURE %s\nBODY %s\nDATE %lld %d\n", s.envelope,
	       s.bodystructure, s.body, (long long)s.sent_date, s.sent_tz);
	mail_summary_free(&s);
	free(msg);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--dump") == 0)
		return dump(argv[2]);
	test_golden();
	test_sections_simple();
	test_sections_multipart();
	test_sections_nested();
	test_fields();
	test_params();
	test_addresses();
	test_dates();
	test_decoders();
	test_filter();
	test_search();
	test_garbage();
	test_limits();
	return test_done();
}
