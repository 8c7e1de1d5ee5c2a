/* search: SEARCH program parser and evaluator (contract in search.h).
 *
 * The tree: AND nodes hold a list of children (the top level and every
 * parenthesized list, RFC 9051 §6.4.4 "multiple keys mean AND"), OR has
 * two children, NOT one; the negative keys (UNSEEN, UNKEYWORD, OLD...)
 * are built as NOT over the positive key, so evaluation has one path per
 * test. Nesting (NOT, OR, lists) is capped at SEARCH_MAX_DEPTH so that
 * "NOT NOT NOT ..." from a client cannot exhaust the stack in the
 * recursive parser or evaluator; AND lists are walked iteratively.
 *
 * Three-valued logic (YES/NO/MAYBE) lets a caller decide most messages
 * from metadata: NO AND x = NO, YES OR x = YES, NOT MAYBE = MAYBE. */
#include "imap/search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/seqset.h"
#include "store/store.h"
#include "lib/arena.h"
#include "lib/xalloc.h"

#define SEARCH_MAX_DEPTH 64

enum search_op {
	SEARCH_OP_ALL,
	SEARCH_OP_AND,
	SEARCH_OP_OR,
	SEARCH_OP_NOT,
	SEARCH_OP_FLAG,    /* a system flag is set */
	SEARCH_OP_KEYWORD, /* a keyword is set */
	SEARCH_OP_RECENT,
	SEARCH_OP_SEQSET,
	SEARCH_OP_UIDSET,
	SEARCH_OP_LARGER,
	SEARCH_OP_SMALLER,
	SEARCH_OP_DATE,
	SEARCH_OP_TEXT,
};

/* Evaluation cost classes; AND lists run cheaper children first. */
enum search_cost { COST_META, COST_SENT, COST_HEADER, COST_BODY };

enum search_date_cmp { DATE_BEFORE, DATE_ON, DATE_SINCE };

struct search_node {
	enum search_op op;
	enum search_cost cost;
	struct search_node *child; /* AND, OR, NOT: first child */
	struct search_node *next;  /* sibling in the parent's list */
	uint32_t flag;             /* FLAG */
	const char *str;           /* KEYWORD name, TEXT needle */
	const char *field;         /* TEXT HEADER: the field name */
	enum search_text_kind text_kind;
	uint64_t number; /* LARGER, SMALLER */
	int64_t day;     /* DATE: days since the epoch */
	bool sent;       /* DATE: the Date: header, not the internal date */
	enum search_date_cmp cmp;
	struct seqset set;     /* SEQSET, UIDSET */
	const uint32_t *saved; /* "$" after bind */
	size_t n_saved;
	bool indexed;         /* TEXT: hits[0..n_hits) answer all UIDs but missing[] */
	const uint32_t *hits; /* ascending UIDs */
	size_t n_hits;
	const uint32_t *missing;
	size_t n_missing;
};

struct search_parser {
	struct arena *arena;
	struct search_program *prog;
	const char *error;
};

static struct search_node *search_key(struct search_parser *sp, const struct imap_arg *args,
                                      size_t nargs, size_t *i, unsigned depth);

/* --- dates --- */

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12):
 * the era-based computation that needs no tables. */
static int64_t search_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static unsigned search_month_days(unsigned year, unsigned month)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

static int search_parse_digits(const char *s, size_t len, unsigned *n_r)
{
	unsigned n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (unsigned)(s[i] - '0');
	}
	*n_r = n;
	return 0;
}

int search_parse_date(const char *s, size_t len, int64_t *days_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	/* RFC 9051 §9: date-day = 1*2DIGIT "-" date-month "-" date-year (4DIGIT) */
	const char *dash = memchr(s, '-', len);
	if (dash == NULL)
		return -1;
	size_t dlen = (size_t)(dash - s);
	unsigned day, year, month = 0;
	if (dlen < 1 || dlen > 2 || search_parse_digits(s, dlen, &day) < 0)
		return -1;
	if (len != dlen + 1 + 3 + 1 + 4 || s[dlen + 4] != '-')
		return -1;
	for (unsigned m = 0; m < 12; m++) {
		if (strncasecmp(s + dlen + 1, months + 3 * m, 3) == 0)
			month = m + 1;
	}
	if (month == 0 || search_parse_digits(s + dlen + 5, 4, &year) < 0)
		return -1;
	if (day < 1 || day > search_month_days(year, month))
		return -1;
	*days_r = search_days_from_civil(year, month, day);
	return 0;
}

