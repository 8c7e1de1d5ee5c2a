/* store_maildir_msg: open mailboxes (SELECT/EXAMINE handles) and the
 * message operations on them: UIDs, FETCH metadata, bodies, flags,
 * EXPUNGE, the change log and watchers.
 *
 * A handle names its mailbox by row id, so it survives a RENAME; a
 * DELETE marks the open handles `gone`. Every committed change to a
 * mailbox goes through store_maildir_msg_notify(), which updates the
 * in-memory highest modseq of each open handle of that mailbox and calls
 * its watcher (with the user lock held: a watcher only posts a wake-up).
 * store_maildir_msg_close() unregisters under the same lock, so no callback
 * runs after it returns. */
#include "store/store_maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

struct smd_body {
	struct store_body pub;
	int fd;
	uint64_t size;
	void *map;
};

void store_maildir_msg_notify(struct smd_user *u, int64_t mbox_id, uint64_t modseq)
{
	for (struct smd_mailbox *mb = u->handles; mb != NULL; mb = mb->next) {
		if (mb->id != mbox_id)
			continue;
		if (modseq > mb->highestmodseq)
			mb->highestmodseq = modseq;
		if (mb->fn != NULL)
			mb->fn(mb->ctx);
	}
}

/* The mailbox row of an open handle. */
static enum store_err smg_mbox(struct smd_mailbox *mb, struct smi_mbox *m_r)
{
	if (mb->gone) {
		memset(m_r, 0, sizeof(*m_r));
		return STORE_ERR_NOTFOUND;
	}
	return store_maildir_index_mbox(mb->u, NULL, mb->id, m_r);
}

/* --- open / close --- */

/* Keywords used by any message of the mailbox, canonical. */
static char *smg_keywords(struct smd_user *u, int64_t id)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_KEYWORDS);
	sqlite3_bind_int64(s, 1, id);
	char *all = xstrdup("");
	while (sqlite3_step(s) == SQLITE_ROW) {
		char *next = store_keywords_apply(all, STORE_OP_ADD,
		                                  (const char *)sqlite3_column_text(s, 0));
		free(all);
		all = next;
	}
	store_maildir_index_done(u, s);
	return all;
}

static enum store_err smg_claim_recent(struct smd_user *u, struct smi_mbox *m, uint32_t *recent_r)
{
	*recent_r = m->recent_uid < m->uidnext ? m->recent_uid : UINT32_MAX;
	if (m->recent_uid >= m->uidnext)
		return STORE_OK;
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_SET_RECENT);
	sqlite3_bind_int64(s, 1, m->id);
	sqlite3_bind_int64(s, 2, m->uidnext);
	int rc = sqlite3_step(s);
	store_maildir_index_done(u, s);
	return rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, "recent");
}

static enum store_err smg_open(struct smd_user *u, const char *name, bool claim_recent,
                               struct smd_mailbox **mb_r, struct store_mailbox_info *info)
{
	struct smi_mbox m;
	enum store_err err = store_maildir_mbox_load_synced(u, name, &m);
	if (err != STORE_OK)
		return err;
	info->recent_uid = UINT32_MAX;
	if (claim_recent)
		err = smg_claim_recent(u, &m, &info->recent_uid);
	if (err == STORE_OK) {
		info->uidvalidity = m.uidvalidity;
		info->uidnext = m.uidnext;
		info->highestmodseq = m.highestmodseq;
		info->keywords = smg_keywords(u, m.id);
		struct smd_mailbox *mb = xcalloc(1, sizeof(*mb));
		mb->pub.ops = &store_maildir_ops;
		mb->u = u;
		mb->id = m.id;
		mb->highestmodseq = m.highestmodseq;
		mb->next = u->handles;
		u->handles = mb;
		*mb_r = mb;
	}
	store_maildir_index_mbox_free(&m);
	return err;
}

