/* passdb: the passwd-file, loaded into an immutable hash table, and the
 * CLI's atomic editor for it.
 *
 * Loading reads the whole file into one buffer and cuts it in place: the
 * ':' after each user name and the end of each password field become NULs,
 * so every entry's strings point into that buffer and a passdb is three
 * allocations however many users it holds. The table is open addressing
 * with linear probing, sized once from the line count to at least twice
 * the number of entries, so probes stay short and it never rehashes.
 *
 * Invariants:
 *   - After passdb_load() returns, nothing in a passdb is written again
 *     except the refcount, so any number of threads may look up while
 *     they hold a reference.
 *   - The editor validates the file with the loader's own code before
 *     touching it, so the CLI refuses to rewrite a file the server would
 *     refuse to load, with the same "path:line: reason" message.
 *   - Editing never modifies the file in place: the new content goes to a
 *     temporary file in the same directory that is renamed over it, so a
 *     reader (the server on SIGHUP) sees either the old or the new file.
 *     Editors are serialised with flock() on the directory, which (unlike
 *     a lock on the file) survives the rename and needs no lock file. */
#include "auth/passdb.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

#define PASSDB_USER_MAX 255

struct passdb_entry {
	const char *user; /* NUL-terminated, inside passdb.data */
	const char *hash; /* NUL-terminated, inside passdb.data */
	const char *extra; /* the extra fields (8th field on), "" when none */
	uint32_t hashval;
	unsigned line; /* for "duplicate user" messages */
};

struct passdb {
	atomic_uint refcount;
	char *data; /* the file's bytes, field ends overwritten with NUL */
	size_t data_size;
	struct passdb_entry *entries;
	size_t n_entries;
	uint32_t *slots;  /* entry index + 1; 0 = empty */
	size_t slot_mask; /* number of slots - 1 (a power of two) */
};

/* One parsed line; slices into the line, not NUL-terminated. */
struct passdb_line {
	const char *user;
	size_t user_len;
	const char *hash;
	size_t hash_len;
	const char *rest; /* ":uid:gid:..." kept verbatim, or empty */
	size_t rest_len;
};

/* The contract allows static or thread-local storage for messages;
 * thread-local keeps concurrent callers (tests, a reload racing the CLI
 * code in one process) from overwriting each other's text. */
static _Thread_local char passdb_errbuf[PATH_MAX + 256];

__attribute__((format(printf, 2, 3))) static void passdb_error(const char **error_r,
                                                               const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(passdb_errbuf, sizeof(passdb_errbuf), fmt, ap);
	va_end(ap);
	*error_r = passdb_errbuf;
}

/* FNV-1a: short keys, no adversary (the file is the admin's), fast. */
static uint32_t passdb_hash_name(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Control characters (including DEL), space and ':' are excluded; bytes
 * >= 0x80 are allowed so that UTF-8 names work. */
static bool passdb_name_char_ok(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != ':';
}

static bool passdb_name_valid_n(const char *name, size_t len)
{
	if (len == 0 || len > PASSDB_USER_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!passdb_name_char_ok((unsigned char)name[i]))
			return false;
	}
	return true;
}

bool passdb_user_name_valid(const char *name)
{
	return passdb_name_valid_n(name, strlen(name));
}

/* The password field may hold any printable byte but ':' (which ends it). */
static bool passdb_hash_valid_n(const char *hash, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)hash[i];
		if (c < 0x20 || c == 0x7f || c == ':')
			return false;
	}
	return true;
}

static bool passdb_line_ignored(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i == len || line[i] == '#';
}

/* Parses one line (without its '\n'). Returns 1 for a user entry, 0 for
 * a blank or comment line, -1 with *reason_r for a bad line. */
