/* lmtp_session: the LMTP state machine and input pump (see
 * lmtp_session.h).
 *
 * Reply codes: RFC 5321 §4.2 for the basic codes and RFC 3463 for the
 * enhanced ones (advertised with ENHANCEDSTATUSCODES, RFC 2034), so every
 * reply after the greeting carries "x.y.z". Command lines are at most
 * LMTP_MAX_LINE bytes: RFC 5321 §4.5.3.1.4 allows 512 plus what the
 * advertised extensions add, and MAIL with SIZE and BODY stays far below;
 * a longer line is skipped to its end (never stored) and answered with
 * 500 5.5.2. */
#include "lmtp/lmtp_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "metrics/metrics.h"

#define LMTP_MAX_LINE 2048
/* Above this much queued output, stop parsing until the client reads. */
#define LMTP_OUTPUT_HIGH 65536
/* Bad commands before the session is ended (a client in a loop). */
#define LMTP_MAX_ERRORS     20
#define LMTP_CLOSE_FLUSH_MS 5000

static void lmtp_session_process(struct lmtp_session *s);

void lmtp_session_reply(struct lmtp_session *s, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_append(&b, "\r\n", 2);
	conn_write(s->conn, buf_rdata(&b), buf_rlen(&b));
	buf_release(&b);
}

static void lmtp_session_close(struct lmtp_session *s, const char *reason)
{
	s->state = LMTP_STATE_QUIT;
	timer_stop(conn_loop(s->conn), &s->idle_timer);
	conn_close_after_flush(s->conn, reason, LMTP_CLOSE_FLUSH_MS);
}

void lmtp_session_reset(struct lmtp_session *s)
{
	free(s->sender);
	s->sender = NULL;
	s->declared_size = 0;
	for (size_t i = 0; i < s->n_rcpts; i++) {
		free(s->rcpts[i].addr);
		free(s->rcpts[i].user);
		free(s->rcpts[i].mailbox);
		/* A last reference closes the user's index (fsyncs): off the
		 * loop (the pool outlives every session: net_server_quiesce). */
		if (s->rcpts[i].u != NULL)
			workpool_submit(s->ctx->p.store_pool, NULL, store_user_unref_job, NULL,
					s->rcpts[i].u);
		s->rcpts[i].u = NULL;
	}
	free(s->rcpts);
	s->rcpts = NULL;
	s->n_rcpts = 0;
	buf_release(&s->msg);
	s->msg_bytes = 0;
	s->msg_too_big = false;
	if (s->state != LMTP_STATE_GREETED && s->state != LMTP_STATE_QUIT)
		s->state = LMTP_STATE_READY;
}

/* A protocol error: counted, and too many end the session. */
static void lmtp_session_error(struct lmtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void lmtp_session_error(struct lmtp_session *s, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	lmtp_session_reply(s, "%s", buf_rdata(&b));
	buf_release(&b);
	if (++s->errors >= LMTP_MAX_ERRORS) {
		lmtp_session_reply(s, "421 4.7.0 %s Too many errors, closing connection",
		                   s->ctx->server_name);
		lmtp_session_close(s, "too many errors");
	}
}

/* --- commands --- */

/* LHLO's argument: a domain or address literal. Only what may appear in
 * the Received: header is accepted (printable ASCII, no blanks). */
static bool lmtp_lhlo_name_valid(const char *name)
{
	if (name[0] == '\0' || strlen(name) > 255)
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 32 || c >= 127 || c == '(' || c == ')' || c == ';' || c == '\\')
			return false;
	}
	return true;
}