/* The calendar day of a timestamp in its own zone (RFC 9051 §6.4.4:
 * "disregarding time and timezone"). Floor division: dates before 1970. */
static int64_t search_day_of(int64_t t, int32_t tz_minutes)
{
	int64_t local = t + (int64_t)tz_minutes * 60;
	int64_t day = local / 86400;
	if (local % 86400 < 0)
		day--;
	return day;
}

/* --- parsing --- */

static struct search_node *search_node_new(struct search_parser *sp, enum search_op op)
{
	struct search_node *n = arena_zalloc(sp->arena, sizeof(*n));
	n->op = op;
	return n;
}

static struct search_node *search_fail(struct search_parser *sp, const char *error)
{
	if (sp->error == NULL)
		sp->error = error;
	return NULL;
}

static struct search_node *search_not(struct search_parser *sp, struct search_node *child)
{
	struct search_node *n = search_node_new(sp, SEARCH_OP_NOT);
	n->child = child;
	n->cost = child->cost;
	return n;
}

/* The next argument as an astring copied into the arena (NUL-terminated;
 * an embedded NUL is refused so the text functions see the whole needle). */
static const char *search_string(struct search_parser *sp, const struct imap_arg *args,
                                 size_t nargs, size_t *i)
{
	const char *str;
	size_t len;
	if (*i >= nargs) {
		search_fail(sp, "Missing search key argument");
		return NULL;
	}
	if (!imap_arg_get_astring(&args[*i], &str, &len) || memchr(str, '\0', len) != NULL) {
		search_fail(sp, "Invalid search key argument");
		return NULL;
	}
	(*i)++;
	return arena_strndup(sp->arena, str, len);
}

/* Sorts an AND list by cost, keeping the client's order among equals. */
static struct search_node *search_sort_list(struct search_node *list)
{
	struct search_node *sorted = NULL;
	while (list != NULL) {
		struct search_node *n = list, **pos = &sorted;
		list = list->next;
		while (*pos != NULL && (*pos)->cost <= n->cost)
			pos = &(*pos)->next;
		n->next = *pos;
		*pos = n;
	}
	return sorted;
}

/* Parses args[0..nargs) as an AND list (at least one key). */
static struct search_node *search_list(struct search_parser *sp, const struct imap_arg *args,
                                       size_t nargs, unsigned depth)
{
	if (nargs == 0)
		return search_fail(sp, "Missing search key");
	struct search_node *and = search_node_new(sp, SEARCH_OP_AND), **tail = &and->child;
	for (size_t i = 0; i < nargs;) {
		struct search_node *n = search_key(sp, args, nargs, &i, depth);
		if (n == NULL)
			return NULL;
		if (n->cost > and->cost)
			and->cost = n->cost;
		*tail = n;
		tail = &n->next;
	}
	and->child = search_sort_list(and->child);
	return and;
}

static struct search_node *search_set_key(struct search_parser *sp, const char *str, size_t len,
                                          enum search_op op)
{
	struct search_node *n = search_node_new(sp, op);
	const char *error;
	if (seqset_parse(str, len, sp->arena, &n->set, &error) < 0)
		return search_fail(sp, error);
	if (n->set.is_saved)
		sp->prog->uses_saved = true;
	return n;
}

static struct search_node *search_text_key(struct search_parser *sp, enum search_text_kind kind,
                                           const char *field, const char *needle)
{
	if (needle == NULL)
		return NULL;
	struct search_node *n = search_node_new(sp, SEARCH_OP_TEXT);
	n->text_kind = kind;
	n->field = field;
	n->str = needle;
	n->cost = kind == SEARCH_TEXT_HEADER ? COST_HEADER : COST_BODY;
	sp->prog->need_text = true;
	if (kind != SEARCH_TEXT_HEADER)
		sp->prog->need_parts = true;
	return n;
}

