/* listener: listening sockets from "addr:port" lists.
 *
 * Syntax of a list: comma-separated elements, each "IPv4:port",
 * "[IPv6]:port", "*:port" (all IPv4 addresses) or "host:port" (resolved
 * once at start). One socket per address is shared by every network
 * thread, each registering it with EPOLLEXCLUSIVE so a new connection
 * wakes one thread. (SO_REUSEPORT per thread was rejected: it lets a second
 * server, or a stale one, silently share the port instead of failing to
 * bind.) IPv6 sockets are IPV6_V6ONLY so
 * that "[::]" and "*" can be listed side by side.
 *
 * A unix-domain listener (listen_addr_unix) binds a socket file: a stale
 * file left by a server that died is removed first (only when nothing
 * answers on it, so a running server's socket is never stolen), the file
 * gets the configured mode, and listen_socket_remove() unlinks it at
 * shutdown. */
#ifndef ROOST_NET_LISTENER_H
#define ROOST_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[80]; /* as configured, for logs */
	bool tls;      /* implicit TLS (imaps) */
	unsigned mode; /* AF_UNIX: permission bits of the socket file */
	unsigned group; /* which protocol serves it (the server's numbering) */
};

/* Parses list and appends its addresses to *addrs (malloc'd array of *n).
 * Returns 0, or -1 with a malloc'd message in *error_r. */
int listen_addrs_parse(const char *list, bool tls, struct listen_addr **addrs, size_t *n,
		       char **error_r);

/* Appends a unix-domain socket at path with permission bits mode.
 * Returns 0, or -1 with a malloc'd message (path too long). */
int listen_addr_unix(const char *path, unsigned mode, struct listen_addr **addrs, size_t *n,
		     char **error_r);

/* Opens a non-blocking listening socket for a. Returns the fd, or -1 with
 * a malloc'd message in *error_r. */
int listen_socket_open(const struct listen_addr *a, char **error_r);

/* Removes a unix-domain listener's socket file (nothing for TCP); call
 * after closing its fd. Best effort. */
void listen_socket_remove(const struct listen_addr *a);

#endif
