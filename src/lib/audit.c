/* audit: JSON Lines audit log (see audit.h).
 *
 * Invariant: audit_fd is only replaced under audit_lock, and every write
 * happens under it, so a reopen never closes a descriptor a writer is
 * using. */
#include "lib/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;
static int audit_fd = -1;
static char *audit_path;

static int audit_open_fd(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

int audit_open(const char *path)
{
	return audit_reopen(path);
}

int audit_reopen(const char *path)
{
	pthread_mutex_lock(&audit_lock);
	const char *want = path != NULL ? path : audit_path;
	int fd = want != NULL ? audit_open_fd(want) : -1;
	if (fd < 0) {
		int err = want != NULL ? errno : ENOENT;
		pthread_mutex_unlock(&audit_lock);
		errno = err;
		return -1;
	}
	if (audit_fd >= 0)
		close(audit_fd);
	audit_fd = fd;
	if (want != audit_path) {
		free(audit_path);
		audit_path = xstrdup(want);
	}
	pthread_mutex_unlock(&audit_lock);
	return 0;
}

void audit_close(void)
{
	pthread_mutex_lock(&audit_lock);
	if (audit_fd >= 0)
		close(audit_fd);
	audit_fd = -1;
	free(audit_path);
	audit_path = NULL;
	pthread_mutex_unlock(&audit_lock);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it
 * is not one (RFC 3629 §4: no overlongs, no surrogates, max U+10FFFF). */
static size_t audit_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void audit_json_string(struct buf *out, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	buf_append(out, "\"", 1);
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			buf_append(out, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			/* RFC 8259 §7: control characters must be escaped; DEL
			 * may be, and is, so log viewers show it. */
			buf_printf(out, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			buf_append(out, &s[i], 1);
			i++;
		} else {
			size_t n = audit_utf8_len(s + i, len - i);
			if (n == 0) {
				buf_append_str(out, "\xef\xbf\xbd"); /* U+FFFD */
				i++;
			} else {
				buf_append(out, &s[i], n);
				i += n;
			}
		}
	}
	buf_append(out, "\"", 1);
}

static void audit_field(struct buf *out, const char *key, const char *value)
{
	if (value == NULL)
		return;
	buf_printf(out, ",\"%s\":", key);
	audit_json_string(out, value, strlen(value));
}

void audit_format(struct buf *out, const struct audit_event *ev, uint64_t ts_ms)
{
	time_t secs = (time_t)(ts_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char ts[40];
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(out, "{\"ts\":\"%s.%03uZ\"", ts, (unsigned)(ts_ms % 1000));
	audit_field(out, "event", ev->event);
	buf_printf(out, ",\"sid\":\"%016llx\"", (unsigned long long)ev->sid);
	audit_field(out, "user", ev->user);
	audit_field(out, "ip", ev->ip);
	audit_field(out, "mailbox", ev->mailbox);
	audit_field(out, "to", ev->to);
	if (ev->count >= 0)
		buf_printf(out, ",\"count\":%lld", ev->count);
	buf_append_str(out, "}\n");
}

void audit_write(const struct audit_event *ev)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct buf line = {0};
	audit_format(&line, ev, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
	pthread_mutex_lock(&audit_lock);
	if (audit_fd >= 0) {
		ssize_t n = write(audit_fd, buf_rdata(&line), buf_rlen(&line));
		if (n != (ssize_t)buf_rlen(&line))
			log_warn("event=audit_error error=\"%s\"",
				 n < 0 ? strerror(errno) : "short write");
	}
	pthread_mutex_unlock(&audit_lock);
	buf_release(&line);
}
