/* mime_search: SEARCH's substring matching (RFC 9051 §6.4.4).
 *
 * Matching is a case-insensitive substring test on UTF-8 text: header
 * values are unfolded and their RFC 2047 words decoded, bodies are
 * CTE-decoded and converted from their charset with iconv (an unknown
 * charset is searched as raw bytes). Both sides are case-folded with a
 * small simple-case-folding table covering ASCII, Latin-1, Latin
 * Extended-A, Greek and Cyrillic (locale independent); other code points
 * and invalid UTF-8 bytes compare exactly. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "mail/mime_internal.h"

static uint32_t mime_search_fold_latin(uint32_t c)
{
	if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
		return c + 0x20;
	if (c == 0x178)
		return 0xFF;
	if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
		return c | 1;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
		return (c & 1) ? c + 1 : c;
	if (c == 0x17F)
		return 's';
	return c;
}

static uint32_t mime_search_fold_greek(uint32_t c)
{
	if ((c >= 0x391 && c <= 0x3A9 && c != 0x3A2))
		return c + 0x20;
	if (c == 0x386)
		return 0x3AC;
	if (c >= 0x388 && c <= 0x38A)
		return c + 37;
	if (c == 0x38C)
		return 0x3CC;
	if (c == 0x38E || c == 0x38F)
		return c + 63;
	if (c == 0x3C2)
		return 0x3C3; /* final sigma */
	return c;
}

static uint32_t mime_search_fold_cyrillic(uint32_t c)
{
	if (c >= 0x410 && c <= 0x42F)
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40F)
		return c + 0x50;
	if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F))
		return c | 1;
	if (c >= 0x4C1 && c <= 0x4CE)
		return (c & 1) ? c + 1 : c;
	return c;
}

static uint32_t mime_search_fold_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 0x20 : c;
	if (c < 0x180)
		return mime_search_fold_latin(c);
	if (c >= 0x370 && c < 0x400)
		return mime_search_fold_greek(c);
	if (c >= 0x400 && c < 0x530)
		return mime_search_fold_cyrillic(c);
	return c;
}

/* Decodes one UTF-8 sequence of s[0..len); returns its length or 0. */
static size_t mime_search_utf8(const unsigned char *s, size_t len, uint32_t *c_r)
{
	size_t n;
	uint32_t c;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		n = 2;
		c = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3;
		c = s[0] & 0x0F;
	} else {
		return 0; /* only code points below U+10000 can fold here */
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if (n == 3 && c < 0x800)
		return 0;
	*c_r = c;
	return n;
}

static void mime_search_put_utf8(uint32_t c, struct buf *out)
{
	unsigned char b[3];
	if (c < 0x80) {
		b[0] = (unsigned char)c;
		buf_append(out, b, 1);
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xC0 | c >> 6);
		b[1] = (unsigned char)(0x80 | (c & 0x3F));
		buf_append(out, b, 2);
	} else {
		b[0] = (unsigned char)(0xE0 | c >> 12);
		b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (c & 0x3F));
		buf_append(out, b, 3);
	}
}

void mime_search_fold(const char *str, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)str;
	buf_reserve(out, len);
	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t n = s[i] >= 0x80 ? mime_search_utf8(s + i, len - i, &c) : 0;
		if (n > 0) {
			mime_search_put_utf8(mime_search_fold_cp(c), out);
			i += n;
			continue;
		}
		char b = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 0x20 : s[i]);
		buf_append(out, &b, 1);
		i++;
	}
}

static bool mime_search_in(const char *text, size_t len, const struct buf *needle)
{
	struct buf f = {0};
	mime_search_fold(text, len, &f);
	bool r = buf_rlen(needle) == 0 ||
		 memmem(buf_rdata(&f), buf_rlen(&f), buf_rdata(needle), buf_rlen(needle)) != NULL;
	buf_release(&f);
	return r;
}

/* Searches the fields of one header block ("Name: decoded value" when all
 * fields are searched). Returns whether a field matched. */
