/* lmtp: the server-wide LMTP context (see lmtp.h). */
#include "lmtp/lmtp.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "lmtp/lmtp_session.h"

static void lmtp_settings_apply(struct lmtp_settings *st, const struct config *cfg)
{
	atomic_store(&st->max_message_size, cfg->lmtp_max_message_size);
	atomic_store(&st->max_recipients, cfg->lmtp_max_recipients);
	atomic_store(&st->timeout_s, cfg->lmtp_timeout);
	atomic_store(&st->detail_to_folder, cfg->lmtp_detail_to_folder);
	atomic_store(&st->max_connections, cfg->max_connections);
	atomic_store(&st->output_buffer_limit, cfg->output_buffer_limit);
}

struct lmtp_ctx *lmtp_ctx_new(const struct lmtp_params *params)
{
	struct lmtp_ctx *ctx = xcalloc(1, sizeof(*ctx));
	ctx->p = *params;
	ctx->server_name = xstrdup(params->cfg->server_name);
	ctx->detail_separator = xstrdup(params->cfg->lmtp_detail_separator);
	lmtp_settings_apply(&ctx->settings, params->cfg);
	if (getrandom(&ctx->sid_key, sizeof(ctx->sid_key), 0) != sizeof(ctx->sid_key))
		ctx->sid_key = (uint64_t)getpid() * 0xd1b54a32d192ed03ull;
	return ctx;
}

void lmtp_ctx_free(struct lmtp_ctx **ctxp)
{
	struct lmtp_ctx *ctx = *ctxp;
	if (ctx == NULL)
		return;
	free(ctx->server_name);
	free(ctx->detail_separator);
	free(ctx);
	*ctxp = NULL;
}

void lmtp_ctx_reload(struct lmtp_ctx *ctx)
{
	struct config cfg;
	char *err = NULL;
	if (config_load(&cfg, ctx->p.config_path, ctx->p.overrides, ctx->p.n_overrides, &err) < 0) {
		/* The IMAP side reports the same failure; say which part kept
		 * its old settings. */
		log_warn("event=reload what=lmtp result=fail error=\"%s\"", err ? err : "");
		free(err);
		config_free(&cfg);
		return;
	}
	lmtp_settings_apply(&ctx->settings, &cfg);
	if (strcmp(cfg.lmtp_listen, ctx->p.cfg->lmtp_listen) != 0 ||
	    strcmp(cfg.lmtp_socket, ctx->p.cfg->lmtp_socket) != 0 ||
	    strcmp(cfg.lmtp_detail_separator, ctx->p.cfg->lmtp_detail_separator) != 0)
		log_warn("event=reload what=lmtp result=restart_required");
	config_free(&cfg);
}

/* A bijective mix of a counter with a per-process key, as for IMAP. */
uint64_t lmtp_ctx_new_sid(struct lmtp_ctx *ctx)
{
	uint64_t x = atomic_fetch_add(&ctx->next_sid, 1) + ctx->sid_key;
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dull;
	x ^= x >> 33;
	return x;
}

char *lmtp_socket_path(const struct config *cfg)
{
	const char *v = cfg->lmtp_socket;
	if (v[0] == '\0' || v[0] == '/')
		return xstrdup(v);
	struct buf b = {0};
	buf_printf(&b, "%s/%s", cfg->state_dir, v);
	char *path = xstrdup(buf_rdata(&b));
	buf_release(&b);
	return path;
}

static void lmtp_on_accept(void *ctx, struct conn *c, bool implicit_tls)
{
	(void)implicit_tls;
	lmtp_session_accept(ctx, c);
}

static void lmtp_on_reload(void *ctx)
{
	lmtp_ctx_reload(ctx);
}

const struct net_protocol lmtp_protocol = {
    .on_accept = lmtp_on_accept,
    .on_reload = lmtp_on_reload,
};