/* RFC 2033 §4.1: LHLO replaces EHLO; its reply lists the extensions. */
static void lmtp_cmd_lhlo(struct lmtp_session *s, const char *args)
{
	if (!lmtp_lhlo_name_valid(args)) {
		lmtp_session_error(s, "501 5.5.4 Syntax: LHLO hostname");
		return;
	}
	free(s->lhlo_name);
	s->lhlo_name = xstrdup(args);
	if (s->state == LMTP_STATE_GREETED)
		s->state = LMTP_STATE_READY;
	lmtp_session_reset(s);
	lmtp_session_reply(s, "250-%s", s->ctx->server_name);
	lmtp_session_reply(s, "250-PIPELINING");
	lmtp_session_reply(s, "250-ENHANCEDSTATUSCODES");
	lmtp_session_reply(s, "250-8BITMIME");
	lmtp_session_reply(s, "250 SIZE %zu", atomic_load(&s->ctx->settings.max_message_size));
}

/* MAIL's parameters: SIZE (RFC 1870 §6) and BODY (RFC 6152 §3). Returns
 * false after replying. */
static bool lmtp_mail_params(struct lmtp_session *s, const struct lmtp_mail_args *a)
{
	for (size_t i = 0; i < a->n_params; i++) {
		const struct lmtp_param *p = &a->params[i];
		if (strcmp(p->key, "SIZE") == 0) {
			char *end;
			if (p->value == NULL || p->value[0] < '0' || p->value[0] > '9') {
				lmtp_session_error(s, "501 5.5.4 Invalid SIZE parameter");
				return false;
			}
			unsigned long long n = strtoull(p->value, &end, 10);
			if (*end != '\0') {
				lmtp_session_error(s, "501 5.5.4 Invalid SIZE parameter");
				return false;
			}
			s->declared_size = n;
			if (n > atomic_load(&s->ctx->settings.max_message_size)) {
				lmtp_session_reply(s,
				                   "552 5.3.4 Message size exceeds fixed maximum "
				                   "message size");
				return false;
			}
		} else if (strcmp(p->key, "BODY") == 0) {
			if (p->value == NULL || (strcasecmp(p->value, "7BIT") != 0 &&
			                         strcasecmp(p->value, "8BITMIME") != 0)) {
				lmtp_session_error(s, "501 5.5.4 Invalid BODY parameter");
				return false;
			}
		} else {
			/* RFC 5321 §4.1.1.11 */
			lmtp_session_error(s, "555 5.5.4 Unsupported parameter %s", p->key);
			return false;
		}
	}
	return true;
}

static void lmtp_cmd_mail(struct lmtp_session *s, const char *args)
{
	if (s->state != LMTP_STATE_READY) {
		lmtp_session_error(s, s->state == LMTP_STATE_GREETED
		                          ? "503 5.5.1 Send LHLO first"
		                          : "503 5.5.1 Nested MAIL command");
		return;
	}
	struct lmtp_mail_args a;
	const char *why;
	s->declared_size = 0;
	if (lmtp_parse_mail_args(args, false, &a, &why) < 0) {
		lmtp_session_error(s, "501 5.5.4 %s", why);
		return;
	}
	if (lmtp_mail_params(s, &a)) {
		s->sender = xstrdup(a.path.is_null ? "" : a.path.addr);
		s->state = LMTP_STATE_MAIL;
		lmtp_session_reply(s, "250 2.1.0 Sender <%s> OK", s->sender);
	}
	lmtp_mail_args_free(&a);
}

/* Finds the passdb user of a recipient, the way LOGIN names users: the
 * whole address first (passdb names may contain '@'), then the local
 * part; each with and then without its +detail. *user_r is malloc'd;
 * *detail_r points into path->local (NULL: none). Returns false when no
 * user matches; -1 in *tempfail_r when no passdb is loaded. */
