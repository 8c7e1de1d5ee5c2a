/* parser: incremental IMAP command parser (contract in parser.h).
 *
 * Design. A byte-at-a-time state machine in the manner of nginx: each byte
 * of a command line goes to the handler of the current state, which keeps
 * it (in the token scratch buffer), changes state, or reports. Literal data
 * and skipped bytes are handled a run at a time. Nothing ever points into
 * the caller's input: tokens are copied into p->arena when they end, so the
 * caller may drop its bytes as soon as they are consumed.
 *
 * Invariants:
 *  - p->state alone says what the next byte means: the parser can stop
 *    after any byte and resume with the next feed.
 *  - line_len counts the bytes of the current line (from the command start
 *    or the end of the last literal, CRLF included) and an error is raised
 *    the moment it passes max_line; so tok, which only collects in-line
 *    tokens, never holds more than max_line bytes.
 *  - frames[0..depth] are the open argument lists, frames[0] the top level;
 *    depth <= max_depth and nargs <= max_args.
 *  - Everything kept for a command lives in p->arena, which is reset when
 *    the first byte of the next command arrives; so a command, and the tag
 *    of an error, stay valid until then.
 *  - Skipping stores nothing: memory is bounded by the limits.
 *
 * Resynchronizing after an error (RFC 9051 §2.2.1, RFC 7888 §4): the client
 * keeps sending the rest of its command, which we must discard. A line is
 * followed by literal data only when it ends in a literal header, and the
 * client sends that data without waiting only for "{n+}" / "~{n+}". So every
 * line byte, parsed or skipped, also goes through a tiny recogniser of a
 * literal header at the end of the line (struct tail); when a skipped line
 * ends, a non-synchronizing header there means "discard n bytes, then skip
 * the next line too". A synchronizing one ends the command: the client got
 * our error instead of "+" and sends nothing more for it. */
#include "imap/parser.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

/* RFC 9051 §9: number = 1*DIGIT ; Unsigned 32-bit integer */
#define IMAP_NUMBER_MAX 4294967295ULL

enum parser_state {
	PS_START, /* between commands: nothing of the next one read */
	PS_TAG,
	PS_NAME,
	PS_ARG,        /* after a separating SP: an argument must start */
	PS_LIST_FIRST, /* after "(": an argument or ")" */
	PS_AFTER_ARG,  /* after an argument: SP, ")" or end of line */
	PS_ATOM,
	PS_SECT,      /* inside "[...]" of an atom */
	PS_SECT_SP,   /* SP inside "[...]": part of the atom only if "(" follows */
	PS_SECT_LIST, /* inside "(...)" within "[...]" */
	PS_SECT_QUOTED, /* a quoted header field name inside that list */
	PS_QUOTED,
	PS_QUOTED_ESC, /* after "\" in a quoted string */
	PS_TILDE,      /* "~" starting an argument: literal8 or an atom */
	PS_LIT_NUM,    /* after "{": digits */
	PS_LIT_PLUS,   /* after "{n+" */
	PS_LIT_CLOSE,  /* after "}": CRLF must follow */
	PS_LIT_LF,     /* after "}" CR */
	PS_LIT_WAIT,   /* IMAP_PARSE_LITERAL reported: accept or reject */
	PS_LIT_DATA,
	PS_CR,        /* CR ending the command: LF must follow */
	PS_SKIP_LINE, /* after an error: discard to the end of the line */
	PS_SKIP_LIT,  /* after an error: discard a non-sync literal's data */
	PS_FATAL,
};

/* What handling one byte (or run) produced. */
enum step { STEP_OK, STEP_COMMAND, STEP_LITERAL, STEP_ERROR };

/* Recogniser of "{digits[+]}" [CR] at the end of a line (see top). */
enum tail_state { TAIL_NONE, TAIL_OPEN, TAIL_DIGITS, TAIL_PLUS, TAIL_CLOSE, TAIL_CLOSE_CR };
struct tail {
	enum tail_state state;
	bool nonsync;
	bool overflow; /* the number does not fit in 64 bits */
	uint64_t value;
};

/* An open argument list; items grow by doubling in the arena. */
struct frame {
	struct imap_arg *items;
	size_t count, cap;
};

