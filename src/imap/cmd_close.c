/* CLOSE and UNSELECT (RFC 9051 §6.4.1, §6.4.2): back to the authenticated
 * state. CLOSE first removes the messages marked \Deleted, silently (no
 * EXPUNGE responses: the client is leaving the mailbox), unless the
 * mailbox was opened read-only (EXAMINE). UNSELECT never expunges.
 *
 * CLOSE's expunge is an fsync'd index transaction, so it runs on the
 * store pool (store_job.h); the view is closed on the loop thread after
 * it, since the job uses the view's mailbox handle. */
#include <stdlib.h>

#include "imap/commands.h"
#include "imap/resp.h"
#include "imap/store_job.h"
#include "imap/view.h"
#include "lib/audit.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* CLOSE's job for the store pool. */
struct close_job {
	const struct imap_command *cmd;
	struct store_mailbox *mb;
	enum store_err err;
	size_t n_expunged;
};

static enum cmd_result close_leave(struct session *s, const struct imap_command *cmd)
{
	view_close(s);
	/* A shutdown BYE may have come while the expunge ran: stay logged out. */
	if (s->state != SESSION_LOGOUT)
		session_set_state(s, SESSION_AUTH);
	return cmd_ok(s, cmd);
}

static void close_job_work(void *arg)
{
	struct close_job *j = arg;
	uint32_t *expunged = NULL;
	size_t n = 0;
	j->err = store_expunge(j->mb, NULL, 0, &expunged, &n);
	free(expunged);
	j->n_expunged = n;
}

static void close_job_reply(struct session *s, void *arg)
{
	struct close_job *j = arg;
	if (j->n_expunged > 0) {
		struct audit_event ev = {.event = "expunge", .sid = s->id, .user = s->user,
					 .ip = conn_peer_ip(s->conn),
					 .mailbox = s->view != NULL ? s->view->name : NULL,
					 .count = (long long)j->n_expunged};
		audit_write(&ev);
	}
	if (j->err == STORE_OK) {
		close_leave(s, j->cmd);
		return;
	}
	/* The mailbox stays selected: the client may retry. */
	log_warn("event=close_expunge_error sid=%016llx error=\"%s\"", (unsigned long long)s->id,
		 store_err_text(j->err));
	cmd_store_error(s, j->cmd, j->err, false);
}

static void close_job_free(void *arg)
{
	free(arg);
}

static enum cmd_result close_run(struct session *s, const struct imap_command *cmd, bool expunge)
{
	if (!cmd_expect_args(s, cmd, 0))
		return CMD_DONE;
	if (!expunge || s->view->readonly)
		return close_leave(s, cmd);
	struct close_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->mb = s->view->mb;
	return store_job_run(s, close_job_work, close_job_reply, close_job_free, j);
}

enum cmd_result cmd_close(struct session *s, const struct imap_command *cmd)
{
	return close_run(s, cmd, true);
}

enum cmd_result cmd_unselect(struct session *s, const struct imap_command *cmd)
{
	return close_run(s, cmd, false);
}
