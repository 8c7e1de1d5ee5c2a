/* store_maildir_append: everything that adds messages to a mailbox —
 * APPEND transactions, new/ deliveries and COPY/MOVE.
 *
 * Order of every addition: message files are written (tmp/, fsync,
 * rename into cur/ under a name carrying the UID) and cur/ is fsync'd;
 * then one index transaction inserts the rows, raises uidnext and takes
 * one new modseq; then watchers are told. A crash before the commit
 * leaves files that recovery turns into rows (their UIDs are in their
 * names, so none is ever handed out twice); a failed commit removes the
 * files again (or moves a delivery back into new/).
 *
 * An append transaction holds the user's writer lock (u->wlock) from
 * append_begin to commit/abort, and the user lock (u->lock, the index's)
 * only to read the mailbox at begin, to check the quota and for the
 * commit's index transaction: while it writes and fsyncs message files
 * and cur/, the user's other sessions go on reading (a FETCH on a network
 * loop must not wait for a disk flush). The writer lock keeps UIDs and
 * file names its own: every other writer (new/ pickups, COPY/MOVE,
 * import) and DELETE/RENAME of mailboxes take it too, always before
 * u->lock; a new/ pickup that runs under u->lock only tries it and
 * otherwise leaves its mailbox to the writer (u->new_pending). Callers
 * run begin..commit on one thread without waiting on the network (the
 * IMAP layer has the whole literal before it begins). */
#include "store/store_maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

struct smd_append {
	struct store_append pub;
	struct smd_user *u;
	int64_t mbox_id;
	char *dir;
	uint32_t uidvalidity;
	uint32_t next_uid;
	uint64_t modseq; /* the mailbox's highest modseq at begin */
	uint64_t bytes;  /* sizes of the messages added so far (quota) */
	struct sma_added *v;
	size_t n, cap;
};

static char *sma_join(const char *a, const char *b)
{
	size_t len = strlen(a) + strlen(b) + 2;
	char *p = xmalloc(len);
	snprintf(p, len, "%s/%s", a, b);
	return p;
}

static char *sma_file_path(struct smd_user *u, const char *dir, const char *sub, const char *file)
{
	char *d = store_maildir_path(u, dir, sub);
	char *p = sma_join(d, file);
	free(d);
	return p;
}

