/* import_dovecot: parsers for Dovecot's Maildir metadata files (formats in
 * import_dovecot.h). Everything is parsed from an in-memory copy of the
 * file; a line that cannot be understood is skipped rather than guessed
 * at, since a wrong UID would be worse than a fresh one (the importer
 * gives files without a listed UID new UIDs above Dovecot's next UID). */
#include "cli/import_dovecot.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "store/store.h"

/* Splits data into lines: *line_r / *len_r get the next one (without its
 * '\n'); returns false at the end. *pos advances. */
static bool import_dovecot_line(const char *data, size_t len, size_t *pos, const char **line_r,
                                size_t *len_r)
{
	if (*pos >= len)
		return false;
	const char *start = data + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	size_t n = nl != NULL ? (size_t)(nl - start) : len - *pos;
	*line_r = start;
	*len_r = n;
	*pos += n + (nl != NULL ? 1 : 0);
	return true;
}

/* Parses a decimal number at *p (at most end); 0 when none or too big. */
static uint32_t import_dovecot_num(const char **p, const char *end)
{
	unsigned long long v = 0;
	const char *s = *p;
	while (s < end && *s >= '0' && *s <= '9' && v <= UINT32_MAX)
		v = v * 10 + (unsigned)(*s++ - '0');
	if (s == *p || v >= UINT32_MAX)
		return 0;
	*p = s;
	return (uint32_t)v;
}

/* "3 V<uidvalidity> N<nextuid> G<guid> ..." or "1 <uidvalidity> <nextuid>". */
static int import_dovecot_uidlist_header(const char *line, size_t len, unsigned *version_r,
                                         struct import_dovecot_uidlist *l, const char **error_r)
{
	const char *p = line, *end = line + len;
	*version_r = import_dovecot_num(&p, end);
	if (*version_r == 1) {
		p += p < end && *p == ' ';
		l->uidvalidity = import_dovecot_num(&p, end);
		p += p < end && *p == ' ';
		l->nextuid = import_dovecot_num(&p, end);
		return 0;
	}
	if (*version_r != 3) {
		*error_r = "unknown dovecot-uidlist version (1 and 3 are known)";
		return -1;
	}
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p + 1 < end && (*p == 'V' || *p == 'N')) {
			char key = *p++;
			uint32_t v = import_dovecot_num(&p, end);
			if (key == 'V')
				l->uidvalidity = v;
			else
				l->nextuid = v;
		}
		while (p < end && *p != ' ')
			p++;
	}
	return 0;
}

static void import_dovecot_uid_add(struct import_dovecot_uidlist *l, size_t *cap, uint32_t uid,
                                   const char *name, size_t len)
{
	size_t base = 0;
	while (base < len && name[base] != ':')
		base++;
	if (base == 0)
		return;
	if (l->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		l->v = xrealloc(l->v, *cap * sizeof(*l->v));
	}
	l->v[l->n].uid = uid;
	l->v[l->n].base = xstrndup(name, base);
	l->n++;
	if (uid >= l->nextuid)
		l->nextuid = uid + 1;
}

/* One record: "<uid> [<ext>...] :<name>" (version 3; extensions are a
 * letter and a value, and never start with ':') or "<uid> <name>". */
static void import_dovecot_uidlist_record(const char *line, size_t len, unsigned version,
                                          struct import_dovecot_uidlist *l, size_t *cap)
{
	const char *p = line, *end = line + len;
	uint32_t uid = import_dovecot_num(&p, end);
	if (uid == 0 || p >= end || *p != ' ')
		return;
	if (version == 1) {
		p++;
		import_dovecot_uid_add(l, cap, uid, p, (size_t)(end - p));
		return;
	}
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p < end && *p == ':') {
			p++;
			import_dovecot_uid_add(l, cap, uid, p, (size_t)(end - p));
			return;
		}
		while (p < end && *p != ' ')
			p++;
	}
}

static int import_dovecot_uid_cmp(const void *a, const void *b)
{
	const struct import_dovecot_uid *x = a, *y = b;
	int c = strcmp(x->base, y->base);
	if (c != 0)
		return c;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

int import_dovecot_uidlist_parse(const char *data, size_t len, struct import_dovecot_uidlist *l_r,
                                 const char **error_r)
{
	memset(l_r, 0, sizeof(*l_r));
	size_t pos = 0, n, cap = 0;
	const char *line;
	unsigned version = 0;
	if (!import_dovecot_line(data, len, &pos, &line, &n)) {
		*error_r = "empty dovecot-uidlist";
		return -1;
	}
	if (import_dovecot_uidlist_header(line, n, &version, l_r, error_r) < 0)
		return -1;
	while (import_dovecot_line(data, len, &pos, &line, &n))
		import_dovecot_uidlist_record(line, n, version, l_r, &cap);
	if (l_r->n > 1)
		qsort(l_r->v, l_r->n, sizeof(*l_r->v), import_dovecot_uid_cmp);
	return 0;
}

void import_dovecot_uidlist_free(struct import_dovecot_uidlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].base);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

