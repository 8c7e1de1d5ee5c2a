/*
 * load_workload.c — the scripts roost-load's sessions follow, one command
 * in flight at a time, and the messages they append.
 *
 * Every session: greeting, [STARTTLS], LOGIN (quoted strings, RFC 9051
 * §4.3), SELECT INBOX, then its workload's loop:
 *   login-storm  LOGOUT, reconnect; the op is the whole cycle.
 *   idle-hold    IDLE (RFC 2177) until the end; deliverer sessions APPEND a
 *                message to each user's INBOX every --deliver-every seconds
 *                and each idle session times the "* n EXISTS" it hears.
 *   sync         SELECT, UID FETCH 1:* (FLAGS), UID FETCH of a few sampled
 *                UIDs (BODY.PEEK[]), UID STORE +FLAGS (\Seen); every Nth round
 *                APPEND, UID STORE +FLAGS (\Deleted) and UID EXPUNGE of the
 *                APPENDUID (RFC 4315) so the mailbox keeps its size.
 *   fetch-bulk   UID FETCH 1:* (BODY.PEEK[]); literal bytes are message data.
 *   append       APPEND of 1 KB/10 KB/100 KB/1 MB messages (50/30/15/5%).
 *   search       SEARCH TEXT, SEARCH FROM, SEARCH SINCE in rotation.
 *   mixed        an everyday client (bench/isolation.py's well-behaved
 *                one): SELECT, UID FETCH 1:* (FLAGS), UID FETCH of sampled
 *                UIDs (BODY.PEEK[]), NOOP, UID STORE +FLAGS / -FLAGS (\Seen)
 *                in turn, SEARCH UNSEEN; nothing grows.
 * A delivery's latency runs from the moment its APPEND is sent (so it
 * includes the APPEND itself: an upper bound) to the EXISTS, and counts only
 * for sessions already in IDLE at that moment.
 */
#include "load.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const load_workload_names[WL_COUNT] = {
    [WL_LOGIN_STORM] = "login-storm", [WL_IDLE_HOLD] = "idle-hold", [WL_SYNC] = "sync",
    [WL_FETCH_BULK] = "fetch-bulk",   [WL_APPEND] = "append",       [WL_SEARCH] = "search",
    [WL_MIXED] = "mixed",
};

static const size_t wl_sizes[4] = {1024, 10 * 1024, 100 * 1024, 1024 * 1024};
/* 50% 1 KB, 30% 10 KB, 15% 100 KB, 5% 1 MB */
static const uint8_t wl_mix[20] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 3};
static const char *const wl_text_words[] = {"meeting", "invoice", "project", "report", "hello"};
static const char *const wl_from_names[] = {"alice", "bob", "carol", "example", "dave"};
static const char *const wl_since_dates[] = {"1-Jan-2000", "1-Jun-2020", "1-Jan-2024",
                                             "1-Jan-2026"};
static const char *const wl_body_words[] = {
    "the",     "meeting", "report", "is",       "attached", "please",
    "review",  "project", "budget", "schedule", "thanks",   "regards",
    "invoice", "hello",   "team",   "update",   "next",     "week",
};

static uint32_t wl_rand(struct load_sess *s)
{
	/* xorshift32: deterministic per session */
	uint32_t x = s->rng ? s->rng : 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->rng = x;
	return x;
}