static struct sma_added *sma_push(struct smd_append *a)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 8;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	struct sma_added *e = &a->v[a->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static void sma_free(struct smd_append *a)
{
	for (size_t i = 0; i < a->n; i++)
		store_maildir_append_added_clear(&a->v[i]);
	free(a->v);
	free(a->dir);
	free(a);
}

static struct smd_append *sma_new(struct smd_user *u, const struct smi_mbox *m)
{
	struct smd_append *a = xcalloc(1, sizeof(*a));
	a->pub.ops = &store_maildir_ops;
	a->u = u;
	a->mbox_id = m->id;
	a->dir = xstrdup(m->dir);
	a->uidvalidity = m->uidvalidity;
	a->next_uid = m->uidnext;
	a->modseq = m->highestmodseq;
	return a;
}

void store_maildir_append_added_init(struct sma_added *e, uint32_t uid, const struct smm_written *w,
                                     uint32_t flags, int64_t date)
{
	memset(e, 0, sizeof(*e));
	e->uid = uid;
	e->file = w->file;
	e->size = w->size;
	e->sum = w->sum;
	e->flags = flags;
	e->date = date;
}

void store_maildir_append_added_clear(struct sma_added *e)
{
	free(e->file);
	free(e->keywords);
	free(e->orig);
	mail_summary_free(&e->sum);
	memset(e, 0, sizeof(*e));
}

enum store_err store_maildir_append_sync_cur(struct smd_user *u, const char *dir, size_t n)
{
	if (n == 0)
		return STORE_OK;
	char *cur = store_maildir_path(u, dir, "cur");
	int rc = store_maildir_fsync_dir(u, cur);
	free(cur);
	return rc < 0 ? STORE_ERR_IO : STORE_OK;
}

enum store_err store_maildir_append_rows(struct smd_user *u, int64_t mbox_id, const char *dir,
                                         const struct sma_added *v, size_t n, uint32_t uidnext,
                                         uint64_t highest, uint64_t *modseq_r)
{
	uint64_t modseq = n > 0 ? highest + 1 : highest;
	enum store_err err = store_maildir_index_begin(u);
	for (size_t i = 0; i < n && err == STORE_OK; i++) {
		const struct sma_added *e = &v[i];
		struct smi_msg_row row = {.uid = e->uid,
		                          .modseq = modseq,
		                          .flags = e->flags,
		                          .keywords = e->keywords,
		                          .internaldate = e->date,
		                          .internaldate_tz = e->tz,
		                          .size = e->size,
		                          .file = e->file,
		                          .sum = &e->sum};
		err = store_maildir_index_msg_insert(u, mbox_id, &row);
	}
	if (err == STORE_OK)
		err = store_maildir_index_set_next(u, mbox_id, uidnext, modseq);
	if (err == STORE_OK)
		err = store_maildir_index_commit(u);
	else
		store_maildir_index_rollback(u);
	if (err != STORE_OK)
		return err;
	if (n > 0)
		store_maildir_msg_notify(u, mbox_id, modseq);
	*modseq_r = modseq;
	return STORE_OK;
}

/* Undoes the files of a failed transaction. */
static void sma_undo_files(struct smd_append *a)
{
	for (size_t i = 0; i < a->n; i++) {
		struct sma_added *e = &a->v[i];
		char *path = sma_file_path(a->u, a->dir, "cur", e->file);
		if (e->orig != NULL) {
			char *back = sma_file_path(a->u, a->dir, "new", e->orig);
			rename(path, back);
			free(back);
		} else {
			unlink(path);
		}
		free(path);
	}
}

/* --- APPEND --- */

enum store_err store_maildir_append_begin(struct store_user *pu, const char *mailbox,
                                          struct store_append **a_r)
{
	struct smd_user *u = store_maildir_user_of(pu);
	store_maildir_write_lock(u);
	pthread_mutex_lock(&u->lock);
	struct smi_mbox m;
	enum store_err err = store_maildir_index_mbox(u, mailbox, 0, &m);
	if (err == STORE_OK && m.noselect)
		err = STORE_ERR_NOSELECT;
	if (err == STORE_OK)
		*a_r = &sma_new(u, &m)->pub;
	store_maildir_index_mbox_free(&m);
	if (err != STORE_OK)
		store_maildir_write_unlock(u);
	pthread_mutex_unlock(&u->lock);
	return err;
}

/* The quota check of an APPEND, which holds only the writer lock. */
static enum store_err sma_quota_fits(struct smd_append *a, uint64_t bytes)
{
	pthread_mutex_lock(&a->u->lock);
	enum store_err err = store_maildir_quota_fits(a->u, bytes, a->n + 1);
	pthread_mutex_unlock(&a->u->lock);
	return err;
}

enum store_err store_maildir_append_add(struct store_append *pa, const struct store_new_msg *msg,
                                        uint32_t *uid_r)
{
	struct smd_append *a = (struct smd_append *)pa;
	if (a->next_uid >= UINT32_MAX - 1)
		return STORE_ERR_LIMIT;
	int64_t date = msg->internaldate >= 0 ? msg->internaldate : (int64_t)time(NULL);
	uint32_t flags = msg->flags & STORE_FLAGS_ALL;
	/* The quota is checked before writing with the length as received
	 * (CRLF conversion only adds bytes), then with the stored size. */
	enum store_err err = sma_quota_fits(a, a->bytes + msg->len);
	if (err != STORE_OK)
		return err;
	struct smm_written w;
	if (store_maildir_write(a->u, a->dir, msg->data, msg->len, -1, a->next_uid, flags, date,
	                        &w) < 0)
		return STORE_ERR_IO;
	err = sma_quota_fits(a, a->bytes + w.size);
	if (err != STORE_OK) {
		store_maildir_change_unlink(a->u, a->dir, w.file);
		free(w.file);
		mail_summary_free(&w.sum);
		return err;
	}
	a->bytes += w.size;
	struct sma_added *e = sma_push(a);
	store_maildir_append_added_init(e, a->next_uid++, &w, flags, date);
	e->keywords = store_keywords_canon(msg->keywords);
	e->tz = msg->internaldate >= 0 ? msg->internaldate_tz : 0;
	*uid_r = e->uid;
	return STORE_OK;
}

/* STORE and EXPUNGE may have raised the mailbox's modseq since begin
 * (they take only u->lock); the rows go in above it. UIDNEXT cannot have
 * moved: every UID giver holds the writer lock. Under u->lock. */
static enum store_err sma_reread_modseq(struct smd_append *a)
{
	struct smi_mbox m;
	enum store_err err = store_maildir_index_mbox(a->u, NULL, a->mbox_id, &m);
	if (err == STORE_OK)
		a->modseq = m.highestmodseq;
	store_maildir_index_mbox_free(&m);
	return err;
}

enum store_err store_maildir_append_commit(struct store_append *pa, uint32_t *uidvalidity_r)
{
	struct smd_append *a = (struct smd_append *)pa;
	struct smd_user *u = a->u;
	enum store_err err = store_maildir_append_sync_cur(u, a->dir, a->n);
	pthread_mutex_lock(&u->lock);
	if (err == STORE_OK && a->n > 0)
		err = sma_reread_modseq(a);
	if (err == STORE_OK && a->n > 0)
		err = store_maildir_append_rows(u, a->mbox_id, a->dir, a->v, a->n, a->next_uid,
		                                a->modseq, &a->modseq);
	if (err != STORE_OK)
		sma_undo_files(a);
	*uidvalidity_r = a->uidvalidity;
	sma_free(a);
	store_maildir_write_unlock(u);
	pthread_mutex_unlock(&u->lock);
	return err;
}

void store_maildir_append_abort(struct store_append *pa)
{
	struct smd_append *a = (struct smd_append *)pa;
	struct smd_user *u = a->u;
	sma_undo_files(a);
	sma_free(a);
	pthread_mutex_lock(&u->lock);
	store_maildir_write_unlock(u);
	pthread_mutex_unlock(&u->lock);
}

/* --- new/ deliveries --- */

/* Delivery order: Maildir names begin with the time of delivery, and a
 * natural ("version") comparison orders "M9" before "M10". */
static int sma_name_cmp(const void *x, const void *y)
{
	return strverscmp(*(char *const *)x, *(char *const *)y);
}

/* Regular files in new/ (Maildir: names starting with '.' are not mail). */
static char **sma_list_new(const char *path, size_t *n_r)
{
	*n_r = 0;
	DIR *d = opendir(path);
	if (d == NULL)
		return NULL;
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), sma_name_cmp);
	*n_r = n;
	return v;
}

