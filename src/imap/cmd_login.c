/* LOGIN (RFC 9051 §6.2.3): user name and password as astrings.
 *
 * Refused with NO [PRIVACYREQUIRED] on a plaintext connection where
 * plaintext authentication is not allowed (then LOGINDISABLED is
 * advertised). The check itself is login_begin()'s. */
#include <string.h>

#include "imap/commands.h"
#include "imap/login.h"
#include "imap/resp.h"

enum cmd_result cmd_login(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 2))
		return CMD_DONE;
	const char *user, *password;
	size_t user_len, password_len;
	if (!imap_arg_get_astring(&cmd->args[0], &user, &user_len) ||
	    !imap_arg_get_astring(&cmd->args[1], &password, &password_len))
		return cmd_bad(s, cmd, "LOGIN expects a user name and a password");
	if (!session_plaintext_auth_allowed(s)) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_PRIVACYREQUIRED, NULL,
			    "Plaintext authentication is disabled; use STARTTLS first");
		return CMD_DONE;
	}
	if (memchr(user, '\0', user_len) != NULL || memchr(password, '\0', password_len) != NULL)
		return cmd_bad(s, cmd, "NUL in user name or password");
	return login_begin(s, "LOGIN", NULL, user, password, password_len);
}
