/* session: IMAP connection state machine (see session.h).
 *
 * Input flows conn -> parser -> command table -> handler, one command at
 * a time. Three things can make the session stop reading: a command still
 * running off the loop (CMD_ASYNC), output above the high-water mark (the
 * client is not reading: stop producing until on_drained), and the end of
 * the connection. In each case the connection's input is paused so no
 * unbounded amount of client data is buffered meanwhile. */
#include "imap/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/admin.h"
#include "imap/capability.h"
#include "imap/commands.h"
#include "imap/resp.h"
#include "imap/view.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "metrics/metrics.h"

/* Stop parsing input while this much output waits for the client. */
#define SESSION_OUTPUT_HIGH_WATER (256 * 1024)
#define SESSION_BYE_FLUSH_MS 2000
/* How long a connection refused for its address waits for its BYE. */

static void session_process(struct session *s);
static void session_restart_idle_timer(struct session *s);
static void session_pump(struct session *s);
static void session_free(struct session *s);
static void session_stall_watch(struct session *s);
static void session_run_command(struct session *s, const struct imap_command *cmd);
static void session_delay_fire(void *ctx);
static void session_refuse(struct session *s);

const char *session_state_name(enum session_state state)
{
	switch (state) {
	case SESSION_NOT_AUTH:
		return "not authenticated";
	case SESSION_AUTH:
		return "authenticated";
	case SESSION_SELECTED:
		return "selected";
	case SESSION_LOGOUT:
		return "logout";
	}
	return "unknown";
}

/* --- metrics --- */

static enum metrics_state session_metrics_state_of(enum session_state state)
{
	switch (state) {
	case SESSION_NOT_AUTH:
		return METRICS_STATE_NOT_AUTH;
	case SESSION_AUTH:
		return METRICS_STATE_AUTH;
	case SESSION_SELECTED:
		return METRICS_STATE_SELECTED;
	case SESSION_LOGOUT:
		break;
	}
	return METRICS_STATE_LOGOUT;
}

/* Moves this session's count in roost_sessions{state} to s->state. The
 * counted state is kept apart from s->state, so whatever path changed the
 * state, the next sync (and session_free) moves exactly what was counted
 * and the gauge cannot drift. */
static void session_metrics_sync(struct session *s)
{
	enum metrics_state now = session_metrics_state_of(s->state);
	if (s->metrics_state == (int)now)
		return;
	metrics_session_leave((enum metrics_state)s->metrics_state);
	metrics_session_enter(now);
	s->metrics_state = (int)now;
}

/* A command was parsed: its latency runs until its tagged reply. */
/* Charges the thread time since start_ns to the user's work budget: the
 * synchronous part of a command, or one producer slice. Wall time, not CPU
 * time: what other sessions on this thread wait for is the time the thread
 * spent here, system calls and page faults included. */
static void session_charge_cpu(struct session *s, uint64_t start_ns)
{
	uint64_t ns = metrics_now_ns() - start_ns + conn_take_write_event_ns(s->conn);
	session_charge_pool_time(s, ns / 1000);
}

void session_charge_pool_time(struct session *s, uint64_t us)
{
	if (s->limits != NULL && s->user != NULL)
		limits_cpu_add(s->limits, us, loop_now_ms(conn_loop(s->conn)));
}

static void session_metrics_cmd_begin(struct session *s, const struct imap_command *cmd)
{
	s->metrics_cmd = metrics_command_id(cmd->name);
	s->metrics_cmd_start_ns = metrics_now_ns();
	s->metrics_cmd_open = true;
}

/* Observes the command's latency once it has finished: after a handler
 * returned CMD_DONE, or at session_cmd_done() for CMD_ASYNC ones (a
 * throttle delay keeps in_command set, so it counts as latency too). */
static void session_metrics_cmd_end(struct session *s)
{
	if (!s->metrics_cmd_open || s->in_command)
		return;
	s->metrics_cmd_open = false;
	metrics_command(s->metrics_cmd, metrics_now_ns() - s->metrics_cmd_start_ns);
}

/* --- output --- */

void session_write(struct session *s, const void *data, size_t len)
{
	conn_write(s->conn, data, len);
	s->bytes_out += len;
	session_stall_watch(s);
	if (conn_output_pending(s->conn) > atomic_load(&s->ctx->settings.output_buffer_limit)) {
		log_info("event=output_limit sid=%016llx pending=%zu", (unsigned long long)s->id,
			 conn_output_pending(s->conn));
		conn_close(s->conn, "output buffer limit");
	}
}

void session_write_str(struct session *s, const char *str)
{
	session_write(s, str, strlen(str));
}

