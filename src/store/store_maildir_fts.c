/* store_maildir_fts: the maildir backend's full-text index for SEARCH
 * BODY / TEXT (store.h store_fts_search).
 *
 * A separate SQLite database per user, <user dir>/roost-fts.sqlite, beside
 * index.sqlite: a cache that may be deleted at any time (it is rebuilt on
 * demand, message by message, when searches need it), so the main index
 * stays small and its durability rules do not apply here (WAL with
 * synchronous=NORMAL: a crash may lose the last batches, never consistency
 * between docs and fts, which change in the same transaction).
 *
 * Schema (PRAGMA user_version = 2; another version is deleted and rebuilt):
 *   docs(docid INTEGER PRIMARY KEY AUTOINCREMENT, mailbox_id, uidvalidity,
 *        uid, UNIQUE(mailbox_id, uidvalidity, uid))
 *   fts  FTS5 (hdr, body, f0..f4), contentless (content=''),
 *        tokenize='trigram case_sensitive 1', detail='full';
 *        rowid = docs.docid; f0..f4 the top-level From, To, Cc, Bcc and
 *        Subject fields apart (mail_search_fields), for SEARCH FROM etc.
 *   meta(key, value)   "garbage": fts rows whose docs row was dropped
 * A message's content never changes for (mailbox_id, uidvalidity, uid), so
 * that key is safe to cache under. The text is mail_search_text()'s output
 * (mail/mime.h): what the scanner matches, folded as it folds, with a
 * separator between fields and parts. A phrase query of trigrams with
 * positions (detail=full) on that text is an exact substring test, so hits
 * need no verification.
 *
 * Expunged messages: a contentless table cannot delete a row without its
 * original text, so catch-up drops only the docs row; the fts row stays as
 * garbage that no query can reach (AUTOINCREMENT never reuses a docid).
 * When garbage exceeds both the live rows and SMF_REBUILD_MIN, the
 * database is deleted and indexing starts anew.
 *
 * Up to date, cheaply: UIDs only grow, so when the docs of a mailbox have
 * the same count and highest UID as its messages, both sets are equal (a
 * new message would raise the highest UID, an expunge lower the count).
 * Otherwise catch-up merges the two UID lists.
 *
 * Two paths:
 *   - store_fts_search_indexed (searches, at the sessions' priority)
 *     never indexes: it answers from the index as it stands, and lists
 *     the messages not indexed yet as missing (the caller scans them).
 *     When the index covers the mailbox (the cheap check above) that is
 *     one query per key; otherwise both UID lists are read, the missing
 *     ones are returned and hits of expunged messages are dropped. It
 *     asks its caller to queue background indexing (index_later), once:
 *     a claim with a time stamp, refreshed by each indexing call and
 *     released when nothing is left, so a lost job only delays the next
 *     claim by SMF_CLAIM_TTL_MS.
 *   - store_fts_search / store_fts_index catch up within the time budget
 *     (for a low-priority pool), then answer.
 *
 * Locking: the index's connection has its own mutex (smf_index.lock),
 * held for one query, one phase of a catch-up or one batch of messages,
 * so a search waits at most for one batch; smf_index.indexer makes
 * catch-ups take turns. The user's lock is taken only inside, for each
 * short read of the main index or a message (store_maildir_msg_*), so
 * the user's other sessions wait at most one batch's metadata read.
 * Order: indexer, index lock, then user lock; never the reverse. */
#include "store/store_maildir.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mail/mime.h"

#define SMF_VERSION 2
/* Messages and text bytes per indexing transaction. */
#define SMF_BATCH       256
#define SMF_BATCH_BYTES (32u * 1024 * 1024)
/* Indexing time of one catch-up call (store_settings fts_catch_up_ms
 * overrides it): a background job indexes this long, then queues the
 * next, so the index pool is shared between users and shutdown is not
 * held up (100,000 messages take minutes to index). */
#define SMF_CATCH_UP_MS 2000
/* Garbage rows that justify a rebuild (when also more than the live rows). */
#define SMF_REBUILD_MIN 1000

static const char smf_schema[] =
    "CREATE TABLE IF NOT EXISTS docs(docid INTEGER PRIMARY KEY AUTOINCREMENT,"
    " mailbox_id INTEGER NOT NULL, uidvalidity INTEGER NOT NULL, uid INTEGER NOT NULL,"
    " UNIQUE(mailbox_id, uidvalidity, uid));"
    "CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(hdr, body, f0, f1, f2, f3, f4,"
    " tokenize = 'trigram case_sensitive 1', content = '', detail = 'full');"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "PRAGMA user_version = 2;";

