/* log: one structured line per event, key=value, to stderr.
 *
 * Lines are formatted into a local buffer and written with a single
 * write(2) so that lines from different threads never interleave.
 * Format: "2026-11-23T10:00:00.123Z level=info <message>\n". Callers write
 * the message as key=value pairs, e.g. "event=connect sid=%016llx ip=%s".
 * Text that came from a client must go through log_escape(). */
#ifndef ROOST_LIB_LOG_H
#define ROOST_LIB_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug", "info", "warn", "error". Returns 0 or -1. */
int log_level_parse(const char *name, enum log_level *level_r);
const char *log_level_name(enum log_level level);
static inline bool log_enabled(enum log_level level) { return level >= log_get_level(); }

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) do { if (log_enabled(LOG_INFO)) log_write(LOG_INFO, __VA_ARGS__); } while (0)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
/* Logs at error level and exits the process with status 1. */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Writes src as a quoted, escaped value ("..." with \" \\ \xNN for
 * anything outside printable ASCII) into dst of size cap, truncating
 * with "..." inside the quotes if needed. Always NUL-terminates.
 * Returns dst. */
char *log_escape(char *dst, size_t cap, const char *src, size_t len);

#endif
