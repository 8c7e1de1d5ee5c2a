/* limits: the shared registry of connection counts, per-user rates and
 * per-address authentication penalties (see limits.h).
 *
 * Locking: each entry belongs to one shard and is read and written only
 * under that shard's mutex. A limits_conn's entry pointers are set on its
 * owner's thread (creation, login) and stay valid while it holds a
 * reference (entry->refs). Its list links and `linked` flag belong to the
 * shard of its user. The conn's own refcount is atomic: the owner holds
 * one, and each pending kick one. */
#include "limits/limits.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "limits/rate.h"
#include "lib/xalloc.h"

#define LIMITS_SHARDS 64
#define LIMITS_SLOTS 512
/* Chains swept per lookup besides the one looked at, so entries of
 * addresses that never come back are freed too. */
#define LIMITS_SWEEP_SLOTS 2
/* Consecutive authentication failures are forgotten after this long
 * without another one. */
#define LIMITS_AUTH_FORGET_MS (15u * 60 * 1000)
#define LIMITS_CONNECT_WINDOW_MS 60000u
/* Password checks of one address run at once up to this many; more wait
 * their turn this far apart (limits_auth_delay). */
#define LIMITS_AUTH_PARALLEL 4u
#define LIMITS_AUTH_QUEUE_STEP_MS 100u
/* A flood of refused connections logs one line per address this often. */
#define LIMITS_REFUSE_LOG_MS 10000

struct limits_entry {
	struct limits_entry *next; /* hash chain */
	uint64_t hash;
	unsigned refs;  /* limits_conns pointing here */
	unsigned conns; /* connections counted (pre-login for "i", sessions otherwise) */
	unsigned held;  /* "i": refused connections held before their BYE */
	uint64_t refuse_log_ms;     /* "i": when a refusal was last logged */
	unsigned refuse_unlogged;   /* "i": refusals since then */
	struct limits_conn *sessions; /* "u" and "p": logged-in sessions */
	/* "u": the user's rates */
	struct rate_bucket cmd;
	struct rate_window down, up;
	struct rate_bucket cpu; /* microseconds of thread time */
	/* "i": the address's authentication failures and connection attempts */
	unsigned auth_failures;
	uint64_t auth_last_ms;
	uint64_t auth_next_ms; /* earliest start of the address's next penalized attempt */
	unsigned auth_pending; /* password checks of the address under way */
	struct rate_window attempts;
	char key[]; /* "i<ip>", "u<user>", "p<user>\x1f<ip>" */
};

struct limits_shard {
	pthread_mutex_t lock;
	size_t sweep;
	struct limits_entry *slots[LIMITS_SLOTS];
};

struct limits_settings {
	atomic_uint max_ip_preauth, ip_connect_rate, max_user, user_policy, max_userip,
		userip_policy, auth_fail_delay_ms, auth_fail_delay_max_ms, cmd_rate, cmd_burst,
		throttle_max_delay_ms, throttle_max_delayed, bandwidth_window_s, cpu_percent,
		cpu_burst_ms;
	atomic_uint_fast64_t download_bytes, upload_bytes;
};

struct limits {
	struct limits_settings set;
	struct limits_shard shards[LIMITS_SHARDS];
	atomic_uint_fast64_t refused[LIMITS_REFUSE_COUNT_];
	atomic_uint_fast64_t replaced[LIMITS_REFUSE_COUNT_];
	atomic_uint_fast64_t throttles[LIMITS_THROTTLE_COUNT_];
	atomic_uint_fast64_t throttle_refusals[LIMITS_THROTTLE_COUNT_];
};

struct limits_link {
	struct limits_conn *prev, *next;
};

/* One session's view of the registry. */
struct limits_conn {
	struct limits *lim;
	limits_kick_fn *kick;
	void *kick_ctx;
	void *owner;
	atomic_uint refs;
	atomic_uint_fast64_t last_active_ms;
	struct limits_entry *ip; /* for the whole life of the conn */
	unsigned ip_shard;
	bool preauth_counted; /* guarded by the ip shard */
	bool held;            /* counted in ip->held; guarded by the ip shard */
	bool auth_pending;    /* counted in ip->auth_pending; guarded by the ip shard */
	struct limits_entry *user, *userip; /* after login */
	unsigned user_shard;
	bool linked; /* counted in user/userip; guarded by the user shard */
	struct limits_link ul, pl; /* in user->sessions, userip->sessions */
	unsigned delayed_run; /* consecutive delayed commands (owner thread) */
};

