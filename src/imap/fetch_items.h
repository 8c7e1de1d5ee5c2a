/* fetch_items: the data items a FETCH asks for (RFC 9051 §6.4.5).
 *
 * Turns the FETCH argument (one item, a macro, or a parenthesized list)
 * into an array of items, each with what the executor needs: the part
 * path, the section kind (HEADER, HEADER.FIELDS (...), TEXT, MIME), the
 * partial range, whether it sets \Seen, and the name the untagged FETCH
 * response uses for it ("BODY[1.MIME]", "BINARY.SIZE[2]", "RFC822.TEXT").
 *
 * Grammar (RFC 9051 §9, RFC 3516, RFC 3501 for RFC822*):
 *   fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822.SIZE" /
 *               "RFC822" / "RFC822.HEADER" / "RFC822.TEXT" / "BODY" /
 *               "BODYSTRUCTURE" / "UID" /
 *               "BODY" ["." "PEEK"] section [partial] /
 *               "BINARY" ["." "PEEK"] section-binary [partial] /
 *               "BINARY.SIZE" section-binary
 *   partial   = "<" number64 "." nz-number64 ">"
 * Macros ALL, FAST, FULL stand alone, never inside a list.
 *
 * Only struct imap_arg's fields are used (not the parser's functions),
 * so this module links with src/lib alone. */
#ifndef ROOST_IMAP_FETCH_ITEMS_H
#define ROOST_IMAP_FETCH_ITEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/parser.h"
#include "lib/arena.h"

/* Deepest part path accepted ("1.2.3..."); deeper is BAD. */
#define FETCH_PATH_MAX 32

enum fetch_att {
	FETCH_ATT_FLAGS,
	FETCH_ATT_INTERNALDATE,
	FETCH_ATT_RFC822_SIZE,
	FETCH_ATT_ENVELOPE,
	FETCH_ATT_BODY, /* BODY without a section: the structure */
	FETCH_ATT_BODYSTRUCTURE,
	FETCH_ATT_UID,
	FETCH_ATT_SECTION,     /* BODY[..], BODY.PEEK[..], RFC822, RFC822.HEADER/.TEXT */
	FETCH_ATT_BINARY,      /* BINARY[..], BINARY.PEEK[..] (RFC 3516) */
	FETCH_ATT_BINARY_SIZE, /* BINARY.SIZE[..] */
};

enum fetch_spec {
	FETCH_SPEC_CONTENT, /* [] or [1.2]: the part's content */
	FETCH_SPEC_HEADER,
	FETCH_SPEC_HEADER_FIELDS,
	FETCH_SPEC_HEADER_FIELDS_NOT,
	FETCH_SPEC_TEXT,
	FETCH_SPEC_MIME,
};

struct fetch_item {
	enum fetch_att att;
	/* BODY[..] and BINARY[..] without .PEEK, RFC822, RFC822.TEXT
	 * (RFC 9051 §6.4.5, RFC 3516 §4.1, RFC 3501 §6.4.5). */
	bool set_seen;
	uint32_t path[FETCH_PATH_MAX];
	size_t depth;
	enum fetch_spec spec;
	const char **fields; /* HEADER.FIELDS(.NOT) names, arena memory */
	size_t n_fields;
	bool partial;
	uint64_t offset, count; /* with partial: <offset.count>, count > 0 */
	/* The response's name for the item, without the "<offset>" of a
	 * partial: PEEK dropped, keywords upper-cased, field names as sent. */
	const char *name;
};

struct fetch_items {
	struct fetch_item *items; /* arena memory */
	size_t count;
	bool need_summary; /* ENVELOPE, BODY, BODYSTRUCTURE or a section needing the part tree */
	bool need_body;    /* some item reads the message's bytes */
	bool set_seen;     /* some item sets \Seen */
	bool has_flags;    /* FLAGS was asked for */
	bool has_uid;      /* UID was asked for */
};

/* Parses the FETCH items argument. Returns 0 and fills *items_r (memory
 * from `a`, valid until it is reset), or -1 with a static reason for the
 * tagged BAD in *error_r. */
int fetch_items_parse(const struct imap_arg *arg, struct arena *a, struct fetch_items *items_r,
                      const char **error_r);

/* Whether item `it` needs the message's part tree (STORE_FETCH_SUMMARY):
 * every section except the whole message (BODY[], RFC822, BINARY[]). */
bool fetch_item_needs_parts(const struct fetch_item *it);

#endif
