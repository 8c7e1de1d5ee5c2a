/* lmtp_parse: the pure parsing of LMTP (RFC 2033) input: command verbs,
 * MAIL FROM / RCPT TO paths with their parameters (RFC 5321 §4.1.2), and
 * the dot-unstuffing of DATA (RFC 5321 §4.5.2).
 *
 * Nothing here does I/O or keeps global state: the session feeds it lines
 * and bytes, and the unit tests feed it the same way (one byte at a time
 * for the unstuffer). Parsed strings are malloc'd and owned by the struct
 * they are returned in (free with the matching _free function). */
#ifndef ROOST_LMTP_LMTP_PARSE_H
#define ROOST_LMTP_LMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

enum lmtp_verb {
	LMTP_VERB_UNKNOWN,
	LMTP_VERB_LHLO,
	LMTP_VERB_HELO,
	LMTP_VERB_EHLO,
	LMTP_VERB_MAIL,
	LMTP_VERB_RCPT,
	LMTP_VERB_DATA,
	LMTP_VERB_RSET,
	LMTP_VERB_NOOP,
	LMTP_VERB_QUIT,
	LMTP_VERB_VRFY,
};

/* The verb of a command line (without its line end) and, in *args_r, what
 * follows the verb and its separating space ("" when nothing follows).
 * Verbs are case-insensitive (RFC 5321 §2.4). A verb followed by anything
 * but a space or the end is LMTP_VERB_UNKNOWN. */
enum lmtp_verb lmtp_parse_verb(const char *line, const char **args_r);

/* A reverse-path or forward-path. For the null path "<>" every field is
 * NULL and is_null is set. */
struct lmtp_path {
	bool is_null;
	char *addr;   /* the mailbox as written (quoted local part kept), no source route */
	char *local;  /* the local part with quoting removed */
	char *domain; /* NULL when the address has none (RCPT TO:<postmaster>) */
};

#define LMTP_MAX_PARAMS 16

struct lmtp_param {
	char *key;   /* upper-cased */
	char *value; /* NULL for a keyword without "=value" */
};

struct lmtp_mail_args {
	struct lmtp_path path;
	struct lmtp_param params[LMTP_MAX_PARAMS];
	size_t n_params;
};

/* Parses the arguments of MAIL ("FROM:<path> params") or, with rcpt set,
 * RCPT ("TO:<path> params"). MAIL allows the null path; RCPT allows an
 * address without a domain. Returns 0, or -1 with a static reason in
 * *error_r (a->* then hold nothing). Free a with lmtp_mail_args_free. */
int lmtp_parse_mail_args(const char *args, bool rcpt, struct lmtp_mail_args *a,
                         const char **error_r);
void lmtp_mail_args_free(struct lmtp_mail_args *a);
/* The value of parameter key (upper case), or NULL; *present_r tells a
 * missing key from a key without value. */
const char *lmtp_param_get(const struct lmtp_mail_args *a, const char *key, bool *present_r);

/* Splits a local part at the first byte that is one of seps ("+" by
 * default; empty: never): *base_len_r is the length of the part before it,
 * and *detail_r points after it (NULL when no separator occurs). */
void lmtp_split_detail(const char *local, const char *seps, size_t *base_len_r,
                       const char **detail_r);

/* Dot-unstuffing of DATA, resumable at any byte: lines starting with '.'
 * lose that dot; a line holding only "." ends the data (CRLF, or a bare
 * LF for lenient clients). The CRLF before the final dot is part of the
 * message (RFC 5321 §4.1.1.4). */
struct lmtp_unstuff {
	int state;
	bool done;
};

void lmtp_unstuff_init(struct lmtp_unstuff *u);
/* Consumes bytes from data[0..len) up to and including the end-of-data
 * line; returns the count consumed (less than len only when the end was
 * reached: the rest belongs to the next command). Message bytes are
 * appended to out unless out is NULL (discarding, e.g. over the size
 * limit); *message_bytes_r (may be NULL) grows by the message bytes seen
 * either way. u->done is set at the end. */
size_t lmtp_unstuff_feed(struct lmtp_unstuff *u, const char *data, size_t len, struct buf *out,
                         uint64_t *message_bytes_r);

#endif
