/* Unit tests for the limits registry: connection counts, replace-oldest,
 * authentication penalties and per-user command rates, on a fake clock. */
#include <string.h>

#include "lib/test.h"
#include "limits/limits.h"

TEST_STATE_DEFINE;

static unsigned kicks;
static void *kicked_owner;

static void fake_kick(struct limits_conn *lc, void *kick_ctx)
{
	kicks++;
	kicked_owner = limits_conn_owner(lc);
	limits_conn_unref(lc);
}

static struct limits *new_limits(const struct limits_config *cfg)
{
	struct limits *lim = limits_new();
	limits_configure(lim, cfg);
	return lim;
}

static struct limits_conn *conn(struct limits *lim, const char *ip, uint64_t now, void *owner,
				enum limits_refuse *r)
{
	return limits_conn_new(lim, ip, now, fake_kick, NULL, owner, r);
}

static void test_preauth_and_rate(void)
{
	test_begin("limits: per-address pre-login count and attempts per minute");
	struct limits_config cfg = {.max_ip_preauth = 2, .ip_connect_rate = 4};
	struct limits *lim = new_limits(&cfg);
	enum limits_refuse r;
	struct limits_conn *a = conn(lim, "10.0.0.1", 0, NULL, &r);
	test_assert(r == LIMITS_OK);
	struct limits_conn *b = conn(lim, "10.0.0.1", 0, NULL, &r);
	test_assert(r == LIMITS_OK);
	struct limits_conn *c = conn(lim, "10.0.0.1", 0, NULL, &r);
	test_assert(r == LIMITS_REFUSE_IP_PREAUTH);
	limits_conn_free(&c);
	struct limits_conn *other = conn(lim, "10.0.0.2", 0, NULL, &r);
	test_assert(r == LIMITS_OK);
	/* logging in frees the pre-login slot */
	test_assert(limits_conn_login(a, "alice", 0) == LIMITS_OK);
	struct limits_conn *d = conn(lim, "10.0.0.1", 0, NULL, &r);
	test_assert(r == LIMITS_OK); /* attempt 4 */
	struct limits_conn *e = conn(lim, "10.0.0.1", 0, NULL, &r);
	test_assert(r == LIMITS_REFUSE_IP_RATE); /* attempt 5 in a minute */
	limits_conn_free(&e);
	/* two minutes later the attempts are forgotten */
	limits_conn_free(&d);
	struct limits_conn *f = conn(lim, "10.0.0.1", 120000, NULL, &r);
	test_assert(r == LIMITS_OK);
	struct limits_stats st;
	limits_stats(lim, &st);
	test_assert(st.refused[LIMITS_REFUSE_IP_PREAUTH] == 1);
	test_assert(st.refused[LIMITS_REFUSE_IP_RATE] == 1);
	test_assert_str(limits_refuse_name(LIMITS_REFUSE_IP_RATE), "ip_rate");
	limits_conn_free(&f);
	limits_conn_free(&a);
	limits_conn_free(&b);
	limits_conn_free(&other);
	test_assert(a == NULL);
	limits_free(&lim);
	test_end();
}

static void test_user_refuse(void)
{
	test_begin("limits: per-user and per-user+address refuse");
	struct limits_config cfg = {.max_user = 3, .max_userip = 2};
	struct limits *lim = new_limits(&cfg);
	enum limits_refuse r;
	struct limits_conn *c[5];
	const char *ips[5] = {"1.1.1.1", "1.1.1.1", "1.1.1.1", "2.2.2.2", "3.3.3.3"};
	for (int i = 0; i < 5; i++)
		c[i] = conn(lim, ips[i], 0, NULL, &r);
	test_assert(limits_conn_login(c[0], "bob", 0) == LIMITS_OK);
	test_assert(limits_conn_login(c[1], "bob", 0) == LIMITS_OK);
	test_assert(limits_conn_login(c[2], "bob", 0) == LIMITS_REFUSE_USERIP);
	test_assert(limits_conn_login(c[2], "carol", 0) == LIMITS_OK);
	test_assert(limits_conn_login(c[3], "bob", 0) == LIMITS_OK);
	test_assert(limits_conn_login(c[4], "bob", 0) == LIMITS_REFUSE_USER);
	/* a session ending frees its slot */
	limits_conn_free(&c[3]);
	test_assert(limits_conn_login(c[4], "bob", 0) == LIMITS_OK);
	test_assert(kicks == 0);
	for (int i = 0; i < 5; i++)
		limits_conn_free(&c[i]);
	limits_free(&lim);
	test_end();
}

