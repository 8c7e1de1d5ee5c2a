/* lmtp_deliver: the store work of LMTP, on the store pool.
 *
 * RCPT: opening a user's mail may run recovery and looking up the detail
 * folder reads the index, so both run on a store worker, not on the loop.
 * The accepted recipient keeps its store_user reference until the
 * transaction ends.
 *
 * The final dot: one job delivers to every recipient in turn, each through
 * store_append_begin/add/commit exactly like IMAP APPEND, with its own
 * Return-Path: and Received: header lines in front of the message bytes
 * (RFC 5321 §4.4: the delivery agent adds Return-Path; the Received line
 * names this recipient in its "for" clause). Only when the job is back on
 * the loop are the replies written, one per recipient in RCPT order (RFC
 * 2033 §4.2), so a 250 always follows a commit that returned STORE_OK.
 *
 * Ownership: the job takes the recipients and the message from the
 * session, so nothing the worker touches belongs to the session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "lmtp/lmtp_session.h"
#include "metrics/metrics.h"

/* --- RCPT --- */

struct lmtp_rcpt_job {
	struct lmtp_session *s;
	struct store *store;
	char *addr, *user, *detail;
	bool detail_to_folder;
	enum store_err err;
	struct store_user *u;
	const char *mailbox;    /* "INBOX" or detail */
	uint64_t declared_size; /* MAIL FROM's SIZE=, else 0 */
	bool over_quota;
	bool too_big; /* the declared size alone exceeds the quota */
};

/* Pool thread. */
static void lmtp_rcpt_work(void *arg)
{
	struct lmtp_rcpt_job *j = arg;
	j->mailbox = "INBOX";
	j->err = store_user_open(j->store, j->user, &j->u);
	if (j->err != STORE_OK)
		return;
	struct store_status st;
	if (j->detail != NULL && j->detail_to_folder && store_name_valid(j->detail) &&
	    strcmp(j->detail, "INBOX") != 0 && store_status(j->u, j->detail, &st) == STORE_OK)
		j->mailbox = j->detail;
	/* A user already over quota, or without room for the size MAIL
	 * declared (RFC 1870 §6.1), is refused now rather than after DATA. */
	bool too_big = false;
	if (store_quota_check(j->u, j->declared_size, &too_big) == STORE_ERR_OVERQUOTA) {
		j->over_quota = true;
		j->too_big = too_big;
	}
}

static void lmtp_rcpt_job_free(struct lmtp_rcpt_job *j)
{
	store_user_unref(&j->u);
	free(j->addr);
	free(j->user);
	free(j->detail);
	free(j);
}

/* Loop thread. */
static void lmtp_rcpt_done(void *arg)
{
	struct lmtp_rcpt_job *j = arg;
	struct lmtp_session *s = j->s;
	if (!lmtp_session_job_end(s)) {
		lmtp_rcpt_job_free(j);
		return;
	}
	if (j->err != STORE_OK) {
		log_warn("event=lmtp_rcpt sid=%016llx user=%s result=fail error=\"%s\"",
		         (unsigned long long)s->id, j->user, store_err_text(j->err));
		lmtp_session_reply(s, "451 4.3.0 <%s> Temporary failure, try again later", j->addr);
	} else if (j->over_quota && j->too_big) {
		lmtp_session_reply(s, "552 5.2.2 <%s> Message exceeds the mailbox quota", j->addr);
	} else if (j->over_quota) {
		lmtp_session_reply(s, "452 4.2.2 <%s> Mailbox full", j->addr);
	} else if (s->state != LMTP_STATE_MAIL) {
		/* Cannot happen (the session waits for the job); be safe. */
		lmtp_session_reply(s, "451 4.3.0 <%s> Transaction ended", j->addr);
	} else {
		s->rcpts = xrealloc(s->rcpts, (s->n_rcpts + 1) * sizeof(*s->rcpts));
		struct lmtp_rcpt *r = &s->rcpts[s->n_rcpts++];
		memset(r, 0, sizeof(*r));
		r->addr = j->addr;
		r->user = j->user;
		r->mailbox = xstrdup(j->mailbox);
		r->u = j->u;
		j->addr = j->user = NULL;
		j->u = NULL;
		lmtp_session_reply(s, "250 2.1.5 <%s> OK", r->addr);
	}
	lmtp_rcpt_job_free(j);
	lmtp_session_resume(s);
}