void session_bye(struct session *s, const char *text, const char *reason)
{
	/* During a TLS handshake a plaintext BYE would only corrupt it. */
	if (text != NULL && !s->tls_pending)
		resp_status_untagged(s, RESP_BYE, RESP_CODE_NONE, NULL, text);
	s->state = SESSION_LOGOUT;
	session_metrics_sync(s);
	timer_stop(conn_loop(s->conn), &s->idle_timer);
	conn_close_after_flush(s->conn, reason, SESSION_BYE_FLUSH_MS);
}

/* --- state --- */

bool session_rev2(const struct session *s)
{
	return (s->enabled & SESSION_ENABLED_IMAP4REV2) != 0;
}

bool session_utf8(const struct session *s)
{
	return (s->enabled & (SESSION_ENABLED_IMAP4REV2 | SESSION_ENABLED_UTF8_ACCEPT)) != 0;
}

static void session_apply_limits(struct session *s)
{
	struct imap_parser_limits limits;
	imap_parser_limits_default(&limits);
	limits.max_line = atomic_load(&s->ctx->settings.max_line);
	limits.max_literal = s->state == SESSION_NOT_AUTH
				     ? atomic_load(&s->ctx->settings.max_literal_preauth)
				     : atomic_load(&s->ctx->settings.max_literal);
	imap_parser_set_limits(s->parser, &limits);
}

void session_set_state(struct session *s, enum session_state state)
{
	s->state = state;
	session_metrics_sync(s);
	session_apply_limits(s);
	session_restart_idle_timer(s);
}

bool session_plaintext_auth_allowed(const struct session *s)
{
	if (s->tls)
		return true;
	switch ((enum plaintext_auth)atomic_load(&s->ctx->settings.plaintext_auth)) {
	case PLAINTEXT_AUTH_ALWAYS:
		return true;
	case PLAINTEXT_AUTH_NEVER:
		return false;
	case PLAINTEXT_AUTH_LOOPBACK:
		break;
	}
	return conn_peer_is_loopback(s->conn);
}

/* --- timers --- */

static void session_idle_timeout(void *ctx)
{
	struct session *s = ctx;
	if (s->in_command && s->line_fn == NULL) {
		/* A password check is running; its reply will restart us. */
		session_restart_idle_timer(s);
		return;
	}
	log_info("event=timeout sid=%016llx kind=%s", (unsigned long long)s->id,
		 s->state == SESSION_NOT_AUTH ? "preauth" : "idle");
	metrics_timeout(s->state == SESSION_NOT_AUTH ? METRICS_TIMEOUT_PREAUTH
						     : METRICS_TIMEOUT_IDLE);
	/* RFC 9051 §5.4: the server may log out an idle client, with BYE. */
	session_bye(s,
		    s->state == SESSION_NOT_AUTH ? "Timed out waiting for login"
						 : "Autologout; idle for too long",
		    "timeout");
}

static void session_restart_idle_timer(struct session *s)
{
	if (s->conn_gone || s->state == SESSION_LOGOUT)
		return;
	unsigned secs = s->state == SESSION_NOT_AUTH ? atomic_load(&s->ctx->settings.preauth_timeout_s)
						      : atomic_load(&s->ctx->settings.idle_timeout_s);
	timer_start(conn_loop(s->conn), &s->idle_timer, (uint64_t)secs * 1000, session_idle_timeout,
		    s);
}

/* Stalled output: output is queued and the client has read none of it
 * for output_stall_timeout. A slow client that keeps reading is never
 * cut; one that stopped reading is, and everything it held (queued
 * output, a streaming FETCH) is freed. No BYE: the socket buffer is full
 * and the queue before it is not moving, so a BYE could not be delivered
 * (RFC 9051 §7.1.5 allows closing without one when it cannot be sent). */
static void session_stall_check(void *ctx)
{
	struct session *s = ctx;
	if (s->conn_gone || conn_closing(s->conn))
		return;
	size_t pending = conn_output_pending(s->conn);
	if (pending == 0)
		return;
	uint64_t now = loop_now_ms(conn_loop(s->conn));
	uint64_t written = s->bytes_out - pending;
	if (written != s->stall_written) {
		s->stall_written = written;
		s->stall_since_ms = now;
	}
	uint64_t limit_ms = (uint64_t)atomic_load(&s->ctx->settings.output_stall_timeout_s) * 1000;
	if (now - s->stall_since_ms >= limit_ms) {
		log_info("event=timeout sid=%016llx kind=output_stall pending=%zu",
			 (unsigned long long)s->id, pending);
		metrics_timeout(METRICS_TIMEOUT_OUTPUT_STALL);
		s->state = SESSION_LOGOUT;
		timer_stop(conn_loop(s->conn), &s->idle_timer);
		conn_abort(s->conn, "output stalled");
		return;
	}
	/* Check again at a quarter of the limit: a stall is found at most
	 * 25% late, and a busy connection costs one timer a few times per
	 * limit, not one per write. */
	uint64_t step = limit_ms / 4 > 0 ? limit_ms / 4 : 1;
	uint64_t left = limit_ms - (now - s->stall_since_ms);
	timer_start(conn_loop(s->conn), &s->stall_timer, step < left ? step : left,
		    session_stall_check, s);
}

