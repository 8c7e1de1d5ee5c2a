/* main: dispatches `roost <subcommand>` (see cli/cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static int usage(FILE *out, int status)
{
	fprintf(out, "usage: roost serve        [-c FILE] [-o key=value]...\n"
		     "       roost check-config [-c FILE] [-o key=value]...\n"
		     "       roost user add|passwd NAME [--password-stdin] [-c FILE]\n"
		     "       roost user del NAME [-c FILE]\n"
		     "       roost who [-c FILE]\n"
		     "       roost kick USER [IP] [-c FILE]\n"
		     "       roost import-maildir --user USER [-c FILE] PATH\n"
		     "       roost version\n");
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, 2);
	const char *cmd = argv[1];
	if (strcmp(cmd, "serve") == 0)
		return cli_serve(argc - 2, argv + 2);
	if (strcmp(cmd, "check-config") == 0)
		return cli_check_config(argc - 2, argv + 2);
	if (strcmp(cmd, "user") == 0)
		return cli_user(argc - 2, argv + 2);
	if (strcmp(cmd, "who") == 0)
		return cli_who(argc - 2, argv + 2);
	if (strcmp(cmd, "kick") == 0)
		return cli_kick(argc - 2, argv + 2);
	if (strcmp(cmd, "import-maildir") == 0)
		return cli_import_maildir(argc - 2, argv + 2);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("roost %s\n", ROOST_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
		return usage(stdout, 0);
	fprintf(stderr, "roost: unknown command '%s'\n", cmd);
	return usage(stderr, 2);
}
