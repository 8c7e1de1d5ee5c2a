/* listener: address parsing and listening sockets (see listener.h). */
#include "net/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
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

int listen_addr_unix(const char *path, unsigned mode, struct listen_addr **addrs, size_t *n,
		     char **error_r)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(sun.sun_path)) {
		*error_r = listen_error("unix socket path too long or empty: '%s'%s", path, "");
		return -1;
	}
	memcpy(sun.sun_path, path, len + 1);
	*addrs = xrealloc(*addrs, (*n + 1) * sizeof(**addrs));
	struct listen_addr *a = &(*addrs)[*n];
	memset(a, 0, sizeof(*a));
	memcpy(&a->ss, &sun, sizeof(sun));
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	a->mode = mode;
	snprintf(a->text, sizeof(a->text), "%s", path);
	(*n)++;
	return 0;
}

/* A socket file at the path of a: removed when it is a socket nobody
 * accepts on (a server that died without cleaning up); refused when a
 * live server answers, or when it is not a socket at all. */
static int listen_unix_clear(const struct listen_addr *a, char **error_r)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
	struct stat st;
	if (lstat(sun->sun_path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		*error_r = listen_error("%s exists and is not a socket%s", a->text, "");
		return -1;
	}
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (const struct sockaddr *)&a->ss, a->len) == 0) {
		close(probe);
		*error_r = listen_error("%s is in use by a running server%s", a->text, "");
		return -1;
	}
	if (probe >= 0)
		close(probe);
	unlink(sun->sun_path);
	return 0;
}

void listen_socket_remove(const struct listen_addr *a)
{
	if (a->ss.ss_family == AF_UNIX)
		unlink(((const struct sockaddr_un *)&a->ss)->sun_path);
}

/* bind() and, for a unix socket, the file's mode: chmod after bind, with
 * the socket not yet listening, so no client connects under the umask's
 * mode. */
static int listen_bind(int fd, const struct listen_addr *a, char **error_r)
{
	if (a->ss.ss_family == AF_UNIX && listen_unix_clear(a, error_r) < 0)
		return -1;
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		goto fail;
	if (a->ss.ss_family == AF_UNIX &&
	    chmod(((const struct sockaddr_un *)&a->ss)->sun_path, a->mode) < 0)
		goto fail;
	return 0;
fail:
	*error_r = listen_error("cannot listen on %s: %s", a->text, strerror(errno));
	return -1;
}

int listen_socket_open(const struct listen_addr *a, char **error_r)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = listen_error("socket for %s: %s", a->text, strerror(errno));
		return -1;
	}
	int one = 1;
	if (a->ss.ss_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (listen_bind(fd, a, error_r) < 0) {
		close(fd);
		return -1;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		*error_r = listen_error("cannot listen on %s: %s", a->text, strerror(errno));
		close(fd);
		listen_socket_remove(a);
		return -1;
	}
	return fd;
}