enum smf_stmt {
	SMF_DOC_INSERT,
	SMF_FTS_INSERT,
	SMF_DOC_UIDS,
	SMF_DOC_DELETE,
	SMF_DOC_STATS,
	SMF_DOC_COUNT,
	SMF_DOC_MAILBOXES,
	SMF_DOC_DELETE_MBOX,
	SMF_MATCH,
	SMF_META_GET,
	SMF_META_SET,
	SMF_COUNT
};

static const char *const smf_sql[SMF_COUNT] = {
    [SMF_DOC_INSERT] = "INSERT INTO docs(mailbox_id, uidvalidity, uid) VALUES(?1, ?2, ?3)",
    [SMF_FTS_INSERT] = "INSERT INTO fts(rowid, hdr, body, f0, f1, f2, f3, f4)"
                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [SMF_DOC_UIDS] = "SELECT uid FROM docs WHERE mailbox_id = ?1 AND uidvalidity = ?2"
                     " ORDER BY uid",
    [SMF_DOC_DELETE] = "DELETE FROM docs WHERE mailbox_id = ?1 AND uidvalidity = ?2"
                       " AND uid = ?3",
    [SMF_DOC_STATS] = "SELECT count(*), coalesce(max(uid), 0) FROM docs"
                      " WHERE mailbox_id = ?1 AND uidvalidity = ?2",
    [SMF_DOC_COUNT] = "SELECT count(*) FROM docs",
    [SMF_DOC_MAILBOXES] = "SELECT DISTINCT mailbox_id, uidvalidity FROM docs",
    [SMF_DOC_DELETE_MBOX] = "DELETE FROM docs WHERE mailbox_id = ?1 AND uidvalidity = ?2",
    /* CROSS JOIN: the MATCH drives, docs is looked up by docid. */
    [SMF_MATCH] = "SELECT d.uid FROM fts CROSS JOIN docs d ON d.docid = fts.rowid"
                  " WHERE fts MATCH ?1 AND d.mailbox_id = ?2 AND d.uidvalidity = ?3",
    [SMF_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [SMF_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
};

/* A claim on background indexing older than this is taken again (its
 * job was lost, or the index pool is starved: a second job only waits
 * for the first at the indexer lock). */
#define SMF_CLAIM_TTL_MS 30000

struct smf_index {
	pthread_mutex_t lock;    /* the connection */
	pthread_mutex_t indexer; /* one catch-up at a time */
	/* Background indexing claimed at this time (ms, monotonic); 0 none. */
	_Atomic uint64_t claim_ms;
	sqlite3 *db;
	sqlite3_stmt *stmts[SMF_COUNT];
};

/* What one search works on: the mailbox, and its key in docs. */
struct smf_ctx {
	struct smd_user *u;
	struct store_mailbox *pmb;
	struct smf_index *x;
	int64_t mbox_id;
	uint32_t uidvalidity;
	struct store_fts_info *info;
	uint32_t *missing;
	size_t n_missing, cap_missing;
};

/* A growable UID list. */
struct smf_uids {
	uint32_t *v;
	size_t n, cap;
};

static void smf_uids_add(struct smf_uids *l, uint32_t uid)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = uid;
}

static enum store_err smf_err(struct smf_ctx *c, int rc, const char *what)
{
	log_error("event=store_fts_error user=%s op=%s sqlite=\"%s\"", c->u->name, what,
	          c->x->db != NULL ? sqlite3_errmsg(c->x->db) : sqlite3_errstr(rc));
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
		return STORE_ERR_CORRUPT;
	return rc == SQLITE_FULL ? STORE_ERR_OVERQUOTA : STORE_ERR_IO;
}

static sqlite3_stmt *smf_stmt(struct smf_index *x, enum smf_stmt id)
{
	sqlite3_stmt *s = x->stmts[id];
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int smf_exec(struct smf_index *x, const char *sql)
{
	return sqlite3_exec(x->db, sql, NULL, NULL, NULL);
}

/* --- opening, closing, rebuilding --- */

static char *smf_path(const struct smd_user *u, const char *suffix)
{
	size_t len = strlen(u->dir) + 32;
	char *p = xmalloc(len);
	snprintf(p, len, "%s/roost-fts.sqlite%s", u->dir, suffix);
	return p;
}

static void smf_db_close(struct smf_index *x)
{
	for (size_t i = 0; i < SMF_COUNT; i++) {
		sqlite3_finalize(x->stmts[i]);
		x->stmts[i] = NULL;
	}
	if (x->db != NULL)
		sqlite3_close(x->db);
	x->db = NULL;
}

/* Deletes the database files (the index is a cache). */
static void smf_db_unlink(const struct smd_user *u)
{
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		char *p = smf_path(u, sfx[i]);
		if (unlink(p) < 0 && errno != ENOENT)
			log_warn("event=store_fts_unlink user=%s file=%s error=\"%s\"", u->name, p,
			         strerror(errno));
		free(p);
	}
}

static int smf_try_open(struct smf_index *x, const char *path)
{
	int rc = sqlite3_open_v2(
	    path, &x->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_busy_timeout(x->db, 10000);
	/* One process owns the user (as with index.sqlite): lock once. */
	rc = smf_exec(x, "PRAGMA locking_mode = EXCLUSIVE");
	if (rc == SQLITE_OK)
		rc = smf_exec(x, "PRAGMA journal_mode = WAL");
	if (rc == SQLITE_OK)
		rc = smf_exec(x, "PRAGMA synchronous = NORMAL");
	sqlite3_stmt *s = NULL;
	int version = -1;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(x->db, "PRAGMA user_version", -1, &s, NULL);
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (rc == SQLITE_OK && version != 0 && version != SMF_VERSION)
		return SQLITE_NOTADB; /* another layout: start anew */
	if (rc == SQLITE_OK && version == 0)
		rc = smf_exec(x, smf_schema);
	for (size_t i = 0; i < SMF_COUNT && rc == SQLITE_OK; i++)
		rc = sqlite3_prepare_v3(x->db, smf_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                        &x->stmts[i], NULL);
	return rc;
}

/* Opens the database, deleting and recreating it when it is damaged or
 * of another layout. Index lock held. */
static enum store_err smf_open(struct smf_ctx *c)
{
	if (c->x->db != NULL)
		return STORE_OK;
	char *path = smf_path(c->u, "");
	int rc = smf_try_open(c->x, path);
	if (rc != SQLITE_OK) {
		log_warn("event=store_fts_reset user=%s reason=\"%s\"", c->u->name,
		         sqlite3_errstr(rc));
		smf_db_close(c->x);
		smf_db_unlink(c->u);
		rc = smf_try_open(c->x, path);
	}
	free(path);
	if (rc != SQLITE_OK) {
		enum store_err err = smf_err(c, rc, "fts_open");
		smf_db_close(c->x);
		return err;
	}
	return STORE_OK;
}

/* Starts the index anew (garbage outgrew it, or it is damaged). */
static enum store_err smf_rebuild(struct smf_ctx *c)
{
	log_info("event=store_fts_rebuild user=%s", c->u->name);
	smf_db_close(c->x);
	smf_db_unlink(c->u);
	c->info->rebuilt = true;
	return smf_open(c);
}

void store_maildir_fts_close(struct smd_user *u)
{
	struct smf_index *x = u->fts;
	if (x == NULL)
		return;
	smf_db_close(x);
	pthread_mutex_destroy(&x->lock);
	pthread_mutex_destroy(&x->indexer);
	free(x);
	u->fts = NULL;
}

/* --- the main index's side (user lock taken here) --- */

/* The mailbox's UIDVALIDITY, message count and highest UID; creates the
 * user's index object on first use. */
static enum store_err smf_mailbox_state(struct smf_ctx *c, uint32_t *count_r, uint32_t *max_r)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(c->pmb);
	struct smd_user *u = c->u;
	pthread_mutex_lock(&u->lock);
	struct smi_mbox m;
	enum store_err err =
	    mb->gone ? STORE_ERR_NOTFOUND : store_maildir_index_mbox(u, NULL, mb->id, &m);
	if (err == STORE_OK) {
		c->mbox_id = m.id;
		c->uidvalidity = m.uidvalidity;
		store_maildir_index_mbox_free(&m);
		sqlite3_stmt *s = NULL;
		int rc = sqlite3_prepare_v2(u->db,
		                            "SELECT count(*), coalesce(max(uid), 0) FROM messages"
		                            " WHERE mailbox_id = ?1",
		                            -1, &s, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(s, 1, c->mbox_id);
			rc = sqlite3_step(s);
		}
		if (rc == SQLITE_ROW) {
			*count_r = (uint32_t)sqlite3_column_int64(s, 0);
			*max_r = (uint32_t)sqlite3_column_int64(s, 1);
		} else {
			err = store_maildir_index_err(u, rc, "fts_mailbox_state");
		}
		sqlite3_finalize(s);
	}
	if (err == STORE_OK && u->fts == NULL) {
		u->fts = xcalloc(1, sizeof(*u->fts));
		pthread_mutex_init(&u->fts->lock, NULL);
		pthread_mutex_init(&u->fts->indexer, NULL);
	}
	pthread_mutex_unlock(&u->lock);
	return err;
}

/* Whether the user's mailboxes include (id, uidvalidity). */
static bool smf_mailbox_live(struct smd_user *u, int64_t id, uint32_t uidvalidity)
{
	pthread_mutex_lock(&u->lock);
	struct smi_mbox m;
	bool live = store_maildir_index_mbox(u, NULL, id, &m) == STORE_OK;
	if (live) {
		live = m.uidvalidity == uidvalidity && !m.noselect;
		store_maildir_index_mbox_free(&m);
	}
	pthread_mutex_unlock(&u->lock);
	return live;
}

/* --- catch-up --- */

static enum store_err smf_meta_get(struct smf_ctx *c, const char *key, int64_t *v_r)
{
	sqlite3_stmt *s = smf_stmt(c->x, SMF_META_GET);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	*v_r = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : smf_err(c, rc, "fts_meta");
}

static enum store_err smf_step_done(struct smf_ctx *c, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? STORE_OK : smf_err(c, rc, what);
}

static enum store_err smf_begin(struct smf_ctx *c)
{
	int rc = smf_exec(c->x, "BEGIN IMMEDIATE");
	return rc == SQLITE_OK ? STORE_OK : smf_err(c, rc, "fts_begin");
}

static enum store_err smf_finish(struct smf_ctx *c, enum store_err err)
{
	int rc = smf_exec(c->x, err == STORE_OK ? "COMMIT" : "ROLLBACK");
	if (err == STORE_OK && rc != SQLITE_OK) {
		err = smf_err(c, rc, "fts_commit");
		smf_exec(c->x, "ROLLBACK");
	}
	return err;
}

/* Adds `dropped` to the garbage count; inside a transaction. */
static enum store_err smf_add_garbage(struct smf_ctx *c, int64_t dropped)
{
	int64_t garbage = 0;
	enum store_err err = smf_meta_get(c, "garbage", &garbage);
	if (err != STORE_OK || dropped == 0)
		return err;
	sqlite3_stmt *s = smf_stmt(c->x, SMF_META_SET);
	sqlite3_bind_text(s, 1, "garbage", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, garbage + dropped);
	c->info->dropped += (size_t)dropped;
	return smf_step_done(c, s, "fts_meta_set");
}

/* Drops the docs rows of mailboxes that no longer exist (deleted, or
 * recreated under a new UIDVALIDITY). Inside a transaction. */
static enum store_err smf_drop_dead_mailboxes(struct smf_ctx *c, int64_t *dropped_r)
{
	struct {
		int64_t id;
		uint32_t uidvalidity;
	} *dead = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s = smf_stmt(c->x, SMF_DOC_MAILBOXES);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		uint32_t v = (uint32_t)sqlite3_column_int64(s, 1);
		if (smf_mailbox_live(c->u, id, v))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			dead = xrealloc(dead, cap * sizeof(*dead));
		}
		dead[n].id = id;
		dead[n++].uidvalidity = v;
	}
	sqlite3_reset(s);
	enum store_err err = rc == SQLITE_DONE ? STORE_OK : smf_err(c, rc, "fts_mailboxes");
	for (size_t i = 0; i < n && err == STORE_OK; i++) {
		s = smf_stmt(c->x, SMF_DOC_DELETE_MBOX);
		sqlite3_bind_int64(s, 1, dead[i].id);
		sqlite3_bind_int64(s, 2, dead[i].uidvalidity);
		err = smf_step_done(c, s, "fts_drop_mailbox");
		*dropped_r += sqlite3_changes(c->x->db);
	}
	free(dead);
	return err;
}