/* ---- names and counters ---- */

const char *limits_refuse_name(enum limits_refuse r)
{
	static const char *const names[LIMITS_REFUSE_COUNT_] = {
		"ok", "max_connections", "ip_preauth", "ip_rate", "user", "userip",
	};
	return (unsigned)r < LIMITS_REFUSE_COUNT_ ? names[r] : "unknown";
}

const char *limits_throttle_name(enum limits_throttle t)
{
	static const char *const names[LIMITS_THROTTLE_COUNT_] = {
		"commands", "download", "upload", "auth_penalty", "cpu",
	};
	return (unsigned)t < LIMITS_THROTTLE_COUNT_ ? names[t] : "unknown";
}

void limits_count_refused(struct limits *lim, enum limits_refuse r)
{
	if ((unsigned)r < LIMITS_REFUSE_COUNT_)
		atomic_fetch_add(&lim->refused[r], 1);
}

void limits_count_throttle(struct limits *lim, enum limits_throttle t, bool refusal)
{
	if ((unsigned)t >= LIMITS_THROTTLE_COUNT_)
		return;
	atomic_fetch_add(refusal ? &lim->throttle_refusals[t] : &lim->throttles[t], 1);
}

void limits_stats(struct limits *lim, struct limits_stats *st)
{
	for (size_t i = 0; i < LIMITS_REFUSE_COUNT_; i++) {
		st->refused[i] = atomic_load(&lim->refused[i]);
		st->replaced[i] = atomic_load(&lim->replaced[i]);
	}
	for (size_t i = 0; i < LIMITS_THROTTLE_COUNT_; i++) {
		st->throttles[i] = atomic_load(&lim->throttles[i]);
		st->throttle_refusals[i] = atomic_load(&lim->throttle_refusals[i]);
	}
}

/* ---- settings ---- */

struct limits *limits_new(void)
{
	struct limits *lim = xcalloc(1, sizeof(*lim));
	for (size_t i = 0; i < LIMITS_SHARDS; i++)
		pthread_mutex_init(&lim->shards[i].lock, NULL);
	return lim;
}

void limits_configure(struct limits *lim, const struct limits_config *c)
{
	struct limits_settings *s = &lim->set;
	atomic_store(&s->max_ip_preauth, c->max_ip_preauth);
	atomic_store(&s->ip_connect_rate, c->ip_connect_rate);
	atomic_store(&s->max_user, c->max_user);
	atomic_store(&s->user_policy, (unsigned)c->user_policy);
	atomic_store(&s->max_userip, c->max_userip);
	atomic_store(&s->userip_policy, (unsigned)c->userip_policy);
	atomic_store(&s->auth_fail_delay_ms, c->auth_fail_delay_ms);
	atomic_store(&s->auth_fail_delay_max_ms, c->auth_fail_delay_max_ms);
	atomic_store(&s->cmd_rate, c->cmd_rate);
	atomic_store(&s->cmd_burst, c->cmd_burst);
	atomic_store(&s->throttle_max_delay_ms, c->throttle_max_delay_ms);
	atomic_store(&s->throttle_max_delayed, c->throttle_max_delayed);
	atomic_store(&s->download_bytes, c->download_bytes);
	atomic_store(&s->upload_bytes, c->upload_bytes);
	atomic_store(&s->bandwidth_window_s, c->bandwidth_window_s);
	atomic_store(&s->cpu_percent, c->cpu_percent);
	atomic_store(&s->cpu_burst_ms, c->cpu_burst_ms);
}

