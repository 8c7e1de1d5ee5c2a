/* lmtp_parse: verbs, paths, parameters and dot-unstuffing (see
 * lmtp_parse.h).
 *
 * The path grammar is RFC 5321 §4.1.2 with two leniencies real clients
 * need: blanks between "FROM:" / "TO:" and the '<', and 8-bit bytes in
 * atoms (the user lookup decides whether such a name exists). Everything a
 * parsed string may later be written into (Return-Path:, Received:, logs)
 * is free of control characters: the grammar admits none. */
#include "lmtp/lmtp_parse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

static const struct {
	const char *name;
	enum lmtp_verb verb;
} lmtp_verbs[] = {
    {"LHLO", LMTP_VERB_LHLO}, {"HELO", LMTP_VERB_HELO}, {"EHLO", LMTP_VERB_EHLO},
    {"MAIL", LMTP_VERB_MAIL}, {"RCPT", LMTP_VERB_RCPT}, {"DATA", LMTP_VERB_DATA},
    {"RSET", LMTP_VERB_RSET}, {"NOOP", LMTP_VERB_NOOP}, {"QUIT", LMTP_VERB_QUIT},
    {"VRFY", LMTP_VERB_VRFY},
};

enum lmtp_verb lmtp_parse_verb(const char *line, const char **args_r)
{
	*args_r = "";
	for (size_t i = 0; i < sizeof(lmtp_verbs) / sizeof(lmtp_verbs[0]); i++) {
		if (strncasecmp(line, lmtp_verbs[i].name, 4) != 0)
			continue;
		if (line[4] == '\0')
			return lmtp_verbs[i].verb;
		if (line[4] != ' ')
			return LMTP_VERB_UNKNOWN;
		*args_r = line + 5;
		return lmtp_verbs[i].verb;
	}
	return LMTP_VERB_UNKNOWN;
}

/* --- paths --- */

/* RFC 5322 atext, plus 8-bit bytes (see the file comment). */
static bool lmtp_atext(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL || c >= 0x80;
}

/* Dot-string = Atom *("." Atom). Returns the bytes it spans, 0 if none. */
static size_t lmtp_dot_string(const char *p)
{
	size_t i = 0;
	for (;;) {
		size_t start = i;
		while (p[i] != '\0' && lmtp_atext((unsigned char)p[i]))
			i++;
		if (i == start)
			return 0; /* empty atom: leading, trailing or double dot */
		if (p[i] != '.')
			return i;
		i++;
	}
}

/* Quoted-string: qtextSMTP (%d32-33 / %d35-91 / %d93-126) or quoted-pair
 * ("\" %d32-126). Appends the unquoted text to out; returns the bytes
 * spanned including both quotes, 0 on error. */
static size_t lmtp_quoted_string(const char *p, struct buf *out)
{
	size_t i = 1;
	for (;;) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"')
			return i + 1;
		if (c == '\\') {
			unsigned char q = (unsigned char)p[i + 1];
			if (q < 32 || q > 126)
				return 0;
			buf_append(out, &q, 1);
			i += 2;
			continue;
		}
		if (c < 32 || c == 127)
			return 0; /* also the end of the string */
		buf_append(out, &c, 1);
		i++;
	}
}

/* Domain (sub-domains of letters, digits, '-' and '_') or an address
 * literal "[...]". Returns the bytes spanned, 0 if none. */
static size_t lmtp_domain(const char *p)
{
	size_t i = 0;
	if (p[0] == '[') {
		for (i = 1; p[i] != ']'; i++) {
			unsigned char c = (unsigned char)p[i];
			if (c <= 32 || c >= 127 || c == '[' || c == '\\')
				return 0;
		}
		return i > 1 ? i + 1 : 0;
	}
	for (;;) {
		size_t start = i;
		while (isalnum((unsigned char)p[i]) || p[i] == '-' || p[i] == '_')
			i++;
		if (i == start)
			return 0;
		if (p[i] != '.')
			return i;
		i++;
	}
}