struct imap_parser {
	struct imap_parser_limits limits;
	enum parser_state state;
	struct arena arena;

	/* The command being parsed (arena memory). */
	const char *tag, *name;
	struct frame *frames; /* heap; frames_cap entries */
	unsigned frames_cap;
	unsigned depth;
	size_t nargs;
	size_t line_len;

	/* Bytes of the token being read (heap, <= max_line). */
	char *tok;
	size_t tok_len, tok_cap;

	/* The literal being announced or read. */
	struct imap_literal_info lit;
	bool lit_digits;       /* at least one digit seen */
	bool lit_out_of_range; /* number > IMAP_NUMBER_MAX */
	char *lit_dst;         /* where the next data byte goes (small literals) */
	uint64_t lit_left;
	/* Large literals grow on the heap as their bytes arrive, so that a
	 * client announcing {64000000} and sending nothing holds nothing. */
	struct imap_arg *big_arg; /* set while a large literal is read */
	size_t big_len, big_cap;
	char **bigs; /* heap blocks of this command's large literals */
	size_t nbigs, bigs_cap;
	uint64_t bigs_announced; /* sizes of this command's large literals */

	struct tail tail;
	uint64_t skip_left; /* PS_SKIP_LIT: bytes still to discard */

	struct imap_command cmd;
	enum imap_parse_error err;
	const char *err_text;
	const char *err_tag;
};

/* --- character classes (RFC 9051 §9) --- */

/* CHAR minus SP, CTL, "(", ")", "{", DQUOTE: wider than ATOM-CHAR on
 * purpose ("\", "%", "*", "]" are kept for flags, LIST patterns and
 * sequence sets; the command layer validates each argument). */
static bool is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

/* tag = 1*<any ASTRING-CHAR except "+">; ASTRING-CHAR = ATOM-CHAR / "]". */
static bool is_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\+", c) == NULL;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(unsigned char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* --- small helpers --- */

static void tok_push(struct imap_parser *p, unsigned char c)
{
	if (p->tok_len == p->tok_cap) {
		p->tok_cap = p->tok_cap ? p->tok_cap * 2 : 64;
		p->tok = xrealloc(p->tok, p->tok_cap);
	}
	p->tok[p->tok_len++] = (char)c;
}

/* Moves the token into the arena (NUL-terminated) and empties tok. */
static const char *tok_take(struct imap_parser *p, size_t *len_r)
{
	const char *s = arena_strndup(&p->arena, p->tok ? p->tok : "", p->tok_len);
	if (len_r != NULL)
		*len_r = p->tok_len;
	p->tok_len = 0;
	return s;
}

static void tail_reset(struct tail *t)
{
	memset(t, 0, sizeof(*t));
}

/* Feeds one line byte to the end-of-line literal recogniser. A LF leaves
 * the state alone: skip_line_end() judges it. */
static void tail_update(struct tail *t, unsigned char c)
{
	if (c == '{') {
		tail_reset(t);
		t->state = TAIL_OPEN;
		return;
	}
	if (c == '\n')
		return;
	if ((t->state == TAIL_OPEN || t->state == TAIL_DIGITS) && is_digit(c)) {
		unsigned d = c - '0';
		if (t->value > (UINT64_MAX - d) / 10)
			t->overflow = true;
		else
			t->value = t->value * 10 + d;
		t->state = TAIL_DIGITS;
	} else if (t->state == TAIL_DIGITS && c == '+') {
		t->nonsync = true;
		t->state = TAIL_PLUS;
	} else if ((t->state == TAIL_DIGITS || t->state == TAIL_PLUS) && c == '}') {
		t->state = TAIL_CLOSE;
	} else if (t->state == TAIL_CLOSE && c == '\r') {
		t->state = TAIL_CLOSE_CR;
	} else {
		tail_reset(t);
	}
}

static void ensure_frames(struct imap_parser *p, unsigned n)
{
	if (p->frames_cap >= n)
		return;
	unsigned cap = p->frames_cap ? p->frames_cap * 2 : 8;
	if (cap < n)
		cap = n;
	p->frames = xrealloc(p->frames, cap * sizeof(*p->frames));
	p->frames_cap = cap;
}

/* Appends a zeroed argument to the innermost open list. The pointer is
 * valid until the next push into the same list. */
