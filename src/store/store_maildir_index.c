/* store_maildir_index: the per-user SQLite index (index.sqlite).
 *
 * Schema (PRAGMA user_version = 1):
 *   meta(key, value)            last_uidvalidity
 *   mailboxes(id, name UNIQUE, dir UNIQUE, uidvalidity, uidnext,
 *             highestmodseq, special_use, noselect, recent_uid)
 *   messages(mailbox_id, uid, modseq, flags, keywords, internaldate,
 *            internaldate_tz, size, file, envelope, bodystructure, body,
 *            parts, sent_date, sent_tz)   PK (mailbox_id, uid)
 *   expunged(mailbox_id, uid, modseq)     tombstones, PK (mailbox_id, uid)
 *   subscriptions(name)
 *   quota_usage(id = 1, bytes, messages)  the user's totals over messages,
 *            kept by triggers on messages (inserts, deletes, and the
 *            cascade of a mailbox delete), so every change of messages
 *            changes the totals in the same transaction; recomputed from
 *            messages whenever the index is opened (store_maildir_quota.c)
 * Invariants: every row's modseq <= its mailbox's highestmodseq; uidnext
 * is above every UID in messages and expunged (and in file names, which
 * recovery enforces); a mailbox's modseq grows by one per transaction
 * that changes it, so a CONDSTORE client sees each change once.
 *
 * The connection is opened NOMUTEX: the user's lock serializes all use.
 * Journal WAL; synchronous=FULL when the server fsyncs (a commit that an
 * OK acknowledged survives power loss, so an expunge tombstone can never
 * be lost after its file was unlinked: that would let a UID be reused),
 * OFF otherwise (tests and benchmarks). */
#include "store/store_maildir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define SMI_VERSION 1
#define SMI_MBOX_COLS                                                                              \
	"SELECT id, name, dir, uidvalidity, uidnext, highestmodseq, special_use, noselect, "       \
	"recent_uid FROM mailboxes "

