/* SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3).
 *
 * A SELECT while a mailbox is selected first closes that one, without
 * expunging, and says so with "* OK [CLOSED]" before any data of the new
 * mailbox (RFC 9051 §6.3.2); if the new one cannot be opened the session
 * is left in the authenticated state. SELECT claims \Recent (RFC 3501
 * §2.3.2), EXAMINE opens read-only and claims nothing. The untagged data
 * is written by view_open (see view.h). */
#include <stdlib.h>

#include "imap/commands.h"
#include "imap/mboxname.h"
#include "imap/resp.h"
#include "imap/view.h"

static enum cmd_result select_run(struct session *s, const struct imap_command *cmd,
				  bool readonly)
{
	if (cmd->nargs != 1)
		return cmd_bad(s, cmd, readonly ? "EXAMINE takes a mailbox name"
						: "SELECT takes a mailbox name");
	char *name = NULL;
	bool bad_syntax = false;
	const char *error = NULL;
	int rc = mboxname_from_arg(s, &cmd->args[0], &name, &bad_syntax, &error);
	if (rc < 0 && bad_syntax)
		return cmd_bad(s, cmd, error);
	/* RFC 9051 §6.3.2: "If a mailbox is selected and a SELECT command
	 * that fails is attempted, no mailbox is selected." */
	if (s->view != NULL) {
		view_close(s);
		session_set_state(s, SESSION_AUTH);
		resp_status_untagged(s, RESP_OK, RESP_CODE_CLOSED, NULL,
				     "Previous mailbox is now closed");
	}
	if (rc < 0) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_CANNOT, NULL, error);
		return CMD_DONE;
	}
	enum store_err err = view_open(s, name, readonly);
	free(name);
	if (err != STORE_OK)
		return cmd_store_error(s, cmd, err, false);
	session_set_state(s, SESSION_SELECTED);
	resp_tagged(s, cmd->tag, RESP_OK, readonly ? RESP_CODE_READ_ONLY : RESP_CODE_READ_WRITE,
		    NULL, readonly ? "EXAMINE completed" : "SELECT completed");
	return CMD_DONE;
}

enum cmd_result cmd_select(struct session *s, const struct imap_command *cmd)
{
	return select_run(s, cmd, false);
}

enum cmd_result cmd_examine(struct session *s, const struct imap_command *cmd)
{
	return select_run(s, cmd, true);
}
