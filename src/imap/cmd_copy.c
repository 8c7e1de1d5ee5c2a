/* COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8, §6.4.9;
 * RFC 6851; COPYUID from RFC 4315 §3).
 *
 * COPY answers "OK [COPYUID uidvalidity src-uids dst-uids]". MOVE sends
 * the COPYUID in an untagged OK first, then one EXPUNGE per moved message
 * (RFC 6851 §4.3), then the tagged OK. The source and destination sets
 * are written as ranges of ascending UIDs: the store hands new UIDs out
 * in the order of the source UIDs, so the n-th UID of one set matches the
 * n-th of the other as RFC 4315 requires. A destination that does not
 * exist gets NO [TRYCREATE]; a UID set naming no message gets OK.
 * MOVE needs a read-write mailbox (it expunges); COPY does not.
 *
 * Messages another session expunged meanwhile (still visible to this
 * client by sequence number) cannot be copied; the others are, and the
 * reply is OK with the COPYUID of what was copied: a NO would tell the
 * client the destination is unchanged (RFC 9051 §6.4.7), which would be
 * false.
 *
 * The copy fsyncs, so it runs on the store pool (store_job.h); the
 * replies and the view's expunges are written on the loop thread. */
#include <inttypes.h>
#include <stdlib.h>

#include "imap/commands.h"
#include "imap/mboxname.h"
#include "imap/resp.h"
#include "imap/store_job.h"
#include "imap/view.h"
#include "lib/audit.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

/* Appends ascending UIDs as "a:b,c". */
static void copy_append_set(struct buf *out, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (i > 0)
			buf_append(out, ",", 1);
		if (j == i)
			buf_printf(out, "%" PRIu32, uids[i]);
		else
			buf_printf(out, "%" PRIu32 ":%" PRIu32, uids[i], uids[j]);
		i = j + 1;
	}
}

static void copy_format_copyuid(struct buf *out, const struct store_copy_result *r)
{
	buf_printf(out, "%" PRIu32 " ", r->uidvalidity);
	copy_append_set(out, r->src_uids, r->count);
	buf_append(out, " ", 1);
	copy_append_set(out, r->dst_uids, r->count);
}

/* The command's job for the store pool (store_job.h). */
struct copy_job {
	const struct imap_command *cmd;
	struct store_mailbox *mb;
	uint32_t *uids;
	size_t n;
	char *dest;
	bool move;
	enum store_err err;
	struct store_copy_result r;
};

static void copy_job_free(void *arg)
{
	struct copy_job *j = arg;
	store_copy_result_free(&j->r);
	free(j->uids);
	free(j->dest);
	free(j);
}

/* Pool thread: the copy (or move) is durable when it returns. */
static void copy_job_work(void *arg)
{
	struct copy_job *j = arg;
	j->err = store_copy(j->mb, j->uids, j->n, j->dest, j->move, &j->r);
}

/* Loop thread. */
static void copy_job_reply(struct session *s, void *arg)
{
	struct copy_job *j = arg;
	const struct store_copy_result *r = &j->r;
	if (j->err != STORE_OK) {
		cmd_store_error(s, j->cmd, j->err, true);
		return;
	}
	struct buf code = {0};
	if (r->count > 0)
		copy_format_copyuid(&code, r);
	if (j->move) {
		if (r->count > 0) {
			struct audit_event ev = {.event = "move", .sid = s->id, .user = s->user,
						 .ip = conn_peer_ip(s->conn),
						 .mailbox = s->view != NULL ? s->view->name : NULL,
						 .to = j->dest, .count = (long long)r->count};
			audit_write(&ev);
		}
		if (r->count > 0)
			resp_status_untagged(s, RESP_OK, RESP_CODE_COPYUID, code.data, "Moved UIDs");
		view_expunge_uids(s, r->src_uids, r->count);
		cmd_ok(s, j->cmd);
	} else if (r->count > 0) {
		resp_tagged(s, j->cmd->tag, RESP_OK, RESP_CODE_COPYUID, code.data,
			    "COPY completed");
	} else {
		cmd_ok(s, j->cmd);
	}
	buf_release(&code);
}

/* Takes uids and dest. */
static enum cmd_result copy_execute(struct session *s, const struct imap_command *cmd,
				    uint32_t *uids, size_t n, char *dest, bool move)
{
	struct copy_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->mb = s->view->mb;
	j->uids = uids;
	j->n = n;
	j->dest = dest;
	j->move = move;
	return store_job_run(s, copy_job_work, copy_job_reply, copy_job_free, j);
}

static enum cmd_result copy_run(struct session *s, const struct imap_command *cmd,
				const struct imap_arg *args, size_t nargs, bool uid, bool move)
{
	if (nargs != 2)
		return cmd_bad(s, cmd, move ? "MOVE takes a sequence set and a mailbox"
					    : "COPY takes a sequence set and a mailbox");
	char *dest = NULL;
	bool bad_syntax = false;
	const char *error = NULL;
	if (mboxname_from_arg(s, &args[1], &dest, &bad_syntax, &error) < 0) {
		if (bad_syntax)
			return cmd_bad(s, cmd, error);
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_CANNOT, NULL, error);
		return CMD_DONE;
	}
	uint32_t *uids;
	size_t n;
	if (view_resolve_arg(s->view, &args[0], uid, &uids, &n, &error) < 0) {
		free(dest);
		return cmd_bad(s, cmd, error);
	}
	bool refuse = move && s->view->readonly;
	if (!refuse && n > 0)
		return copy_execute(s, cmd, uids, n, dest, move);
	free(uids);
	free(dest);
	if (refuse) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_READ_ONLY, NULL, "Mailbox is read-only");
		return CMD_DONE;
	}
	return cmd_ok(s, cmd);
}

enum cmd_result cmd_copy_run(struct session *s, const struct imap_command *cmd,
			     const struct imap_arg *args, size_t nargs, bool uid)
{
	return copy_run(s, cmd, args, nargs, uid, false);
}

enum cmd_result cmd_move_run(struct session *s, const struct imap_command *cmd,
			     const struct imap_arg *args, size_t nargs, bool uid)
{
	return copy_run(s, cmd, args, nargs, uid, true);
}

enum cmd_result cmd_copy(struct session *s, const struct imap_command *cmd)
{
	return copy_run(s, cmd, cmd->args, cmd->nargs, false, false);
}

enum cmd_result cmd_move(struct session *s, const struct imap_command *cmd)
{
	return copy_run(s, cmd, cmd->args, cmd->nargs, false, true);
}