enum store_err store_maildir_msg_open(struct store_user *pu, const char *name, bool claim_recent,
                                      struct store_mailbox **mb_r,
                                      struct store_mailbox_info *info_r)
{
	struct smd_user *u = store_maildir_user_of(pu);
	struct smd_mailbox *mb = NULL;
	pthread_mutex_lock(&u->lock);
	enum store_err err = smg_open(u, name, claim_recent, &mb, info_r);
	pthread_mutex_unlock(&u->lock);
	if (err == STORE_OK) {
		*mb_r = &mb->pub;
		/* The handle keeps the user alive. */
		pthread_mutex_lock(&u->st->lock);
		u->refcount++;
		pthread_mutex_unlock(&u->st->lock);
	}
	return err;
}

void store_maildir_msg_close(struct store_mailbox *pmb)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	struct smd_user *u = mb->u;
	pthread_mutex_lock(&u->lock);
	struct smd_mailbox **pp = &u->handles;
	while (*pp != mb)
		pp = &(*pp)->next;
	*pp = mb->next;
	if (mb->fn != NULL)
		store_maildir_watch_remove(u, mb->id);
	pthread_mutex_unlock(&u->lock);
	free(mb);
	store_maildir_user_unref(&u->pub);
}

void store_maildir_msg_watch(struct store_mailbox *pmb, store_watch_fn *fn, void *ctx)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	struct smd_user *u = mb->u;
	pthread_mutex_lock(&u->lock);
	if (fn != NULL && mb->fn == NULL)
		store_maildir_watch_add(u, mb->id);
	else if (fn == NULL && mb->fn != NULL)
		store_maildir_watch_remove(u, mb->id);
	mb->fn = fn;
	mb->ctx = fn != NULL ? ctx : NULL;
	pthread_mutex_unlock(&u->lock);
}

enum store_err store_maildir_msg_sync_new(struct store_mailbox *pmb)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	pthread_mutex_lock(&mb->u->lock);
	enum store_err err =
	    mb->gone ? STORE_ERR_NOTFOUND : store_maildir_append_sync_new(mb->u, mb->id);
	pthread_mutex_unlock(&mb->u->lock);
	return err;
}

uint64_t store_maildir_msg_highestmodseq(struct store_mailbox *pmb)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	pthread_mutex_lock(&mb->u->lock);
	uint64_t v = mb->highestmodseq;
	pthread_mutex_unlock(&mb->u->lock);
	return v;
}

/* --- UIDs and metadata --- */

enum store_err store_maildir_msg_uids(struct store_mailbox *pmb, uint32_t **uids_r, size_t *n_r)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	struct smd_user *u = mb->u;
	pthread_mutex_lock(&u->lock);
	if (mb->gone) {
		pthread_mutex_unlock(&u->lock);
		return STORE_ERR_NOTFOUND;
	}
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_UID_LIST);
	sqlite3_bind_int64(s, 1, mb->id);
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	store_maildir_index_done(u, s);
	enum store_err err = rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, "uids");
	pthread_mutex_unlock(&u->lock);
	if (err != STORE_OK) {
		free(v);
		return err;
	}
	*uids_r = v;
	*n_r = n;
	return STORE_OK;
}

static void smg_msg_row(sqlite3_stmt *s, unsigned fields, struct store_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->uid = (uint32_t)sqlite3_column_int64(s, 0);
	m->flags = (uint32_t)sqlite3_column_int(s, 1);
	m->keywords = (const char *)sqlite3_column_text(s, 2);
	if (m->keywords == NULL)
		m->keywords = "";
	m->modseq = (uint64_t)sqlite3_column_int64(s, 3);
	m->internaldate = sqlite3_column_int64(s, 4);
	m->internaldate_tz = sqlite3_column_int(s, 5);
	m->size = (uint64_t)sqlite3_column_int64(s, 6);
	m->sent_date = -1;
	if (!(fields & STORE_FETCH_SUMMARY))
		return;
	m->envelope = (const char *)sqlite3_column_text(s, 7);
	m->bodystructure = (const char *)sqlite3_column_text(s, 8);
	m->body = (const char *)sqlite3_column_text(s, 9);
	m->parts = sqlite3_column_blob(s, 10);
	m->parts_len = (size_t)sqlite3_column_bytes(s, 10);
	m->sent_date = sqlite3_column_type(s, 11) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 11);
	m->sent_tz = sqlite3_column_int(s, 12);
}

