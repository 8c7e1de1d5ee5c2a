/* test_mime_search: the text a full-text index holds (mail_search_text)
 * and which needles it may answer (mail_search_index_needle).
 *
 * The property that matters: for an eligible needle, "the needle occurs
 * in the indexed text" equals what the scanner (mail_body_contains)
 * answers. Besides exact outputs for headers, parts, separators and
 * invalid bytes, a brute-force check compares both for every substring
 * of the folded texts of a few messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "lib/xalloc.h"
#include "mail/mime.h"
#include "mail/mime_internal.h"

TEST_STATE_DEFINE;

#define SEP "\x01"

/* hdr and body of a message as NUL-terminated strings (malloc'd). */
static void text_of(const char *msg, char **hdr_r, char **body_r)
{
	struct mail_summary s;
	mime_parse(msg, strlen(msg), &s);
	struct buf h = {0}, b = {0};
	mail_search_text(msg, strlen(msg), s.parts, s.parts_len, &h, &b);
	mail_summary_free(&s);
	buf_append(&h, "", 1);
	buf_append(&b, "", 1);
	*hdr_r = h.data;
	*body_r = b.data;
}

static void test_headers_and_parts(void)
{
	test_begin("mail_search_text: headers, parts, separators");
	char *h, *b;
	text_of("From: A <a@x.org>\r\nSubject: =?UTF-8?Q?Caf=C3=A9?= Menu\r\n"
	        "Content-Type: multipart/mixed; boundary=z\r\n\r\n"
	        "--z\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	        "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=DC=DFE\r\n"
	        "--z\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	        "aGlkZGVu\r\n--z\r\nContent-Type: text/html\r\n\r\n<B>BOLD</B>\r\n--z--\r\n",
	        &h, &b);
	/* Every part's header fields, folded, each followed by the separator. */
	test_assert(strcmp(h, "from: a <a@x.org>" SEP "subject: café menu" SEP
	                      "content-type: multipart/mixed; boundary=z" SEP
	                      "content-type: text/plain; charset=iso-8859-1" SEP
	                      "content-transfer-encoding: quoted-printable" SEP
	                      "content-type: image/png" SEP "content-transfer-encoding: base64" SEP
	                      "content-type: text/html" SEP) == 0);
	/* Text parts decoded and converted; the image is not text. */
	test_assert(strcmp(b, "grüße" SEP "<b>bold</b>" SEP) == 0);
	free(h);
	free(b);
	test_end();
}

static void test_invalid_bytes(void)
{
	test_begin("mail_search_text: NUL, separator and invalid UTF-8 become separators");
	char *h, *b;
	/* base64 of "ab\x00cd\x01ef\xffgh\xc3(ij\xe2\x82" */
	text_of("Content-Transfer-Encoding: base64\r\n\r\nYWIAY2QBZWb/Z2jDKGlq4oI=\r\n", &h, &b);
	test_assert(strcmp(b, "ab" SEP "cd" SEP "ef" SEP "gh" SEP "(ij" SEP SEP SEP) == 0);
	free(h);
	free(b);
	/* Greek and Cyrillic are folded; four-byte sequences kept. */
	text_of("Content-Type: text/plain; charset=utf-8\r\n\r\n"
	        "\xce\x9a\xce\x91\xce\x9b\xce\x97 \xd0\x9f\xd0\xa0\xd0\x98 \xf0\x9f\x98\x80\r\n",
	        &h, &b);
	test_assert(strcmp(b, "\xce\xba\xce\xb1\xce\xbb\xce\xb7 \xd0\xbf\xd1\x80\xd0\xb8 "
	                      "\xf0\x9f\x98\x80\r\n" SEP) == 0);
	free(h);
	free(b);
	test_end();
}

