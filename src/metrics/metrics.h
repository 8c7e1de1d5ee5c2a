/* metrics: process-wide counters, gauges and histograms, rendered in the
 * Prometheus text exposition format 0.0.4 (metrics_http.c serves it).
 *
 * Every metric is a fixed slot in a static table: labels are fixed enums
 * (or, for IMAP commands, a name list registered once at start and capped
 * at METRICS_MAX_COMMANDS plus "other"), so the label set can never grow
 * with client input. Updates are lock-free: each thread adds to its own
 * shard of the table with a relaxed atomic add (no cache line is shared
 * between busy loop threads), and a scrape sums the shards. Gauges that go
 * up and down (sessions by state) are counters of +1/-1 in two's
 * complement, so an increment in one shard and the decrement in another
 * still sum to the right value.
 *
 * Histograms have fixed latency buckets in seconds (0.0005 ... 10, then
 * +Inf); observations are nanoseconds from metrics_now_ns(). Each update
 * function may be called from any thread at any time, before or without
 * metrics_init(). */
#ifndef ROOST_METRICS_METRICS_H
#define ROOST_METRICS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* roost_sessions{state}: live sessions by IMAP state (RFC 9051 §3). */
enum metrics_state {
	METRICS_STATE_NOT_AUTH,
	METRICS_STATE_AUTH,
	METRICS_STATE_SELECTED,
	METRICS_STATE_LOGOUT,
	METRICS_STATE_COUNT_,
};

/* roost_connections_accepted_total{listener} */
enum metrics_listener {
	METRICS_LISTENER_IMAP,
	METRICS_LISTENER_IMAPS,
	METRICS_LISTENER_COUNT_,
};

/* roost_connections_refused_total{reason}: greeted with BYE [UNAVAILABLE]. */
enum metrics_refuse {
	METRICS_REFUSE_MAX_CONNECTIONS, /* the server total */
	METRICS_REFUSE_IP_PREAUTH,      /* the address's connections not logged in */
	METRICS_REFUSE_IP_RATE,         /* the address's connection attempts per minute */
	METRICS_REFUSE_COUNT_,
};

/* roost_logins_total{mechanism,result} */
enum metrics_mech {
	METRICS_MECH_LOGIN, /* the LOGIN command */
	METRICS_MECH_PLAIN, /* AUTHENTICATE PLAIN */
	METRICS_MECH_COUNT_,
};

enum metrics_login_result {
	METRICS_LOGIN_OK,
	METRICS_LOGIN_FAIL,        /* wrong password or unknown user */
	METRICS_LOGIN_LIMIT,       /* NO [LIMIT]: a per-user connection limit */
	METRICS_LOGIN_AUTHZ,       /* authorization identity refused */
	METRICS_LOGIN_UNAVAILABLE, /* the mail store could not be opened */
	METRICS_LOGIN_RESULT_COUNT_,
};

/* roost_throttles_total{reason}: throttle episodes started (limits/). */
enum metrics_throttle {
	METRICS_THROTTLE_COMMANDS,     /* command rate */
	METRICS_THROTTLE_DOWNLOAD,     /* FETCH output bandwidth */
	METRICS_THROTTLE_UPLOAD,       /* APPEND / literal bandwidth */
	METRICS_THROTTLE_AUTH_PENALTY, /* failed-login delay of an address */
	METRICS_THROTTLE_CPU,          /* a user's share of the network threads' time */
	METRICS_THROTTLE_COUNT_,
};

/* roost_timeouts_total{kind} */
enum metrics_timeout {
	METRICS_TIMEOUT_PREAUTH,       /* no login within preauth_timeout */
	METRICS_TIMEOUT_IDLE,          /* autologout after idle_timeout */
	METRICS_TIMEOUT_TLS_HANDSHAKE, /* tls_handshake_timeout */
	METRICS_TIMEOUT_OUTPUT_STALL,  /* output_stall_timeout */
	METRICS_TIMEOUT_COUNT_,
};

