/* mime_filter: HEADER.FIELDS and HEADER.FIELDS.NOT (RFC 9051 §6.4.5).
 *
 * Field names compare case-insensitively; a selected field is copied with
 * its continuation lines exactly as stored; lines that are not fields
 * (no colon) are never copied; the result always ends with the blank line
 * that terminates a header. */
#include <string.h>
#include <strings.h>

#include "mail/mime_internal.h"

static bool mime_filter_match(const char *line, size_t len, const char *const *names, size_t n)
{
	const char *colon = memchr(line, ':', len);
	if (colon == NULL)
		return false;
	size_t nl = (size_t)(colon - line);
	while (nl > 0 && (line[nl - 1] == ' ' || line[nl - 1] == '\t'))
		nl--;
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == nl && strncasecmp(names[i], line, nl) == 0)
			return true;
	return false;
}

void mime_header_filter(const char *hdr, size_t len, const char *const *names, size_t n,
			bool exclude, struct buf *out)
{
	bool keep = false;
	for (size_t i = 0; i < len;) {
		const char *line = hdr + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t ll = nl != NULL ? (size_t)(nl - line) + 1 : len - i;
		i += ll;
		if (ll == 1 || (ll == 2 && line[0] == '\r' && line[1] == '\n'))
			break;
		if (line[0] != ' ' && line[0] != '\t') {
			bool field = memchr(line, ':', ll) != NULL;
			keep = field && mime_filter_match(line, ll, names, n) != exclude;
		}
		if (!keep)
			continue;
		buf_append(out, line, ll);
		if (nl == NULL)
			buf_append(out, "\r\n", 2);
	}
	buf_append(out, "\r\n", 2);
}
