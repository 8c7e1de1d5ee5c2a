/* SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4), with the
 * ESEARCH answer (RFC 9051 §7.3.4, RFC 4731) and SAVE / "$" (RFC 5182).
 *
 * The program (search.c) is evaluated over the view's messages in
 * batches, as a session producer, so a search of a large mailbox runs in
 * slices between which other connections are served. Per batch:
 *   1. store_fetch gives the metadata (with the summary only when the
 *      program needs sent dates or the MIME part tree); most messages are
 *      decided here (three-valued evaluation, cheap keys first);
 *   2. the undecided ones (text keys) are read (small messages into one
 *      reused buffer, large ones mapped) and evaluated again with their
 *      text, a bounded number of bytes and milliseconds per slice.
 * Slices write nothing until the answer, so the session pump yields to
 * the loop between them; the answer is then written in chunks.
 * Bodies are opened after store_fetch returns, never inside its callback.
 * Memory: one batch of verdicts and undecided records, plus the result.
 *
 * Full-text index (store_fts_search): when the program has BODY, TEXT or
 * FROM/TO/CC/BCC/SUBJECT keys whose needles the index can answer exactly
 * (mail_search_index_needle), a store-pool job queries the index as it
 * stands (never on the loop); the session waits meanwhile and other
 * sessions are unaffected. Messages not indexed yet come back as missing
 * and are scanned, and background jobs on the index pool (low priority)
 * index them, so no search waits for indexing. Those keys are then
 * answered from the returned UID lists with no message read; messages
 * the index does not cover are scanned as before. When nothing else needs metadata, the
 * program is evaluated over the view's UIDs alone (no store_fetch). If the
 * index fails, the search simply scans.
 *
 * Sequence numbers stay those of the view at the start: the view changes
 * only after the command (no EXPUNGE during SEARCH, RFC 9051 §7.5.1), and
 * messages expunged meanwhile by other sessions simply do not match. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/commands.h"
#include "imap/imap.h"
#include "imap/resp.h"
#include "imap/search.h"
#include "imap/view.h"
#include "config/config.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mail/mime.h"
#include "net/conn.h"
#include "net/workpool.h"

/* Messages per store_fetch call; message bytes and time spent reading
 * text per slice. */
#define CMD_SEARCH_BATCH      500
#define CMD_SEARCH_SCAN_BYTES (8u * 1024 * 1024)
#define CMD_SEARCH_SLICE_US   2000
/* Messages up to this size are read rather than mapped. */
#define CMD_SEARCH_READ_MAX (256u * 1024)

/* Messages evaluated per producer call when only UIDs are needed. */
#define CMD_SEARCH_UID_CHUNK 20000

/* Numbers written per producer call once the result is known. */
#define CMD_SEARCH_OUT_CHUNK 4096

/* What follows the head of the answer line. */
enum cmd_search_out {
	OUT_NONE, /* no untagged answer (RETURN (SAVE)) */
	OUT_LINE, /* ESEARCH without ALL: just the CRLF */
	OUT_LIST, /* "* SEARCH": " n" per match */
	OUT_SET,  /* ESEARCH ALL: a sequence set */
};

/* A message that metadata could not decide: its record, kept until its
 * text is read. */
struct cmd_search_pending {
	size_t idx; /* in the batch */
	struct search_msg msg;
	char *keywords;
	void *parts;
	size_t parts_len;
};

struct cmd_search {
	struct search_program *prog;
	bool uid;
	char *tag;
	uint32_t count;         /* messages in the view at the start */
	uint32_t next;          /* index of the first message not yet batched */
	uint32_t batch_start;   /* index of the current batch's first message */
	uint32_t batch_n;       /* 0: no batch in progress */
	uint32_t cursor;        /* fetch callback: position in the batch */
	unsigned char *verdict; /* per batch message: enum search_result */
	struct cmd_search_pending *pending;
	size_t n_pending, next_pending;
	uint32_t *res; /* matching sequence numbers (UIDs once output starts), ascending */
	size_t n_res, cap_res;
	struct view *view;
	char *buf; /* message bytes read (cmd_search_body_bytes) */
	size_t buf_cap;
	/* full-text index: fq[i] answers keys[key_of[i]] */
	struct session *session; /* while the index job runs */
	struct store_mailbox *mb;
	struct search_index_key *keys;
	struct store_fts_query *fq;
	size_t *key_of;
	size_t n_fq, n_keys_total;
	uint32_t *fts_missing; /* UIDs the index could not cover */
	size_t n_fts_missing;
	enum store_err fts_err;
	struct store_fts_info fts_info;
	uint64_t fts_us;
	bool uids_only;  /* decided from the view's UIDs: no store_fetch */
	bool need_parts; /* the metadata pass needs the part trees */
	/* output phase */
	bool output;
	enum cmd_search_out out_mode;
	unsigned opts;  /* enum search_return bits answered */
	size_t out_pos; /* next result to write */
};