static int passdb_parse_line(const char *line, size_t len, struct passdb_line *l,
                             const char **reason_r)
{
	if (passdb_line_ignored(line, len))
		return 0;
	if (memchr(line, '\0', len) != NULL) {
		*reason_r = "NUL byte in line";
		return -1;
	}
	const char *colon = memchr(line, ':', len);
	if (colon == NULL) {
		*reason_r = "missing ':' after user name";
		return -1;
	}
	l->user = line;
	l->user_len = (size_t)(colon - line);
	if (l->user_len == 0) {
		*reason_r = "empty user name";
		return -1;
	}
	if (!passdb_name_valid_n(l->user, l->user_len)) {
		*reason_r = "invalid user name (control character, space or over 255 bytes)";
		return -1;
	}
	l->hash = colon + 1;
	const char *end = line + len;
	const char *next = memchr(l->hash, ':', (size_t)(end - l->hash));
	l->hash_len = (size_t)((next != NULL ? next : end) - l->hash);
	l->rest = l->hash + l->hash_len;
	l->rest_len = (size_t)(end - l->rest);
	if (!passdb_hash_valid_n(l->hash, l->hash_len)) {
		*reason_r = "control character in password field";
		return -1;
	}
	return 1;
}

/* Iterates over data[0..size): the next line starts at *pos. Returns false
 * at the end. *len_r excludes the '\n'; *pos moves past it. */
static bool passdb_next_line(const char *data, size_t size, size_t *pos, const char **line_r,
                             size_t *len_r)
{
	if (*pos >= size)
		return false;
	const char *line = data + *pos;
	const char *nl = memchr(line, '\n', size - *pos);
	size_t len = nl != NULL ? (size_t)(nl - line) : size - *pos;
	*line_r = line;
	*len_r = len;
	*pos += len + (nl != NULL);
	return true;
}

/* Reads all of fd into a malloc'd buffer with one spare byte (for a NUL). */
static int passdb_read_fd(int fd, const char *path, char **data_r, size_t *size_r,
                          const char **error_r)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		passdb_error(error_r, "%s: fstat: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		passdb_error(error_r, "%s: not a regular file", path);
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1, size = 0;
	char *data = xmalloc(cap);
	for (;;) {
		if (size + 1 >= cap) {
			cap *= 2;
			data = xrealloc(data, cap);
		}
		ssize_t n = read(fd, data + size, cap - size - 1);
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			passdb_error(error_r, "%s: read: %s", path, strerror(errno));
			free(data);
			return -1;
		}
		size += (size_t)n;
	}
	data[size] = '\0';
	*data_r = data;
	*size_r = size;
	return 0;
}

static int passdb_read_file(const char *path, char **data_r, size_t *size_r, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		passdb_error(error_r, "%s: %s", path, strerror(errno));
		return -1;
	}
	int ret = passdb_read_fd(fd, path, data_r, size_r, error_r);
	close(fd);
	return ret;
}

static size_t passdb_count_lines(const char *data, size_t size)
{
	size_t n = 1;
	for (const char *p = data; (p = memchr(p, '\n', size - (size_t)(p - data))) != NULL; p++)
		n++;
	return n;
}

static struct passdb *passdb_alloc(char *data, size_t size)
{
	size_t max_entries = passdb_count_lines(data, size);
	size_t n_slots = 16;
	while (n_slots < max_entries * 2)
		n_slots *= 2;
	struct passdb *db = xcalloc(1, sizeof(*db));
	atomic_init(&db->refcount, 1);
	db->data = data;
	db->data_size = size;
	db->entries = xcalloc(max_entries, sizeof(*db->entries));
	db->slots = xcalloc(n_slots, sizeof(*db->slots));
	db->slot_mask = n_slots - 1;
	return db;
}

static const struct passdb_entry *passdb_find(const struct passdb *db, const char *user,
                                              uint32_t hashval)
{
	for (size_t i = hashval & db->slot_mask; db->slots[i] != 0; i = (i + 1) & db->slot_mask) {
		const struct passdb_entry *e = &db->entries[db->slots[i] - 1];
		if (e->hashval == hashval && strcmp(e->user, user) == 0)
			return e;
	}
	return NULL;
}

/* The extra fields of a line whose fields are already cut: the text
 * after the 6th ':' of ":uid:gid:gecos:home:shell:extra" (the extra
 * fields may contain ':' themselves, e.g. "userdb_quota_rule=*:storage=1G"),
 * without a trailing CR; "" when the line has none. */