/* Whether uids[0..n) (ascending) fill most of their range: then one range
 * scan reads them (SEARCH and FETCH 1:* of a large mailbox: ~0.3 us a
 * message instead of two B-tree seeks each, ~1.5 us). */
static bool smg_dense(const uint32_t *uids, size_t n)
{
	return n >= 16 && (uint64_t)(uids[n - 1] - uids[0]) + 1 <= 2 * (uint64_t)n;
}

/* One seek per message. User lock held. */
static enum store_err smg_fetch_each(struct smd_mailbox *mb, const uint32_t *uids, size_t n,
                                     unsigned fields, store_msg_fn *fn, void *ctx)
{
	struct smd_user *u = mb->u;
	enum store_err err = STORE_OK;
	for (size_t i = 0; i < n && err == STORE_OK; i++) {
		sqlite3_stmt *s = store_maildir_index_stmt(
		    u, fields & STORE_FETCH_SUMMARY ? SMI_MSG_GET : SMI_MSG_GET_META);
		sqlite3_bind_int64(s, 1, mb->id);
		sqlite3_bind_int64(s, 2, uids[i]);
		int rc = sqlite3_step(s);
		bool stop = false;
		if (rc == SQLITE_ROW) {
			struct store_msg m;
			smg_msg_row(s, fields, &m);
			stop = fn(ctx, &m) != 0;
		} else if (rc != SQLITE_DONE) {
			err = store_maildir_index_err(u, rc, "fetch");
		}
		store_maildir_index_done(u, s);
		if (stop)
			break;
	}
	return err;
}

/* One range scan from uids[0] to uids[n-1], skipping the rows not asked
 * for. User lock held. */
static enum store_err smg_fetch_range(struct smd_mailbox *mb, const uint32_t *uids, size_t n,
                                      unsigned fields, store_msg_fn *fn, void *ctx)
{
	struct smd_user *u = mb->u;
	sqlite3_stmt *s = store_maildir_index_stmt(
	    u, fields & STORE_FETCH_SUMMARY ? SMI_MSG_RANGE : SMI_MSG_RANGE_META);
	sqlite3_bind_int64(s, 1, mb->id);
	sqlite3_bind_int64(s, 2, uids[0]);
	sqlite3_bind_int64(s, 3, uids[n - 1]);
	size_t i = 0;
	int rc = SQLITE_DONE;
	while (i < n && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(s, 0);
		while (i < n && uids[i] < uid)
			i++;
		if (i == n || uids[i] != uid)
			continue;
		i++;
		struct store_msg m;
		smg_msg_row(s, fields, &m);
		if (fn(ctx, &m) != 0)
			break;
	}
	enum store_err err = STORE_OK;
	if (i < n && rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = store_maildir_index_err(u, rc, "fetch_range");
	store_maildir_index_done(u, s);
	return err;
}

enum store_err store_maildir_msg_fetch(struct store_mailbox *pmb, const uint32_t *uids, size_t n,
                                       unsigned fields, store_msg_fn *fn, void *ctx)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	struct smd_user *u = mb->u;
	pthread_mutex_lock(&u->lock);
	enum store_err err = STORE_ERR_NOTFOUND;
	if (!mb->gone && smg_dense(uids, n))
		err = smg_fetch_range(mb, uids, n, fields, fn, ctx);
	else if (!mb->gone)
		err = smg_fetch_each(mb, uids, n, fields, fn, ctx);
	pthread_mutex_unlock(&u->lock);
	return err;
}