void lmtp_deliver_rcpt(struct lmtp_session *s, const char *addr, const char *user,
                       const char *detail)
{
	struct lmtp_rcpt_job *j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->store = s->ctx->p.store;
	j->addr = xstrdup(addr);
	j->user = xstrdup(user);
	j->detail = detail != NULL ? xstrdup(detail) : NULL;
	j->detail_to_folder = atomic_load(&s->ctx->settings.detail_to_folder);
	j->declared_size = s->declared_size;
	lmtp_session_job_begin(s);
	workpool_submit(s->ctx->p.store_pool, conn_loop(s->conn), lmtp_rcpt_work, lmtp_rcpt_done,
	                j);
}

/* --- the message --- */

struct lmtp_delivery {
	struct lmtp_session *s;
	struct lmtp_rcpt *rcpts;
	size_t n_rcpts;
	struct buf msg;
	char *sender, *lhlo, *peer, *by;
	uint64_t sid;
	uint64_t start_ns;
};

/* Return-Path: and Received: for one recipient (RFC 5322 §3.6.7, RFC 5321
 * §4.4; "with LMTP" is registered by RFC 3848). */
static void lmtp_trace_headers(const struct lmtp_delivery *d, const char *rcpt, struct buf *out)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_printf(out, "Return-Path: <%s>\r\n", d->sender);
	buf_printf(out,
	           "Received: from %s (%s)\r\n\tby %s with LMTP id %016llx\r\n\tfor <%s>; %s\r\n",
	           d->lhlo, d->peer, d->by, (unsigned long long)d->sid, rcpt, date);
}

static enum store_err lmtp_deliver_into(struct lmtp_rcpt *r, const char *mailbox,
                                        const struct store_new_msg *m)
{
	struct store_append *a = NULL;
	enum store_err err = store_append_begin(r->u, mailbox, &a);
	if (err != STORE_OK)
		return err;
	err = store_append_add(a, m, &r->uid);
	if (err != STORE_OK) {
		store_append_abort(&a);
		return err;
	}
	uint32_t uidvalidity;
	return store_append_commit(&a, &uidvalidity);
}

/* Pool thread: one recipient. */
static void lmtp_deliver_one(struct lmtp_delivery *d, struct lmtp_rcpt *r)
{
	struct buf data = {0};
	lmtp_trace_headers(d, r->addr, &data);
	buf_append(&data, buf_rdata(&d->msg), buf_rlen(&d->msg));
	struct store_new_msg m = {
	    .data = buf_rdata(&data), .len = buf_rlen(&data), .internaldate = -1};
	r->size = m.len;
	r->err = lmtp_deliver_into(r, r->mailbox, &m);
	if ((r->err == STORE_ERR_NOTFOUND || r->err == STORE_ERR_NOSELECT) &&
	    strcmp(r->mailbox, "INBOX") != 0) {
		/* The detail folder went away since RCPT: INBOX, as if it never
		 * existed. */
		free(r->mailbox);
		r->mailbox = xstrdup("INBOX");
		r->err = lmtp_deliver_into(r, r->mailbox, &m);
	}
	/* RFC 3463: X.2.2 mailbox full; 552 when this message alone can never
	 * fit (a retry is pointless), 452 when others may be expunged first. */
	if (r->err == STORE_ERR_OVERQUOTA)
		(void)store_quota_check(r->u, m.len, &r->too_big);
	buf_release(&data);
}

static void lmtp_deliver_work(void *arg)
{
	struct lmtp_delivery *d = arg;
	for (size_t i = 0; i < d->n_rcpts; i++)
		lmtp_deliver_one(d, &d->rcpts[i]);
}

/* The reply for one recipient (and its metrics result). */
static void lmtp_deliver_reply(struct lmtp_session *s, const struct lmtp_rcpt *r)
{
	if (r->err == STORE_OK)
		lmtp_session_reply(s, "250 2.0.0 <%s> Delivered (uid %u)", r->addr, r->uid);
	else if (r->err == STORE_ERR_OVERQUOTA && r->too_big)
		lmtp_session_reply(s, "552 5.2.2 <%s> Message exceeds the mailbox quota", r->addr);
	else if (r->err == STORE_ERR_OVERQUOTA)
		lmtp_session_reply(s, "452 4.2.2 <%s> Mailbox full", r->addr);
	else
		lmtp_session_reply(s, "451 4.3.0 <%s> Temporary failure, try again later", r->addr);
}