void limits_get_config(struct limits *lim, struct limits_config *c)
{
	struct limits_settings *s = &lim->set;
	c->max_ip_preauth = atomic_load(&s->max_ip_preauth);
	c->ip_connect_rate = atomic_load(&s->ip_connect_rate);
	c->max_user = atomic_load(&s->max_user);
	c->user_policy = (enum limits_policy)atomic_load(&s->user_policy);
	c->max_userip = atomic_load(&s->max_userip);
	c->userip_policy = (enum limits_policy)atomic_load(&s->userip_policy);
	c->auth_fail_delay_ms = atomic_load(&s->auth_fail_delay_ms);
	c->auth_fail_delay_max_ms = atomic_load(&s->auth_fail_delay_max_ms);
	c->cmd_rate = atomic_load(&s->cmd_rate);
	c->cmd_burst = atomic_load(&s->cmd_burst);
	c->throttle_max_delay_ms = atomic_load(&s->throttle_max_delay_ms);
	c->throttle_max_delayed = atomic_load(&s->throttle_max_delayed);
	c->download_bytes = atomic_load(&s->download_bytes);
	c->upload_bytes = atomic_load(&s->upload_bytes);
	c->bandwidth_window_s = atomic_load(&s->bandwidth_window_s);
	c->cpu_percent = atomic_load(&s->cpu_percent);
	c->cpu_burst_ms = atomic_load(&s->cpu_burst_ms);
}

static uint64_t limits_window_ms(struct limits *lim)
{
	unsigned s = atomic_load(&lim->set.bandwidth_window_s);
	return (uint64_t)(s > 0 ? s : 1) * 1000;
}

/* ---- the registry ---- */

static uint64_t limits_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static unsigned limits_shard_of(const char *name)
{
	return (unsigned)(limits_hash(name, strlen(name)) >> 20) % LIMITS_SHARDS;
}

/* The work bucket in microseconds: refill per second and capacity. */
static void limits_cpu_params(struct limits *lim, unsigned *rate_r, unsigned *burst_r)
{
	unsigned pct = atomic_load(&lim->set.cpu_percent);
	unsigned burst_ms = atomic_load(&lim->set.cpu_burst_ms);
	*rate_r = pct >= 100 ? 0 : pct * 10000u; /* 0: unlimited */
	*burst_r = (burst_ms > 0 ? burst_ms : 1) * 1000u;
}

/* Whether e may be freed: nothing counts on it and its rates forgot. */
static bool limits_entry_quiet(struct limits *lim, struct limits_entry *e, uint64_t now_ms)
{
	if (e->refs > 0 || e->conns > 0)
		return false;
	if (e->auth_failures > 0 && now_ms - e->auth_last_ms < LIMITS_AUTH_FORGET_MS)
		return false;
	if (rate_window_count(&e->attempts, LIMITS_CONNECT_WINDOW_MS, now_ms) > 0)
		return false;
	uint64_t win = limits_window_ms(lim);
	if (rate_window_count(&e->down, win, now_ms) > 0 ||
	    rate_window_count(&e->up, win, now_ms) > 0)
		return false;
	unsigned cpu_rate, cpu_burst;
	limits_cpu_params(lim, &cpu_rate, &cpu_burst);
	return rate_bucket_full(&e->cmd, atomic_load(&lim->set.cmd_rate),
				atomic_load(&lim->set.cmd_burst), now_ms) &&
	       rate_bucket_full(&e->cpu, cpu_rate, cpu_burst, now_ms);
}

/* Frees the quiet entries of one chain. Shard lock held. */
static void limits_sweep_slot(struct limits *lim, struct limits_entry **slot, uint64_t now_ms)
{
	while (*slot != NULL) {
		struct limits_entry *e = *slot;
		if (limits_entry_quiet(lim, e, now_ms)) {
			*slot = e->next;
			free(e);
		} else {
			slot = &e->next;
		}
	}
}

