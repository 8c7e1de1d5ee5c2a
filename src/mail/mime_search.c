/* mime_search: SEARCH's substring matching (RFC 9051 §6.4.4).
 *
 * Matching is a case-insensitive substring test on UTF-8 text: header
 * values are unfolded and their RFC 2047 words decoded, bodies are
 * CTE-decoded and converted from their charset with iconv (an unknown
 * charset is searched as raw bytes). Both sides are case-folded with a
 * small simple-case-folding table covering ASCII, Latin-1, Latin
 * Extended-A, Greek and Cyrillic (locale independent); other code points
 * and invalid UTF-8 bytes compare exactly.
 *
 * mail_search_text() produces the text a full-text index holds by walking
 * the message with the scanner's own functions (mime_search_tree with a
 * different sink), so index answers and scan answers cannot drift. */
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

/* Receives each searchable text of a message as SEARCH sees it, before
 * folding: one header field ("Name: decoded value", or just the value
 * when a field name was asked for) or one text part (decoded and
 * converted). Returns true to stop the walk (a match was found). The
 * scanner and the index builder both walk with these functions, so what
 * the index holds cannot drift from what the scanner matches. */
typedef bool mime_search_sink_fn(void *ctx, bool header, const char *text, size_t len);

/* Walks the fields of one header block. Returns true when the sink
 * stopped the walk. */
static bool mime_search_header_each(const char *hdr, size_t len, const char *field,
				    mime_search_sink_fn *sink, void *ctx)
{
	struct mime_fields f;
	struct buf text = {0};
	bool stop = false;
	mime_fields_parse(hdr, len, &f);
	for (size_t i = 0; i < f.n && !stop; i++) {
		if (field != NULL && strcasecmp(f.v[i].name, field) != 0)
			continue;
		text.len = text.rpos = 0;
		if (field == NULL)
			buf_printf(&text, "%s: ", f.v[i].name);
		mime_header_decode_2047(f.v[i].value, f.v[i].value_len, &text);
		stop = sink(ctx, true, buf_rdata(&text), buf_rlen(&text));
	}
	buf_release(&text);
	mime_fields_free(&f);
	return stop;
}

/* The scanner's sink: whether the folded text contains the needle. */
static bool mime_search_match_sink(void *ctx, bool header, const char *text, size_t len)
{
	(void)header;
	return mime_search_in(text, len, ctx);
}

bool mail_header_contains(const char *msg, size_t len, const char *field, const char *needle)
{
	struct buf n = {0};
	mime_search_fold(needle, strlen(needle), &n);
	bool r = mime_search_header_each(msg, len, field, mime_search_match_sink, &n);
	buf_release(&n);
	return r;
}

/* A text part: CTE-decoded, converted to UTF-8 (an unknown charset or a
 * failed conversion: the decoded bytes), then given to the sink. */
static bool mime_search_part(const char *body, size_t len, const struct mime_pnode *p,
			     mime_search_sink_fn *sink, void *ctx)
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
		r = sink(ctx, false, buf_rdata(&dec), buf_rlen(&dec));
	else
		r = sink(ctx, false, buf_rdata(&conv), buf_rlen(&conv));
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

/* Every node's header fields (with include_headers) and every text leaf,
 * in tree order. Returns true when the sink stopped the walk. */
static bool mime_search_tree(const char *msg, size_t len, const struct mime_pnode *nodes,
			     size_t count, bool include_headers, mime_search_sink_fn *sink,
			     void *ctx)
{
	for (size_t i = 0; i < count; i++) {
		const struct mime_pnode *p = &nodes[i];
		size_t hl = mime_search_clamp(p->hdr_off, p->hdr_len, len);
		size_t bl = mime_search_clamp(p->body_off, p->body_len, len);
		if (include_headers && hl > 0 &&
		    mime_search_header_each(msg + p->hdr_off, hl, NULL, sink, ctx))
			return true;
		if ((p->flags & MIME_PNODE_TEXT) &&
		    !(p->flags & (MIME_PNODE_MULTIPART | MIME_PNODE_RFC822)) &&
		    mime_search_part(bl > 0 ? msg + p->body_off : "", bl, p, sink, ctx))
			return true;
	}
	return false;
}

/* The part tree of a message: the stored one, or parsed again when it is
 * missing or damaged. NULL when even that fails. */
static struct mime_pnode *mime_search_nodes(const char *msg, size_t len, const void *parts,
					    size_t parts_len, size_t *count_r)
{
	struct mime_pnode *nodes = mime_parts_load(parts, parts_len, count_r);
	if (nodes == NULL) {
		struct mail_summary s;
		mime_parse(msg, len, &s);
		nodes = mime_parts_load(s.parts, s.parts_len, count_r);
		mail_summary_free(&s);
	}
	return nodes;
}