/* Drops the docs rows of expunged messages (and of dead mailboxes) in one
 * transaction and counts them as garbage. */
static enum store_err smf_drop(struct smf_ctx *c, const struct smf_uids *gone)
{
	enum store_err err = smf_begin(c);
	if (err != STORE_OK)
		return err;
	int64_t dropped = 0;
	for (size_t i = 0; i < gone->n && err == STORE_OK; i++) {
		sqlite3_stmt *s = smf_stmt(c->x, SMF_DOC_DELETE);
		sqlite3_bind_int64(s, 1, c->mbox_id);
		sqlite3_bind_int64(s, 2, c->uidvalidity);
		sqlite3_bind_int64(s, 3, gone->v[i]);
		err = smf_step_done(c, s, "fts_drop");
		dropped += sqlite3_changes(c->x->db);
	}
	if (err == STORE_OK)
		err = smf_drop_dead_mailboxes(c, &dropped);
	if (err == STORE_OK)
		err = smf_add_garbage(c, dropped);
	return smf_finish(c, err);
}

/* Whether garbage outgrew the live rows (and SMF_REBUILD_MIN). */
static enum store_err smf_too_much_garbage(struct smf_ctx *c, bool *rebuild_r)
{
	int64_t garbage = 0, live = 0;
	*rebuild_r = false;
	enum store_err err = smf_meta_get(c, "garbage", &garbage);
	if (err != STORE_OK || garbage <= SMF_REBUILD_MIN)
		return err;
	sqlite3_stmt *s = smf_stmt(c->x, SMF_DOC_COUNT);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		live = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return smf_err(c, rc, "fts_count");
	*rebuild_r = garbage > live;
	return STORE_OK;
}

