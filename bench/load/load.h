/*
 * load.h — shared types of roost-load, the IMAP load generator (see load.c
 * for usage and the JSON contract).
 *
 * One process, one epoll loop, N sessions. A session is one scripted IMAP
 * client: a socket (optionally TLS), a bounded response reader that streams
 * literals without keeping them, a bounded output queue whose large literal
 * (an APPEND body) points into a shared, read-only message, and a workload
 * step. Every wait has a deadline; the run ends by itself after
 * warmup + duration + a bounded drain.
 */
#ifndef ROOST_LOAD_H
#define ROOST_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/ssl.h>

/* A response line longer than this is kept truncated (its prefix is all
 * any workload parses); literals never enter the line buffer. */
#define LOAD_LINE_MAX 2048
/* Command text (tag, command, quoted user and password). */
#define LOAD_OUT_MAX 1024
/* UIDs a sync session samples from UID FETCH 1:* (reservoir sampling). */
#define LOAD_UID_SAMPLE 64
/* Log-linear histogram: 512 sub-buckets per power of two above 1024 µs,
 * values capped at 2^36 µs. */
#define LOAD_HIST_BUCKETS (512 * 27 + 512)

enum load_op {
	OP_CONNECT,
	OP_STARTTLS,
	OP_LOGIN,
	OP_SELECT,
	OP_LOGOUT,
	OP_CYCLE,
	OP_IDLE,
	OP_FETCH_FLAGS,
	OP_FETCH_BODY,
	OP_STORE,
	OP_APPEND,
	OP_EXPUNGE,
	OP_FETCH_BULK,
	OP_SEARCH_TEXT,
	OP_SEARCH_FROM,
	OP_SEARCH_SINCE,
	OP_DELIVER,
	OP_NOOP,
	OP_SEARCH_UNSEEN,
	OP_COUNT
};

enum load_err {
	ERR_CONNECT,
	ERR_TLS,
	ERR_TIMEOUT,
	ERR_CLOSED,
	ERR_BYE,
	ERR_NO,
	ERR_BAD,
	ERR_PROTOCOL,
	ERR_LOGIN,
	ERR_IDLE_ENDED,
	ERR_DELIVER,
	ERR_COUNT
};

enum load_workload {
	WL_LOGIN_STORM,
	WL_IDLE_HOLD,
	WL_SYNC,
	WL_FETCH_BULK,
	WL_APPEND,
	WL_SEARCH,
	WL_MIXED,
	WL_COUNT
};

enum load_tls_mode { LOAD_TLS_NONE, LOAD_TLS_STARTTLS, LOAD_TLS_IMPLICIT };

/* Connection phase of a session. */
enum load_phase {
	PH_OFF,        /* no socket; waits in the connect queue or for wake_us */
	PH_CONNECTING, /* non-blocking connect() in progress */
	PH_HANDSHAKE,  /* TLS handshake (implicit TLS or after STARTTLS) */
	PH_GREETING,   /* waits for the server greeting */
	PH_READY,      /* logged-in script: one command at a time */
};

/* Script step: the command a session sends next (or has in flight). */
enum load_step {
	ST_STARTTLS,
	ST_LOGIN,
	ST_SELECT,
	ST_LOGOUT,
	ST_IDLE,
	ST_FETCH_FLAGS,
	ST_FETCH_BODY,
	ST_STORE_SEEN,
	ST_APPEND,
	ST_STORE_DELETED,
	ST_EXPUNGE,
	ST_FETCH_BULK,
	ST_SEARCH,
	ST_DELIVER,
	ST_NOOP,
	ST_SEARCH_UNSEEN,
};

struct load_hist {
	uint64_t count;
	uint64_t max;
	uint64_t *buckets; /* LOAD_HIST_BUCKETS, allocated on first record */
};

struct load_opts {
	const char *host;
	unsigned port;
	const char *users_file;
	enum load_workload workload;
	unsigned clients;
	double duration_s;
	double warmup_s;
	double ramp_s;
	double connect_rate; /* new connections per second; 0 = unlimited */
	double timeout_s;
	long server_pid; /* 0 = none */
	bool json;
	enum load_tls_mode tls;
	unsigned think_ms;
	double deliver_every_s;
	const char *maildir;   /* idle-hold: deliver into this Maildir (%u = user) */
	unsigned deliverers;   /* idle-hold: concurrent delivery connections */
	unsigned append_every; /* sync: APPEND+EXPUNGE every Nth round */
	unsigned fetch_bodies; /* sync: bodies fetched per round */
	uint32_t src_first;    /* source addresses, host order; 0 = no bind */
	uint32_t src_last;
};

struct load_user {
	char *name;
	char *pass;
	/* idle-hold delivery bookkeeping */
	uint32_t deliver_round;
	uint64_t deliver_us;    /* when the last delivery's APPEND was sent */
	bool deliver_in_window; /* that delivery counts in the report */
	uint32_t idle_count;    /* sessions of this user now in IDLE */
};

struct load_run;

struct load_sess {
	struct load_run *run;
	uint32_t id;
	uint32_t user;
	bool deliverer;
	int fd;
	SSL *ssl;
	enum load_phase phase;
	bool epollout;     /* EPOLLOUT is registered */
	bool queued;       /* waits in the connect queue */
	bool want_connect; /* PH_OFF: (re)connect once wake_us has passed */
	bool starttls_done;
	bool literal_plus;
	bool active;       /* completed a workload command in the window */
	uint64_t idle_since_us; /* when IDLE was acknowledged */
	uint64_t wake_us;       /* PH_OFF: connect at; PH_READY: think until */
	uint64_t deadline_us;   /* current wait's deadline; 0 = none */
	uint64_t cycle_start_us;
	uint64_t cmd_start_us;