static bool mime_search_header(const char *hdr, size_t len, const char *field,
			       const struct buf *needle)
{
	struct mime_fields f;
	struct buf text = {0};
	bool found = false;
	mime_fields_parse(hdr, len, &f);
	for (size_t i = 0; i < f.n && !found; i++) {
		if (field != NULL && strcasecmp(f.v[i].name, field) != 0)
			continue;
		text.len = text.rpos = 0;
		if (field == NULL)
			buf_printf(&text, "%s: ", f.v[i].name);
		mime_header_decode_2047(f.v[i].value, f.v[i].value_len, &text);
		found = mime_search_in(buf_rdata(&text), buf_rlen(&text), needle);
	}
	buf_release(&text);
	mime_fields_free(&f);
	return found;
}

bool mail_header_contains(const char *msg, size_t len, const char *field, const char *needle)
{
	struct buf n = {0};
	mime_search_fold(needle, strlen(needle), &n);
	bool r = mime_search_header(msg, len, field, &n);
	buf_release(&n);
	return r;
}

/* A text part: CTE-decoded, converted to UTF-8, then searched. */
static bool mime_search_part(const char *body, size_t len, const struct mime_pnode *p,
			     const struct buf *needle)
{
	struct buf dec = {0}, conv = {0};
	struct mime_decoder *d = mime_decoder_new(p->cte);
	bool r = false;
	if (mime_decoder_feed(d, body, len, &dec) < 0) {
		dec.len = dec.rpos = 0;
		buf_append(&dec, body, len); /* unknown encoding: raw bytes */
	}
	mime_decoder_finish(&d, &dec);
	if (p->charset[0] == '\0' ||
	    mime_charset_to_utf8(p->charset, buf_rdata(&dec), buf_rlen(&dec), &conv) < 0)
		r = mime_search_in(buf_rdata(&dec), buf_rlen(&dec), needle);
	else
		r = mime_search_in(buf_rdata(&conv), buf_rlen(&conv), needle);
	buf_release(&dec);
	buf_release(&conv);
	return r;
}

/* Clamps a stored range to the message (a tree from another copy of the
 * message must not read out of bounds). */
static size_t mime_search_clamp(uint64_t off, uint64_t l, size_t len)
{
	if (off >= len)
		return 0;
	return l > len - off ? len - (size_t)off : (size_t)l;
}

static bool mime_search_tree(const char *msg, size_t len, const struct mime_pnode *nodes,
			     size_t count, const struct buf *needle, bool include_headers)
{
	for (size_t i = 0; i < count; i++) {
		const struct mime_pnode *p = &nodes[i];
		size_t hl = mime_search_clamp(p->hdr_off, p->hdr_len, len);
		size_t bl = mime_search_clamp(p->body_off, p->body_len, len);
		if (include_headers && hl > 0 &&
		    mime_search_header(msg + p->hdr_off, hl, NULL, needle))
			return true;
		if ((p->flags & MIME_PNODE_TEXT) &&
		    !(p->flags & (MIME_PNODE_MULTIPART | MIME_PNODE_RFC822)) &&
		    mime_search_part(bl > 0 ? msg + p->body_off : "", bl, p, needle))
			return true;
	}
	return false;
}

bool mail_body_contains(const char *msg, size_t len, const void *parts, size_t parts_len,
			const char *needle, bool include_headers)
{
	size_t count = 0;
	if (needle[0] == '\0')
		return true;
	struct mime_pnode *nodes = mime_parts_load(parts, parts_len, &count);
	if (nodes == NULL) {
		struct mail_summary s;
		mime_parse(msg, len, &s);
		nodes = mime_parts_load(s.parts, s.parts_len, &count);
		mail_summary_free(&s);
		if (nodes == NULL)
			return false;
	}
	struct buf n = {0};
	mime_search_fold(needle, strlen(needle), &n);
	bool r = mime_search_tree(msg, len, nodes, count, &n, include_headers);
	buf_release(&n);
	free(nodes);
	return r;
}