static void session_stall_watch(struct session *s)
{
	if (timer_active(&s->stall_timer) || s->conn_gone)
		return;
	s->stall_written = s->bytes_out - conn_output_pending(s->conn);
	s->stall_since_ms = loop_now_ms(conn_loop(s->conn));
	uint64_t limit_ms = (uint64_t)atomic_load(&s->ctx->settings.output_stall_timeout_s) * 1000;
	timer_start(conn_loop(s->conn), &s->stall_timer, limit_ms / 4 > 0 ? limit_ms / 4 : 1,
		    session_stall_check, s);
}

/* --- greeting and TLS --- */

static void session_greet(struct session *s)
{
	struct buf caps = {0};
	capability_append(s, &caps);
	char text[128];
	snprintf(text, sizeof(text), "%s ready.", s->ctx->cfg->server_name);
	resp_status_untagged(s, RESP_OK, RESP_CODE_CAPABILITY, caps.data, text);
	buf_release(&caps);
	s->greeted = true;
	conn_flush(s->conn);
}

/* A connection over a connection-level limit: "* BYE [UNAVAILABLE]" as
 * its greeting (RFC 5530), then close. */
static void session_refuse_now(void *ctx)
{
	struct session *s = ctx;
	resp_status_untagged(s, RESP_BYE, RESP_CODE_UNAVAILABLE, NULL, s->refuse_text);
	s->state = SESSION_LOGOUT;
	session_metrics_sync(s);
	timer_stop(conn_loop(s->conn), &s->idle_timer);
	conn_close_after_flush(s->conn, "connection limit", SESSION_BYE_FLUSH_MS);
}

/* Refused for its address: hold the connection before the BYE (a tarpit,
 * longer the more the address floods; see limits_conn_hold), so a client
 * that reconnects as soon as it is refused costs an accept per hold
 * instead of one per round trip. One address may hold at most an eighth
 * of max_connections, so a flood from one address cannot fill the server
 * with held descriptors. Its input is not read meanwhile. The hold is
 * stretched by up to a quarter, differently per connection: a flood's
 * connections arrive together, and equal holds would release them
 * together again, a burst of refusals in one loop iteration each round. */
static void session_refuse(struct session *s)
{
	unsigned max_held = (unsigned)(atomic_load(&s->ctx->settings.max_connections) / 8);
	uint64_t hold = s->refuse_held ? limits_conn_hold(s->limits, max_held) : 0;
	if (hold > 0) {
		hold += s->id % (hold / 4 + 1); /* the session id is a random-looking mix */
		conn_pause_input(s->conn, true);
		timer_start(conn_loop(s->conn), &s->idle_timer, hold, session_refuse_now, s);
		return;
	}
	session_refuse_now(s);
}

static void session_on_tls_done(void *ctx, bool ok)
{
	struct session *s = ctx;
	s->tls_pending = false;
	if (!ok) {
		log_info("event=tls sid=%016llx result=fail", (unsigned long long)s->id);
		return; /* the connection closes itself */
	}
	s->tls = true;
	log_info("event=tls sid=%016llx result=ok version=%s cipher=%s resumed=%s",
		 (unsigned long long)s->id, conn_tls_version(s->conn), conn_tls_cipher(s->conn),
		 conn_tls_resumed(s->conn) ? "yes" : "no");
	if (s->refuse_text != NULL) {
		session_refuse(s); /* over a connection limit: the reason, now readable */
		return;
	}
	if (!s->greeted)
		session_greet(s);
	session_process(s);
}

/* --- input --- */

/* The most a whole command may hold: literals are capped one by one and
 * lines one by one, but a command can chain many of both. */
static uint64_t session_max_command(const struct session *s)
{
	size_t max_line = atomic_load(&s->ctx->settings.max_line);
	size_t max_literal = s->state == SESSION_NOT_AUTH
				     ? atomic_load(&s->ctx->settings.max_literal_preauth)
				     : atomic_load(&s->ctx->settings.max_literal);
	return (uint64_t)max_literal + 4 * (uint64_t)max_line;
}

static void session_on_literal(struct session *s)
{
	const struct imap_literal_info *info = imap_parser_literal(s->parser);
	if (imap_parser_command_size(s->parser) + info->size > session_max_command(s)) {
		const char *tag = imap_parser_current_tag(s->parser);
		resp_tagged(s, tag != NULL ? tag : "*", RESP_NO, RESP_CODE_TOOBIG, NULL,
			    "Command too large");
		imap_parser_literal_reject(s->parser);
		return;
	}
	/* RFC 9051 §7.5: a synchronizing literal waits for "+". The size is
	 * within limits here: the parser reported larger ones as errors. */
	if (s->limits != NULL)
		limits_bytes_add(s->limits, LIMITS_UPLOAD, info->size,
				 loop_now_ms(conn_loop(s->conn)));
	if (info->sync) {
		resp_continue(s, "Ready for literal data");
		conn_flush(s->conn);
	}
	imap_parser_literal_accept(s->parser);
}

