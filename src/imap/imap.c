/* imap: server-wide IMAP context and the protocol entry points (see
 * imap.h). */
#include "imap/imap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "imap/login.h"
#include "imap/session.h"
#include "lib/audit.h"
#include "lib/log.h"
#include "lib/xalloc.h"

static void imap_settings_apply(struct imap_settings *st, const struct config *cfg)
{
	atomic_store(&st->max_line, cfg->max_line_length);
	atomic_store(&st->max_literal, cfg->max_literal_size);
	atomic_store(&st->max_literal_preauth, cfg->max_literal_size_preauth);
	atomic_store(&st->max_connections, cfg->max_connections);
	atomic_store(&st->output_buffer_limit, cfg->output_buffer_limit);
	atomic_store(&st->preauth_timeout_s, cfg->preauth_timeout);
	atomic_store(&st->idle_timeout_s, cfg->idle_timeout);
	atomic_store(&st->idle_keepalive_s, cfg->idle_keepalive);
	atomic_store(&st->tls_handshake_timeout_s, cfg->tls_handshake_timeout);
	atomic_store(&st->output_stall_timeout_s, cfg->output_stall_timeout);
	atomic_store(&st->plaintext_auth, (int)cfg->plaintext_auth);
	atomic_store(&st->mail_quota, cfg->mail_quota);
	atomic_store(&st->mail_quota_messages, cfg->mail_quota_messages);
}

/* store_quota_lookup_fn: mail_quota / mail_quota_messages, overridden by
 * the user's userdb_quota_rule in the passwd-file. Runs at every
 * store_user_open (login, delivery), so reloads apply from then on. */
static void imap_quota_lookup(void *arg, const char *user, uint64_t *bytes_r,
			      uint64_t *messages_r)
{
	struct imap_ctx *ctx = arg;
	*bytes_r = atomic_load(&ctx->settings.mail_quota);
	*messages_r = atomic_load(&ctx->settings.mail_quota_messages);
	struct passdb *db = imap_ctx_passdb(ctx);
	if (db == NULL)
		return;
	uint64_t b = *bytes_r, m = *messages_r;
	if (passdb_lookup_quota(db, user, &b, &m) < 0) {
		log_warn("event=quota_rule_invalid user_len=%zu action=default_limits",
			 strlen(user));
	} else {
		*bytes_r = b;
		*messages_r = m;
	}
	passdb_unref(&db);
}

/* The governance settings (limits/) from the configuration. */
static void imap_limits_apply(struct limits *lim, const struct config *cfg)
{
	struct limits_config lc = {
		.max_ip_preauth = cfg->max_preauth_connections_per_ip,
		.ip_connect_rate = cfg->connect_rate_per_ip,
		.max_user = cfg->max_user_connections,
		.user_policy = cfg->max_user_connections_policy == CONN_LIMIT_REPLACE_OLDEST
				       ? LIMITS_POLICY_REPLACE_OLDEST
				       : LIMITS_POLICY_REFUSE,
		.max_userip = cfg->max_userip_connections,
		.userip_policy = cfg->max_userip_connections_policy == CONN_LIMIT_REPLACE_OLDEST
					 ? LIMITS_POLICY_REPLACE_OLDEST
					 : LIMITS_POLICY_REFUSE,
		.auth_fail_delay_ms = cfg->auth_fail_delay_ms,
		.auth_fail_delay_max_ms = cfg->auth_fail_delay_max_ms,
		.cmd_rate = cfg->command_rate,
		.cmd_burst = cfg->command_burst,
		.throttle_max_delay_ms = cfg->throttle_max_delay_ms,
		.throttle_max_delayed = cfg->throttle_max_delayed,
		.download_bytes = cfg->download_limit,
		.upload_bytes = cfg->upload_limit,
		.bandwidth_window_s = cfg->bandwidth_window,
		.cpu_percent = cfg->user_cpu_percent,
		.cpu_burst_ms = cfg->user_cpu_burst_ms,
	};
	limits_configure(lim, &lc);
}

/* A pool size from the configuration: 0 means per_core threads per core.
 * Password hashing is CPU work (one per core); store writes mostly wait
 * for fsync, and concurrent fsyncs share the file system's journal
 * commits, so more of them than cores keeps their queue short when the
 * disk is slow. */
static unsigned imap_workers(unsigned configured, unsigned per_core)
{
	if (configured > 0)
		return configured;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	return (cores > 0 ? (unsigned)cores : 1) * per_core;
}

