/* LOGOUT (RFC 9051 §6.1.3): untagged BYE, then the tagged OK, then the
 * server closes the connection. */
#include "imap/commands.h"
#include "imap/resp.h"

enum cmd_result cmd_logout(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 0))
		return CMD_DONE;
	resp_status_untagged(s, RESP_BYE, RESP_CODE_NONE, NULL, "Logging out");
	resp_tagged(s, cmd->tag, RESP_OK, RESP_CODE_NONE, NULL, "LOGOUT completed");
	s->logged_out = true;
	session_bye(s, NULL, "logout");
	return CMD_DONE;
}