/* A-d-l = At-domain *( "," At-domain ) ":" — a source route, ignored
 * (RFC 5321 §4.1.1.3: servers SHOULD accept and MAY ignore it). */
static size_t lmtp_source_route(const char *p)
{
	size_t i = 0;
	if (p[0] != '@')
		return 0;
	for (;;) {
		if (p[i] != '@')
			return SIZE_MAX;
		size_t d = lmtp_domain(p + i + 1);
		if (d == 0)
			return SIZE_MAX;
		i += 1 + d;
		if (p[i] == ':')
			return i + 1;
		if (p[i] != ',')
			return SIZE_MAX;
		i++;
	}
}

/* "<" [A-d-l] Mailbox ">" (or "<>" when allowed). Returns the bytes
 * spanned or 0 on error. */
static size_t lmtp_parse_path(const char *p, bool rcpt, struct lmtp_path *path)
{
	if (p[0] != '<')
		return 0;
	if (p[1] == '>' && !rcpt) {
		path->is_null = true;
		return 2;
	}
	size_t i = 1, route = lmtp_source_route(p + 1);
	if (route == SIZE_MAX)
		return 0;
	i += route;
	size_t mb_start = i;
	struct buf local = {0};
	size_t n = p[i] == '"' ? lmtp_quoted_string(p + i, &local) : lmtp_dot_string(p + i);
	if (n > 0 && p[i] != '"')
		buf_append(&local, p + i, n);
	if (n == 0 || (p[i] == '"' && buf_rlen(&local) == 0)) {
		buf_release(&local);
		return 0;
	}
	i += n;
	size_t dom_start = 0, dom_len = 0;
	if (p[i] == '@') {
		dom_start = i + 1;
		dom_len = lmtp_domain(p + dom_start);
		i = dom_start + dom_len;
	}
	/* A domain is required, but for RCPT TO:<postmaster> and local names
	 * (RFC 5321 §4.1.1.3). */
	if ((dom_start > 0 && dom_len == 0) || (dom_start == 0 && !rcpt)) {
		buf_release(&local);
		return 0;
	}
	if (p[i] != '>') {
		buf_release(&local);
		return 0;
	}
	path->addr = xstrndup(p + mb_start, i - mb_start);
	path->local = xstrdup(buf_rdata(&local));
	path->domain = dom_len > 0 ? xstrndup(p + dom_start, dom_len) : NULL;
	buf_release(&local);
	return i + 1;
}

/* esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 §4.1.2). */
static int lmtp_parse_param(const char *p, size_t len, struct lmtp_param *param)
{
	size_t k = 0;
	while (k < len && (isalnum((unsigned char)p[k]) || (k > 0 && p[k] == '-')))
		k++;
	if (k == 0 || (k < len && p[k] != '='))
		return -1;
	if (k < len) {
		if (k + 1 == len)
			return -1;
		for (size_t v = k + 1; v < len; v++) {
			unsigned char c = (unsigned char)p[v];
			if (c < 33 || c > 126 || c == '=')
				return -1;
		}
		param->value = xstrndup(p + k + 1, len - k - 1);
	}
	param->key = xstrndup(p, k);
	for (char *c = param->key; *c != '\0'; c++)
		*c = (char)toupper((unsigned char)*c);
	return 0;
}

static int lmtp_parse_params(const char *p, struct lmtp_mail_args *a, const char **error_r)
{
	while (*p != '\0') {
		if (*p != ' ') {
			*error_r = "Syntax error after the address";
			return -1;
		}
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, " ");
		if (a->n_params == LMTP_MAX_PARAMS) {
			*error_r = "Too many parameters";
			return -1;
		}
		if (lmtp_parse_param(p, len, &a->params[a->n_params]) < 0) {
			*error_r = "Invalid parameter syntax";
			return -1;
		}
		a->n_params++;
		p += len;
	}
	return 0;
}