/* A valid RFC 5322 text message of exactly size bytes (size >= 512). */
static void wl_make_message(struct load_msg *m, size_t size, const char *subject)
{
	m->data = malloc(size + 1);
	if (!m->data) {
		perror("roost-load: malloc");
		exit(2);
	}
	int h = snprintf(m->data, size + 1,
	                 "From: Load Generator <load@example.com>\r\n"
	                 "To: Bench User <bench@example.com>\r\n"
	                 "Subject: %s (%zu bytes)\r\n"
	                 "Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n"
	                 "Message-ID: <load-%zu@roost-load.invalid>\r\n"
	                 "MIME-Version: 1.0\r\n"
	                 "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
	                 subject, size, size);
	size_t pos = (size_t)h, col = 0;
	uint32_t x = (uint32_t)size;
	while (pos < size - 2) {
		x = x * 1103515245u + 12345u;
		const char *w =
		    wl_body_words[(x >> 16) % (sizeof(wl_body_words) / sizeof(*wl_body_words))];
		size_t wl = strlen(w);
		if (col + wl + 1 > 72 || pos + wl + 1 > size - 2) {
			m->data[pos++] = '\r';
			if (pos < size)
				m->data[pos++] = '\n';
			col = 0;
			if (pos + 12 > size - 2) {
				while (pos < size - 2)
					m->data[pos++] = 'x';
			}
			continue;
		}
		memcpy(m->data + pos, w, wl);
		m->data[pos + wl] = ' ';
		pos += wl + 1;
		col += wl + 1;
	}
	m->data[size - 2] = '\r';
	m->data[size - 1] = '\n';
	m->data[size] = '\0';
	m->len = size;
}

void load_wl_messages(struct load_run *r)
{
	for (int i = 0; i < 4; i++)
		wl_make_message(&r->msgs[i], wl_sizes[i], "roost-load append");
	wl_make_message(&r->deliver_msg, 1024, "roost-load delivery");
}

/* Sends "TAG <fmt...>\r\n" as the command in flight. */
static void wl_cmdv(struct load_sess *s, enum load_op op, const struct load_msg *lit,
                    const char *fmt, va_list ap)
{
	struct load_run *r = s->run;
	char buf[LOAD_OUT_MAX];
	snprintf(s->tag, sizeof(s->tag), "a%" PRIu32, ++s->tag_seq);
	int n = snprintf(buf, sizeof(buf), "%s ", s->tag);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (lit)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " {%zu%s}", lit->len,
		              s->literal_plus ? "+" : "");
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	if (n >= (int)sizeof(buf))
		n = (int)sizeof(buf) - 1;
	s->cmd_inflight = true;
	s->cmd_op = op;
	s->cmd_start_us = r->now_us;
	s->cmd_literal_bytes = 0;
	s->deadline_us = r->now_us + (uint64_t)(r->o.timeout_s * 1e6);
	load_conn_send(s, buf, (size_t)n, lit ? lit->data : NULL, lit ? lit->len : 0,
	               !s->literal_plus);
}

__attribute__((format(printf, 3, 4))) static void wl_cmd(struct load_sess *s, enum load_op op,
                                                         const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	wl_cmdv(s, op, NULL, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5))) static void
wl_cmd_lit(struct load_sess *s, enum load_op op, const struct load_msg *lit, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	wl_cmdv(s, op, lit, fmt, ap);
	va_end(ap);
}

/* An IMAP quoted string (RFC 9051 §4.3: only \ and " are escaped). */
static void wl_quote(char *dst, size_t cap, const char *src)
{
	size_t o = 0;
	dst[o++] = '"';
	for (; *src && o + 3 < cap; src++) {
		if (*src == '"' || *src == '\\')
			dst[o++] = '\\';
		dst[o++] = *src;
	}
	dst[o++] = '"';
	dst[o] = '\0';
}

static void wl_fetch_bodies(struct load_sess *s)
{
	char set[256];
	size_t n = s->uids_seen < LOAD_UID_SAMPLE ? s->uids_seen : LOAD_UID_SAMPLE;
	size_t o = 0;
	unsigned want = s->run->o.fetch_bodies;
	for (unsigned i = 0; i < want && o + 16 < sizeof(set); i++)
		o += (size_t)snprintf(set + o, sizeof(set) - o, "%s%" PRIu32, i ? "," : "",
		                      s->uids[wl_rand(s) % n]);
	wl_cmd(s, OP_FETCH_BODY, "UID FETCH %s (BODY.PEEK[])", set);
}

