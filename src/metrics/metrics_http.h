/* metrics_http: the HTTP/1.1 endpoint that serves GET /metrics in the
 * Prometheus text exposition format 0.0.4.
 *
 * One small thread of its own (see metrics_http.c for why) accepts on the
 * configured addresses, reads one request per connection (at most
 * METRICS_HTTP_MAX_REQUEST bytes of request line and headers), answers it
 * and closes (Connection: close). GET and HEAD of /metrics get 200 with
 * the exposition; any other path 404; any other method 405; a malformed
 * or oversized request 400 / 431. A connection that has not been answered
 * and flushed within the timeout is closed. */
#ifndef ROOST_METRICS_METRICS_HTTP_H
#define ROOST_METRICS_METRICS_HTTP_H

#include <stddef.h>

#include "lib/buf.h"

#define METRICS_HTTP_MAX_REQUEST 8192
#define METRICS_HTTP_MAX_CLIENTS 16
#define METRICS_HTTP_MAX_LISTEN  8

struct metrics_http;

/* Binds every address of listen ("addr:port" list: IPv4:port,
 * [IPv6]:port, *:port or host:port, comma-separated) and starts the
 * serving thread. timeout_ms bounds each connection (0: 10 s). Returns
 * NULL with a malloc'd message in *error_r when an address does not parse
 * or bind. An empty list is not an error: it returns NULL with *error_r
 * NULL (metrics off). */
struct metrics_http *metrics_http_start(const char *listen, unsigned timeout_ms, char **error_r);
/* Stops the thread, closes every socket and frees; *http becomes NULL.
 * NULL is a no-op. */
void metrics_http_stop(struct metrics_http **http);

/* Answers one complete request (request line and headers in req[0..len),
 * ending with an empty line): appends the whole HTTP response to out.
 * Exposed for unit tests. */
void metrics_http_respond(const char *req, size_t len, struct buf *out);

#endif