/* The entry with key (len bytes), created when missing. Shard lock held. */
static struct limits_entry *limits_entry_get(struct limits *lim, struct limits_shard *sh,
					     const char *key, size_t len, uint64_t now_ms)
{
	uint64_t h = limits_hash(key, len);
	struct limits_entry **slot = &sh->slots[h % LIMITS_SLOTS];
	limits_sweep_slot(lim, slot, now_ms);
	for (size_t i = 0; i < LIMITS_SWEEP_SLOTS; i++) {
		sh->sweep = (sh->sweep + 1) % LIMITS_SLOTS;
		if (&sh->slots[sh->sweep] != slot)
			limits_sweep_slot(lim, &sh->slots[sh->sweep], now_ms);
	}
	for (struct limits_entry *e = *slot; e != NULL; e = e->next) {
		if (e->hash == h && strncmp(e->key, key, len) == 0 && e->key[len] == '\0')
			return e;
	}
	struct limits_entry *e = xcalloc(1, sizeof(*e) + len + 1);
	memcpy(e->key, key, len);
	e->hash = h;
	e->next = *slot;
	*slot = e;
	return e;
}

/* Builds a key: kind, a, and when b is not NULL, \x1f and b. */
static char *limits_key(char kind, const char *a, const char *b, size_t *len_r)
{
	size_t la = strlen(a), lb = b != NULL ? strlen(b) : 0;
	char *k = xmalloc(la + lb + 3);
	k[0] = kind;
	memcpy(k + 1, a, la);
	*len_r = 1 + la;
	if (b != NULL) {
		k[1 + la] = '\x1f';
		memcpy(k + 2 + la, b, lb);
		*len_r += 1 + lb;
	}
	k[*len_r] = '\0';
	return k;
}

/* ---- connections ---- */

struct limits_conn *limits_conn_new(struct limits *lim, const char *ip, uint64_t now_ms,
				    limits_kick_fn *kick, void *kick_ctx, void *owner,
				    enum limits_refuse *refuse_r)
{
	struct limits_conn *lc = xcalloc(1, sizeof(*lc));
	lc->lim = lim;
	lc->kick = kick;
	lc->kick_ctx = kick_ctx;
	lc->owner = owner;
	atomic_init(&lc->refs, 1);
	atomic_init(&lc->last_active_ms, now_ms);
	lc->ip_shard = limits_shard_of(ip);
	size_t len;
	char *key = limits_key('i', ip, NULL, &len);
	struct limits_shard *sh = &lim->shards[lc->ip_shard];
	unsigned rate = atomic_load(&lim->set.ip_connect_rate);
	unsigned max = atomic_load(&lim->set.max_ip_preauth);
	enum limits_refuse refuse = LIMITS_OK;
	pthread_mutex_lock(&sh->lock);
	struct limits_entry *e = limits_entry_get(lim, sh, key, len, now_ms);
	e->refs++;
	lc->ip = e;
	/* Refused attempts count too: a flood stays refused. */
	rate_window_add(&e->attempts, LIMITS_CONNECT_WINDOW_MS, 1, now_ms);
	if (rate > 0 && rate_window_count(&e->attempts, LIMITS_CONNECT_WINDOW_MS, now_ms) > rate)
		refuse = LIMITS_REFUSE_IP_RATE;
	else if (max > 0 && e->conns >= max)
		refuse = LIMITS_REFUSE_IP_PREAUTH;
	if (refuse == LIMITS_OK) {
		e->conns++;
		lc->preauth_counted = true;
	}
	pthread_mutex_unlock(&sh->lock);
	free(key);
	if (refuse != LIMITS_OK)
		limits_count_refused(lim, refuse);
	*refuse_r = refuse;
	return lc;
}

bool limits_refusal_log_due(struct limits_conn *lc, uint64_t now_ms, unsigned *unlogged_r)
{
	struct limits_shard *sh = &lc->lim->shards[lc->ip_shard];
	pthread_mutex_lock(&sh->lock);
	struct limits_entry *e = lc->ip;
	bool due = e->refuse_log_ms == 0 || now_ms - e->refuse_log_ms >= LIMITS_REFUSE_LOG_MS;
	*unlogged_r = e->refuse_unlogged;
	if (due) {
		e->refuse_log_ms = now_ms;
		e->refuse_unlogged = 0;
	} else {
		e->refuse_unlogged++;
	}
	pthread_mutex_unlock(&sh->lock);
	return due;
}

