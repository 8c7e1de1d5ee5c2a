/* login: asynchronous password verification (see login.h). */
#include "imap/login.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "auth/passdb.h"
#include "auth/password.h"
#include "imap/capability.h"
#include "imap/resp.h"
#include "lib/audit.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "metrics/metrics.h"

/* Niceness of the password-hashing threads (the loops run at 0). */
#define LOGIN_HASH_NICE 5

struct login_request {
	struct session *s;
	struct imap_ctx *ctx;
	const char *mech;
	char *authzid;
	char *user;
	char *password;
	size_t password_len;
	int verified; /* 1 match, 0 mismatch or unknown user, -1 bad stored hash */
	struct store_user *mail; /* opened on the pool thread after a match */
	enum store_err mail_err;
};

char *login_make_dummy_hash(const char *scheme)
{
	unsigned char rnd[16];
	char pw[33];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
	const char *err = NULL;
	return password_hash(scheme, pw, strlen(pw), &err);
}

/* Password hashing is deliberately expensive (Argon2: tens of ms and
 * 19 MiB each). The hashing threads run at a lower priority than the
 * network loops, so a burst of checks (a brute force, a login storm)
 * takes CPU only when the loops leave it idle and never delays commands
 * of sessions already logged in. Linux applies setpriority to one thread
 * when given its id. */
static void login_lower_thread_priority(void)
{
	static _Thread_local bool done;
	if (done)
		return;
	done = true;
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), LOGIN_HASH_NICE) < 0)
		log_warn("event=setpriority error=\"%s\"", strerror(errno));
}

static uint64_t login_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

/* The slow hash, unless this very password was verified against this
 * stored hash a moment ago (auth_cache_ttl); a success is remembered. */
static int login_verify(struct login_request *req, const char *stored, const char **err_r)
{
	struct credcache *cc = req->ctx->credcache;
	uint64_t now = login_now_s();
	bool hit = credcache_check(cc, req->user, stored, req->password, req->password_len, now);
	metrics_auth_cache(hit);
	if (hit)
		return 1;
	int verified = password_verify(stored, req->password, req->password_len, err_r);
	if (verified == 1)
		credcache_add(cc, req->user, stored, req->password, req->password_len, now);
	return verified;
}

/* Pool thread. */
static void login_work(void *arg)
{
	struct login_request *req = arg;
	login_lower_thread_priority();
	struct passdb *db = imap_ctx_passdb(req->ctx);
	const char *stored = NULL;
	if (db != NULL && passdb_user_name_valid(req->user))
		stored = passdb_lookup(db, req->user);
	const char *err = NULL;
	if (stored != NULL) {
		req->verified = login_verify(req, stored, &err);
	} else {
		if (req->ctx->dummy_hash != NULL)
			(void)password_verify(req->ctx->dummy_hash, req->password,
					      req->password_len, &err);
		req->verified = 0;
	}
	if (req->verified < 0)
		log_warn("event=passdb_bad_hash user_len=%zu error=\"%s\"", strlen(req->user),
			 err ? err : "");
	passdb_unref(&db);
	/* Opening the mail may create directories and run recovery: do it
	 * here, off the loop. */
	if (req->verified == 1)
		req->mail_err = store_user_open(req->ctx->store, req->user, &req->mail);
}

static void login_request_free(struct login_request *req)
{
	store_user_unref(&req->mail);
	explicit_bzero(req->password, req->password_len);
	free(req->password);
	free(req->user);
	free(req->authzid);
	free(req);
}

/* roost_logins_total{mechanism,result} from login_log's result text. */
static void login_metrics(const struct login_request *req, const char *result)
{
	enum metrics_login_result r = METRICS_LOGIN_FAIL;
	if (strcmp(result, "ok") == 0)
		r = METRICS_LOGIN_OK;
	else if (strncmp(result, "fail reason=limit", 17) == 0)
		r = METRICS_LOGIN_LIMIT;
	else if (strcmp(result, "fail reason=store") == 0)
		r = METRICS_LOGIN_UNAVAILABLE;
	else if (strcmp(result, "fail reason=authzid") == 0)
		r = METRICS_LOGIN_AUTHZ;
	metrics_login(strcmp(req->mech, "PLAIN") == 0 ? METRICS_MECH_PLAIN : METRICS_MECH_LOGIN, r);
}

