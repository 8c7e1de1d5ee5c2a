/* mime: streaming MIME parser and the IMAP summaries built from it.
 *
 * A message (RFC 5322 + MIME, CRLF line ends as the store keeps them) is
 * fed in chunks of any size; the parser never holds more than the headers
 * of the part it is in (bounded) plus a small boundary window, so a 50 MB
 * message costs the same memory as a 5 KB one. At the end it produces:
 *   - ENVELOPE and BODYSTRUCTURE / BODY exactly as RFC 9051 §7.5.2 defines
 *     them, as the text that follows "ENVELOPE " / "BODYSTRUCTURE " in a
 *     FETCH response (strings with 8-bit or special bytes are literals,
 *     so the text is valid for IMAP4rev1 and IMAP4rev2 clients);
 *   - a serialized part tree: for each part, the byte offsets of its
 *     header and body and its content-transfer-encoding, so FETCH BODY[...]
 *     and BINARY[...] find any section without parsing the message again;
 *   - the Date: header as a timestamp (SEARCH SENTBEFORE etc.).
 *
 * Malformed mail (missing or nested boundaries, broken headers, bare LF,
 * 8-bit, a part that never ends) always yields a well-formed answer: the
 * parser degrades to treating what it cannot understand as text/plain. */
#ifndef ROOST_MAIL_MIME_H
#define ROOST_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct mail_summary {
	char *envelope;      /* "(date subject from sender reply-to to cc bcc in-reply-to message-id)" */
	char *bodystructure; /* with extension data */
	char *body;          /* BODY: no extension data */
	void *parts;         /* serialized part tree, see mime_section() */
	size_t parts_len;
	int64_t sent_date;   /* Date: header as seconds since the epoch, -1 if absent/unparsable */
	int32_t sent_tz;     /* its zone, minutes east of UTC */
};

struct mime_parser;

struct mime_parser *mime_parser_new(void);
/* Feeds the next bytes of the message. */
void mime_parser_feed(struct mime_parser *p, const void *data, size_t len);
/* Ends the message, fills *r (owned by the caller: mail_summary_free) and
 * frees the parser. */
void mime_parser_finish(struct mime_parser **p, struct mail_summary *r);
/* Convenience: parses a whole message held in memory. */
void mime_parse(const void *data, size_t len, struct mail_summary *r);
void mail_summary_free(struct mail_summary *r);

/* --- sections (RFC 9051 §6.4.5 BODY[<section>]) --- */

enum mime_section_kind {
	MIME_SECTION_CONTENT, /* BODY[] (path empty) or BODY[1.2]: the part's content */
	MIME_SECTION_HEADER,  /* BODY[HEADER], BODY[1.HEADER] (message/rfc822 part) */
	MIME_SECTION_TEXT,    /* BODY[TEXT], BODY[1.TEXT] */
	MIME_SECTION_MIME,    /* BODY[1.MIME]: the part's own MIME header */
};

enum mime_cte {
	MIME_CTE_7BIT, MIME_CTE_8BIT, MIME_CTE_BINARY,
	MIME_CTE_BASE64, MIME_CTE_QUOTED_PRINTABLE,
	MIME_CTE_UNKNOWN, /* BINARY[] answers NO [UNKNOWN-CTE] */
};

struct mime_range {
	uint64_t offset; /* into the message */
	uint64_t len;
	enum mime_cte cte; /* of the part the range belongs to (for BINARY) */
	/* The part is multipart/ * or message/rfc822 (BINARY[] of it is not
	 * decoded). */
	bool composite;
};

/* Finds a section in a serialized part tree. path[0..depth) are the part
 * numbers (1-based; empty for the top level). Returns 0 and the range, or
 * -1 when the part does not exist or the kind does not apply to it (the
 * caller answers as RFC 9051 requires for a nonexistent section). */
int mime_section(const void *parts, size_t parts_len, const uint32_t *path, size_t depth,
		 enum mime_section_kind kind, struct mime_range *r);

