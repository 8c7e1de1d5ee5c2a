/* mboxpattern: LIST / LSUB pattern matching (see mboxpattern.h).
 *
 * The matcher keeps the set of name positions reachable after each
 * pattern byte (a dynamic programme over positions) rather than
 * backtracking, so that a hostile pattern like "%*%*%*...a" costs
 * pattern x name steps, never an exponential search. */
#include "imap/mboxpattern.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

void mboxpattern_compile(struct mboxpattern *p, const char *pattern, size_t len)
{
	p->pat = xmalloc(len + 1);
	p->len = 0;
	p->literals = 0;
	for (size_t i = 0; i < len; i++) {
		char c = pattern[i];
		char *last = p->len > 0 ? &p->pat[p->len - 1] : NULL;
		if ((c == '*' || c == '%') && last != NULL && (*last == '*' || *last == '%')) {
			/* "%*", "*%" and "**" are "*"; "%%" is "%". */
			if (c == '*')
				*last = '*';
			continue;
		}
		if (c != '*' && c != '%')
			p->literals++;
		p->pat[p->len++] = c;
	}
	p->pat[p->len] = '\0';
	p->trailing_percent = p->len > 0 && p->pat[p->len - 1] == '%';
}

void mboxpattern_free(struct mboxpattern *p)
{
	free(p->pat);
	p->pat = NULL;
	p->len = 0;
}

static unsigned char mboxpattern_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* One literal pattern byte: reach[i+1] = reach[i] && name[i] matches. The
 * first ci bytes of the name compare case-insensitively (INBOX). */
static void mboxpattern_step_literal(uint8_t *reach, const char *name, size_t len, size_t ci,
				     unsigned char pc)
{
	for (size_t i = len; i > 0; i--) {
		unsigned char c = (unsigned char)name[i - 1];
		bool eq = i - 1 < ci ? mboxpattern_lower(c) == mboxpattern_lower(pc) : c == pc;
		reach[i] = reach[i - 1] && eq;
	}
	reach[0] = 0;
}

/* "%": from a reachable position, every later one up to the next '/'. */
static void mboxpattern_step_percent(uint8_t *reach, const char *name, size_t len)
{
	bool carry = false;
	for (size_t i = 0; i <= len; i++) {
		carry = carry || reach[i];
		reach[i] = carry;
		if (i < len && name[i] == '/')
			carry = false;
	}
}

/* "*": every position from the first reachable one. */
static void mboxpattern_step_star(uint8_t *reach, size_t len)
{
	size_t i = 0;
	while (i <= len && !reach[i])
		i++;
	for (; i <= len; i++)
		reach[i] = 1;
}

/* RFC 9051 §5.1: INBOX is case-insensitive. The store spells it "INBOX",
 * so only the first five bytes of names in its hierarchy need folding. */
static size_t mboxpattern_inbox_prefix(const char *name, size_t len)
{
	if (len >= 5 && memcmp(name, "INBOX", 5) == 0 && (len == 5 || name[5] == '/'))
		return 5;
	return 0;
}

bool mboxpattern_match(const struct mboxpattern *p, const char *name, size_t len)
{
	if (p->literals > len)
		return false;
	size_t ci = mboxpattern_inbox_prefix(name, len);
	uint8_t small[1024];
	uint8_t *reach = len + 1 <= sizeof(small) ? small : xmalloc(len + 1);
	memset(reach, 0, len + 1);
	reach[0] = 1;
	bool any = true;
	for (size_t k = 0; k < p->len && any; k++) {
		char pc = p->pat[k];
		if (pc == '*')
			mboxpattern_step_star(reach, len);
		else if (pc == '%')
			mboxpattern_step_percent(reach, name, len);
		else
			mboxpattern_step_literal(reach, name, len, ci, (unsigned char)pc);
		any = memchr(reach, 1, len + 1) != NULL;
	}
	bool match = any && reach[len];
	if (reach != small)
		free(reach);
	return match;
}
