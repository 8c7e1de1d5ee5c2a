/* SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.7, §6.3.8): the user's list of
 * "active" mailbox names, which LSUB and LIST (SUBSCRIBED) report. A name
 * may be subscribed whether or not a mailbox exists under it (the store
 * keeps the subscription across DELETE, RFC 9051 §6.3.7), but it must
 * still be a valid name. */
#include <stdlib.h>

#include "imap/cmd_mailbox.h"
#include "imap/commands.h"

static enum cmd_result cmd_subscribe_set(struct session *s, const struct imap_command *cmd,
					 bool subscribe)
{
	if (!cmd_expect_args(s, cmd, 1))
		return CMD_DONE;
	char *name;
	if (!cmd_mailbox_name(s, cmd, &cmd->args[0], &name))
		return CMD_DONE;
	enum store_err err = store_subscribe(s->mail, name, subscribe);
	free(name);
	return cmd_store_error(s, cmd, err, false);
}

enum cmd_result cmd_subscribe(struct session *s, const struct imap_command *cmd)
{
	return cmd_subscribe_set(s, cmd, true);
}

enum cmd_result cmd_unsubscribe(struct session *s, const struct imap_command *cmd)
{
	return cmd_subscribe_set(s, cmd, false);
}