static struct imap_arg *push_arg(struct imap_parser *p)
{
	struct frame *f = &p->frames[p->depth];
	if (f->count == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		struct imap_arg *items = arena_alloc(&p->arena, cap * sizeof(*items));
		if (f->count > 0)
			memcpy(items, f->items, f->count * sizeof(*items));
		f->items = items;
		f->cap = cap;
	}
	struct imap_arg *arg = &f->items[f->count++];
	memset(arg, 0, sizeof(*arg));
	return arg;
}

/* --- errors and skipping --- */

static void set_error(struct imap_parser *p, enum imap_parse_error kind, const char *text)
{
	p->err = kind;
	p->err_text = text;
	p->err_tag = p->tag;
}

/* A line that is being skipped (or whose literal was refused) has ended:
 * decide from its tail whether literal data follows that must be skipped
 * too (RFC 7888 §4: the client sends {n+} data without waiting). */
static enum step skip_line_end(struct imap_parser *p)
{
	struct tail t = p->tail;

	tail_reset(&p->tail);
	p->line_len = 0;
	if ((t.state == TAIL_CLOSE || t.state == TAIL_CLOSE_CR) && t.nonsync) {
		if (t.overflow) {
			/* We cannot count the bytes to discard. */
			set_error(p, IMAP_ERR_FATAL, "Literal size out of range");
			p->state = PS_FATAL;
			return STEP_ERROR;
		}
		p->skip_left = t.value;
		p->state = t.value > 0 ? PS_SKIP_LIT : PS_SKIP_LINE;
		return STEP_OK;
	}
	p->state = PS_START;
	return STEP_OK;
}

/* Reports an error found at byte c (already consumed) and starts skipping
 * the rest of the command. If c ended the line, the skipping of the line
 * is already over. */
static enum step fail(struct imap_parser *p, enum imap_parse_error kind, const char *text,
                      unsigned char c)
{
	set_error(p, kind, text);
	p->state = PS_SKIP_LINE;
	if (c == '\n')
		(void)skip_line_end(p);
	return STEP_ERROR;
}

static enum step syntax(struct imap_parser *p, const char *text, unsigned char c)
{
	return fail(p, IMAP_ERR_SYNTAX, text, c);
}

static enum step skip_byte(struct imap_parser *p, unsigned char c)
{
	tail_update(&p->tail, c);
	if (c == '\n')
		return skip_line_end(p);
	return STEP_OK;
}

static size_t skip_literal(struct imap_parser *p, size_t len)
{
	size_t n = p->skip_left < len ? (size_t)p->skip_left : len;

	p->skip_left -= n;
	if (p->skip_left == 0) {
		p->state = PS_SKIP_LINE;
		tail_reset(&p->tail);
	}
	return n;
}

/* --- commands and lists --- */

/* Literals above this size are read into heap memory that grows with
 * the data actually received. */
#define BIG_LITERAL_STEP (64 * 1024)

static void free_bigs(struct imap_parser *p)
{
	for (size_t i = 0; i < p->nbigs; i++)
		free(p->bigs[i]);
	p->nbigs = 0;
	p->big_arg = NULL;
	p->bigs_announced = 0;
}

static void big_grow(struct imap_parser *p, size_t need)
{
	if (need <= p->big_cap)
		return;
	size_t cap = p->big_cap * 2;
	if (cap < need)
		cap = need;
	size_t total = p->big_arg->len;
	if (cap > total)
		cap = total;
	char *old = p->bigs[p->nbigs - 1];
	p->bigs[p->nbigs - 1] = xrealloc(old, cap + 1);
	p->big_cap = cap;
}

static void big_begin(struct imap_parser *p, struct imap_arg *arg)
{
	if (p->nbigs == p->bigs_cap) {
		p->bigs_cap = p->bigs_cap ? p->bigs_cap * 2 : 4;
		p->bigs = xrealloc(p->bigs, p->bigs_cap * sizeof(*p->bigs));
	}
	p->big_cap = BIG_LITERAL_STEP;
	p->bigs[p->nbigs++] = xmalloc(p->big_cap + 1);
	p->big_len = 0;
	p->big_arg = arg;
	p->bigs_announced += arg->len;
}

/* Copies literal data: into the arena block for small literals, into the
 * growing heap block for large ones. */