/* Moves one delivery into cur/ with the next UID. Returns 1 when taken, 0
 * when it vanished, is not a regular file or could not be taken. */
static int sma_take_new(struct smd_append *a, const char *name)
{
	struct smd_user *u = a->u;
	char *src = sma_file_path(u, a->dir, "new", name);
	int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat stt;
	int ret = 0;
	if (fd < 0 || fstat(fd, &stt) < 0 || !S_ISREG(stt.st_mode))
		goto out;
	uint32_t flags = store_maildir_info_parse(name, NULL, NULL);
	int bare = store_maildir_has_bare_lf(fd);
	struct smm_written w = {0};
	ret = -1;
	if (bare < 0)
		goto out;
	if (bare) {
		/* Rewritten with CRLF into cur/, then the original goes: a failed
		 * commit moves the (equivalent) copy back into new/. */
		if (store_maildir_write(u, a->dir, NULL, 0, fd, a->next_uid, flags,
		                        (int64_t)stt.st_mtime, &w) < 0)
			goto out;
		unlink(src);
	} else {
		/* Parsed first: once renamed, the file owns its UID. */
		if (store_maildir_parse_file(fd, &w.sum) < 0) {
			mail_summary_free(&w.sum);
			goto out;
		}
		w.size = (uint64_t)stt.st_size;
		w.file = store_maildir_file_name(u, w.size, a->next_uid, flags);
		char *dst = sma_file_path(u, a->dir, "cur", w.file);
		int rc = rename(src, dst);
		free(dst);
		if (rc < 0) {
			free(w.file);
			mail_summary_free(&w.sum);
			goto out;
		}
	}
	struct sma_added *e = sma_push(a);
	store_maildir_append_added_init(e, a->next_uid++, &w, flags, (int64_t)stt.st_mtime);
	e->keywords = xstrdup("");
	e->orig = xstrdup(name);
	ret = 1;
out:
	/* A file that cannot be taken stays in new/ for the next attempt; it
	 * must not block the deliveries after it. */
	if (ret < 0)
		log_error("event=store_error user=%s op=deliver file=%s error=\"%s\"", u->name, src,
		          strerror(errno));
	if (fd >= 0)
		close(fd);
	free(src);
	return ret < 0 ? 0 : ret;
}