/* Copies the header fields of hdr[0..len) (a header block as returned for
 * a HEADER section, blank line included) whose names are (exclude=false)
 * or are not (exclude=true) among names[0..n) (case-insensitive), in
 * message order, each with its continuation lines, followed by the
 * terminating CRLF (RFC 9051 HEADER.FIELDS / HEADER.FIELDS.NOT). */
void mime_header_filter(const char *hdr, size_t len, const char *const *names, size_t n,
			bool exclude, struct buf *out);

/* --- content-transfer-encoding decoding (BINARY, SEARCH) --- */

struct mime_decoder;
struct mime_decoder *mime_decoder_new(enum mime_cte cte);
/* Decodes the next chunk, appending to out. Returns 0, or -1 when the
 * input cannot be decoded (bad base64 is skipped leniently: -1 is only for
 * MIME_CTE_UNKNOWN). */
int mime_decoder_feed(struct mime_decoder *d, const void *data, size_t len, struct buf *out);
/* Flushes what is pending (base64 tail) into out and frees d. */
void mime_decoder_finish(struct mime_decoder **d, struct buf *out);

/* --- searching (RFC 9051 §6.4.4: case-insensitive substring) --- */

/* Whether any field named `field` in the message's top-level header
 * contains `needle` (UTF-8) after unfolding and RFC 2047 / charset
 * decoding. field NULL: any field (SEARCH TEXT's header part). An empty
 * needle matches any message that has the field. */
bool mail_header_contains(const char *msg, size_t len, const char *field, const char *needle);
/* Whether the message's text (every text part, CTE and charset decoded;
 * with include_headers, the header too) contains needle. parts is the
 * serialized tree from the summary. */
bool mail_body_contains(const char *msg, size_t len, const void *parts, size_t parts_len,
			const char *needle, bool include_headers);

/* --- the text a full-text index holds (exactly what the scanner matches) --- */

/* Separates fields and parts in mail_search_text's output, and replaces
 * NUL, itself and bytes outside well-formed UTF-8 there. */
#define MAIL_SEARCH_SEP 0x01

/* Appends what SEARCH TEXT matches, case-folded as the scanner folds it:
 * to hdr_r every header field of every part ("Name: decoded value"), to
 * body_r every text part (CTE-decoded, charset-converted), each followed
 * by MAIL_SEARCH_SEP, with NUL, MAIL_SEARCH_SEP and every byte not in a
 * well-formed UTF-8 sequence replaced by MAIL_SEARCH_SEP. A needle that
 * mail_search_index_needle accepts occurs in one field or part exactly
 * when it occurs in hdr_r or body_r (RFC 9051 §6.4.4 substring semantics),
 * and the output is valid UTF-8. parts is the stored part tree (parsed
 * again from msg when NULL or damaged). */
void mail_search_text(const char *msg, size_t len, const void *parts, size_t parts_len,
		      struct buf *hdr_r, struct buf *body_r);
/* The top-level header fields an index also holds apart, for SEARCH FROM,
 * TO, CC, BCC, SUBJECT (and HEADER with these names). */
#define MAIL_SEARCH_FIELDS 5
extern const char *const mail_search_field_names[MAIL_SEARCH_FIELDS];
/* The index of name among mail_search_field_names (case-insensitive), or
 * -1 when an index does not hold that field apart. */
int mail_search_field(const char *name);
/* Appends to fields_r[k], for every top-level header field named
 * mail_search_field_names[k], its decoded value folded and sanitized as
 * mail_search_text does, followed by MAIL_SEARCH_SEP: a needle that
 * mail_search_index_needle accepts occurs in fields_r[k] exactly when
 * mail_header_contains(msg, len, name, needle). */
void mail_search_fields(const char *msg, size_t len, struct buf fields_r[MAIL_SEARCH_FIELDS]);
/* Appends the folded needle to folded_r and returns whether an index built
 * from mail_search_text can answer it exactly: well-formed UTF-8, no NUL
 * or MAIL_SEARCH_SEP, at least three code points (a trigram index cannot
 * see shorter needles). Otherwise the caller scans. */
bool mail_search_index_needle(const char *needle, struct buf *folded_r);

#endif
