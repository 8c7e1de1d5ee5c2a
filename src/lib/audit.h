/* audit: the audit log, one JSON object per line (JSON Lines), of the
 * events an operator must be able to reconstruct: logins, failed logins,
 * DELETE, RENAME, EXPUNGE and MOVE.
 *
 *   {"ts":"2026-11-23T10:00:00.123Z","event":"expunge","sid":"...",
 *    "user":"alice","ip":"127.0.0.1","mailbox":"INBOX","count":3}
 *
 * Process-wide, like lib/log: audit_open() once at start, audit_reopen()
 * on SIGHUP (after logrotate moved the file), audit_write() from any
 * thread. Each line is built in memory and written with a single write(2)
 * on an O_APPEND descriptor, under a mutex, so lines never interleave or
 * tear. Strings are escaped exactly per RFC 8259 §7 (quote, backslash,
 * control characters as \u00XX) and invalid UTF-8 is replaced by U+FFFD,
 * so every line is valid JSON whatever a client sent. Callers pass names
 * and counts only: never passwords or message content. */
#ifndef ROOST_LIB_AUDIT_H
#define ROOST_LIB_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* One event. Strings may be NULL (the key is left out); count < 0 leaves
 * "count" out. */
struct audit_event {
	const char *event; /* "login", "login_failed", "delete", "rename", "expunge", "move" */
	uint64_t sid;
	const char *user;
	const char *ip;
	const char *mailbox;
	const char *to; /* RENAME's new name, MOVE's destination */
	long long count;
};

/* Opens (creates, mode 0600) path for appending and makes it the audit
 * log. Returns 0, or -1 with errno set (the previous file stays). */
int audit_open(const char *path);
/* Reopens under path (NULL: the current path), for SIGHUP. Returns 0 or
 * -1 with errno set; on failure the old descriptor stays in use. */
int audit_reopen(const char *path);
void audit_close(void);
/* Appends one line; does nothing when no audit log is open. */
void audit_write(const struct audit_event *ev);

/* Appends src[0..len) to out as a JSON string with its quotes. */
void audit_json_string(struct buf *out, const char *src, size_t len);
/* Appends the line for ev (with its newline) to out; ts_ms is the wall
 * time in milliseconds since the epoch. */
void audit_format(struct buf *out, const struct audit_event *ev, uint64_t ts_ms);

#endif