static void lit_store(struct imap_parser *p, const char *data, size_t n)
{
	if (p->big_arg == NULL) {
		memcpy(p->lit_dst, data, n);
		p->lit_dst += n;
		return;
	}
	big_grow(p, p->big_len + n);
	char *block = p->bigs[p->nbigs - 1];
	memcpy(block + p->big_len, data, n);
	p->big_len += n;
	if (p->big_len == p->big_arg->len) {
		block[p->big_len] = '\0';
		p->big_arg->str = block;
		p->big_arg = NULL;
	}
}

static void begin_command(struct imap_parser *p)
{
	free_bigs(p);
	arena_reset(&p->arena);
	memset(&p->cmd, 0, sizeof(p->cmd));
	p->tag = p->name = NULL;
	p->err_tag = NULL;
	ensure_frames(p, 1);
	memset(&p->frames[0], 0, sizeof(p->frames[0]));
	p->depth = 0;
	p->nargs = 0;
	p->line_len = 0;
	p->tok_len = 0;
	tail_reset(&p->tail);
	p->state = PS_TAG;
}

static enum step complete(struct imap_parser *p)
{
	p->cmd.tag = p->tag;
	p->cmd.name = p->name;
	p->cmd.args = p->frames[0].items;
	p->cmd.nargs = p->frames[0].count;
	p->state = PS_START;
	return STEP_COMMAND;
}

static enum step open_list(struct imap_parser *p, unsigned char c)
{
	if (p->depth >= p->limits.max_depth)
		return fail(p, IMAP_ERR_TOO_COMPLEX, "Too deeply nested lists", c);
	ensure_frames(p, p->depth + 2);
	p->depth++;
	memset(&p->frames[p->depth], 0, sizeof(p->frames[0]));
	p->state = PS_LIST_FIRST;
	return STEP_OK;
}

static void close_list(struct imap_parser *p)
{
	struct frame f = p->frames[p->depth--];
	struct imap_arg *arg = push_arg(p);

	arg->type = IMAP_ARG_LIST;
	arg->list = f.items;
	arg->count = f.count;
	p->state = PS_AFTER_ARG;
}

/* Ends the atom or quoted string collected in tok. */
static void finish_token(struct imap_parser *p, enum imap_arg_type type)
{
	size_t len;
	const char *s = tok_take(p, &len);
	struct imap_arg *arg = push_arg(p);

	/* RFC 9051 §4.5: NIL is an atom, any case; "NIL" quoted is a string. */
	if (type == IMAP_ARG_ATOM && len == 3 && strncasecmp(s, "NIL", 3) == 0)
		type = IMAP_ARG_NIL;
	arg->type = type;
	arg->str = s;
	arg->len = len;
	p->state = PS_AFTER_ARG;
}

/* --- per-state handlers of line bytes --- */

static enum step st_after_arg(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		p->state = PS_ARG;
		return STEP_OK;
	case ')':
		if (p->depth == 0)
			return syntax(p, "Unexpected )", c);
		close_list(p);
		return STEP_OK;
	case '\r':
	case '\n':
		if (p->depth > 0)
			return syntax(p, "Missing )", c);
		if (c == '\n') /* bare LF accepted as end of line */
			return complete(p);
		p->state = PS_CR;
		return STEP_OK;
	default:
		return syntax(p, "Missing space between arguments", c);
	}
}

static enum step st_tag(struct imap_parser *p, unsigned char c)
{
	if (is_tag_char(c)) {
		tok_push(p, c);
		return STEP_OK;
	}
	if (c != ' ' && c != '\r' && c != '\n')
		return syntax(p, "Invalid tag", c);
	if (p->tok_len == 0)
		return syntax(p, "Missing tag", c);
	p->tag = tok_take(p, NULL);
	if (c != ' ')
		return syntax(p, "Missing command name", c);
	p->state = PS_NAME;
	return STEP_OK;
}

