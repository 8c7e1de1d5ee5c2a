/* cli: the options every subcommand shares, and finding the config.
 *
 * Options may come anywhere among the positionals (`roost user add NAME
 * -c FILE`); "--" ends them, so a user name starting with '-' can still be
 * given. Values may be attached ("-cFILE", "-okey=value") or be the next
 * word. Nothing here validates -o values: config_load does, so that file
 * and command line share one set of rules and one error format. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

/* A development tree runs from its root with its own ./var (see
 * scripts/init-var.sh); an installed server uses the system file. */
#define CLI_LOCAL_CONFIG  "./var/roost.conf"
#define CLI_SYSTEM_CONFIG "/etc/roost/roost.conf"

/* clang-format off */
static const char cli_usage_text[] =
	"usage: roost serve        [-c FILE] [-o key=value]...\n"
	"       roost check-config [-c FILE] [-o key=value]...\n"
	"       roost user add     NAME [--password-stdin] [-c FILE]\n"
	"       roost user passwd  NAME [--password-stdin] [-c FILE]\n"
	"       roost user del     NAME [-c FILE]\n"
	"       roost version\n"
	"options:\n"
	"  -c FILE           config file (default ./var/roost.conf if it exists,\n"
	"                    else /etc/roost/roost.conf)\n"
	"  -o key=value      set an option over the config file; repeatable,\n"
	"                    the last one wins\n"
	"  --password-stdin  read the password from the first line of stdin\n"
	"  --help            show this help\n"
	"  --                end of options\n";
/* clang-format on */

static void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("roost: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(cli_usage_text, stderr);
}

/* The value of the one-letter option at argv[*i]: attached ("-cFILE") or
 * the next word, which is then consumed. NULL when there is none. */
static char *cli_opt_value(int argc, char **argv, int *i)
{
	if (argv[*i][2] != '\0')
		return argv[*i] + 2;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int cli_opt_config(int argc, char **argv, int *i, struct cli_opts *opts)
{
	char *value = cli_opt_value(argc, argv, i);
	if (value == NULL || value[0] == '\0') {
		cli_usage_error("option -c needs a file name");
		return -1;
	}
	/* Two files would have to be merged or one ignored silently. */
	if (opts->config_path != NULL) {
		cli_usage_error("option -c given more than once");
		return -1;
	}
	opts->config_path = value;
	return 0;
}

static int cli_opt_override(int argc, char **argv, int *i, struct cli_opts *opts)
{
	char *value = cli_opt_value(argc, argv, i);
	if (value == NULL || value[0] == '\0') {
		cli_usage_error("option -o needs key=value");
		return -1;
	}
	opts->overrides[opts->n_overrides++] = value;
	return 0;
}

/* Handles the option at argv[*i] (which starts with '-' and is not "-" or
 * "--"), advancing *i past a separate value. --help prints the usage to
 * stdout and exits 0: it is a successful run, which the 0/-1 return of
 * cli_opts_parse could not express. */
static int cli_opt_one(int argc, char **argv, int *i, struct cli_opts *opts)
{
	const char *arg = argv[*i];
	if (strcmp(arg, "--password-stdin") == 0) {
		opts->password_stdin = 1;
		return 0;
	}
	if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
		fputs(cli_usage_text, stdout);
		cli_opts_free(opts);
		exit(0);
	}
	if (arg[1] == 'c')
		return cli_opt_config(argc, argv, i, opts);
	if (arg[1] == 'o')
		return cli_opt_override(argc, argv, i, opts);
	cli_usage_error("unknown option '%s'", arg);
	return -1;
}

int cli_opts_parse(int argc, char **argv, struct cli_opts *opts)
{
	bool options_done = false;
	memset(opts, 0, sizeof(*opts));
	/* Neither list can be longer than argv. */
	opts->overrides = xcalloc((size_t)argc + 1, sizeof(char *));
	opts->positional = xcalloc((size_t)argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++) {
		char *arg = argv[i];
		if (options_done || arg[0] != '-' || arg[1] == '\0') {
			opts->positional[opts->n_positional++] = arg;
		} else if (strcmp(arg, "--") == 0) {
			options_done = true;
		} else if (cli_opt_one(argc, argv, &i, opts) < 0) {
			cli_opts_free(opts);
			return -1;
		}
	}
	return 0;
}

void cli_opts_free(struct cli_opts *opts)
{
	free(opts->overrides);
	free(opts->positional);
	memset(opts, 0, sizeof(*opts));
}

int cli_load_config(const struct cli_opts *opts, struct config *cfg)
{
	const char *path = opts->config_path;
	char *error = NULL;
	if (path == NULL)
		path = access(CLI_LOCAL_CONFIG, F_OK) == 0 ? CLI_LOCAL_CONFIG : CLI_SYSTEM_CONFIG;
	if (config_load(cfg, path, opts->overrides, opts->n_overrides, &error) < 0) {
		fprintf(stderr, "roost: %s\n", error);
		free(error);
		return -1;
	}
	log_set_level(cfg->log_level);
	return 0;
}