static void session_on_parse_error(struct session *s)
{
	const char *text, *tag;
	enum imap_parse_error kind = imap_parser_error(s->parser, &text, &tag);
	if (kind == IMAP_ERR_FATAL) {
		session_bye(s, text, "protocol error");
		return;
	}
	enum resp_status status = RESP_BAD;
	enum resp_code code = RESP_CODE_NONE;
	if (kind == IMAP_ERR_LITERAL_TOO_BIG) {
		/* RFC 9051 §7.1 / RFC 7889: refuse before reading the data. */
		status = RESP_NO;
		code = RESP_CODE_TOOBIG;
	}
	if (tag != NULL)
		resp_tagged(s, tag, status, code, NULL, text);
	else
		resp_status_untagged(s, status, code, NULL, text);
}

/* --- governance (limits/) --- */

void session_delay(struct session *s, uint64_t delay_ms, session_delay_fn *fn, loop_fn *free_fn,
		   void *ctx)
{
	s->delay_fn = fn;
	s->delay_free = free_fn;
	s->delay_ctx = ctx;
	timer_start(conn_loop(s->conn), &s->delay_timer, delay_ms, session_delay_fire, s);
}

static void session_delay_fire(void *ctx)
{
	struct session *s = ctx;
	session_delay_fn *fn = s->delay_fn;
	void *fctx = s->delay_ctx;
	s->delay_fn = NULL;
	s->delay_free = NULL;
	s->delay_ctx = NULL;
	if (fn != NULL)
		fn(s, fctx);
}

/* The session ends: a pending delay will never fire. */
static void session_delay_cancel(struct session *s)
{
	timer_stop(conn_loop(s->conn), &s->delay_timer);
	if (s->delay_free != NULL && s->delay_ctx != NULL)
		s->delay_free(s->delay_ctx);
	s->delay_fn = NULL;
	s->delay_free = NULL;
	s->delay_ctx = NULL;
}

/* Logs the start of a throttle episode, once (not per command). */
void session_throttle_begin(struct session *s, enum limits_throttle kind, const char *action)
{
	if (s->throttle_episode)
		return;
	s->throttle_episode = true;
	limits_count_throttle(s->ctx->limits, kind, false);
	static const enum metrics_throttle as_metric[LIMITS_THROTTLE_COUNT_] = {
		[LIMITS_THROTTLE_COMMANDS] = METRICS_THROTTLE_COMMANDS,
		[LIMITS_THROTTLE_DOWNLOAD] = METRICS_THROTTLE_DOWNLOAD,
		[LIMITS_THROTTLE_UPLOAD] = METRICS_THROTTLE_UPLOAD,
		[LIMITS_THROTTLE_AUTH_PENALTY] = METRICS_THROTTLE_AUTH_PENALTY,
		[LIMITS_THROTTLE_CPU] = METRICS_THROTTLE_CPU,
	};
	metrics_throttle(as_metric[kind]);
	char user[300];
	log_escape(user, sizeof(user), s->user ? s->user : "", s->user ? strlen(s->user) : 0);
	log_info("event=throttle sid=%016llx user=%s ip=%s kind=%s action=%s",
		 (unsigned long long)s->id, user, conn_peer_ip(s->conn), limits_throttle_name(kind),
		 action);
}

void session_throttle_end(struct session *s)
{
	if (!s->throttle_episode)
		return;
	s->throttle_episode = false;
	char user[300];
	log_escape(user, sizeof(user), s->user ? s->user : "", s->user ? strlen(s->user) : 0);
	log_info("event=throttle_end sid=%016llx user=%s ip=%s", (unsigned long long)s->id, user,
		 conn_peer_ip(s->conn));
}

/* The held command's delay is over: run it, then read on. */
static void session_throttle_resume(struct session *s, void *ctx)
{
	s->in_command = false;
	s->throttle_passed = true;
	session_run_command(s, imap_parser_command(s->parser));
	session_metrics_cmd_end(s);
	if (!s->in_command && !s->conn_gone && !conn_closing(s->conn)) {
		conn_pause_input(s->conn, false);
		session_process(s);
	}
}

/* Applies the user's command and upload rates to cmd (logged in only).
 * Returns true when the command was held (a timer runs it) or refused. */