/* Picks up new/ of one mailbox; both locks held. */
static enum store_err sma_sync_new_locked(struct smd_user *u, int64_t mbox_id)
{
	struct smi_mbox m;
	enum store_err err = store_maildir_index_mbox(u, NULL, mbox_id, &m);
	if (err != STORE_OK || m.noselect) {
		store_maildir_index_mbox_free(&m);
		return err;
	}
	char *newdir = store_maildir_path(u, m.dir, "new");
	size_t n = 0;
	char **names = sma_list_new(newdir, &n);
	free(newdir);
	struct smd_append *a = n > 0 ? sma_new(u, &m) : NULL;
	store_maildir_index_mbox_free(&m);
	for (size_t i = 0; i < n && err == STORE_OK; i++) {
		if (a->next_uid >= UINT32_MAX - 1)
			err = STORE_ERR_LIMIT;
		else
			sma_take_new(a, names[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (a == NULL)
		return STORE_OK;
	if (err == STORE_OK)
		err = store_maildir_append_sync_cur(u, a->dir, a->n);
	if (err == STORE_OK && a->n > 0)
		err = store_maildir_append_rows(u, a->mbox_id, a->dir, a->v, a->n, a->next_uid,
		                                a->modseq, &a->modseq);
	if (err != STORE_OK)
		sma_undo_files(a);
	sma_free(a);
	return err;
}

static void sma_pending_add(struct smd_user *u, int64_t mbox_id)
{
	for (size_t i = 0; i < u->n_new_pending; i++)
		if (u->new_pending[i] == mbox_id)
			return;
	u->new_pending = xrealloc(u->new_pending, (u->n_new_pending + 1) * sizeof(int64_t));
	u->new_pending[u->n_new_pending++] = mbox_id;
}

enum store_err store_maildir_append_sync_new(struct smd_user *u, int64_t mbox_id)
{
	/* Waiting for the writer here, under u->lock, would invert the lock
	 * order; the writer runs this pickup before it lets go instead. */
	if (pthread_mutex_trylock(&u->wlock) != 0) {
		sma_pending_add(u, mbox_id);
		return STORE_OK;
	}
	enum store_err err = sma_sync_new_locked(u, mbox_id);
	store_maildir_write_unlock(u);
	return err;
}

void store_maildir_write_lock(struct smd_user *u)
{
	pthread_mutex_lock(&u->wlock);
}

void store_maildir_write_unlock(struct smd_user *u)
{
	while (u->n_new_pending > 0) {
		int64_t id = u->new_pending[--u->n_new_pending];
		sma_sync_new_locked(u, id);
	}
	free(u->new_pending);
	u->new_pending = NULL;
	pthread_mutex_unlock(&u->wlock);
}

/* --- COPY / MOVE --- */

/* A copy of a message file for when link() cannot be used (EXDEV, or a
 * file system without hard links): tmp/, fsync, same mtime, rename. */
static int sma_copy_file(struct smd_user *u, const char *src, const char *dst_dir, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	char *base = store_maildir_file_base(u);
	char *tmp = sma_file_path(u, dst_dir, "tmp", base);
	free(base);
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct stat stt;
	int ret = in < 0 || out < 0 || fstat(in, &stt) < 0 ? -1 : 0;
	char buf[65536];
	ssize_t n = 0;
	while (ret == 0 && (n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n)
			ret = -1;
	}
	if (n < 0)
		ret = -1;
	if (ret == 0 && u->st->fsync && fsync(out) < 0)
		ret = -1;
	if (ret == 0) {
		struct timespec ts[2] = {stt.st_mtim, stt.st_mtim};
		ret = futimens(out, ts);
	}
	if (out >= 0 && close(out) < 0)
		ret = -1;
	if (ret == 0)
		ret = rename(tmp, dst);
	if (ret < 0 && out >= 0)
		unlink(tmp);
	if (in >= 0)
		close(in);
	free(tmp);
	return ret;
}

struct sma_copy {
	struct smi_mbox src, dst;
	uint32_t *src_uids, *dst_uids;
	char **src_files, **dst_files;
	size_t n;
	uint32_t next_uid;
	uint64_t bytes; /* sizes of the copied messages (quota) */
};

static void sma_copy_free(struct sma_copy *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->src_files[i]);
		free(c->dst_files[i]);
	}
	free(c->src_files);
	free(c->dst_files);
	free(c->src_uids);
	free(c->dst_uids);
	store_maildir_index_mbox_free(&c->src);
	store_maildir_index_mbox_free(&c->dst);
}

/* Links one source message into the destination under its new UID. */
static enum store_err sma_copy_one(struct smd_user *u, struct sma_copy *c, uint32_t uid)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_FILE);
	sqlite3_bind_int64(s, 1, c->src.id);
	sqlite3_bind_int64(s, 2, uid);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		store_maildir_index_done(u, s);
		return rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, "copy");
	}
	if (c->next_uid >= UINT32_MAX - 1) {
		store_maildir_index_done(u, s);
		return STORE_ERR_LIMIT;
	}
	char *src_file = xstrdup((const char *)sqlite3_column_text(s, 0));
	uint64_t size = (uint64_t)sqlite3_column_int64(s, 1);
	uint32_t flags = (uint32_t)sqlite3_column_int(s, 2);
	store_maildir_index_done(u, s);
	char *dst_file = store_maildir_file_name(u, size, c->next_uid, flags);
	char *from = sma_file_path(u, c->src.dir, "cur", src_file);
	char *to = sma_file_path(u, c->dst.dir, "cur", dst_file);
	int lrc = link(from, to);
	if (lrc < 0 && errno != ENOENT)
		lrc = sma_copy_file(u, from, c->dst.dir, to);
	enum store_err err = STORE_OK;
	if (lrc < 0) {
		/* A file that vanished was expunged meanwhile: skip it. */
		err = errno == ENOENT ? STORE_OK : STORE_ERR_IO;
		free(src_file);
		free(dst_file);
	} else {
		size_t i = c->n++;
		c->src_uids[i] = uid;
		c->dst_uids[i] = c->next_uid++;
		c->src_files[i] = src_file;
		c->dst_files[i] = dst_file;
		c->bytes += size;
	}
	free(from);
	free(to);
	return err;
}

