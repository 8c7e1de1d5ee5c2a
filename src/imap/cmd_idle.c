/* IDLE (RFC 9051 §6.3.13, RFC 2177).
 *
 *   C: a IDLE            S: + idling
 *   S: * 4 EXISTS        (pushed as changes happen)
 *   S: * OK Still here   (every idle_keepalive seconds)
 *   C: DONE              S: a OK IDLE terminated
 *
 * In the selected state the view watches the store (view_watch): another
 * session's APPEND/STORE/EXPUNGE/COPY/MOVE, or a file delivered into new/,
 * posts a wake-up to this session's loop, which picks up new/ and writes
 * the updates (EXISTS, FETCH FLAGS, and EXPUNGE: IDLE is not a command by
 * sequence number). In the authenticated state there is nothing to watch
 * and IDLE only waits for DONE with keepalives.
 *
 * Autologout: the keepalives are server traffic and do not count as the
 * client being active. RFC 9051 §6.3.13 lets a server treat a client that
 * sits in IDLE as inactive and log it off at the end of its inactivity
 * timeout, and tells clients to re-issue IDLE at least every 29 minutes;
 * with the RFC's minimum of 30 minutes (§5.4) for idle_timeout, a client
 * that follows that advice is never logged out. So IDLE keeps the same
 * limit as any silence: idle_timeout after the IDLE command arrived.
 *
 * While IDLE runs, the session's autologout timer is IDLE's timer: it
 * fires for each keepalive and at the autologout deadline
 * (s->idle_deadline_ms); session_cmd_done restores the usual timer, and
 * the session stops the timer when the connection goes. Anything but
 * "DONE" (case-insensitive) ends IDLE with a tagged BAD. */
#include <strings.h>

#include "imap/commands.h"
#include "imap/resp.h"
#include "imap/view.h"
#include "lib/log.h"

static void idle_on_timer(void *ctx);

static void idle_arm_timer(struct session *s)
{
	struct loop *loop = conn_loop(s->conn);
	uint64_t now = loop_now_ms(loop);
	uint64_t delay = (uint64_t)atomic_load(&s->ctx->settings.idle_keepalive_s) * 1000;
	if (delay == 0)
		delay = 1000;
	if (s->idle_deadline_ms <= now)
		delay = 0;
	else if (s->idle_deadline_ms - now < delay)
		delay = s->idle_deadline_ms - now;
	timer_start(loop, &s->idle_timer, delay, idle_on_timer, s);
}

static void idle_on_timer(void *ctx)
{
	struct session *s = ctx;
	if (loop_now_ms(conn_loop(s->conn)) >= s->idle_deadline_ms) {
		log_info("event=timeout sid=%016llx kind=idle in_idle=yes",
			 (unsigned long long)s->id);
		view_watch(s, NULL);
		session_bye(s, "Autologout; idle for too long", "timeout");
		return;
	}
	/* RFC 2177 §3 / RFC 9051 §6.3.13: keep NATs and the client's own
	 * timers from dropping a quiet connection. */
	resp_status_untagged(s, RESP_OK, RESP_CODE_NONE, NULL, "Still here");
	conn_flush(s->conn);
	idle_arm_timer(s);
}

/* A change in the selected mailbox (loop thread). */
static void idle_on_wake(struct session *s)
{
	if (s->state != SESSION_SELECTED || s->view == NULL)
		return;
	store_mailbox_sync_new(s->view->mb);
	view_sync(s, true);
	if (!s->conn_gone)
		conn_flush(s->conn);
}

static void idle_on_line(struct session *s, char *line, size_t len)
{
	view_watch(s, NULL);
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
		resp_tagged(s, s->cmd_tag, RESP_OK, RESP_CODE_NONE, NULL, "IDLE terminated");
	else
		resp_tagged(s, s->cmd_tag, RESP_BAD, RESP_CODE_NONE, NULL,
			    "Expected DONE to end IDLE");
	session_cmd_done(s);
}

enum cmd_result cmd_idle(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 0))
		return CMD_DONE;
	resp_continue(s, "idling");
	if (s->state == SESSION_SELECTED && s->view != NULL) {
		/* Whatever is pending goes out at once (RFC 2177 §3). */
		store_mailbox_sync_new(s->view->mb);
		view_sync(s, true);
		if (s->state == SESSION_LOGOUT)
			return CMD_DONE; /* the mailbox is gone: view_sync said BYE */
		view_watch(s, idle_on_wake);
	}
	uint64_t now = loop_now_ms(conn_loop(s->conn));
	s->idle_deadline_ms = now + (uint64_t)atomic_load(&s->ctx->settings.idle_timeout_s) * 1000;
	idle_arm_timer(s);
	session_read_line(s, idle_on_line);
	return CMD_ASYNC;
}
