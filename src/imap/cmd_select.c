/* SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3).
 *
 * A SELECT while a mailbox is selected first closes that one, without
 * expunging, and says so with "* OK [CLOSED]" before any data of the new
 * mailbox (RFC 9051 §6.3.2); if the new one cannot be opened the session
 * is left in the authenticated state. SELECT claims \Recent (RFC 3501
 * §2.3.2), EXAMINE opens read-only and claims nothing. The untagged data
 * is written by view_open_finish (see view.h).
 *
 * Opening runs on the store pool (store_job.h): claiming \Recent commits
 * to the user's index, and a first open after login reads it from disk;
 * neither may stall the other sessions of the loop. */
#include <stdlib.h>

#include "imap/commands.h"
#include "imap/mboxname.h"
#include "imap/resp.h"
#include "imap/store_job.h"
#include "imap/view.h"
#include "lib/xalloc.h"

struct select_job {
	const struct imap_command *cmd;
	struct store_user *mail;
	char *name;
	bool readonly;
	bool want_unseen;
	enum store_err err;
	struct view_opening opening;
};

static void select_job_work(void *arg)
{
	struct select_job *j = arg;
	j->err = view_open_prepare(j->mail, j->name, !j->readonly, j->want_unseen, &j->opening);
}

static void select_job_reply(struct session *s, void *arg)
{
	struct select_job *j = arg;
	const struct imap_command *cmd = j->cmd;
	if (j->err != STORE_OK) {
		cmd_store_error(s, cmd, j->err, false);
		return;
	}
	view_open_finish(s, j->name, j->readonly, &j->opening);
	session_set_state(s, SESSION_SELECTED);
	resp_tagged(s, cmd->tag, RESP_OK, j->readonly ? RESP_CODE_READ_ONLY : RESP_CODE_READ_WRITE,
		    NULL, j->readonly ? "EXAMINE completed" : "SELECT completed");
}

static void select_job_free(void *arg)
{
	struct select_job *j = arg;
	view_opening_free(&j->opening);
	free(j->name);
	free(j);
}

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
	struct select_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->mail = s->mail;
	j->name = name;
	j->readonly = readonly;
	j->want_unseen = !session_rev2(s);
	return store_job_run(s, select_job_work, select_job_reply, select_job_free, j);
}

enum cmd_result cmd_select(struct session *s, const struct imap_command *cmd)
{
	return select_run(s, cmd, false);
}

enum cmd_result cmd_examine(struct session *s, const struct imap_command *cmd)
{
	return select_run(s, cmd, true);
}