static bool session_throttle_command(struct session *s, const struct imap_command *cmd)
{
	if (s->limits == NULL || s->user == NULL || strcmp(cmd->name, "LOGOUT") == 0)
		return false;
	uint64_t now = loop_now_ms(conn_loop(s->conn)), wait = 0;
	enum limits_throttle kind = LIMITS_THROTTLE_COMMANDS;
	enum limits_verdict v = limits_cmd_admit(s->limits, now, &wait);
	if (v == LIMITS_GO) {
		wait = limits_bytes_wait(s->limits, LIMITS_UPLOAD, now);
		kind = LIMITS_THROTTLE_UPLOAD;
		v = wait > 0 ? LIMITS_DELAY : LIMITS_GO;
	}
	if (v == LIMITS_GO) {
		wait = limits_cpu_wait(s->limits, now);
		kind = LIMITS_THROTTLE_CPU;
		v = wait > 0 ? LIMITS_DELAY : LIMITS_GO;
	}
	if (v == LIMITS_GO) {
		session_throttle_end(s);
		return false;
	}
	if (v == LIMITS_REFUSE) {
		session_throttle_begin(s, kind, "refuse");
		limits_count_throttle(s->ctx->limits, kind, true);
		char text[128];
		/* RFC 5530 LIMIT: the client may retry after the given time. */
		snprintf(text, sizeof(text), "Too many commands, retry in %llu.%01llu seconds",
			 (unsigned long long)(wait / 1000), (unsigned long long)(wait % 1000 / 100));
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_LIMIT, NULL, text);
		return true;
	}
	session_throttle_begin(s, kind, "delay");
	/* Soft first: hold the command (input stays paused) just long enough
	 * to bring the user back under the rate. */
	s->in_command = true;
	conn_pause_input(s->conn, true);
	session_delay(s, wait, session_throttle_resume, NULL, NULL);
	return true;
}

static void session_run_command(struct session *s, const struct imap_command *cmd)
{
	if (!s->throttle_passed && session_throttle_command(s, cmd))
		return;
	s->throttle_passed = false;
	s->commands++;
	session_restart_idle_timer(s);
	const struct cmd_def *def = commands_find(cmd->name);
	if (def == NULL) {
		resp_tagged(s, cmd->tag, RESP_BAD, RESP_CODE_NONE, NULL, "Unknown command");
		return;
	}
	if ((def->states & s->state) == 0) {
		char text[128];
		snprintf(text, sizeof(text), "%s not allowed in %s state", def->name,
			 session_state_name(s->state));
		resp_tagged(s, cmd->tag, RESP_BAD, RESP_CODE_NONE, NULL, text);
		return;
	}
	s->cmd_tag = xstrdup(cmd->tag);
	/* RFC 9051 §7.5.1: no EXPUNGE while answering FETCH, STORE or SEARCH
	 * (the UID forms are "UID" here and may get them). */
	s->cmd_name = def->name;
	s->cmd_no_expunge = strcmp(def->name, "FETCH") == 0 || strcmp(def->name, "STORE") == 0 ||
			    strcmp(def->name, "SEARCH") == 0;
	if (def->handler(s, cmd) == CMD_ASYNC) {
		s->in_command = true;
		if (s->line_fn == NULL)
			conn_pause_input(s->conn, true);
		if (s->producer != NULL)
			session_pump(s);
		return;
	}
	free(s->cmd_tag);
	s->cmd_tag = NULL;
	s->cmd_name = NULL;
}

/* Delivers one continuation line to the waiting command. Returns false
 * when no complete line has arrived yet. */
static bool session_take_line(struct session *s)
{
	struct buf *in = conn_input(s->conn);
	const char *data = buf_rdata(in);
	const char *lf = memchr(data, '\n', buf_rlen(in));
	if (lf == NULL) {
		if (buf_rlen(in) > atomic_load(&s->ctx->settings.max_line))
			session_bye(s, "Line too long", "line too long");
		return false;
	}
	size_t len = (size_t)(lf - data);
	size_t used = len + 1;
	if (len > 0 && data[len - 1] == '\r')
		len--;
	char *line = xstrndup(data, len);
	buf_consume(in, used);
	s->bytes_in += used;
	session_line_fn *fn = s->line_fn;
	s->line_fn = NULL;
	fn(s, line, len);
	explicit_bzero(line, len); /* may hold a SASL response */
	free(line);
	return true;
}

static bool session_can_read(struct session *s)
{
	return !s->conn_gone && !conn_closing(s->conn) && (!s->in_command || s->line_fn != NULL);
}

static void session_feed_parser(struct session *s)
{
	struct buf *in = conn_input(s->conn);
	size_t used = 0;
	enum imap_parse_status st = imap_parser_feed(s->parser, buf_rdata(in), buf_rlen(in), &used);
	buf_consume(in, used);
	s->bytes_in += used;
	switch (st) {
	case IMAP_PARSE_NEED_MORE:
		break;
	case IMAP_PARSE_LITERAL:
		session_on_literal(s);
		break;
	case IMAP_PARSE_ERROR:
		session_on_parse_error(s);
		break;
	case IMAP_PARSE_COMMAND: {
		uint64_t start_ns = metrics_now_ns();
		session_metrics_cmd_begin(s, imap_parser_command(s->parser));
		session_run_command(s, imap_parser_command(s->parser));
		session_metrics_cmd_end(s);
		session_charge_cpu(s, start_ns);
		break;
	}
	}
}

