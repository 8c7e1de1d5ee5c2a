/* DELETE (RFC 9051 §6.3.5): removes a mailbox and its messages.
 *
 * INBOX can never be deleted. A mailbox with children is emptied and
 * becomes \Noselect; deleting a \Noselect mailbox that still has children
 * fails with [HASCHILDREN] (the store implements both). Deleting the
 * selected mailbox is allowed: the store tells the sessions that have it
 * open, and the view code answers them. */
#include <stdlib.h>
#include <string.h>

#include "imap/cmd_mailbox.h"
#include "imap/commands.h"
#include "lib/audit.h"

enum cmd_result cmd_delete(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 1))
		return CMD_DONE;
	char *name;
	if (!cmd_mailbox_name(s, cmd, &cmd->args[0], &name))
		return CMD_DONE;
	if (strcmp(name, "INBOX") == 0) {
		free(name);
		/* RFC 9051 §6.3.5: "It is an error to attempt to delete the
		 * name INBOX"; it can never succeed (RFC 5530 CANNOT). */
		cmd_mailbox_refused(s, cmd, "INBOX cannot be deleted");
		return CMD_DONE;
	}
	enum store_err err = store_delete(s->mail, name);
	if (err == STORE_OK) {
		struct audit_event ev = {.event = "delete", .sid = s->id, .user = s->user,
					 .ip = conn_peer_ip(s->conn), .mailbox = name, .count = -1};
		audit_write(&ev);
	}
	free(name);
	return cmd_store_error(s, cmd, err, false);
}