uint64_t limits_conn_hold(struct limits_conn *lc, unsigned max_held)
{
	struct limits *lim = lc->lim;
	unsigned step = atomic_load(&lim->set.max_ip_preauth);
	struct limits_shard *sh = &lim->shards[lc->ip_shard];
	uint64_t hold = 0;
	pthread_mutex_lock(&sh->lock);
	if (!lc->held && lc->ip->held < max_held) {
		hold = LIMITS_HOLD_STEP_MS * (1 + (uint64_t)lc->ip->held / (step > 0 ? step : 100));
		lc->ip->held++;
		lc->held = true;
	}
	pthread_mutex_unlock(&sh->lock);
	return hold < LIMITS_HOLD_MAX_MS ? hold : LIMITS_HOLD_MAX_MS;
}

void *limits_conn_owner(const struct limits_conn *lc)
{
	return lc->owner;
}

void limits_conn_touch(struct limits_conn *lc, uint64_t now_ms)
{
	atomic_store(&lc->last_active_ms, now_ms);
}

void limits_conn_unref(struct limits_conn *lc)
{
	if (atomic_fetch_sub(&lc->refs, 1) == 1)
		free(lc);
}

/* ---- session lists (user shard lock held) ---- */

static struct limits_link *limits_link_of(struct limits_conn *lc, bool userip)
{
	return userip ? &lc->pl : &lc->ul;
}

static void limits_list_add(struct limits_entry *e, struct limits_conn *lc, bool userip)
{
	struct limits_link *l = limits_link_of(lc, userip);
	l->prev = NULL;
	l->next = e->sessions;
	if (e->sessions != NULL)
		limits_link_of(e->sessions, userip)->prev = lc;
	e->sessions = lc;
}

static void limits_list_del(struct limits_entry *e, struct limits_conn *lc, bool userip)
{
	struct limits_link *l = limits_link_of(lc, userip);
	if (l->prev != NULL)
		limits_link_of(l->prev, userip)->next = l->next;
	else
		e->sessions = l->next;
	if (l->next != NULL)
		limits_link_of(l->next, userip)->prev = l->prev;
	l->prev = l->next = NULL;
}

/* The session of e's list that was active least recently, or NULL. */
static struct limits_conn *limits_list_oldest(struct limits_entry *e, bool userip)
{
	struct limits_conn *best = NULL;
	uint64_t best_ms = UINT64_MAX;
	for (struct limits_conn *c = e->sessions; c != NULL; c = limits_link_of(c, userip)->next) {
		uint64_t t = atomic_load(&c->last_active_ms);
		if (t < best_ms) {
			best_ms = t;
			best = c;
		}
	}
	return best;
}

/* Uncounts a logged-in conn (its slot becomes free at once). */
static void limits_conn_unlink(struct limits_conn *lc)
{
	if (!lc->linked)
		return;
	limits_list_del(lc->user, lc, false);
	limits_list_del(lc->userip, lc, true);
	lc->user->conns--;
	lc->userip->conns--;
	lc->linked = false;
}

/* Drops an entry reference and frees the entry when quiet. Lock held. */
static void limits_entry_put(struct limits *lim, struct limits_shard *sh, struct limits_entry *e,
			     uint64_t now_ms)
{
	e->refs--;
	if (e->refs == 0)
		limits_sweep_slot(lim, &sh->slots[e->hash % LIMITS_SLOTS], now_ms);
}

void limits_conn_free(struct limits_conn **lcp)
{
	struct limits_conn *lc = *lcp;
	if (lc == NULL)
		return;
	*lcp = NULL;
	struct limits *lim = lc->lim;
	uint64_t now_ms = atomic_load(&lc->last_active_ms);
	if (lc->user != NULL) {
		struct limits_shard *sh = &lim->shards[lc->user_shard];
		pthread_mutex_lock(&sh->lock);
		limits_conn_unlink(lc);
		limits_entry_put(lim, sh, lc->userip, now_ms);
		limits_entry_put(lim, sh, lc->user, now_ms);
		pthread_mutex_unlock(&sh->lock);
	}
	struct limits_shard *ish = &lim->shards[lc->ip_shard];
	pthread_mutex_lock(&ish->lock);
	if (lc->preauth_counted)
		lc->ip->conns--;
	if (lc->held)
		lc->ip->held--;
	if (lc->auth_pending)
		lc->ip->auth_pending--;
	limits_entry_put(lim, ish, lc->ip, now_ms);
	pthread_mutex_unlock(&ish->lock);
	lc->user = lc->userip = lc->ip = NULL;
	lc->owner = NULL;
	limits_conn_unref(lc);
}