static struct search_node *search_date_key(struct search_parser *sp, const char *str, bool sent,
                                           enum search_date_cmp cmp)
{
	if (str == NULL)
		return NULL;
	struct search_node *n = search_node_new(sp, SEARCH_OP_DATE);
	if (search_parse_date(str, strlen(str), &n->day) < 0)
		return search_fail(sp, "Invalid date (d-Mon-yyyy expected)");
	n->sent = sent;
	n->cmp = cmp;
	if (sent) {
		n->cost = COST_SENT;
		sp->prog->need_sent_date = true;
	}
	return n;
}

static struct search_node *search_size_key(struct search_parser *sp, const struct imap_arg *arg,
                                           enum search_op op)
{
	/* number64 (RFC 9051 §9): up to 2^63-1 */
	if (arg == NULL || arg->type != IMAP_ARG_ATOM || arg->len == 0 || arg->len > 19)
		return search_fail(sp, "Invalid size");
	uint64_t v = 0;
	for (size_t k = 0; k < arg->len; k++) {
		if (arg->str[k] < '0' || arg->str[k] > '9')
			return search_fail(sp, "Invalid size");
		v = v * 10 + (uint64_t)(arg->str[k] - '0');
	}
	if (v > INT64_MAX)
		return search_fail(sp, "Invalid size");
	struct search_node *n = search_node_new(sp, op);
	n->number = v;
	return n;
}

/* A system flag by its IMAP name ("\Seen"), 0 when not one. */
static uint32_t search_system_flag(const char *name)
{
	static const struct {
		const char *name;
		uint32_t flag;
	} flags[] = {
	    {"\\Seen", STORE_FLAG_SEEN},       {"\\Answered", STORE_FLAG_ANSWERED},
	    {"\\Flagged", STORE_FLAG_FLAGGED}, {"\\Deleted", STORE_FLAG_DELETED},
	    {"\\Draft", STORE_FLAG_DRAFT},
	};
	for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
		if (strcasecmp(name, flags[k].name) == 0)
			return flags[k].flag;
	}
	return 0;
}

static struct search_node *search_keyword_key(struct search_parser *sp, const char *name)
{
	if (name == NULL)
		return NULL;
	if (*name == '\0')
		return search_fail(sp, "Invalid keyword");
	/* Lenient: KEYWORD \Seen means the system flag. */
	uint32_t flag = search_system_flag(name);
	struct search_node *n = search_node_new(sp, flag ? SEARCH_OP_FLAG : SEARCH_OP_KEYWORD);
	n->flag = flag;
	n->str = name;
	return n;
}

/* Keys that take no argument or one fixed form; returned by name. */
enum search_kind {
	KIND_FLAG,
	KIND_UNFLAG,
	KIND_ALL,
	KIND_RECENT,
	KIND_NEW,
	KIND_OLD,
	KIND_HEADER_FIELD,
	KIND_HEADER,
	KIND_BODY,
	KIND_TEXT,
	KIND_DATE,
	KIND_KEYWORD,
	KIND_UNKEYWORD,
	KIND_LARGER,
	KIND_SMALLER,
	KIND_NOT,
	KIND_OR,
	KIND_UID,
};

struct search_keydef {
	const char *name;
	enum search_kind kind;
	uint32_t flag;     /* FLAG, UNFLAG */
	const char *field; /* HEADER_FIELD */
	bool sent;         /* DATE */
	enum search_date_cmp cmp;
};

