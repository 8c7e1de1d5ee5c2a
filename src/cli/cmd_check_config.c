/* cmd_check_config: `roost check-config [-c FILE] [-o key=value]...`.
 *
 * Loads the config exactly as `roost serve` would (same lookup, same
 * overrides, same validation) and prints the effective settings: every
 * option, sizes in bytes, durations in seconds, paths absolute. A bad
 * file is reported as "roost: file:line: reason" on stderr with exit
 * status 1, so the command can guard a deployment or a reload. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Prints "roost: check-config: <problem> '<arg>'" and the usage line;
 * returns the usage exit status. */
static int cmd_check_config_usage(const char *problem, const char *arg)
{
	fprintf(stderr,
	        "roost: check-config: %s '%s'\n"
	        "usage: roost check-config [-c FILE] [-o key=value]...\n",
	        problem, arg);
	return 2;
}

static int cmd_check_config_run(const struct cli_opts *opts)
{
	struct config cfg;
	if (opts->n_positional > 0)
		return cmd_check_config_usage("unexpected argument", opts->positional[0]);
	if (opts->password_stdin)
		return cmd_check_config_usage("unexpected option", "--password-stdin");
	if (cli_load_config(opts, &cfg) < 0)
		return 1;
	printf("# roost %s: effective settings from %s\n\n", ROOST_VERSION, cfg.config_path);
	config_print(&cfg, stdout);
	config_free(&cfg);
	/* A full disk or closed pipe must not look like a checked config. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "roost: check-config: writing output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int cli_check_config(int argc, char **argv)
{
	struct cli_opts opts;
	if (cli_opts_parse(argc, argv, &opts) < 0)
		return 2;
	int status = cmd_check_config_run(&opts);
	cli_opts_free(&opts);
	return status;
}