static void session_process(struct session *s)
{
	struct buf *in = conn_input(s->conn);
	while (session_can_read(s) && buf_rlen(in) > 0) {
		if (conn_output_pending(s->conn) > SESSION_OUTPUT_HIGH_WATER) {
			conn_pause_input(s->conn, true);
			break;
		}
		if (s->line_fn != NULL) {
			if (!session_take_line(s))
				break;
			continue;
		}
		session_feed_parser(s);
	}
	if (!s->conn_gone && !s->in_command && imap_parser_idle(s->parser) && buf_rlen(in) == 0)
		imap_parser_trim(s->parser);
	/* The client ended its side: once nothing it sent is left to answer,
	 * close (after the replies are out). */
	if (conn_eof(s->conn) && session_can_read(s) &&
	    conn_output_pending(s->conn) <= SESSION_OUTPUT_HIGH_WATER) {
		conn_close_after_flush(s->conn, "eof", SESSION_BYE_FLUSH_MS);
		return;
	}
	if (!s->conn_gone)
		conn_flush(s->conn);
}

void session_before_tagged(struct session *s)
{
	if (s->state == SESSION_SELECTED && s->view != NULL && !s->conn_gone &&
	    !conn_closing(s->conn))
		view_sync(s, !s->cmd_no_expunge);
}

void session_read_line(struct session *s, session_line_fn *fn)
{
	s->line_fn = fn;
	conn_pause_input(s->conn, false);
}

void session_set_producer(struct session *s, session_producer_fn *fn, loop_fn *free_fn, void *ctx)
{
	s->producer = fn;
	s->producer_free = free_fn;
	s->producer_ctx = ctx;
}

void session_start_producer(struct session *s, session_producer_fn *fn, loop_fn *free_fn,
			    void *ctx)
{
	session_set_producer(s, fn, free_fn, ctx);
	session_pump(s);
}

void session_producer_wait(struct session *s)
{
	s->producer_waiting = true;
}

void session_producer_resume(struct session *s)
{
	s->producer_waiting = false;
	session_pump(s);
}

static void session_producer_clear(struct session *s)
{
	if (s->producer_free != NULL && s->producer_ctx != NULL)
		s->producer_free(s->producer_ctx);
	s->producer = NULL;
	s->producer_free = NULL;
	s->producer_ctx = NULL;
	s->producer_waiting = false;
}

static void session_pump_deferred(void *ctx)
{
	struct session *s = ctx;
	s->jobs--;
	s->pump_queued = false;
	if (s->conn_gone) {
		if (s->jobs == 0)
			session_free(s);
		return;
	}
	session_pump(s);
}

/* The next producer slice, as the loop's bulk work (loop_post_bulk: one
 * slice per loop iteration, after every ready connection); once. */
static void session_pump_later(struct session *s)
{
	if (s->pump_queued)
		return;
	s->pump_queued = true;
	s->jobs++;
	loop_post_bulk(conn_loop(s->conn), session_pump_deferred, s);
}

static void session_pump_resume(struct session *s, void *ctx)
{
	session_pump(s);
}

/* Download and work shaping: when the user's download window or work
 * budget is spent, the producer waits (the rest of the server does not).
 * Returns true when a wait started. */
static bool session_pump_shaped(struct session *s)
{
	if (s->limits == NULL)
		return false;
	uint64_t now = loop_now_ms(conn_loop(s->conn));
	enum limits_throttle kind = LIMITS_THROTTLE_DOWNLOAD;
	uint64_t wait = limits_bytes_wait(s->limits, LIMITS_DOWNLOAD, now);
	if (wait == 0) {
		kind = LIMITS_THROTTLE_CPU;
		wait = limits_cpu_wait(s->limits, now);
	}
	if (wait == 0)
		return false;
	session_throttle_begin(s, kind, "delay");
	conn_flush(s->conn);
	session_delay(s, wait, session_pump_resume, NULL, NULL);
	return true;
}

/* Runs the producer while the client keeps up. After one high-water mark
 * of output it yields to the loop (other connections get their turn), and
 * when the client is slow it waits for on_drained. */