struct imap_ctx *imap_ctx_new(const struct config *cfg, const char *config_path,
			      char **overrides, size_t n_overrides, char **error_r)
{
	const char *serr = NULL;
	struct store_settings store_set = {
		.backend = "maildir",
		.mail_root = cfg->mail_root,
		.fsync = cfg->mail_fsync,
		.linger_ms = cfg->mail_linger * 1000u,
		.linger_users = cfg->mail_linger_users,
		.fts_catch_up_ms = cfg->fts_index_budget_ms};
	struct store *store = store_open(&store_set, &serr);
	if (store == NULL) {
		*error_r = xstrdup(serr ? serr : "cannot open the mail store");
		return NULL;
	}
	struct tls_ctx *tls = tls_ctx_new(cfg, error_r);
	if (tls == NULL) {
		store_close(&store);
		return NULL;
	}
	/* The audit trail is part of operating the server: refuse to start
	 * without it rather than run unaudited. */
	if (audit_open(cfg->audit_log) < 0) {
		struct buf msg = {0};
		buf_printf(&msg, "cannot open audit_log %s: %s", cfg->audit_log, strerror(errno));
		*error_r = xstrdup(buf_rdata(&msg));
		buf_release(&msg);
		tls_ctx_free(&tls);
		store_close(&store);
		return NULL;
	}
	const char *perr = NULL;
	struct passdb *db = passdb_load(cfg->passwd_file, &perr);
	if (db == NULL) {
		/* Serve anyway (logins fail) so an operator can fix the file and
		 * SIGHUP; say so loudly. */
		log_warn("event=passdb_error error=\"%s\"", perr ? perr : "unknown");
	}
	struct imap_ctx *ctx = xcalloc(1, sizeof(*ctx));
	ctx->cfg = cfg;
	ctx->config_path = config_path ? xstrdup(config_path) : NULL;
	ctx->overrides = overrides;
	ctx->n_overrides = n_overrides;
	ctx->tls = tls;
	ctx->store = store;
	ctx->passdb = db;
	pthread_mutex_init(&ctx->passdb_lock, NULL);
	imap_settings_apply(&ctx->settings, cfg);
	store_set_quota_lookup(store, imap_quota_lookup, ctx);
	ctx->limits = limits_new();
	imap_limits_apply(ctx->limits, cfg);
	ctx->auth_pool = workpool_new(imap_workers(cfg->auth_workers, 1), "auth");
	ctx->store_pool = workpool_new(imap_workers(cfg->store_workers, 4), "store");
	ctx->index_pool = workpool_new_nice(imap_workers(0, 1), "index", 10);
	ctx->dummy_hash = login_make_dummy_hash(cfg->password_scheme);
	ctx->credcache = credcache_new(cfg->auth_cache_size, cfg->auth_cache_ttl);
	if (getrandom(&ctx->sid_key, sizeof(ctx->sid_key), 0) != sizeof(ctx->sid_key))
		ctx->sid_key = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
	return ctx;
}

void imap_ctx_stop_workers(struct imap_ctx *ctx)
{
	workpool_free(&ctx->auth_pool);
	workpool_free(&ctx->store_pool);
	workpool_free(&ctx->index_pool);
}

void imap_ctx_free(struct imap_ctx **ctxp)
{
	struct imap_ctx *ctx = *ctxp;
	if (ctx == NULL)
		return;
	workpool_free(&ctx->auth_pool);
	workpool_free(&ctx->store_pool);
	workpool_free(&ctx->index_pool);
	tls_ctx_free(&ctx->tls);
	passdb_unref(&ctx->passdb);
	store_close(&ctx->store);
	limits_free(&ctx->limits);
	pthread_mutex_destroy(&ctx->passdb_lock);
	audit_close();
	free(ctx->config_path);
	free(ctx->dummy_hash);
	credcache_free(&ctx->credcache);
	free(ctx);
	*ctxp = NULL;
}

struct passdb *imap_ctx_passdb(struct imap_ctx *ctx)
{
	pthread_mutex_lock(&ctx->passdb_lock);
	struct passdb *db = ctx->passdb;
	if (db != NULL)
		passdb_ref(db);
	pthread_mutex_unlock(&ctx->passdb_lock);
	return db;
}

/* A bijective mix of a counter with a per-process key: unique, and not
 * guessable from another session's id. */
uint64_t imap_ctx_new_sid(struct imap_ctx *ctx)
{
	uint64_t x = atomic_fetch_add(&ctx->next_sid, 1) + ctx->sid_key;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static void imap_reload_passdb(struct imap_ctx *ctx, const char *path)
{
	const char *perr = NULL;
	struct passdb *db = passdb_load(path, &perr);
	if (db == NULL) {
		log_warn("event=reload what=passdb result=fail error=\"%s\"", perr ? perr : "");
		return;
	}
	pthread_mutex_lock(&ctx->passdb_lock);
	struct passdb *old = ctx->passdb;
	ctx->passdb = db;
	pthread_mutex_unlock(&ctx->passdb_lock);
	passdb_unref(&old);
	log_info("event=reload what=passdb result=ok users=%zu", passdb_count(db));
}

void imap_ctx_reload(struct imap_ctx *ctx)
{
	struct config cfg;
	char *err = NULL;
	config_init_defaults(&cfg);
	if (config_load(&cfg, ctx->config_path, ctx->overrides, ctx->n_overrides, &err) < 0) {
		log_warn("event=reload what=config result=fail error=\"%s\"", err ? err : "");
		free(err);
		config_free(&cfg);
		return;
	}
	log_set_level(cfg.log_level);
	imap_settings_apply(&ctx->settings, &cfg);
	imap_limits_apply(ctx->limits, &cfg);
	if (tls_ctx_reload(ctx->tls, &cfg, &err) < 0) {
		log_warn("event=reload what=tls result=fail error=\"%s\"", err);
		free(err);
	} else {
		log_info("event=reload what=tls result=ok cert=%s", cfg.tls_cert);
	}
	imap_reload_passdb(ctx, cfg.passwd_file);
	/* logrotate moves the file and sends SIGHUP: start a new one. */
	if (audit_reopen(cfg.audit_log) < 0)
		log_warn("event=reload what=audit_log result=fail path=%s error=\"%s\"", cfg.audit_log,
			 strerror(errno));
	if (strcmp(cfg.imap_listen, ctx->cfg->imap_listen) != 0 ||
	    strcmp(cfg.imaps_listen, ctx->cfg->imaps_listen) != 0 || cfg.threads != ctx->cfg->threads)
		log_warn("event=reload what=listeners result=restart_required");
	config_free(&cfg);
}

static void imap_on_accept(void *ctx, struct conn *c, bool implicit_tls)
{
	session_accept(ctx, c, implicit_tls);
}

static void imap_on_reload(void *ctx)
{
	imap_ctx_reload(ctx);
}

const struct net_protocol imap_protocol = {
	.on_accept = imap_on_accept,
	.on_reload = imap_on_reload,
};