static enum store_err sma_copy_rows(struct smd_user *u, struct sma_copy *c, bool move,
                                    uint64_t *dst_modseq_r, uint64_t *src_modseq_r)
{
	uint64_t dmod = c->dst.highestmodseq + 1;
	uint64_t smod = c->src.id == c->dst.id ? dmod : c->src.highestmodseq + 1;
	enum store_err err = store_maildir_index_begin(u);
	for (size_t i = 0; i < c->n && err == STORE_OK; i++) {
		sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_COPY);
		sqlite3_bind_int64(s, 1, c->src.id);
		sqlite3_bind_int64(s, 2, c->src_uids[i]);
		sqlite3_bind_int64(s, 3, c->dst.id);
		sqlite3_bind_int64(s, 4, c->dst_uids[i]);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)dmod);
		sqlite3_bind_text(s, 6, c->dst_files[i], -1, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		store_maildir_index_done(u, s);
		if (rc != SQLITE_DONE)
			err = store_maildir_index_err(u, rc, "copy");
	}
	if (err == STORE_OK)
		err = store_maildir_index_set_next(u, c->dst.id, c->next_uid, dmod);
	if (err == STORE_OK && move)
		err = store_maildir_change_expunge_rows(u, c->src.id, c->src_uids, c->n, smod);
	if (err == STORE_OK)
		err = store_maildir_index_commit(u);
	else
		store_maildir_index_rollback(u);
	*dst_modseq_r = dmod;
	*src_modseq_r = smod;
	return err;
}