static enum step st_name(struct imap_parser *p, unsigned char c)
{
	if (is_alnum(c)) {
		tok_push(p, c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
		return STEP_OK;
	}
	if (c != ' ' && c != '\r' && c != '\n')
		return syntax(p, "Invalid command name", c);
	if (p->tok_len == 0)
		return syntax(p, c == ' ' ? "Unexpected space" : "Missing command name", c);
	p->name = tok_take(p, NULL);
	p->state = PS_AFTER_ARG;
	return st_after_arg(p, c);
}

static void lit_begin(struct imap_parser *p, bool literal8)
{
	p->lit.size = 0;
	p->lit.sync = true;
	p->lit.literal8 = literal8;
	p->lit_digits = false;
	p->lit_out_of_range = false;
	p->state = PS_LIT_NUM;
}

static enum step st_atom(struct imap_parser *p, unsigned char c);

/* The first byte of an argument. */
static enum step st_arg(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		return syntax(p, "Unexpected space", c);
	case '\r':
	case '\n':
		return syntax(p, "Unexpected space at end of line", c);
	case ')':
		return syntax(p, "Unexpected )", c);
	}
	if (++p->nargs > p->limits.max_args)
		return fail(p, IMAP_ERR_TOO_COMPLEX, "Too many arguments", c);
	switch (c) {
	case '(':
		return open_list(p, c);
	case '"':
		p->state = PS_QUOTED;
		return STEP_OK;
	case '{':
		lit_begin(p, false);
		return STEP_OK;
	case '~': /* RFC 3516 literal8, or an atom that starts with "~" */
		p->state = PS_TILDE;
		return STEP_OK;
	}
	if (!is_atom_char(c))
		return syntax(p, "Invalid character", c);
	p->state = PS_ATOM;
	return st_atom(p, c);
}

static enum step st_list_first(struct imap_parser *p, unsigned char c)
{
	if (c == ')') {
		close_list(p); /* "()" : an empty list */
		return STEP_OK;
	}
	if (c == '\r' || c == '\n')
		return syntax(p, "Missing )", c);
	return st_arg(p, c);
}

/* A byte that cannot continue the atom: it ends it if it may follow an
 * argument, otherwise it is an error. */
static enum step atom_end(struct imap_parser *p, unsigned char c)
{
	if (c != ' ' && c != '\r' && c != '\n' && c != ')')
		return syntax(p, "Invalid character in atom", c);
	finish_token(p, IMAP_ARG_ATOM);
	return st_after_arg(p, c);
}

static enum step st_atom(struct imap_parser *p, unsigned char c)
{
	if (!is_atom_char(c))
		return atom_end(p, c);
	tok_push(p, c);
	if (c == '[')
		p->state = PS_SECT;
	return STEP_OK;
}

/* Inside "[...]" of an atom, as in FETCH's BODY[HEADER.FIELDS (A B)]<0.9>
 * (RFC 9051 §6.4.5). A "[" that is never closed is just an atom byte
 * (mailbox names like "foo[bar" are valid atoms). */
static enum step st_sect(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ']':
		tok_push(p, c);
		p->state = PS_ATOM;
		return STEP_OK;
	case '(':
		tok_push(p, c);
		p->state = PS_SECT_LIST;
		return STEP_OK;
	case ' ':
		p->state = PS_SECT_SP;
		return STEP_OK;
	}
	if (!is_atom_char(c))
		return atom_end(p, c);
	tok_push(p, c);
	return STEP_OK;
}

/* SP inside "[...]": only "HEADER.FIELDS (" needs one, so unless "("
 * follows, that SP separated two arguments and the atom ended before it. */
static enum step st_sect_sp(struct imap_parser *p, unsigned char c)
{
	if (c == '(') {
		tok_push(p, ' ');
		tok_push(p, c);
		p->state = PS_SECT_LIST;
		return STEP_OK;
	}
	finish_token(p, IMAP_ARG_ATOM);
	p->state = PS_ARG;
	return st_arg(p, c);
}

static enum step st_sect_list(struct imap_parser *p, unsigned char c)
{
	if (c == ')') {
		tok_push(p, c);
		p->state = PS_SECT;
		return STEP_OK;
	}
	if (c == ' ' || is_atom_char(c)) {
		tok_push(p, c);
		return STEP_OK;
	}
	if (c == '"') {
		p->state = PS_SECT_QUOTED;
		return STEP_OK;
	}
	if (c == '\r' || c == '\n')
		return syntax(p, "Unterminated section", c);
	return syntax(p, "Invalid character in section", c);
}