/* RFC 9051 §6.4.4 and RFC 3501 §6.4.4 (NEW, OLD, RECENT). */
static const struct search_keydef search_keys[] = {
    {"ALL", KIND_ALL, 0, NULL, false, DATE_ON},
    {"ANSWERED", KIND_FLAG, STORE_FLAG_ANSWERED, NULL, false, DATE_ON},
    {"DELETED", KIND_FLAG, STORE_FLAG_DELETED, NULL, false, DATE_ON},
    {"DRAFT", KIND_FLAG, STORE_FLAG_DRAFT, NULL, false, DATE_ON},
    {"FLAGGED", KIND_FLAG, STORE_FLAG_FLAGGED, NULL, false, DATE_ON},
    {"SEEN", KIND_FLAG, STORE_FLAG_SEEN, NULL, false, DATE_ON},
    {"UNANSWERED", KIND_UNFLAG, STORE_FLAG_ANSWERED, NULL, false, DATE_ON},
    {"UNDELETED", KIND_UNFLAG, STORE_FLAG_DELETED, NULL, false, DATE_ON},
    {"UNDRAFT", KIND_UNFLAG, STORE_FLAG_DRAFT, NULL, false, DATE_ON},
    {"UNFLAGGED", KIND_UNFLAG, STORE_FLAG_FLAGGED, NULL, false, DATE_ON},
    {"UNSEEN", KIND_UNFLAG, STORE_FLAG_SEEN, NULL, false, DATE_ON},
    {"RECENT", KIND_RECENT, 0, NULL, false, DATE_ON},
    {"NEW", KIND_NEW, 0, NULL, false, DATE_ON},
    {"OLD", KIND_OLD, 0, NULL, false, DATE_ON},
    {"BCC", KIND_HEADER_FIELD, 0, "Bcc", false, DATE_ON},
    {"CC", KIND_HEADER_FIELD, 0, "Cc", false, DATE_ON},
    {"FROM", KIND_HEADER_FIELD, 0, "From", false, DATE_ON},
    {"SUBJECT", KIND_HEADER_FIELD, 0, "Subject", false, DATE_ON},
    {"TO", KIND_HEADER_FIELD, 0, "To", false, DATE_ON},
    {"HEADER", KIND_HEADER, 0, NULL, false, DATE_ON},
    {"BODY", KIND_BODY, 0, NULL, false, DATE_ON},
    {"TEXT", KIND_TEXT, 0, NULL, false, DATE_ON},
    {"BEFORE", KIND_DATE, 0, NULL, false, DATE_BEFORE},
    {"ON", KIND_DATE, 0, NULL, false, DATE_ON},
    {"SINCE", KIND_DATE, 0, NULL, false, DATE_SINCE},
    {"SENTBEFORE", KIND_DATE, 0, NULL, true, DATE_BEFORE},
    {"SENTON", KIND_DATE, 0, NULL, true, DATE_ON},
    {"SENTSINCE", KIND_DATE, 0, NULL, true, DATE_SINCE},
    {"KEYWORD", KIND_KEYWORD, 0, NULL, false, DATE_ON},
    {"UNKEYWORD", KIND_UNKEYWORD, 0, NULL, false, DATE_ON},
    {"LARGER", KIND_LARGER, 0, NULL, false, DATE_ON},
    {"SMALLER", KIND_SMALLER, 0, NULL, false, DATE_ON},
    {"NOT", KIND_NOT, 0, NULL, false, DATE_ON},
    {"OR", KIND_OR, 0, NULL, false, DATE_ON},
    {"UID", KIND_UID, 0, NULL, false, DATE_ON},
};

static const struct search_keydef *search_keydef_find(const struct imap_arg *arg)
{
	for (size_t k = 0; k < sizeof(search_keys) / sizeof(search_keys[0]); k++) {
		if (imap_arg_atom_equals(arg, search_keys[k].name))
			return &search_keys[k];
	}
	return NULL;
}

static struct search_node *search_flag_key(struct search_parser *sp, uint32_t flag, bool negate)
{
	struct search_node *n = search_node_new(sp, SEARCH_OP_FLAG);
	n->flag = flag;
	return negate ? search_not(sp, n) : n;
}

/* NEW = RECENT UNSEEN (RFC 3501 §6.4.4). */
static struct search_node *search_new_key(struct search_parser *sp)
{
	struct search_node *and = search_node_new(sp, SEARCH_OP_AND);
	and->child = search_node_new(sp, SEARCH_OP_RECENT);
	and->child->next = search_flag_key(sp, STORE_FLAG_SEEN, true);
	return and;
}