static enum store_err sma_copy_files(struct smd_user *u, struct sma_copy *c, const uint32_t *uids,
                                     size_t n)
{
	c->src_uids = xmalloc((n ? n : 1) * sizeof(uint32_t));
	c->dst_uids = xmalloc((n ? n : 1) * sizeof(uint32_t));
	c->src_files = xcalloc(n ? n : 1, sizeof(char *));
	c->dst_files = xcalloc(n ? n : 1, sizeof(char *));
	c->next_uid = c->dst.uidnext;
	enum store_err err = STORE_OK;
	for (size_t i = 0; i < n && err == STORE_OK; i++)
		err = sma_copy_one(u, c, uids[i]);
	char *cur = store_maildir_path(u, c->dst.dir, "cur");
	if (err == STORE_OK && c->n > 0 && store_maildir_fsync_dir(u, cur) < 0)
		err = STORE_ERR_IO;
	free(cur);
	return err;
}

static enum store_err sma_copy(struct smd_mailbox *mb, const uint32_t *uids, size_t n,
                               const char *dest, bool move, struct sma_copy *c)
{
	struct smd_user *u = mb->u;
	enum store_err err =
	    mb->gone ? STORE_ERR_NOTFOUND : store_maildir_index_mbox(u, NULL, mb->id, &c->src);
	if (err == STORE_OK)
		err = store_maildir_index_mbox(u, dest, 0, &c->dst);
	if (err == STORE_OK && c->dst.noselect)
		err = STORE_ERR_NOSELECT;
	if (err == STORE_OK)
		err = sma_copy_files(u, c, uids, n);
	/* A move keeps usage as it is: never refused for the quota, so a
	 * user over quota can still move mail to Trash. */
	if (err == STORE_OK && !move && c->n > 0)
		err = store_maildir_quota_fits(u, c->bytes, c->n);
	uint64_t dmod = 0, smod = 0;
	if (err == STORE_OK && c->n > 0)
		err = sma_copy_rows(u, c, move, &dmod, &smod);
	if (err != STORE_OK) {
		for (size_t i = 0; i < c->n; i++)
			store_maildir_change_unlink(u, c->dst.dir, c->dst_files[i]);
		return err;
	}
	if (c->n == 0)
		return STORE_OK;
	if (move) {
		store_maildir_write_uidvalidity(u, c->src.dir, c->src.uidvalidity, c->src.uidnext);
		for (size_t i = 0; i < c->n; i++)
			store_maildir_change_unlink(u, c->src.dir, c->src_files[i]);
		if (c->src.id != c->dst.id)
			store_maildir_msg_notify(u, c->src.id, smod);
	}
	store_maildir_msg_notify(u, c->dst.id, dmod);
	return STORE_OK;
}

enum store_err store_maildir_append_copy(struct store_mailbox *pmb, const uint32_t *uids, size_t n,
                                         const char *dest, bool move, struct store_copy_result *r)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	struct sma_copy c = {0};
	store_maildir_write_lock(mb->u);
	pthread_mutex_lock(&mb->u->lock);
	enum store_err err = sma_copy(mb, uids, n, dest, move, &c);
	store_maildir_write_unlock(mb->u);
	pthread_mutex_unlock(&mb->u->lock);
	if (err == STORE_OK) {
		r->uidvalidity = c.dst.uidvalidity;
		r->count = c.n;
		if (c.n > 0) {
			r->src_uids = c.src_uids;
			r->dst_uids = c.dst_uids;
			c.src_uids = c.dst_uids = NULL;
		}
	}
	sma_copy_free(&c);
	return err;
}
