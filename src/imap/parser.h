/* parser: incremental IMAP command parser.
 *
 * Bytes in, complete commands out, no matter how the input is split. The
 * parser does no I/O and keeps all of its state in struct imap_parser, so
 * it can stop at any byte and resume when more arrives. It copies what it
 * keeps (tag, name, argument bytes) into its own arena, so the caller may
 * discard or compact its input buffer after every feed.
 *
 * Grammar (RFC 9051 §9; RFC 7888 LITERAL+; RFC 3516 literal8):
 *   command   = tag SP name *(SP arg) CRLF      (bare LF is accepted too)
 *   arg       = atom / quoted / literal / "(" [arg *(SP arg)] ")"
 *   atom      = 1*(any CHAR except SP, CTL, "(", ")", "{", DQUOTE)
 *               plus one bracketed section "[...]" in which SP, "(" and
 *               ")" are allowed (FETCH's BODY[HEADER.FIELDS (A B)]<0.9>);
 *               '\', '%', '*', ']' are atom characters here, the command
 *               layer validates further. NIL is returned as IMAP_ARG_NIL.
 *               Precisely: inside "[...]" a SP is part of the atom only
 *               when "(" follows it, and SP is free inside that "(...)";
 *               otherwise the SP separates arguments. A "[" never closed
 *               is an ordinary byte ("foo[bar" is one atom).
 *   quoted    = DQUOTE *(QUOTED-CHAR / "\" ("\" / DQUOTE)) DQUOTE,
 *               8-bit bytes allowed (UTF-8, RFC 9051), CR/LF/NUL not
 *   literal   = ["~"] "{" number ["+"] "}" CRLF *OCTET
 *   tag       = 1*(ASTRING-CHAR except "+")
 *   name      = atom, returned upper-cased
 *
 * Literals: when a literal header has been read the parser returns
 * IMAP_PARSE_LITERAL and waits; the caller checks the size, sends "+ ..."
 * for a synchronizing literal, and calls imap_parser_literal_accept(); or
 * it rejects the command (e.g. NO [TOOBIG]) with imap_parser_literal_reject().
 * A literal larger than limits.max_literal is reported as an error of kind
 * IMAP_ERR_LITERAL_TOO_BIG before any of its bytes are read.
 *
 * Errors: on IMAP_PARSE_ERROR the parser has already switched to skipping
 * the rest of the bad command: it discards input up to the end of the line,
 * and when that line ends with a non-synchronizing literal {n+} it discards
 * those n bytes and the line after them too (a synchronizing literal is
 * never sent by a client that got a tagged reply instead of "+"). So after
 * reporting the error the caller just keeps feeding. IMAP_ERR_FATAL means
 * the stream cannot be resynchronized; the caller must send BYE and close.
 *
 * Memory: bounded by limits (line length, literal size, depth, argument
 * count) whatever the client sends; skipped bytes are never stored. */
#ifndef ROOST_IMAP_PARSER_H
#define ROOST_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	bool literal8; /* IMAP_ARG_LITERAL announced as ~{n} */
	/* ATOM, QUOTED, LITERAL: the bytes (escapes removed), NUL-terminated
	 * for convenience; len is authoritative (literals may hold NULs only
	 * when literal8). */
	const char *str;
	size_t len;
	/* LIST: children. */
	struct imap_arg *list;
	size_t count;
};

struct imap_command {
	const char *tag;  /* NUL-terminated, exactly as the client sent it */
	const char *name; /* upper-cased, e.g. "LOGIN", "UID" */
	struct imap_arg *args; /* top-level arguments after the name */
	size_t nargs;
};

struct imap_parser_limits {
	/* bytes of one line, CRLF included, excluding literal data; a line
	 * restarts after each literal's data (default 65536) */
	size_t max_line;
	size_t max_literal; /* largest literal accepted (default 64 MiB) */
	unsigned max_depth; /* parenthesis nesting (default 32) */
	unsigned max_args;  /* total arguments in a command, all levels (default 100000) */
};