static void wl_search(struct load_sess *s)
{
	uint32_t k = s->rotate++;
	switch (k % 3) {
	case 0:
		wl_cmd(s, OP_SEARCH_TEXT, "SEARCH TEXT %s", wl_text_words[(k / 3) % 5]);
		break;
	case 1:
		wl_cmd(s, OP_SEARCH_FROM, "SEARCH FROM %s", wl_from_names[(k / 3) % 5]);
		break;
	default:
		wl_cmd(s, OP_SEARCH_SINCE, "SEARCH SINCE %s", wl_since_dates[(k / 3) % 4]);
		break;
	}
}

static void wl_issue_login(struct load_sess *s)
{
	const struct load_user *u = &s->run->users[s->user];
	char qu[400], qp[400];
	wl_quote(qu, sizeof(qu), u->name);
	wl_quote(qp, sizeof(qp), u->pass);
	wl_cmd(s, OP_LOGIN, "LOGIN %s %s", qu, qp);
}

static void wl_issue_workload(struct load_sess *s)
{
	struct load_run *r = s->run;
	switch (s->step) {
	case ST_SELECT:
		wl_cmd(s, OP_SELECT, "SELECT INBOX");
		break;
	case ST_LOGOUT:
		wl_cmd(s, OP_LOGOUT, "LOGOUT");
		break;
	case ST_IDLE:
		wl_cmd(s, OP_IDLE, "IDLE");
		break;
	case ST_FETCH_FLAGS:
		s->uids_seen = 0;
		wl_cmd(s, OP_FETCH_FLAGS, "UID FETCH 1:* (FLAGS)");
		break;
	case ST_FETCH_BODY:
		wl_fetch_bodies(s);
		break;
	case ST_NOOP:
		wl_cmd(s, OP_NOOP, "NOOP");
		break;
	case ST_SEARCH_UNSEEN:
		wl_cmd(s, OP_SEARCH_UNSEEN, "SEARCH UNSEEN");
		break;
	case ST_STORE_SEEN:
		/* mixed: set and clear \Seen in turn, so the flags do not drift */
		wl_cmd(s, OP_STORE, "UID STORE %" PRIu32 " %cFLAGS (\\Seen)",
		       s->uids[wl_rand(s) %
		               (s->uids_seen < LOAD_UID_SAMPLE ? s->uids_seen : LOAD_UID_SAMPLE)],
		       r->o.workload == WL_MIXED && s->round % 2 ? '-' : '+');
		break;
	case ST_APPEND: {
		const struct load_msg *m = r->o.workload == WL_SYNC
		                               ? &r->msgs[s->round % 2]
		                               : &r->msgs[wl_mix[(s->id + s->rotate++) % 20]];
		wl_cmd_lit(s, OP_APPEND, m, "APPEND INBOX");
		break;
	}
	case ST_STORE_DELETED:
		wl_cmd(s, OP_STORE, "UID STORE %" PRIu32 " +FLAGS.SILENT (\\Deleted)",
		       s->appended_uid);
		break;
	case ST_EXPUNGE:
		wl_cmd(s, OP_EXPUNGE, "UID EXPUNGE %" PRIu32, s->appended_uid);
		break;
	case ST_FETCH_BULK:
		wl_cmd(s, OP_FETCH_BULK, "UID FETCH 1:* (BODY.PEEK[])");
		break;
	case ST_SEARCH:
		wl_search(s);
		break;
	case ST_DELIVER: {
		struct load_user *u = &r->users[s->user];
		u->deliver_round = r->deliver_round;
		u->deliver_us = r->now_us;
		u->deliver_in_window = r->in_window;
		if (r->in_window)
			r->deliver_expected += u->idle_count;
		wl_cmd_lit(s, OP_DELIVER, &r->deliver_msg, "APPEND INBOX");
		break;
	}
	default:
		load_conn_fail(s, ERR_PROTOCOL, false);
		break;
	}
}

/* Sends the command for s->step now; while draining, a client session
 * closes instead of starting new work (a deliverer still logs out). */