static const char *passdb_extra_field(const struct passdb_line *l)
{
	if (l->rest_len == 0)
		return "";
	char *p = (char *)l->rest + 1, *end = (char *)l->rest + l->rest_len;
	for (int colons = 1; colons < 6; colons++) {
		p = memchr(p, ':', (size_t)(end - p));
		if (p == NULL)
			return "";
		p++;
	}
	if (end > p && end[-1] == '\r')
		end--;
	*end = '\0';
	return p;
}

/* Adds the parsed line l (its strings already NUL-terminated in place).
 * Returns the line of an earlier entry for the same user, or 0. */
static unsigned passdb_insert(struct passdb *db, const struct passdb_line *l, unsigned line)
{
	uint32_t hashval = passdb_hash_name(l->user, l->user_len);
	const struct passdb_entry *dup = passdb_find(db, l->user, hashval);
	if (dup != NULL)
		return dup->line;
	size_t i = hashval & db->slot_mask;
	while (db->slots[i] != 0)
		i = (i + 1) & db->slot_mask;
	struct passdb_entry *e = &db->entries[db->n_entries++];
	e->user = l->user;
	e->hash = l->hash;
	e->extra = passdb_extra_field(l);
	e->hashval = hashval;
	e->line = line;
	db->slots[i] = (uint32_t)db->n_entries;
	return 0;
}

static void passdb_free(struct passdb *db)
{
	free(db->slots);
	free(db->entries);
	/* PLAIN-scheme files hold cleartext passwords */
	explicit_bzero(db->data, db->data_size);
	free(db->data);
	free(db);
}

static int passdb_fill(struct passdb *db, const char *path, size_t size, const char **error_r)
{
	size_t pos = 0, len;
	const char *line;
	const char *reason;
	struct passdb_line l;
	for (unsigned lineno = 1; passdb_next_line(db->data, size, &pos, &line, &len); lineno++) {
		int r = passdb_parse_line(line, len, &l, &reason);
		if (r < 0) {
			passdb_error(error_r, "%s:%u: %s", path, lineno, reason);
			return -1;
		}
		if (r == 0)
			continue;
		/* Cut in place: the user ends at its ':', the hash at the next
		 * ':' or the line's end (its '\n' or the spare byte). */
		((char *)l.user)[l.user_len] = '\0';
		((char *)l.hash)[l.hash_len] = '\0';
		unsigned first = passdb_insert(db, &l, lineno);
		if (first != 0) {
			passdb_error(error_r, "%s:%u: duplicate user '%s' (first on line %u)", path,
			             lineno, l.user, first);
			return -1;
		}
	}
	return 0;
}

struct passdb *passdb_load(const char *path, const char **error_r)
{
	char *data;
	size_t size;
	if (passdb_read_file(path, &data, &size, error_r) < 0)
		return NULL;
	struct passdb *db = passdb_alloc(data, size);
	if (passdb_fill(db, path, size, error_r) < 0) {
		passdb_free(db);
		return NULL;
	}
	return db;
}

void passdb_ref(struct passdb *db)
{
	atomic_fetch_add_explicit(&db->refcount, 1, memory_order_relaxed);
}

void passdb_unref(struct passdb **dbp)
{
	struct passdb *db = *dbp;
	if (db == NULL)
		return;
	*dbp = NULL;
	/* acq_rel: the last owner must see every other owner's accesses
	 * finished before it frees. */
	if (atomic_fetch_sub_explicit(&db->refcount, 1, memory_order_acq_rel) == 1)
		passdb_free(db);
}

const char *passdb_lookup(const struct passdb *db, const char *user)
{
	const struct passdb_entry *e = passdb_find(db, user, passdb_hash_name(user, strlen(user)));
	return e != NULL ? e->hash : NULL;
}

/* Parses a Dovecot quota limit: digits with an optional b/k/m/g/t suffix
 * (powers of 1024), unit_default applied without one; "none" and
 * "unlimited" are 0. */