/* ---- login ---- */

/* Decides a login against the user's and user+address counts and picks
 * the session to replace. User shard lock held. */
static enum limits_refuse limits_login_decide(struct limits *lim, struct limits_entry *u,
					      struct limits_entry *p,
					      struct limits_conn **victim_r,
					      enum limits_refuse *why_r)
{
	unsigned max_u = atomic_load(&lim->set.max_user);
	unsigned max_p = atomic_load(&lim->set.max_userip);
	bool full_u = max_u > 0 && u->conns >= max_u;
	bool full_p = max_p > 0 && p->conns >= max_p;
	bool replace_u = atomic_load(&lim->set.user_policy) == LIMITS_POLICY_REPLACE_OLDEST;
	bool replace_p = atomic_load(&lim->set.userip_policy) == LIMITS_POLICY_REPLACE_OLDEST;
	*victim_r = NULL;
	if (full_p && !replace_p)
		return LIMITS_REFUSE_USERIP;
	/* Replacing a session from this address frees a slot of the user too. */
	if (full_u && !replace_u && !(full_p && u->conns == max_u))
		return LIMITS_REFUSE_USER;
	if (full_p) {
		*victim_r = limits_list_oldest(p, true);
		*why_r = LIMITS_REFUSE_USERIP;
	} else if (full_u) {
		/* Prefer the user's idle device at the same address. */
		*victim_r = p->sessions != NULL ? limits_list_oldest(p, true)
						: limits_list_oldest(u, false);
		*why_r = LIMITS_REFUSE_USER;
	}
	return LIMITS_OK;
}

enum limits_refuse limits_conn_login(struct limits_conn *lc, const char *user, uint64_t now_ms)
{
	struct limits *lim = lc->lim;
	if (lc->user != NULL)
		return LIMITS_OK; /* one login per connection */
	size_t ulen, plen;
	char *ukey = limits_key('u', user, NULL, &ulen);
	char *pkey = limits_key('p', user, lc->ip->key + 1, &plen);
	unsigned shard = limits_shard_of(user);
	struct limits_shard *sh = &lim->shards[shard];
	struct limits_conn *victim = NULL;
	enum limits_refuse why = LIMITS_OK;
	pthread_mutex_lock(&sh->lock);
	struct limits_entry *u = limits_entry_get(lim, sh, ukey, ulen, now_ms);
	u->refs++;
	struct limits_entry *p = limits_entry_get(lim, sh, pkey, plen, now_ms);
	p->refs++;
	enum limits_refuse r = limits_login_decide(lim, u, p, &victim, &why);
	if (r != LIMITS_OK) {
		limits_entry_put(lim, sh, p, now_ms);
		limits_entry_put(lim, sh, u, now_ms);
	} else {
		if (victim != NULL) {
			limits_conn_unlink(victim);
			atomic_fetch_add(&victim->refs, 1); /* for the kick */
		}
		lc->user = u;
		lc->userip = p;
		lc->user_shard = shard;
		lc->linked = true;
		u->conns++;
		p->conns++;
		limits_list_add(u, lc, false);
		limits_list_add(p, lc, true);
		atomic_store(&lc->last_active_ms, now_ms);
	}
	pthread_mutex_unlock(&sh->lock);
	free(ukey);
	free(pkey);
	if (r != LIMITS_OK) {
		limits_count_refused(lim, r);
		return r;
	}
	struct limits_shard *ish = &lim->shards[lc->ip_shard];
	pthread_mutex_lock(&ish->lock);
	if (lc->preauth_counted)
		lc->ip->conns--;
	lc->preauth_counted = false;
	pthread_mutex_unlock(&ish->lock);
	if (victim != NULL) {
		atomic_fetch_add(&lim->replaced[why], 1);
		victim->kick(victim, victim->kick_ctx);
	}
	return LIMITS_OK;
}

