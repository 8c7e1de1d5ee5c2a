/* mime: the streaming MIME parser (see mime.h).
 *
 * The input is cut into lines; a line is never stored whole. The parser
 * keeps the first MIME_WIN bytes of the current line (enough to recognise
 * a boundary delimiter, RFC 2046 §5.1.1) and, while inside a header block,
 * the block itself up to MIME_HDR_MAX bytes. Everything else is offsets and
 * counters, so memory does not depend on the message size; the number of
 * parts and the nesting depth are capped (a part past the caps is a plain
 * leaf), which bounds the tree too.
 *
 * Invariants: p->cur is the innermost open entity; when p->in_header its
 * header block is being read, otherwise its body. A delimiter line matches
 * the boundary of an open ancestor multipart (innermost first, exact
 * match: "--" boundary ["--"] LWSP*); it ends every entity below that
 * multipart. The CRLF before a delimiter belongs to the delimiter, so a
 * body ends at the content end of the line before it. */
#include "mail/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "mail/mime_internal.h"

#define MIME_HDR_MAX (64 * 1024)
#define MIME_BOUNDARY_MAX 200
#define MIME_WIN (MIME_BOUNDARY_MAX + 64)
#define MIME_MAX_PARTS 2000
#define MIME_MAX_DEPTH 40

struct mime_parser {
	uint64_t pos;        /* absolute offset of the next byte */
	uint64_t line_start; /* offset of the current line */
	uint64_t line_idx;   /* lines completed so far */
	char win[MIME_WIN];  /* first bytes of the current line (no LF) */
	size_t win_len;
	bool tail_ws;        /* the bytes past the window are all LWSP/CR */
	bool last_cr;        /* the last byte before LF was CR */
	bool prev_nonempty;  /* the previous line had content */
	uint64_t prev_content_end;
	bool in_header;
	struct buf hdr;
	size_t hdr_mark; /* hdr.len at the start of the current line */
	bool hdr_full;
	struct mime_node *root, *cur;
	size_t nnodes;
	int64_t sent_date;
	int32_t sent_tz;
};

static struct mime_node *mime_node_new(struct mime_parser *p, struct mime_node *parent)
{
	struct mime_node *n = xcalloc(1, sizeof(*n));
	p->nnodes++;
	n->parent = parent;
	if (parent != NULL) {
		n->depth = parent->depth + 1;
		if (parent->last_child != NULL)
			parent->last_child->next = n;
		else
			parent->first_child = n;
		parent->last_child = n;
		parent->nchildren++;
	}
	return n;
}

static void mime_node_free(struct mime_node *n)
{
	while (n != NULL) {
		struct mime_node *next = n->next;
		mime_node_free(n->first_child);
		free(n->type);
		free(n->subtype);
		mime_params_free(&n->params);
		free(n->id);
		free(n->desc);
		free(n->cte_str);
		free(n->md5);
		free(n->loc);
		free(n->disp_type);
		mime_params_free(&n->disp_params);
		for (size_t i = 0; i < n->nlang; i++)
			free(n->lang[i]);
		free(n->lang);
		free(n->envelope);
		free(n->boundary);
		free(n);
		n = next;
	}
}

struct mime_parser *mime_parser_new(void)
{
	struct mime_parser *p = xcalloc(1, sizeof(*p));
	p->root = mime_node_new(p, NULL);
	p->root->message_level = true;
	p->cur = p->root;
	p->in_header = true;
	p->tail_ws = true;
	p->sent_date = -1;
	return p;
}

static char *mime_value_dup(const struct mime_fields *f, const char *name)
{
	const struct mime_field *fl = mime_fields_find(f, name);
	return fl != NULL ? xstrdup(fl->value) : NULL;
}

/* RFC 2045 §6.1: the encoding is a token; comments around it are allowed. */
static void mime_node_set_cte(struct mime_node *n, const struct mime_fields *f)
{
	const struct mime_field *fl = mime_fields_find(f, "Content-Transfer-Encoding");
	n->cte = MIME_CTE_7BIT;
	if (fl == NULL)
		return;
	const char *s = mime_header_skip_cfws(fl->value);
	size_t len = strcspn(s, " \t();");
	if (len == 0)
		return;
	n->cte_str = xstrndup(s, len);
	static const struct {
		const char *name;
		enum mime_cte cte;
	} map[] = {{"7bit", MIME_CTE_7BIT},
		   {"8bit", MIME_CTE_8BIT},
		   {"binary", MIME_CTE_BINARY},
		   {"base64", MIME_CTE_BASE64},
		   {"quoted-printable", MIME_CTE_QUOTED_PRINTABLE}};
	n->cte = MIME_CTE_UNKNOWN;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(n->cte_str, map[i].name) == 0)
			n->cte = map[i].cte;
}

