/* mboxpattern: LIST / LSUB mailbox patterns (RFC 9051 §6.3.9).
 *
 * A pattern is UTF-8 (the caller decodes modified UTF-7 and prepends the
 * reference). "*" matches any run of characters, "%" any run without the
 * hierarchy delimiter '/'. The first level "INBOX" is matched
 * case-insensitively (RFC 9051 §5.1), so "inbox", "Inbox/%" and "in*"
 * all find "INBOX". Matching costs O(pattern x name) at worst; runs of
 * wildcards are collapsed first ("%*" is "*"). */
#ifndef ROOST_IMAP_MBOXPATTERN_H
#define ROOST_IMAP_MBOXPATTERN_H

#include <stdbool.h>
#include <stddef.h>

struct mboxpattern {
	char *pat;       /* collapsed pattern, NUL-terminated (malloc'd) */
	size_t len;
	size_t literals; /* non-wildcard bytes: a shorter name cannot match */
	/* The pattern ends with "%": RFC 9051 §6.3.9 returns the matching
	 * levels of hierarchy too, even when they are not mailboxes. */
	bool trailing_percent;
};

/* Compiles pattern[0..len). Free with mboxpattern_free. */
void mboxpattern_compile(struct mboxpattern *p, const char *pattern, size_t len);
void mboxpattern_free(struct mboxpattern *p);
/* Whether the store name name[0..len) matches. */
bool mboxpattern_match(const struct mboxpattern *p, const char *name, size_t len);

#endif