static const char *lmtp_deliver_result(const struct lmtp_rcpt *r, enum metrics_lmtp_result *m)
{
	if (r->err == STORE_OK) {
		*m = METRICS_LMTP_OK;
		return "ok";
	}
	if (r->err == STORE_ERR_OVERQUOTA) {
		*m = METRICS_LMTP_OVERQUOTA;
		return "overquota";
	}
	*m = METRICS_LMTP_TEMPFAIL;
	return "tempfail";
}

/* One log line per recipient: envelope, where it went, never content. */
static void lmtp_deliver_log(const struct lmtp_delivery *d, const struct lmtp_rcpt *r)
{
	enum metrics_lmtp_result mres;
	const char *result = lmtp_deliver_result(r, &mres);
	size_t size = r->size;
	metrics_lmtp_delivery(mres, r->err == STORE_OK ? size : 0);
	char from[300], to[300], mbox[300];
	log_escape(from, sizeof(from), d->sender, strlen(d->sender));
	log_escape(to, sizeof(to), r->addr, strlen(r->addr));
	log_escape(mbox, sizeof(mbox), r->mailbox, strlen(r->mailbox));
	log_info("event=lmtp_delivery sid=%016llx from=%s to=%s user=%s mailbox=%s uid=%u "
	         "size=%zu result=%s%s%s ms=%llu",
	         (unsigned long long)d->sid, from, to, r->user, mbox,
	         r->err == STORE_OK ? r->uid : 0, size, result, r->err != STORE_OK ? " error=" : "",
	         r->err != STORE_OK ? store_err_text(r->err) : "",
	         (unsigned long long)((metrics_now_ns() - d->start_ns) / 1000000));
}

static void lmtp_delivery_free(struct lmtp_delivery *d)
{
	for (size_t i = 0; i < d->n_rcpts; i++) {
		free(d->rcpts[i].addr);
		free(d->rcpts[i].user);
		free(d->rcpts[i].mailbox);
		store_user_unref(&d->rcpts[i].u);
	}
	free(d->rcpts);
	buf_release(&d->msg);
	free(d->sender);
	free(d->lhlo);
	free(d->peer);
	free(d->by);
	free(d);
}

/* Loop thread. The deliveries happened whether or not the client is
 * still there: log them either way. */
static void lmtp_deliver_done(void *arg)
{
	struct lmtp_delivery *d = arg;
	struct lmtp_session *s = d->s;
	for (size_t i = 0; i < d->n_rcpts; i++)
		lmtp_deliver_log(d, &d->rcpts[i]);
	bool alive = lmtp_session_job_end(s); /* false: s is freed */
	if (alive) {
		for (size_t i = 0; i < d->n_rcpts; i++)
			lmtp_deliver_reply(s, &d->rcpts[i]);
		lmtp_session_reset(s);
	}
	lmtp_delivery_free(d);
	if (alive)
		lmtp_session_resume(s);
}

void lmtp_deliver_message(struct lmtp_session *s)
{
	struct lmtp_delivery *d = xcalloc(1, sizeof(*d));
	d->s = s;
	d->rcpts = s->rcpts;
	d->n_rcpts = s->n_rcpts;
	s->rcpts = NULL;
	s->n_rcpts = 0;
	d->msg = s->msg;
	memset(&s->msg, 0, sizeof(s->msg));
	d->sender = xstrdup(s->sender != NULL ? s->sender : "");
	d->lhlo = xstrdup(s->lhlo_name != NULL ? s->lhlo_name : "unknown");
	d->peer = xstrdup(conn_peer_ip(s->conn));
	d->by = xstrndup(s->ctx->server_name, strcspn(s->ctx->server_name, " "));
	d->sid = s->id;
	d->start_ns = metrics_now_ns();
	lmtp_session_job_begin(s);
	workpool_submit(s->ctx->p.store_pool, conn_loop(s->conn), lmtp_deliver_work,
	                lmtp_deliver_done, d);
}