/* Matching of text keys through the MIME layer. */
struct cmd_search_text {
	const char *msg;
	size_t len;
	const void *parts;
	size_t parts_len;
};

static bool cmd_search_text_fn(void *ctx, enum search_text_kind kind, const char *field,
                               const char *needle)
{
	const struct cmd_search_text *t = ctx;
	switch (kind) {
	case SEARCH_TEXT_HEADER:
		return mail_header_contains(t->msg, t->len, field, needle);
	case SEARCH_TEXT_BODY:
		return mail_body_contains(t->msg, t->len, t->parts, t->parts_len, needle, false);
	case SEARCH_TEXT_ALL:
		return mail_body_contains(t->msg, t->len, t->parts, t->parts_len, needle, true);
	}
	return false;
}

static void cmd_search_clear_pending(struct cmd_search *cs)
{
	for (size_t i = 0; i < cs->n_pending; i++) {
		free(cs->pending[i].keywords);
		free(cs->pending[i].parts);
	}
	cs->n_pending = 0;
	cs->next_pending = 0;
}

static void cmd_search_free(void *ctx)
{
	struct cmd_search *cs = ctx;
	for (size_t i = 0; i < cs->n_fq; i++)
		free((char *)cs->fq[i].needle);
	store_fts_query_free(cs->fq, cs->n_fq);
	free(cs->fq);
	free(cs->key_of);
	free(cs->keys);
	free(cs->fts_missing);
	cmd_search_clear_pending(cs);
	free(cs->pending);
	free(cs->verdict);
	free(cs->res);
	free(cs->buf);
	free(cs->tag);
	search_program_free(&cs->prog);
	free(cs);
}

static void cmd_search_add_result(struct cmd_search *cs, uint32_t seq)
{
	if (cs->n_res == cs->cap_res) {
		cs->cap_res = cs->cap_res ? cs->cap_res * 2 : 64;
		cs->res = xrealloc(cs->res, cs->cap_res * sizeof(*cs->res));
	}
	cs->res[cs->n_res++] = seq;
}

static void cmd_search_add_pending(struct cmd_search *cs, size_t idx, const struct search_msg *m,
                                   const struct store_msg *sm)
{
	struct cmd_search_pending *p = &cs->pending[cs->n_pending++];
	p->idx = idx;
	p->msg = *m;
	p->keywords = xstrdup(sm->keywords != NULL ? sm->keywords : "");
	p->msg.keywords = p->keywords;
	p->parts = NULL;
	p->parts_len = 0;
	if (sm->parts != NULL && sm->parts_len > 0) {
		p->parts = xmalloc(sm->parts_len);
		memcpy(p->parts, sm->parts, sm->parts_len);
		p->parts_len = sm->parts_len;
	}
}

