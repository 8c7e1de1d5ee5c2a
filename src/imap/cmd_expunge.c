/* EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1, part of
 * RFC 9051 §6.4.9): remove the messages marked \Deleted (for UID
 * EXPUNGE, only those in the UID set) and tell the client with one
 * "* n EXPUNGE" each, in ascending order, every number counted after the
 * previous removal (RFC 9051 §7.5.1). Expunges by other sessions that
 * were held back come out in the same reply (before the tagged OK). A
 * read-only mailbox (EXAMINE) refuses with NO. */
#include <stdlib.h>

#include "imap/commands.h"
#include "imap/resp.h"
#include "imap/view.h"

static enum cmd_result expunge_execute(struct session *s, const struct imap_command *cmd,
				       const uint32_t *uids, size_t n)
{
	uint32_t *expunged = NULL;
	size_t n_expunged = 0;
	enum store_err err = store_expunge(s->view->mb, uids, n, &expunged, &n_expunged);
	view_expunge_uids(s, expunged, n_expunged);
	free(expunged);
	if (err != STORE_OK)
		return cmd_store_error(s, cmd, err, false);
	return cmd_ok(s, cmd);
}

enum cmd_result cmd_expunge_run(struct session *s, const struct imap_command *cmd,
				const struct imap_arg *args, size_t nargs, bool uid)
{
	if (nargs != (uid ? 1u : 0u))
		return cmd_bad(s, cmd, uid ? "UID EXPUNGE takes a UID set"
					   : "EXPUNGE takes no arguments");
	if (s->view->readonly) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_READ_ONLY, NULL, "Mailbox is read-only");
		return CMD_DONE;
	}
	if (!uid)
		return expunge_execute(s, cmd, NULL, 0);
	uint32_t *uids;
	size_t n;
	const char *error;
	if (view_resolve_arg(s->view, &args[0], true, &uids, &n, &error) < 0)
		return cmd_bad(s, cmd, error);
	enum cmd_result r = n == 0 ? cmd_ok(s, cmd) : expunge_execute(s, cmd, uids, n);
	free(uids);
	return r;
}

enum cmd_result cmd_expunge(struct session *s, const struct imap_command *cmd)
{
	return cmd_expunge_run(s, cmd, cmd->args, cmd->nargs, false);
}
