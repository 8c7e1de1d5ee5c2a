/* session: one IMAP connection's protocol state.
 *
 * States (RFC 9051 §3): not authenticated -> authenticated -> selected,
 * and logout. The session turns input into commands with the parser,
 * checks each against the command table (state, then handler), and writes
 * the replies. Commands run one at a time, in order: a handler returns
 * CMD_DONE when its tagged reply is queued, or CMD_ASYNC when it waits for
 * work off the loop (password check) and later calls session_cmd_done();
 * while a command is in progress no further input is parsed, so pipelined
 * commands keep their order and the answers their tags.
 *
 * Life cycle: created by imap_protocol.on_accept, freed after its
 * connection is closed and no pool job still refers to it. */
#ifndef ROOST_IMAP_SESSION_H
#define ROOST_IMAP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap.h"
#include "imap/parser.h"
#include "net/conn.h"
#include "store/store.h"

enum session_state {
	SESSION_NOT_AUTH = 1u << 0,
	SESSION_AUTH = 1u << 1,
	SESSION_SELECTED = 1u << 2,
	SESSION_LOGOUT = 1u << 3,
};

/* Extensions a client turned on with ENABLE (RFC 5161). */
enum session_enabled {
	SESSION_ENABLED_IMAP4REV2 = 1u << 0,
	SESSION_ENABLED_UTF8_ACCEPT = 1u << 1, /* RFC 6855 */
};

enum cmd_result { CMD_DONE, CMD_ASYNC };

struct session;
struct view;
/* Reads one continuation line (AUTHENTICATE's client responses): line is
 * without its CRLF, NUL-terminated. */
typedef void session_line_fn(struct session *s, char *line, size_t len);
/* Produces the next part of a long command's output (FETCH of many or
 * large messages). Called whenever the client has drained the output below
 * the high-water mark. Returns true when the command is complete: its
 * tagged reply is written, and the session resumes reading commands. */
typedef bool session_producer_fn(struct session *s);
/* Runs when a session_delay() timer fires. */
typedef void session_delay_fn(struct session *s, void *ctx);

struct session {
	struct imap_ctx *ctx;
	struct conn *conn;
	uint64_t id;
	enum session_state state;
	unsigned enabled; /* enum session_enabled bits */
	struct imap_parser *parser;
	char *user; /* after login */
	struct store_user *mail; /* after login: the user's mail */
	struct view *view;       /* in SELECTED state: the mailbox */
	session_producer_fn *producer; /* set while a long command streams */
	loop_fn *producer_free;        /* frees producer_ctx if the session ends first */
	void *producer_ctx;
	bool producer_waiting;         /* see session_producer_wait */
	bool pump_queued;              /* a producer slice is queued (loop_post_bulk) */
	bool implicit_tls;
	bool tls;        /* TLS is established (implicit or STARTTLS) */
	bool tls_pending; /* a handshake is under way: nothing may be written */
	bool greeted;
	bool in_command; /* a command is running (CMD_ASYNC) */
	bool conn_gone;  /* the connection was closed; free when jobs == 0 */
	bool logged_out;
	unsigned jobs;   /* pool jobs referring to this session */
	char *cmd_tag;   /* tag of the running command (heap copy) */
	/* Selected state (view.c, cmd_idle.c): the running command is FETCH,
	 * STORE or SEARCH by sequence number, so no EXPUNGE may be sent
	 * (RFC 9051 §7.5.1); and when an IDLE logs the client out. */
	bool cmd_no_expunge;
	const char *cmd_name; /* the running command's name (static), or NULL */
	uint64_t idle_deadline_ms;
	session_line_fn *line_fn; /* set while waiting for a continuation line */
	struct timer idle_timer;
	/* Stalled output (session.c): runs while output is queued; cut the
	 * client when none of it was read for output_stall_timeout. */
	struct timer stall_timer;
	uint64_t stall_written;  /* bytes the client had read at the last check */
	uint64_t stall_since_ms; /* when it last read any */
	/* admin.c's registry of live sessions (WHO, KICK) */
	struct session *admin_prev, *admin_next;
	uint64_t start_ms;
	uint64_t bytes_in, bytes_out;
	unsigned commands;
	/* Governance (limits/): this connection in the shared registry; a
	 * timer that holds a throttled command or login (session_delay); the
	 * running throttle episode (logged once at its start and end); and
	 * the connection-level refusal to send after a TLS handshake. */
	struct limits_conn *limits;
	struct timer delay_timer;
	session_delay_fn *delay_fn;
	loop_fn *delay_free;
	void *delay_ctx;
	bool throttle_passed;  /* the held command was admitted: run it */
	bool throttle_episode; /* a throttle episode is under way */
	const char *refuse_text; /* static; set when the greeting must be BYE */
	bool refuse_held; /* refused for its address: BYE after a hold */
	/* Metrics (metrics/): the state counted in roost_sessions{state}
	 * (enum metrics_state), and the running command's label and start
	 * for roost_command_duration_seconds. */
	int metrics_state;
	unsigned metrics_cmd;
	bool metrics_cmd_open;
	uint64_t metrics_cmd_start_ns;
};