static struct search_node *search_or_key(struct search_parser *sp, const struct imap_arg *args,
                                         size_t nargs, size_t *i, unsigned depth)
{
	struct search_node *a = search_key(sp, args, nargs, i, depth + 1);
	if (a == NULL)
		return NULL;
	struct search_node *b = search_key(sp, args, nargs, i, depth + 1);
	if (b == NULL)
		return NULL;
	struct search_node *n = search_node_new(sp, SEARCH_OP_OR);
	/* Cheaper side first: OR is commutative and YES on it decides. */
	if (b->cost < a->cost) {
		struct search_node *t = a;
		a = b;
		b = t;
	}
	n->child = a;
	a->next = b;
	n->cost = b->cost;
	return n;
}

/* A key whose name was found in the table; *i is past the name. */
static struct search_node *search_named_key(struct search_parser *sp,
                                            const struct search_keydef *def,
                                            const struct imap_arg *args, size_t nargs, size_t *i,
                                            unsigned depth)
{
	const struct imap_arg *next = *i < nargs ? &args[*i] : NULL;
	switch (def->kind) {
	case KIND_FLAG:
	case KIND_UNFLAG:
		return search_flag_key(sp, def->flag, def->kind == KIND_UNFLAG);
	case KIND_ALL:
		return search_node_new(sp, SEARCH_OP_ALL);
	case KIND_RECENT:
		return search_node_new(sp, SEARCH_OP_RECENT);
	case KIND_NEW:
		return search_new_key(sp);
	case KIND_OLD:
		return search_not(sp, search_node_new(sp, SEARCH_OP_RECENT));
	case KIND_HEADER_FIELD:
		return search_text_key(sp, SEARCH_TEXT_HEADER, def->field,
		                       search_string(sp, args, nargs, i));
	case KIND_HEADER: {
		const char *field = search_string(sp, args, nargs, i);
		if (field == NULL)
			return NULL;
		return search_text_key(sp, SEARCH_TEXT_HEADER, field,
		                       search_string(sp, args, nargs, i));
	}
	case KIND_BODY:
	case KIND_TEXT:
		return search_text_key(sp,
		                       def->kind == KIND_BODY ? SEARCH_TEXT_BODY : SEARCH_TEXT_ALL,
		                       NULL, search_string(sp, args, nargs, i));
	case KIND_DATE:
		return search_date_key(sp, search_string(sp, args, nargs, i), def->sent, def->cmp);
	case KIND_KEYWORD:
	case KIND_UNKEYWORD: {
		struct search_node *n = search_keyword_key(sp, search_string(sp, args, nargs, i));
		return n != NULL && def->kind == KIND_UNKEYWORD ? search_not(sp, n) : n;
	}
	case KIND_LARGER:
	case KIND_SMALLER:
		(*i)++;
		return search_size_key(
		    sp, next, def->kind == KIND_LARGER ? SEARCH_OP_LARGER : SEARCH_OP_SMALLER);
	case KIND_NOT: {
		struct search_node *n = search_key(sp, args, nargs, i, depth + 1);
		return n != NULL ? search_not(sp, n) : NULL;
	}
	case KIND_OR:
		return search_or_key(sp, args, nargs, i, depth);
	case KIND_UID:
		(*i)++;
		if (next == NULL || next->type != IMAP_ARG_ATOM)
			return search_fail(sp, "UID needs a sequence set");
		return search_set_key(sp, next->str, next->len, SEARCH_OP_UIDSET);
	}
	return search_fail(sp, "Unknown search key");
}