/* Content-Language (RFC 3282): a comma-separated list of tags. */
static void mime_node_set_lang(struct mime_node *n, const struct mime_fields *f)
{
	const struct mime_field *fl = mime_fields_find(f, "Content-Language");
	if (fl == NULL)
		return;
	const char *s = fl->value;
	while (*s != '\0') {
		s = mime_header_skip_cfws(s);
		size_t len = strcspn(s, ", \t(");
		if (len > 0 && n->nlang < 64) {
			n->lang = xrealloc(n->lang, (n->nlang + 1) * sizeof(char *));
			n->lang[n->nlang++] = xstrndup(s, len);
		}
		s += len;
		s = mime_header_skip_cfws(s);
		if (*s != '\0' && *s != ',')
			s += strcspn(s, ",");
		if (*s == ',')
			s++;
	}
}

static bool mime_node_parent_digest(const struct mime_node *n)
{
	const struct mime_node *m = n->parent;
	return m != NULL && m->multipart && m->subtype != NULL &&
	       strcasecmp(m->subtype, "digest") == 0;
}

static void mime_node_set_type(struct mime_node *n, const struct mime_fields *f)
{
	const struct mime_field *fl = mime_fields_find(f, "Content-Type");
	if (fl != NULL &&
	    mime_header_parse_ctype(fl->value, true, &n->type, &n->subtype, &n->params) < 0)
		fl = NULL;
	if (fl == NULL && mime_node_parent_digest(n)) {
		/* RFC 2046 §5.1.5: the default in a digest is message/rfc822 */
		n->type = xstrdup("message");
		n->subtype = xstrdup("rfc822");
	}
	n->text = n->type == NULL || strcasecmp(n->type, "text") == 0;
}

static void mime_node_set_mime(struct mime_node *n, const struct mime_fields *f)
{
	mime_node_set_type(n, f);
	mime_node_set_cte(n, f);
	mime_node_set_lang(n, f);
	n->id = mime_value_dup(f, "Content-ID");
	n->desc = mime_value_dup(f, "Content-Description");
	n->md5 = mime_value_dup(f, "Content-MD5");
	n->loc = mime_value_dup(f, "Content-Location");
	const struct mime_field *d = mime_fields_find(f, "Content-Disposition");
	if (d != NULL && mime_header_parse_ctype(d->value, false, &n->disp_type, NULL,
						 &n->disp_params) < 0)
		n->disp_type = NULL;
}

/* What we cannot treat as a container becomes the default text/plain. */
static void mime_node_degrade(struct mime_node *n)
{
	free(n->type);
	free(n->subtype);
	n->type = n->subtype = NULL;
	mime_params_free(&n->params);
	n->text = true;
}

static bool mime_is(const struct mime_node *n, const char *type, const char *subtype)
{
	return n->type != NULL && strcasecmp(n->type, type) == 0 &&
	       (subtype == NULL || strcasecmp(n->subtype, subtype) == 0);
}

/* Decides what the body of n is once its header is known. */
static void mime_node_open_body(struct mime_parser *p, struct mime_node *n)
{
	bool room = n->depth < MIME_MAX_DEPTH && p->nnodes < MIME_MAX_PARTS;
	if (mime_is(n, "multipart", NULL)) {
		const char *b = mime_params_get(&n->params, "boundary");
		size_t blen = b != NULL ? strlen(b) : 0;
		if (!room || blen == 0 || blen > MIME_BOUNDARY_MAX) {
			mime_node_degrade(n);
			return;
		}
		n->multipart = true;
		n->bnd_active = true;
		n->boundary = xstrdup(b);
		n->boundary_len = blen;
	} else if (mime_is(n, "message", "rfc822") || mime_is(n, "message", "global")) {
		if (!room) {
			mime_node_degrade(n);
			return;
		}
		n->rfc822 = true;
		struct mime_node *e = mime_node_new(p, n);
		e->message_level = true;
		e->hdr_off = n->body_off;
		p->cur = e;
		p->in_header = true;
	}
}

