/* cli: the `roost` command line.
 *
 *   roost serve        [-c FILE] [-o key=value]...   run in the foreground
 *   roost check-config [-c FILE] [-o key=value]...   print effective settings
 *   roost user add     NAME [--password-stdin] [-c FILE]
 *   roost user passwd  NAME [--password-stdin] [-c FILE]
 *   roost user del     NAME [-c FILE]
 *   roost who          [-c FILE]                     list the live sessions
 *   roost kick         USER [IP] [-c FILE]           end a user's sessions
 *   roost import-maildir --user USER [-c FILE] PATH  import a Dovecot Maildir
 *   roost version
 *
 * Without -c, ./var/roost.conf is used when it exists, else
 * /etc/roost/roost.conf. Exit status: 0 success, 1 failure, 2 usage. */
#ifndef ROOST_CLI_CLI_H
#define ROOST_CLI_CLI_H

#include <stddef.h>

#include "config/config.h"
#include "lib/version.h"

struct cli_opts {
	const char *config_path; /* NULL: default lookup */
	char **overrides;        /* -o values, in order (points into argv) */
	size_t n_overrides;
	int password_stdin;
	char **positional; /* what is left, in order (points into argv) */
	size_t n_positional;
};

/* Parses -c FILE, -o key=value, --password-stdin and positionals from
 * argv[0..argc). Returns 0, or -1 after printing a usage error. The opts'
 * arrays are malloc'd; free with cli_opts_free(). */
int cli_opts_parse(int argc, char **argv, struct cli_opts *opts);
void cli_opts_free(struct cli_opts *opts);
/* Loads the config named by opts (default lookup when none), printing
 * "roost: <error>" to stderr on failure. Returns 0 or -1. */
int cli_load_config(const struct cli_opts *opts, struct config *cfg);

/* Subcommands; argv starts after the subcommand word. Return exit status. */
int cli_serve(int argc, char **argv);
int cli_check_config(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_who(int argc, char **argv);
int cli_kick(int argc, char **argv);
int cli_import_maildir(int argc, char **argv);

struct buf;
/* Sends request (one line) to the running server's control socket
 * (<state_dir>/control.sock, imap/admin.h) and reads the whole answer
 * into reply. Returns 0, or -1 after printing the error. */
int cli_control(const struct config *cfg, const char *request, struct buf *reply);

#endif