/* --- bodies --- */

/* Opens a message file for reading without updating its access time:
 * with relatime the first read of each file would dirty its inode, and a
 * bulk FETCH of thousands of files then turns into a journal commit that
 * every other user's fsync waits behind. O_NOATIME needs the file's owner
 * (the server normally is); anyone else opens it plainly. */
static int smg_open_noatime(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd;
}

/* Opens the file of a message. User lock held. */
static enum store_err smg_body_fd(struct smd_mailbox *mb, uint32_t uid, int *fd_r)
{
	struct smd_user *u = mb->u;
	struct smi_mbox m;
	enum store_err err = smg_mbox(mb, &m);
	if (err != STORE_OK)
		return err == STORE_ERR_NOTFOUND ? STORE_ERR_EXPUNGED : err;
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_FILE);
	sqlite3_bind_int64(s, 1, mb->id);
	sqlite3_bind_int64(s, 2, uid);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		char *dir = store_maildir_path(u, m.dir, "cur");
		const char *file = (const char *)sqlite3_column_text(s, 0);
		size_t len = strlen(dir) + strlen(file) + 2;
		char *path = xmalloc(len);
		snprintf(path, len, "%s/%s", dir, file);
		*fd_r = smg_open_noatime(path);
		if (*fd_r < 0) {
			err = errno == ENOENT ? STORE_ERR_EXPUNGED : STORE_ERR_IO;
			if (err == STORE_ERR_IO)
				log_error("event=store_error user=%s op=open file=%s error=\"%s\"",
				          u->name, path, strerror(errno));
		}
		free(path);
		free(dir);
	} else {
		err =
		    rc == SQLITE_DONE ? STORE_ERR_EXPUNGED : store_maildir_index_err(u, rc, "body");
	}
	store_maildir_index_done(u, s);
	store_maildir_index_mbox_free(&m);
	return err;
}

enum store_err store_maildir_msg_body_open(struct store_mailbox *pmb, uint32_t uid,
                                           struct store_body **b_r)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	int fd = -1;
	pthread_mutex_lock(&mb->u->lock);
	enum store_err err = smg_body_fd(mb, uid, &fd);
	pthread_mutex_unlock(&mb->u->lock);
	if (err != STORE_OK)
		return err;
	struct stat stt;
	if (fstat(fd, &stt) < 0) {
		close(fd);
		return STORE_ERR_IO;
	}
	struct smd_body *b = xcalloc(1, sizeof(*b));
	b->pub.ops = &store_maildir_ops;
	b->fd = fd;
	b->size = (uint64_t)stt.st_size;
	*b_r = &b->pub;
	return STORE_OK;
}

uint64_t store_maildir_msg_body_size(const struct store_body *pb)
{
	return ((const struct smd_body *)pb)->size;
}

ssize_t store_maildir_msg_body_read(struct store_body *pb, void *buf, size_t len, uint64_t offset)
{
	struct smd_body *b = (struct smd_body *)pb;
	if (offset >= b->size)
		return 0;
	if (len > b->size - offset)
		len = (size_t)(b->size - offset);
	ssize_t n;
	do {
		n = pread(b->fd, buf, len, (off_t)offset);
	} while (n < 0 && errno == EINTR);
	return n;
}

const void *store_maildir_msg_body_map(struct store_body *pb)
{
	struct smd_body *b = (struct smd_body *)pb;
	if (b->map != NULL)
		return b->map;
	if (b->size == 0)
		return "";
	void *p = mmap(NULL, (size_t)b->size, PROT_READ, MAP_PRIVATE, b->fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	b->map = p;
	return p;
}

void store_maildir_msg_body_close(struct store_body *pb)
{
	struct smd_body *b = (struct smd_body *)pb;
	if (b->map != NULL)
		munmap(b->map, (size_t)b->size);
	close(b->fd);
	free(b);
}
