/* resp: response formatting (see resp.h). */
#include "imap/resp.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "imap/session.h"

static const char *const code_names[RESP_CODE_COUNT_] = {
	[RESP_CODE_NONE] = "",
	[RESP_CODE_ALERT] = "ALERT",
	[RESP_CODE_ALREADYEXISTS] = "ALREADYEXISTS",
	[RESP_CODE_APPENDUID] = "APPENDUID",
	[RESP_CODE_AUTHENTICATIONFAILED] = "AUTHENTICATIONFAILED",
	[RESP_CODE_AUTHORIZATIONFAILED] = "AUTHORIZATIONFAILED",
	[RESP_CODE_BADCHARSET] = "BADCHARSET",
	[RESP_CODE_CANNOT] = "CANNOT",
	[RESP_CODE_CAPABILITY] = "CAPABILITY",
	[RESP_CODE_CLIENTBUG] = "CLIENTBUG",
	[RESP_CODE_CLOSED] = "CLOSED",
	[RESP_CODE_CONTACTADMIN] = "CONTACTADMIN",
	[RESP_CODE_COPYUID] = "COPYUID",
	[RESP_CODE_CORRUPTION] = "CORRUPTION",
	[RESP_CODE_EXPIRED] = "EXPIRED",
	[RESP_CODE_EXPUNGEISSUED] = "EXPUNGEISSUED",
	[RESP_CODE_HASCHILDREN] = "HASCHILDREN",
	[RESP_CODE_INUSE] = "INUSE",
	[RESP_CODE_LIMIT] = "LIMIT",
	[RESP_CODE_NONEXISTENT] = "NONEXISTENT",
	[RESP_CODE_NOPERM] = "NOPERM",
	[RESP_CODE_OVERQUOTA] = "OVERQUOTA",
	[RESP_CODE_PARSE] = "PARSE",
	[RESP_CODE_PERMANENTFLAGS] = "PERMANENTFLAGS",
	[RESP_CODE_PRIVACYREQUIRED] = "PRIVACYREQUIRED",
	[RESP_CODE_READ_ONLY] = "READ-ONLY",
	[RESP_CODE_READ_WRITE] = "READ-WRITE",
	[RESP_CODE_SERVERBUG] = "SERVERBUG",
	[RESP_CODE_TRYCREATE] = "TRYCREATE",
	[RESP_CODE_UIDNEXT] = "UIDNEXT",
	[RESP_CODE_UIDNOTSTICKY] = "UIDNOTSTICKY",
	[RESP_CODE_UIDVALIDITY] = "UIDVALIDITY",
	[RESP_CODE_UNAVAILABLE] = "UNAVAILABLE",
	[RESP_CODE_UNKNOWN_CTE] = "UNKNOWN-CTE",
	[RESP_CODE_UNSEEN] = "UNSEEN",
	[RESP_CODE_TOOBIG] = "TOOBIG",
	[RESP_CODE_USEATTR] = "USEATTR",
};

static const char *const status_names[] = {
	[RESP_OK] = "OK", [RESP_NO] = "NO", [RESP_BAD] = "BAD", [RESP_BYE] = "BYE",
	[RESP_PREAUTH] = "PREAUTH",
};

const char *resp_code_name(enum resp_code code)
{
	return code < RESP_CODE_COUNT_ ? code_names[code] : "";
}

static void resp_status_line(struct session *s, const char *tag, enum resp_status status,
			     enum resp_code code, const char *code_arg, const char *text)
{
	struct buf line = {0};
	buf_append_str(&line, tag);
	buf_append(&line, " ", 1);
	buf_append_str(&line, status_names[status]);
	if (code != RESP_CODE_NONE) {
		buf_append(&line, " [", 2);
		buf_append_str(&line, code_names[code]);
		if (code_arg != NULL && code_arg[0] != '\0') {
			buf_append(&line, " ", 1);
			buf_append_str(&line, code_arg);
		}
		buf_append(&line, "]", 1);
	}
	/* resp-text = [...] text; text is 1*TEXT-CHAR, never empty. */
	buf_append(&line, " ", 1);
	buf_append_str(&line, text != NULL && text[0] != '\0' ? text : status_names[status]);
	buf_append(&line, "\r\n", 2);
	session_write(s, line.data, line.len);
	buf_release(&line);
}

void resp_tagged(struct session *s, const char *tag, enum resp_status status,
		 enum resp_code code, const char *code_arg, const char *text)
{
	/* The running command's reply: pending untagged updates go first. */
	if (s->cmd_tag != NULL)
		session_before_tagged(s);
	resp_status_line(s, tag, status, code, code_arg, text);
}

void resp_status_untagged(struct session *s, enum resp_status status, enum resp_code code,
			  const char *code_arg, const char *text)
{
	resp_status_line(s, "*", status, code, code_arg, text);
}

void resp_untagged(struct session *s, const char *fmt, ...)
{
	struct buf line = {0};
	buf_append(&line, "* ", 2);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	buf_append(&line, "\r\n", 2);
	session_write(s, line.data, line.len);
	buf_release(&line);
}

void resp_continue(struct session *s, const char *text)
{
	session_write_str(s, "+ ");
	session_write_str(s, text);
	session_write(s, "\r\n", 2);
}

static bool resp_quotable(const char *str, size_t len, int utf8_ok)
{
	if (len > 1024)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c == '\0' || c == '\r' || c == '\n' || (c >= 0x80 && !utf8_ok))
			return false;
	}
	return true;
}

void resp_append_nstring(struct buf *out, const char *str, size_t len, int utf8_ok)
{
	if (str == NULL) {
		buf_append(out, "NIL", 3);
		return;
	}
	if (!resp_quotable(str, len, utf8_ok)) {
		buf_printf(out, "{%zu}\r\n", len);
		buf_append(out, str, len);
		return;
	}
	buf_append(out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		if (str[i] == '"' || str[i] == '\\')
			buf_append(out, "\\", 1);
		buf_append(out, &str[i], 1);
	}
	buf_append(out, "\"", 1);
}