static void test_replace_oldest(void)
{
	test_begin("limits: replace-oldest ends the longest-idle session");
	struct limits_config cfg = {.max_user = 10,
				    .max_userip = 2,
				    .userip_policy = LIMITS_POLICY_REPLACE_OLDEST};
	struct limits *lim = new_limits(&cfg);
	enum limits_refuse r;
	int owners[3];
	struct limits_conn *c[3];
	for (int i = 0; i < 3; i++)
		c[i] = conn(lim, "9.9.9.9", 0, &owners[i], &r);
	test_assert(limits_conn_login(c[0], "dave", 100) == LIMITS_OK);
	test_assert(limits_conn_login(c[1], "dave", 200) == LIMITS_OK);
	limits_conn_touch(c[0], 300); /* c[1] is now the longest idle */
	kicks = 0;
	test_assert(limits_conn_login(c[2], "dave", 400) == LIMITS_OK);
	test_assert(kicks == 1);
	test_assert(kicked_owner == &owners[1]);
	/* the victim no longer counts; freeing it later is harmless */
	limits_conn_free(&c[1]);
	struct limits_conn *d = conn(lim, "9.9.9.9", 500, NULL, &r);
	test_assert(limits_conn_login(d, "dave", 500) == LIMITS_OK);
	test_assert(kicks == 2);
	struct limits_stats st;
	limits_stats(lim, &st);
	test_assert(st.replaced[LIMITS_REFUSE_USERIP] == 2);
	limits_conn_free(&d);
	limits_conn_free(&c[0]);
	limits_conn_free(&c[2]);
	limits_free(&lim);
	test_end();
}

static void test_auth_penalty(void)
{
	test_begin("limits: authentication penalty grows, caps, resets");
	test_assert(limits_auth_penalty(0, 500, 15000) == 0);
	test_assert(limits_auth_penalty(1, 500, 15000) == 0);
	test_assert(limits_auth_penalty(2, 500, 15000) == 500);
	test_assert(limits_auth_penalty(3, 500, 15000) == 1000);
	test_assert(limits_auth_penalty(6, 500, 15000) == 8000);
	test_assert(limits_auth_penalty(7, 500, 15000) == 15000);
	test_assert(limits_auth_penalty(200, 500, 15000) == 15000);
	struct limits_config cfg = {.auth_fail_delay_ms = 100, .auth_fail_delay_max_ms = 300};
	struct limits *lim = new_limits(&cfg);
	enum limits_refuse r;
	struct limits_conn *a = conn(lim, "5.5.5.5", 0, NULL, &r);
	struct limits_conn *b = conn(lim, "5.5.5.5", 0, NULL, &r);
	struct limits_conn *o = conn(lim, "6.6.6.6", 0, NULL, &r);
	test_assert(limits_auth_delay(a, 0) == 0);
	limits_auth_result(a, false, 0);
	test_assert(limits_auth_delay(b, 0) == 100); /* shared by the address */
	limits_auth_result(b, false, 100);
	test_assert(limits_auth_delay(a, 100) == 200);
	limits_auth_result(a, false, 300);
	test_assert(limits_auth_delay(a, 300) == 300); /* capped */
	/* Parallel attempts of one address take turns, a penalty apart. */
	test_assert(limits_auth_delay(b, 300) == 600);
	test_assert(limits_auth_delay(o, 300) == 0); /* other address untouched */
	limits_auth_result(b, true, 900);
	test_assert(limits_auth_delay(a, 900) == 0);
	limits_auth_result(a, true, 900);
	/* No failure known yet: 4 checks of one address run at once, more
	 * queue a step apart; another address is not affected. */
	struct limits_conn *w[6];
	for (int i = 0; i < 6; i++)
		w[i] = conn(lim, "5.5.5.5", 1000, NULL, &r);
	for (int i = 0; i < 4; i++)
		test_assert(limits_auth_delay(w[i], 1000) == 0);
	test_assert(limits_auth_delay(w[4], 1000) == 100);
	test_assert(limits_auth_delay(w[5], 1000) == 200);
	test_assert(limits_auth_delay(o, 1000) == 0);
	for (int i = 0; i < 3; i++)
		limits_auth_result(w[i], true, 1000);
	struct limits_conn *x = conn(lim, "5.5.5.5", 1000, NULL, &r);
	test_assert(limits_auth_delay(x, 1000) == 0); /* checks ended: a free slot again */
	limits_conn_free(&x);
	for (int i = 0; i < 6; i++)
		limits_conn_free(&w[i]); /* frees the pending counts it still holds */
	limits_conn_free(&a);
	limits_conn_free(&b);
	limits_conn_free(&o);
	limits_free(&lim);
	test_end();
}