int lmtp_parse_mail_args(const char *args, bool rcpt, struct lmtp_mail_args *a,
                         const char **error_r)
{
	memset(a, 0, sizeof(*a));
	const char *kw = rcpt ? "TO:" : "FROM:";
	size_t kwlen = strlen(kw);
	if (strncasecmp(args, kw, kwlen) != 0) {
		*error_r = rcpt ? "Syntax: RCPT TO:<address>" : "Syntax: MAIL FROM:<address>";
		return -1;
	}
	const char *p = args + kwlen;
	while (*p == ' ')
		p++;
	size_t n = lmtp_parse_path(p, rcpt, &a->path);
	if (n == 0) {
		*error_r = "Invalid address syntax";
		lmtp_mail_args_free(a);
		return -1;
	}
	if (lmtp_parse_params(p + n, a, error_r) < 0) {
		lmtp_mail_args_free(a);
		return -1;
	}
	return 0;
}

void lmtp_mail_args_free(struct lmtp_mail_args *a)
{
	free(a->path.addr);
	free(a->path.local);
	free(a->path.domain);
	for (size_t i = 0; i < a->n_params; i++) {
		free(a->params[i].key);
		free(a->params[i].value);
	}
	memset(a, 0, sizeof(*a));
}

const char *lmtp_param_get(const struct lmtp_mail_args *a, const char *key, bool *present_r)
{
	*present_r = false;
	for (size_t i = 0; i < a->n_params; i++) {
		if (strcmp(a->params[i].key, key) == 0) {
			*present_r = true;
			return a->params[i].value;
		}
	}
	return NULL;
}

void lmtp_split_detail(const char *local, const char *seps, size_t *base_len_r,
                       const char **detail_r)
{
	size_t n = seps[0] == '\0' ? strlen(local) : strcspn(local, seps);
	*base_len_r = n;
	*detail_r = local[n] != '\0' ? local + n + 1 : NULL;
}

/* --- dot-unstuffing --- */

enum {
	UNSTUFF_BOL,    /* at the start of a line */
	UNSTUFF_TEXT,   /* inside a line */
	UNSTUFF_DOT,    /* a '.' at the start of a line was dropped */
	UNSTUFF_DOT_CR, /* ".\r" at the start of a line */
};

void lmtp_unstuff_init(struct lmtp_unstuff *u)
{
	u->state = UNSTUFF_BOL;
	u->done = false;
}

static void lmtp_unstuff_emit(struct buf *out, uint64_t *count, const char *p, size_t n)
{
	if (out != NULL)
		buf_append(out, p, n);
	if (count != NULL)
		*count += n;
}

size_t lmtp_unstuff_feed(struct lmtp_unstuff *u, const char *data, size_t len, struct buf *out,
                         uint64_t *message_bytes_r)
{
	size_t i = 0;
	while (i < len && !u->done) {
		char c = data[i];
		switch (u->state) {
		case UNSTUFF_BOL:
			if (c == '.') {
				u->state = UNSTUFF_DOT;
				i++;
				continue;
			}
			u->state = UNSTUFF_TEXT;
			continue;
		case UNSTUFF_DOT:
			if (c == '\r' || c == '\n') {
				u->state = c == '\r' ? UNSTUFF_DOT_CR : UNSTUFF_BOL;
				u->done = c == '\n';
				i++;
				continue;
			}
			u->state = UNSTUFF_TEXT; /* the dot was stuffing */
			continue;
		case UNSTUFF_DOT_CR:
			if (c == '\n') {
				u->done = true;
				i++;
				continue;
			}
			/* ".\r" then more: the dot was stuffing, the CR is text. */
			lmtp_unstuff_emit(out, message_bytes_r, "\r", 1);
			u->state = UNSTUFF_TEXT;
			continue;
		default: {
			/* A whole run up to and including the next LF at once. */
			const char *nl = memchr(data + i, '\n', len - i);
			size_t n = nl != NULL ? (size_t)(nl - (data + i)) + 1 : len - i;
			lmtp_unstuff_emit(out, message_bytes_r, data + i, n);
			i += n;
			if (nl != NULL)
				u->state = UNSTUFF_BOL;
			continue;
		}
		}
	}
	return i;
}
