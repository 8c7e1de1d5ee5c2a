/* mime_header: header blocks, MIME parameters and encoded words.
 *
 * Header blocks are split into fields and unfolded (RFC 5322 §2.2.3: only
 * the CRLF of a fold is removed). Content-Type / Content-Disposition are
 * parsed leniently (comments, missing quotes, empty parameters) with the
 * RFC 2231 extensions: name*=charset'lang'%XX values and name*0, name*1*
 * continuations are joined and decoded into UTF-8 under the plain name.
 * RFC 2047 encoded words are decoded for searching only: ENVELOPE and
 * BODYSTRUCTURE return raw header values (RFC 9051 §7.5.2). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "mail/mime_internal.h"

static bool mime_header_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Appends one line's content (without its line end) to the value. */
static void mime_field_add_line(struct buf *v, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	buf_append(v, line, len);
}

static void mime_field_finish(struct mime_fields *r, const char *name, size_t name_len,
			      struct buf *v)
{
	const char *s = buf_rdata(v);
	size_t len = buf_rlen(v);
	while (len > 0 && mime_header_is_wsp(*s))
		s++, len--;
	while (len > 0 && (mime_header_is_wsp(s[len - 1]) || s[len - 1] == '\r'))
		len--;
	while (name_len > 0 && mime_header_is_wsp(name[name_len - 1]))
		name_len--;
	r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	struct mime_field *f = &r->v[r->n++];
	f->name = xstrndup(name, name_len);
	f->name_len = name_len;
	f->value = xstrndup(s, len);
	f->value_len = strlen(f->value); /* a NUL byte ends a value */
	v->len = v->rpos = 0;
}

void mime_fields_parse(const char *hdr, size_t len, struct mime_fields *r)
{
	struct buf v = {0};
	const char *name = NULL;
	size_t name_len = 0;
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < len;) {
		const char *line = hdr + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t ll = nl != NULL ? (size_t)(nl - line) + 1 : len - i;
		i += ll;
		if (ll == 1 || (ll == 2 && line[0] == '\r' && line[1] == '\n'))
			break; /* the blank line ending the header */
		if (mime_header_is_wsp(line[0])) {
			if (name != NULL)
				mime_field_add_line(&v, line, ll);
			continue;
		}
		if (name != NULL)
			mime_field_finish(r, name, name_len, &v);
		const char *colon = memchr(line, ':', ll);
		name = NULL;
		if (colon == NULL || colon == line)
			continue; /* not a header field: ignored */
		name = line;
		name_len = (size_t)(colon - line);
		mime_field_add_line(&v, colon + 1, ll - (size_t)(colon + 1 - line));
	}
	if (name != NULL)
		mime_field_finish(r, name, name_len, &v);
	buf_release(&v);
}

void mime_fields_free(struct mime_fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].value);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

const struct mime_field *mime_fields_find(const struct mime_fields *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcasecmp(f->v[i].name, name) == 0)
			return &f->v[i];
	return NULL;
}

const char *mime_header_skip_cfws(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s != '(')
			return s;
		int depth = 0;
		do {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')')
				depth--;
			s++;
		} while (depth > 0 && *s != '\0');
	}
}

/* RFC 2045 §5.1 token (8-bit bytes accepted: broken mail has them). */
static size_t mime_token_len(const char *s)
{
	size_t n = 0;
	while ((unsigned char)s[n] > 0x20 && s[n] != 0x7f && strchr("()<>@,;:\\\"/[]?=", s[n]) == NULL)
		n++;
	return n;
}

/* A quoted-string starting at s (at the DQUOTE): its unescaped content. */
static char *mime_quoted_value(const char **sp)
{
	const char *s = *sp + 1;
	struct buf b = {0};
	while (*s != '\0' && *s != '"') {
		if (*s == '\\' && s[1] != '\0')
			s++;
		if (*s != '\r' && *s != '\n')
			buf_append(&b, s, 1);
		s++;
	}
	if (*s == '"')
		s++;
	*sp = s;
	char *r = xstrdup(buf_rdata(&b));
	buf_release(&b);
	return r;
}

void mime_params_free(struct mime_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].value);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

const char *mime_params_get(const struct mime_params *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcasecmp(p->v[i].name, name) == 0)
			return p->v[i].value;
	return NULL;
}

void mime_params_add_copy(struct mime_params *p, const char *name, const char *value)
{
	mime_params_add_owned(p, xstrdup(name), xstrdup(value));
}

void mime_params_add_owned(struct mime_params *p, char *name, char *value)
{
	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	p->v[p->n].name = name;
	p->v[p->n].value = value;
	p->n++;
}

/* Reads "; name=value" pairs into raw (names as sent, values unquoted). */
static void mime_params_read(const char *s, struct mime_params *raw)
{
	for (;;) {
		s = mime_header_skip_cfws(s);
		if (*s == '\0' || raw->n >= 256)
			return;
		if (*s != ';') {
			s += strcspn(s, ";"); /* junk after a value */
			continue;
		}
		s = mime_header_skip_cfws(s + 1);
		size_t nlen = mime_token_len(s);
		const char *name = s;
		s = mime_header_skip_cfws(s + nlen);
		if (nlen == 0 || *s != '=')
			continue;
		s = mime_header_skip_cfws(s + 1);
		char *value;
		if (*s == '"') {
			value = mime_quoted_value(&s);
		} else {
			size_t vlen = mime_token_len(s);
			value = xstrndup(s, vlen);
			s += vlen;
		}
		mime_params_add_owned(raw, xstrndup(name, nlen), value);
	}
}

int mime_header_parse_ctype(const char *value, bool ct, char **type_r, char **subtype_r,
			    struct mime_params *params_r)
{
	const char *s = mime_header_skip_cfws(value);
	size_t tlen = mime_token_len(s);
	const char *type = s, *sub = NULL;
	size_t slen = 0;
	memset(params_r, 0, sizeof(*params_r));
	if (tlen == 0)
		return -1;
	s = mime_header_skip_cfws(s + tlen);
	if (ct) {
		if (*s != '/')
			return -1;
		sub = mime_header_skip_cfws(s + 1);
		slen = mime_token_len(sub);
		if (slen == 0)
			return -1;
		s = sub + slen;
	}
	struct mime_params raw = {0};
	mime_params_read(s, &raw);
	mime_rfc2231_join(&raw, params_r);
	mime_params_free(&raw);
	*type_r = xstrndup(type, tlen);
	if (subtype_r != NULL)
		*subtype_r = xstrndup(sub, slen);
	return 0;
}
