/* store_maildir_import: migration of whole mailboxes from another server
 * (`roost import-maildir`), keeping UIDVALIDITY and every UID so that mail
 * clients keep their caches (RFC 9051 §2.3.1.1: a UID is valid as long
 * as the UIDVALIDITY is unchanged).
 *
 * import_begin prepares an empty mailbox: it is created when missing, and
 * its row is reset to the old server's UIDVALIDITY with UIDNEXT 1 and no
 * tombstones (tombstones and UIDs of an earlier UIDVALIDITY mean nothing
 * under the new one). A mailbox that holds messages is refused: their
 * UIDs could clash. import_add writes each message like APPEND does (tmp/,
 * CRLF, fsync, rename into cur/ under a name carrying its UID, mtime =
 * internal date), so recovery can always rebuild rows from files; every
 * SMIM_BATCH messages, and at commit, one index transaction inserts the
 * pending rows and raises UIDNEXT. The final commit raises UIDNEXT to the
 * old server's and rewrites roost-uidvalidity, so a rebuilt index keeps
 * both. The user's lock is held from begin to commit/abort. */
#include "store/store_maildir.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

/* Messages per index transaction: big enough that the commit's fsync is
 * amortized, small enough that a crash or failure loses little work. */
#define SMIM_BATCH 500

struct smd_import {
	struct store_import pub;
	struct smd_user *u;
	int64_t mbox_id;
	char *dir;
	uint32_t uidvalidity;
	uint32_t last_uid;              /* highest UID added, 0 before the first */
	uint64_t modseq;                /* the mailbox's highest modseq */
	struct sma_added v[SMIM_BATCH]; /* pending (written, not yet in the index) */
	size_t n;
};

static void smim_clear(struct smd_import *im)
{
	for (size_t i = 0; i < im->n; i++)
		store_maildir_append_added_clear(&im->v[i]);
	im->n = 0;
}

static void smim_free(struct smd_import *im)
{
	struct smd_user *u = im->u;
	smim_clear(im);
	free(im->dir);
	free(im);
	store_maildir_write_unlock(u);
	pthread_mutex_unlock(&u->lock);
}

/* Runs one ad hoc statement binding ?1 = id (and ?2 = v when v >= 0);
 * stores the first column of a result row in *out_r when given. */
static enum store_err smim_sql(struct smd_user *u, const char *sql, int64_t id, int64_t v,
                               int64_t *out_r)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(u->db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, id);
		if (v >= 0)
			sqlite3_bind_int64(s, 2, v);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && out_r != NULL)
			*out_r = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_maildir_index_err(u, rc, "import");
	return STORE_OK;
}

/* Loads the target's row, creating the mailbox (and parents) when it is
 * missing or only a \Noselect parent. */
static enum store_err smim_load(struct smd_user *u, const char *name, struct smi_mbox *m_r)
{
	enum store_err err = store_maildir_index_mbox(u, name, 0, m_r);
	if (err == STORE_OK && !m_r->noselect)
		return STORE_OK;
	if (err != STORE_OK && err != STORE_ERR_NOTFOUND)
		return err;
	store_maildir_index_mbox_free(m_r);
	err = store_maildir_mbox_create(&u->pub, name, 0);
	if (err == STORE_OK)
		err = store_maildir_index_mbox(u, name, 0, m_r);
	return err;
}

/* Gives an empty mailbox the old UIDVALIDITY, UIDNEXT 1, no tombstones. */
static enum store_err smim_reset(struct smd_user *u, const struct smi_mbox *m, uint32_t uidvalidity)
{
	int64_t count = 0;
	enum store_err err =
	    smim_sql(u, "SELECT count(*) FROM messages WHERE mailbox_id = ?1", m->id, -1, &count);
	if (err != STORE_OK)
		return err;
	if (count > 0 || (m->uidvalidity == uidvalidity && m->uidnext > 1)) {
		log_error("event=import_refused user=%s mailbox=\"%s\" messages=%lld", u->name,
		          m->name, (long long)count);
		return STORE_ERR_EXISTS;
	}
	err = store_maildir_index_begin(u);
	if (err == STORE_OK)
		err = smim_sql(u,
		               "UPDATE mailboxes SET uidvalidity = ?2, uidnext = 1, recent_uid = 1"
		               " WHERE id = ?1",
		               m->id, uidvalidity, NULL);
	if (err == STORE_OK)
		err = smim_sql(u, "DELETE FROM expunged WHERE mailbox_id = ?1", m->id, -1, NULL);
	/* Mailboxes created later must not reuse this UIDVALIDITY. */
	if (err == STORE_OK)
		err = store_maildir_index_note_uidvalidity(u, uidvalidity);
	if (err != STORE_OK) {
		store_maildir_index_rollback(u);
		return err;
	}
	err = store_maildir_index_commit(u);
	if (err == STORE_OK && store_maildir_write_uidvalidity(u, m->dir, uidvalidity, 1) < 0)
		err = STORE_ERR_IO;
	return err;
}

