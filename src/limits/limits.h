/* limits: roost's connection limits, per-user rates and authentication
 * penalties (issue 4), shared by every loop thread.
 *
 * One struct limits per server holds a registry of entries keyed by source
 * address ("ip"), user, and user+address, each with the number of
 * connections it counts, the sessions it lists (for replace-oldest) and
 * its rate state: per user a command token bucket and download / upload
 * byte windows; per address the consecutive authentication failures and a
 * rolling window of connection attempts. The registry is a fixed array of
 * shards (a mutex and a hash table each). A user's entry and its
 * user+address entries hash by user name into the same shard, so a login
 * decision that checks and updates both takes one lock. Entries that count
 * nothing and whose rate state has decayed are freed while walking a hash
 * chain (and a few chains per lookup), so memory follows the active set.
 *
 * Every session owns a struct limits_conn. Sessions live on different loop
 * threads; when a login replaces the longest-idle session of the same user
 * (policy replace-oldest), the registry unlinks the victim at once (its
 * slot goes to the new login) and calls the victim's kick function with a
 * reference: that function must be thread-safe (the IMAP layer posts to
 * the victim's loop), and whoever handles the kick calls
 * limits_conn_unref() when done. limits_conn_owner() returns NULL once the
 * owner has released its limits_conn.
 *
 * Settings are atomics (limits_configure), so SIGHUP changes apply to the
 * next decision. All times are a caller's monotonic milliseconds. */
#ifndef ROOST_LIMITS_LIMITS_H
#define ROOST_LIMITS_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum limits_policy {
	LIMITS_POLICY_REFUSE,         /* the new login gets NO [LIMIT] */
	LIMITS_POLICY_REPLACE_OLDEST, /* the longest-idle session is ended */
};

/* A value of 0 turns a limit off. */
struct limits_config {
	unsigned max_ip_preauth;  /* connections from one address not yet logged in */
	unsigned ip_connect_rate; /* connection attempts per address per minute */
	unsigned max_user;        /* sessions of one user */
	enum limits_policy user_policy;
	unsigned max_userip;      /* sessions of one user from one address */
	enum limits_policy userip_policy;
	unsigned auth_fail_delay_ms;     /* penalty after the second failure; doubles */
	unsigned auth_fail_delay_max_ms; /* cap of the penalty */
	unsigned cmd_rate;               /* commands per second per user, sustained */
	unsigned cmd_burst;              /* commands a user may send at once */
	unsigned throttle_max_delay_ms;  /* longer delays are refused instead */
	unsigned throttle_max_delayed;   /* consecutive delayed commands before refusing */
	uint64_t download_bytes;         /* FETCH output per user per window */
	uint64_t upload_bytes;           /* APPEND/literal input per user per window */
	unsigned bandwidth_window_s;
	unsigned cpu_percent;  /* share of one thread's time one user's commands may take */
	unsigned cpu_burst_ms; /* time a user may take at once before cpu_percent applies */
};

/* Why a connection or login was refused (metrics label = name). */
enum limits_refuse {
	LIMITS_OK,
	LIMITS_REFUSE_MAX_CONNECTIONS, /* counted by the caller: the server total */
	LIMITS_REFUSE_IP_PREAUTH,
	LIMITS_REFUSE_IP_RATE,
	LIMITS_REFUSE_USER,
	LIMITS_REFUSE_USERIP,
	LIMITS_REFUSE_COUNT_,
};

/* What a throttle acted on (metrics label = name). */
enum limits_throttle {
	LIMITS_THROTTLE_COMMANDS,
	LIMITS_THROTTLE_DOWNLOAD,
	LIMITS_THROTTLE_UPLOAD,
	LIMITS_THROTTLE_AUTH_PENALTY,
	LIMITS_THROTTLE_CPU,
	LIMITS_THROTTLE_COUNT_,
};

/* Counters since start, for metrics. */
struct limits_stats {
	uint64_t refused[LIMITS_REFUSE_COUNT_];    /* connections / logins refused */
	uint64_t replaced[LIMITS_REFUSE_COUNT_];   /* sessions ended by replace-oldest */
	uint64_t throttles[LIMITS_THROTTLE_COUNT_]; /* throttle episodes started */
	uint64_t throttle_refusals[LIMITS_THROTTLE_COUNT_]; /* commands answered NO [LIMIT] */
};

struct limits;
struct limits_conn;

/* Called from any thread, with a reference the handler must drop with
 * limits_conn_unref(): end the owner of lc (replace-oldest). */
typedef void limits_kick_fn(struct limits_conn *lc, void *kick_ctx);

struct limits *limits_new(void);
void limits_free(struct limits **lim);
void limits_configure(struct limits *lim, const struct limits_config *cfg);
void limits_get_config(struct limits *lim, struct limits_config *cfg_r);

