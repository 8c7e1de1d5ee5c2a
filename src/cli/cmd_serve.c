/* cmd_serve: `roost serve` — load the config, bind, run until SIGTERM.
 *
 * Order matters: listeners are bound before privileges are dropped (ports
 * below 1024 need root), and on the way out the auth pool is stopped
 * before the loops' queues are drained, so every password check finishes
 * and every session is freed. */
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
	struct net_server_params params = {
		.imap_listen = cfg->imap_listen,
		.imaps_listen = cfg->imaps_listen,
		.threads = cfg->threads,
		.shutdown_grace_ms = 5000,
		.proto = &imap_protocol,
		.proto_ctx = ctx,
	};
	struct net_server *srv = net_server_new(&params, &err);
	if (srv == NULL) {
		fprintf(stderr, "roost: %s\n", err);
		free(err);
		imap_ctx_free(&ctx);
		return 1;
	}
	struct metrics_http *metrics = NULL;
	if (serve_metrics_start(cfg, &metrics) < 0) {
		net_server_free(&srv);
		imap_ctx_free(&ctx);
		return 1;
	}
	/* The control socket (imap/admin.h) is made before privileges are
	 * dropped, like the listeners, and given to run_user: only that uid
	 * and root may use it. */
	char sock[4096];
	snprintf(sock, sizeof(sock), "%s/control.sock", cfg->state_dir);
	struct admin_server *admin = admin_start(ctx, sock, &err);
	if (admin == NULL) {
		fprintf(stderr, "roost: %s\n", err);
		free(err);
		metrics_http_stop(&metrics);
		net_server_free(&srv);
		imap_ctx_free(&ctx);
		return 1;
	}
	if (serve_chown_socket(sock, cfg->run_user) < 0 ||
	    serve_drop_privileges(cfg->run_user) < 0) {
		admin_stop(&admin);
		metrics_http_stop(&metrics);
		net_server_free(&srv);
		imap_ctx_free(&ctx);
		return 1;
	}
	log_info("event=start version=%s threads=%u pid=%d", ROOST_VERSION,
		 net_server_threads(srv), (int)getpid());
	net_server_run(srv);
	metrics_http_stop(&metrics);
	admin_stop(&admin);
	imap_ctx_stop_workers(ctx);
	net_server_free(&srv);
	imap_ctx_free(&ctx);
	log_info("event=stopped");
	return 0;
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
