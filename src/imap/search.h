/* search: SEARCH programs (RFC 9051 §6.4.4, RFC 3501 §6.4.4) as trees.
 *
 * search_parse() turns the arguments of SEARCH / UID SEARCH into a
 * program: the RETURN options (RFC 4731 ESEARCH, RFC 5182 SAVE), the
 * CHARSET check, and a tree of keys. The program owns copies of every
 * string and set it needs (its own arena), so it outlives the command's
 * arguments while a long search runs in slices.
 *
 * Evaluation is three-valued so that cheap keys decide first: a message
 * is evaluated with its metadata (flags, size, dates, sequence number,
 * UID); keys that need the message text answer SEARCH_MAYBE while the
 * text is not at hand (search_msg.text == NULL), and only messages whose
 * result is still SEARCH_MAYBE need their bytes read. AND lists are
 * ordered cheapest first at parse time, so header keys run before body
 * scans.
 *
 * The layer knows nothing of the store or of MIME: message text is
 * matched through the caller's search_text_fn. */
#ifndef ROOST_IMAP_SEARCH_H
#define ROOST_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/parser.h"
#include "lib/buf.h"

enum search_result { SEARCH_NO = 0, SEARCH_YES = 1, SEARCH_MAYBE = 2 };

/* What a text key searches (RFC 9051 §6.4.4 case-insensitive substring). */
enum search_text_kind {
	SEARCH_TEXT_HEADER, /* the named top-level header field (field != NULL) */
	SEARCH_TEXT_BODY,   /* BODY: the text parts */
	SEARCH_TEXT_ALL,    /* TEXT: header and text parts */
};

/* Whether the message's text of `kind` contains needle (UTF-8, NUL-
 * terminated). For HEADER an empty needle matches any message that has
 * the field. */
typedef bool search_text_fn(void *ctx, enum search_text_kind kind, const char *field,
                            const char *needle);

/* A message as the evaluator sees it. */
struct search_msg {
	uint32_t seq;
	uint32_t uid;
	uint32_t flags;          /* enum store_flag bits */
	const char *keywords;    /* space-separated; "" or NULL when none */
	bool recent;             /* \Recent in this session */
	int64_t internaldate;    /* seconds since the epoch */
	int32_t internaldate_tz; /* minutes east of UTC */
	uint64_t size;           /* RFC822.SIZE */
	int64_t sent_date;       /* Date: header, seconds; -1 when absent */
	int32_t sent_tz;
	/* NULL while the message text is not read: text keys are MAYBE. */
	search_text_fn *text;
	void *text_ctx;
};

/* RETURN options (RFC 9051 §6.4.4, RFC 4731 §3.1, RFC 5182 §2). */
enum search_return {
	SEARCH_RETURN_MIN = 1u << 0,
	SEARCH_RETURN_MAX = 1u << 1,
	SEARCH_RETURN_ALL = 1u << 2,
	SEARCH_RETURN_COUNT = 1u << 3,
	SEARCH_RETURN_SAVE = 1u << 4,
};

struct search_node;

struct search_program {
	struct search_node *root; /* AND of the top-level keys */
	unsigned return_opts;     /* enum search_return bits; RETURN () gives ALL */
	bool has_return;          /* a RETURN (...) was given: answer with ESEARCH */
	bool need_sent_date;      /* SENTBEFORE/SENTON/SENTSINCE */
	bool need_text;           /* header keys, BODY, TEXT: the message bytes */
	bool need_parts;          /* BODY, TEXT: the MIME part tree too */
	bool uses_saved;          /* a "$" set (RFC 5182) */
	void *mem;                /* the program's arena (private) */
};

enum search_parse_status {
	SEARCH_PARSE_OK,
	SEARCH_PARSE_BAD,        /* syntax: tagged BAD with *error_r */
	SEARCH_PARSE_BADCHARSET, /* NO [BADCHARSET (UTF-8 US-ASCII)] */
};

/* The charsets CHARSET accepts, as the BADCHARSET code argument lists them. */
#define SEARCH_CHARSETS "(UTF-8 US-ASCII)"

/* Parses args[0..nargs) (what follows SEARCH). On SEARCH_PARSE_OK *p_r is
 * a program to free with search_program_free(); otherwise *p_r is NULL
 * and *error_r a static text for the reply. When the RETURN options were
 * read before the error (so the client asked for SAVE), *return_opts_r
 * holds them (RFC 5182 §2.1: a failed SAVE search empties "$"); else 0. */
enum search_parse_status search_parse(const struct imap_arg *args, size_t nargs,
                                      struct search_program **p_r, unsigned *return_opts_r,
                                      const char **error_r);
void search_program_free(struct search_program **p);

/* Fixes the sets against the mailbox before evaluation: "*" is `exists`
 * in sequence sets and `max_uid` in UID sets; "$" is saved[0..n_saved)
 * (ascending UIDs; the array must stay valid while the program is
 * evaluated). Sequence numbers beyond exists simply match nothing. Call
 * once. */
void search_program_bind(struct search_program *p, uint32_t exists, uint32_t max_uid,
                         const uint32_t *saved, size_t n_saved);

/* Evaluates the bound program for one message: YES, NO, or MAYBE when the
 * answer depends on the text and m->text is NULL. */
enum search_result search_eval(const struct search_program *p, const struct search_msg *m);

/* --- answers from a full-text index --- */

/* A text key of a program that an index may answer: BODY, TEXT, and the
 * header keys (FROM, TO, ..., HEADER name). */
struct search_index_key {
	enum search_text_kind kind;
	const char *field;          /* SEARCH_TEXT_HEADER: the field's name */
	const char *needle;         /* as the client sent it; owned by the program */
	struct search_node *node;   /* private */
};

/* The program's text keys in tree order: a malloc'd array (NULL when
 * none) of *n_r keys, valid while the program lives. */
struct search_index_key *search_program_index_keys(const struct search_program *p, size_t *n_r);
/* From now on the key is YES exactly when m->uid is in hits[0..n_hits),
 * except for the UIDs in missing[0..n_missing) (messages the index could
 * not cover), which still need their text. Both ascending; the arrays must
 * stay valid while the program is evaluated. */
void search_index_key_set_hits(struct search_index_key *k, const uint32_t *hits, size_t n_hits,
                               const uint32_t *missing, size_t n_missing);
/* Whether evaluating a message that is not missing from the index needs
 * more than its sequence number, UID and \Recent: true when the program
 * has a flag, keyword, size or date key, or a text key without hits. */
bool search_program_needs_meta(const struct search_program *p);

/* Parses an RFC 9051 date ("d-Mon-yyyy", month case-insensitive) into
 * days since 1970-01-01. Returns 0, or -1 when malformed. */
int search_parse_date(const char *s, size_t len, int64_t *days_r);

/* Appends ascending numbers nums[0..n) in sequence-set form, ranges
 * compressed ("1:3,7,9:10"), as ESEARCH ALL sends them (RFC 4731 §3.1). */
void search_append_set(struct buf *out, const uint32_t *nums, size_t n);

#endif
