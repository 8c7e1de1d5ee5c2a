/* mime_address: RFC 5322 address lists as ENVELOPE address structures.
 *
 * RFC 9051 §7.5.2: each address is (name adl mailbox host); a group is
 * (NIL NIL "group-name" NIL) then its members then (NIL NIL NIL NIL). The
 * parser is lenient: it tokenizes the value (atoms, quoted strings,
 * comments, domain literals, specials) and interprets each comma-separated
 * item as a name-addr, an addr-spec or a group. Items without '@' still
 * produce an address (host "" so that it is not taken for a group marker),
 * empty items are skipped, and a missing '>' or ';' ends at the item or
 * value end. Names keep RFC 2047 words encoded (raw header data). */
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "mail/mime_internal.h"

enum mime_addr_tok { MIME_ADDR_ATOM, MIME_ADDR_QSTR, MIME_ADDR_COMMENT, MIME_ADDR_SPECIAL };

struct mime_addr_token {
	enum mime_addr_tok type;
	char special;
	char *text;
};

struct mime_addr_item {
	struct mime_addr_token *t;
	size_t n;
};

#define MIME_ADDR_MAX_TOKENS 512

static const char *mime_addr_delim_end(const char *s, char open, char close, struct buf *b)
{
	int depth = 0;
	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
		} else if (*s == open && open != close) {
			depth++;
		} else if (*s == close && depth-- == 0) {
			return s + 1;
		}
		buf_append(b, s, 1);
	}
	return s;
}

/* Reads the next token at *sp; returns false at the end of the value. */
static bool mime_addr_lex(const char **sp, struct mime_addr_token *t)
{
	const char *s = *sp;
	struct buf b = {0};
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	if (*s == '\0')
		return false;
	t->special = 0;
	if (*s == '(' || *s == '"') {
		t->type = *s == '(' ? MIME_ADDR_COMMENT : MIME_ADDR_QSTR;
		s = mime_addr_delim_end(s + 1, *s, *s == '(' ? ')' : '"', &b);
	} else if (strchr("<>:;,@", *s) != NULL) {
		t->type = MIME_ADDR_SPECIAL;
		t->special = *s++;
	} else {
		t->type = MIME_ADDR_ATOM;
		size_t n = *s == '[' ? strcspn(s, "]") + (strchr(s, ']') != NULL) : 0;
		if (n == 0)
			n = strcspn(s, " \t\r\n()<>:;,@\"");
		if (n == 0)
			n = 1; /* a lone ')' or '\\' */
		buf_append(&b, s, n);
		s += n;
	}
	t->text = xstrdup(buf_rdata(&b));
	buf_release(&b);
	*sp = s;
	return true;
}

static void mime_addr_item_free(struct mime_addr_item *it)
{
	for (size_t i = 0; i < it->n; i++)
		free(it->t[i].text);
	free(it->t);
	memset(it, 0, sizeof(*it));
}

/* Collects an item's tokens; returns its terminator (',' ';' ':' or 0). */
static char mime_addr_collect(const char **sp, bool in_group, struct mime_addr_item *it)
{
	struct mime_addr_token t;
	int angle = 0;
	memset(it, 0, sizeof(*it));
	while (mime_addr_lex(sp, &t)) {
		char c = t.special;
		if (angle == 0 && (c == ',' || c == ';' || (c == ':' && !in_group))) {
			free(t.text);
			return c;
		}
		angle += c == '<' ? 1 : c == '>' && angle > 0 ? -1 : 0;
		if (it->n >= MIME_ADDR_MAX_TOKENS) {
			free(t.text);
			continue;
		}
		it->t = xrealloc(it->t, (it->n + 1) * sizeof(*it->t));
		it->t[it->n++] = t;
	}
	return 0;
}

/* Words of t[from..to) joined by single spaces (display names). */
static char *mime_addr_phrase(const struct mime_addr_item *it, size_t from, size_t to)
{
	struct buf b = {0};
	for (size_t i = from; i < to; i++) {
		if (it->t[i].type != MIME_ADDR_ATOM && it->t[i].type != MIME_ADDR_QSTR)
			continue;
		if (b.len > 0)
			buf_append(&b, " ", 1);
		buf_append_str(&b, it->t[i].text);
	}
	char *r = b.len > 0 ? xstrdup(buf_rdata(&b)) : NULL;
	buf_release(&b);
	return r;
}