/* One message to index: its part tree, copied out of the fetch callback. */
struct smf_msg {
	uint32_t uid;
	void *parts;
	size_t parts_len;
};

struct smf_batch {
	struct smf_msg *v;
	size_t n;
	char *data; /* message bytes, reused */
	size_t data_cap;
	struct buf hdr, body, fields[MAIL_SEARCH_FIELDS];
};

static int smf_fetch_cb(void *ctx, const struct store_msg *m)
{
	struct smf_batch *b = ctx;
	struct smf_msg *e = &b->v[b->n++];
	e->uid = m->uid;
	e->parts = NULL;
	e->parts_len = 0;
	if (m->parts != NULL && m->parts_len > 0) {
		e->parts = xmalloc(m->parts_len);
		memcpy(e->parts, m->parts, m->parts_len);
		e->parts_len = m->parts_len;
	}
	return 0;
}

static void smf_batch_clear(struct smf_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].parts);
	b->n = 0;
}

static void smf_missing_add(struct smf_ctx *c, uint32_t uid)
{
	if (c->n_missing == c->cap_missing) {
		c->cap_missing = c->cap_missing ? c->cap_missing * 2 : 16;
		c->missing = xrealloc(c->missing, c->cap_missing * sizeof(*c->missing));
	}
	c->missing[c->n_missing++] = uid;
}

