/* AUTHENTICATE (RFC 9051 §6.2.2) with the PLAIN mechanism (RFC 4616) and
 * an optional initial response (SASL-IR, RFC 4959).
 *
 *   C: a AUTHENTICATE PLAIN            C: a AUTHENTICATE PLAIN <base64>
 *   S: +                               S: a OK/NO ...
 *   C: <base64> | *
 *   S: a OK/NO ... | a BAD (cancelled)
 *
 * "=" as initial response is an empty one; PLAIN cannot use an empty
 * message, so it is treated like no initial response and the server asks
 * with an empty challenge. Undecodable base64 gets BAD (a client error),
 * a well-formed message with wrong credentials NO [AUTHENTICATIONFAILED]. */
#include <string.h>
#include <strings.h>

#include "auth/sasl.h"
#include "imap/commands.h"
#include "imap/login.h"
#include "imap/resp.h"

static enum cmd_result authenticate_plain(struct session *s, const char *b64, size_t len)
{
	struct arena a;
	arena_init(&a, 1024);
	char *msg;
	size_t msg_len;
	const char *authzid, *authcid, *password, *err;
	size_t password_len;
	enum cmd_result r;
	if (sasl_base64_decode(b64, len, &a, &msg, &msg_len) < 0) {
		resp_tagged(s, s->cmd_tag, RESP_BAD, RESP_CODE_NONE, NULL,
			    "Invalid base64 in SASL response");
		r = CMD_DONE;
	} else if (sasl_plain_parse(msg, msg_len, &a, &authzid, &authcid, &password,
				    &password_len, &err) < 0) {
		resp_tagged(s, s->cmd_tag, RESP_NO, RESP_CODE_AUTHENTICATIONFAILED, NULL,
			    "Authentication failed");
		r = CMD_DONE;
	} else {
		r = login_begin(s, "PLAIN", authzid, authcid, password, password_len);
		explicit_bzero((char *)password, password_len);
	}
	arena_release(&a);
	return r;
}

/* The client's response to our empty challenge. */
static void authenticate_on_line(struct session *s, char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		/* RFC 9051 §6.2.2: cancellation is answered with tagged BAD. */
		resp_tagged(s, s->cmd_tag, RESP_BAD, RESP_CODE_NONE, NULL,
			    "Authentication cancelled");
		session_cmd_done(s);
		return;
	}
	if (authenticate_plain(s, line, len) == CMD_DONE)
		session_cmd_done(s);
}

enum cmd_result cmd_authenticate(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs < 1 || cmd->nargs > 2 || cmd->args[0].type != IMAP_ARG_ATOM)
		return cmd_bad(s, cmd, "AUTHENTICATE expects a mechanism and an optional response");
	if (strcasecmp(cmd->args[0].str, "PLAIN") != 0) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_NONE, NULL,
			    "Unsupported authentication mechanism");
		return CMD_DONE;
	}
	if (!session_plaintext_auth_allowed(s)) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_PRIVACYREQUIRED, NULL,
			    "Plaintext authentication is disabled; use STARTTLS first");
		return CMD_DONE;
	}
	if (cmd->nargs == 2) {
		const struct imap_arg *ir = &cmd->args[1];
		if (ir->type != IMAP_ARG_ATOM)
			return cmd_bad(s, cmd, "Initial response must be base64 or =");
		if (!(ir->len == 1 && ir->str[0] == '='))
			return authenticate_plain(s, ir->str, ir->len);
	}
	resp_continue(s, "");
	session_read_line(s, authenticate_on_line);
	return CMD_ASYNC;
}
