/* lmtp_session: one LMTP connection, its state machine and its input pump
 * (RFC 2033, with PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME and SIZE).
 *
 * States: GREETED (only LHLO starts a session; HELO/EHLO are refused, RFC
 * 2033 §4.1) -> READY -> MAIL (after MAIL FROM; RCPT TO adds recipients)
 * -> DATA (message bytes, dot-unstuffed) -> READY again after one reply
 * per accepted recipient. RSET and LHLO return to READY from any state.
 *
 * Ordering: a command that needs the store (RCPT opens the user's mail
 * and looks at the detail folder; the final dot delivers) runs on the
 * store pool; meanwhile the session parses nothing more, so pipelined
 * commands (RFC 2920) are answered strictly in order. The session is freed
 * only when its connection is gone and no job refers to it; a job that
 * outlives the connection still finishes (a message whose final dot was
 * received is delivered and logged), a connection that ends before the
 * final dot delivers nothing. */
#ifndef ROOST_LMTP_LMTP_SESSION_H
#define ROOST_LMTP_LMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lmtp/lmtp.h"
#include "lmtp/lmtp_parse.h"
#include "net/conn.h"

enum lmtp_state {
	LMTP_STATE_GREETED, /* waiting for LHLO */
	LMTP_STATE_READY,   /* no transaction */
	LMTP_STATE_MAIL,    /* MAIL accepted; RCPTs and DATA */
	LMTP_STATE_DATA,    /* reading the message */
	LMTP_STATE_QUIT,    /* closing */
};

/* An accepted recipient. */
struct lmtp_rcpt {
	char *addr;    /* as the client wrote it (for replies, logs, Received: for) */
	char *user;    /* passdb user name */
	char *mailbox; /* "INBOX" or the detail folder */
	struct store_user *u;
	/* Set by the delivery job: */
	enum store_err err;
	bool too_big; /* over quota by the message alone */
	uint32_t uid;
	size_t size; /* bytes handed to the store (trace headers included) */
};

struct lmtp_session {
	struct lmtp_ctx *ctx;
	struct conn *conn;
	struct limits_conn *limits;
	uint64_t id;
	enum lmtp_state state;
	char *lhlo_name;

	/* The transaction. */
	char *sender;           /* reverse-path ("" for <>) */
	uint64_t declared_size; /* MAIL FROM's SIZE= (RFC 1870), else 0 */
	struct lmtp_rcpt *rcpts;
	size_t n_rcpts;
	struct buf msg; /* unstuffed message bytes */
	struct lmtp_unstuff unstuff;
	uint64_t msg_bytes; /* seen, also past the limit */
	bool msg_too_big;

	struct timer idle_timer;
	unsigned jobs;   /* store jobs referring to this session */
	unsigned errors; /* bad commands, for the error limit */
	bool busy;       /* a job runs: parse nothing more */
	bool skipping;   /* inside an overlong line */
	bool conn_gone;  /* on_closed ran */
	bool shutting_down;
	bool counted; /* in the server's session count */
};

/* A new connection on an LMTP listener (net_protocol.on_accept). */
void lmtp_session_accept(struct lmtp_ctx *ctx, struct conn *c);

/* Queues one reply line "<code> <text>\r\n". */
void lmtp_session_reply(struct lmtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Resets the transaction (RSET, LHLO, after DATA): drops the sender, the
 * recipients (their store_user references) and the message. */
void lmtp_session_reset(struct lmtp_session *s);
/* A job's completion: the session may be gone (returns false, caller
 * frees its results), or it continues parsing input afterwards. */
bool lmtp_session_job_end(struct lmtp_session *s);
void lmtp_session_job_begin(struct lmtp_session *s);
/* Resumes reading and parsing after a job's reply was queued. */
void lmtp_session_resume(struct lmtp_session *s);

/* lmtp_deliver.c: RCPT's store work and the delivery after the final dot.
 * Both set s->busy and reply later, on the session's loop. */
void lmtp_deliver_rcpt(struct lmtp_session *s, const char *addr, const char *user,
                       const char *detail);
void lmtp_deliver_message(struct lmtp_session *s);

#endif
