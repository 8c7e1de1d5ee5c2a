/* cmd_who: `roost who [-c FILE]` — the live sessions of a running server,
 * asked over its control socket (imap/admin.h), printed as a table. Also
 * holds cli_control(), the socket client `roost kick` shares. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/buf.h"

int cli_control(const struct config *cfg, const char *request, struct buf *reply)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/control.sock", cfg->state_dir);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		fprintf(stderr, "roost: control socket path too long\n");
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "roost: cannot reach the server at %s: %s\n", sun.sun_path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t len = strlen(request), off = 0;
	while (off < len) {
		ssize_t w = write(fd, request + off, len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	for (;;) {
		buf_reserve(reply, 4096);
		ssize_t r = read(fd, buf_wptr(reply), buf_wlen(reply));
		if (r <= 0)
			break;
		reply->len += (size_t)r;
	}
	close(fd);
	const char *data = buf_rdata(reply);
	if (strncmp(data, "ERR ", 4) == 0) {
		fprintf(stderr, "roost: server: %s", data + 4);
		return -1;
	}
	const char *ok = strstr(data, "OK ");
	if (ok == NULL || (ok != data && ok[-1] != '\n')) {
		fprintf(stderr, "roost: no answer from the server\n");
		return -1;
	}
	return 0;
}

/* Prints one tab-separated WHO line as a table row. */
static void who_row(char *line)
{
	char *f[8] = {0};
	size_t n = 0;
	for (char *p = line; n < 8; n++) {
		f[n] = p;
		char *tab = strchr(p, '\t');
		if (tab == NULL) {
			n++;
			break;
		}
		*tab = '\0';
		p = tab + 1;
	}
	if (n < 8)
		return;
	/* sid user ip state mailbox since in out */
	printf("%-20s %-39s %-17s %-20s %-20s %12s %12s %s\n", f[1], f[2], f[3], f[4], f[5], f[6],
	       f[7], f[0]);
}

int cli_who(int argc, char **argv)
{
	struct cli_opts opts;
	if (cli_opts_parse(argc, argv, &opts) < 0)
		return 2;
	if (opts.n_positional > 0) {
		fprintf(stderr, "roost: who takes no arguments\n");
		cli_opts_free(&opts);
		return 2;
	}
	struct config cfg;
	int status = 1;
	struct buf reply = {0};
	if (cli_load_config(&opts, &cfg) == 0) {
		if (cli_control(&cfg, "WHO\n", &reply) == 0) {
			printf("%-20s %-39s %-17s %-20s %-20s %12s %12s %s\n", "USER", "IP", "STATE",
			       "MAILBOX", "SINCE", "BYTES_IN", "BYTES_OUT", "SID");
			char *save = NULL;
			for (char *l = strtok_r(reply.data, "\n", &save); l != NULL;
			     l = strtok_r(NULL, "\n", &save))
				if (strncmp(l, "OK ", 3) != 0)
					who_row(l);
			status = 0;
		}
		config_free(&cfg);
	}
	buf_release(&reply);
	cli_opts_free(&opts);
	return status;
}