static void test_cmd_rate(void)
{
	test_begin("limits: per-user command bucket delays, then refuses");
	struct limits_config cfg = {.cmd_rate = 10,
				    .cmd_burst = 3,
				    .throttle_max_delay_ms = 1000,
				    .throttle_max_delayed = 3};
	struct limits *lim = new_limits(&cfg);
	enum limits_refuse r;
	struct limits_conn *a = conn(lim, "7.7.7.7", 0, NULL, &r);
	struct limits_conn *b = conn(lim, "7.7.7.8", 0, NULL, &r);
	uint64_t wait;
	/* before login: never throttled */
	test_assert(limits_cmd_admit(a, 0, &wait) == LIMITS_GO);
	test_assert(limits_conn_login(a, "erin", 0) == LIMITS_OK);
	test_assert(limits_conn_login(b, "frank", 0) == LIMITS_OK);
	for (int i = 0; i < 3; i++)
		test_assert(limits_cmd_admit(a, 0, &wait) == LIMITS_GO);
	test_assert(limits_cmd_admit(a, 0, &wait) == LIMITS_DELAY && wait == 100);
	test_assert(limits_cmd_admit(a, 100, &wait) == LIMITS_DELAY && wait == 100);
	test_assert(limits_cmd_admit(a, 200, &wait) == LIMITS_DELAY && wait == 100);
	/* the fourth delayed command in a row is refused, with a retry time */
	test_assert(limits_cmd_admit(a, 300, &wait) == LIMITS_REFUSE && wait == 100);
	/* another user is not affected */
	for (int i = 0; i < 3; i++)
		test_assert(limits_cmd_admit(b, 300, &wait) == LIMITS_GO);
	/* after a pause the user runs freely again */
	test_assert(limits_cmd_admit(a, 5000, &wait) == LIMITS_GO);
	limits_conn_free(&a);
	limits_conn_free(&b);
	limits_free(&lim);
	test_end();
}

static void test_bytes(void)
{
	test_begin("limits: download window per user");
	struct limits_config cfg = {.download_bytes = 1000, .bandwidth_window_s = 1};
	struct limits *lim = new_limits(&cfg);
	enum limits_refuse r;
	struct limits_conn *a = conn(lim, "8.8.8.8", 0, NULL, &r);
	test_assert(limits_conn_login(a, "gina", 0) == LIMITS_OK);
	limits_bytes_add(a, LIMITS_DOWNLOAD, 900, 0);
	test_assert(limits_bytes_wait(a, LIMITS_DOWNLOAD, 0) == 0);
	limits_bytes_add(a, LIMITS_DOWNLOAD, 1100, 0);
	test_assert(limits_bytes_wait(a, LIMITS_DOWNLOAD, 0) == 1500);
	test_assert(limits_bytes_wait(a, LIMITS_UPLOAD, 0) == 0);
	limits_conn_free(&a);
	limits_free(&lim);
	test_end();
}