/* store_fetch callback: evaluates one message on its metadata. */
static int cmd_search_fetch_cb(void *ctx, const struct store_msg *sm)
{
	struct cmd_search *cs = ctx;
	const uint32_t *uids = cs->view->uids + cs->batch_start;
	while (cs->cursor < cs->batch_n && uids[cs->cursor] < sm->uid)
		cs->cursor++;
	if (cs->cursor == cs->batch_n || uids[cs->cursor] != sm->uid)
		return 0; /* not a message of this batch (cannot happen) */
	size_t idx = cs->cursor++;
	struct search_msg m = {
	    .seq = cs->batch_start + (uint32_t)idx + 1,
	    .uid = sm->uid,
	    .flags = sm->flags,
	    .keywords = sm->keywords,
	    .recent = view_is_recent(cs->view, sm->uid),
	    .internaldate = sm->internaldate,
	    .internaldate_tz = sm->internaldate_tz,
	    .size = sm->size,
	    .sent_date = cs->prog->need_sent_date ? sm->sent_date : -1,
	    .sent_tz = sm->sent_tz,
	};
	enum search_result r = search_eval(cs->prog, &m);
	cs->verdict[idx] = (unsigned char)r;
	if (r == SEARCH_MAYBE)
		cmd_search_add_pending(cs, idx, &m, sm);
	return 0;
}

/* Starts the next batch: metadata of up to CMD_SEARCH_BATCH messages. */
static enum store_err cmd_search_fetch_batch(struct cmd_search *cs)
{
	uint32_t n = cs->count - cs->next;
	if (n > CMD_SEARCH_BATCH)
		n = CMD_SEARCH_BATCH;
	cs->batch_start = cs->next;
	cs->batch_n = n;
	cs->next += n;
	cs->cursor = 0;
	memset(cs->verdict, SEARCH_NO, n);
	cmd_search_clear_pending(cs);
	unsigned fields = cs->prog->need_sent_date || cs->need_parts ? STORE_FETCH_SUMMARY : 0;
	return store_fetch(cs->view->mb, cs->view->uids + cs->batch_start, n, fields,
	                   cmd_search_fetch_cb, cs);
}

/* The message's bytes: small messages are read into a buffer reused for
 * the whole search (a mapping per message costs an mmap/munmap pair and
 * TLB flushes on every core); large ones are mapped, so that a header
 * key touches only the pages it reads. NULL on I/O failure. */
static const void *cmd_search_body_bytes(struct cmd_search *cs, struct store_body *b, uint64_t size)
{
	if (size == 0)
		return "";
	if (size > CMD_SEARCH_READ_MAX)
		return store_body_map(b);
	if (size > cs->buf_cap) {
		free(cs->buf);
		cs->buf_cap = (size_t)size;
		cs->buf = xmalloc(cs->buf_cap);
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = store_body_read(b, cs->buf + got, (size_t)size - got, got);
		if (n <= 0)
			return NULL;
		got += (size_t)n;
	}
	return cs->buf;
}

/* Reads one undecided message and evaluates it with its text. A message
 * expunged meanwhile does not match. */
static enum store_err cmd_search_scan_one(struct cmd_search *cs, struct cmd_search_pending *p,
                                          uint64_t *bytes_r)
{
	struct store_body *b;
	enum store_err err = store_body_open(cs->view->mb, p->msg.uid, &b);
	if (err == STORE_ERR_EXPUNGED)
		return STORE_OK;
	if (err != STORE_OK)
		return err;
	uint64_t size = store_body_size(b);
	const void *data = cmd_search_body_bytes(cs, b, size);
	if (data == NULL) {
		store_body_close(&b);
		return STORE_ERR_IO;
	}
	struct cmd_search_text text = {data, (size_t)size, p->parts, p->parts_len};
	p->msg.text = cmd_search_text_fn;
	p->msg.text_ctx = &text;
	cs->verdict[p->idx] = (unsigned char)search_eval(cs->prog, &p->msg);
	p->msg.text = NULL;
	store_body_close(&b);
	*bytes_r += size;
	return STORE_OK;
}

static uint64_t cmd_search_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Reads undecided messages until the slice's budget (bytes or time) is
 * spent: other sessions on this loop wait at most about one slice. */
static enum store_err cmd_search_scan(struct cmd_search *cs)
{
	uint64_t bytes = 0, start = cmd_search_now_us();
	while (cs->next_pending < cs->n_pending && bytes < CMD_SEARCH_SCAN_BYTES &&
	       cmd_search_now_us() - start < CMD_SEARCH_SLICE_US) {
		enum store_err err =
		    cmd_search_scan_one(cs, &cs->pending[cs->next_pending], &bytes);
		if (err != STORE_OK)
			return err;
		cs->next_pending++;
	}
	return STORE_OK;
}

