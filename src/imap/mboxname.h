/* mboxname: mailbox names between the client and the store.
 *
 * On the wire a mailbox name is an astring in modified UTF-7 (RFC 3501
 * §5.1.3) for IMAP4rev1 clients, and UTF-8 once the client has enabled
 * IMAP4rev2 or UTF8=ACCEPT (RFC 9051 §5.1, RFC 6855). The store speaks
 * UTF-8 with '/' as the one hierarchy delimiter and "INBOX" for the inbox
 * (matched case-insensitively, RFC 9051 §5.1). Names that could escape the
 * user's directory or confuse the store ("..", control characters, empty
 * levels, overlong names) are refused here, before the store sees them. */
#ifndef ROOST_IMAP_MBOXNAME_H
#define ROOST_IMAP_MBOXNAME_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/parser.h"
#include "lib/buf.h"

struct session;

#define MBOXNAME_DELIMITER '/'

/* Converts a mailbox argument to the store name (malloc'd into *name_r).
 * Returns 0, or -1 with a static reason in *error_r: the argument is not
 * an astring (the caller answers BAD), or the name is refused (the caller
 * answers NO [CANNOT]); *bad_syntax_r tells which. */
int mboxname_from_arg(const struct session *s, const struct imap_arg *arg, char **name_r,
		      bool *bad_syntax_r, const char **error_r);
/* Same for raw bytes (LIST reference/pattern pieces use it too);
 * utf8: the bytes are UTF-8 rather than modified UTF-7. */
int mboxname_from_wire(const char *str, size_t len, bool utf8, char **name_r,
		       const char **error_r);
/* Appends a store name as the client must see it: modified UTF-7 unless
 * UTF-8 is enabled, as a quoted string (or a literal when it must be). */
void mboxname_append(const struct session *s, struct buf *out, const char *name);

/* Modified UTF-7 (RFC 3501 §5.1.3) <-> UTF-8. Return 0, or -1 when the
 * input is not valid (bad base64, unterminated shift, non-minimal or
 * direct-encodable characters encoded, invalid UTF-8). out is appended to
 * and stays NUL-terminated. */
int mutf7_to_utf8(const char *in, size_t len, struct buf *out);
int utf8_to_mutf7(const char *in, size_t len, struct buf *out);

#endif
