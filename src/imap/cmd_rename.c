/* RENAME (RFC 9051 §6.3.6): renames a mailbox and, with it, every mailbox
 * below it in the hierarchy; missing parents of the new name are
 * created. Renaming INBOX is special: its messages move to the new
 * mailbox and INBOX stays, empty (the store implements it). The new name
 * must not exist ([ALREADYEXISTS]); the old one must ([NONEXISTENT]). */
#include <stdlib.h>

#include "imap/cmd_mailbox.h"
#include "imap/commands.h"
#include "lib/audit.h"

enum cmd_result cmd_rename(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 2))
		return CMD_DONE;
	char *from, *to;
	if (!cmd_mailbox_name(s, cmd, &cmd->args[0], &from))
		return CMD_DONE;
	if (!cmd_mailbox_name(s, cmd, &cmd->args[1], &to)) {
		free(from);
		return CMD_DONE;
	}
	enum store_err err = store_rename(s->mail, from, to);
	if (err == STORE_OK) {
		struct audit_event ev = {.event = "rename", .sid = s->id, .user = s->user,
					 .ip = conn_peer_ip(s->conn), .mailbox = from, .to = to,
					 .count = -1};
		audit_write(&ev);
	}
	free(from);
	free(to);
	return cmd_store_error(s, cmd, err, false);
}