/* The index decided every text key and nothing needs metadata: the
 * view's UIDs (and \Recent) are all the evaluation needs. */
static void cmd_search_eval_uids(struct cmd_search *cs)
{
	uint32_t end = cs->count - cs->next > CMD_SEARCH_UID_CHUNK ? cs->next + CMD_SEARCH_UID_CHUNK
	                                                          : cs->count;
	for (; cs->next < end; cs->next++) {
		uint32_t uid = cs->view->uids[cs->next];
		struct search_msg m = {
		    .seq = cs->next + 1,
		    .uid = uid,
		    .recent = view_is_recent(cs->view, uid),
		    .sent_date = -1,
		};
		if (search_eval(cs->prog, &m) == SEARCH_YES)
			cmd_search_add_result(cs, cs->next + 1);
	}
}

/* The batch is decided: its matches join the result, in order. */
static void cmd_search_flush_batch(struct cmd_search *cs)
{
	for (uint32_t i = 0; i < cs->batch_n; i++) {
		if (cs->verdict[i] == SEARCH_YES)
			cmd_search_add_result(cs, cs->batch_start + i + 1);
	}
	cs->batch_n = 0;
	cmd_search_clear_pending(cs);
}

/* RFC 5182 §2.1: "$" holds every match, except that with MIN and/or MAX
 * but neither ALL nor COUNT it holds just the messages those return. */
static void cmd_search_save(struct cmd_search *cs, unsigned opts)
{
	struct view *v = cs->view;
	free(v->saved);
	v->saved = NULL;
	v->n_saved = 0;
	if (cs->n_res == 0)
		return;
	v->saved = xmalloc(cs->n_res * sizeof(*v->saved));
	bool all = (opts & (SEARCH_RETURN_ALL | SEARCH_RETURN_COUNT)) != 0 ||
	           (opts & (SEARCH_RETURN_MIN | SEARCH_RETURN_MAX)) == 0;
	for (size_t i = 0; i < cs->n_res; i++) {
		bool keep = all || (i == 0 && (opts & SEARCH_RETURN_MIN)) ||
		            (i == cs->n_res - 1 && (opts & SEARCH_RETURN_MAX));
		if (keep)
			v->saved[v->n_saved++] = v->uids[cs->res[i] - 1];
	}
}

/* The head of "* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL
 * set]" (RFC 9051 §7.3.4) up to the set; MIN, MAX and ALL are left out
 * when nothing matched. */
static void cmd_search_esearch_head(const struct cmd_search *cs, struct buf *out)
{
	buf_append_str(out, "* ESEARCH (TAG ");
	resp_append_nstring(out, cs->tag, strlen(cs->tag), 0);
	buf_append_str(out, ")");
	if (cs->uid)
		buf_append_str(out, " UID");
	if (cs->n_res > 0 && (cs->opts & SEARCH_RETURN_MIN))
		buf_printf(out, " MIN %u", cs->res[0]);
	if (cs->n_res > 0 && (cs->opts & SEARCH_RETURN_MAX))
		buf_printf(out, " MAX %u", cs->res[cs->n_res - 1]);
	if (cs->opts & SEARCH_RETURN_COUNT)
		buf_printf(out, " COUNT %zu", cs->n_res);
	if (cs->n_res > 0 && (cs->opts & SEARCH_RETURN_ALL))
		buf_append_str(out, " ALL ");
}

/* Evaluation is over: saves "$", turns the result into UIDs for UID
 * SEARCH and writes the head of the answer. The numbers follow in chunks
 * (cmd_search_output): a large result never sits whole in the output
 * buffer. */
