/* NOOP (RFC 9051 §6.1.2): does nothing but reset the autologout timer
 * and, in the selected state, let the pending untagged updates out: it
 * picks up files delivered into new/, and the updates (EXISTS, EXPUNGE,
 * FETCH FLAGS) are written before the tagged OK (session_before_tagged). */
#include "imap/commands.h"
#include "imap/view.h"

enum cmd_result cmd_noop(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 0))
		return CMD_DONE;
	if (s->state == SESSION_SELECTED && s->view != NULL)
		store_mailbox_sync_new(s->view->mb);
	return cmd_ok(s, cmd);
}