/* RFC 9051 §9: header-fld-name = astring, so HEADER.FIELDS ("Subject")
 * is valid. A field name (RFC 5322 ftext: printable ASCII but ':') needs
 * no quoting, so the quotes are dropped and the name joins the atom as
 * if it had been sent bare; a quoted string that could not be a field
 * name (SP, parentheses, escapes, ':') is a syntax error. */
static enum step st_sect_quoted(struct imap_parser *p, unsigned char c)
{
	if (c == '"') {
		p->state = PS_SECT_LIST;
		return STEP_OK;
	}
	if (c > ' ' && c < 0x7f && c != ':' && c != '(' && c != ')' && c != '\\') {
		tok_push(p, c);
		return STEP_OK;
	}
	return syntax(p, "Invalid header field name in section", c);
}

static enum step st_tilde(struct imap_parser *p, unsigned char c)
{
	if (c == '{') {
		lit_begin(p, true);
		return STEP_OK;
	}
	tok_push(p, '~');
	p->state = PS_ATOM;
	return st_atom(p, c);
}

/* RFC 9051 §9 quoted: 8-bit bytes are kept as they are (UTF-8 in IMAP4rev2;
 * the command layer validates where it matters); CR and LF end nothing but
 * the command. */
static enum step st_quoted(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '"':
		finish_token(p, IMAP_ARG_QUOTED);
		return STEP_OK;
	case '\\':
		p->state = PS_QUOTED_ESC;
		return STEP_OK;
	case '\r':
	case '\n':
		return syntax(p, "Unterminated quoted string", c);
	}
	tok_push(p, c);
	return STEP_OK;
}

static enum step st_quoted_esc(struct imap_parser *p, unsigned char c)
{
	/* quoted-specials = DQUOTE / "\" are the only escapes. */
	if (c != '"' && c != '\\')
		return syntax(p, "Invalid escape in quoted string", c);
	tok_push(p, c);
	p->state = PS_QUOTED;
	return STEP_OK;
}

static enum step st_lit_num(struct imap_parser *p, unsigned char c)
{
	if (is_digit(c)) {
		p->lit_digits = true;
		if (!p->lit_out_of_range) {
			p->lit.size = p->lit.size * 10 + (c - '0');
			p->lit_out_of_range = p->lit.size > IMAP_NUMBER_MAX;
		}
		return STEP_OK;
	}
	if (p->lit_digits && c == '+') { /* RFC 7888 LITERAL+ */
		p->lit.sync = false;
		p->state = PS_LIT_PLUS;
		return STEP_OK;
	}
	if (p->lit_digits && c == '}') {
		p->state = PS_LIT_CLOSE;
		return STEP_OK;
	}
	return syntax(p, "Invalid literal size", c);
}

static enum step st_lit_plus(struct imap_parser *p, unsigned char c)
{
	if (c != '}')
		return syntax(p, "Invalid literal size", c);
	p->state = PS_LIT_CLOSE;
	return STEP_OK;
}

/* The header line is complete. Its size is judged before any data byte is
 * read (RFC 7888 §4, RFC 9051 §7.1: TOOBIG before the data). */
static enum step lit_header_done(struct imap_parser *p)
{
	if (p->lit_out_of_range)
		return syntax(p, "Literal size out of range", '\n');
	if (p->lit.size > p->limits.max_literal)
		return fail(p, IMAP_ERR_LITERAL_TOO_BIG, "Literal too big", '\n');
	p->state = PS_LIT_WAIT;
	return STEP_LITERAL;
}

static enum step st_lit_close(struct imap_parser *p, unsigned char c)
{
	if (c == '\n')
		return lit_header_done(p);
	if (c != '\r')
		return syntax(p, "Literal size must end the line", c);
	p->state = PS_LIT_LF;
	return STEP_OK;
}

static enum step st_lit_lf(struct imap_parser *p, unsigned char c)
{
	if (c != '\n')
		return syntax(p, "CR not followed by LF", c);
	return lit_header_done(p);
}

static enum step st_cr(struct imap_parser *p, unsigned char c)
{
	if (c != '\n')
		return syntax(p, "CR not followed by LF", c);
	return complete(p);
}

