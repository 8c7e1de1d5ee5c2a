/* cmd_serve: `roost serve` — load the config, bind, run until SIGTERM.
 *
 * Order matters: listeners are bound before privileges are dropped (ports
 * below 1024 need root), and on the way out the loops and the worker
 * pools are run down together (net_server_quiesce) before the pools stop:
 * every password check and store job finishes, every session is freed,
 * and the store releases they hand to the pool run there as usual. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "imap/admin.h"
#include "imap/commands.h"
#include "imap/imap.h"
#include "lib/log.h"
#include "lmtp/lmtp.h"
#include "metrics/metrics.h"
#include "metrics/metrics_http.h"
#include "net/server.h"

static int serve_mkdir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "roost: cannot create %s: %s\n", path, strerror(errno));
	return -1;
}

static int serve_drop_privileges(const char *user)
{
	if (user[0] == '\0' || geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		fprintf(stderr, "roost: run_user '%s' does not exist\n", user);
		return -1;
	}
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		fprintf(stderr, "roost: cannot drop privileges to %s: %s\n", user, strerror(errno));
		return -1;
	}
	log_info("event=privileges user=%s uid=%u", user, (unsigned)pw->pw_uid);
	return 0;
}

static int serve_chown_socket(const char *path, const char *user)
{
	if (user[0] == '\0' || geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(user);
	if (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) < 0) {
		fprintf(stderr, "roost: cannot chown %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0; /* an unknown user is reported by serve_drop_privileges */
}

/* Metrics: the command table names the command label's values, and the
 * endpoint is bound with the other listeners, before privileges are
 * dropped. Returns -1 when metrics_listen is set but cannot be served. */
static int serve_metrics_start(const struct config *cfg, struct metrics_http **http_r)
{
	const char *names[METRICS_MAX_COMMANDS];
	size_t n = 0;
	while (n < METRICS_MAX_COMMANDS && (names[n] = commands_name(n)) != NULL)
		n++;
	metrics_init();
	metrics_set_command_names(names, n);
	char *err = NULL;
	*http_r = metrics_http_start(cfg->metrics_listen, cfg->metrics_timeout * 1000, &err);
	if (*http_r == NULL && err != NULL) {
		fprintf(stderr, "roost: %s\n", err);
		free(err);
		return -1;
	}
	return 0;
}

static struct passdb *serve_passdb_get(void *ctx)
{
	return imap_ctx_passdb(ctx);
}

/* LMTP (lmtp/lmtp.h) shares the IMAP context's store, store pool, limits
 * and session count; its listeners are extra listeners of the one server. */
static struct lmtp_ctx *serve_lmtp_new(struct config *cfg, const struct cli_opts *opts,
				       struct imap_ctx *ctx)
{
	struct lmtp_params lp = {
		.cfg = cfg,
		.config_path = cfg->config_path,
		.overrides = opts->overrides,
		.n_overrides = opts->n_overrides,
		.store = ctx->store,
		.store_pool = ctx->store_pool,
		.limits = ctx->limits,
		.sessions = &ctx->sessions,
		.passdb_get = serve_passdb_get,
		.passdb_ctx = ctx,
	};
	return lmtp_ctx_new(&lp);
}

/* Binds every listener and starts the admin socket, then drops
 * privileges. Returns -1 after printing why. */
static int serve_setup(struct config *cfg, struct imap_ctx *ctx, struct lmtp_ctx *lmtp,
		       const char *lmtp_sock, struct net_server **srv_r,
		       struct metrics_http **metrics_r, struct admin_server **admin_r)
{
	char *err = NULL;
	struct net_extra_listener lmtp_listener = {
		.name = "lmtp",
		.listen = cfg->lmtp_listen,
		.unix_path = lmtp_sock,
		.unix_mode = 0660,
		.proto = &lmtp_protocol,
		.proto_ctx = lmtp,
	};
	struct net_server_params params = {
		.imap_listen = cfg->imap_listen,
		.imaps_listen = cfg->imaps_listen,
		.extra = &lmtp_listener,
		.n_extra = 1,
		.threads = cfg->threads,
		.shutdown_grace_ms = 5000,
		.proto = &imap_protocol,
		.proto_ctx = ctx,
	};
	*srv_r = net_server_new(&params, &err);
	if (*srv_r == NULL)
		goto fail;
	if (serve_metrics_start(cfg, metrics_r) < 0)
		return -1;
	/* The control socket (imap/admin.h) is made before privileges are
	 * dropped, like the listeners, and given to run_user: only that uid
	 * and root may use it. */
	char sock[4096];
	snprintf(sock, sizeof(sock), "%s/control.sock", cfg->state_dir);
	*admin_r = admin_start(ctx, sock, &err);
	if (*admin_r == NULL)
		goto fail;
	if (serve_chown_socket(sock, cfg->run_user) < 0 ||
	    (lmtp_sock[0] != '\0' && serve_chown_socket(lmtp_sock, cfg->run_user) < 0) ||
	    serve_drop_privileges(cfg->run_user) < 0)
		return -1;
	return 0;
fail:
	fprintf(stderr, "roost: %s\n", err);
	free(err);
	return -1;
}

static int serve_run(struct config *cfg, const struct cli_opts *opts)
{
	char *err = NULL;
	if (serve_mkdir(cfg->state_dir) < 0 || serve_mkdir(cfg->mail_root) < 0)
		return 1;
	struct imap_ctx *ctx =
		imap_ctx_new(cfg, cfg->config_path, opts->overrides, opts->n_overrides, &err);
	if (ctx == NULL) {
		fprintf(stderr, "roost: %s\n", err);
		free(err);
		return 1;
	}
	struct lmtp_ctx *lmtp = serve_lmtp_new(cfg, opts, ctx);
	char *lmtp_sock = lmtp_socket_path(cfg);
	struct net_server *srv = NULL;
	struct metrics_http *metrics = NULL;
	struct admin_server *admin = NULL;
	int status = 1;
	if (serve_setup(cfg, ctx, lmtp, lmtp_sock, &srv, &metrics, &admin) == 0) {
		log_info("event=start version=%s threads=%u pid=%d", ROOST_VERSION,
			 net_server_threads(srv), (int)getpid());
		net_server_run(srv);
		status = 0;
	}
	if (metrics != NULL)
		metrics_http_stop(&metrics);
	if (admin != NULL)
		admin_stop(&admin);
	atomic_store(&ctx->stopping, true);
	if (srv != NULL) {
		struct workpool *const pools[] = {ctx->auth_pool, ctx->store_pool, ctx->index_pool};
		net_server_quiesce(srv, pools, 3);
	}
	imap_ctx_stop_workers(ctx);
	net_server_free(&srv);
	lmtp_ctx_free(&lmtp);
	imap_ctx_free(&ctx);
	free(lmtp_sock);
	if (status == 0)
		log_info("event=stopped");
	return status;
}

int cli_serve(int argc, char **argv)
{
	struct cli_opts opts;
	if (cli_opts_parse(argc, argv, &opts) < 0)
		return 2;
	if (opts.n_positional > 0) {
		fprintf(stderr, "roost: serve takes no arguments\n");
		cli_opts_free(&opts);
		return 2;
	}
	struct config cfg;
	if (cli_load_config(&opts, &cfg) < 0) {
		cli_opts_free(&opts);
		return 1;
	}
	int status = serve_run(&cfg, &opts);
	config_free(&cfg);
	cli_opts_free(&opts);
	return status;
}
