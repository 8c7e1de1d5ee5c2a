/* GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208 QUOTA).
 *
 * Each user has one quota root, named "", covering all of the user's
 * mailboxes, with the resources STORAGE (the sum of RFC822.SIZE, in units
 * of 1024 octets, RFC 9208 §5.1) and MESSAGE (the number of messages,
 * §5.2). A resource is listed only when it has a limit (mail_quota,
 * mail_quota_messages or the user's userdb_quota_rule): §4.1.1's
 * quota-list has no way to say "no limit". A user with no limit at all
 * therefore has no quota root: GETQUOTAROOT answers a QUOTAROOT without
 * roots (§4.1.2 allows a mailbox with none) and GETQUOTA "" answers NO,
 * as for any root that does not exist.
 *
 * Usage figures are rounded down to whole KiB, and so are limits, so a
 * client never sees usage above a limit that the store did not exceed.
 * Limits are the administrator's: SETQUOTA is refused with NO [NOPERM]
 * (roost does not advertise QUOTASET, §4.1.3). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imap/cmd_mailbox.h"
#include "imap/commands.h"
#include "imap/mboxname.h"
#include "imap/resp.h"
#include "imap/session.h"
#include "lib/buf.h"

/* The user's figures, and whether the root "" exists (a limit applies). */
struct cmd_quota_figures {
	uint64_t used_bytes, limit_bytes, messages, limit_messages;
};

static bool cmd_quota_has_root(const struct cmd_quota_figures *f)
{
	return f->limit_bytes != 0 || f->limit_messages != 0;
}

/* Writes `* QUOTA "" (STORAGE <used> <limit> MESSAGE <used> <limit>)`
 * with only the resources that have a limit. */
static void cmd_quota_write(struct session *s, const struct cmd_quota_figures *f)
{
	struct buf line = {0};
	buf_append_str(&line, "* QUOTA \"\" (");
	if (f->limit_bytes != 0)
		buf_printf(&line, "STORAGE %" PRIu64 " %" PRIu64, f->used_bytes / 1024,
		           f->limit_bytes / 1024);
	if (f->limit_messages != 0)
		buf_printf(&line, "%sMESSAGE %" PRIu64 " %" PRIu64, f->limit_bytes != 0 ? " " : "",
		           f->messages, f->limit_messages);
	buf_append_str(&line, ")\r\n");
	session_write(s, line.data, line.len);
	buf_release(&line);
}

static enum store_err cmd_quota_get_figures(struct session *s, struct cmd_quota_figures *f)
{
	return store_quota_get(s->mail, &f->used_bytes, &f->limit_bytes, &f->messages,
	                       &f->limit_messages);
}

/* GETQUOTA quota-root (RFC 9208 §4.1.1). */
enum cmd_result cmd_getquota(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 1))
		return CMD_DONE;
	const char *root;
	size_t len;
	if (!imap_arg_get_astring(&cmd->args[0], &root, &len))
		return cmd_bad(s, cmd, "Quota root must be an atom, a quoted string or a literal");
	struct cmd_quota_figures f;
	enum store_err err = cmd_quota_get_figures(s, &f);
	if (err != STORE_OK)
		return cmd_store_error(s, cmd, err, false);
	if (len != 0 || !cmd_quota_has_root(&f)) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_NONEXISTENT, NULL,
		            "No such quota root");
		return CMD_DONE;
	}
	cmd_quota_write(s, &f);
	return cmd_ok(s, cmd);
}

/* GETQUOTAROOT mailbox (RFC 9208 §4.1.2): the mailbox must exist. */
enum cmd_result cmd_getquotaroot(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 1))
		return CMD_DONE;
	char *name;
	if (!cmd_mailbox_name(s, cmd, &cmd->args[0], &name))
		return CMD_DONE;
	struct store_status st;
	enum store_err err = store_status(s->mail, name, &st);
	if (err == STORE_ERR_NOSELECT)
		err = STORE_OK; /* exists, as a parent of others */
	struct cmd_quota_figures f;
	if (err == STORE_OK)
		err = cmd_quota_get_figures(s, &f);
	if (err != STORE_OK) {
		free(name);
		return cmd_store_error(s, cmd, err, false);
	}
	struct buf line = {0};
	buf_append_str(&line, "* QUOTAROOT ");
	mboxname_append(s, &line, name);
	buf_append_str(&line, cmd_quota_has_root(&f) ? " \"\"\r\n" : "\r\n");
	session_write(s, line.data, line.len);
	buf_release(&line);
	free(name);
	if (cmd_quota_has_root(&f))
		cmd_quota_write(s, &f);
	return cmd_ok(s, cmd);
}

/* SETQUOTA (RFC 9208 §4.1.3): limits come from the configuration. */
enum cmd_result cmd_setquota(struct session *s, const struct imap_command *cmd)
{
	resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_NOPERM, NULL,
	            "Quota limits are set by the administrator");
	return CMD_DONE;
}
