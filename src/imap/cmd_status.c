/* STATUS (RFC 9051 §6.3.11): counters of a mailbox without selecting it.
 *
 * Items: MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE (RFC 8438), and
 * RECENT for IMAP4rev1 clients only (IMAP4rev2 dropped it). The selected
 * mailbox may be asked for too; the answer comes from the store, as for
 * any other mailbox. */
#include <stdlib.h>

#include "imap/cmd_mailbox.h"
#include "imap/commands.h"

enum cmd_result cmd_status(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 2))
		return CMD_DONE;
	struct cmd_mailbox_status_items items;
	const char *error;
	if (!cmd_mailbox_status_parse(s, &cmd->args[1], &items, &error))
		return cmd_bad(s, cmd, error);
	char *name;
	if (!cmd_mailbox_name(s, cmd, &cmd->args[0], &name))
		return CMD_DONE;
	struct store_status st;
	enum store_err err = store_status(s->mail, name, &st);
	if (err == STORE_OK)
		cmd_mailbox_status_write(s, name, &items, &st);
	free(name);
	return cmd_store_error(s, cmd, err, false);
}