void load_wl_next(struct load_sess *s)
{
	struct load_run *r = s->run;
	s->wake_us = 0;
	/* A sync round that appended finishes its STORE and EXPUNGE so the
	 * mailbox keeps its size across runs. */
	bool cleanup = s->step == ST_STORE_DELETED || s->step == ST_EXPUNGE;
	if (r->draining && !s->deliverer && !cleanup) {
		load_conn_close(s);
		return;
	}
	switch (s->step) {
	case ST_STARTTLS:
		wl_cmd(s, OP_STARTTLS, "STARTTLS");
		break;
	case ST_LOGIN:
		wl_issue_login(s);
		break;
	default:
		wl_issue_workload(s);
		break;
	}
}

/* Runs the next step now or after --think-ms (workload steps only). */
static void wl_then(struct load_sess *s, enum load_step step)
{
	struct load_run *r = s->run;
	s->step = step;
	if (r->o.think_ms > 0 && !s->deliverer && !r->draining) {
		s->wake_us = r->now_us + (uint64_t)r->o.think_ms * 1000;
		s->deadline_us = 0;
		return;
	}
	load_wl_next(s);
}

void load_wl_greeting(struct load_sess *s)
{
	bool need_tls = s->run->o.tls == LOAD_TLS_STARTTLS && !s->starttls_done;
	s->step = need_tls ? ST_STARTTLS : ST_LOGIN;
	load_wl_next(s);
}

void load_wl_after_tls(struct load_sess *s)
{
	load_record_op(s->run, OP_STARTTLS, s->cmd_start_us, false);
	s->step = ST_LOGIN;
	load_wl_next(s);
}

static enum load_step wl_first_step(const struct load_run *r)
{
	switch (r->o.workload) {
	case WL_LOGIN_STORM:
		return ST_LOGOUT;
	case WL_IDLE_HOLD:
		return ST_IDLE;
	case WL_SYNC:
	case WL_MIXED:
		return ST_FETCH_FLAGS;
	case WL_FETCH_BULK:
		return ST_FETCH_BULK;
	case WL_APPEND:
		return ST_APPEND;
	default:
		return ST_SEARCH;
	}
}

static bool wl_parse_u32(const char *p, const char *end, uint32_t *v_r, const char **next_r)
{
	uint64_t v = 0;
	const char *q = p;
	while (q < end && *q >= '0' && *q <= '9' && v <= UINT32_MAX)
		v = v * 10 + (uint64_t)(*q++ - '0');
	if (q == p || v > UINT32_MAX)
		return false;
	*v_r = (uint32_t)v;
	if (next_r)
		*next_r = q;
	return true;
}

static void wl_heard(struct load_sess *s)
{
	struct load_run *r = s->run;
	struct load_user *u = &r->users[s->user];
	if (u->deliver_round <= s->heard_round || s->idle_since_us > u->deliver_us)
		return;
	s->heard_round = u->deliver_round;
	if (!u->deliver_in_window)
		return;
	uint64_t d = r->now_us - u->deliver_us;
	load_hist_record(&r->deliver_hist, d);
	if (d <= 2000000)
		r->deliver_within_2s++;
	r->ops++;
}

/* "* UID-ish FETCH (... UID n ...)": sample n (reservoir of LOAD_UID_SAMPLE). */
static void wl_sample_uid(struct load_sess *s, const char *line, size_t len)
{
	const char *p = memmem(line, len, "UID ", 4);
	uint32_t uid;
	if (!p || !wl_parse_u32(p + 4, line + len, &uid, NULL))
		return;
	s->uids_seen++;
	if (s->uids_seen <= LOAD_UID_SAMPLE)
		s->uids[s->uids_seen - 1] = uid;
	else {
		uint32_t j = wl_rand(s) % s->uids_seen;
		if (j < LOAD_UID_SAMPLE)
			s->uids[j] = uid;
	}
}

