/* STORE and UID STORE (RFC 9051 §6.4.6, §6.4.9).
 *
 *   STORE set [+|-]FLAGS[.SILENT] (flag ...)   or   ... flag flag ...
 *
 * Each message's new flags come back as "* n FETCH (FLAGS (...))" (with
 * "UID u" in the UID form, RFC 9051 §6.4.9) unless .SILENT. The changes
 * are noted in the view so the sync before the tagged reply does not
 * announce them a second time; other sessions hear of them at their next
 * sync.
 *
 * Messages another session expunged (the client still sees them until an
 * EXPUNGE may be sent) cannot be changed. By sequence number the others
 * are updated and the reply is NO [EXPUNGEISSUED] (RFC 9051 §7.1 and
 * RFC 2180 §4.2: the client should NOOP to learn what is gone); by UID
 * they are skipped like any UID that names no message, with OK. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/commands.h"
#include "imap/resp.h"
#include "imap/view.h"
#include "lib/buf.h"

struct store_req {
	enum store_flag_op op;
	bool silent;
	uint32_t flags;
	struct buf keywords;
};

struct store_reply {
	struct session *s;
	bool silent, uid;
	size_t seen; /* messages the store reported */
	struct buf out;
};

/* "[+|-]FLAGS[.SILENT]" */
static bool store_parse_item(const struct imap_arg *arg, struct store_req *req)
{
	if (arg->type != IMAP_ARG_ATOM)
		return false;
	const char *p = arg->str;
	req->op = STORE_OP_REPLACE;
	if (*p == '+' || *p == '-') {
		req->op = *p == '+' ? STORE_OP_ADD : STORE_OP_REMOVE;
		p++;
	}
	if (strncasecmp(p, "FLAGS", 5) != 0)
		return false;
	p += 5;
	req->silent = strcasecmp(p, ".SILENT") == 0;
	return req->silent || *p == '\0';
}

static int store_on_msg(void *ctx, const struct store_msg *msg)
{
	struct store_reply *r = ctx;
	struct view *v = r->s->view;
	r->seen++;
	view_note_own(v, msg->uid, msg->modseq);
	if (r->silent)
		return 0;
	uint32_t seq = view_uid_seq(v, msg->uid);
	if (seq == 0)
		return 0;
	buf_printf(&r->out, "* %" PRIu32 " FETCH (", seq);
	if (r->uid)
		buf_printf(&r->out, "UID %" PRIu32 " ", msg->uid);
	buf_append_str(&r->out, "FLAGS (");
	view_append_flags(v, &r->out, msg->uid, msg->flags, msg->keywords);
	buf_append(&r->out, "))\r\n", 4);
	/* Keep the output bounded for large sets. */
	if (r->out.len > 64 * 1024) {
		session_write(r->s, r->out.data, r->out.len);
		r->out.len = 0;
	}
	return 0;
}

static enum cmd_result store_execute(struct session *s, const struct imap_command *cmd,
				     const struct store_req *req, const uint32_t *uids, size_t n,
				     bool uid)
{
	struct store_reply r = {.s = s, .silent = req->silent, .uid = uid};
	const char *kw = req->keywords.len > 0 ? req->keywords.data : NULL;
	if (kw != NULL && req->op != STORE_OP_REMOVE)
		view_announce_keywords(s, kw);
	enum store_err err = store_set_flags(s->view->mb, uids, n, req->op, req->flags, kw, 0,
					     store_on_msg, &r);
	if (r.out.len > 0)
		session_write(s, r.out.data, r.out.len);
	buf_release(&r.out);
	if (err != STORE_OK)
		return cmd_store_error(s, cmd, err, false);
	if (!uid && r.seen < n) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_EXPUNGEISSUED, NULL,
			    "Some of the messages were expunged");
		return CMD_DONE;
	}
	return cmd_ok(s, cmd);
}

enum cmd_result cmd_store_run(struct session *s, const struct imap_command *cmd,
			      const struct imap_arg *args, size_t nargs, bool uid)
{
	struct store_req req = {0};
	if (nargs < 3)
		return cmd_bad(s, cmd, "STORE takes a sequence set, an item and flags");
	if (!store_parse_item(&args[1], &req))
		return cmd_bad(s, cmd, "STORE item must be FLAGS, +FLAGS or -FLAGS (.SILENT)");
	const struct imap_arg *flags = &args[2];
	size_t nflags = nargs - 2;
	if (nargs == 3 && args[2].type == IMAP_ARG_LIST) {
		flags = args[2].list;
		nflags = args[2].count;
	}
	const char *error;
	if (view_parse_flags(flags, nflags, &req.flags, &req.keywords, &error) < 0) {
		buf_release(&req.keywords);
		return cmd_bad(s, cmd, error);
	}
	uint32_t *uids;
	size_t n;
	enum cmd_result r;
	if (view_resolve_arg(s->view, &args[0], uid, &uids, &n, &error) < 0) {
		r = cmd_bad(s, cmd, error);
	} else if (s->view->readonly) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_READ_ONLY, NULL,
			    "Mailbox is read-only");
		r = CMD_DONE;
	} else if (n == 0) {
		r = cmd_ok(s, cmd);
	} else {
		r = store_execute(s, cmd, &req, uids, n, uid);
	}
	free(uids);
	buf_release(&req.keywords);
	return r;
}

enum cmd_result cmd_store(struct session *s, const struct imap_command *cmd)
{
	return cmd_store_run(s, cmd, cmd->args, cmd->nargs, false);
}