/* A quoted local part keeps its quotes only when it needs them. */
static void mime_addr_local_word(struct buf *b, const struct mime_addr_token *t)
{
	if (t->type == MIME_ADDR_QSTR && t->text[strcspn(t->text, " \t()<>[]:;@\\,\"")] != '\0') {
		buf_append(b, "\"", 1);
		for (const char *s = t->text; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				buf_append(b, "\\", 1);
			buf_append(b, s, 1);
		}
		buf_append(b, "\"", 1);
	} else if (t->type != MIME_ADDR_COMMENT) {
		buf_append_str(b, t->text);
	}
}

static void mime_addr_emit(struct buf *out, const char *name, const char *adl,
			   const char *mailbox, const char *host)
{
	buf_append(out, "(", 1);
	mime_imap_nstring(out, name);
	buf_append(out, " ", 1);
	mime_imap_nstring(out, adl);
	buf_append(out, " ", 1);
	mime_imap_nstring(out, mailbox);
	buf_append(out, " ", 1);
	mime_imap_nstring(out, host);
	buf_append(out, ")", 1);
}

/* [route ":"] local "@" domain in t[from..to); writes the address. */
static void mime_addr_spec(const struct mime_addr_item *it, size_t from, size_t to,
			   const char *name, struct buf *out)
{
	struct buf adl = {0}, local = {0}, domain = {0};
	size_t i = from, colon = to;
	if (i < to && it->t[i].special == '@') {
		for (size_t j = i; j < to; j++)
			if (it->t[j].special == ':') {
				colon = j;
				break;
			}
	}
	if (colon < to) {
		for (; i < colon; i++)
			buf_append_str(&adl, it->t[i].special ? (char[]){it->t[i].special, 0}
							      : it->t[i].text);
		i = colon + 1;
	}
	bool at = false;
	for (; i < to; i++) {
		if (it->t[i].special == '@' && !at)
			at = true;
		else if (it->t[i].type == MIME_ADDR_COMMENT || it->t[i].special == '>')
			continue;
		else
			mime_addr_local_word(at ? &domain : &local, &it->t[i]);
	}
	mime_addr_emit(out, name, adl.len > 0 ? buf_rdata(&adl) : NULL, buf_rdata(&local),
		       buf_rdata(&domain));
	buf_release(&adl);
	buf_release(&local);
	buf_release(&domain);
}

/* Writes one item; returns whether it produced an address. */
static bool mime_addr_item_write(const struct mime_addr_item *it, struct buf *out)
{
	size_t lt = it->n, words = 0;
	bool has_at = false;
	const char *comment = NULL;
	for (size_t i = 0; i < it->n; i++) {
		if (it->t[i].special == '<' && lt == it->n)
			lt = i;
		has_at |= it->t[i].special == '@';
		words += it->t[i].type == MIME_ADDR_ATOM || it->t[i].type == MIME_ADDR_QSTR;
		if (it->t[i].type == MIME_ADDR_COMMENT && comment == NULL)
			comment = it->t[i].text;
	}
	if (lt < it->n) { /* name-addr */
		char *name = mime_addr_phrase(it, 0, lt);
		mime_addr_spec(it, lt + 1, it->n, name, out);
		free(name);
		return true;
	}
	if (has_at) { /* addr-spec; a comment serves as the name */
		mime_addr_spec(it, 0, it->n, comment, out);
		return true;
	}
	if (words == 0)
		return false;
	if (words == 1) {
		mime_addr_spec(it, 0, it->n, comment, out);
		return true;
	}
	char *name = mime_addr_phrase(it, 0, it->n);
	mime_addr_emit(out, name, NULL, "", "");
	free(name);
	return true;
}

static void mime_addr_list(const char **sp, bool in_group, struct buf *out, size_t *count)
{
	for (;;) {
		struct mime_addr_item it;
		char term = mime_addr_collect(sp, in_group, &it);
		if (term == ':') {
			char *name = mime_addr_phrase(&it, 0, it.n);
			mime_addr_emit(out, NULL, NULL, name != NULL ? name : "", NULL);
			free(name);
			(*count)++;
			mime_addr_list(sp, true, out, count);
			mime_addr_emit(out, NULL, NULL, NULL, NULL);
			/* anything between ';' and the next ',' is ignored */
			mime_addr_item_free(&it);
			term = mime_addr_collect(sp, false, &it);
		} else if (mime_addr_item_write(&it, out)) {
			(*count)++;
		}
		mime_addr_item_free(&it);
		if (term == 0 || (term == ';' && in_group))
			return;
	}
}

void mime_address_write(const char *value, struct buf *out)
{
	size_t count = 0, mark = out->len;
	const char *s = value;
	buf_append(out, "(", 1);
	mime_addr_list(&s, false, out, &count);
	if (count == 0) {
		out->len = mark;
		buf_append_str(out, "NIL");
	} else {
		buf_append(out, ")", 1);
	}
}