static int passdb_quota_value(const char *v, size_t len, uint64_t unit_default, uint64_t *r)
{
	if ((len == 4 && strncasecmp(v, "none", 4) == 0) ||
	    (len == 9 && strncasecmp(v, "unlimited", 9) == 0)) {
		*r = 0;
		return 0;
	}
	uint64_t n = 0;
	size_t i = 0;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == 0 || i + 1 < len)
		return -1;
	uint64_t unit = unit_default;
	if (i < len) {
		const char *units = "bkmgt", *u = memchr(units, v[i] | 0x20, 5);
		if (u == NULL)
			return -1;
		unit = (uint64_t)1 << (10 * (u - units));
	}
	if (n > UINT64_MAX / unit)
		return -1;
	*r = n * unit;
	return 0;
}

/* The limits a rule may set: storage without a unit is in KiB, as in
 * Dovecot; bytes= in bytes. */
static const struct {
	const char *key;
	uint64_t unit;
	int bit;
} passdb_quota_keys[] = {
	{"storage", 1024, PASSDB_QUOTA_BYTES},
	{"bytes", 1, PASSDB_QUOTA_BYTES},
	{"messages", 1, PASSDB_QUOTA_MESSAGES},
};

/* One rule "*:storage=<size>:messages=<n>" (Dovecot's quota_rule for all
 * mailboxes). Returns the PASSDB_QUOTA_* bits set, or -1. */
static int passdb_quota_rule(const char *rule, size_t len, uint64_t *bytes_r, uint64_t *messages_r)
{
	if (len < 2 || rule[0] != '*' || rule[1] != ':')
		return -1;
	int found = 0;
	const char *p = rule + 2, *end = rule + len;
	while (p < end) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		const char *e = c != NULL ? c : end, *eq = memchr(p, '=', (size_t)(e - p));
		if (eq == NULL)
			return -1;
		size_t klen = (size_t)(eq - p), k = 0, nk = sizeof(passdb_quota_keys) /
		                                                sizeof(passdb_quota_keys[0]);
		while (k < nk && (strlen(passdb_quota_keys[k].key) != klen ||
		                  strncmp(p, passdb_quota_keys[k].key, klen) != 0))
			k++;
		if (k == nk)
			return -1;
		uint64_t *out = passdb_quota_keys[k].bit == PASSDB_QUOTA_BYTES ? bytes_r : messages_r;
		if (passdb_quota_value(eq + 1, (size_t)(e - eq - 1), passdb_quota_keys[k].unit, out) < 0)
			return -1;
		found |= passdb_quota_keys[k].bit;
		p = e + 1;
	}
	return found;
}

int passdb_lookup_quota(const struct passdb *db, const char *user, uint64_t *bytes_r,
                        uint64_t *messages_r)
{
	const struct passdb_entry *e = passdb_find(db, user, passdb_hash_name(user, strlen(user)));
	if (e == NULL)
		return 0;
	static const char *const keys[] = {"userdb_quota_rule=", "quota_rule="};
	int found = 0;
	for (const char *p = e->extra; *p != '\0';) {
		size_t len = strcspn(p, " \t");
		for (size_t k = 0; k < 2; k++) {
			size_t kl = strlen(keys[k]);
			if (len < kl || strncmp(p, keys[k], kl) != 0)
				continue;
			int r = passdb_quota_rule(p + kl, len - kl, bytes_r, messages_r);
			if (r < 0)
				return -1;
			found |= r;
		}
		p += len;
		p += strspn(p, " \t");
	}
	return found;
}

size_t passdb_count(const struct passdb *db)
{
	return db->n_entries;
}

/* ---- editing ---- */

struct passdb_edit {
	char *path; /* symlinks resolved, so the rename replaces the real file */
	char *dir;
	int dir_fd; /* locked with flock; fsync'ed after the rename */
	bool existed;
	struct stat st; /* of the original, when it existed */
	char *data;     /* its content */
	size_t size;
};

/* Resolves path (when it exists) and splits off its directory. */
static void passdb_edit_paths(struct passdb_edit *ed, const char *path)
{
	char *real = realpath(path, NULL);
	ed->path = real != NULL ? real : xstrdup(path);
	char *copy = xstrdup(ed->path);
	ed->dir = xstrdup(dirname(copy));
	free(copy);
}