/* The header of p->cur ends; its body starts at body_off (line body_line). */
static void mime_parser_header_done(struct mime_parser *p, uint64_t body_off, uint64_t body_line)
{
	struct mime_node *n = p->cur;
	struct mime_fields f;
	n->hdr_len = body_off - n->hdr_off;
	n->body_off = body_off;
	n->body_line = body_line;
	mime_fields_parse(buf_rdata(&p->hdr), buf_rlen(&p->hdr), &f);
	mime_node_set_mime(n, &f);
	if (n->message_level)
		n->envelope = mime_envelope_build(&f);
	if (n == p->root) {
		const struct mime_field *d = mime_fields_find(&f, "Date");
		if (d == NULL || mime_date_parse(d->value, &p->sent_date, &p->sent_tz) < 0) {
			p->sent_date = -1;
			p->sent_tz = 0;
		}
	}
	mime_fields_free(&f);
	p->hdr.len = p->hdr.rpos = 0;
	p->hdr_mark = 0;
	p->hdr_full = false;
	p->in_header = false;
	mime_node_open_body(p, n);
}

/* Ends the body of n at a delimiter line (the current line). */
static void mime_node_close_at_delim(struct mime_parser *p, struct mime_node *n)
{
	uint64_t end = p->prev_content_end > n->body_off ? p->prev_content_end : n->body_off;
	uint64_t k = p->line_idx - n->body_line;
	n->body_len = end - n->body_off;
	n->lines = k == 0 ? 0 : k - 1 + (p->prev_nonempty ? 1 : 0);
}

static bool mime_is_lwsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Whether the current line (content_len bytes) is a delimiter of m. */
static bool mime_delim_match(const struct mime_parser *p, size_t content_len,
			     const struct mime_node *m, bool *close_r)
{
	size_t wl = content_len < p->win_len ? content_len : p->win_len;
	size_t i = 2 + m->boundary_len;
	if (wl < i || memcmp(p->win + 2, m->boundary, m->boundary_len) != 0)
		return false;
	*close_r = wl >= i + 2 && p->win[i] == '-' && p->win[i + 1] == '-';
	if (*close_r)
		i += 2;
	for (; i < wl; i++)
		if (!mime_is_lwsp(p->win[i]))
			return false;
	return content_len <= p->win_len || p->tail_ws;
}

/* The innermost open multipart whose delimiter the current line is. */
static struct mime_node *mime_parser_find_delim(struct mime_parser *p, size_t content_len,
						bool *close_r)
{
	if (content_len < 2 || p->win_len < 2 || p->win[0] != '-' || p->win[1] != '-')
		return NULL;
	for (struct mime_node *m = p->cur; m != NULL; m = m->parent) {
		if (!m->multipart || !m->bnd_active || !mime_delim_match(p, content_len, m, close_r))
			continue;
		/* Past the part cap, new parts are not opened: the line stays
		 * content of the current one. */
		if (!*close_r && p->nnodes >= MIME_MAX_PARTS)
			return NULL;
		return m;
	}
	return NULL;
}

static void mime_parser_on_delim(struct mime_parser *p, struct mime_node *m, bool close)
{
	if (p->in_header) {
		/* A header ended by a delimiter: no blank line, empty body. */
		p->hdr.len = p->hdr_mark;
		while (p->in_header)
			mime_parser_header_done(p, p->line_start, p->line_idx);
	}
	for (struct mime_node *n = p->cur; n != m; n = n->parent)
		mime_node_close_at_delim(p, n);
	p->cur = m;
	if (close) {
		m->bnd_active = false; /* what follows is the epilogue */
		return;
	}
	struct mime_node *c = mime_node_new(p, m);
	c->hdr_off = p->pos;
	p->cur = c;
	p->in_header = true;
	p->hdr.len = p->hdr.rpos = 0;
	p->hdr_full = false;
}