static void login_log(struct session *s, const struct login_request *req, const char *result)
{
	login_metrics(req, result);
	char user[300];
	log_escape(user, sizeof(user), req->user, strlen(req->user));
	log_info("event=login sid=%016llx user=%s ip=%s mech=%s result=%s tls=%s",
		 (unsigned long long)s->id, user, conn_peer_ip(s->conn), req->mech, result,
		 s->tls ? "yes" : "no");
	/* Audit trail (lib/audit.h): the name the client gave, never the
	 * password. */
	struct audit_event ev = {.event = strcmp(result, "ok") == 0 ? "login" : "login_failed",
				 .sid = s->id, .user = req->user, .ip = conn_peer_ip(s->conn),
				 .count = -1};
	audit_write(&ev);
}

static void login_succeed(struct session *s, struct login_request *req)
{
	s->user = req->user;
	req->user = NULL;
	s->mail = req->mail;
	req->mail = NULL;
	session_set_state(s, SESSION_AUTH);
	struct buf caps = {0};
	capability_append(s, &caps);
	resp_tagged(s, s->cmd_tag, RESP_OK, RESP_CODE_CAPABILITY, caps.data, "Logged in");
	buf_release(&caps);
}

/* Loop thread, after login_work. */
static void login_done(void *arg)
{
	struct login_request *req = arg;
	struct session *s = req->s;
	if (!session_job_end(s)) {
		login_request_free(req);
		return;
	}
	bool authz_ok = req->authzid == NULL || req->authzid[0] == '\0' ||
			strcmp(req->authzid, req->user) == 0;
	uint64_t now = loop_now_ms(conn_loop(s->conn));
	/* The address's penalty counts wrong passwords and unknown users
	 * alike (both are verified == 0). */
	if (req->verified >= 0)
		limits_auth_result(s->limits, req->verified == 1, now);
	enum limits_refuse limit = LIMITS_OK;
	if (req->verified == 1 && authz_ok && req->mail != NULL)
		limit = limits_conn_login(s->limits, req->user, now);
	if (limit != LIMITS_OK) {
		login_log(s, req, limit == LIMITS_REFUSE_USER ? "fail reason=limit_user"
							      : "fail reason=limit_userip");
		/* RFC 5530 LIMIT: the client may retry once a session ends. */
		resp_tagged(s, s->cmd_tag, RESP_NO, RESP_CODE_LIMIT, NULL,
			    limit == LIMITS_REFUSE_USER
				    ? "Too many sessions of this user, try again later"
				    : "Too many sessions of this user from your address, try again later");
	} else if (req->verified == 1 && authz_ok && req->mail == NULL) {
		login_log(s, req, "fail reason=store");
		log_warn("event=store_error sid=%016llx error=\"%s\"", (unsigned long long)s->id,
			 store_err_text(req->mail_err));
		resp_tagged(s, s->cmd_tag, RESP_NO, RESP_CODE_UNAVAILABLE, NULL,
			    "Mailbox store unavailable, try again later");
	} else if (req->verified == 1 && authz_ok) {
		login_log(s, req, "ok");
		login_succeed(s, req);
	} else if (req->verified == 1) {
		login_log(s, req, "fail reason=authzid");
		resp_tagged(s, s->cmd_tag, RESP_NO, RESP_CODE_AUTHORIZATIONFAILED, NULL,
			    "Authorization as another user is not permitted");
	} else {
		login_log(s, req, "fail");
		resp_tagged(s, s->cmd_tag, RESP_NO, RESP_CODE_AUTHENTICATIONFAILED, NULL,
			    "Authentication failed");
	}
	login_request_free(req);
	session_cmd_done(s);
}

static void login_submit(struct session *s, void *arg)
{
	struct login_request *req = arg;
	session_job_begin(s);
	workpool_submit(s->ctx->auth_pool, conn_loop(s->conn), login_work, login_done, req);
}

static void login_request_free_cb(void *arg)
{
	login_request_free(arg);
}

enum cmd_result login_begin(struct session *s, const char *mech, const char *authzid,
			    const char *user, const char *password, size_t password_len)
{
	struct login_request *req = xcalloc(1, sizeof(*req));
	req->s = s;
	req->ctx = s->ctx;
	req->mech = mech;
	req->authzid = authzid != NULL ? xstrdup(authzid) : NULL;
	req->user = xstrdup(user);
	req->password = xstrndup(password, password_len);
	req->password_len = password_len;
	/* Authentication abuse: the address's penalty is waited out before
	 * the check, whatever the outcome, so a client cannot learn a result
	 * sooner by giving up, and unknown users and wrong passwords look the
	 * same in answer and timing. */
	uint64_t delay = limits_auth_delay(s->limits, loop_now_ms(conn_loop(s->conn)));
	if (delay > 0) {
		session_throttle_begin(s, LIMITS_THROTTLE_AUTH_PENALTY, "delay");
		session_delay(s, delay, login_submit, login_request_free_cb, req);
		return CMD_ASYNC;
	}
	login_submit(s, req);
	return CMD_ASYNC;
}