enum imap_parse_status {
	IMAP_PARSE_NEED_MORE, /* all input consumed, no complete command yet */
	IMAP_PARSE_COMMAND,   /* a complete command: imap_parser_command() */
	IMAP_PARSE_LITERAL,   /* literal header read: see imap_parser_literal() */
	IMAP_PARSE_ERROR,     /* see imap_parser_error() */
};

enum imap_parse_error {
	IMAP_ERR_SYNTAX,          /* tagged (or untagged if no tag yet) BAD */
	IMAP_ERR_LINE_TOO_LONG,   /* BAD */
	IMAP_ERR_LITERAL_TOO_BIG, /* NO [TOOBIG] */
	IMAP_ERR_NUL,             /* BAD: NUL byte outside a literal8 */
	IMAP_ERR_TOO_COMPLEX,     /* BAD: depth or argument count exceeded */
	IMAP_ERR_FATAL,           /* cannot resynchronize: BYE and close */
};

struct imap_literal_info {
	uint64_t size;
	bool sync;     /* {n}: the client waits for "+" */
	bool literal8; /* ~{n} */
};

struct imap_parser;

/* Creates a parser; limits are copied (NULL: the defaults). Free with
 * imap_parser_free(). */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser **p);
void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits);
/* Fills in the documented defaults. */
void imap_parser_limits_default(struct imap_parser_limits *limits);

/* Consumes bytes from data[0..len) and stops as soon as it has something
 * to report. *consumed_r is how many bytes it used; the caller drops them
 * and calls again with the rest (and later with new input). Bytes after a
 * complete command are not consumed. */
enum imap_parse_status imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
					size_t *consumed_r);

/* After IMAP_PARSE_COMMAND: the command, valid until the next feed,
 * literal call, reset or trim. An empty argument list has a NULL array. */
const struct imap_command *imap_parser_command(const struct imap_parser *p);

/* After IMAP_PARSE_LITERAL: the announced literal. */
const struct imap_literal_info *imap_parser_literal(const struct imap_parser *p);
/* The tag and upper-cased name of the command being parsed, or NULL when
 * not read yet (lets the caller apply per-command literal limits). */
const char *imap_parser_current_tag(const struct imap_parser *p);
const char *imap_parser_current_name(const struct imap_parser *p);
/* Accept the pending literal: its bytes are read by the next feeds. */
void imap_parser_literal_accept(struct imap_parser *p);
/* Refuse the pending literal and the whole command: the parser skips the
 * rest of the command as after an error (for {n+} it discards n bytes). */
void imap_parser_literal_reject(struct imap_parser *p);

/* After IMAP_PARSE_ERROR: the kind, a short human text for the BAD/NO
 * line, and the tag when it had been read (NULL otherwise: answer "* BAD").
 * The text is static and never quotes client bytes; the tag stays valid
 * until the next command starts (or reset/trim). Either out pointer may
 * be NULL. After IMAP_ERR_FATAL every feed consumes everything and
 * reports IMAP_PARSE_ERROR again. */
enum imap_parse_error imap_parser_error(const struct imap_parser *p, const char **text_r,
					const char **tag_r);

/* True between commands (nothing of a new command read yet). */
bool imap_parser_idle(const struct imap_parser *p);
/* Drops all state and any partial command (after STARTTLS, say). */
void imap_parser_reset(struct imap_parser *p);
/* Frees the arena's memory when idle; cheap to call after each command.
 * Invalidates the last command and error tag; does nothing when not idle. */
void imap_parser_trim(struct imap_parser *p);
/* Bytes held for the command being parsed (arguments so far, literal
 * buffers included). The limits bound one line and one literal, not a
 * whole command made of many literal-separated lines: a caller that wants
 * a per-command cap checks this on each IMAP_PARSE_LITERAL. */
size_t imap_parser_command_size(const struct imap_parser *p);

/* --- argument helpers for command handlers --- */

/* An astring (atom, NIL as its text, quoted or literal; not literal8):
 * true and the bytes, else false. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* A string (quoted or literal, not atom, not NIL, not literal8). */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* An atom (NIL included), compared case-insensitively. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *word);

#endif
