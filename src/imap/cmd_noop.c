/* NOOP (RFC 9051 §6.1.2): does nothing but lets pending untagged updates
 * out (once mailboxes exist) and resets the autologout timer. */
#include "imap/commands.h"

enum cmd_result cmd_noop(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 0))
		return CMD_DONE;
	return cmd_ok(s, cmd);
}