static void test_needles(void)
{
	test_begin("mail_search_index_needle: what the index may answer");
	static const struct {
		const char *needle, *folded;
		bool ok;
	} cases[] = {
	    {"Schedule", "schedule", true},
	    {"abc", "abc", true},
	    {"ab", "ab", false},
	    {"", "", false},
	    {"\xc3\x9c\xc3\x9f", "\xc3\xbc\xc3\x9f", false}, /* two code points */
	    {"\xc3\x9c\xc3\x9fx", "\xc3\xbc\xc3\x9fx", true},
	    {"ab\x01"
	     "cd",
	     "ab\x01"
	     "cd",
	     false},
	    {"abc\xff", "abc\xff", false},
	    {"ab\xed\xa0\x80", "ab\xed\xa0\x80", false}, /* a surrogate */
	    {"a\"b", "a\"b", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf f = {0};
		bool ok = mail_search_index_needle(cases[i].needle, &f);
		test_assert(ok == cases[i].ok);
		test_assert(buf_rlen(&f) == strlen(cases[i].folded) &&
		            memcmp(buf_rdata(&f), cases[i].folded, buf_rlen(&f)) == 0);
		buf_release(&f);
	}
	test_end();
}

/* Whether needle[0..n) occurs in text (NUL-terminated). */
static bool occurs(const char *text, const char *needle, size_t n)
{
	return memmem(text, strlen(text), needle, n) != NULL;
}

/* For every substring of the scanner-visible text (the folded message),
 * eligible ones must be found in the index text exactly when the scanner
 * finds them. */
static void check_equivalence(const char *msg)
{
	char *h, *b;
	text_of(msg, &h, &b);
	struct mail_summary s;
	mime_parse(msg, strlen(msg), &s);
	struct buf fb[MAIL_SEARCH_FIELDS] = {0};
	const char *fields[MAIL_SEARCH_FIELDS];
	mail_search_fields(msg, strlen(msg), fb);
	for (int k = 0; k < MAIL_SEARCH_FIELDS; k++) {
		buf_append(&fb[k], "", 1);
		fields[k] = buf_rdata(&fb[k]);
	}
	struct buf all = {0};
	mime_search_fold(msg, strlen(msg), &all);
	buf_append(&all, "", 1);
	const char *t = buf_rdata(&all);
	size_t len = strlen(t), checked = 0;
	bool ok = true;
	for (size_t i = 0; i < len && ok; i++) {
		for (size_t n = 3; n <= 8 && i + n <= len && ok; n++) {
			char needle[16];
			memcpy(needle, t + i, n);
			needle[n] = '\0';
			struct buf f = {0};
			if (mail_search_index_needle(needle, &f)) {
				const char *fd = buf_rdata(&f);
				size_t fl = buf_rlen(&f);
				bool idx_text = occurs(h, fd, fl) || occurs(b, fd, fl);
				bool idx_body = occurs(b, fd, fl);
				ok = idx_text == mail_body_contains(msg, strlen(msg), s.parts,
				                                    s.parts_len, needle, true) &&
				     idx_body == mail_body_contains(msg, strlen(msg), s.parts,
				                                    s.parts_len, needle, false);
				for (int k = 0; k < MAIL_SEARCH_FIELDS && ok; k++)
					ok = occurs(fields[k], fd, fl) ==
					     mail_header_contains(msg, strlen(msg),
					                          mail_search_field_names[k], needle);
				checked++;
			}
			buf_release(&f);
		}
	}
	test_assert(ok && checked > 50);
	buf_release(&all);
	for (int k = 0; k < MAIL_SEARCH_FIELDS; k++)
		buf_release(&fb[k]);
	mail_summary_free(&s);
	free(h);
	free(b);
}

static void test_equivalence(void)
{
	test_begin("mail_search_text: index text answers as the scanner does");
	check_equivalence("From: Zoë <z@x.org>\r\nTo: b@y.org\r\nSubject: Wöchentlich ΚΑΛΗΜΕΡΑ\r\n"
	                  "\r\nBody line ONE\r\nзаписка two\r\n");
	check_equivalence(
	    "Subject: parts\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n"
	    "--q\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\nM=FCnchen ok\r\n"
	    "--q\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hi</p>\r\n"
	    "--q--\r\n");
	/* Fields given twice, an encoded word, a nested message whose own
	 * From is not the top-level one. */
	check_equivalence("From: =?ISO-8859-1?Q?J=F6rg?= <jo@x.de>\r\nTo: one@a.org\r\n"
	                  "Cc: Çà <c@b.org>\r\nTo: two@b.org\r\nBcc: hidden@c.org\r\n"
	                  "Subject: =?UTF-8?B?0J/RgNC40LLQtdGC?= fwd\r\n"
	                  "Content-Type: message/rfc822\r\n\r\n"
	                  "From: inner@d.org\r\nSubject: inner one\r\n\r\ninner body\r\n");
	test_end();
}

static void test_fields(void)
{
	test_begin("mail_search_fields: top-level From, To, Cc, Bcc, Subject apart");
	const char *msg = "From: =?UTF-8?Q?Zo=C3=AB?= <Z@x.org>\r\nTo: a@x.org\r\n"
	                  "X-To: no@x.org\r\nto: B@y.org\r\nSubject: Hello\r\n\r\n"
	                  "From: body@x.org\r\n";
	struct buf f[MAIL_SEARCH_FIELDS] = {0};
	mail_search_fields(msg, strlen(msg), f);
	const char *want[MAIL_SEARCH_FIELDS] = {"zoë <z@x.org>" SEP, "a@x.org" SEP "b@y.org" SEP, "",
	                                        "", "hello" SEP};
	for (int k = 0; k < MAIL_SEARCH_FIELDS; k++) {
		test_assert(buf_rlen(&f[k]) == strlen(want[k]) &&
		            (want[k][0] == '\0' ||
		             memcmp(buf_rdata(&f[k]), want[k], buf_rlen(&f[k])) == 0));
		buf_release(&f[k]);
	}
	test_assert(mail_search_field("SUBJECT") == 4 && mail_search_field("cc") == 2);
	test_assert(mail_search_field("X-To") == -1 && mail_search_field("Received") == -1);
	test_end();
}

int main(void)
{
	test_headers_and_parts();
	test_invalid_bytes();
	test_needles();
	test_equivalence();
	test_fields();
	return test_done();
}