static enum step dispatch(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case PS_TAG:
		return st_tag(p, c);
	case PS_NAME:
		return st_name(p, c);
	case PS_ARG:
		return st_arg(p, c);
	case PS_LIST_FIRST:
		return st_list_first(p, c);
	case PS_AFTER_ARG:
		return st_after_arg(p, c);
	case PS_ATOM:
		return st_atom(p, c);
	case PS_SECT:
		return st_sect(p, c);
	case PS_SECT_SP:
		return st_sect_sp(p, c);
	case PS_SECT_LIST:
		return st_sect_list(p, c);
	case PS_SECT_QUOTED:
		return st_sect_quoted(p, c);
	case PS_QUOTED:
		return st_quoted(p, c);
	case PS_QUOTED_ESC:
		return st_quoted_esc(p, c);
	case PS_TILDE:
		return st_tilde(p, c);
	case PS_LIT_NUM:
		return st_lit_num(p, c);
	case PS_LIT_PLUS:
		return st_lit_plus(p, c);
	case PS_LIT_CLOSE:
		return st_lit_close(p, c);
	case PS_LIT_LF:
		return st_lit_lf(p, c);
	case PS_CR:
		return st_cr(p, c);
	default:
		return syntax(p, "Internal parser error", c); /* not reached */
	}
}

/* One byte of a command line (not literal data, not skipped). */
static enum step parse_byte(struct imap_parser *p, unsigned char c)
{
	if (p->state == PS_START)
		begin_command(p);
	tail_update(&p->tail, c);
	if (++p->line_len > p->limits.max_line)
		return fail(p, IMAP_ERR_LINE_TOO_LONG, "Line too long", c);
	if (c == '\0')
		return fail(p, IMAP_ERR_NUL, "NUL byte in command", c);
	return dispatch(p, c);
}

/* Literal data: copied a run at a time. A NUL is an error unless the
 * literal is a literal8 (RFC 3516 §4.3; RFC 9051 §4.3: CHAR8 excludes
 * NUL); the rest of the literal is then discarded with the command. */
static size_t lit_data(struct imap_parser *p, const char *data, size_t len, enum step *step_r)
{
	size_t n = p->lit_left < len ? (size_t)p->lit_left : len;
	const char *nul = p->lit.literal8 ? NULL : memchr(data, '\0', n);

	if (nul != NULL) {
		size_t used = (size_t)(nul - data) + 1;
		set_error(p, IMAP_ERR_NUL, "NUL byte in literal");
		p->skip_left = p->lit_left - used;
		p->state = p->skip_left > 0 ? PS_SKIP_LIT : PS_SKIP_LINE;
		*step_r = STEP_ERROR;
		return used;
	}
	p->lit_left -= n;
	lit_store(p, data, n);
	if (p->lit_left == 0)
		p->state = PS_AFTER_ARG;
	return n;
}

/* --- public API --- */

void imap_parser_limits_default(struct imap_parser_limits *limits)
{
	limits->max_line = 65536;
	limits->max_literal = 64 * 1024 * 1024;
	limits->max_depth = 32;
	limits->max_args = 100000;
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	if (limits != NULL)
		p->limits = *limits;
	else
		imap_parser_limits_default(&p->limits);
	arena_init(&p->arena, 0);
	p->state = PS_START;
	return p;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	free_bigs(p);
	free(p->bigs);
	arena_release(&p->arena);
	free(p->tok);
	free(p->frames);
	free(p);
	*pp = NULL;
}

void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits)
{
	p->limits = *limits;
}

enum imap_parse_status imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
                                        size_t *consumed_r)
{
	enum step step = STEP_OK;
	size_t i = 0;

	if (p->state == PS_LIT_WAIT) {
		*consumed_r = 0; /* nothing moves until accept or reject */
		return IMAP_PARSE_LITERAL;
	}
	if (p->state == PS_FATAL) {
		*consumed_r = len;
		return IMAP_PARSE_ERROR;
	}
	while (i < len && step == STEP_OK) {
		switch (p->state) {
		case PS_LIT_DATA:
			i += lit_data(p, data + i, len - i, &step);
			break;
		case PS_SKIP_LIT:
			i += skip_literal(p, len - i);
			break;
		case PS_SKIP_LINE:
			step = skip_byte(p, (unsigned char)data[i++]);
			break;
		default:
			step = parse_byte(p, (unsigned char)data[i++]);
			break;
		}
	}
	if (p->state == PS_FATAL)
		i = len; /* nothing after a fatal error is ever looked at */
	*consumed_r = i;
	switch (step) {
	case STEP_COMMAND:
		return IMAP_PARSE_COMMAND;
	case STEP_LITERAL:
		return IMAP_PARSE_LITERAL;
	case STEP_ERROR:
		return IMAP_PARSE_ERROR;
	default:
		return IMAP_PARSE_NEED_MORE;
	}
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
	return &p->cmd;
}