bool mail_body_contains(const char *msg, size_t len, const void *parts, size_t parts_len,
			const char *needle, bool include_headers)
{
	size_t count = 0;
	if (needle[0] == '\0')
		return true;
	struct mime_pnode *nodes = mime_search_nodes(msg, len, parts, parts_len, &count);
	if (nodes == NULL)
		return false;
	struct buf n = {0};
	mime_search_fold(needle, strlen(needle), &n);
	bool r = mime_search_tree(msg, len, nodes, count, include_headers,
				  mime_search_match_sink, &n);
	buf_release(&n);
	free(nodes);
	return r;
}

/* --- the text a full-text index holds --- */

/* Length of the well-formed UTF-8 sequence at s[0..len) (RFC 3629 §4:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t mime_search_utf8_valid(const unsigned char *s, size_t len)
{
	if (s[0] < 0x80)
		return 1;
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		n = 2;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		n = 3;
		lo = s[0] == 0xE0 ? 0xA0 : 0x80;
		hi = s[0] == 0xED ? 0x9F : 0xBF;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		n = 4;
		lo = s[0] == 0xF0 ? 0x90 : 0x80;
		hi = s[0] == 0xF4 ? 0x8F : 0xBF;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	}
	return n;
}

/* Appends folded text with NUL, the separator and every byte outside a
 * well-formed UTF-8 sequence replaced by MAIL_SEARCH_SEP. An eligible
 * needle (mail_search_index_needle) contains none of those, so every
 * occurrence of it in the folded text survives unchanged. */
static void mime_search_sanitize(const char *text, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)text;
	buf_reserve(out, len + 1);
	for (size_t i = 0; i < len;) {
		size_t n = mime_search_utf8_valid(s + i, len - i);
		if (n == 0 || s[i] == '\0' || s[i] == MAIL_SEARCH_SEP) {
			char sep = MAIL_SEARCH_SEP;
			buf_append(out, &sep, 1);
			i += n > 0 ? n : 1;
			continue;
		}
		size_t run = i + n;
		while (run < len && s[run] >= 0x20 && s[run] < 0x80)
			run++; /* printable ASCII needs no checks */
		buf_append(out, s + i, run - i);
		i = run;
	}
}

struct mime_search_collect {
	struct buf *hdr, *body;
	struct buf fold; /* reused */
};

/* The index builder's sink: folds, sanitizes and appends one text,
 * followed by a separator so that no match spans two fields or parts. */
static bool mime_search_collect_sink(void *ctx, bool header, const char *text, size_t len)
{
	struct mime_search_collect *c = ctx;
	struct buf *out = header ? c->hdr : c->body;
	char sep = MAIL_SEARCH_SEP;
	c->fold.len = c->fold.rpos = 0;
	mime_search_fold(text, len, &c->fold);
	mime_search_sanitize(buf_rdata(&c->fold), buf_rlen(&c->fold), out);
	buf_append(out, &sep, 1);
	return false;
}

void mail_search_text(const char *msg, size_t len, const void *parts, size_t parts_len,
		      struct buf *hdr_r, struct buf *body_r)
{
	size_t count = 0;
	struct mime_pnode *nodes = mime_search_nodes(msg, len, parts, parts_len, &count);
	if (nodes == NULL)
		return;
	struct mime_search_collect c = {.hdr = hdr_r, .body = body_r};
	mime_search_tree(msg, len, nodes, count, true, mime_search_collect_sink, &c);
	buf_release(&c.fold);
	free(nodes);
}

const char *const mail_search_field_names[MAIL_SEARCH_FIELDS] = {"From", "To", "Cc", "Bcc",
								 "Subject"};

int mail_search_field(const char *name)
{
	for (int k = 0; k < MAIL_SEARCH_FIELDS; k++)
		if (strcasecmp(name, mail_search_field_names[k]) == 0)
			return k;
	return -1;
}

/* The same walk as mail_header_contains (the top-level header, each field
 * RFC 2047-decoded), the texts through the index builder's sink. */
void mail_search_fields(const char *msg, size_t len, struct buf fields_r[MAIL_SEARCH_FIELDS])
{
	struct mime_fields f;
	struct buf text = {0};
	struct mime_search_collect c = {0};
	mime_fields_parse(msg, len, &f);
	for (size_t i = 0; i < f.n; i++) {
		int k = mail_search_field(f.v[i].name);
		if (k < 0)
			continue;
		text.len = text.rpos = 0;
		mime_header_decode_2047(f.v[i].value, f.v[i].value_len, &text);
		c.hdr = &fields_r[k];
		mime_search_collect_sink(&c, true, buf_rdata(&text), buf_rlen(&text));
	}
	buf_release(&text);
	buf_release(&c.fold);
	mime_fields_free(&f);
}

bool mail_search_index_needle(const char *needle, struct buf *folded_r)
{
	mime_search_fold(needle, strlen(needle), folded_r);
	const unsigned char *s = (const unsigned char *)buf_rdata(folded_r);
	size_t len = buf_rlen(folded_r), points = 0;
	for (size_t i = 0; i < len; points++) {
		size_t n = mime_search_utf8_valid(s + i, len - i);
		if (n == 0 || s[i] == '\0' || s[i] == MAIL_SEARCH_SEP)
			return false;
		i += n;
	}
	/* A trigram index finds nothing shorter than three characters. */
	return points >= 3;
}