void load_wl_untagged(struct load_sess *s, const char *line, size_t len)
{
	const char *end = line + len, *p;
	uint32_t n;
	if (len >= 5 && strncasecmp(line, "* BYE", 5) == 0) {
		if (!(s->cmd_inflight && s->step == ST_LOGOUT))
			load_conn_fail(s, ERR_BYE, false);
		return;
	}
	if (len < 3 || !wl_parse_u32(line + 2, end, &n, &p) || p >= end || *p != ' ')
		return;
	p++;
	size_t rest = (size_t)(end - p);
	if (rest >= 6 && strncasecmp(p, "EXISTS", 6) == 0) {
		if (n > s->exists && s->idling)
			wl_heard(s);
		s->exists = n;
	} else if (rest >= 7 && strncasecmp(p, "EXPUNGE", 7) == 0) {
		if (s->exists > 0)
			s->exists--;
	} else if (rest >= 5 && strncasecmp(p, "FETCH", 5) == 0 && s->cmd_inflight &&
	           s->step == ST_FETCH_FLAGS) {
		wl_sample_uid(s, p, rest);
	}
}

void load_wl_continuation(struct load_sess *s)
{
	struct load_run *r = s->run;
	if (!s->cmd_inflight) {
		load_conn_fail(s, ERR_PROTOCOL, false);
		return;
	}
	if (s->step == ST_IDLE && !s->idling) {
		s->idling = true;
		s->idle_since_us = r->now_us;
		s->deadline_us = 0; /* held until the end */
		s->heard_round = r->users[s->user].deliver_round;
		r->users[s->user].idle_count++;
		if (++r->idle_now > r->idle_peak)
			r->idle_peak = r->idle_now;
		load_record_op(r, OP_IDLE, s->cmd_start_us, false);
		return;
	}
	if (s->hold_for_cont) {
		load_conn_release_body(s);
		return;
	}
	load_conn_fail(s, ERR_PROTOCOL, false);
}

static enum load_err wl_status(const char *line, size_t len, bool *ok_r)
{
	*ok_r = len >= 2 && strncasecmp(line, "OK", 2) == 0;
	if (*ok_r)
		return ERR_COUNT;
	if (len >= 2 && strncasecmp(line, "NO", 2) == 0)
		return ERR_NO;
	if (len >= 3 && strncasecmp(line, "BAD", 3) == 0)
		return ERR_BAD;
	return ERR_PROTOCOL;
}

/* [APPENDUID uidvalidity uid] (RFC 4315 §3). */
static uint32_t wl_appenduid(const char *line, size_t len)
{
	const char *p = memmem(line, len, "[APPENDUID ", 11), *end = line + len;
	uint32_t v, uid;
	if (!p || !wl_parse_u32(p + 11, end, &v, &p) || p >= end || *p != ' ' ||
	    !wl_parse_u32(p + 1, end, &uid, NULL))
		return 0;
	return uid;
}

/* The script after a tagged OK of s->step. */
static void wl_advance(struct load_sess *s, const char *line, size_t len)
{
	struct load_run *r = s->run;
	switch (s->step) {
	case ST_STARTTLS:
		load_conn_begin_tls(s);
		return;
	case ST_LOGIN:
		if (!s->deliverer)
			r->sessions_established++;
		if (memmem(line, len, "[CAPABILITY ", 12))
			s->literal_plus = memmem(line, len, "LITERAL+", 8) != NULL;
		s->step = s->deliverer ? ST_DELIVER : ST_SELECT;
		load_wl_next(s);
		return;
	case ST_SELECT:
		wl_then(s, wl_first_step(r));
		return;
	case ST_LOGOUT:
		if (!s->deliverer)
			load_record_op(r, OP_CYCLE, s->cycle_start_us, true);
		load_conn_close(s);
		if (!s->deliverer && !r->draining)
			load_enqueue(r, s);
		return;
	case ST_FETCH_FLAGS:
		if (r->o.workload == WL_MIXED)
			wl_then(s, s->uids_seen ? ST_FETCH_BODY : ST_NOOP);
		else
			wl_then(s, s->uids_seen ? ST_FETCH_BODY : ST_APPEND);
		return;
	case ST_FETCH_BODY:
		wl_then(s, r->o.workload == WL_MIXED ? ST_NOOP : ST_STORE_SEEN);
		return;
	case ST_NOOP:
		wl_then(s, s->uids_seen ? ST_STORE_SEEN : ST_SEARCH_UNSEEN);
		return;
	case ST_SEARCH_UNSEEN:
		s->round++;
		wl_then(s, ST_SELECT);
		return;
	case ST_STORE_SEEN:
		if (r->o.workload == WL_MIXED) {
			wl_then(s, ST_SEARCH_UNSEEN);
			return;
		}
		s->round++;
		wl_then(s, s->round % r->o.append_every == 0 ? ST_APPEND : ST_SELECT);
		return;
	case ST_APPEND:
		r->appends_ok++;
		if (r->o.workload != WL_SYNC) {
			wl_then(s, ST_APPEND);
			return;
		}
		s->appended_uid = wl_appenduid(line, len);
		wl_then(s, s->appended_uid ? ST_STORE_DELETED : ST_SELECT);
		return;
	case ST_STORE_DELETED:
		wl_then(s, ST_EXPUNGE);
		return;
	case ST_EXPUNGE:
		wl_then(s, ST_SELECT);
		return;
	case ST_DELIVER:
		s->step = ST_LOGOUT;
		load_wl_next(s);
		return;
	default: /* FETCH_BULK, SEARCH: repeat */
		wl_then(s, s->step);
		return;
	}
}