static bool lmtp_find_user(struct lmtp_session *s, const struct lmtp_path *path, char **user_r,
                           const char **detail_r, bool *tempfail_r)
{
	*tempfail_r = false;
	struct passdb *db = s->ctx->p.passdb_get(s->ctx->p.passdb_ctx);
	if (db == NULL) {
		*tempfail_r = true;
		return false;
	}
	size_t base_len;
	const char *detail;
	lmtp_split_detail(path->local, s->ctx->detail_separator, &base_len, &detail);
	bool found = false;
	for (int pass = 0; pass < 4 && !found; pass++) {
		bool with_domain = pass % 2 == 0, whole = pass < 2;
		if ((with_domain && path->domain == NULL) || (!whole && detail == NULL))
			continue;
		struct buf b = {0};
		buf_append(&b, path->local, whole ? strlen(path->local) : base_len);
		if (with_domain)
			buf_printf(&b, "@%s", path->domain);
		if (passdb_user_name_valid(buf_rdata(&b)) &&
		    passdb_lookup(db, buf_rdata(&b)) != NULL) {
			found = true;
			*user_r = xstrdup(buf_rdata(&b));
			*detail_r = whole ? NULL : detail;
		}
		buf_release(&b);
	}
	passdb_unref(&db);
	return found;
}

static void lmtp_cmd_rcpt(struct lmtp_session *s, const char *args)
{
	if (s->state != LMTP_STATE_MAIL) {
		lmtp_session_error(s, "503 5.5.1 Need MAIL command first");
		return;
	}
	struct lmtp_mail_args a;
	const char *why;
	if (lmtp_parse_mail_args(args, true, &a, &why) < 0) {
		lmtp_session_error(s, "501 5.5.4 %s", why);
		return;
	}
	char *user = NULL;
	const char *detail = NULL;
	bool tempfail;
	if (a.n_params > 0) {
		lmtp_session_error(s, "555 5.5.4 Unsupported parameter %s", a.params[0].key);
	} else if (s->n_rcpts >= atomic_load(&s->ctx->settings.max_recipients)) {
		/* RFC 5321 §4.5.3.1.10: 452, and the client sends the rest later. */
		lmtp_session_reply(s, "452 4.5.3 Too many recipients");
	} else if (!lmtp_find_user(s, &a.path, &user, &detail, &tempfail)) {
		if (tempfail)
			lmtp_session_reply(s, "451 4.3.0 <%s> User database unavailable",
			                   a.path.addr);
		else
			lmtp_session_reply(s, "550 5.1.1 <%s> User unknown", a.path.addr);
	} else {
		lmtp_deliver_rcpt(s, a.path.addr, user, detail);
	}
	free(user);
	lmtp_mail_args_free(&a);
}

static void lmtp_cmd_data(struct lmtp_session *s, const char *args)
{
	if (s->state != LMTP_STATE_MAIL) {
		lmtp_session_error(s, "503 5.5.1 Need MAIL command first");
		return;
	}
	if (args[0] != '\0') {
		lmtp_session_error(s, "501 5.5.4 DATA takes no arguments");
		return;
	}
	/* RFC 2033 §4.2: DATA without a successful RCPT fails with 503. */
	if (s->n_rcpts == 0) {
		lmtp_session_error(s, "503 5.5.1 No valid recipients");
		return;
	}
	s->state = LMTP_STATE_DATA;
	lmtp_unstuff_init(&s->unstuff);
	s->msg_bytes = 0;
	s->msg_too_big = false;
	lmtp_session_reply(s, "354 Start mail input; end with <CRLF>.<CRLF>");
}

