/* mime_internal: what the files of src/mail share (not for other layers).
 *
 * The parser (mime.c) builds a tree of mime_node: one per MIME entity. The
 * top-level message and every message embedded in a message/rfc822 part
 * are "message-level" nodes (they carry an ENVELOPE); a message/rfc822
 * part has exactly one child, its embedded message. Strings in a node are
 * NUL-terminated heap copies (NULL = field absent); offsets are absolute
 * positions in the message as fed. */
#ifndef ROOST_MAIL_MIME_INTERNAL_H
#define ROOST_MAIL_MIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "mail/mime.h"

/* One MIME parameter (Content-Type / Content-Disposition), RFC 2231
 * continuations already joined and decoded. */
struct mime_param {
	char *name;
	char *value;
};

struct mime_params {
	struct mime_param *v;
	size_t n;
};

/* A header field of a header block: name and unfolded value (pointing into
 * the field-list's own storage). */
struct mime_field {
	char *name;
	size_t name_len;
	char *value; /* unfolded, trimmed, NUL-terminated */
	size_t value_len;
};

struct mime_fields {
	struct mime_field *v;
	size_t n;
};

struct mime_node {
	uint64_t hdr_off, hdr_len, body_off, body_len;
	uint64_t body_line; /* index of the first line of the body */
	uint64_t lines;
	char *type, *subtype; /* as sent; NULL = default (text/plain) */
	struct mime_params params;
	char *id, *desc, *cte_str, *md5, *loc;
	char *disp_type;
	struct mime_params disp_params;
	char **lang;
	size_t nlang;
	char *envelope; /* message-level nodes only */
	enum mime_cte cte;
	bool message_level;
	bool multipart;  /* parsed as multipart (has a boundary) */
	bool rfc822;     /* parsed as message/rfc822 (has one child) */
	bool text;       /* type text/ * */
	bool bnd_active; /* boundary not yet closed */
	char *boundary;
	size_t boundary_len;
	unsigned depth;
	struct mime_node *parent, *first_child, *last_child, *next;
	uint32_t nchildren;
};

/* mime_header.c */
void mime_fields_parse(const char *hdr, size_t len, struct mime_fields *r);
void mime_fields_free(struct mime_fields *f);
/* First field named name (case-insensitive) or NULL. */
const struct mime_field *mime_fields_find(const struct mime_fields *f, const char *name);
/* Parses "type/subtype; params" (ct=true) or "disposition; params". Returns
 * -1 when the value is syntactically invalid (RFC 2045 §5.2: then the
 * default applies). */
int mime_header_parse_ctype(const char *value, bool ct, char **type_r, char **subtype_r,
			    struct mime_params *params_r);
void mime_params_free(struct mime_params *p);
void mime_params_add_copy(struct mime_params *p, const char *name, const char *value);
/* Takes ownership of name and value (heap strings). */
void mime_params_add_owned(struct mime_params *p, char *name, char *value);
/* mime_rfc2231.c: joins and decodes RFC 2231 parameters of raw into out. */
void mime_rfc2231_join(const struct mime_params *raw, struct mime_params *out);
const char *mime_params_get(const struct mime_params *p, const char *name);
/* Skips RFC 5322 CFWS; returns the new position. */
const char *mime_header_skip_cfws(const char *s);
/* mime_charset.c */
/* Converts src from charset to UTF-8, appending to out. Returns 0, or -1
 * when the charset is unknown (nothing appended). Invalid sequences are
 * copied raw. */
int mime_charset_to_utf8(const char *charset, const char *src, size_t len, struct buf *out);
/* Decodes RFC 2047 encoded words of value into UTF-8 (other text as is). */
void mime_header_decode_2047(const char *value, size_t len, struct buf *out);

/* mime_address.c: appends the ENVELOPE address list of value, or NIL. */
void mime_address_write(const char *value, struct buf *out);

/* mime_envelope.c */
/* Appends str as an IMAP nstring (NIL, quoted or literal). */
void mime_imap_string(struct buf *out, const char *s, size_t len);
void mime_imap_nstring(struct buf *out, const char *s);
char *mime_envelope_build(const struct mime_fields *f);
/* RFC 5322 date-time; returns 0 or -1. */
int mime_date_parse(const char *s, int64_t *time_r, int32_t *tz_r);

/* mime_bodystructure.c */
void mime_bodystructure_write(const struct mime_node *n, bool ext, struct buf *out);

/* mime_parts.c */
void mime_parts_serialize(const struct mime_node *root, struct buf *out);
/* A deserialized node of the part tree (preorder array). */
struct mime_pnode {
	uint64_t hdr_off, hdr_len, body_off, body_len;
	uint32_t nchildren;
	uint32_t first_child; /* index, valid when nchildren > 0 */
	uint32_t next;        /* index of next sibling or UINT32_MAX */
	enum mime_cte cte;
	uint8_t flags;
	char charset[64];
};
#define MIME_PNODE_MULTIPART 0x01
#define MIME_PNODE_RFC822 0x02
#define MIME_PNODE_TEXT 0x04
/* Returns a malloc'ed array of nodes (root first) or NULL if malformed. */
struct mime_pnode *mime_parts_load(const void *parts, size_t len, size_t *count_r);

/* mime_search.c */
/* Appends the simple case folding of UTF-8 text (invalid bytes as is). */
void mime_search_fold(const char *s, size_t len, struct buf *out);

#endif