/* "ip_preauth", "commands", ... */
const char *limits_refuse_name(enum limits_refuse r);
const char *limits_throttle_name(enum limits_throttle t);
void limits_stats(struct limits *lim, struct limits_stats *stats_r);
void limits_count_refused(struct limits *lim, enum limits_refuse r);
void limits_count_throttle(struct limits *lim, enum limits_throttle t, bool refusal);

/* A new connection from ip. Returns its limits_conn (always) and in
 * *refuse_r LIMITS_OK or why it must be refused (too many attempts per
 * minute, too many connections not logged in). A refused connection
 * counts nothing but must still be freed. owner is what
 * limits_conn_owner() returns; kick(lc, kick_ctx) ends it. */
struct limits_conn *limits_conn_new(struct limits *lim, const char *ip, uint64_t now_ms,
				    limits_kick_fn *kick, void *kick_ctx, void *owner,
				    enum limits_refuse *refuse_r);
/* The owner is done with lc (owner's thread): uncounts it and drops the
 * owner's reference. Sets *lc NULL. */
void limits_conn_free(struct limits_conn **lc);
void limits_conn_unref(struct limits_conn *lc);
/* The owner, or NULL after limits_conn_free (owner's thread only). */
void *limits_conn_owner(const struct limits_conn *lc);
/* Marks activity (replace-oldest ends the longest-idle session). */
void limits_conn_touch(struct limits_conn *lc, uint64_t now_ms);

/* A successful authentication as user: moves lc from the address's
 * pre-login count to the user's counts, replacing the longest-idle session
 * when a limit with policy replace-oldest is reached. Returns LIMITS_OK,
 * or LIMITS_REFUSE_USER / LIMITS_REFUSE_USERIP (nothing changed). */
enum limits_refuse limits_conn_login(struct limits_conn *lc, const char *user, uint64_t now_ms);

/* A connection refused for its address (rate or pre-login count) is held
 * before its BYE (a tarpit), so a client that reconnects at once on
 * refusal costs an accept per hold instead of one per round trip. Returns
 * how long to hold it in ms: a second per max_ip_preauth connections the
 * address already has held, up to LIMITS_HOLD_MAX_MS, so the more an
 * address floods the slower its retries come. 0: refuse at once, because
 * the address already has max_held connections held (held descriptors
 * stay bounded per address). */
uint64_t limits_conn_hold(struct limits_conn *lc, unsigned max_held);
#define LIMITS_HOLD_STEP_MS 1000
#define LIMITS_HOLD_MAX_MS 30000
/* Whether a refusal of lc's address should be logged now: the first one,
 * then at most one every 10 s (no log floods); *unlogged_r is the number
 * of refusals not logged since the last line. */
bool limits_refusal_log_due(struct limits_conn *lc, uint64_t now_ms, unsigned *unlogged_r);

/* Authentication penalty of lc's address: the delay before this password
 * check, from its consecutive failures (0, 0, d, 2d, 4d ... up to the
 * cap). Penalized checks of one address are spaced a penalty apart, so
 * parallel connections wait for their turn. */
uint64_t limits_auth_delay(struct limits_conn *lc, uint64_t now_ms);
/* Records the outcome of a password check from lc's address (success
 * resets the penalty). */
void limits_auth_result(struct limits_conn *lc, bool ok, uint64_t now_ms);
/* The penalty for n consecutive failures with the given settings. */
uint64_t limits_auth_penalty(unsigned failures, unsigned delay_ms, unsigned max_ms);

enum limits_verdict {
	LIMITS_GO,     /* run now */
	LIMITS_DELAY,  /* run after *wait_ms_r */
	LIMITS_REFUSE, /* answer NO [LIMIT]; the rate allows a retry in *wait_ms_r */
};

/* A command from lc's (logged-in) user: takes a token from the user's
 * bucket. GO, DELAY by the debt, or REFUSE when the delay would exceed
 * throttle_max_delay_ms or this is the throttle_max_delayed-th delayed
 * command in a row (the token is given back). */
enum limits_verdict limits_cmd_admit(struct limits_conn *lc, uint64_t now_ms,
				     uint64_t *wait_ms_r);

enum limits_dir { LIMITS_DOWNLOAD, LIMITS_UPLOAD };
/* Bytes moved for lc's user in direction dir. */
void limits_bytes_add(struct limits_conn *lc, enum limits_dir dir, uint64_t n, uint64_t now_ms);
/* How long lc's user must wait before moving more bytes in dir (0: now). */
uint64_t limits_bytes_wait(struct limits_conn *lc, enum limits_dir dir, uint64_t now_ms);

/* Work budget: the time lc's user's commands kept a network thread busy
 * (a bucket of microseconds refilled at cpu_percent of one thread, holding
 * cpu_burst_ms). A bulk FETCH or SEARCH that empties it continues in
 * slices spaced to hold the share, so one user cannot take the threads
 * every other session shares. */
void limits_cpu_add(struct limits_conn *lc, uint64_t us, uint64_t now_ms);
/* How long lc's user must wait before more work (0: now). */
uint64_t limits_cpu_wait(struct limits_conn *lc, uint64_t now_ms);

#endif