/* The first few failed commands go to stderr, to tell why a run has
 * errors (a server limit answering NO [LIMIT], say). */
static void wl_note_failure(struct load_sess *s, const char *line, size_t len)
{
	static unsigned noted;
	if (s->run->draining || noted >= 10)
		return;
	noted++;
	fprintf(stderr, "roost-load: session %" PRIu32 " (%s) %s: %.*s\n", s->id,
	        s->run->users[s->user].name, load_op_names[s->cmd_op], (int)(len > 200 ? 200 : len),
	        line);
}

static bool wl_primary(const struct load_sess *s)
{
	enum load_workload w = s->run->o.workload;
	if (s->deliverer || w == WL_LOGIN_STORM || w == WL_IDLE_HOLD)
		return false;
	if (s->step == ST_STARTTLS || s->step == ST_LOGIN || s->step == ST_LOGOUT)
		return false;
	return s->step != ST_SELECT || w == WL_SYNC || w == WL_MIXED;
}

void load_wl_tagged(struct load_sess *s, const char *line, size_t len)
{
	struct load_run *r = s->run;
	bool ok;
	enum load_err e = wl_status(line, len, &ok);
	s->cmd_inflight = false;
	s->deadline_us = 0;
	if (!ok) {
		wl_note_failure(s, line, len);
		if (s->step == ST_LOGIN)
			load_conn_fail(s, ERR_LOGIN, true);
		else if (s->step == ST_IDLE)
			load_conn_fail(s, ERR_IDLE_ENDED, false);
		else
			load_conn_fail(s, e, false);
		return;
	}
	if (s->step == ST_IDLE) { /* the server ended IDLE by itself */
		load_conn_fail(s, ERR_IDLE_ENDED, false);
		return;
	}
	if (s->step != ST_STARTTLS) /* timed with its handshake, after it */
		load_record_op(r, s->cmd_op, s->cmd_start_us, wl_primary(s));
	if (r->in_window && !s->active && !s->deliverer && s->step != ST_STARTTLS &&
	    s->step != ST_LOGIN) {
		s->active = true;
		r->sessions_active++;
	}
	if (r->in_window && (s->step == ST_FETCH_BULK || s->step == ST_FETCH_BODY))
		r->message_bytes += s->cmd_literal_bytes;
	wl_advance(s, line, len);
}

/* PATTERN with every %u replaced by the user name. */
static bool wl_maildir_path(const char *pattern, const char *user, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *p = pattern; *p; p++) {
		const char *piece = p;
		size_t n = 1;
		if (p[0] == '%' && p[1] == 'u') {
			piece = user;
			n = strlen(user);
			p++;
		}
		if (o + n >= cap)
			return false;
		memcpy(out + o, piece, n);
		o += n;
	}
	out[o] = '\0';
	return true;
}

