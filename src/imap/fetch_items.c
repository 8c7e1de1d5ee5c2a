/* fetch_items: parsing FETCH data items (see fetch_items.h).
 *
 * The parser hands "BODY.PEEK[HEADER.FIELDS (From To)]<0.100>" over as one
 * atom (it keeps SP and parentheses inside "[...]"), so the work here is
 * to split that atom: item name, "[" section "]", optional "<o.n>".
 * Everything is validated before anything runs: a single bad item makes
 * the whole command BAD (RFC 9051 §6.4.5 has no partial success). The
 * response name of each item is built here too, so the executor only
 * appends "<offset>" for partials. */
#include "imap/fetch_items.h"

#include <ctype.h>
#include <string.h>

#include "lib/buf.h"

/* A cursor over the atom being parsed. */
struct fetch_cursor {
	const char *p, *end;
};

static bool fetch_items_eq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* Consumes `word` (case-insensitive) when the cursor is at it. */
static bool fetch_cursor_take(struct fetch_cursor *c, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(c->end - c->p) < n || strncasecmp(c->p, word, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* number64 (nz: no zero, no leading zero, RFC 9051 §9 nz-number64). */
static bool fetch_cursor_number(struct fetch_cursor *c, bool nz, uint64_t max, uint64_t *n_r)
{
	const char *start = c->p;
	uint64_t n = 0;
	while (c->p < c->end && isdigit((unsigned char)*c->p)) {
		unsigned d = (unsigned)(*c->p - '0');
		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
		c->p++;
	}
	if (c->p == start)
		return false;
	if (nz && (n == 0 || *start == '0'))
		return false;
	*n_r = n;
	return true;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")". The
 * parser only lets atom characters and SP through inside the list. */
static int fetch_items_fields(struct fetch_cursor *c, struct arena *a, struct fetch_item *it,
                              struct buf *name)
{
	if (!fetch_cursor_take(c, " ("))
		return -1;
	const char *close = memchr(c->p, ')', (size_t)(c->end - c->p));
	if (close == NULL || close == c->p)
		return -1;
	size_t max = (size_t)(close - c->p) / 2 + 1;
	it->fields = arena_alloc(a, max * sizeof(*it->fields));
	buf_append(name, " (", 2);
	while (c->p < close) {
		const char *sp = memchr(c->p, ' ', (size_t)(close - c->p));
		const char *stop = sp != NULL ? sp : close;
		if (stop == c->p || memchr(c->p, ':', (size_t)(stop - c->p)) != NULL)
			return -1; /* empty name (double SP) or a colon: not a field name */
		if (it->n_fields > 0)
			buf_append(name, " ", 1);
		buf_append(name, c->p, (size_t)(stop - c->p));
		it->fields[it->n_fields++] = arena_strndup(a, c->p, (size_t)(stop - c->p));
		c->p = stop;
		if (sp != NULL && ++c->p == close)
			return -1; /* trailing SP */
	}
	c->p = close + 1;
	buf_append(name, ")", 1);
	return 0;
}

/* The part path "1.2.3" (each an nz-number); stops before a "." that is
 * not followed by a digit (the section text). */
static int fetch_items_path(struct fetch_cursor *c, struct fetch_item *it, struct buf *name)
{
	while (c->p < c->end && isdigit((unsigned char)*c->p)) {
		uint64_t n;
		if (it->depth == FETCH_PATH_MAX || !fetch_cursor_number(c, true, UINT32_MAX, &n))
			return -1;
		it->path[it->depth++] = (uint32_t)n;
		buf_printf(name, "%s%u", it->depth > 1 ? "." : "", (unsigned)n);
		if (c->p == c->end || *c->p != '.')
			break;
		if (c->p + 1 < c->end && isdigit((unsigned char)c->p[1]))
			c->p++;
		else
			break;
	}
	return 0;
}

/* The section text after the path: "", "HEADER", "HEADER.FIELDS (..)",
 * "HEADER.FIELDS.NOT (..)", "TEXT", "MIME" (MIME only after a path). */
static int fetch_items_spec(struct fetch_cursor *c, struct arena *a, struct fetch_item *it,
                            struct buf *name)
{
	if (c->p == c->end || *c->p == ']')
		return 0;
	if (it->depth > 0) {
		if (*c->p != '.')
			return -1;
		c->p++;
		buf_append(name, ".", 1);
	}
	if (fetch_cursor_take(c, "HEADER.FIELDS.NOT")) {
		it->spec = FETCH_SPEC_HEADER_FIELDS_NOT;
		buf_append_str(name, "HEADER.FIELDS.NOT");
		return fetch_items_fields(c, a, it, name);
	}
	if (fetch_cursor_take(c, "HEADER.FIELDS")) {
		it->spec = FETCH_SPEC_HEADER_FIELDS;
		buf_append_str(name, "HEADER.FIELDS");
		return fetch_items_fields(c, a, it, name);
	}
	if (fetch_cursor_take(c, "HEADER")) {
		it->spec = FETCH_SPEC_HEADER;
		buf_append_str(name, "HEADER");
	} else if (fetch_cursor_take(c, "TEXT")) {
		it->spec = FETCH_SPEC_TEXT;
		buf_append_str(name, "TEXT");
	} else if (it->depth > 0 && fetch_cursor_take(c, "MIME")) {
		/* RFC 9051 §6.4.5: MIME MUST be prefixed by part numbers. */
		it->spec = FETCH_SPEC_MIME;
		buf_append_str(name, "MIME");
	} else {
		return -1;
	}
	return 0;
}

/* "[" section "]" [partial]; binary: section-binary (part numbers only). */
static int fetch_items_section(struct fetch_cursor *c, struct arena *a, struct fetch_item *it,
                               struct buf *name, bool allow_partial)
{
	bool binary = it->att == FETCH_ATT_BINARY || it->att == FETCH_ATT_BINARY_SIZE;
	if (!fetch_cursor_take(c, "["))
		return -1;
	buf_append(name, "[", 1);
	if (fetch_items_path(c, it, name) < 0)
		return -1;
	if (!binary && fetch_items_spec(c, a, it, name) < 0)
		return -1;
	if (!fetch_cursor_take(c, "]"))
		return -1;
	buf_append(name, "]", 1);
	if (c->p == c->end)
		return 0;
	if (!allow_partial || !fetch_cursor_take(c, "<"))
		return -1;
	it->partial = true;
	if (!fetch_cursor_number(c, false, INT64_MAX, &it->offset) || !fetch_cursor_take(c, ".") ||
	    !fetch_cursor_number(c, true, INT64_MAX, &it->count) || !fetch_cursor_take(c, ">"))
		return -1;
	return c->p == c->end ? 0 : -1;
}

struct fetch_simple {
	const char *word;
	enum fetch_att att;
};

static const struct fetch_simple fetch_simple_atts[] = {
    {"FLAGS", FETCH_ATT_FLAGS},
    {"INTERNALDATE", FETCH_ATT_INTERNALDATE},
    {"RFC822.SIZE", FETCH_ATT_RFC822_SIZE},
    {"ENVELOPE", FETCH_ATT_ENVELOPE},
    {"BODY", FETCH_ATT_BODY},
    {"BODYSTRUCTURE", FETCH_ATT_BODYSTRUCTURE},
    {"UID", FETCH_ATT_UID},
};

/* RFC 3501's RFC822 items are sections of the top-level message. */
static bool fetch_items_rfc822(const char *s, size_t len, struct fetch_item *it)
{
	if (fetch_items_eq(s, len, "RFC822")) {
		it->spec = FETCH_SPEC_CONTENT;
		it->set_seen = true;
		it->name = "RFC822";
	} else if (fetch_items_eq(s, len, "RFC822.HEADER")) {
		it->spec = FETCH_SPEC_HEADER;
		it->name = "RFC822.HEADER";
	} else if (fetch_items_eq(s, len, "RFC822.TEXT")) {
		it->spec = FETCH_SPEC_TEXT;
		it->set_seen = true;
		it->name = "RFC822.TEXT";
	} else {
		return false;
	}
	it->att = FETCH_ATT_SECTION;
	return true;
}

/* BODY[..], BODY.PEEK[..], BINARY[..], BINARY.PEEK[..], BINARY.SIZE[..]. */
static int fetch_items_sectioned(const char *s, size_t len, struct arena *a, struct fetch_item *it)
{
	struct fetch_cursor c = {s, s + len};
	struct buf name = {0};
	bool partial_ok = true;
	if (fetch_cursor_take(&c, "BODY.PEEK")) {
		it->att = FETCH_ATT_SECTION;
		buf_append_str(&name, "BODY");
	} else if (fetch_cursor_take(&c, "BODY")) {
		it->att = FETCH_ATT_SECTION;
		it->set_seen = true;
		buf_append_str(&name, "BODY");
	} else if (fetch_cursor_take(&c, "BINARY.PEEK")) {
		it->att = FETCH_ATT_BINARY;
		buf_append_str(&name, "BINARY");
	} else if (fetch_cursor_take(&c, "BINARY.SIZE")) {
		it->att = FETCH_ATT_BINARY_SIZE;
		partial_ok = false;
		buf_append_str(&name, "BINARY.SIZE");
	} else if (fetch_cursor_take(&c, "BINARY")) {
		it->att = FETCH_ATT_BINARY;
		it->set_seen = true;
		buf_append_str(&name, "BINARY");
	} else {
		return -1;
	}
	int ret = fetch_items_section(&c, a, it, &name, partial_ok);
	if (ret == 0)
		it->name = arena_strndup(a, buf_rdata(&name), buf_rlen(&name));
	buf_release(&name);
	return ret;
}

static int fetch_items_one(const struct imap_arg *arg, struct arena *a, struct fetch_item *it)
{
	memset(it, 0, sizeof(*it));
	if (arg->type != IMAP_ARG_ATOM)
		return -1;
	for (size_t i = 0; i < sizeof(fetch_simple_atts) / sizeof(fetch_simple_atts[0]); i++) {
		if (fetch_items_eq(arg->str, arg->len, fetch_simple_atts[i].word)) {
			it->att = fetch_simple_atts[i].att;
			it->name = fetch_simple_atts[i].word;
			return 0;
		}
	}
	if (fetch_items_rfc822(arg->str, arg->len, it))
		return 0;
	return fetch_items_sectioned(arg->str, arg->len, a, it);
}

bool fetch_item_needs_parts(const struct fetch_item *it)
{
	switch (it->att) {
	case FETCH_ATT_SECTION:
		return it->depth > 0 || it->spec != FETCH_SPEC_CONTENT;
	case FETCH_ATT_BINARY:
	case FETCH_ATT_BINARY_SIZE:
		return it->depth > 0;
	default:
		return false;
	}
}

static void fetch_items_summarize(struct fetch_items *r)
{
	for (size_t i = 0; i < r->count; i++) {
		const struct fetch_item *it = &r->items[i];
		switch (it->att) {
		case FETCH_ATT_ENVELOPE:
		case FETCH_ATT_BODY:
		case FETCH_ATT_BODYSTRUCTURE:
			r->need_summary = true;
			break;
		case FETCH_ATT_SECTION:
		case FETCH_ATT_BINARY:
		case FETCH_ATT_BINARY_SIZE:
			r->need_body = true;
			r->need_summary |= fetch_item_needs_parts(it);
			break;
		case FETCH_ATT_FLAGS:
			r->has_flags = true;
			break;
		case FETCH_ATT_UID:
			r->has_uid = true;
			break;
		default:
			break;
		}
		r->set_seen |= it->set_seen;
	}
}

/* ALL, FAST and FULL (RFC 9051 §6.4.5), only as the whole argument. */
static bool fetch_items_macro(const struct imap_arg *arg, struct arena *a, struct fetch_items *r)
{
	static const enum fetch_att fast[] = {FETCH_ATT_FLAGS, FETCH_ATT_INTERNALDATE,
	                                      FETCH_ATT_RFC822_SIZE, FETCH_ATT_ENVELOPE,
	                                      FETCH_ATT_BODY};
	static const char *const names[] = {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE",
	                                    "BODY"};
	size_t n;
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	if (fetch_items_eq(arg->str, arg->len, "FAST"))
		n = 3;
	else if (fetch_items_eq(arg->str, arg->len, "ALL"))
		n = 4;
	else if (fetch_items_eq(arg->str, arg->len, "FULL"))
		n = 5;
	else
		return false;
	r->items = arena_zalloc(a, n * sizeof(*r->items));
	for (size_t i = 0; i < n; i++) {
		r->items[i].att = fast[i];
		r->items[i].name = names[i];
	}
	r->count = n;
	return true;
}

int fetch_items_parse(const struct imap_arg *arg, struct arena *a, struct fetch_items *items_r,
                      const char **error_r)
{
	memset(items_r, 0, sizeof(*items_r));
	if (!fetch_items_macro(arg, a, items_r)) {
		const struct imap_arg *list = arg;
		size_t n = 1;
		if (arg->type == IMAP_ARG_LIST) {
			list = arg->list;
			n = arg->count;
		}
		if (n == 0) {
			*error_r = "Empty list of FETCH items";
			return -1;
		}
		items_r->items = arena_zalloc(a, n * sizeof(*items_r->items));
		for (size_t i = 0; i < n; i++) {
			if (fetch_items_one(&list[i], a, &items_r->items[i]) < 0) {
				*error_r = "Invalid FETCH item";
				return -1;
			}
		}
		items_r->count = n;
	}
	fetch_items_summarize(items_r);
	return 0;
}