static void lmtp_session_command(struct lmtp_session *s, const char *line)
{
	const char *args;
	enum lmtp_verb verb = lmtp_parse_verb(line, &args);
	switch (verb) {
	case LMTP_VERB_LHLO:
		lmtp_cmd_lhlo(s, args);
		break;
	case LMTP_VERB_HELO:
	case LMTP_VERB_EHLO:
		/* RFC 2033 §4.1: an LMTP server must not accept HELO or EHLO. */
		lmtp_session_error(s, "500 5.5.1 This is LMTP: use LHLO (RFC 2033)");
		break;
	case LMTP_VERB_MAIL:
		lmtp_cmd_mail(s, args);
		break;
	case LMTP_VERB_RCPT:
		lmtp_cmd_rcpt(s, args);
		break;
	case LMTP_VERB_DATA:
		lmtp_cmd_data(s, args);
		break;
	case LMTP_VERB_RSET:
		if (args[0] != '\0') {
			lmtp_session_error(s, "501 5.5.4 RSET takes no arguments");
			break;
		}
		lmtp_session_reset(s);
		lmtp_session_reply(s, "250 2.0.0 OK");
		break;
	case LMTP_VERB_NOOP:
		lmtp_session_reply(s, "250 2.0.0 OK");
		break;
	case LMTP_VERB_VRFY:
		if (args[0] == '\0')
			lmtp_session_error(s, "501 5.5.4 Syntax: VRFY address");
		else /* RFC 5321 §3.5.3: no verification, no refusal either */
			lmtp_session_reply(s,
			                   "252 2.5.2 Cannot VRFY user, but will attempt delivery");
		break;
	case LMTP_VERB_QUIT:
		lmtp_session_reply(s, "221 2.0.0 %s Closing connection", s->ctx->server_name);
		lmtp_session_close(s, "quit");
		break;
	case LMTP_VERB_UNKNOWN:
		lmtp_session_error(s, "500 5.5.1 Command unrecognized");
		break;
	}
}

/* --- input --- */

/* DATA bytes: unstuffed into s->msg up to the size limit, then only
 * counted, so the session reaches the final dot in step with the client
 * (RFC 1870 §6.3) and answers 552 then. */
static void lmtp_session_data(struct lmtp_session *s, struct buf *in)
{
	size_t max = atomic_load(&s->ctx->settings.max_message_size);
	struct buf *out = s->msg_too_big ? NULL : &s->msg;
	size_t n = lmtp_unstuff_feed(&s->unstuff, buf_rdata(in), buf_rlen(in), out, &s->msg_bytes);
	buf_consume(in, n);
	if (!s->msg_too_big && s->msg_bytes > max) {
		s->msg_too_big = true;
		buf_release(&s->msg);
	}
	if (!s->unstuff.done)
		return;
	if (s->msg_too_big) {
		for (size_t i = 0; i < s->n_rcpts; i++) {
			lmtp_session_reply(s, "552 5.3.4 <%s> Message too big", s->rcpts[i].addr);
			metrics_lmtp_delivery(METRICS_LMTP_TOO_BIG, 0);
		}
		log_info("event=lmtp_reject sid=%016llx from=<%s> size=%llu reason=too_big",
		         (unsigned long long)s->id, s->sender, (unsigned long long)s->msg_bytes);
		lmtp_session_reset(s);
		return;
	}
	lmtp_deliver_message(s);
}

/* One command line, or the end of an overlong one. Returns false when
 * more input is needed. */
static bool lmtp_session_line(struct lmtp_session *s, struct buf *in)
{
	const char *data = buf_rdata(in);
	size_t avail = buf_rlen(in);
	const char *nl = memchr(data, '\n', avail);
	if (nl == NULL) {
		if (avail > LMTP_MAX_LINE || s->skipping) {
			s->skipping = true;
			buf_consume(in, avail);
		}
		return false;
	}
	size_t len = (size_t)(nl - data);
	bool skipped = s->skipping || len > LMTP_MAX_LINE;
	s->skipping = false;
	if (skipped) {
		buf_consume(in, len + 1);
		lmtp_session_error(s, "500 5.5.2 Line too long");
		return true;
	}
	char line[LMTP_MAX_LINE + 1];
	memcpy(line, data, len);
	buf_consume(in, len + 1);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL) {
		lmtp_session_error(s, "500 5.5.2 Syntax error");
		return true;
	}
	lmtp_session_command(s, line);
	return true;
}

