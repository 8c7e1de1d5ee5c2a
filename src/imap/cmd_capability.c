/* CAPABILITY (RFC 9051 §6.1.1): the list for the session's current state. */
#include "imap/capability.h"
#include "imap/commands.h"
#include "imap/resp.h"

enum cmd_result cmd_capability(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 0))
		return CMD_DONE;
	struct buf caps = {0};
	capability_append(s, &caps);
	resp_untagged(s, "CAPABILITY %s", caps.data);
	buf_release(&caps);
	return cmd_ok(s, cmd);
}