const struct imap_literal_info *imap_parser_literal(const struct imap_parser *p)
{
	return &p->lit;
}

const char *imap_parser_current_tag(const struct imap_parser *p)
{
	return p->tag;
}

const char *imap_parser_current_name(const struct imap_parser *p)
{
	return p->name;
}

void imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != PS_LIT_WAIT)
		return;
	size_t size = (size_t)p->lit.size; /* <= max_literal, a size_t */
	struct imap_arg *arg = push_arg(p);

	arg->type = IMAP_ARG_LITERAL;
	arg->literal8 = p->lit.literal8;
	arg->len = size;
	p->lit_left = size;
	if (size > BIG_LITERAL_STEP) {
		arg->str = NULL; /* set when the last byte has arrived */
		big_begin(p, arg);
	} else {
		char *buf = arena_alloc(&p->arena, size + 1);
		buf[size] = '\0';
		arg->str = buf;
		p->lit_dst = buf;
	}
	/* A new line starts after the data. */
	p->line_len = 0;
	tail_reset(&p->tail);
	p->state = size > 0 ? PS_LIT_DATA : PS_AFTER_ARG;
}

void imap_parser_literal_reject(struct imap_parser *p)
{
	if (p->state != PS_LIT_WAIT)
		return;
	/* The tail still holds the header: {n+} data gets discarded, after
	 * {n} the client sends nothing more. */
	(void)skip_line_end(p);
}

enum imap_parse_error imap_parser_error(const struct imap_parser *p, const char **text_r,
                                        const char **tag_r)
{
	if (text_r != NULL)
		*text_r = p->err_text != NULL ? p->err_text : "No error";
	if (tag_r != NULL)
		*tag_r = p->err_tag;
	return p->err;
}

bool imap_parser_idle(const struct imap_parser *p)
{
	return p->state == PS_START;
}

size_t imap_parser_command_size(const struct imap_parser *p)
{
	return p->arena.used_total + (size_t)p->bigs_announced;
}

void imap_parser_reset(struct imap_parser *p)
{
	free_bigs(p);
	arena_reset(&p->arena);
	memset(&p->cmd, 0, sizeof(p->cmd));
	p->tag = p->name = NULL;
	p->err_tag = NULL;
	p->err_text = NULL;
	p->err = IMAP_ERR_SYNTAX;
	p->depth = 0;
	p->nargs = 0;
	p->line_len = 0;
	p->tok_len = 0;
	p->skip_left = 0;
	tail_reset(&p->tail);
	p->state = PS_START;
}

void imap_parser_trim(struct imap_parser *p)
{
	if (p->state != PS_START)
		return;
	imap_parser_reset(p);
	arena_release(&p->arena);
	free(p->tok);
	p->tok = NULL;
	p->tok_cap = 0;
	free(p->frames);
	p->frames = NULL;
	p->frames_cap = 0;
	free(p->bigs);
	p->bigs = NULL;
	p->bigs_cap = 0;
}

/* --- argument helpers --- */

bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	/* astring = 1*ASTRING-CHAR / string: NIL is a valid atom here (a
	 * mailbox may be called "nil"); literal8 is not a string. */
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
		return imap_arg_get_string(arg, str_r, len_r);
	*str_r = arg->str;
	*len_r = arg->len;
	return true;
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_QUOTED && arg->type != IMAP_ARG_LITERAL)
		return false;
	if (arg->literal8)
		return false;
	*str_r = arg->str;
	*len_r = arg->len;
	return true;
}

bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word)
{
	if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
		return false;
	return strlen(word) == arg->len && strncasecmp(arg->str, word, arg->len) == 0;
}
