/* EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1, part of
 * RFC 9051 §6.4.9): remove the messages marked \Deleted (for UID
 * EXPUNGE, only those in the UID set) and tell the client with one
 * "* n EXPUNGE" each, in ascending order, every number counted after the
 * previous removal (RFC 9051 §7.5.1). Expunges by other sessions that
 * were held back come out in the same reply (before the tagged OK). A
 * read-only mailbox (EXAMINE) refuses with NO.
 *
 * The removal is an fsync'd index transaction, so it runs on the store
 * pool (store_job.h); the EXPUNGE responses are written on the loop. */
#include <stdlib.h>

#include "imap/commands.h"
#include "imap/resp.h"
#include "imap/store_job.h"
#include "imap/view.h"
#include "lib/audit.h"
#include "lib/xalloc.h"

/* The command's job for the store pool (store_job.h). */
struct expunge_job {
	const struct imap_command *cmd;
	struct store_mailbox *mb;
	uint32_t *uids; /* NULL: every \Deleted message */
	size_t n;
	enum store_err err;
	uint32_t *expunged;
	size_t n_expunged;
};

static void expunge_job_free(void *arg)
{
	struct expunge_job *j = arg;
	free(j->expunged);
	free(j->uids);
	free(j);
}

static void expunge_job_work(void *arg)
{
	struct expunge_job *j = arg;
	j->err = store_expunge(j->mb, j->uids, j->n, &j->expunged, &j->n_expunged);
}

/* Loop thread: what was removed is announced even when the store then
 * failed, so the view never keeps a message that is gone. */
static void expunge_job_reply(struct session *s, void *arg)
{
	struct expunge_job *j = arg;
	if (j->n_expunged > 0) {
		struct audit_event ev = {.event = "expunge", .sid = s->id, .user = s->user,
					 .ip = conn_peer_ip(s->conn),
					 .mailbox = s->view != NULL ? s->view->name : NULL,
					 .count = (long long)j->n_expunged};
		audit_write(&ev);
	}
	view_expunge_uids(s, j->expunged, j->n_expunged);
	if (j->err != STORE_OK)
		cmd_store_error(s, j->cmd, j->err, false);
	else
		cmd_ok(s, j->cmd);
}

/* Takes uids. */
static enum cmd_result expunge_execute(struct session *s, const struct imap_command *cmd,
				       uint32_t *uids, size_t n)
{
	struct expunge_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->mb = s->view->mb;
	j->uids = uids;
	j->n = n;
	return store_job_run(s, expunge_job_work, expunge_job_reply, expunge_job_free, j);
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
	if (n > 0)
		return expunge_execute(s, cmd, uids, n);
	free(uids);
	return cmd_ok(s, cmd);
}

enum cmd_result cmd_expunge(struct session *s, const struct imap_command *cmd)
{
	return cmd_expunge_run(s, cmd, cmd->args, cmd->nargs, false);
}