extern const struct conn_handler session_conn_handler;

/* Creates a session for a new connection and attaches it as handler. */
void session_accept(struct imap_ctx *ctx, struct conn *c, bool implicit_tls);

/* Ends the running command (after CMD_ASYNC) and resumes input. */
void session_cmd_done(struct session *s);
/* Queues bytes / a string on the connection (counted as bytes out). */
void session_write(struct session *s, const void *data, size_t len);
void session_write_str(struct session *s, const char *str);
/* Ends the session: optional "* BYE [code] text" (text NULL: none),
 * then close after flushing. reason is for logs. */
void session_bye(struct session *s, const char *text, const char *reason);
/* Moves to a new state (updates parser limits and timeouts). */
void session_set_state(struct session *s, enum session_state state);
/* Whether LOGIN / AUTHENTICATE PLAIN may be used on this connection now
 * (TLS, or plaintext allowed by plaintext_auth). */
bool session_plaintext_auth_allowed(const struct session *s);
/* Waits for a continuation line; fn is called with it, input resumes. */
void session_read_line(struct session *s, session_line_fn *fn);
/* From a handler about to return CMD_ASYNC: stream the output through fn
 * (with ctx in s->producer_ctx) until it returns true. The session calls
 * fn as often as the client's reading allows and never buffers more than
 * the high-water mark; between calls other connections run. When fn
 * returns true, or the session ends first, free_fn(ctx) is called (when
 * not NULL). */
void session_set_producer(struct session *s, session_producer_fn *fn, loop_fn *free_fn,
			  void *ctx);
/* session_set_producer for a command that returned CMD_ASYNC without a
 * producer and now, on the session's loop (e.g. after a pool job), has
 * output to stream: installs it and starts pumping. */
void session_start_producer(struct session *s, session_producer_fn *fn, loop_fn *free_fn,
			    void *ctx);
/* A producer that needs a pool job's result first (FETCH's \Seen
 * commit) calls session_producer_wait(s) after session_job_begin(s) and
 * returns false: the pump stops, whatever the client's reading, until
 * the job's completion (on the loop, after session_job_end returned true)
 * calls session_producer_resume(s). */
void session_producer_wait(struct session *s);
void session_producer_resume(struct session *s);
/* Holds the session for delay_ms (no input is read meanwhile; the caller
 * is a running command or pauses input itself), then calls fn(s, ctx).
 * If the session ends first, free_fn(ctx) is called instead (when not
 * NULL). One delay at a time. */
void session_delay(struct session *s, uint64_t delay_ms, session_delay_fn *fn, loop_fn *free_fn,
		   void *ctx);
/* Throttle episodes: the start is logged and counted once (kind names
 * the limit, action "delay" or "refuse"); the end when a command runs
 * unthrottled again. */
void session_throttle_begin(struct session *s, enum limits_throttle kind, const char *action);
void session_throttle_end(struct session *s);
/* Whether the client enabled IMAP4rev2 (or UTF8=ACCEPT): UTF-8 mailbox
 * names and strings, rev2 response forms. */
bool session_rev2(const struct session *s);
bool session_utf8(const struct session *s);
/* Charges us microseconds of a pool thread's time, spent at the sessions'
 * priority on this session's behalf (e.g. a full-text query), to the
 * user's work budget (user_cpu_percent), as the loop's own slices are. */
void session_charge_pool_time(struct session *s, uint64_t us);
/* Pool job accounting: the session stays allocated while jobs > 0. */
void session_job_begin(struct session *s);
/* Returns false when the session is gone (it was freed here): the
 * caller must not touch it. */
bool session_job_end(struct session *s);
/* Called by resp_tagged() just before the running command's tagged reply:
 * in the selected state, brings the view up to date so that the untagged
 * updates (EXISTS, FETCH FLAGS, EXPUNGE when allowed) precede it. */
void session_before_tagged(struct session *s);
/* Human name of a state ("not authenticated", ...). */
const char *session_state_name(enum session_state state);

#endif
