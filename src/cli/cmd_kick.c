/* cmd_kick: `roost kick USER [IP] [-c FILE]` — ends a user's sessions
 * (those from IP only, when given) on the running server, over its
 * control socket (imap/admin.h). Each gets "* BYE [UNAVAILABLE]
 * Disconnected by administrator". Prints how many were ended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/buf.h"

int cli_kick(int argc, char **argv)
{
	struct cli_opts opts;
	if (cli_opts_parse(argc, argv, &opts) < 0)
		return 2;
	if (opts.n_positional < 1 || opts.n_positional > 2 ||
	    strpbrk(opts.positional[0], "\t\r\n") != NULL ||
	    (opts.n_positional == 2 && strpbrk(opts.positional[1], "\t\r\n") != NULL)) {
		fprintf(stderr, "usage: roost kick USER [IP] [-c FILE]\n");
		cli_opts_free(&opts);
		return 2;
	}
	struct config cfg;
	int status = 1;
	struct buf req = {0}, reply = {0};
	if (cli_load_config(&opts, &cfg) == 0) {
		buf_printf(&req, "KICK\t%s%s%s\n", opts.positional[0],
			   opts.n_positional == 2 ? "\t" : "",
			   opts.n_positional == 2 ? opts.positional[1] : "");
		if (cli_control(&cfg, buf_rdata(&req), &reply) == 0) {
			const char *ok = strstr(buf_rdata(&reply), "OK ");
			printf("kicked %lu session(s)\n", strtoul(ok + 3, NULL, 10));
			status = 0;
		}
		config_free(&cfg);
	}
	buf_release(&req);
	buf_release(&reply);
	cli_opts_free(&opts);
	return status;
}