/* One search-key at args[*i]; advances *i past it and its arguments. */
static struct search_node *search_key(struct search_parser *sp, const struct imap_arg *args,
                                      size_t nargs, size_t *i, unsigned depth)
{
	if (*i >= nargs)
		return search_fail(sp, "Missing search key");
	if (depth >= SEARCH_MAX_DEPTH)
		return search_fail(sp, "Search program too deeply nested");
	const struct imap_arg *arg = &args[(*i)++];
	if (arg->type == IMAP_ARG_LIST)
		return search_list(sp, arg->list, arg->count, depth + 1);
	if (arg->type != IMAP_ARG_ATOM)
		return search_fail(sp, "Invalid search key");
	const struct search_keydef *def = search_keydef_find(arg);
	if (def != NULL)
		return search_named_key(sp, def, args, nargs, i, depth);
	char c = arg->len > 0 ? arg->str[0] : '\0';
	if ((c >= '0' && c <= '9') || c == '*' || c == '$')
		return search_set_key(sp, arg->str, arg->len, SEARCH_OP_SEQSET);
	return search_fail(sp, "Unknown search key");
}

/* RETURN (opts) at args[*i] (RFC 4731 §3.1, RFC 5182 §2): RETURN ()
 * means ALL (RFC 9051 §6.4.4). */
static int search_return_opts(struct search_program *p, const struct imap_arg *args, size_t nargs,
                              size_t *i, const char **error_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
	    {"MIN", SEARCH_RETURN_MIN},   {"MAX", SEARCH_RETURN_MAX},
	    {"ALL", SEARCH_RETURN_ALL},   {"COUNT", SEARCH_RETURN_COUNT},
	    {"SAVE", SEARCH_RETURN_SAVE},
	};
	if (*i >= nargs || !imap_arg_atom_equals(&args[*i], "RETURN"))
		return 0;
	if (*i + 1 >= nargs || args[*i + 1].type != IMAP_ARG_LIST) {
		*error_r = "RETURN needs a list of options";
		return -1;
	}
	const struct imap_arg *list = &args[*i + 1];
	for (size_t k = 0; k < list->count; k++) {
		size_t o = 0;
		while (o < sizeof(opts) / sizeof(opts[0]) &&
		       !imap_arg_atom_equals(&list->list[k], opts[o].name))
			o++;
		if (o == sizeof(opts) / sizeof(opts[0])) {
			*error_r = "Unknown RETURN option";
			return -1;
		}
		p->return_opts |= opts[o].bit;
	}
	if (list->count == 0)
		p->return_opts = SEARCH_RETURN_ALL;
	p->has_return = true;
	*i += 2;
	return 0;
}

/* CHARSET at args[*i]: UTF-8 and US-ASCII (RFC 9051 §6.4.4; ASCII is a
 * subset of UTF-8, so both search the same way). */
static enum search_parse_status search_charset(const struct imap_arg *args, size_t nargs, size_t *i,
                                               const char **error_r)
{
	const char *cs;
	size_t len;
	if (*i >= nargs || !imap_arg_atom_equals(&args[*i], "CHARSET"))
		return SEARCH_PARSE_OK;
	if (*i + 1 >= nargs || !imap_arg_get_astring(&args[*i + 1], &cs, &len)) {
		*error_r = "CHARSET needs a charset name";
		return SEARCH_PARSE_BAD;
	}
	*i += 2;
	if ((len == 5 && strncasecmp(cs, "UTF-8", 5) == 0) ||
	    (len == 8 && strncasecmp(cs, "US-ASCII", 8) == 0))
		return SEARCH_PARSE_OK;
	*error_r = "Unsupported charset";
	return SEARCH_PARSE_BADCHARSET;
}

enum search_parse_status search_parse(const struct imap_arg *args, size_t nargs,
                                      struct search_program **p_r, unsigned *return_opts_r,
                                      const char **error_r)
{
	struct search_program *p = xcalloc(1, sizeof(*p));
	struct arena *a = xcalloc(1, sizeof(*a));
	arena_init(a, 0);
	p->mem = a;
	*p_r = NULL;
	*return_opts_r = 0;
	size_t i = 0;
	if (search_return_opts(p, args, nargs, &i, error_r) < 0) {
		search_program_free(&p);
		return SEARCH_PARSE_BAD;
	}
	*return_opts_r = p->return_opts;
	enum search_parse_status st = search_charset(args, nargs, &i, error_r);
	if (st == SEARCH_PARSE_OK) {
		struct search_parser sp = {.arena = a, .prog = p};
		/* args is NULL when there are none: no pointer arithmetic on it */
		p->root = search_list(&sp, i < nargs ? args + i : NULL, nargs - i, 0);
		if (p->root == NULL) {
			*error_r = sp.error;
			st = SEARCH_PARSE_BAD;
		}
	}
	if (st != SEARCH_PARSE_OK) {
		search_program_free(&p);
		return st;
	}
	*p_r = p;
	return SEARCH_PARSE_OK;
}

