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
 * false. */
#include <inttypes.h>
#include <stdlib.h>

#include "imap/commands.h"
#include "imap/mboxname.h"
#include "imap/resp.h"
#include "imap/view.h"
#include "lib/buf.h"

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

static enum cmd_result copy_execute(struct session *s, const struct imap_command *cmd,
				    const uint32_t *uids, size_t n, const char *dest, bool move)
{
	struct store_copy_result r = {0};
	enum store_err err = store_copy(s->view->mb, uids, n, dest, move, &r);
	if (err != STORE_OK)
		return cmd_store_error(s, cmd, err, true);
	struct buf code = {0};
	if (r.count > 0)
		copy_format_copyuid(&code, &r);
	if (move) {
		if (r.count > 0)
			resp_status_untagged(s, RESP_OK, RESP_CODE_COPYUID, code.data, "Moved UIDs");
		view_expunge_uids(s, r.src_uids, r.count);
		cmd_ok(s, cmd);
	} else if (r.count > 0) {
		resp_tagged(s, cmd->tag, RESP_OK, RESP_CODE_COPYUID, code.data, "COPY completed");
	} else {
		cmd_ok(s, cmd);
	}
	buf_release(&code);
	store_copy_result_free(&r);
	return CMD_DONE;
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
	enum cmd_result res;
	if (view_resolve_arg(s->view, &args[0], uid, &uids, &n, &error) < 0) {
		res = cmd_bad(s, cmd, error);
	} else if (move && s->view->readonly) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_READ_ONLY, NULL, "Mailbox is read-only");
		res = CMD_DONE;
	} else if (n == 0) {
		res = cmd_ok(s, cmd);
	} else {
		res = copy_execute(s, cmd, uids, n, dest, move);
	}
	free(uids);
	free(dest);
	return res;
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