static int passdb_edit_lock(struct passdb_edit *ed, const char **error_r)
{
	ed->dir_fd = open(ed->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ed->dir_fd < 0) {
		passdb_error(error_r, "%s: %s", ed->dir, strerror(errno));
		return -1;
	}
	while (flock(ed->dir_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			passdb_error(error_r, "%s: flock: %s", ed->dir, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Locks, then reads the current file; a missing file is empty content
 * when may_create is set. */
static int passdb_edit_begin(struct passdb_edit *ed, const char *path, bool may_create,
                             const char **error_r)
{
	memset(ed, 0, sizeof(*ed));
	ed->dir_fd = -1;
	passdb_edit_paths(ed, path);
	if (passdb_edit_lock(ed, error_r) < 0)
		return -1;
	int fd = open(ed->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && may_create) {
		ed->data = xstrdup("");
		return 0;
	}
	if (fd < 0) {
		passdb_error(error_r, "%s: %s", ed->path, strerror(errno));
		return -1;
	}
	ed->existed = true;
	int ret = fstat(fd, &ed->st);
	if (ret < 0)
		passdb_error(error_r, "%s: fstat: %s", ed->path, strerror(errno));
	else
		ret = passdb_read_fd(fd, ed->path, &ed->data, &ed->size, error_r);
	close(fd);
	return ret;
}

/* Closing the directory releases the lock. */
static void passdb_edit_end(struct passdb_edit *ed)
{
	if (ed->dir_fd >= 0)
		close(ed->dir_fd);
	if (ed->data != NULL) {
		/* PLAIN-scheme files hold cleartext passwords */
		explicit_bzero(ed->data, ed->size);
		free(ed->data);
	}
	free(ed->dir);
	free(ed->path);
}

static int passdb_write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Gives the temporary file the original's owner and mode, so that a root
 * `roost user add` does not leave a file the unprivileged server can no
 * longer read. A new file is 0600 (mkstemp's mode). */
static int passdb_edit_attrs(const struct passdb_edit *ed, int fd, const char *tmp,
                             const char **error_r)
{
	if (!ed->existed)
		return 0;
	if ((ed->st.st_uid != geteuid() || ed->st.st_gid != getegid()) &&
	    fchown(fd, ed->st.st_uid, ed->st.st_gid) < 0) {
		passdb_error(error_r, "%s: cannot keep owner %u:%u: %s", ed->path,
		             (unsigned)ed->st.st_uid, (unsigned)ed->st.st_gid, strerror(errno));
		return -1;
	}
	if (fchmod(fd, ed->st.st_mode & 07777) < 0) {
		passdb_error(error_r, "%s: fchmod: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

static int passdb_edit_write_tmp(const struct passdb_edit *ed, const struct buf *out, char *tmp,
                                 const char **error_r)
{
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		passdb_error(error_r, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (passdb_edit_attrs(ed, fd, tmp, error_r) < 0)
		goto fail;
	if (passdb_write_all(fd, buf_rdata(out), buf_rlen(out)) < 0 || fsync(fd) < 0) {
		passdb_error(error_r, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		passdb_error(error_r, "%s: close: %s", tmp, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* tmp file in the same directory, rename over the original, fsync the
 * directory so that the rename itself is durable. */
static int passdb_edit_commit(const struct passdb_edit *ed, const struct buf *out,
                              const char **error_r)
{
	const char *base = strrchr(ed->path, '/');
	base = base != NULL ? base + 1 : ed->path;
	size_t tmp_size = strlen(ed->dir) + strlen(base) + 16;
	char *tmp = xmalloc(tmp_size);
	snprintf(tmp, tmp_size, "%s/.%s.XXXXXX", ed->dir, base);
	int ret = passdb_edit_write_tmp(ed, out, tmp, error_r);
	if (ret == 0 && rename(tmp, ed->path) < 0) {
		passdb_error(error_r, "rename %s to %s: %s", tmp, ed->path, strerror(errno));
		unlink(tmp);
		ret = -1;
	}
	if (ret == 0 && fsync(ed->dir_fd) < 0) {
		passdb_error(error_r, "%s: fsync: %s", ed->dir, strerror(errno));
		ret = -1;
	}
	free(tmp);
	return ret;
}

static void passdb_emit_entry(struct buf *out, const char *user, const char *hash, const char *rest,
                              size_t rest_len)
{
	buf_append_str(out, user);
	buf_append(out, ":", 1);
	buf_append_str(out, hash);
	buf_append(out, rest, rest_len);
	buf_append(out, "\n", 1);
}

/* Validates the whole file exactly as passdb_load() would (on a copy,
 * since loading cuts the buffer) and checks whether user is in it. */
static int passdb_edit_check(const struct passdb_edit *ed, const char *user, bool must_exist,
                             bool must_not_exist, const char **error_r)
{
	char *copy = xmalloc(ed->size + 1);
	memcpy(copy, ed->data, ed->size);
	copy[ed->size] = '\0';
	struct passdb *db = passdb_alloc(copy, ed->size);
	int ret = passdb_fill(db, ed->path, ed->size, error_r);
	bool exists = ret == 0 && passdb_lookup(db, user) != NULL;
	passdb_free(db);
	if (ret < 0)
		return -1;
	if (exists && must_not_exist) {
		passdb_error(error_r, "user '%s' already exists", user);
		return -1;
	}
	if (!exists && must_exist) {
		passdb_error(error_r, "user '%s' does not exist", user);
		return -1;
	}
	return 0;
}

/* Copies the (validated) file to out, replacing user's line by user:hash
 * with its extra fields kept, or dropping it when hash is NULL; appends a
 * new line when user was not there and hash is set. */
static void passdb_edit_rewrite(const struct passdb_edit *ed, const char *user, const char *hash,
                                struct buf *out)
{
	size_t pos = 0, len, user_len = strlen(user);
	const char *line, *reason;
	struct passdb_line l;
	bool found = false;
	while (passdb_next_line(ed->data, ed->size, &pos, &line, &len)) {
		if (passdb_parse_line(line, len, &l, &reason) <= 0 || l.user_len != user_len ||
		    memcmp(l.user, user, user_len) != 0) {
			/* verbatim, including a missing final newline */
			buf_append(out, line, (size_t)(ed->data + pos - line));
			continue;
		}
		found = true;
		if (hash != NULL)
			passdb_emit_entry(out, user, hash, l.rest, l.rest_len);
	}
	if (found || hash == NULL)
		return;
	if (buf_rlen(out) > 0 && buf_rdata(out)[buf_rlen(out) - 1] != '\n')
		buf_append(out, "\n", 1);
	passdb_emit_entry(out, user, hash, "", 0);
}

static void passdb_buf_wipe(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	buf_release(b);
}

/* Shared body of set and delete: hash NULL means delete. */
static int passdb_edit(const char *path, const char *user, const char *hash, bool must_exist,
                       bool must_not_exist, const char **error_r)
{
	struct passdb_edit ed;
	struct buf out = {0};
	int ret = passdb_edit_begin(&ed, path, !must_exist, error_r);
	if (ret == 0)
		ret = passdb_edit_check(&ed, user, must_exist, must_not_exist, error_r);
	if (ret == 0) {
		passdb_edit_rewrite(&ed, user, hash, &out);
		ret = passdb_edit_commit(&ed, &out, error_r);
	}
	passdb_buf_wipe(&out);
	passdb_edit_end(&ed);
	return ret;
}

int passdb_file_set(const char *path, const char *user, const char *hash, bool must_exist,
                    bool must_not_exist, const char **error_r)
{
	if (!passdb_user_name_valid(user)) {
		passdb_error(error_r, "invalid user name");
		return -1;
	}
	if (hash[0] == '\0' || !passdb_hash_valid_n(hash, strlen(hash))) {
		passdb_error(error_r, "password hash is empty or contains ':' or a control "
		                      "character (a PLAIN password with such characters "
		                      "cannot be stored)");
		return -1;
	}
	return passdb_edit(path, user, hash, must_exist, must_not_exist, error_r);
}

int passdb_file_delete(const char *path, const char *user, const char **error_r)
{
	if (!passdb_user_name_valid(user)) {
		passdb_error(error_r, "invalid user name");
		return -1;
	}
	return passdb_edit(path, user, NULL, true, false, error_r);
}