static const char smi_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS mailboxes(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " dir TEXT NOT NULL UNIQUE, uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL,"
    " highestmodseq INTEGER NOT NULL, special_use INTEGER NOT NULL DEFAULT 0,"
    " noselect INTEGER NOT NULL DEFAULT 0, recent_uid INTEGER NOT NULL DEFAULT 1);"
    "CREATE TABLE IF NOT EXISTS messages(mailbox_id INTEGER NOT NULL"
    " REFERENCES mailboxes(id) ON DELETE CASCADE, uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL, flags INTEGER NOT NULL, keywords TEXT NOT NULL DEFAULT '',"
    " internaldate INTEGER NOT NULL, internaldate_tz INTEGER NOT NULL, size INTEGER NOT NULL,"
    " file TEXT NOT NULL, envelope TEXT, bodystructure TEXT, body TEXT, parts BLOB,"
    " sent_date INTEGER, sent_tz INTEGER, PRIMARY KEY(mailbox_id, uid));"
    "CREATE INDEX IF NOT EXISTS messages_modseq ON messages(mailbox_id, modseq);"
    "CREATE TABLE IF NOT EXISTS expunged(mailbox_id INTEGER NOT NULL"
    " REFERENCES mailboxes(id) ON DELETE CASCADE, uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL, PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged(mailbox_id, modseq);"
    "CREATE TABLE IF NOT EXISTS subscriptions(name TEXT PRIMARY KEY) WITHOUT ROWID;"
    "PRAGMA user_version = 1;";

/* Indexes added since version 1, made on every open (a no-op once there).
 * They cover STATUS, SELECT and the metadata of FETCH and SEARCH: rows
 * carry the cached ENVELOPE and BODYSTRUCTURE, so reading counts, flags
 * or dates from the table read ~760 bytes a message (76 MB for 100,000,
 * far past SQLite's page cache) where messages_meta2 holds ~30; most
 * messages have no keywords, so messages_keywords stays small.
 * messages_meta (uid, flags and size only) was the first form. */
static const char smi_indexes[] =
    "CREATE INDEX IF NOT EXISTS messages_meta2 ON messages(mailbox_id, uid, flags, size,"
    " modseq, internaldate, internaldate_tz, keywords);"
    "DROP INDEX IF EXISTS messages_meta;"
    "CREATE INDEX IF NOT EXISTS messages_keywords ON messages(mailbox_id, keywords)"
    " WHERE keywords <> '';";

#define SMI_MSG_META "uid, flags, keywords, modseq, internaldate, internaldate_tz, size"
#define SMI_MSG_SUMMARY "envelope, bodystructure, body, parts, sent_date, sent_tz, file"
#define SMI_MSG_ONE " FROM messages WHERE mailbox_id = ?1 AND uid = ?2"
#define SMI_MSG_RANGE_OF \
	" FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid"

static const char *const smi_sql[SMI_COUNT] = {
    [SMI_MBOX_BY_NAME] = SMI_MBOX_COLS "WHERE name = ?1",
    [SMI_MBOX_BY_ID] = SMI_MBOX_COLS "WHERE id = ?1",
    [SMI_MBOX_INSERT] = "INSERT INTO mailboxes(name, dir, uidvalidity, uidnext, highestmodseq,"
                        " special_use, noselect, recent_uid) VALUES(?1, ?2, ?3, 1, 1, ?4, 0, 1)",
    [SMI_MBOX_SET_NEXT] = "UPDATE mailboxes SET uidnext = max(uidnext, ?2),"
                          " highestmodseq = max(highestmodseq, ?3) WHERE id = ?1",
    [SMI_MBOX_SET_RECENT] = "UPDATE mailboxes SET recent_uid = ?2 WHERE id = ?1",
    [SMI_MBOX_LIST] = "SELECT name, special_use, noselect FROM mailboxes ORDER BY name",
    [SMI_MBOX_CHILDREN] = "SELECT id, name, dir FROM mailboxes WHERE name > ?1 || '/'"
                          " AND name < ?1 || '0' ORDER BY name",
    [SMI_MBOX_DELETE] = "DELETE FROM mailboxes WHERE id = ?1",
    [SMI_MBOX_SET_NOSELECT] = "UPDATE mailboxes SET noselect = ?2,"
                              " uidvalidity = coalesce(?3, uidvalidity) WHERE id = ?1",
    [SMI_MBOX_RENAME] = "UPDATE mailboxes SET name = ?2, dir = ?3 WHERE id = ?1",
    [SMI_MSG_INSERT] = "INSERT INTO messages(mailbox_id, uid, modseq, flags, keywords,"
                       " internaldate, internaldate_tz, size, file, envelope, bodystructure,"
                       " body, parts, sent_date, sent_tz) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                       " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    /* smg_msg_row's columns; the _META forms (no summary) are answered
     * by messages_meta2 alone. */
    [SMI_MSG_GET] = "SELECT " SMI_MSG_META ", " SMI_MSG_SUMMARY SMI_MSG_ONE,
    [SMI_MSG_GET_META] = "SELECT " SMI_MSG_META SMI_MSG_ONE,
    [SMI_MSG_RANGE] = "SELECT " SMI_MSG_META ", " SMI_MSG_SUMMARY SMI_MSG_RANGE_OF,
    [SMI_MSG_RANGE_META] = "SELECT " SMI_MSG_META SMI_MSG_RANGE_OF,
    [SMI_MSG_FILE] = "SELECT file, size, flags, keywords, modseq, internaldate FROM messages"
                     " WHERE mailbox_id = ?1 AND uid = ?2",
    [SMI_MSG_UIDS] = "SELECT uid, file FROM messages WHERE mailbox_id = ?1 ORDER BY uid",
    /* UIDs alone: read from the primary key's index, never the rows. */
    [SMI_MSG_UID_LIST] = "SELECT uid FROM messages WHERE mailbox_id = ?1 ORDER BY uid",
    [SMI_MSG_SET_FLAGS] = "UPDATE messages SET flags = ?3, keywords = ?4, modseq = ?5"
                          " WHERE mailbox_id = ?1 AND uid = ?2",
    [SMI_MSG_DELETE] = "DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
    [SMI_MSG_DELETED_UIDS] = "SELECT uid, file FROM messages WHERE mailbox_id = ?1"
                             " AND (flags & 8) <> 0 ORDER BY uid",
    [SMI_MSG_COPY] = "INSERT INTO messages(mailbox_id, uid, modseq, flags, keywords,"
                     " internaldate, internaldate_tz, size, file, envelope, bodystructure,"
                     " body, parts, sent_date, sent_tz) SELECT ?3, ?4, ?5, flags, keywords,"
                     " internaldate, internaldate_tz, size, ?6, envelope, bodystructure, body,"
                     " parts, sent_date, sent_tz FROM messages WHERE mailbox_id = ?1"
                     " AND uid = ?2",
    [SMI_MSG_KEYWORDS] = "SELECT DISTINCT keywords FROM messages WHERE mailbox_id = ?1"
                         " AND keywords <> ''",
    [SMI_MSG_STATUS] = "SELECT count(*), coalesce(sum((flags & 1) = 0), 0),"
                       " coalesce(sum((flags & 8) <> 0), 0), coalesce(sum(uid >= ?2), 0),"
                       " coalesce(sum(size), 0), coalesce(sum(CASE WHEN (flags & 8) <> 0 THEN size END), 0)"
                       " FROM messages WHERE mailbox_id = ?1",
    [SMI_MSG_MAXUID] = "SELECT coalesce(max(uid), 0) FROM messages WHERE mailbox_id = ?1",
    [SMI_TOMB_INSERT] = "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq)"
                        " VALUES(?1, ?2, ?3)",
    [SMI_TOMB_MAXUID] = "SELECT coalesce(max(uid), 0) FROM expunged WHERE mailbox_id = ?1",
    [SMI_TOMB_HAS] = "SELECT 1 FROM expunged WHERE mailbox_id = ?1 AND uid = ?2",
    [SMI_CHANGES] = "SELECT uid, modseq, 0, flags, keywords FROM messages"
                    " WHERE mailbox_id = ?1 AND modseq > ?2 UNION ALL"
                    " SELECT uid, modseq, 1, 0, '' FROM expunged WHERE mailbox_id = ?1"
                    " AND modseq > ?2 AND uid < ?3 ORDER BY 1",
    [SMI_SUB_LIST] = "SELECT name FROM subscriptions ORDER BY name",
    [SMI_SUB_ADD] = "INSERT OR IGNORE INTO subscriptions(name) VALUES(?1)",
    [SMI_SUB_DEL] = "DELETE FROM subscriptions WHERE name = ?1",
    [SMI_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [SMI_META_SET] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
    [SMI_QUOTA_USAGE] = "SELECT bytes, messages FROM quota_usage WHERE id = 1",
};

enum store_err store_maildir_index_err(struct smd_user *u, int rc, const char *what)
{
	log_error("event=store_error user=%s op=%s sqlite=\"%s\"", u->name, what,
	          u->db ? sqlite3_errmsg(u->db) : sqlite3_errstr(rc));
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
		return STORE_ERR_CORRUPT;
	if (rc == SQLITE_FULL)
		return STORE_ERR_OVERQUOTA;
	return STORE_ERR_IO;
}

static int smi_exec(struct smd_user *u, const char *sql)
{
	return sqlite3_exec(u->db, sql, NULL, NULL, NULL);
}

/* The usage table and its triggers (added to indexes of any age: they
 * need no schema version), then the totals recomputed from messages, all
 * in one transaction. */
static const char smi_quota_schema[] =
    "CREATE TABLE IF NOT EXISTS quota_usage(id INTEGER PRIMARY KEY CHECK(id = 1),"
    " bytes INTEGER NOT NULL, messages INTEGER NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS quota_usage_add AFTER INSERT ON messages BEGIN"
    " UPDATE quota_usage SET bytes = bytes + new.size, messages = messages + 1"
    " WHERE id = 1; END;"
    "CREATE TRIGGER IF NOT EXISTS quota_usage_del AFTER DELETE ON messages BEGIN"
    " UPDATE quota_usage SET bytes = bytes - old.size, messages = messages - 1"
    " WHERE id = 1; END;"
    "INSERT OR REPLACE INTO quota_usage(id, bytes, messages)"
    " SELECT 1, coalesce(sum(size), 0), count(*) FROM messages;";

static int smi_quota_init(struct smd_user *u)
{
	int rc = smi_exec(u, "BEGIN IMMEDIATE");
	if (rc == SQLITE_OK)
		rc = smi_exec(u, smi_quota_schema);
	if (rc == SQLITE_OK)
		rc = smi_exec(u, "COMMIT");
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(u->db))
		smi_exec(u, "ROLLBACK");
	/* No messages table: not our schema (rebuilt like a damaged one). */
	return rc == SQLITE_ERROR ? SQLITE_CORRUPT : rc;
}

/* Opens the file and checks that it is a database of our schema. */
static int smi_try_open(struct smd_user *u, const char *path, bool *created_r)
{
	int rc = sqlite3_open_v2(
	    path, &u->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_busy_timeout(u->db, 10000);
	sqlite3_stmt *s = NULL;
	rc = sqlite3_prepare_v2(u->db, "PRAGMA user_version", -1, &s, NULL);
	int version = -1;
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			version = sqlite3_column_int(s, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		return rc;
	if (version > SMI_VERSION)
		return SQLITE_NOTADB;
	*created_r = version == 0;
	/* One process owns a user's index: exclusive locking keeps the WAL
	 * index in memory and takes the file lock once, instead of fcntl
	 * locks around every statement (a quarter of a bulk FETCH's CPU).
	 * Another process (a second server on the same mail_root, or the
	 * CLI while the server has the user open) gets SQLITE_BUSY. */
	rc = smi_exec(u, "PRAGMA locking_mode = EXCLUSIVE");
	if (rc == SQLITE_OK)
		rc = smi_exec(u, "PRAGMA journal_mode = WAL");
	if (rc == SQLITE_OK)
		rc = smi_exec(u, u->st->fsync ? "PRAGMA synchronous = FULL"
		                              : "PRAGMA synchronous = OFF");
	if (rc == SQLITE_OK)
		rc = smi_exec(u, "PRAGMA foreign_keys = ON");
	if (rc == SQLITE_OK && *created_r)
		rc = smi_exec(u, smi_schema);
	/* A table missing (SQLITE_ERROR): not our schema any more, as below. */
	if (rc == SQLITE_OK && (rc = smi_exec(u, smi_indexes)) == SQLITE_ERROR)
		rc = SQLITE_CORRUPT;
	if (rc == SQLITE_OK)
		rc = smi_quota_init(u);
	/* Every statement is prepared now, so that a damaged schema shows
	 * here (and is rebuilt) rather than in the middle of a command. */
	for (size_t i = 0; i < SMI_COUNT && rc == SQLITE_OK; i++) {
		rc = sqlite3_prepare_v3(u->db, smi_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                        &u->stmts[i], NULL);
		/* Tables missing or different: not our schema any more. */
		if (rc == SQLITE_ERROR)
			rc = SQLITE_CORRUPT;
	}
	return rc;
}

/* A damaged index is moved aside (kept for inspection) and rebuilt from
 * the message files by recovery. */
static void smi_move_aside(struct smd_user *u, const char *path)
{
	store_maildir_index_close(u);
	size_t len = strlen(path) + 64;
	char *aside = xmalloc(len);
	/* Never overwrite an earlier damaged copy. */
	for (int i = 0; i < 100; i++) {
		snprintf(aside, len, "%s.corrupt-%lld-%d", path, (long long)time(NULL), i);
		if (access(aside, F_OK) < 0)
			break;
	}
	log_error("event=store_index_corrupt user=%s moved_to=%s", u->name, aside);
	rename(path, aside);
	static const char *const sfx[] = {"-wal", "-shm"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(aside, len, "%s%s", path, sfx[i]);
		unlink(aside);
	}
	free(aside);
}

enum store_err store_maildir_index_open(struct smd_user *u, bool *created_r)
{
	char *path = store_maildir_path(u, "", "index.sqlite");
	int rc = smi_try_open(u, path, created_r);
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
		smi_move_aside(u, path);
		rc = smi_try_open(u, path, created_r);
		*created_r = true;
	}
	enum store_err err = STORE_OK;
	if (rc != SQLITE_OK) {
		err = store_maildir_index_err(u, rc, "index_open");
		store_maildir_index_close(u);
	}
	free(path);
	return err;
}

void store_maildir_index_close(struct smd_user *u)
{
	for (size_t i = 0; i < SMI_COUNT; i++) {
		sqlite3_finalize(u->stmts[i]);
		u->stmts[i] = NULL;
	}
	if (u->db != NULL)
		sqlite3_close(u->db);
	u->db = NULL;
}

sqlite3_stmt *store_maildir_index_stmt(struct smd_user *u, enum smi_stmt id)
{
	sqlite3_stmt *s = u->stmts[id];
	if (s != NULL && !sqlite3_stmt_busy(s)) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	sqlite3_stmt *fresh = NULL;
	int rc =
	    sqlite3_prepare_v3(u->db, smi_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &fresh, NULL);
	if (rc != SQLITE_OK) {
		/* A syntax error here is a programming error; a locked or
		 * damaged database shows up again on the next step. */
		log_fatal("event=store_prepare_failed sql=\"%s\" error=\"%s\"", smi_sql[id],
		          sqlite3_errmsg(u->db));
	}
	if (s == NULL)
		u->stmts[id] = fresh;
	return fresh;
}

void store_maildir_index_done(struct smd_user *u, sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < SMI_COUNT; i++) {
		if (u->stmts[i] == s) {
			sqlite3_reset(s);
			return;
		}
	}
	sqlite3_finalize(s);
}

enum store_err store_maildir_index_begin(struct smd_user *u)
{
	int rc = smi_exec(u, "BEGIN IMMEDIATE");
	return rc == SQLITE_OK ? STORE_OK : store_maildir_index_err(u, rc, "begin");
}

enum store_err store_maildir_index_commit(struct smd_user *u)
{
	int rc = smi_exec(u, "COMMIT");
	if (rc == SQLITE_OK)
		return STORE_OK;
	enum store_err err = store_maildir_index_err(u, rc, "commit");
	store_maildir_index_rollback(u);
	return err;
}

void store_maildir_index_rollback(struct smd_user *u)
{
	if (!sqlite3_get_autocommit(u->db))
		smi_exec(u, "ROLLBACK");
}

static void smi_mbox_row(sqlite3_stmt *s, struct smi_mbox *m)
{
	m->id = sqlite3_column_int64(s, 0);
	m->name = xstrdup((const char *)sqlite3_column_text(s, 1));
	m->dir = xstrdup((const char *)sqlite3_column_text(s, 2));
	m->uidvalidity = (uint32_t)sqlite3_column_int64(s, 3);
	m->uidnext = (uint32_t)sqlite3_column_int64(s, 4);
	m->highestmodseq = (uint64_t)sqlite3_column_int64(s, 5);
	m->special_use = (unsigned)sqlite3_column_int(s, 6);
	m->noselect = sqlite3_column_int(s, 7) != 0;
	m->recent_uid = (uint32_t)sqlite3_column_int64(s, 8);
}

enum store_err store_maildir_index_mbox(struct smd_user *u, const char *name, int64_t id,
                                        struct smi_mbox *m_r)
{
	memset(m_r, 0, sizeof(*m_r));
	sqlite3_stmt *s = store_maildir_index_stmt(u, name ? SMI_MBOX_BY_NAME : SMI_MBOX_BY_ID);
	if (name != NULL)
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	enum store_err err = STORE_OK;
	if (rc == SQLITE_ROW)
		smi_mbox_row(s, m_r);
	else if (rc == SQLITE_DONE)
		err = STORE_ERR_NOTFOUND;
	else
		err = store_maildir_index_err(u, rc, "mailbox");
	store_maildir_index_done(u, s);
	return err;
}

void store_maildir_index_mbox_free(struct smi_mbox *m)
{
	free(m->name);
	free(m->dir);
	memset(m, 0, sizeof(*m));
}

static enum store_err smi_step_done(struct smd_user *u, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	store_maildir_index_done(u, s);
	return rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, what);
}

