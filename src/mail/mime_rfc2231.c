/* mime_rfc2231: MIME parameter value continuations and charsets.
 *
 * RFC 2231 §3: name*0, name*1, ... are joined in section order; §4: a
 * name ending in '*' is charset'language'%XX-encoded (only the first
 * section carries charset and language). The joined value is converted to
 * UTF-8 (an unknown charset keeps the decoded bytes) and returned under
 * the plain name, at the place of its first section; a plain parameter of
 * the same name is dropped in favour of the extended one. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "mail/mime_internal.h"
#include "lib/codec.h"

#define MIME_RFC2231_MAX_SECTIONS 100

struct mime_rfc2231_part {
	const char *value;
	int section; /* -1: plain; otherwise section number (0 for name*) */
	bool encoded;
	size_t base_len;
};

/* Classifies a raw name: plain, "base*" or "base*N[*]". */
static void mime_rfc2231_classify(const char *name, struct mime_rfc2231_part *r)
{
	const char *star = strchr(name, '*');
	r->section = -1;
	r->encoded = false;
	r->base_len = strlen(name);
	if (star == NULL || star == name)
		return;
	const char *rest = star + 1;
	if (*rest == '\0') {
		r->section = 0;
		r->encoded = true;
	} else {
		size_t digits = strspn(rest, "0123456789");
		if (digits == 0 || digits > 3 ||
		    (rest[digits] != '\0' && strcmp(rest + digits, "*") != 0))
			return;
		r->section = atoi(rest);
		r->encoded = rest[digits] == '*';
	}
	r->base_len = (size_t)(star - name);
}

static void mime_rfc2231_pct_decode(const char *s, struct buf *out)
{
	for (; *s != '\0'; s++) {
		int h, l;
		if (*s == '%' && (h = codec_hex_value((unsigned char)s[1])) >= 0 &&
		    (l = codec_hex_value((unsigned char)s[2])) >= 0) {
			char c = (char)(h * 16 + l);
			buf_append(out, &c, 1);
			s += 2;
		} else {
			buf_append(out, s, 1);
		}
	}
}

static bool mime_rfc2231_same_base(const struct mime_params *raw, size_t i, size_t j,
                                   const struct mime_rfc2231_part *parts)
{
	return parts[i].base_len == parts[j].base_len &&
	       strncasecmp(raw->v[i].name, raw->v[j].name, parts[i].base_len) == 0;
}

/* Joins the extended sections of the parameter whose first part is raw[i]. */
static char *mime_rfc2231_value(const struct mime_params *raw, size_t i,
                                const struct mime_rfc2231_part *parts)
{
	struct buf joined = {0}, conv = {0};
	char *charset = NULL;
	for (int sec = 0; sec < MIME_RFC2231_MAX_SECTIONS; sec++) {
		size_t j;
		for (j = 0; j < raw->n; j++)
			if (parts[j].section == sec && mime_rfc2231_same_base(raw, i, j, parts))
				break;
		if (j == raw->n)
			break; /* sections end at the first gap (RFC 2231 §3) */
		const char *v = parts[j].value;
		if (sec == 0 && parts[j].encoded) {
			const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
			if (q2 != NULL) {
				charset = xstrndup(v, (size_t)(q1 - v));
				v = q2 + 1;
			}
		}
		if (parts[j].encoded)
			mime_rfc2231_pct_decode(v, &joined);
		else
			buf_append_str(&joined, v);
	}
	if (charset == NULL || charset[0] == '\0' ||
	    mime_charset_to_utf8(charset, buf_rdata(&joined), buf_rlen(&joined), &conv) < 0)
		buf_append(&conv, buf_rdata(&joined), buf_rlen(&joined));
	char *r = xstrndup(buf_rdata(&conv), buf_rlen(&conv));
	free(charset);
	buf_release(&joined);
	buf_release(&conv);
	return r;
}

void mime_rfc2231_join(const struct mime_params *raw, struct mime_params *out)
{
	struct mime_rfc2231_part *parts = xcalloc(raw->n + 1, sizeof(*parts));
	bool *done = xcalloc(raw->n + 1, sizeof(bool));
	for (size_t i = 0; i < raw->n; i++) {
		parts[i].value = raw->v[i].value;
		mime_rfc2231_classify(raw->v[i].name, &parts[i]);
	}
	for (size_t i = 0; i < raw->n; i++) {
		if (done[i])
			continue;
		bool extended = false;
		for (size_t j = 0; j < raw->n; j++) {
			if (parts[j].section >= 0 && mime_rfc2231_same_base(raw, i, j, parts)) {
				extended = true;
				if (parts[i].section >= 0)
					done[j] = true;
			}
		}
		if (parts[i].section < 0 && !extended)
			mime_params_add_copy(out, raw->v[i].name, raw->v[i].value);
		else if (parts[i].section >= 0)
			mime_params_add_owned(out, xstrndup(raw->v[i].name, parts[i].base_len),
			                      mime_rfc2231_value(raw, i, parts));
		done[i] = true;
	}
	free(parts);
	free(done);
}
