/* listener: address parsing and listening sockets (see listener.h). */
#include "net/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"

#define LISTEN_BACKLOG 4096

static char *listen_error(const char *fmt, const char *a, const char *b)
{
	char msg[512];
	snprintf(msg, sizeof(msg), fmt, a, b);
	return xstrdup(msg);
}

/* Splits "host:port" / "[v6]:port" into host and port texts. */
static int listen_split(char *elem, char **host_r, char **port_r)
{
	char *colon = strrchr(elem, ':');
	if (colon == NULL || colon[1] == '\0')
		return -1;
	*colon = '\0';
	*port_r = colon + 1;
	char *host = elem;
	if (host[0] == '[') {
		size_t hl = strlen(host);
		if (hl < 2 || host[hl - 1] != ']')
			return -1;
		host[hl - 1] = '\0';
		host++;
	}
	*host_r = host;
	return 0;
}

static int listen_resolve(const char *text, char *host, const char *port, bool tls,
			  struct listen_addr *out, char **error_r)
{
	char *end;
	long p = strtol(port, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535) {
		*error_r = listen_error("bad port in '%s'%s", text, "");
		return -1;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	const char *node = strcmp(host, "*") == 0 ? "0.0.0.0" : host;
	int r = getaddrinfo(node, port, &hints, &res);
	if (r != 0 || res == NULL) {
		*error_r = listen_error("cannot resolve '%s': %s", text, gai_strerror(r));
		return -1;
	}
	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	out->tls = tls;
	snprintf(out->text, sizeof(out->text), "%s", text);
	freeaddrinfo(res);
	return 0;
}

int listen_addrs_parse(const char *list, bool tls, struct listen_addr **addrs, size_t *n,
		       char **error_r)
{
	char *copy = xstrdup(list);
	char *save = NULL;
	int ret = 0;
	for (char *elem = strtok_r(copy, ", ", &save); elem != NULL;
	     elem = strtok_r(NULL, ", ", &save)) {
		char text[80];
		snprintf(text, sizeof(text), "%s", elem);
		char *host, *port;
		if (listen_split(elem, &host, &port) < 0) {
			*error_r = listen_error("bad listen address '%s'%s", text, "");
			ret = -1;
			break;
		}
		*addrs = xrealloc(*addrs, (*n + 1) * sizeof(**addrs));
		if (listen_resolve(text, host, port, tls, &(*addrs)[*n], error_r) < 0) {
			ret = -1;
			break;
		}
		(*n)++;
	}
	free(copy);
	return ret;
}

int listen_socket_open(const struct listen_addr *a, char **error_r)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = listen_error("socket for %s: %s", a->text, strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		*error_r = listen_error("cannot listen on %s: %s", a->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