enum store_err store_maildir_import_begin(struct store_user *pu, const char *mailbox,
                                          uint32_t uidvalidity, struct store_import **im_r)
{
	struct smd_user *u = store_maildir_user_of(pu);
	if (uidvalidity == 0)
		return STORE_ERR_LIMIT;
	store_maildir_write_lock(u);
	pthread_mutex_lock(&u->lock);
	struct smi_mbox m;
	enum store_err err = smim_load(u, mailbox, &m);
	if (err == STORE_OK)
		err = smim_reset(u, &m, uidvalidity);
	if (err != STORE_OK) {
		store_maildir_index_mbox_free(&m);
		store_maildir_write_unlock(u);
		pthread_mutex_unlock(&u->lock);
		return err;
	}
	struct smd_import *im = xcalloc(1, sizeof(*im));
	im->pub.ops = &store_maildir_ops;
	im->u = u;
	im->mbox_id = m.id;
	im->dir = m.dir;
	m.dir = NULL;
	im->uidvalidity = uidvalidity;
	im->modseq = m.highestmodseq;
	store_maildir_index_mbox_free(&m);
	*im_r = &im->pub;
	return STORE_OK;
}

/* Inserts the pending rows and raises UIDNEXT in one transaction, after
 * the files' directory entries are durable (store_maildir_append_sync_cur). */
static enum store_err smim_flush(struct smd_import *im, uint32_t uidnext)
{
	enum store_err err = store_maildir_append_sync_cur(im->u, im->dir, im->n);
	if (err == STORE_OK)
		err = store_maildir_append_rows(im->u, im->mbox_id, im->dir, im->v, im->n, uidnext,
		                                im->modseq, &im->modseq);
	if (err == STORE_OK)
		smim_clear(im);
	return err;
}

enum store_err store_maildir_import_add(struct store_import *pim, const struct store_new_msg *msg,
                                        uint32_t uid)
{
	struct smd_import *im = (struct smd_import *)pim;
	if (uid <= im->last_uid)
		return STORE_ERR_EXISTS;
	if (im->n == SMIM_BATCH) {
		enum store_err err = smim_flush(im, im->last_uid + 1);
		if (err != STORE_OK)
			return err;
	}
	int64_t date = msg->internaldate >= 0 ? msg->internaldate : (int64_t)time(NULL);
	uint32_t flags = msg->flags & STORE_FLAGS_ALL;
	struct smm_written w;
	if (store_maildir_write(im->u, im->dir, msg->data, msg->len, -1, uid, flags, date, &w) < 0)
		return STORE_ERR_IO;
	struct sma_added *e = &im->v[im->n++];
	store_maildir_append_added_init(e, uid, &w, flags, date);
	e->keywords = store_keywords_canon(msg->keywords);
	im->last_uid = uid;
	return STORE_OK;
}

enum store_err store_maildir_import_commit(struct store_import *pim, uint32_t uidnext)
{
	struct smd_import *im = (struct smd_import *)pim;
	struct smd_user *u = im->u;
	if (uidnext <= im->last_uid)
		uidnext = im->last_uid + 1;
	enum store_err err = smim_flush(im, uidnext);
	/* A migrated mailbox has been read before: nothing in it is new. */
	if (err == STORE_OK)
		err = smim_sql(u, "UPDATE mailboxes SET recent_uid = ?2 WHERE id = ?1", im->mbox_id,
		               uidnext, NULL);
	if (err == STORE_OK &&
	    store_maildir_write_uidvalidity(u, im->dir, im->uidvalidity, uidnext) < 0)
		err = STORE_ERR_IO;
	if (err != STORE_OK)
		store_maildir_import_abort(pim);
	else
		smim_free(im);
	return err;
}

void store_maildir_import_abort(struct store_import *pim)
{
	struct smd_import *im = (struct smd_import *)pim;
	for (size_t i = 0; i < im->n; i++)
		store_maildir_change_unlink(im->u, im->dir, im->v[i].file);
	smim_free(im);
}