static void mime_parser_line(struct mime_parser *p, uint64_t content_end)
{
	size_t content_len = (size_t)(content_end - p->line_start);
	bool close = false;
	struct mime_node *m = mime_parser_find_delim(p, content_len, &close);
	if (m != NULL)
		mime_parser_on_delim(p, m, close);
	else if (p->in_header && content_len == 0)
		mime_parser_header_done(p, p->pos, p->line_idx + 1);
}

/* Adds n bytes of the current line (the last may be its LF). */
static void mime_parser_add(struct mime_parser *p, const char *s, size_t n)
{
	size_t body = n > 0 && s[n - 1] == '\n' ? n - 1 : n;
	if (body > 0)
		p->last_cr = s[body - 1] == '\r';
	size_t take = MIME_WIN - p->win_len < body ? MIME_WIN - p->win_len : body;
	memcpy(p->win + p->win_len, s, take);
	p->win_len += take;
	if (take < body && p->tail_ws && p->win[0] == '-') {
		for (size_t i = take; i < body && p->tail_ws; i++)
			p->tail_ws = mime_is_lwsp(s[i]) || s[i] == '\r';
	} else if (take < body) {
		p->tail_ws = false;
	}
	if (p->in_header && !p->hdr_full) {
		if (p->hdr.len + n > MIME_HDR_MAX)
			p->hdr_full = true;
		else
			buf_append(&p->hdr, s, n);
	}
	p->pos += n;
}

static void mime_parser_next_line(struct mime_parser *p, uint64_t content_end)
{
	p->prev_content_end = content_end;
	p->prev_nonempty = content_end > p->line_start;
	p->line_idx++;
	p->line_start = p->pos;
	p->win_len = 0;
	p->tail_ws = true;
	p->last_cr = false;
	p->hdr_mark = p->hdr.len;
}

void mime_parser_feed(struct mime_parser *p, const void *data, size_t len)
{
	const char *s = data;
	while (len > 0) {
		const char *nl = memchr(s, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - s) + 1 : len;
		mime_parser_add(p, s, n);
		if (nl != NULL) {
			uint64_t content_end = p->pos - 1 - (p->last_cr ? 1 : 0);
			mime_parser_line(p, content_end);
			mime_parser_next_line(p, content_end);
		}
		s += n;
		len -= n;
	}
}

/* At the end of input every open entity ends with the message. */
static void mime_parser_close_all(struct mime_parser *p)
{
	if (p->pos > p->line_start) {
		/* the last line has no line end */
		uint64_t content_end = p->pos - (p->last_cr ? 1 : 0);
		mime_parser_line(p, content_end);
		mime_parser_next_line(p, content_end);
	}
	while (p->in_header)
		mime_parser_header_done(p, p->pos, p->line_idx);
	for (struct mime_node *n = p->cur; n != NULL; n = n->parent) {
		n->body_len = p->pos - n->body_off;
		n->lines = p->line_idx - n->body_line;
	}
}

void mime_parser_finish(struct mime_parser **pp, struct mail_summary *r)
{
	struct mime_parser *p = *pp;
	struct buf b = {0};
	*pp = NULL;
	mime_parser_close_all(p);
	memset(r, 0, sizeof(*r));
	r->envelope = p->root->envelope;
	p->root->envelope = NULL;
	mime_bodystructure_write(p->root, true, &b);
	r->bodystructure = xstrdup(buf_rdata(&b));
	b.len = b.rpos = 0;
	mime_bodystructure_write(p->root, false, &b);
	r->body = xstrdup(buf_rdata(&b));
	b.len = b.rpos = 0;
	mime_parts_serialize(p->root, &b);
	r->parts_len = b.len;
	r->parts = xmalloc(b.len > 0 ? b.len : 1);
	memcpy(r->parts, buf_rdata(&b), b.len);
	buf_release(&b);
	r->sent_date = p->sent_date;
	r->sent_tz = p->sent_tz;
	mime_node_free(p->root);
	buf_release(&p->hdr);
	free(p);
}

void mime_parse(const void *data, size_t len, struct mail_summary *r)
{
	struct mime_parser *p = mime_parser_new();
	mime_parser_feed(p, data, len);
	mime_parser_finish(&p, r);
}

void mail_summary_free(struct mail_summary *r)
{
	free(r->envelope);
	free(r->bodystructure);
	free(r->body);
	free(r->parts);
	memset(r, 0, sizeof(*r));
}