/* roost_store_operation_duration_seconds{op}: the store.h calls. */
enum metrics_store_op {
	METRICS_STORE_USER_OPEN,
	METRICS_STORE_LIST,
	METRICS_STORE_CREATE,
	METRICS_STORE_DELETE,
	METRICS_STORE_RENAME,
	METRICS_STORE_SUBSCRIBE,
	METRICS_STORE_STATUS,
	METRICS_STORE_APPEND_BEGIN,
	METRICS_STORE_APPEND_ADD,
	METRICS_STORE_APPEND_COMMIT,
	METRICS_STORE_MAILBOX_OPEN,
	METRICS_STORE_SYNC_NEW,
	METRICS_STORE_UIDS,
	METRICS_STORE_FETCH,
	METRICS_STORE_BODY_OPEN,
	METRICS_STORE_BODY_READ,
	METRICS_STORE_SET_FLAGS,
	METRICS_STORE_EXPUNGE,
	METRICS_STORE_COPY,
	METRICS_STORE_MOVE,
	METRICS_STORE_CHANGES,
	METRICS_STORE_OP_COUNT_,
};

/* roost_lmtp_deliveries_total{result}: one per LMTP recipient after DATA. */
enum metrics_lmtp_result {
	METRICS_LMTP_OK,        /* committed: 250 */
	METRICS_LMTP_TEMPFAIL,  /* store failure: 451 */
	METRICS_LMTP_OVERQUOTA, /* 452 / 552 quota */
	METRICS_LMTP_TOO_BIG,   /* over lmtp_max_message_size: 552 5.3.4 */
	METRICS_LMTP_RESULT_COUNT_,
};

/* At most this many registered command names; more are counted as
 * "other". */
#define METRICS_MAX_COMMANDS 48
/* Finite histogram buckets (upper bounds 0.0005 s ... 10 s). */
#define METRICS_BUCKETS 14

/* Records the process start time (roost_process_start_time_seconds).
 * Call once at start; without it the start time is the first scrape. */
void metrics_init(void);

/* Registers the label values of roost_command_duration_seconds{command}:
 * names are static strings (the command table), copied as pointers.
 * Names past METRICS_MAX_COMMANDS are ignored (counted as "other"). Call
 * before any thread updates metrics; calling again replaces the list. */
void metrics_set_command_names(const char *const *names, size_t n);
/* The registered index of an upper-case command name, or the index of
 * "other" (never fails). */
unsigned metrics_command_id(const char *name);

/* Monotonic clock in nanoseconds, for the durations below. */
uint64_t metrics_now_ns(void);

/* Sessions: a session enters a state and later leaves it. */
void metrics_session_enter(enum metrics_state state);
void metrics_session_leave(enum metrics_state state);
void metrics_conn_accepted(enum metrics_listener listener);
void metrics_conn_refused(enum metrics_refuse reason);
void metrics_login(enum metrics_mech mech, enum metrics_login_result result);
/* A password check of a known user: answered by the cache, or not. */
void metrics_auth_cache(bool hit);
/* A command from its start (parsed) to its tagged reply. */
void metrics_command(unsigned command_id, uint64_t duration_ns);
/* IMAP bytes read from and written to clients (after TLS decryption). */
void metrics_bytes_in(uint64_t n);
void metrics_bytes_out(uint64_t n);
void metrics_throttle(enum metrics_throttle reason);
void metrics_timeout(enum metrics_timeout kind);
/* A finished TLS handshake; the duration is observed when ok. */
void metrics_tls_handshake(bool ok, uint64_t duration_ns);
void metrics_store_op(enum metrics_store_op op, uint64_t duration_ns);
/* roost_lmtp_sessions (delta +1 / -1) and, per recipient of a message,
 * roost_lmtp_deliveries_total{result} and roost_lmtp_delivered_bytes_total
 * (bytes stored). */
void metrics_lmtp_session(int delta);
void metrics_lmtp_delivery(enum metrics_lmtp_result result, uint64_t bytes);

/* Appends the whole exposition (text format 0.0.4) to out. */
void metrics_render(struct buf *out);

/* Appends value escaped for a label value: backslash, double quote and
 * line feed become \\, \" and \n (exposition format 0.0.4). */
void metrics_escape_label(struct buf *out, const char *value);
/* Appends text escaped for a HELP line: backslash and line feed only. */
void metrics_escape_help(struct buf *out, const char *text);

#endif