/* Maildir delivery (the Maildir convention: write in tmp/, rename into
 * new/, so a reader never sees a partial file). */
static bool wl_maildir_deliver(struct load_run *r, size_t ui)
{
	char dir[1024], tmp[1200], dst[1200];
	if (!wl_maildir_path(r->o.maildir, r->users[ui].name, dir, sizeof(dir)))
		return false;
	uint64_t t = load_now_us();
	int n = snprintf(tmp, sizeof(tmp),
	                 "%s/tmp/%" PRIu64 ".M%" PRIu64 "P%dQ%" PRIu32 "U%zu.roost-load", dir,
	                 t / 1000000, t % 1000000, (int)getpid(), r->deliver_round, ui);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return false;
	snprintf(dst, sizeof(dst), "%s/new/%s", dir, strrchr(tmp, '/') + 1);
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return false;
	bool ok = fwrite(r->deliver_msg.data, 1, r->deliver_msg.len, f) == r->deliver_msg.len;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, dst) != 0) {
		unlink(tmp);
		return false;
	}
	return true;
}

static void wl_maildir_round(struct load_run *r)
{
	for (size_t i = 0; i < r->nusers; i++) {
		struct load_user *u = &r->users[i];
		if (u->idle_count == 0)
			continue;
		u->deliver_round = r->deliver_round;
		u->deliver_us = load_now_us();
		u->deliver_in_window = true;
		if (!wl_maildir_deliver(r, i)) {
			static bool told;
			if (!told)
				fprintf(stderr, "roost-load: Maildir delivery for %s failed: %s\n",
				        u->name, strerror(errno));
			told = true;
			load_count_error(r, ERR_DELIVER);
			continue;
		}
		r->deliver_expected += u->idle_count;
	}
	r->deliver_pending = false;
}

static bool wl_delivering(const struct load_run *r)
{
	if (r->deliver_pending)
		return true;
	for (size_t i = r->nclients; i < r->nsess; i++)
		if (r->sess[i].phase != PH_OFF)
			return true;
	return false;
}

/* idle-hold: starts a delivery round every --deliver-every seconds of the
 * measured window and hands its users to free deliverer sessions. */
void load_wl_tick(struct load_run *r)
{
	if (r->o.workload != WL_IDLE_HOLD)
		return;
	/* Rounds never overlap (a user has one delivery in flight at a time,
	 * so each EXISTS is matched with its delivery): a round that is due
	 * while the last one is still delivering starts when it is done. */
	if (r->in_window && r->now_us >= r->next_deliver_us && !wl_delivering(r)) {
		uint64_t every = (uint64_t)(r->o.deliver_every_s * 1e6);
		r->deliver_round++;
		r->deliver_next_user = 0;
		r->deliver_pending = true;
		r->next_deliver_us += every;
		if (r->next_deliver_us <= r->now_us)
			r->next_deliver_us = r->now_us + every;
		if (r->o.maildir)
			wl_maildir_round(r);
	}
	if (!r->deliver_pending || r->draining)
		return;
	for (size_t i = r->nclients; i < r->nsess; i++) {
		struct load_sess *d = &r->sess[i];
		if (d->phase != PH_OFF)
			continue;
		while (r->deliver_next_user < r->nusers &&
		       r->users[r->deliver_next_user].idle_count == 0)
			r->deliver_next_user++;
		if (r->deliver_next_user >= r->nusers) {
			r->deliver_pending = false;
			return;
		}
		d->user = (uint32_t)r->deliver_next_user++;
		load_conn_start(d);
	}
}

/* The drain may end: no command in flight and every delivery heard. */
bool load_wl_drained(struct load_run *r)
{
	for (size_t i = 0; i < r->nsess; i++) {
		const struct load_sess *s = &r->sess[i];
		if (s->deliverer && s->phase != PH_OFF)
			return false;
		if (s->cmd_inflight && !s->idling)
			return false;
		if (s->phase == PH_READY && s->wake_us) /* thinking: closes or cleans up */
			return false;
	}
	return r->deliver_hist.count >= r->deliver_expected;
}