/* ---- authentication penalty ---- */

uint64_t limits_auth_penalty(unsigned failures, unsigned delay_ms, unsigned max_ms)
{
	if (failures < 2 || delay_ms == 0)
		return 0;
	uint64_t d = delay_ms;
	for (unsigned i = 2; i < failures && d < max_ms; i++)
		d *= 2;
	return d > max_ms ? max_ms : d;
}

uint64_t limits_auth_delay(struct limits_conn *lc, uint64_t now_ms)
{
	struct limits *lim = lc->lim;
	struct limits_shard *sh = &lim->shards[lc->ip_shard];
	pthread_mutex_lock(&sh->lock);
	struct limits_entry *e = lc->ip;
	if (e->auth_failures > 0 && now_ms - e->auth_last_ms >= LIMITS_AUTH_FORGET_MS)
		e->auth_failures = 0;
	/* The delay before attempt n+1 is the penalty of n+1 failures. And
	 * penalized attempts of one address take turns: each gets its own
	 * slot, a penalty apart, so a brute force over many parallel
	 * connections is as slow as one over a single connection, and its
	 * password checks never arrive in bursts that would crowd the auth
	 * pool other clients' logins share. */
	uint64_t penalty = limits_auth_penalty(e->auth_failures + 1,
					       atomic_load(&lim->set.auth_fail_delay_ms),
					       atomic_load(&lim->set.auth_fail_delay_max_ms));
	/* Many checks at once from one address (a brute force's first wave,
	 * before any failure is known) queue too, a short step apart; a
	 * household's few devices logging in together never notice. */
	if (penalty == 0 && e->auth_pending >= LIMITS_AUTH_PARALLEL)
		penalty = LIMITS_AUTH_QUEUE_STEP_MS;
	if (!lc->auth_pending) {
		e->auth_pending++;
		lc->auth_pending = true;
	}
	uint64_t start = now_ms + penalty;
	if (penalty > 0) {
		if (e->auth_next_ms > start)
			start = e->auth_next_ms;
		e->auth_next_ms = start + penalty;
	}
	pthread_mutex_unlock(&sh->lock);
	return start - now_ms;
}

void limits_auth_result(struct limits_conn *lc, bool ok, uint64_t now_ms)
{
	struct limits_shard *sh = &lc->lim->shards[lc->ip_shard];
	pthread_mutex_lock(&sh->lock);
	if (lc->auth_pending) {
		lc->ip->auth_pending--;
		lc->auth_pending = false;
	}
	if (ok) {
		lc->ip->auth_failures = 0;
		lc->ip->auth_next_ms = 0;
	} else {
		lc->ip->auth_failures++;
		lc->ip->auth_last_ms = now_ms;
	}
	pthread_mutex_unlock(&sh->lock);
}

/* ---- rates ---- */

enum limits_verdict limits_cmd_admit(struct limits_conn *lc, uint64_t now_ms, uint64_t *wait_ms_r)
{
	struct limits *lim = lc->lim;
	*wait_ms_r = 0;
	atomic_store(&lc->last_active_ms, now_ms);
	unsigned rate = atomic_load(&lim->set.cmd_rate);
	if (lc->user == NULL || rate == 0) {
		lc->delayed_run = 0;
		return LIMITS_GO;
	}
	unsigned burst = atomic_load(&lim->set.cmd_burst);
	unsigned max_delay = atomic_load(&lim->set.throttle_max_delay_ms);
	unsigned max_delayed = atomic_load(&lim->set.throttle_max_delayed);
	struct limits_shard *sh = &lim->shards[lc->user_shard];
	enum limits_verdict v = LIMITS_GO;
	pthread_mutex_lock(&sh->lock);
	uint64_t wait = rate_bucket_take(&lc->user->cmd, rate, burst, 1, now_ms);
	if (wait > 0 && ((max_delay > 0 && wait > max_delay) ||
			 (max_delayed > 0 && lc->delayed_run >= max_delayed))) {
		rate_bucket_give(&lc->user->cmd, burst, 1);
		wait = rate_bucket_wait_one(&lc->user->cmd, rate);
		v = LIMITS_REFUSE;
	} else if (wait > 0) {
		v = LIMITS_DELAY;
	}
	pthread_mutex_unlock(&sh->lock);
	*wait_ms_r = wait;
	if (v == LIMITS_GO)
		lc->delayed_run = 0;
	else if (v == LIMITS_DELAY)
		lc->delayed_run++;
	return v;
}