static void cmd_search_begin_output(struct session *s, struct cmd_search *cs)
{
	bool esearch = cs->prog->has_return || session_rev2(s);
	/* RFC 9051 §6.4.4: without RETURN, an IMAP4rev2 answer is ALL. */
	cs->opts = cs->prog->has_return ? cs->prog->return_opts : SEARCH_RETURN_ALL;
	if (cs->opts & SEARCH_RETURN_SAVE)
		cmd_search_save(cs, cs->opts);
	if (cs->uid) {
		for (size_t i = 0; i < cs->n_res; i++)
			cs->res[i] = cs->view->uids[cs->res[i] - 1];
	}
	cs->output = true;
	cs->out_pos = 0;
	cs->out_mode = OUT_NONE;
	struct buf out = {0};
	if (!esearch) {
		buf_append_str(&out, "* SEARCH");
		cs->out_mode = OUT_LIST;
	} else if (cs->opts != SEARCH_RETURN_SAVE) {
		/* RFC 5182 §2.1: RETURN (SAVE) alone sends no ESEARCH. */
		cmd_search_esearch_head(cs, &out);
		cs->out_mode = cs->n_res > 0 && (cs->opts & SEARCH_RETURN_ALL) ? OUT_SET : OUT_LINE;
	}
	if (out.len > 0)
		session_write(s, out.data, out.len);
	buf_release(&out);
}

/* Writes the next chunk of numbers; at the end the CRLF and the tagged
 * OK. Returns true when done. A set chunk ends at a range boundary so the
 * ranges stay compressed. */
static bool cmd_search_output(struct session *s, struct cmd_search *cs)
{
	bool list = cs->out_mode == OUT_LIST, set = cs->out_mode == OUT_SET;
	size_t end = cs->out_pos + CMD_SEARCH_OUT_CHUNK;
	if (end > cs->n_res || !(list || set))
		end = cs->n_res;
	while (set && end < cs->n_res && cs->res[end] == cs->res[end - 1] + 1)
		end++;
	struct buf out = {0};
	if (set) {
		if (cs->out_pos > 0)
			buf_append(&out, ",", 1);
		search_append_set(&out, cs->res + cs->out_pos, end - cs->out_pos);
	}
	for (size_t i = cs->out_pos; list && i < end; i++)
		buf_printf(&out, " %u", cs->res[i]);
	cs->out_pos = end;
	if (end == cs->n_res && cs->out_mode != OUT_NONE)
		buf_append_str(&out, "\r\n");
	if (out.len > 0)
		session_write(s, out.data, out.len);
	buf_release(&out);
	if (end < cs->n_res)
		return false;
	resp_tagged(s, cs->tag, RESP_OK, RESP_CODE_NONE, NULL,
	            cs->uid ? "UID SEARCH completed" : "SEARCH completed");
	return true;
}

/* A failed search with SAVE empties "$" (RFC 5182 §2.1). */
static void cmd_search_forget_saved(struct view *v, unsigned return_opts)
{
	if (v == NULL || !(return_opts & SEARCH_RETURN_SAVE))
		return;
	free(v->saved);
	v->saved = NULL;
	v->n_saved = 0;
}

/* The producer: one slice of work per call. */
static bool cmd_search_produce(struct session *s)
{
	struct cmd_search *cs = s->producer_ctx;
	enum store_err err = STORE_OK;
	if (cs->output)
		return cmd_search_output(s, cs);
	if (cs->next_pending < cs->n_pending) {
		err = cmd_search_scan(cs);
	} else if (cs->uids_only && cs->next < cs->count) {
		cmd_search_eval_uids(cs);
	} else if (cs->next < cs->count) {
		err = cmd_search_fetch_batch(cs);
	} else if (cs->batch_n == 0) {
		cmd_search_begin_output(s, cs);
		return cmd_search_output(s, cs);
	}
	if (err != STORE_OK) {
		cmd_search_forget_saved(cs->view, cs->prog->return_opts);
		struct imap_command c = {.tag = cs->tag, .name = "SEARCH"};
		cmd_store_error(s, &c, err, false);
		return true;
	}
	if (cs->batch_n > 0 && cs->next_pending == cs->n_pending)
		cmd_search_flush_batch(cs);
	return false;
}

/* Replies to a program that did not parse: BAD, or NO [BADCHARSET]. */
static enum cmd_result cmd_search_refuse(struct session *s, const struct imap_command *cmd,
                                         enum search_parse_status st, const char *error)
{
	if (st == SEARCH_PARSE_BADCHARSET) {
		/* RFC 9051 §6.4.4: an unsupported charset is NO, not BAD. */
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_BADCHARSET, SEARCH_CHARSETS, error);
		return CMD_DONE;
	}
	return cmd_bad(s, cmd, error);
}