static void session_pump(struct session *s)
{
	while (s->producer != NULL && !s->conn_gone && !conn_closing(s->conn)) {
		if (s->producer_waiting)
			return; /* session_producer_resume continues */
		if (conn_output_pending(s->conn) > SESSION_OUTPUT_HIGH_WATER) {
			conn_flush(s->conn);
			if (conn_output_pending(s->conn) > SESSION_OUTPUT_HIGH_WATER / 2)
				return; /* on_drained resumes us */
			/* The client keeps up: continue after the loop's next
			 * round, so other connections get their turn. */
			session_pump_later(s);
			return;
		}
		if (session_pump_shaped(s))
			return; /* the user's download budget is spent: wait */
		uint64_t out_before = s->bytes_out;
		uint64_t start_ns = metrics_now_ns();
		bool done = s->producer(s);
		session_charge_cpu(s, start_ns);
		if (s->limits != NULL)
			limits_bytes_add(s->limits, LIMITS_DOWNLOAD, s->bytes_out - out_before,
					 loop_now_ms(conn_loop(s->conn)));
		if (done) {
			session_producer_clear(s);
			session_cmd_done(s);
			return;
		}
		if (s->producer_waiting)
			return;
		/* A slice that wrote nothing (SEARCH evaluating a batch) yields
		 * to the loop's other connections too. */
		if (s->bytes_out == out_before) {
			session_pump_later(s);
			return;
		}
	}
}

void session_cmd_done(struct session *s)
{
	free(s->cmd_tag);
	s->cmd_tag = NULL;
	s->cmd_name = NULL;
	s->in_command = false;
	s->line_fn = NULL;
	session_metrics_cmd_end(s);
	if (s->conn_gone)
		return;
	session_restart_idle_timer(s);
	if (!conn_closing(s->conn))
		conn_pause_input(s->conn, false);
	session_process(s);
}

/* --- connection callbacks --- */

static void session_on_input(void *ctx)
{
	session_process(ctx);
}

static void session_on_drained(void *ctx)
{
	struct session *s = ctx;
	if (s->producer != NULL) {
		/* The next slice waits its turn among the loop's bulk work. */
		session_pump_later(s);
		return;
	}
	if (!s->in_command && !conn_closing(s->conn)) {
		conn_pause_input(s->conn, false);
		session_process(s);
	}
}

static void session_on_shutdown(void *ctx)
{
	struct session *s = ctx;
	session_bye(s, "Server shutting down", "shutdown");
}

static void session_free(struct session *s)
{
	atomic_fetch_sub(&s->ctx->sessions, 1);
	metrics_session_leave((enum metrics_state)s->metrics_state);
	limits_conn_free(&s->limits);
	session_producer_clear(s);
	if (s->view != NULL)
		view_close(s);
	if (s->mail != NULL) {
		/* The user's last session closes its index (a checkpoint and
		 * fsyncs): not on this loop. The pool outlives every session
		 * (net_server_quiesce). */
		workpool_submit(s->ctx->store_pool, NULL, store_user_unref_job, NULL, s->mail);
		s->mail = NULL;
	}
	imap_parser_free(&s->parser);
	free(s->user);
	free(s->cmd_tag);
	free(s);
}

static void session_on_closed(void *ctx)
{
	struct session *s = ctx;
	uint64_t now = loop_now_ms(conn_loop(s->conn));
	char user[300];
	log_escape(user, sizeof(user), s->user ? s->user : "", s->user ? strlen(s->user) : 0);
	if (s->refuse_text == NULL) /* refused ones were logged (or counted) as such */
		log_info("event=%s sid=%016llx user=%s ip=%s reason=\"%s\" duration_ms=%llu "
			 "bytes_in=%llu bytes_out=%llu commands=%u",
			 s->logged_out ? "logout" : "disconnect", (unsigned long long)s->id, user,
			 conn_peer_ip(s->conn),
			 conn_close_reason(s->conn) ? conn_close_reason(s->conn) : "",
			 (unsigned long long)(now - s->start_ms), (unsigned long long)s->bytes_in,
			 (unsigned long long)s->bytes_out, s->commands);
	timer_stop(conn_loop(s->conn), &s->idle_timer);
	timer_stop(conn_loop(s->conn), &s->stall_timer);
	admin_unregister(s);
	session_delay_cancel(s);
	s->conn_gone = true;
	if (s->jobs == 0)
		session_free(s);
}

void session_job_begin(struct session *s)
{
	s->jobs++;
}

bool session_job_end(struct session *s)
{
	s->jobs--;
	if (s->conn_gone) {
		if (s->jobs == 0)
			session_free(s);
		return false;
	}
	return true;
}

const struct conn_handler session_conn_handler = {
	.on_input = session_on_input,
	.on_drained = session_on_drained,
	.on_tls_done = session_on_tls_done,
	.on_shutdown = session_on_shutdown,
	.on_closed = session_on_closed,
};

/* --- creation --- */