uint32_t import_dovecot_uidlist_find(const struct import_dovecot_uidlist *l, const char *name)
{
	size_t base = strcspn(name, ":");
	size_t lo = 0, hi = l->n;
	/* Lower bound of the base name: the first (lowest) UID of equal names. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *b = l->v[mid].base;
		int c = strncmp(b, name, base);
		if (c == 0 && b[base] != '\0')
			c = 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < l->n && strncmp(l->v[lo].base, name, base) == 0 && l->v[lo].base[base] == '\0')
		return l->v[lo].uid;
	return 0;
}

/* RFC 9051 §9 flag-keyword = atom: no atom-specials, not empty. */
static bool import_dovecot_atom(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

void import_dovecot_keywords_parse(const char *data, size_t len,
                                   char *names[IMPORT_DOVECOT_KEYWORDS])
{
	memset(names, 0, IMPORT_DOVECOT_KEYWORDS * sizeof(char *));
	size_t pos = 0, n;
	const char *line;
	while (import_dovecot_line(data, len, &pos, &line, &n)) {
		const char *p = line, *end = line + n;
		unsigned long idx = 0;
		while (p < end && *p >= '0' && *p <= '9' && idx < IMPORT_DOVECOT_KEYWORDS)
			idx = idx * 10 + (unsigned long)(*p++ - '0');
		if (p == line || p >= end || *p != ' ' || idx >= IMPORT_DOVECOT_KEYWORDS)
			continue;
		p++;
		size_t klen = (size_t)(end - p);
		if (klen > 0 && p[klen - 1] == '\r')
			klen--;
		if (!import_dovecot_atom(p, klen))
			continue;
		free(names[idx]);
		names[idx] = xstrndup(p, klen);
	}
}

void import_dovecot_keywords_free(char *names[IMPORT_DOVECOT_KEYWORDS])
{
	for (size_t i = 0; i < IMPORT_DOVECOT_KEYWORDS; i++) {
		free(names[i]);
		names[i] = NULL;
	}
}

struct import_dovecot_info_ctx {
	char *const *names;
	struct buf *out;
};

/* Appends the name of keyword letter `index`; letters without one are
 * ignored. */
static void import_dovecot_info_keyword(void *ctx, unsigned index)
{
	struct import_dovecot_info_ctx *c = ctx;
	if (c->names[index] == NULL)
		return;
	if (buf_rlen(c->out) > 0)
		buf_append(c->out, " ", 1);
	buf_append_str(c->out, c->names[index]);
}

uint32_t import_dovecot_info(const char *name, char *const names[IMPORT_DOVECOT_KEYWORDS],
                             struct buf *keywords_out)
{
	struct import_dovecot_info_ctx c = {.names = names, .out = keywords_out};
	return store_maildir_info_parse(name, import_dovecot_info_keyword, &c);
}

/* Dovecot's tab-escaping of one level: \001 followed by 1, t, r, n or 0
 * stands for \001, tab, CR, LF or NUL (NUL cannot be in a name: dropped). */
static void import_dovecot_tabunescape(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\001' || i + 1 == len) {
			buf_append(out, s + i, 1);
			continue;
		}
		char c = s[++i];
		char v = c == '1'   ? '\001'
		         : c == 't' ? '\t'
		         : c == 'r' ? '\r'
		         : c == 'n' ? '\n'
		                    : 0;
		if (v != 0)
			buf_append(out, &v, 1);
	}
}

static void import_dovecot_names_add(char ***v, size_t *n, struct buf *name)
{
	if (buf_rlen(name) == 0)
		return;
	*v = xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = xstrdup(buf_rdata(name));
}

void import_dovecot_subscriptions_parse(const char *data, size_t len, char ***names_r, size_t *n_r)
{
	static const char v2[] = "V\t2\n\n";
	bool tabbed = len >= sizeof(v2) - 1 && memcmp(data, v2, sizeof(v2) - 1) == 0;
	size_t pos = tabbed ? sizeof(v2) - 1 : 0, n;
	const char *line;
	struct buf name = {0};
	*names_r = NULL;
	*n_r = 0;
	while (import_dovecot_line(data, len, &pos, &line, &n)) {
		name.len = name.rpos = 0;
		if (name.data != NULL)
			name.data[0] = '\0';
		for (size_t i = 0; i < n; i++) {
			char c = line[i];
			if (tabbed && c == '\t') {
				buf_append(&name, "/", 1);
			} else if (tabbed) {
				size_t end = i;
				while (end < n && line[end] != '\t')
					end++;
				import_dovecot_tabunescape(&name, line + i, end - i);
				i = end - 1;
			} else {
				buf_append(&name, c == '.' ? "/" : &c, 1);
			}
		}
		import_dovecot_names_add(names_r, n_r, &name);
	}
	buf_release(&name);
}

void import_dovecot_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

char *import_dovecot_dir_name(const char *dir)
{
	if (dir[0] != '.' || dir[1] == '\0' || strcmp(dir, "..") == 0)
		return NULL;
	char *name = xstrdup(dir + 1);
	size_t level = 0; /* bytes in the current level */
	for (char *p = name; *p != '\0'; p++) {
		if (*p != '.') {
			level++;
			continue;
		}
		if (level == 0)
			break;
		*p = '/';
		level = 0;
	}
	if (level == 0) {
		free(name);
		return NULL;
	}
	return name;
}
