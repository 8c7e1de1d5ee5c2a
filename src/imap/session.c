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

#include "imap/capability.h"
#include "imap/commands.h"
#include "imap/resp.h"
#include "imap/view.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* Stop parsing input while this much output waits for the client. */
#define SESSION_OUTPUT_HIGH_WATER (256 * 1024)
#define SESSION_BYE_FLUSH_MS 2000

static void session_process(struct session *s);
static void session_restart_idle_timer(struct session *s);
static void session_pump(struct session *s);
static void session_free(struct session *s);

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

/* --- output --- */

void session_write(struct session *s, const void *data, size_t len)
{
	conn_write(s->conn, data, len);
	s->bytes_out += len;
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

static void session_run_command(struct session *s, const struct imap_command *cmd)
{
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
	case IMAP_PARSE_COMMAND:
		session_run_command(s, imap_parser_command(s->parser));
		break;
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

static void session_producer_clear(struct session *s)
{
	if (s->producer_free != NULL && s->producer_ctx != NULL)
		s->producer_free(s->producer_ctx);
	s->producer = NULL;
	s->producer_free = NULL;
	s->producer_ctx = NULL;
}

static void session_pump_deferred(void *ctx)
{
	struct session *s = ctx;
	s->jobs--;
	if (s->conn_gone) {
		if (s->jobs == 0)
			session_free(s);
		return;
	}
	session_pump(s);
}

/* Runs the producer while the client keeps up. After one high-water mark
 * of output it yields to the loop (other connections get their turn), and
 * when the client is slow it waits for on_drained. */
static void session_pump(struct session *s)
{
	while (s->producer != NULL && !s->conn_gone && !conn_closing(s->conn)) {
		if (conn_output_pending(s->conn) > SESSION_OUTPUT_HIGH_WATER) {
			conn_flush(s->conn);
			if (conn_output_pending(s->conn) > SESSION_OUTPUT_HIGH_WATER / 2)
				return; /* on_drained resumes us */
			/* The client keeps up: continue after the loop's next
			 * round, so other connections get their turn. */
			s->jobs++;
			loop_post(conn_loop(s->conn), session_pump_deferred, s);
			return;
		}
		uint64_t out_before = s->bytes_out;
		if (s->producer(s)) {
			session_producer_clear(s);
			session_cmd_done(s);
			return;
		}
		/* A slice that wrote nothing (SEARCH evaluating a batch) yields
		 * to the loop's other connections: a posted task runs after the
		 * next epoll round, a deferred one would not. */
		if (s->bytes_out == out_before) {
			s->jobs++;
			loop_post(conn_loop(s->conn), session_pump_deferred, s);
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
		session_pump(s);
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
	session_producer_clear(s);
	if (s->view != NULL)
		view_close(s);
	store_user_unref(&s->mail);
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
	log_info("event=%s sid=%016llx user=%s ip=%s reason=\"%s\" duration_ms=%llu bytes_in=%llu "
		 "bytes_out=%llu commands=%u",
		 s->logged_out ? "logout" : "disconnect", (unsigned long long)s->id, user,
		 conn_peer_ip(s->conn), conn_close_reason(s->conn) ? conn_close_reason(s->conn) : "",
		 (unsigned long long)(now - s->start_ms), (unsigned long long)s->bytes_in,
		 (unsigned long long)s->bytes_out, s->commands);
	timer_stop(conn_loop(s->conn), &s->idle_timer);
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
	struct imap_parser_limits limits;
	imap_parser_limits_default(&limits);
	s->parser = imap_parser_new(&limits);
	session_apply_limits(s);
	conn_set_handler(c, &session_conn_handler, s);
	size_t n = atomic_fetch_add(&ctx->sessions, 1) + 1;
	log_info("event=connect sid=%016llx ip=%s port=%u listener=%s", (unsigned long long)s->id,
		 conn_peer_ip(c), conn_peer_port(c), implicit_tls ? "imaps" : "imap");
	if (n > atomic_load(&ctx->settings.max_connections)) {
		/* Nothing is dropped silently: plaintext clients get a reason
		 * (RFC 5530 UNAVAILABLE); TLS ones would need a handshake first. */
		log_info("event=refused sid=%016llx reason=max_connections", (unsigned long long)s->id);
		if (implicit_tls) {
			conn_close(c, "max connections");
		} else {
			resp_status_untagged(s, RESP_BYE, RESP_CODE_UNAVAILABLE, NULL,
					     "Too many connections, try again later");
			s->state = SESSION_LOGOUT;
			conn_close_after_flush(c, "max connections", SESSION_BYE_FLUSH_MS);
		}
		return;
	}
	session_restart_idle_timer(s);
	if (implicit_tls) {
		s->tls_pending = true;
		SSL_CTX *tls = tls_ctx_acquire(ctx->tls);
		conn_start_tls(c, tls, atomic_load(&ctx->settings.tls_handshake_timeout_s) * 1000);
		SSL_CTX_free(tls);
	} else {
		session_greet(s);
	}
}