static void lmtp_session_process(struct lmtp_session *s)
{
	struct buf *in = conn_input(s->conn);
	while (!s->busy && s->state != LMTP_STATE_QUIT && !conn_closing(s->conn)) {
		if (conn_output_pending(s->conn) > LMTP_OUTPUT_HIGH) {
			conn_pause_input(s->conn, true); /* on_drained resumes */
			break;
		}
		if (buf_rlen(in) == 0)
			break;
		if (s->state == LMTP_STATE_DATA)
			lmtp_session_data(s, in);
		else if (!lmtp_session_line(s, in))
			break;
	}
	if (!s->busy && conn_eof(s->conn) && !conn_closing(s->conn)) {
		/* The client is gone; an unfinished DATA delivers nothing. */
		if (s->state == LMTP_STATE_DATA)
			log_info("event=lmtp_abort sid=%016llx from=<%s> reason=eof_in_data",
			         (unsigned long long)s->id, s->sender);
		lmtp_session_close(s, "eof");
	}
	if (!conn_closing(s->conn))
		conn_flush(s->conn);
}

/* --- timers and jobs --- */

static void lmtp_session_timeout(void *ctx)
{
	struct lmtp_session *s = ctx;
	log_info("event=timeout kind=lmtp sid=%016llx ip=%s", (unsigned long long)s->id,
	         conn_peer_ip(s->conn));
	metrics_timeout(METRICS_TIMEOUT_IDLE);
	lmtp_session_reply(s, "421 4.4.2 %s Idle timeout, closing connection", s->ctx->server_name);
	lmtp_session_close(s, "timeout");
}

static void lmtp_session_restart_timer(struct lmtp_session *s)
{
	if (s->state == LMTP_STATE_QUIT)
		return;
	timer_start(conn_loop(s->conn), &s->idle_timer,
	            (uint64_t)atomic_load(&s->ctx->settings.timeout_s) * 1000, lmtp_session_timeout,
	            s);
}

static void lmtp_session_free(struct lmtp_session *s)
{
	lmtp_session_reset(s);
	free(s->lhlo_name);
	if (s->counted)
		atomic_fetch_sub(s->ctx->p.sessions, 1);
	metrics_lmtp_session(-1);
	free(s);
}

void lmtp_session_job_begin(struct lmtp_session *s)
{
	s->jobs++;
	s->busy = true;
	timer_stop(conn_loop(s->conn), &s->idle_timer);
}

bool lmtp_session_job_end(struct lmtp_session *s)
{
	s->jobs--;
	s->busy = false;
	if (s->conn_gone) {
		if (s->jobs == 0)
			lmtp_session_free(s);
		return false;
	}
	return true;
}

void lmtp_session_resume(struct lmtp_session *s)
{
	if (s->shutting_down && s->state != LMTP_STATE_QUIT) {
		lmtp_session_reply(s, "421 4.3.2 %s Server shutting down", s->ctx->server_name);
		lmtp_session_close(s, "shutdown");
		return;
	}
	lmtp_session_restart_timer(s);
	lmtp_session_process(s);
}

/* --- connection callbacks --- */

static void lmtp_session_on_input(void *ctx)
{
	struct lmtp_session *s = ctx;
	if (!s->busy)
		lmtp_session_restart_timer(s);
	lmtp_session_process(s);
}

static void lmtp_session_on_drained(void *ctx)
{
	struct lmtp_session *s = ctx;
	if (conn_input_paused(s->conn) && !s->busy && s->state != LMTP_STATE_QUIT) {
		conn_pause_input(s->conn, false);
		lmtp_session_process(s);
	}
}

static void lmtp_session_on_shutdown(void *ctx)
{
	struct lmtp_session *s = ctx;
	if (s->busy) {
		s->shutting_down = true; /* after the job's replies */
		return;
	}
	lmtp_session_reply(s, "421 4.3.2 %s Server shutting down", s->ctx->server_name);
	lmtp_session_close(s, "shutdown");
}

