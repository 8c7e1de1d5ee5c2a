/* store_maildir: the embedded backend's entry point (its ops table,
 * store_maildir_ops, and the backend object) and its on-disk layout.
 *
 * <mail_root>/<user>/ is a Maildir++ tree:
 *   cur/ new/ tmp/            INBOX
 *   .<level>.<level>/         any other mailbox: the store's '/' delimiter
 *                             becomes '.', and inside a level '.', '%',
 *                             control bytes and DEL are escaped as %XX
 *                             (upper-case hex); other bytes, UTF-8
 *                             included, are kept. "a.b/c" -> ".a%2Eb.c".
 *     cur/ new/ tmp/
 *   roost-uidvalidity         (in every mailbox directory, INBOX's too)
 *                             "<uidvalidity> <uidnext>": uidnext as of the
 *                             last EXPUNGE/MOVE, so a rebuilt index never
 *                             reuses the UID of an expunged message
 *   index.sqlite (+ -wal, -shm)  the index (store_maildir_index.c)
 *   #deleted-<n>              a mailbox being deleted (removed on recovery)
 * Names are validated (store_name_valid) before they are encoded, and a
 * decoded directory name is only accepted when it encodes back to itself,
 * so no name can leave the user's directory.
 *
 * Message files in cur/ are named
 *   <secs>.M<usec>P<pid>Q<counter>.<host>,S=<size>,U=<uid>:2,<flags>
 * (Maildir flags D F R S T) with mtime = INTERNALDATE, so a file alone
 * carries its UID, initial flags, date and size: recovery rebuilds rows
 * from files. Files hold CRLF line ends; bare LF becomes CRLF while the
 * file is written to tmp/ (and the MIME parser sees those same bytes). */
#include "store/store_maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define SMD_CHUNK 65536

static bool smd_escaped(unsigned char c)
{
	return c == '.' || c == '%' || c < 0x20 || c == 0x7f;
}

char *store_maildir_dir_encode(const char *name)
{
	if (strcmp(name, "INBOX") == 0)
		return xstrdup("");
	size_t len = strlen(name);
	char *out = xmalloc(len * 3 + 2), *w = out;
	*w++ = '.';
	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p == '/')
			*w++ = '.';
		else if (smd_escaped(*p))
			w += sprintf(w, "%%%02X", *p);
		else
			*w++ = (char)*p;
	}
	*w = '\0';
	if (w - out > 255) {
		free(out);
		return NULL;
	}
	return out;
}