static void test_cpu_share(void)
{
	test_begin("limits: work budget per user (share of a thread, with a burst)");
	struct limits_config cfg = {.cpu_percent = 25, .cpu_burst_ms = 100};
	struct limits *lim = new_limits(&cfg);
	enum limits_refuse r;
	struct limits_conn *a = conn(lim, "9.9.9.9", 0, NULL, &r);
	struct limits_conn *a2 = conn(lim, "9.9.9.10", 0, NULL, &r);
	struct limits_conn *b = conn(lim, "9.9.9.11", 0, NULL, &r);
	/* before login nothing is charged */
	limits_cpu_add(a, 500000, 0);
	test_assert(limits_cpu_wait(a, 0) == 0);
	test_assert(limits_conn_login(a, "hana", 0) == LIMITS_OK);
	test_assert(limits_conn_login(a2, "hana", 0) == LIMITS_OK);
	test_assert(limits_conn_login(b, "ivan", 0) == LIMITS_OK);
	/* the burst (100 ms of thread time) goes through at once */
	limits_cpu_add(a, 60000, 0);
	test_assert(limits_cpu_wait(a, 0) == 0);
	/* 20 ms over it: 20 ms / 25% = 80 ms of waiting, for every session
	 * of the user */
	limits_cpu_add(a2, 60000, 0);
	test_assert(limits_cpu_wait(a, 0) == 80);
	test_assert(limits_cpu_wait(a2, 40) == 40);
	test_assert(limits_cpu_wait(a, 80) == 0);
	/* one huge step costs at most the burst */
	limits_cpu_add(a, 10000000, 1000);
	test_assert(limits_cpu_wait(a, 1000) == 0);
	limits_cpu_add(a, 1000, 1000);
	test_assert(limits_cpu_wait(a, 1000) == 4);
	/* another user is not affected */
	test_assert(limits_cpu_wait(b, 1000) == 0);
	/* 100% (or 0) is no limit */
	cfg.cpu_percent = 100;
	limits_configure(lim, &cfg);
	limits_cpu_add(a, 10000000, 1000);
	test_assert(limits_cpu_wait(a, 1000) == 0);
	limits_conn_free(&a);
	limits_conn_free(&a2);
	limits_conn_free(&b);
	limits_free(&lim);
	test_end();
}

static void test_refusal_hold(void)
{
	test_begin("limits: refused connections are held longer as an address floods");
	struct limits_config cfg = {.max_ip_preauth = 2};
	struct limits *lim = new_limits(&cfg);
	enum limits_refuse r;
	struct limits_conn *c[8];
	for (int i = 0; i < 8; i++)
		c[i] = conn(lim, "6.6.6.6", 0, NULL, &r);
	test_assert(r == LIMITS_REFUSE_IP_PREAUTH);
	/* c[0], c[1] are in; the refused ones wait 1 s per 2 already held */
	test_assert(limits_conn_hold(c[2], 5) == 1000);
	test_assert(limits_conn_hold(c[3], 5) == 1000);
	test_assert(limits_conn_hold(c[4], 5) == 2000);
	test_assert(limits_conn_hold(c[5], 5) == 2000);
	test_assert(limits_conn_hold(c[6], 5) == 3000);
	/* beyond max_held: refused at once */
	test_assert(limits_conn_hold(c[7], 5) == 0);
	/* a held connection that ends makes room */
	limits_conn_free(&c[2]);
	test_assert(limits_conn_hold(c[7], 5) == 3000);
	/* another address starts from one second */
	struct limits_conn *o = conn(lim, "6.6.6.7", 0, NULL, &r);
	test_assert(limits_conn_hold(o, 5) == 1000);
	limits_conn_free(&o);
	for (int i = 0; i < 8; i++)
		limits_conn_free(&c[i]);
	limits_free(&lim);
	test_end();
}

int main(void)
{
	test_preauth_and_rate();
	test_user_refuse();
	test_replace_oldest();
	test_auth_penalty();
	test_cmd_rate();
	test_bytes();
	test_cpu_share();
	test_refusal_hold();
	return test_done();
}