	/* command in flight */
	enum load_step step;
	enum load_op cmd_op;
	bool cmd_inflight;
	bool idling; /* IDLE acknowledged by "+" */
	char tag[16];
	uint32_t tag_seq;

	/* response reader */
	char line[LOAD_LINE_MAX];
	size_t line_len;
	char ltail[24]; /* the last bytes of the physical line (literal marker) */
	size_t ltail_len;
	uint64_t literal_left;
	uint64_t cmd_literal_bytes; /* literal bytes of the command in flight */

	/* output: out[] (command text), then body (a shared literal), then
	 * tail; with hold_for_cont the body waits for a "+" (no LITERAL+). */
	char out[LOAD_OUT_MAX];
	size_t out_len, out_pos;
	const char *body;
	size_t body_len, body_pos;
	const char *tail;
	size_t tail_len, tail_pos;
	bool hold_for_cont;

	/* workload state */
	uint32_t exists;
	uint32_t heard_round;
	uint32_t round;
	uint32_t uids[LOAD_UID_SAMPLE];
	uint32_t uids_seen;
	uint32_t appended_uid;
	uint32_t rotate;
	uint32_t rng;
};

struct load_msg {
	char *data;
	size_t len;
};

struct load_run {
	struct load_opts o;
	int epfd;
	SSL_CTX *ssl_ctx;
	struct load_user *users;
	size_t nusers;
	struct load_sess *sess; /* clients sessions, then deliverers */
	size_t nsess;
	size_t nclients;

	/* connect queue (ring of session indices) */
	uint32_t *cq;
	size_t cq_head, cq_len;
	double connect_tokens;
	uint32_t src_next;

	uint64_t now_us;
	uint64_t start_us, window_start_us, window_end_us, drain_end_us;
	bool in_window;
	bool draining;

	/* messages: the append mix and the delivery message */
	struct load_msg msgs[4];
	struct load_msg deliver_msg;

	/* idle-hold deliveries */
	uint32_t deliver_round;
	uint64_t next_deliver_us;
	size_t deliver_next_user; /* next user to deliver to in this round */
	bool deliver_pending;

	/* results (measured window unless said otherwise) */
	struct load_hist hist[OP_COUNT];
	struct load_hist commands; /* every workload command (mixed, sync): "commands" */
	struct load_hist deliver_hist;
	uint64_t deliver_expected, deliver_within_2s;
	uint64_t ops;
	uint64_t bytes_in, bytes_out, message_bytes;
	uint64_t errors[ERR_COUNT];
	uint64_t sessions_established; /* successful LOGINs, whole run */
	uint64_t sessions_active;      /* client sessions with a command done in the window */
	uint64_t sessions_refused;     /* connect failures, BYE greetings, LOGIN NO */
	uint64_t appends_ok;           /* OK APPENDs, whole run */
	uint64_t unfinished;           /* commands still in flight at the end */
	uint32_t idle_now, idle_peak;

	/* server process */
	uint64_t rss_initial; /* before the first connect */
	uint64_t rss_start, rss_end, rss_peak;
	double cpu_start, cpu_end;
	uint64_t next_sample_us;
};

extern const char *const load_op_names[OP_COUNT];
extern const char *const load_err_names[ERR_COUNT];
extern const char *const load_workload_names[WL_COUNT];

/* load.c */
uint64_t load_now_us(void);
void load_enqueue(struct load_run *r, struct load_sess *s);

/* load_stats.c */
void load_hist_record(struct load_hist *h, uint64_t us);
uint64_t load_hist_percentile(const struct load_hist *h, double pct);
void load_hist_free(struct load_hist *h);
bool load_proc_rss_kib(long pid, uint64_t *kib_r);
bool load_proc_cpu_s(long pid, double *cpu_r);
void load_record_op(struct load_run *r, enum load_op op, uint64_t start_us, bool primary);
void load_count_error(struct load_run *r, enum load_err e);
void load_report(struct load_run *r, FILE *out);

/* load_tls.c */
SSL_CTX *load_tls_ctx(void);
/* 1 done, 0 in progress (wants epoll), -1 failed */
int load_tls_handshake(struct load_sess *s);
/* >0 bytes, 0 EOF, -1 error, -2 would block */
long load_tls_read(struct load_sess *s, void *buf, size_t len);
long load_tls_write(struct load_sess *s, const void *buf, size_t len);

/* load_conn.c */
void load_conn_start(struct load_sess *s);
void load_conn_event(struct load_sess *s, uint32_t events);
void load_conn_close(struct load_sess *s);
void load_conn_fail(struct load_sess *s, enum load_err e, bool refused);
void load_conn_send(struct load_sess *s, const char *text, size_t len, const char *body,
                    size_t body_len, bool wait_cont);
void load_conn_flush(struct load_sess *s);
void load_conn_release_body(struct load_sess *s);
void load_conn_begin_tls(struct load_sess *s);

/* load_workload.c */
void load_wl_greeting(struct load_sess *s);
void load_wl_next(struct load_sess *s);
void load_wl_untagged(struct load_sess *s, const char *line, size_t len);
void load_wl_continuation(struct load_sess *s);
void load_wl_tagged(struct load_sess *s, const char *line, size_t len);
void load_wl_after_tls(struct load_sess *s);
void load_wl_messages(struct load_run *r);
void load_wl_tick(struct load_run *r);
bool load_wl_drained(struct load_run *r);

#endif