static int smd_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *store_maildir_dir_decode(const char *dir)
{
	if (dir[0] != '.' || dir[1] == '\0')
		return NULL;
	size_t len = strlen(dir);
	char *out = xmalloc(len + 1), *w = out;
	for (const char *p = dir + 1; *p != '\0'; p++) {
		if (*p == '.') {
			*w++ = '/';
		} else if (*p == '%') {
			int hi = smd_hex(p[1]), lo = hi < 0 ? -1 : smd_hex(p[2]);
			if (lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			*w++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	if (!store_name_valid(out) || strcmp(out, "INBOX") == 0)
		goto bad;
	char *again = store_maildir_dir_encode(out);
	bool same = again != NULL && strcmp(again, dir) == 0;
	free(again);
	if (same)
		return out;
bad:
	free(out);
	return NULL;
}

char *store_maildir_path(const struct smd_user *u, const char *dir, const char *sub)
{
	size_t len = strlen(u->dir) + strlen(dir) + (sub ? strlen(sub) : 0) + 3;
	char *p = xmalloc(len);
	if (dir[0] == '\0')
		snprintf(p, len, "%s%s%s", u->dir, sub ? "/" : "", sub ? sub : "");
	else
		snprintf(p, len, "%s/%s%s%s", u->dir, dir, sub ? "/" : "", sub ? sub : "");
	return p;
}

/* The host name with '/', ':' and ',' escaped as the Maildir convention
 * does ("\057"), since they separate the parts of a file name. */
static void smd_host(char *out, size_t cap)
{
	char host[256];
	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	size_t w = 0;
	for (const char *p = host; *p != '\0' && w + 5 < cap; p++) {
		if (*p == '/' || *p == ':' || *p == ',')
			w += (size_t)snprintf(out + w, cap - w, "\\%03o", (unsigned char)*p);
		else
			out[w++] = *p;
	}
	out[w] = '\0';
}

char *store_maildir_file_base(struct smd_user *u)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	char host[128];
	smd_host(host, sizeof(host));
	char buf[256];
	snprintf(buf, sizeof(buf), "%lld.M%ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
	         (long)getpid(), ++u->file_counter, host);
	return xstrdup(buf);
}

static char *smd_final_name(const char *base, uint64_t size, uint32_t uid, uint32_t flags)
{
	char fl[8], *w = fl;
	/* Maildir info flags, in ASCII order. */
	if (flags & STORE_FLAG_DRAFT)
		*w++ = 'D';
	if (flags & STORE_FLAG_FLAGGED)
		*w++ = 'F';
	if (flags & STORE_FLAG_ANSWERED)
		*w++ = 'R';
	if (flags & STORE_FLAG_SEEN)
		*w++ = 'S';
	if (flags & STORE_FLAG_DELETED)
		*w++ = 'T';
	*w = '\0';
	size_t len = strlen(base) + 64;
	char *out = xmalloc(len);
	snprintf(out, len, "%s,S=%llu,U=%u:2,%s", base, (unsigned long long)size, uid, fl);
	return out;
}

char *store_maildir_file_name(struct smd_user *u, uint64_t size, uint32_t uid, uint32_t flags)
{
	char *base = store_maildir_file_base(u);
	char *name = smd_final_name(base, size, uid, flags);
	free(base);
	return name;
}

/* Maildir's flag letters (the "2," info of cr.yp.to/proto/maildir.html);
 * anything else, Dovecot's keyword letters included, is no system flag. */
static uint32_t smd_info_flag(char c)
{
	switch (c) {
	case 'D':
		return STORE_FLAG_DRAFT;
	case 'F':
		return STORE_FLAG_FLAGGED;
	case 'R':
		return STORE_FLAG_ANSWERED;
	case 'S':
		return STORE_FLAG_SEEN;
	case 'T':
		return STORE_FLAG_DELETED;
	default:
		return 0;
	}
}

uint32_t store_maildir_info_parse(const char *name, store_maildir_keyword_fn *keyword_fn, void *ctx)
{
	const char *info = strstr(name, ":2,");
	uint32_t flags = 0;
	if (info == NULL)
		return 0;
	for (const char *p = info + 3; *p != '\0'; p++) {
		flags |= smd_info_flag(*p);
		if (keyword_fn != NULL && *p >= 'a' && *p <= 'z')
			keyword_fn(ctx, (unsigned)(*p - 'a'));
	}
	return flags;
}

bool store_maildir_file_parse(const char *name, uint32_t *uid_r, uint32_t *flags_r)
{
	size_t base_len = strcspn(name, ":");
	*flags_r = store_maildir_info_parse(name, NULL, NULL);
	for (const char *p = name; p < name + base_len; p++) {
		if (strncmp(p, ",U=", 3) != 0)
			continue;
		unsigned long long v = 0;
		const char *d = p + 3;
		while (*d >= '0' && *d <= '9' && v <= UINT32_MAX)
			v = v * 10 + (unsigned)(*d++ - '0');
		if (d == p + 3 || v == 0 || v >= UINT32_MAX ||
		    (*d != ',' && *d != ':' && *d != '\0'))
			return false;
		*uid_r = (uint32_t)v;
		return true;
	}
	return false;
}

int store_maildir_fsync_dir(const struct smd_user *u, const char *path)
{
	if (!u->st->fsync)
		return 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ret = fsync(fd);
	close(fd);
	return ret;
}

int store_maildir_write_uidvalidity(struct smd_user *u, const char *dir, uint32_t uidvalidity,
                                    uint32_t uidnext)
{
	char *p = store_maildir_path(u, dir, "roost-uidvalidity");
	size_t len = strlen(p) + 8;
	char *tmp = xmalloc(len);
	snprintf(tmp, len, "%s.tmp", p);
	FILE *f = fopen(tmp, "we");
	int ret = f == NULL || fprintf(f, "%u %u\n", uidvalidity, uidnext) < 0 ? -1 : 0;
	if (f != NULL && fclose(f) != 0)
		ret = -1;
	if (ret == 0)
		ret = rename(tmp, p);
	else
		unlink(tmp);
	free(tmp);
	free(p);
	return ret;
}

int store_maildir_make_dirs(struct smd_user *u, const char *dir, uint32_t uidvalidity)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	char *top = store_maildir_path(u, dir, NULL);
	int ret = mkdir(top, 0700) < 0 && errno != EEXIST ? -1 : 0;
	for (size_t i = 0; i < 3 && ret == 0; i++) {
		char *p = store_maildir_path(u, dir, subs[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			ret = -1;
		free(p);
	}
	if (ret == 0)
		ret = store_maildir_write_uidvalidity(u, dir, uidvalidity, 1);
	if (ret == 0)
		ret = store_maildir_fsync_dir(u, top);
	if (ret == 0)
		ret = store_maildir_fsync_dir(u, u->dir);
	if (ret < 0)
		log_error("event=store_error user=%s op=mkdir dir=%s error=\"%s\"", u->name, top,
		          strerror(errno));
	free(top);
	return ret;
}

/* Bare LF -> CRLF normalizer; `cr` carries "previous byte was CR" across
 * chunks. Returns the bytes written to out (at most 2 * len). */
static size_t smd_crlf(bool *cr, const unsigned char *in, size_t len, unsigned char *out)
{
	size_t w = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\n' && !*cr)
			out[w++] = '\r';
		out[w++] = in[i];
		*cr = in[i] == '\r';
	}
	return w;
}

static int smd_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t smd_read(int fd, void *buf, size_t len)
{
	ssize_t n;
	do {
		n = read(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	return n;
}

/* Streams the message (normalized) into fd and the parser. */
static int smd_write_data(int fd, struct mime_parser *mp, const void *data, size_t len, int src_fd,
                          uint64_t *size_r)
{
	unsigned char *in = src_fd >= 0 ? xmalloc(SMD_CHUNK) : NULL;
	unsigned char *out = xmalloc(SMD_CHUNK * 2);
	bool cr = false;
	size_t off = 0;
	uint64_t size = 0;
	int ret = 0;
	for (;;) {
		const unsigned char *chunk;
		size_t n;
		if (src_fd >= 0) {
			ssize_t r = smd_read(src_fd, in, SMD_CHUNK);
			if (r < 0) {
				ret = -1;
				break;
			}
			chunk = in;
			n = (size_t)r;
		} else {
			n = len - off < SMD_CHUNK ? len - off : SMD_CHUNK;
			if (n == 0)
				break;
			chunk = (const unsigned char *)data + off;
			off += n;
		}
		if (n == 0)
			break;
		size_t w = smd_crlf(&cr, chunk, n, out);
		mime_parser_feed(mp, out, w);
		size += w;
		if (smd_write_all(fd, out, w) < 0) {
			ret = -1;
			break;
		}
	}
	free(in);
	free(out);
	*size_r = size;
	return ret;
}

int store_maildir_write(struct smd_user *u, const char *dir, const void *data, size_t len,
                        int src_fd, uint32_t uid, uint32_t flags, int64_t mtime,
                        struct smm_written *w_r)
{
	memset(w_r, 0, sizeof(*w_r));
	char *base = store_maildir_file_base(u);
	char *tmp_dir = store_maildir_path(u, dir, "tmp");
	size_t plen = strlen(tmp_dir) + strlen(base) + 2;
	char *tmp_path = xmalloc(plen);
	snprintf(tmp_path, plen, "%s/%s", tmp_dir, base);
	free(tmp_dir);
	int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct mime_parser *mp = mime_parser_new();
	uint64_t size = 0;
	int ret = fd < 0 ? -1 : smd_write_data(fd, mp, data, len, src_fd, &size);
	mime_parser_finish(&mp, &w_r->sum);
	if (ret == 0 && u->st->fsync && fsync(fd) < 0)
		ret = -1;
	struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
	if (ret == 0 && futimens(fd, ts) < 0)
		ret = -1;
	if (fd >= 0 && close(fd) < 0)
		ret = -1;
	char *final = smd_final_name(base, size, uid, flags);
	char *cur = store_maildir_path(u, dir, "cur");
	size_t clen = strlen(cur) + strlen(final) + 2;
	char *cur_path = xmalloc(clen);
	snprintf(cur_path, clen, "%s/%s", cur, final);
	if (ret == 0 && rename(tmp_path, cur_path) < 0)
		ret = -1;
	if (ret < 0) {
		log_error("event=store_error user=%s op=write file=%s error=\"%s\"", u->name,
		          tmp_path, strerror(errno));
		if (fd >= 0)
			unlink(tmp_path);
		mail_summary_free(&w_r->sum);
		free(final);
	} else {
		w_r->file = final;
		w_r->size = size;
	}
	free(cur);
	free(cur_path);
	free(tmp_path);
	free(base);
	return ret;
}

int store_maildir_parse_file(int fd, struct mail_summary *sum_r)
{
	unsigned char *buf = xmalloc(SMD_CHUNK);
	struct mime_parser *mp = mime_parser_new();
	int ret = 0;
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, SMD_CHUNK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -1;
		if (n <= 0)
			break;
		mime_parser_feed(mp, buf, (size_t)n);
		off += n;
	}
	mime_parser_finish(&mp, sum_r);
	free(buf);
	return ret;
}

int store_maildir_has_bare_lf(int fd)
{
	unsigned char *buf = xmalloc(SMD_CHUNK);
	bool cr = false;
	int found = 0;
	off_t off = 0;
	while (found == 0) {
		ssize_t n = pread(fd, buf, SMD_CHUNK, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			found = -1;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && !cr) {
				found = 1;
				break;
			}
			cr = buf[i] == '\r';
		}
		off += n;
	}
	free(buf);
	return found;
}

void store_maildir_rmtree(const char *path)
{
	DIR *d = opendir(path);
	if (d == NULL) {
		unlink(path);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		size_t len = strlen(path) + strlen(de->d_name) + 2;
		char *p = xmalloc(len);
		snprintf(p, len, "%s/%s", path, de->d_name);
		struct stat stt;
		if (lstat(p, &stt) == 0 && S_ISDIR(stt.st_mode))
			store_maildir_rmtree(p);
		else
			unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(path);
}

int store_maildir_mkdir_p(const char *path)
{
	char *tmp = xstrdup(path);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
			free(tmp);
			return -1;
		}
		*p = '/';
	}
	int ret = mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
	free(tmp);
	return ret;
}

/* --- the backend object --- */

/* SQLite counts every allocation in global statistics under one
 * process-wide mutex (SQLITE_CONFIG_MEMSTATUS, on by default); with a
 * connection per user on many threads that mutex was the busiest lock of
 * the sync benchmark. Nothing here reads the statistics. Must precede
 * SQLite's initialization (a later call is refused, harmlessly). */
static void smd_sqlite_config(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static struct store *smd_open(const struct store_settings *set, const char **error_r)
{
	if (set->mail_root == NULL || set->mail_root[0] == '\0') {
		*error_r = "mail_root is not set";
		return NULL;
	}
	if (store_maildir_mkdir_p(set->mail_root) < 0) {
		*error_r = "cannot create mail_root";
		return NULL;
	}
	static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;
	pthread_once(&sqlite_once, smd_sqlite_config);
	struct smd_store *st = xcalloc(1, sizeof(*st));
	st->pub.ops = &store_maildir_ops;
	st->root = xstrdup(set->mail_root);
	st->fsync = set->fsync;
	st->linger_ms = set->linger_ms;
	st->linger_users = set->linger_users;
	st->fts_catch_up_ms = set->fts_catch_up_ms;
	st->inotify_fd = -1;
	st->wake_fd = -1;
	pthread_mutex_init(&st->lock, NULL);
	return &st->pub;
}

static void smd_close(struct store *pst)
{
	struct smd_store *st = store_maildir_store_of(pst);
	store_maildir_watch_stop(st);
	store_maildir_user_close_idle(st);
	if (st->users.count > 0)
		log_warn("event=store_close_busy users=%zu", st->users.count);
	htab_free(&st->users);
	store_maildir_user_forget_recovered(st);
	pthread_mutex_destroy(&st->lock);
	free(st->root);
	free(st);
}

const struct store_backend_ops store_maildir_ops = {
    .name = "maildir",
    .open = smd_open,
    .close = smd_close,
    .user_open = store_maildir_user_open,
    .user_unref = store_maildir_user_unref,
    .list = store_maildir_mbox_list,
    .create = store_maildir_mbox_create,
    .remove = store_maildir_mbox_delete,
    .rename = store_maildir_mbox_rename,
    .subscribe = store_maildir_mbox_subscribe,
    .status = store_maildir_mbox_status,
    .append_begin = store_maildir_append_begin,
    .append_add = store_maildir_append_add,
    .append_commit = store_maildir_append_commit,
    .append_abort = store_maildir_append_abort,
    .import_begin = store_maildir_import_begin,
    .import_add = store_maildir_import_add,
    .import_commit = store_maildir_import_commit,
    .import_abort = store_maildir_import_abort,
    .mailbox_open = store_maildir_msg_open,
    .mailbox_close = store_maildir_msg_close,
    .mailbox_watch = store_maildir_msg_watch,
    .mailbox_sync_new = store_maildir_msg_sync_new,
    .mailbox_uids = store_maildir_msg_uids,
    .mailbox_highestmodseq = store_maildir_msg_highestmodseq,
    .fetch = store_maildir_msg_fetch,
    .body_open = store_maildir_msg_body_open,
    .body_size = store_maildir_msg_body_size,
    .body_read = store_maildir_msg_body_read,
    .body_map = store_maildir_msg_body_map,
    .body_close = store_maildir_msg_body_close,
    .set_flags = store_maildir_change_set_flags,
    .expunge = store_maildir_change_expunge,
    .copy = store_maildir_append_copy,
    .changes = store_maildir_change_changes,
    .fts_search = store_maildir_fts_search,
    .quota_set = store_maildir_quota_set,
    .quota_check = store_maildir_quota_check,
    .quota_get = store_maildir_quota_get,
};