/* --- the full-text index --- */

/* The keys the index can answer exactly, as queries. Returns whether
 * there is any (then the index job runs first). */
static bool cmd_search_fts_prepare(struct session *s, struct cmd_search *cs)
{
	if (!s->ctx->cfg->fts || s->ctx->index_pool == NULL || cs->count == 0)
		return false;
	size_t n_keys = 0;
	cs->keys = search_program_index_keys(cs->prog, &n_keys);
	cs->n_keys_total = n_keys;
	if (n_keys == 0)
		return false;
	cs->fq = xcalloc(n_keys, sizeof(*cs->fq));
	cs->key_of = xcalloc(n_keys, sizeof(*cs->key_of));
	struct buf folded = {0};
	for (size_t k = 0; k < n_keys; k++) {
		folded.len = folded.rpos = 0;
		const struct search_index_key *key = &cs->keys[k];
		int field = key->kind == SEARCH_TEXT_HEADER ? mail_search_field(key->field) : 0;
		if (field < 0 || !mail_search_index_needle(key->needle, &folded))
			continue; /* a field not held apart, too short, not UTF-8: scanned */
		struct store_fts_query *q = &cs->fq[cs->n_fq];
		q->needle = xstrndup(buf_rdata(&folded), buf_rlen(&folded));
		q->scope = key->kind == SEARCH_TEXT_HEADER ? STORE_FTS_FIELD
			   : key->kind == SEARCH_TEXT_BODY ? STORE_FTS_BODY
							   : STORE_FTS_TEXT;
		q->field = field;
		cs->key_of[cs->n_fq++] = k;
	}
	buf_release(&folded);
	return cs->n_fq > 0;
}

static uint64_t cmd_search_us_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (uint64_t)(t1.tv_sec - t0->tv_sec) * 1000000u +
	       (uint64_t)(t1.tv_nsec - t0->tv_nsec) / 1000;
}

/* Store pool, normal priority: the index's answers as it stands (it
 * never indexes). Touches only cs's own fields. */
static void cmd_search_fts_work(void *ctx)
{
	struct cmd_search *cs = ctx;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cs->fts_err = store_fts_search_indexed(cs->mb, cs->fq, cs->n_fq, &cs->fts_missing,
	                                       &cs->n_fts_missing, &cs->fts_info);
	cs->fts_us = cmd_search_us_since(&t0);
}

/* Messages not indexed yet are indexed in the background, one time
 * budget (fts_index_budget_ms) per job on the index pool (nice 10), each
 * job queueing the next until the mailbox is done or shutdown begins;
 * the store hands the first job to one search at a time (index_later).
 * A job opens the user and the mailbox itself: the session may be gone
 * by then. */
struct cmd_search_fts_bg {
	struct imap_ctx *ctx;
	char *user;
	char *mailbox;
};

static void cmd_search_fts_background(void *arg)
{
	struct cmd_search_fts_bg *b = arg;
	struct store_user *u = NULL;
	struct store_mailbox *mb = NULL;
	struct store_mailbox_info info;
	struct store_fts_info fi = {0};
	bool more = false;
	if (!atomic_load(&b->ctx->stopping) &&
	    store_user_open(b->ctx->store, b->user, &u) == STORE_OK) {
		if (store_mailbox_open(u, b->mailbox, false, &mb, &info) == STORE_OK) {
			store_mailbox_info_free(&info);
			uint32_t *missing = NULL;
			size_t n_missing = 0;
			more = store_fts_search(mb, NULL, 0, &missing, &n_missing, &fi) == STORE_OK &&
			       fi.deferred > 0;
			free(missing);
			store_mailbox_close(&mb);
		}
		store_user_unref(&u);
	}
	log_debug("event=search_fts_background user=%s indexed=%zu deferred=%zu", b->user,
		  fi.indexed, fi.deferred);
	if (more && !atomic_load(&b->ctx->stopping)) {
		workpool_submit(b->ctx->index_pool, NULL, cmd_search_fts_background, NULL, b);
		return;
	}
	free(b->user);
	free(b->mailbox);
	free(b);
}