static void lmtp_session_on_closed(void *ctx)
{
	struct lmtp_session *s = ctx;
	timer_stop(conn_loop(s->conn), &s->idle_timer);
	log_info("event=disconnect sid=%016llx protocol=lmtp reason=%s", (unsigned long long)s->id,
	         conn_close_reason(s->conn) ? conn_close_reason(s->conn) : "closed");
	limits_conn_free(&s->limits);
	s->conn_gone = true;
	if (s->jobs == 0)
		lmtp_session_free(s);
}

static const struct conn_handler lmtp_session_handler = {
    .on_input = lmtp_session_on_input,
    .on_drained = lmtp_session_on_drained,
    .on_shutdown = lmtp_session_on_shutdown,
    .on_closed = lmtp_session_on_closed,
};

/* --- accepting --- */

/* LMTP sessions never log in, so replace-oldest never picks them; the
 * reference still has to be dropped on the owner's loop. */
static void lmtp_session_kicked(void *ctx)
{
	limits_conn_unref(ctx);
}

static void lmtp_session_kick(struct limits_conn *lc, void *kick_ctx)
{
	loop_post(kick_ctx, lmtp_session_kicked, lc);
}

/* Connection limits as for IMAP: the server total, then the address's
 * connection rate and open connections (the unix socket's peers all
 * count as the address "local"). Returns a refusal text or NULL. */
static const char *lmtp_session_check_limits(struct lmtp_session *s, size_t n)
{
	enum limits_refuse why = LIMITS_OK;
	struct loop *loop = conn_loop(s->conn);
	s->limits = limits_conn_new(s->ctx->p.limits, conn_peer_ip(s->conn), loop_now_ms(loop),
	                            lmtp_session_kick, loop, s, &why);
	if (n > atomic_load(&s->ctx->settings.max_connections)) {
		why = LIMITS_REFUSE_MAX_CONNECTIONS;
		limits_count_refused(s->ctx->p.limits, why);
	}
	if (why == LIMITS_OK)
		return NULL;
	unsigned unlogged = 0;
	if (limits_refusal_log_due(s->limits, loop_now_ms(loop), &unlogged))
		log_info("event=refused sid=%016llx protocol=lmtp ip=%s reason=%s "
		         "refused_unlogged=%u",
		         (unsigned long long)s->id, conn_peer_ip(s->conn), limits_refuse_name(why),
		         unlogged);
	metrics_conn_refused(why == LIMITS_REFUSE_MAX_CONNECTIONS ? METRICS_REFUSE_MAX_CONNECTIONS
	                     : why == LIMITS_REFUSE_IP_RATE       ? METRICS_REFUSE_IP_RATE
	                                                          : METRICS_REFUSE_IP_PREAUTH);
	return why == LIMITS_REFUSE_MAX_CONNECTIONS ? "Too many connections"
	                                            : "Too many connections from your address";
}

void lmtp_session_accept(struct lmtp_ctx *ctx, struct conn *c)
{
	struct lmtp_session *s = xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	s->conn = c;
	s->id = lmtp_ctx_new_sid(ctx);
	s->state = LMTP_STATE_GREETED;
	timer_init(&s->idle_timer);
	conn_set_handler(c, &lmtp_session_handler, s);
	size_t n = atomic_fetch_add(ctx->p.sessions, 1) + 1;
	s->counted = true;
	metrics_lmtp_session(1);
	const char *refuse = lmtp_session_check_limits(s, n);
	if (refuse != NULL) {
		/* RFC 5321 §3.1: 421 instead of the 220 greeting. */
		lmtp_session_reply(s, "421 4.3.2 %s %s, try again later", ctx->server_name, refuse);
		lmtp_session_close(s, "connection limit");
		return;
	}
	log_info("event=connect sid=%016llx ip=%s port=%u listener=lmtp", (unsigned long long)s->id,
	         conn_peer_ip(c), conn_peer_port(c));
	lmtp_session_reply(s, "220 %s LMTP ready", ctx->server_name);
	lmtp_session_restart_timer(s);
	conn_flush(c);
}
