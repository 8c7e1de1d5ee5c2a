/* resp: writing IMAP responses.
 *
 * Only registered response codes can be sent: a code is an enum value
 * mapped to its name in one table (RFC 9051 §7.1, RFC 5530, and the
 * extensions roost implements), so a typo cannot reach a client. Every
 * function here queues bytes on the session's connection; the session
 * flushes after each batch of commands. */
#ifndef ROOST_IMAP_RESP_H
#define ROOST_IMAP_RESP_H

#include <stddef.h>

#include "lib/buf.h"

struct session;

enum resp_status { RESP_OK, RESP_NO, RESP_BAD, RESP_BYE, RESP_PREAUTH };

enum resp_code {
	RESP_CODE_NONE,
	/* RFC 9051 §7.1 */
	RESP_CODE_ALERT,
	RESP_CODE_ALREADYEXISTS,
	RESP_CODE_APPENDUID,
	RESP_CODE_AUTHENTICATIONFAILED,
	RESP_CODE_AUTHORIZATIONFAILED,
	RESP_CODE_BADCHARSET,
	RESP_CODE_CANNOT,
	RESP_CODE_CAPABILITY,
	RESP_CODE_CLIENTBUG,
	RESP_CODE_CLOSED,
	RESP_CODE_CONTACTADMIN,
	RESP_CODE_COPYUID,
	RESP_CODE_CORRUPTION,
	RESP_CODE_EXPIRED,
	RESP_CODE_EXPUNGEISSUED,
	RESP_CODE_HASCHILDREN,
	RESP_CODE_INUSE,
	RESP_CODE_LIMIT,
	RESP_CODE_NONEXISTENT,
	RESP_CODE_NOPERM,
	RESP_CODE_OVERQUOTA,
	RESP_CODE_PARSE,
	RESP_CODE_PERMANENTFLAGS,
	RESP_CODE_PRIVACYREQUIRED,
	RESP_CODE_READ_ONLY,
	RESP_CODE_READ_WRITE,
	RESP_CODE_SERVERBUG,
	RESP_CODE_TRYCREATE,
	RESP_CODE_UIDNEXT,
	RESP_CODE_UIDNOTSTICKY,
	RESP_CODE_UIDVALIDITY,
	RESP_CODE_UNAVAILABLE,
	RESP_CODE_UNKNOWN_CTE,
	/* RFC 3501 (IMAP4rev1 only) */
	RESP_CODE_UNSEEN,
	/* RFC 4469 / RFC 7889 */
	RESP_CODE_TOOBIG,
	/* RFC 6154 CREATE-SPECIAL-USE */
	RESP_CODE_USEATTR,
	RESP_CODE_COUNT_
};

/* The code's name as sent ("READ-ONLY"), "" for RESP_CODE_NONE. */
const char *resp_code_name(enum resp_code code);

/* "<tag> OK|NO|BAD [CODE arg] text\r\n". code_arg may be NULL. */
void resp_tagged(struct session *s, const char *tag, enum resp_status status,
		 enum resp_code code, const char *code_arg, const char *text);
/* "* OK|NO|BAD|BYE|PREAUTH [CODE arg] text\r\n". */
void resp_status_untagged(struct session *s, enum resp_status status, enum resp_code code,
			  const char *code_arg, const char *text);
/* "* " + printf + "\r\n" (data responses: CAPABILITY, ENABLED, ID...). */
void resp_untagged(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "+ text\r\n". */
void resp_continue(struct session *s, const char *text);

/* Appends s as an IMAP string: quoted when it can be, else a literal
 * (CR, LF, NUL, 8-bit without UTF-8 enabled, or long). NULL -> NIL. */
void resp_append_nstring(struct buf *out, const char *str, size_t len, int utf8_ok);

#endif