/* Loop thread of the victim: replace-oldest ended this session's slot. */
static void session_kicked(void *ctx)
{
	struct limits_conn *lc = ctx;
	struct session *s = limits_conn_owner(lc);
	if (s != NULL && !s->conn_gone && !conn_closing(s->conn) && s->state != SESSION_LOGOUT) {
		log_info("event=replaced sid=%016llx ip=%s", (unsigned long long)s->id,
			 conn_peer_ip(s->conn));
		if (!s->tls_pending)
			resp_status_untagged(s, RESP_BYE, RESP_CODE_UNAVAILABLE, NULL,
					     "Session replaced by a newer login of this user");
		session_bye(s, NULL, "replaced by a newer login");
	}
	limits_conn_unref(lc);
}

/* Any thread (limits_kick_fn): kick_ctx is the session's loop. */
static void session_kick(struct limits_conn *lc, void *kick_ctx)
{
	loop_post(kick_ctx, session_kicked, lc);
}

/* Connection-level limits: the server total (n with this one), then the
 * address's attempts per minute and connections not logged in. Sets
 * s->refuse_text when the greeting must be BYE [UNAVAILABLE]. */
static void session_check_limits(struct session *s, size_t n)
{
	enum limits_refuse why = LIMITS_OK;
	s->limits = limits_conn_new(s->ctx->limits, conn_peer_ip(s->conn),
				    loop_now_ms(conn_loop(s->conn)), session_kick,
				    conn_loop(s->conn), s, &why);
	if (n > atomic_load(&s->ctx->settings.max_connections)) {
		why = LIMITS_REFUSE_MAX_CONNECTIONS;
		limits_count_refused(s->ctx->limits, why);
	}
	switch (why) {
	case LIMITS_REFUSE_MAX_CONNECTIONS:
		s->refuse_text = "Too many connections, try again later";
		break;
	case LIMITS_REFUSE_IP_RATE:
		s->refuse_text = "Too many connection attempts from your address, try again later";
		s->refuse_held = true;
		break;
	case LIMITS_REFUSE_IP_PREAUTH:
		s->refuse_text = "Too many connections from your address, try again later";
		s->refuse_held = true;
		break;
	default:
		return;
	}
	/* Nothing is dropped silently: the reason goes in the greeting, on the
	 * IMAPS port after the handshake so the client can read it. The log
	 * gets one line per address and episode (plus one every 10 s with the
	 * count meanwhile), not one per connection of a flood. */
	unsigned unlogged = 0;
	if (limits_refusal_log_due(s->limits, loop_now_ms(conn_loop(s->conn)), &unlogged))
		log_info("event=refused sid=%016llx ip=%s reason=%s refused_unlogged=%u",
			 (unsigned long long)s->id, conn_peer_ip(s->conn), limits_refuse_name(why),
			 unlogged);
	metrics_conn_refused(why == LIMITS_REFUSE_MAX_CONNECTIONS ? METRICS_REFUSE_MAX_CONNECTIONS
			     : why == LIMITS_REFUSE_IP_RATE      ? METRICS_REFUSE_IP_RATE
								 : METRICS_REFUSE_IP_PREAUTH);
}

void session_accept(struct imap_ctx *ctx, struct conn *c, bool implicit_tls)
{
	struct session *s = xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	s->conn = c;
	s->id = imap_ctx_new_sid(ctx);
	s->state = SESSION_NOT_AUTH;
	s->implicit_tls = implicit_tls;
	s->start_ms = loop_now_ms(conn_loop(c));
	timer_init(&s->idle_timer);
	timer_init(&s->stall_timer);
	struct imap_parser_limits limits;
	imap_parser_limits_default(&limits);
	s->parser = imap_parser_new(&limits);
	session_apply_limits(s);
	conn_set_handler(c, &session_conn_handler, s);
	admin_register(s); /* until on_closed: WHO, KICK (admin.h) */
	timer_init(&s->delay_timer);
	size_t n = atomic_fetch_add(&ctx->sessions, 1) + 1;
	s->metrics_state = METRICS_STATE_NOT_AUTH;
	metrics_session_enter(METRICS_STATE_NOT_AUTH);
	metrics_conn_accepted(implicit_tls ? METRICS_LISTENER_IMAPS : METRICS_LISTENER_IMAP);
	session_check_limits(s, n);
	if (s->refuse_text == NULL)
		log_info("event=connect sid=%016llx ip=%s port=%u listener=%s",
			 (unsigned long long)s->id, conn_peer_ip(c), conn_peer_port(c),
			 implicit_tls ? "imaps" : "imap");
	session_restart_idle_timer(s);
	if (implicit_tls) {
		s->tls_pending = true;
		SSL_CTX *tls = tls_ctx_acquire(ctx->tls);
		conn_start_tls(c, tls, atomic_load(&ctx->settings.tls_handshake_timeout_s) * 1000);
		SSL_CTX_free(tls);
	} else if (s->refuse_text != NULL) {
		session_refuse(s);
	} else {
		session_greet(s);
	}
}