static void cmd_search_fts_continue(struct session *s)
{
	struct cmd_search_fts_bg *b = xcalloc(1, sizeof(*b));
	b->ctx = s->ctx;
	b->user = xstrdup(s->user);
	b->mailbox = xstrdup(s->view->name);
	workpool_submit(s->ctx->index_pool, NULL, cmd_search_fts_background, NULL, b);
}

/* Loop thread: the index answers go into the program, then the usual
 * producer runs (or the scan alone when the index failed). */
static void cmd_search_fts_done(void *ctx)
{
	struct cmd_search *cs = ctx;
	struct session *s = cs->session;
	cs->session = NULL;
	if (!session_job_end(s)) {
		cmd_search_free(cs);
		return;
	}
	/* The queries ran beside the loops, at their priority: the user's
	 * budget pays for them (indexing at nice 10 takes only idle time). */
	session_charge_pool_time(s, cs->fts_us);
	if (cs->fts_err == STORE_OK) {
		for (size_t i = 0; i < cs->n_fq; i++)
			search_index_key_set_hits(&cs->keys[cs->key_of[i]], cs->fq[i].uids,
			                          cs->fq[i].n_uids, cs->fts_missing,
			                          cs->n_fts_missing);
		bool all_keys = cs->n_fq == cs->n_keys_total;
		cs->need_parts = cs->prog->need_parts && !(all_keys && cs->n_fts_missing == 0);
		cs->uids_only = cs->n_fts_missing == 0 && !search_program_needs_meta(cs->prog);
		if (cs->fts_info.index_later)
			cmd_search_fts_continue(s);
	}
	log_debug("event=search_fts sid=%016llx err=%d keys=%zu indexed=%zu deferred=%zu dropped=%zu "
	          "rebuilt=%d missing=%zu uids_only=%d us=%llu",
	          (unsigned long long)s->id, (int)cs->fts_err, cs->n_fq, cs->fts_info.indexed,
	          cs->fts_info.deferred,
	          cs->fts_info.dropped, (int)cs->fts_info.rebuilt, cs->n_fts_missing,
	          (int)cs->uids_only, (unsigned long long)cs->fts_us);
	session_start_producer(s, cmd_search_produce, cmd_search_free, cs);
}

enum cmd_result cmd_search_run(struct session *s, const struct imap_command *cmd,
                               const struct imap_arg *args, size_t nargs, bool uid)
{
	struct search_program *prog;
	unsigned return_opts;
	const char *error;
	enum search_parse_status st = search_parse(args, nargs, &prog, &return_opts, &error);
	if (st != SEARCH_PARSE_OK) {
		cmd_search_forget_saved(s->view, return_opts);
		return cmd_search_refuse(s, cmd, st, error);
	}
	struct view *v = s->view;
	struct cmd_search *cs = xcalloc(1, sizeof(*cs));
	cs->prog = prog;
	cs->uid = uid;
	cs->tag = xstrdup(cmd->tag);
	cs->view = v;
	cs->count = (uint32_t)v->count;
	search_program_bind(prog, cs->count, v->count > 0 ? v->uids[v->count - 1] : 0, v->saved,
	                    v->n_saved);
	cs->verdict = xmalloc(CMD_SEARCH_BATCH);
	/* Only text keys leave messages undecided after the metadata. */
	if (prog->need_text)
		cs->pending = xmalloc(CMD_SEARCH_BATCH * sizeof(*cs->pending));
	cs->need_parts = prog->need_parts;
	if (cmd_search_fts_prepare(s, cs)) {
		/* The session waits (CMD_ASYNC without a producer) until the
		 * index job is done; cmd_search_fts_done starts the producer. */
		cs->session = s;
		cs->mb = v->mb;
		session_job_begin(s);
		workpool_submit(s->ctx->store_pool, conn_loop(s->conn), cmd_search_fts_work,
		                cmd_search_fts_done, cs);
		return CMD_ASYNC;
	}
	session_set_producer(s, cmd_search_produce, cmd_search_free, cs);
	return CMD_ASYNC;
}

enum cmd_result cmd_search(struct session *s, const struct imap_command *cmd)
{
	return cmd_search_run(s, cmd, cmd->args, cmd->nargs, false);
}
