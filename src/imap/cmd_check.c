/* CHECK (RFC 3501 §6.4.1; removed in RFC 9051, where it is NOOP-like):
 * a checkpoint of the selected mailbox. Every change the store accepted
 * is already durable, so CHECK only picks up new deliveries; the updates
 * go out before the tagged OK (session_before_tagged). */
#include "imap/commands.h"
#include "imap/view.h"

enum cmd_result cmd_check(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 0))
		return CMD_DONE;
	if (s->view != NULL)
		store_mailbox_sync_new(s->view->mb);
	return cmd_ok(s, cmd);
}
