/* cmd_mailbox: helpers shared by the mailbox commands (see cmd_mailbox.h). */
#include "imap/cmd_mailbox.h"

#include <inttypes.h>
#include <strings.h>

#include "imap/commands.h"
#include "imap/mboxname.h"
#include "imap/resp.h"
#include "imap/session.h"

void cmd_mailbox_refused(struct session *s, const struct imap_command *cmd, const char *text)
{
	resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_CANNOT, NULL, text);
}

bool cmd_mailbox_name(struct session *s, const struct imap_command *cmd,
		      const struct imap_arg *arg, char **name_r)
{
	bool bad_syntax;
	const char *error;
	if (mboxname_from_arg(s, arg, name_r, &bad_syntax, &error) == 0)
		return true;
	if (bad_syntax)
		cmd_bad(s, cmd, error);
	else
		cmd_mailbox_refused(s, cmd, error);
	return false;
}

static const char *const cmd_mailbox_status_names[CMD_STATUS_COUNT_] = {
	[CMD_STATUS_MESSAGES] = "MESSAGES", [CMD_STATUS_UIDNEXT] = "UIDNEXT",
	[CMD_STATUS_UIDVALIDITY] = "UIDVALIDITY", [CMD_STATUS_UNSEEN] = "UNSEEN",
	[CMD_STATUS_DELETED] = "DELETED",   [CMD_STATUS_SIZE] = "SIZE",
	[CMD_STATUS_RECENT] = "RECENT", [CMD_STATUS_DELETED_STORAGE] = "DELETED-STORAGE",
};

static int cmd_mailbox_status_lookup(const struct imap_arg *arg)
{
	if (arg->type != IMAP_ARG_ATOM)
		return -1;
	for (int i = 0; i < CMD_STATUS_COUNT_; i++) {
		if (imap_arg_atom_equals(arg, cmd_mailbox_status_names[i]))
			return i;
	}
	return -1;
}

bool cmd_mailbox_status_parse(const struct session *s, const struct imap_arg *arg,
			      struct cmd_mailbox_status_items *items_r, const char **error_r)
{
	unsigned seen = 0;
	items_r->n = 0;
	if (arg->type != IMAP_ARG_LIST || arg->count == 0) {
		*error_r = "STATUS items must be a parenthesized, non-empty list";
		return false;
	}
	for (size_t i = 0; i < arg->count; i++) {
		int item = cmd_mailbox_status_lookup(&arg->list[i]);
		if (item < 0) {
			*error_r = "Unknown STATUS item (supported: MESSAGES UIDNEXT UIDVALIDITY "
				   "UNSEEN DELETED SIZE DELETED-STORAGE, and RECENT for IMAP4rev1)";
			return false;
		}
		/* RFC 9051 §6.3.11 and Appendix E: RECENT is gone from
		 * IMAP4rev2's status-att; a client that enabled IMAP4rev2
		 * and sends it is not speaking the grammar it enabled. */
		if (item == CMD_STATUS_RECENT && session_rev2(s)) {
			*error_r = "RECENT is not a STATUS item in IMAP4rev2";
			return false;
		}
		if (seen & (1u << item))
			continue;
		seen |= 1u << item;
		items_r->order[items_r->n++] = (unsigned char)item;
	}
	return true;
}

static uint64_t cmd_mailbox_status_value(const struct store_status *st, int item)
{
	switch (item) {
	case CMD_STATUS_MESSAGES: return st->messages;
	case CMD_STATUS_UIDNEXT: return st->uidnext;
	case CMD_STATUS_UIDVALIDITY: return st->uidvalidity;
	case CMD_STATUS_UNSEEN: return st->unseen;
	case CMD_STATUS_DELETED: return st->deleted;
	case CMD_STATUS_SIZE: return st->size;
	case CMD_STATUS_RECENT: return st->recent;
	/* RFC 9208 §4.2.1: the STORAGE units (1024 octets) an EXPUNGE
	 * would free, rounded down like GETQUOTA's figures. */
	case CMD_STATUS_DELETED_STORAGE: return st->deleted_size / 1024;
	}
	return 0;
}

void cmd_mailbox_status_write(struct session *s, const char *name,
			      const struct cmd_mailbox_status_items *items,
			      const struct store_status *st)
{
	struct buf line = {0};
	buf_append_str(&line, "* STATUS ");
	mboxname_append(s, &line, name);
	buf_append_str(&line, " (");
	for (size_t i = 0; i < items->n; i++) {
		int item = items->order[i];
		buf_printf(&line, "%s%s %" PRIu64, i > 0 ? " " : "", cmd_mailbox_status_names[item],
			   cmd_mailbox_status_value(st, item));
	}
	buf_append_str(&line, ")\r\n");
	session_write(s, line.data, line.len);
	buf_release(&line);
}