enum store_err store_maildir_index_set_next(struct smd_user *u, int64_t id, uint32_t uidnext,
                                            uint64_t modseq)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_SET_NEXT);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, uidnext);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)modseq);
	return smi_step_done(u, s, "set_next");
}

static enum store_err smi_last_uidvalidity(struct smd_user *u, int64_t *last_r)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_META_GET);
	sqlite3_bind_text(s, 1, "last_uidvalidity", -1, SQLITE_STATIC);
	*last_r = 0;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*last_r = sqlite3_column_int64(s, 0);
	store_maildir_index_done(u, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_maildir_index_err(u, rc, "uidvalidity");
	return STORE_OK;
}

static enum store_err smi_set_last_uidvalidity(struct smd_user *u, int64_t v)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_META_SET);
	sqlite3_bind_text(s, 1, "last_uidvalidity", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	return smi_step_done(u, s, "uidvalidity");
}

enum store_err store_maildir_index_note_uidvalidity(struct smd_user *u, uint32_t v)
{
	int64_t last;
	enum store_err err = smi_last_uidvalidity(u, &last);
	if (err == STORE_OK && (int64_t)v > last)
		err = smi_set_last_uidvalidity(u, v);
	return err;
}

enum store_err store_maildir_index_new_uidvalidity(struct smd_user *u, uint32_t *v_r)
{
	int64_t last;
	enum store_err err = smi_last_uidvalidity(u, &last);
	if (err != STORE_OK)
		return err;
	int64_t now = (int64_t)time(NULL);
	int64_t v = now > last ? now : last + 1;
	if (v <= 0 || v >= UINT32_MAX)
		v = 1;
	*v_r = (uint32_t)v;
	return smi_set_last_uidvalidity(u, v);
}

