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
 * they are skipped like any UID that names no message, with OK.
 *
 * The flag change is an fsync'd index transaction, so it runs on the store
 * pool (store_job.h); the results are kept in the job and the FETCH
 * responses written on the loop thread, where the view lives. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/commands.h"
#include "imap/resp.h"
#include "imap/store_job.h"
#include "imap/view.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

struct store_req {
	enum store_flag_op op;
	bool silent;
	uint32_t flags;
	struct buf keywords;
};

/* One message as the store reported it after the change. */
struct store_result {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	size_t keywords; /* offset of its NUL-terminated keywords in job->keywords */
};

/* The command's job for the store pool (store_job.h). */
struct store_cmd_job {
	const struct imap_command *cmd;
	struct store_mailbox *mb;
	struct store_req req;
	bool uid;
	uint32_t *uids;
	size_t n;
	enum store_err err;
	struct store_result *res; /* messages the store reported */
	size_t n_res, res_cap;
	struct buf keywords;
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

static void store_cmd_free(void *arg)
{
	struct store_cmd_job *j = arg;
	buf_release(&j->req.keywords);
	buf_release(&j->keywords);
	free(j->res);
	free(j->uids);
	free(j);
}

/* Pool thread: collects the results; the view is the loop's. */
static int store_on_msg(void *ctx, const struct store_msg *msg)
{
	struct store_cmd_job *j = ctx;
	if (j->n_res == j->res_cap) {
		j->res_cap = j->res_cap ? j->res_cap * 2 : 16;
		j->res = xrealloc(j->res, j->res_cap * sizeof(*j->res));
	}
	struct store_result *r = &j->res[j->n_res++];
	r->uid = msg->uid;
	r->flags = msg->flags;
	r->modseq = msg->modseq;
	r->keywords = j->keywords.len;
	buf_append(&j->keywords, msg->keywords, strlen(msg->keywords) + 1);
	return 0;
}

static void store_cmd_work(void *arg)
{
	struct store_cmd_job *j = arg;
	const char *kw = j->req.keywords.len > 0 ? j->req.keywords.data : NULL;
	j->err = store_set_flags(j->mb, j->uids, j->n, j->req.op, j->req.flags, kw, 0,
				 store_on_msg, j);
}

/* Loop thread: "* n FETCH (FLAGS ...)" per message unless .SILENT, each
 * noted in the view so the sync before the tagged reply skips it. */
static void store_write_fetches(struct session *s, const struct store_cmd_job *j)
{
	struct view *v = s->view;
	struct buf out = {0};
	for (size_t i = 0; i < j->n_res; i++) {
		const struct store_result *r = &j->res[i];
		view_note_own(v, r->uid, r->modseq);
		uint32_t seq = view_uid_seq(v, r->uid);
		if (j->req.silent || seq == 0)
			continue;
		buf_printf(&out, "* %" PRIu32 " FETCH (", seq);
		if (j->uid)
			buf_printf(&out, "UID %" PRIu32 " ", r->uid);
		buf_append_str(&out, "FLAGS (");
		view_append_flags(v, &out, r->uid, r->flags, j->keywords.data + r->keywords);
		buf_append(&out, "))\r\n", 4);
		/* Keep the output bounded for large sets. */
		if (out.len > 64 * 1024) {
			session_write(s, out.data, out.len);
			out.len = 0;
		}
	}
	if (out.len > 0)
		session_write(s, out.data, out.len);
	buf_release(&out);
}

static void store_cmd_reply(struct session *s, void *arg)
{
	struct store_cmd_job *j = arg;
	const char *kw = j->req.keywords.len > 0 ? j->req.keywords.data : NULL;
	if (kw != NULL && j->req.op != STORE_OP_REMOVE)
		view_announce_keywords(s, kw);
	store_write_fetches(s, j);
	if (j->err != STORE_OK)
		cmd_store_error(s, j->cmd, j->err, false);
	else if (!j->uid && j->n_res < j->n)
		resp_tagged(s, j->cmd->tag, RESP_NO, RESP_CODE_EXPUNGEISSUED, NULL,
			    "Some of the messages were expunged");
	else
		cmd_ok(s, j->cmd);
}

enum cmd_result cmd_store_run(struct session *s, const struct imap_command *cmd,
			      const struct imap_arg *args, size_t nargs, bool uid)
{
	if (nargs < 3)
		return cmd_bad(s, cmd, "STORE takes a sequence set, an item and flags");
	struct store_cmd_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->mb = s->view->mb;
	j->uid = uid;
	if (!store_parse_item(&args[1], &j->req)) {
		store_cmd_free(j);
		return cmd_bad(s, cmd, "STORE item must be FLAGS, +FLAGS or -FLAGS (.SILENT)");
	}
	const struct imap_arg *flags = &args[2];
	size_t nflags = nargs - 2;
	if (nargs == 3 && args[2].type == IMAP_ARG_LIST) {
		flags = args[2].list;
		nflags = args[2].count;
	}
	const char *error;
	enum cmd_result r;
	if (view_parse_flags(flags, nflags, &j->req.flags, &j->req.keywords, &error) < 0 ||
	    view_resolve_arg(s->view, &args[0], uid, &j->uids, &j->n, &error) < 0) {
		r = cmd_bad(s, cmd, error);
	} else if (s->view->readonly) {
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_READ_ONLY, NULL,
			    "Mailbox is read-only");
		r = CMD_DONE;
	} else if (j->n == 0) {
		r = cmd_ok(s, cmd);
	} else {
		return store_job_run(s, store_cmd_work, store_cmd_reply, store_cmd_free, j);
	}
	store_cmd_free(j);
	return r;
}

enum cmd_result cmd_store(struct session *s, const struct imap_command *cmd)
{
	return cmd_store_run(s, cmd, cmd->args, cmd->nargs, false);
}
