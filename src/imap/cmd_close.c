/* CLOSE and UNSELECT (RFC 9051 §6.4.1, §6.4.2): back to the authenticated
 * state. CLOSE first removes the messages marked \Deleted, silently (no
 * EXPUNGE responses: the client is leaving the mailbox), unless the
 * mailbox was opened read-only (EXAMINE). UNSELECT never expunges. */
#include <stdlib.h>

#include "imap/commands.h"
#include "imap/resp.h"
#include "imap/view.h"
#include "lib/log.h"

static enum cmd_result close_run(struct session *s, const struct imap_command *cmd, bool expunge)
{
	if (!cmd_expect_args(s, cmd, 0))
		return CMD_DONE;
	if (expunge && !s->view->readonly) {
		uint32_t *expunged = NULL;
		size_t n = 0;
		enum store_err err = store_expunge(s->view->mb, NULL, 0, &expunged, &n);
		free(expunged);
		if (err != STORE_OK) {
			/* The mailbox stays selected: the client may retry. */
			log_warn("event=close_expunge_error sid=%016llx error=\"%s\"",
				 (unsigned long long)s->id, store_err_text(err));
			return cmd_store_error(s, cmd, err, false);
		}
	}
	view_close(s);
	session_set_state(s, SESSION_AUTH);
	return cmd_ok(s, cmd);
}

enum cmd_result cmd_close(struct session *s, const struct imap_command *cmd)
{
	return close_run(s, cmd, true);
}

enum cmd_result cmd_unselect(struct session *s, const struct imap_command *cmd)
{
	return close_run(s, cmd, false);
}