static uint64_t limits_dir_limit(struct limits *lim, enum limits_dir dir)
{
	return dir == LIMITS_DOWNLOAD ? atomic_load(&lim->set.download_bytes)
				      : atomic_load(&lim->set.upload_bytes);
}

void limits_bytes_add(struct limits_conn *lc, enum limits_dir dir, uint64_t n, uint64_t now_ms)
{
	struct limits *lim = lc->lim;
	if (lc->user == NULL || n == 0 || limits_dir_limit(lim, dir) == 0)
		return;
	struct limits_shard *sh = &lim->shards[lc->user_shard];
	pthread_mutex_lock(&sh->lock);
	rate_window_add(dir == LIMITS_DOWNLOAD ? &lc->user->down : &lc->user->up,
			limits_window_ms(lim), n, now_ms);
	pthread_mutex_unlock(&sh->lock);
}

uint64_t limits_bytes_wait(struct limits_conn *lc, enum limits_dir dir, uint64_t now_ms)
{
	struct limits *lim = lc->lim;
	uint64_t limit = limits_dir_limit(lim, dir);
	if (lc->user == NULL || limit == 0)
		return 0;
	struct limits_shard *sh = &lim->shards[lc->user_shard];
	pthread_mutex_lock(&sh->lock);
	uint64_t wait = rate_window_wait(dir == LIMITS_DOWNLOAD ? &lc->user->down : &lc->user->up,
					 limits_window_ms(lim), limit, now_ms);
	pthread_mutex_unlock(&sh->lock);
	return wait;
}

void limits_cpu_add(struct limits_conn *lc, uint64_t us, uint64_t now_ms)
{
	unsigned rate, burst;
	limits_cpu_params(lc->lim, &rate, &burst);
	if (lc->user == NULL || rate == 0 || us == 0)
		return;
	/* One charge never exceeds the bucket: a single long step (a slow
	 * disk) must not block the user for longer than its burst. */
	unsigned cost = us > burst ? burst : (unsigned)us;
	struct limits_shard *sh = &lc->lim->shards[lc->user_shard];
	pthread_mutex_lock(&sh->lock);
	rate_bucket_take(&lc->user->cpu, rate, burst, cost, now_ms);
	pthread_mutex_unlock(&sh->lock);
}

uint64_t limits_cpu_wait(struct limits_conn *lc, uint64_t now_ms)
{
	unsigned rate, burst;
	limits_cpu_params(lc->lim, &rate, &burst);
	if (lc->user == NULL || rate == 0)
		return 0;
	struct limits_shard *sh = &lc->lim->shards[lc->user_shard];
	pthread_mutex_lock(&sh->lock);
	/* Taking nothing refills the bucket and reports the debt left. */
	uint64_t wait = rate_bucket_take(&lc->user->cpu, rate, burst, 0, now_ms);
	pthread_mutex_unlock(&sh->lock);
	return wait;
}

/* ---- teardown ---- */

void limits_free(struct limits **limp)
{
	struct limits *lim = *limp;
	if (lim == NULL)
		return;
	for (size_t i = 0; i < LIMITS_SHARDS; i++) {
		for (size_t j = 0; j < LIMITS_SLOTS; j++) {
			struct limits_entry *e = lim->shards[i].slots[j];
			while (e != NULL) {
				struct limits_entry *next = e->next;
				free(e);
				e = next;
			}
		}
		pthread_mutex_destroy(&lim->shards[i].lock);
	}
	free(lim);
	*limp = NULL;
}