void search_program_free(struct search_program **p)
{
	if (*p == NULL)
		return;
	struct arena *a = (*p)->mem;
	arena_release(a);
	free(a);
	free(*p);
	*p = NULL;
}

/* --- binding and evaluation --- */

static void search_bind_node(struct search_node *n, uint32_t exists, uint32_t max_uid,
                             const uint32_t *saved, size_t n_saved)
{
	for (; n != NULL; n = n->next) {
		if (n->op == SEARCH_OP_SEQSET || n->op == SEARCH_OP_UIDSET) {
			if (n->set.is_saved) {
				n->saved = saved;
				n->n_saved = n_saved;
			} else {
				seqset_resolve(&n->set,
				               n->op == SEARCH_OP_SEQSET ? exists : max_uid);
			}
		}
		search_bind_node(n->child, exists, max_uid, saved, n_saved);
	}
}

void search_program_bind(struct search_program *p, uint32_t exists, uint32_t max_uid,
                         const uint32_t *saved, size_t n_saved)
{
	search_bind_node(p->root, exists, max_uid, saved, n_saved);
}

static bool search_uid_in(const uint32_t *uids, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (uids[mid] == uid)
			return true;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Whether the space-separated list has the keyword (case-insensitive,
 * as flag names are, RFC 9051 §2.3.2). */
static bool search_has_keyword(const char *list, const char *kw)
{
	size_t kwlen = strlen(kw);
	while (list != NULL && *list != '\0') {
		while (*list == ' ')
			list++;
		size_t len = strcspn(list, " ");
		if (len == kwlen && len > 0 && strncasecmp(list, kw, len) == 0)
			return true;
		list += len;
	}
	return false;
}

static bool search_date_match(const struct search_node *n, const struct search_msg *m)
{
	int64_t day;
	if (n->sent) {
		if (m->sent_date < 0)
			return false; /* no usable Date: header */
		day = search_day_of(m->sent_date, m->sent_tz);
	} else {
		day = search_day_of(m->internaldate, m->internaldate_tz);
	}
	switch (n->cmp) {
	case DATE_BEFORE:
		return day < n->day;
	case DATE_ON:
		return day == n->day;
	case DATE_SINCE:
		return day >= n->day;
	}
	return false;
}

static enum search_result search_eval_node(const struct search_node *n, const struct search_msg *m);

static enum search_result search_eval_and(const struct search_node *n, const struct search_msg *m)
{
	enum search_result r = SEARCH_YES;
	for (const struct search_node *c = n->child; c != NULL; c = c->next) {
		enum search_result cr = search_eval_node(c, m);
		if (cr == SEARCH_NO)
			return SEARCH_NO;
		if (cr == SEARCH_MAYBE)
			r = SEARCH_MAYBE;
	}
	return r;
}

static enum search_result search_eval_or(const struct search_node *n, const struct search_msg *m)
{
	enum search_result a = search_eval_node(n->child, m);
	if (a == SEARCH_YES)
		return SEARCH_YES;
	enum search_result b = search_eval_node(n->child->next, m);
	if (b == SEARCH_YES)
		return SEARCH_YES;
	return a == SEARCH_NO && b == SEARCH_NO ? SEARCH_NO : SEARCH_MAYBE;
}

static enum search_result search_bool(bool b)
{
	return b ? SEARCH_YES : SEARCH_NO;
}

static enum search_result search_eval_set(const struct search_node *n, const struct search_msg *m)
{
	/* "$" names messages by UID whatever the key (RFC 5182 §2.1). */
	if (n->set.is_saved)
		return search_bool(search_uid_in(n->saved, n->n_saved, m->uid));
	return search_bool(seqset_contains(&n->set, n->op == SEARCH_OP_SEQSET ? m->seq : m->uid));
}

static enum search_result search_eval_node(const struct search_node *n, const struct search_msg *m)
{
	switch (n->op) {
	case SEARCH_OP_ALL:
		return SEARCH_YES;
	case SEARCH_OP_AND:
		return search_eval_and(n, m);
	case SEARCH_OP_OR:
		return search_eval_or(n, m);
	case SEARCH_OP_NOT: {
		enum search_result r = search_eval_node(n->child, m);
		return r == SEARCH_MAYBE ? r : search_bool(r == SEARCH_NO);
	}
	case SEARCH_OP_FLAG:
		return search_bool((m->flags & n->flag) != 0);
	case SEARCH_OP_KEYWORD:
		return search_bool(search_has_keyword(m->keywords, n->str));
	case SEARCH_OP_RECENT:
		return search_bool(m->recent);
	case SEARCH_OP_SEQSET:
	case SEARCH_OP_UIDSET:
		return search_eval_set(n, m);
	case SEARCH_OP_LARGER:
		return search_bool(m->size > n->number);
	case SEARCH_OP_SMALLER:
		return search_bool(m->size < n->number);
	case SEARCH_OP_DATE:
		return search_bool(search_date_match(n, m));
	case SEARCH_OP_TEXT:
		if (n->indexed && !search_uid_in(n->missing, n->n_missing, m->uid))
			return search_bool(search_uid_in(n->hits, n->n_hits, m->uid));
		if (m->text == NULL)
			return SEARCH_MAYBE;
		return search_bool(m->text(m->text_ctx, n->text_kind, n->field, n->str));
	}
	return SEARCH_NO;
}

enum search_result search_eval(const struct search_program *p, const struct search_msg *m)
{
	return search_eval_node(p->root, m);
}

/* --- index answers --- */

struct search_key_list {
	struct search_index_key *v;
	size_t n, cap;
};

static void search_collect_keys(struct search_node *n, struct search_key_list *l)
{
	for (; n != NULL; n = n->next) {
		if (n->op == SEARCH_OP_TEXT) {
			if (l->n == l->cap) {
				l->cap = l->cap ? l->cap * 2 : 4;
				l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
			}
			l->v[l->n++] = (struct search_index_key){n->text_kind, n->field, n->str, n};
		}
		search_collect_keys(n->child, l);
	}
}

struct search_index_key *search_program_index_keys(const struct search_program *p, size_t *n_r)
{
	struct search_key_list l = {0};
	search_collect_keys(p->root, &l);
	*n_r = l.n;
	return l.v;
}

void search_index_key_set_hits(struct search_index_key *k, const uint32_t *hits, size_t n_hits,
                               const uint32_t *missing, size_t n_missing)
{
	k->node->indexed = true;
	k->node->hits = hits;
	k->node->n_hits = n_hits;
	k->node->missing = missing;
	k->node->n_missing = n_missing;
}

static bool search_node_needs_meta(const struct search_node *n)
{
	for (; n != NULL; n = n->next) {
		switch (n->op) {
		case SEARCH_OP_FLAG:
		case SEARCH_OP_KEYWORD:
		case SEARCH_OP_LARGER:
		case SEARCH_OP_SMALLER:
		case SEARCH_OP_DATE:
			return true;
		case SEARCH_OP_TEXT:
			if (!n->indexed)
				return true;
			break;
		default:
			break;
		}
		if (search_node_needs_meta(n->child))
			return true;
	}
	return false;
}

bool search_program_needs_meta(const struct search_program *p)
{
	return search_node_needs_meta(p->root);
}

void search_append_set(struct buf *out, const uint32_t *nums, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && nums[j + 1] == nums[j] + 1)
			j++;
		if (i > 0)
			buf_append(out, ",", 1);
		if (j == i)
			buf_printf(out, "%u", nums[i]);
		else
			buf_printf(out, "%u:%u", nums[i], nums[j]);
		i = j + 1;
	}
}
