/* mime_charset: conversion to UTF-8 (glibc iconv) and RFC 2047 words.
 *
 * Used for searching (RFC 9051 §6.4.4 compares text in a common charset)
 * and for RFC 2231 parameter values. Conversion never fails half-way: a
 * byte iconv rejects is copied raw and conversion resumes after it. */
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "mail/mime_internal.h"

#define MIME_CHARSET_MAX 64

static bool mime_charset_is_utf8(const char *cs)
{
	return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
	       strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0;
}

static void mime_charset_run(iconv_t cd, const char *src, size_t len, struct buf *out)
{
	char *in = (char *)src;
	while (len > 0) {
		buf_reserve(out, len * 4 + 16);
		char *o = buf_wptr(out);
		size_t olen = buf_wlen(out);
		size_t rc = iconv(cd, &in, &len, &o, &olen);
		out->len = (size_t)(o - out->data);
		out->data[out->len] = '\0';
		if (rc != (size_t)-1 || errno == E2BIG)
			continue;
		/* EILSEQ / EINVAL: keep the byte, go on after it */
		buf_append(out, in, 1);
		in++;
		len--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
}

int mime_charset_to_utf8(const char *charset, const char *src, size_t len, struct buf *out)
{
	if (mime_charset_is_utf8(charset)) {
		buf_append(out, src, len);
		return 0;
	}
	iconv_t cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return -1;
	mime_charset_run(cd, src, len, out);
	iconv_close(cd);
	return 0;
}

static int mime_charset_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 2047 §4.2: Q encoding ("_" is a space). */
static void mime_charset_q_decode(const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		int h, l;
		char c = s[i];
		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < len && (h = mime_charset_hex(s[i + 1])) >= 0 &&
			   (l = mime_charset_hex(s[i + 2])) >= 0) {
			c = (char)(h * 16 + l);
			i += 2;
		}
		buf_append(out, &c, 1);
	}
}

/* Parses "=?charset?e?text?=" at s; returns its length or 0, the decoded
 * UTF-8 text appended to out. */
static size_t mime_charset_word(const char *s, size_t len, struct buf *out)
{
	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	const char *cs = s + 2, *end = s + len;
	const char *q1 = memchr(cs, '?', (size_t)(end - cs));
	if (q1 == NULL || q1 == cs || q1 + 3 >= end || q1[2] != '?' || q1 - cs >= MIME_CHARSET_MAX)
		return 0;
	char enc = q1[1];
	const char *text = q1 + 3, *t = text;
	while (t + 1 < end && !(t[0] == '?' && t[1] == '=') && t[0] != ' ' && t[0] != '\t')
		t++;
	if (t + 1 >= end || t[0] != '?')
		return 0;
	char charset[MIME_CHARSET_MAX];
	memcpy(charset, cs, (size_t)(q1 - cs));
	charset[q1 - cs] = '\0';
	charset[strcspn(charset, "*")] = '\0'; /* RFC 2231 §5: charset*lang */
	struct buf raw = {0};
	if (enc == 'q' || enc == 'Q') {
		mime_charset_q_decode(text, (size_t)(t - text), &raw);
	} else if (enc == 'b' || enc == 'B') {
		struct mime_decoder *d = mime_decoder_new(MIME_CTE_BASE64);
		mime_decoder_feed(d, text, (size_t)(t - text), &raw);
		mime_decoder_finish(&d, &raw);
	} else {
		return 0;
	}
	if (mime_charset_to_utf8(charset, buf_rdata(&raw), buf_rlen(&raw), out) < 0)
		buf_append(out, buf_rdata(&raw), buf_rlen(&raw));
	buf_release(&raw);
	return (size_t)(t + 2 - s);
}

void mime_header_decode_2047(const char *s, size_t len, struct buf *out)
{
	size_t ws_start = 0, ws_len = 0;
	bool after_word = false;
	for (size_t i = 0; i < len;) {
		size_t wl = s[i] == '=' ? mime_charset_word(s + i, len - i, out) : 0;
		if (wl > 0) {
			/* RFC 2047 §6.2: space between adjacent encoded words is
			 * dropped (the word was already appended after it). */
			after_word = true;
			ws_len = 0;
			i += wl;
			continue;
		}
		if ((s[i] == ' ' || s[i] == '\t') && after_word) {
			if (ws_len == 0)
				ws_start = i;
			ws_len++;
			i++;
			continue;
		}
		if (ws_len > 0)
			buf_append(out, s + ws_start, ws_len);
		ws_len = 0;
		after_word = false;
		buf_append(out, s + i, 1);
		i++;
	}
	if (ws_len > 0)
		buf_append(out, s + ws_start, ws_len);
}