/* Reads one message whole into b->data. 0, 1 when it is gone (expunged,
 * or its file vanished: the scanner would not match it either), -1 on
 * an I/O error. */
static int smf_read(struct smf_ctx *c, struct smf_batch *b, uint32_t uid, size_t *len_r)
{
	struct store_body *pb = NULL;
	enum store_err err = store_maildir_msg_body_open(c->pmb, uid, &pb);
	if (err != STORE_OK)
		return err == STORE_ERR_EXPUNGED ? 1 : -1;
	uint64_t size = store_maildir_msg_body_size(pb);
	if (size + 1 > b->data_cap) {
		free(b->data);
		b->data_cap = (size_t)size + 1;
		b->data = xmalloc(b->data_cap);
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = store_maildir_msg_body_read(pb, b->data + got, (size_t)size - got, got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	store_maildir_msg_body_close(pb);
	*len_r = got;
	return got == size ? 0 : -1;
}

/* Inserts one message's docs row and text. Inside a transaction. */
static enum store_err smf_insert(struct smf_ctx *c, struct smf_batch *b, uint32_t uid)
{
	sqlite3_stmt *s = smf_stmt(c->x, SMF_DOC_INSERT);
	sqlite3_bind_int64(s, 1, c->mbox_id);
	sqlite3_bind_int64(s, 2, c->uidvalidity);
	sqlite3_bind_int64(s, 3, uid);
	enum store_err err = smf_step_done(c, s, "fts_doc_insert");
	if (err != STORE_OK)
		return err;
	s = smf_stmt(c->x, SMF_FTS_INSERT);
	sqlite3_bind_int64(s, 1, sqlite3_last_insert_rowid(c->x->db));
	sqlite3_bind_text(s, 2, buf_rdata(&b->hdr), (int)buf_rlen(&b->hdr), SQLITE_STATIC);
	sqlite3_bind_text(s, 3, buf_rdata(&b->body), (int)buf_rlen(&b->body), SQLITE_STATIC);
	for (int k = 0; k < MAIL_SEARCH_FIELDS; k++)
		sqlite3_bind_text(s, 4 + k, buf_rdata(&b->fields[k]), (int)buf_rlen(&b->fields[k]),
		                  SQLITE_STATIC);
	err = smf_step_done(c, s, "fts_insert");
	if (err == STORE_OK)
		c->info->indexed++;
	return err;
}

/* Indexes the fetched batch in one transaction. Messages that cannot be
 * read go to the missing list (the caller scans them). */
static enum store_err smf_index_batch(struct smf_ctx *c, struct smf_batch *b)
{
	enum store_err err = smf_begin(c);
	for (size_t i = 0; i < b->n && err == STORE_OK; i++) {
		size_t len = 0;
		int r = smf_read(c, b, b->v[i].uid, &len);
		if (r != 0) {
			if (r < 0)
				smf_missing_add(c, b->v[i].uid);
			continue;
		}
		b->hdr.len = b->hdr.rpos = 0;
		b->body.len = b->body.rpos = 0;
		mail_search_text(b->data, len, b->v[i].parts, b->v[i].parts_len, &b->hdr, &b->body);
		for (int k = 0; k < MAIL_SEARCH_FIELDS; k++)
			b->fields[k].len = b->fields[k].rpos = 0;
		mail_search_fields(b->data, len, b->fields);
		/* The fields are parts of the header text: its bound covers them. */
		if (buf_rlen(&b->hdr) > INT32_MAX / 2 || buf_rlen(&b->body) > INT32_MAX / 2) {
			smf_missing_add(c, b->v[i].uid); /* beyond SQLite's limits: scan it */
			continue;
		}
		err = smf_insert(c, b, b->v[i].uid);
	}
	return smf_finish(c, err);
}

static uint64_t smf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Indexes add[0..n): per batch, the part trees in one metadata read, then
 * each message's bytes, under the index lock; past SMF_CATCH_UP_MS the
 * rest is left for later (and listed as missing: this search scans it).
 * Indexer lock held. */
static enum store_err smf_index_all(struct smf_ctx *c, const struct smf_uids *add)
{
	struct smf_batch b = {.v = xmalloc(SMF_BATCH * sizeof(*b.v))};
	enum store_err err = STORE_OK;
	uint64_t start = smf_now_ms();
	uint64_t budget = c->u->st->fts_catch_up_ms ? c->u->st->fts_catch_up_ms : SMF_CATCH_UP_MS;
	for (size_t at = 0; at < add->n && err == STORE_OK;) {
		if (smf_now_ms() - start >= budget) {
			c->info->deferred = add->n - at;
			for (; at < add->n; at++)
				smf_missing_add(c, add->v[at]);
			break;
		}
		size_t n = add->n - at < SMF_BATCH ? add->n - at : SMF_BATCH;
		err = store_maildir_msg_fetch(c->pmb, add->v + at, n, STORE_FETCH_SUMMARY,
		                              smf_fetch_cb, &b);
		if (err == STORE_OK) {
			pthread_mutex_lock(&c->x->lock);
			err = smf_open(c); /* a search may have found it damaged */
			if (err == STORE_OK)
				err = smf_index_batch(c, &b);
			pthread_mutex_unlock(&c->x->lock);
		}
		smf_batch_clear(&b);
		at += n;
	}
	free(b.v);
	free(b.data);
	buf_release(&b.hdr);
	buf_release(&b.body);
	for (int k = 0; k < MAIL_SEARCH_FIELDS; k++)
		buf_release(&b.fields[k]);
	return err;
}

/* The docs UIDs of the mailbox, ascending. */
static enum store_err smf_doc_uids(struct smf_ctx *c, struct smf_uids *l)
{
	sqlite3_stmt *s = smf_stmt(c->x, SMF_DOC_UIDS);
	sqlite3_bind_int64(s, 1, c->mbox_id);
	sqlite3_bind_int64(s, 2, c->uidvalidity);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		smf_uids_add(l, (uint32_t)sqlite3_column_int64(s, 0));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? STORE_OK : smf_err(c, rc, "fts_doc_uids");
}

/* Splits the mailbox's UIDs and the indexed ones (both ascending) into
 * those to add and those to drop. */
static void smf_merge(const uint32_t *mbox, size_t nm, const struct smf_uids *docs,
                      struct smf_uids *add, struct smf_uids *gone)
{
	size_t i = 0, j = 0;
	while (i < nm || j < docs->n) {
		if (j == docs->n || (i < nm && mbox[i] < docs->v[j])) {
			smf_uids_add(add, mbox[i++]);
		} else if (i == nm || docs->v[j] < mbox[i]) {
			smf_uids_add(gone, docs->v[j++]);
		} else {
			i++;
			j++;
		}
	}
}

/* The first phase of a catch-up, under the index lock: the UIDs to add;
 * the expunged ones dropped, the database rebuilt when garbage outgrew
 * it. */
static enum store_err smf_catch_up_plan(struct smf_ctx *c, struct smf_uids *add)
{
	uint32_t *mbox = NULL;
	size_t nm = 0;
	struct smf_uids docs = {0}, gone = {0};
	enum store_err err = smf_open(c);
	if (err == STORE_OK)
		err = store_maildir_msg_uids(c->pmb, &mbox, &nm);
	if (err == STORE_OK)
		err = smf_doc_uids(c, &docs);
	if (err == STORE_OK) {
		smf_merge(mbox, nm, &docs, add, &gone);
		err = smf_drop(c, &gone);
	}
	bool rebuild = false;
	if (err == STORE_OK)
		err = smf_too_much_garbage(c, &rebuild);
	if (err == STORE_OK && rebuild) {
		err = smf_rebuild(c);
		add->n = 0;
		for (size_t i = 0; i < nm; i++)
			smf_uids_add(add, mbox[i]);
	}
	free(mbox);
	free(docs.v);
	free(gone.v);
	return err;
}

/* Brings the mailbox's docs to its messages: drops, maybe rebuilds, adds.
 * Indexer lock held; the index lock is taken per phase and batch. */
static enum store_err smf_catch_up(struct smf_ctx *c)
{
	struct smf_uids add = {0};
	pthread_mutex_lock(&c->x->lock);
	enum store_err err = smf_catch_up_plan(c, &add);
	pthread_mutex_unlock(&c->x->lock);
	if (err == STORE_OK)
		err = smf_index_all(c, &add);
	free(add.v);
	return err;
}

/* Whether the docs of the mailbox match its count and highest UID (then
 * they are the same set: see the top of the file). */
static enum store_err smf_up_to_date(struct smf_ctx *c, uint32_t count, uint32_t max, bool *r)
{
	sqlite3_stmt *s = smf_stmt(c->x, SMF_DOC_STATS);
	sqlite3_bind_int64(s, 1, c->mbox_id);
	sqlite3_bind_int64(s, 2, c->uidvalidity);
	int rc = sqlite3_step(s);
	*r = rc == SQLITE_ROW && (uint32_t)sqlite3_column_int64(s, 0) == count &&
	     (uint32_t)sqlite3_column_int64(s, 1) == max;
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? STORE_OK : smf_err(c, rc, "fts_doc_stats");
}

/* --- queries --- */

static int smf_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The FTS5 query: one phrase (quotes doubled), limited to the columns of
 * the query's scope. TEXT names no column: the field columns hold copies
 * of parts of hdr (mail_search_fields walks the same top-level header),
 * so they add no match, and a column filter costs about a third more. */
static char *smf_match_expr(const struct store_fts_query *q)
{
	struct buf e = {0};
	if (q->scope == STORE_FTS_BODY)
		buf_append_str(&e, "body : \"");
	else if (q->scope == STORE_FTS_FIELD)
		buf_printf(&e, "f%d : \"", q->field);
	else
		buf_append_str(&e, "\"");
	for (const char *p = q->needle; *p != '\0'; p++) {
		if (*p == '"')
			buf_append(&e, "\"", 1);
		buf_append(&e, p, 1);
	}
	buf_append(&e, "\"", 2); /* the quote and the NUL */
	return e.data;
}

static enum store_err smf_query(struct smf_ctx *c, struct store_fts_query *q)
{
	if (q->scope == STORE_FTS_FIELD && (q->field < 0 || q->field >= MAIL_SEARCH_FIELDS))
		return STORE_ERR_IO; /* not held apart: the caller scans */
	char *expr = smf_match_expr(q);
	sqlite3_stmt *s = smf_stmt(c->x, SMF_MATCH);
	sqlite3_bind_text(s, 1, expr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, c->mbox_id);
	sqlite3_bind_int64(s, 3, c->uidvalidity);
	struct smf_uids hits = {0};
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		smf_uids_add(&hits, (uint32_t)sqlite3_column_int64(s, 0));
	sqlite3_reset(s);
	free(expr);
	if (rc != SQLITE_DONE) {
		free(hits.v);
		return smf_err(c, rc, "fts_match");
	}
	if (hits.n > 1)
		qsort(hits.v, hits.n, sizeof(*hits.v), smf_uid_cmp);
	q->uids = hits.v;
	q->n_uids = hits.n;
	return STORE_OK;
}

/* Removes gone[0..) (ascending) from hits (ascending). */
static void smf_uids_remove(uint32_t *hits, size_t *n, const struct smf_uids *gone)
{
	size_t out = 0, j = 0;
	for (size_t i = 0; i < *n; i++) {
		while (j < gone->n && gone->v[j] < hits[i])
			j++;
		if (j == gone->n || gone->v[j] != hits[i])
			hits[out++] = hits[i];
	}
	*n = out;
}

/* Index lock held. The index as it stands: when it does not cover the
 * mailbox, the messages not indexed yet are missing (scanned by the
 * caller) and hits of expunged ones are dropped. */
static enum store_err smf_answer(struct smf_ctx *c, uint32_t count, uint32_t max,
                                 struct store_fts_query *q, size_t n)
{
	bool fresh = false;
	enum store_err err = smf_open(c);
	if (err == STORE_OK)
		err = smf_up_to_date(c, count, max, &fresh);
	uint32_t *mbox = NULL;
	size_t nm = 0;
	struct smf_uids docs = {0}, add = {0}, gone = {0};
	if (err == STORE_OK && !fresh) {
		err = store_maildir_msg_uids(c->pmb, &mbox, &nm);
		if (err == STORE_OK)
			err = smf_doc_uids(c, &docs);
		if (err == STORE_OK)
			smf_merge(mbox, nm, &docs, &add, &gone);
		for (size_t i = 0; i < add.n; i++)
			smf_missing_add(c, add.v[i]);
		c->info->deferred = add.n;
	}
	for (size_t i = 0; i < n && err == STORE_OK; i++) {
		err = smf_query(c, &q[i]);
		if (err == STORE_OK && gone.n > 0)
			smf_uids_remove(q[i].uids, &q[i].n_uids, &gone);
	}
	if (err == STORE_ERR_CORRUPT)
		smf_rebuild(c); /* a damaged cache: start anew, indexing fills it */
	free(mbox);
	free(docs.v);
	free(add.v);
	free(gone.v);
	return err;
}

/* Takes the claim on background indexing when it is free or stale. */
static bool smf_claim(struct smf_index *x)
{
	uint64_t now = smf_now_ms(), was = atomic_load(&x->claim_ms);
	if (was != 0 && now - was < SMF_CLAIM_TTL_MS)
		return false;
	return atomic_compare_exchange_strong(&x->claim_ms, &was, now);
}

/* Catch-up (indexer lock), then the answers. */
static enum store_err smf_search(struct smf_ctx *c, uint32_t count, uint32_t max,
                                 struct store_fts_query *q, size_t n)
{
	pthread_mutex_lock(&c->x->indexer);
	atomic_store(&c->x->claim_ms, smf_now_ms()); /* the claim lives while indexing runs */
	pthread_mutex_lock(&c->x->lock);
	bool fresh = false;
	enum store_err err = smf_open(c);
	if (err == STORE_OK)
		err = smf_up_to_date(c, count, max, &fresh);
	pthread_mutex_unlock(&c->x->lock);
	if (err == STORE_OK && !fresh)
		err = smf_catch_up(c);
	if (err == STORE_ERR_CORRUPT) {
		/* A damaged cache: start anew, next search rebuilds it. */
		pthread_mutex_lock(&c->x->lock);
		smf_rebuild(c);
		pthread_mutex_unlock(&c->x->lock);
	}
	if (err != STORE_OK || c->info->deferred == 0)
		atomic_store(&c->x->claim_ms, 0);
	pthread_mutex_unlock(&c->x->indexer);
	pthread_mutex_lock(&c->x->lock);
	for (size_t i = 0; i < n && err == STORE_OK; i++)
		err = smf_query(c, &q[i]);
	pthread_mutex_unlock(&c->x->lock);
	return err;
}

enum store_err store_maildir_fts_search(struct store_mailbox *pmb, struct store_fts_query *q,
                                        size_t n, bool may_index, uint32_t **missing_r,
                                        size_t *n_missing_r, struct store_fts_info *info_r)
{
	struct smf_ctx c = {.u = store_maildir_mailbox_of(pmb)->u, .pmb = pmb, .info = info_r};
	uint32_t count = 0, max = 0;
	enum store_err err = smf_mailbox_state(&c, &count, &max);
	if (err != STORE_OK)
		return err;
	c.x = c.u->fts;
	if (may_index) {
		err = smf_search(&c, count, max, q, n);
	} else {
		pthread_mutex_lock(&c.x->lock);
		err = smf_answer(&c, count, max, q, n);
		pthread_mutex_unlock(&c.x->lock);
		info_r->index_later = err == STORE_OK && c.n_missing > 0 && smf_claim(c.x);
	}
	if (err == STORE_OK && c.n_missing > 1)
		qsort(c.missing, c.n_missing, sizeof(*c.missing), smf_uid_cmp);
	*missing_r = c.missing;
	*n_missing_r = c.n_missing;
	return err;
}