enum store_err store_maildir_index_mbox_insert(struct smd_user *u, const char *name,
                                               const char *dir, uint32_t uidvalidity,
                                               unsigned special_use, bool subscribe, int64_t *id_r)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_INSERT);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, dir, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, uidvalidity);
	sqlite3_bind_int(s, 4, (int)special_use);
	enum store_err err = smi_step_done(u, s, "mailbox_insert");
	if (err != STORE_OK)
		return err;
	*id_r = sqlite3_last_insert_rowid(u->db);
	if (!subscribe)
		return STORE_OK;
	s = store_maildir_index_stmt(u, SMI_SUB_ADD);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	return smi_step_done(u, s, "subscribe");
}

static void smi_bind_text_or_null(sqlite3_stmt *s, int i, const char *t)
{
	if (t != NULL)
		sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

enum store_err store_maildir_index_msg_insert(struct smd_user *u, int64_t mbox_id,
                                              const struct smi_msg_row *r)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_INSERT);
	sqlite3_bind_int64(s, 1, mbox_id);
	sqlite3_bind_int64(s, 2, r->uid);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)r->modseq);
	sqlite3_bind_int(s, 4, (int)r->flags);
	sqlite3_bind_text(s, 5, r->keywords ? r->keywords : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, r->internaldate);
	sqlite3_bind_int(s, 7, r->internaldate_tz);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)r->size);
	sqlite3_bind_text(s, 9, r->file, -1, SQLITE_STATIC);
	smi_bind_text_or_null(s, 10, r->sum->envelope);
	smi_bind_text_or_null(s, 11, r->sum->bodystructure);
	smi_bind_text_or_null(s, 12, r->sum->body);
	if (r->sum->parts != NULL)
		sqlite3_bind_blob(s, 13, r->sum->parts, (int)r->sum->parts_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 13);
	sqlite3_bind_int64(s, 14, r->sum->sent_date);
	sqlite3_bind_int(s, 15, r->sum->sent_tz);
	return smi_step_done(u, s, "msg_insert");
}

enum store_err store_maildir_index_tombstone(struct smd_user *u, int64_t mbox_id, uint32_t uid,
                                             uint64_t modseq)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_TOMB_INSERT);
	sqlite3_bind_int64(s, 1, mbox_id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)modseq);
	return smi_step_done(u, s, "tombstone");
}

static enum store_err smi_scalar(struct smd_user *u, enum smi_stmt id, int64_t mbox_id,
                                 int64_t *v_r)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, id);
	sqlite3_bind_int64(s, 1, mbox_id);
	int rc = sqlite3_step(s);
	*v_r = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	store_maildir_index_done(u, s);
	return rc == SQLITE_ROW ? STORE_OK : store_maildir_index_err(u, rc, "scalar");
}

enum store_err store_maildir_index_max_uid(struct smd_user *u, int64_t mbox_id, uint32_t *r)
{
	int64_t a = 0, b = 0;
	enum store_err err = smi_scalar(u, SMI_MSG_MAXUID, mbox_id, &a);
	if (err == STORE_OK)
		err = smi_scalar(u, SMI_TOMB_MAXUID, mbox_id, &b);
	*r = (uint32_t)(a > b ? a : b);
	return err;
}
