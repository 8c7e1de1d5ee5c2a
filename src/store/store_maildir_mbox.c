/* store_maildir_mbox: mailbox operations (LIST, CREATE, DELETE, RENAME,
 * SUBSCRIBE, STATUS) of the embedded backend.
 *
 * File system and index are changed in an order that recovery can always
 * finish: CREATE makes the directories first (a directory without a row
 * is adopted by recovery); DELETE first renames the directory to
 * "#deleted-<id>" (which recovery removes), then deletes the row; RENAME
 * renames directories, then updates rows (a directory left without a row
 * is adopted under its new name, a row without its directory gets an
 * empty one, its messages tombstoned). Subscriptions are names of their
 * own (RFC 9051 §6.3.7): DELETE and RENAME leave them alone. */
#include "store/store_maildir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

static const struct {
	const char *name;
	unsigned attr;
} smb_defaults[] = {
    {"Sent", STORE_ATTR_SENT}, {"Drafts", STORE_ATTR_DRAFTS},   {"Trash", STORE_ATTR_TRASH},
    {"Junk", STORE_ATTR_JUNK}, {"Archive", STORE_ATTR_ARCHIVE},
};

/* --- LIST --- */

static void smb_list_add(struct store_mailbox_entry **v, size_t *n, size_t *cap, const char *name,
                         unsigned attrs)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[*n].name = xstrdup(name);
	(*v)[*n].attrs = attrs;
	(*n)++;
}

static int smb_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_mailbox_entry *)a)->name,
	              ((const struct store_mailbox_entry *)b)->name);
}

static struct store_mailbox_entry *smb_find(struct store_mailbox_entry *v, size_t n,
                                            const char *name)
{
	struct store_mailbox_entry key = {.name = (char *)name};
	return n == 0 ? NULL : bsearch(&key, v, n, sizeof(*v), smb_entry_cmp);
}

static enum store_err smb_list(struct smd_user *u, struct store_mailbox_entry **v_r, size_t *n_r)
{
	size_t n = 0, cap = 0;
	struct store_mailbox_entry *v = NULL;
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_LIST);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		unsigned attrs = (unsigned)sqlite3_column_int(s, 1) & STORE_ATTR_SPECIAL_USE_MASK;
		if (sqlite3_column_int(s, 2) != 0)
			attrs |= STORE_ATTR_NOSELECT;
		smb_list_add(&v, &n, &cap, (const char *)sqlite3_column_text(s, 0), attrs);
	}
	store_maildir_index_done(u, s);
	/* Sorted by name bytes: SQLite's BINARY collation is memcmp. */
	size_t n_mbox = n;
	s = store_maildir_index_stmt(u, SMI_SUB_LIST);
	while (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(s)) != SQLITE_ROW)
			break;
		const char *name = (const char *)sqlite3_column_text(s, 0);
		struct store_mailbox_entry *e = smb_find(v, n_mbox, name);
		if (e != NULL)
			e->attrs |= STORE_ATTR_SUBSCRIBED;
		else
			smb_list_add(&v, &n, &cap, name,
			             STORE_ATTR_SUBSCRIBED | STORE_ATTR_NONEXISTENT);
	}
	store_maildir_index_done(u, s);
	if (rc != SQLITE_DONE) {
		store_list_free(v, n);
		return store_maildir_index_err(u, rc, "list");
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), smb_entry_cmp);
	*v_r = v;
	*n_r = n;
	return STORE_OK;
}

enum store_err store_maildir_mbox_list(struct store_user *pu,
                                       struct store_mailbox_entry **entries_r, size_t *n_r)
{
	struct smd_user *u = store_maildir_user_of(pu);
	pthread_mutex_lock(&u->lock);
	enum store_err err = smb_list(u, entries_r, n_r);
	pthread_mutex_unlock(&u->lock);
	return err;
}

/* --- CREATE --- */

/* Creates one mailbox whose parent exists. Inside a transaction. */
static enum store_err smb_create_one(struct smd_user *u, const char *name, unsigned special_use,
                                     bool subscribe)
{
	struct smi_mbox m;
	enum store_err err = store_maildir_index_mbox(u, name, 0, &m);
	if (err == STORE_OK) {
		bool noselect = m.noselect;
		int64_t id = m.id;
		char *dir = m.dir;
		m.dir = NULL;
		store_maildir_index_mbox_free(&m);
		if (!noselect) {
			free(dir);
			return STORE_ERR_EXISTS;
		}
		/* A \Noselect parent becomes a real mailbox again, with a new
		 * UIDVALIDITY since its old messages are gone. */
		uint32_t uv = 0;
		err = store_maildir_index_new_uidvalidity(u, &uv);
		if (err == STORE_OK && store_maildir_make_dirs(u, dir, uv) < 0)
			err = STORE_ERR_IO;
		free(dir);
		if (err != STORE_OK)
			return err;
		sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_SET_NOSELECT);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int(s, 2, 0);
		sqlite3_bind_int64(s, 3, uv);
		int rc = sqlite3_step(s);
		store_maildir_index_done(u, s);
		return rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, "create");
	}
	if (err != STORE_ERR_NOTFOUND)
		return err;
	char *dir = store_maildir_dir_encode(name);
	if (dir == NULL)
		return STORE_ERR_LIMIT;
	uint32_t uv = 0;
	int64_t id;
	err = store_maildir_index_new_uidvalidity(u, &uv);
	if (err == STORE_OK && store_maildir_make_dirs(u, dir, uv) < 0)
		err = STORE_ERR_IO;
	if (err == STORE_OK)
		err =
		    store_maildir_index_mbox_insert(u, name, dir, uv, special_use, subscribe, &id);
	free(dir);
	return err;
}

/* Creates the missing parents of name (RFC 9051 §6.3.4), then name. */
static enum store_err smb_create_path(struct smd_user *u, const char *name, unsigned special_use,
                                      bool subscribe)
{
	enum store_err err = STORE_OK;
	char *tmp = xstrdup(name);
	for (char *p = strchr(tmp, '/'); p != NULL && err == STORE_OK; p = strchr(p + 1, '/')) {
		*p = '\0';
		struct smi_mbox m;
		err = store_maildir_index_mbox(u, tmp, 0, &m);
		store_maildir_index_mbox_free(&m);
		if (err == STORE_ERR_NOTFOUND)
			err = smb_create_one(u, tmp, 0, false);
		*p = '/';
	}
	free(tmp);
	if (err == STORE_OK)
		err = smb_create_one(u, name, special_use, subscribe);
	return err;
}

static enum store_err smb_tx_create(struct smd_user *u, const char *name, unsigned special_use,
                                    bool subscribe)
{
	enum store_err err = store_maildir_index_begin(u);
	if (err != STORE_OK)
		return err;
	err = smb_create_path(u, name, special_use, subscribe);
	if (err == STORE_OK)
		return store_maildir_index_commit(u);
	store_maildir_index_rollback(u);
	return err;
}

enum store_err store_maildir_mbox_create(struct store_user *pu, const char *name,
                                         unsigned special_use)
{
	struct smd_user *u = store_maildir_user_of(pu);
	pthread_mutex_lock(&u->lock);
	enum store_err err = smb_tx_create(u, name, special_use, false);
	pthread_mutex_unlock(&u->lock);
	return err;
}

/* INBOX and the special-use mailboxes of a new user, all subscribed. */
enum store_err store_maildir_mbox_defaults(struct smd_user *u)
{
	enum store_err err = store_maildir_index_begin(u);
	uint32_t uv = 0;
	int64_t id;
	struct smi_mbox inbox;
	enum store_err have =
	    err == STORE_OK ? store_maildir_index_mbox(u, "INBOX", 0, &inbox) : err;
	store_maildir_index_mbox_free(&inbox);
	if (have != STORE_ERR_NOTFOUND) {
		err = have;
	} else {
		err = store_maildir_index_new_uidvalidity(u, &uv);
		if (err == STORE_OK && store_maildir_make_dirs(u, "", uv) < 0)
			err = STORE_ERR_IO;
		if (err == STORE_OK)
			err = store_maildir_index_mbox_insert(u, "INBOX", "", uv, 0, true, &id);
	}
	for (size_t i = 0; i < sizeof(smb_defaults) / sizeof(smb_defaults[0]); i++) {
		struct smi_mbox m;
		enum store_err e = err == STORE_OK
		                       ? store_maildir_index_mbox(u, smb_defaults[i].name, 0, &m)
		                       : err;
		store_maildir_index_mbox_free(&m);
		if (e == STORE_ERR_NOTFOUND)
			err = smb_create_one(u, smb_defaults[i].name, smb_defaults[i].attr, true);
		else if (e != STORE_OK)
			err = e;
	}
	if (err == STORE_OK)
		return store_maildir_index_commit(u);
	store_maildir_index_rollback(u);
	return err;
}

/* --- SUBSCRIBE --- */

enum store_err store_maildir_mbox_subscribe(struct store_user *pu, const char *name, bool subscribe)
{
	struct smd_user *u = store_maildir_user_of(pu);
	pthread_mutex_lock(&u->lock);
	sqlite3_stmt *s = store_maildir_index_stmt(u, subscribe ? SMI_SUB_ADD : SMI_SUB_DEL);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	store_maildir_index_done(u, s);
	enum store_err err = rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, "sub");
	pthread_mutex_unlock(&u->lock);
	return err;
}

/* --- STATUS --- */

enum store_err store_maildir_mbox_load_synced(struct smd_user *u, const char *name,
					      struct smi_mbox *m_r)
{
	enum store_err err = store_maildir_index_mbox(u, name, 0, m_r);
	if (err == STORE_OK && m_r->noselect)
		err = STORE_ERR_NOSELECT;
	if (err == STORE_OK)
		err = store_maildir_append_sync_new(u, m_r->id);
	store_maildir_index_mbox_free(m_r);
	if (err == STORE_OK)
		err = store_maildir_index_mbox(u, name, 0, m_r); /* uidnext moved */
	return err;
}

static enum store_err smb_status(struct smd_user *u, const char *name, struct store_status *r)
{
	struct smi_mbox m;
	enum store_err err = store_maildir_mbox_load_synced(u, name, &m);
	if (err != STORE_OK)
		return err;
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_STATUS);
	sqlite3_bind_int64(s, 1, m.id);
	sqlite3_bind_int64(s, 2, m.recent_uid);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		r->messages = (uint32_t)sqlite3_column_int64(s, 0);
		r->unseen = (uint32_t)sqlite3_column_int64(s, 1);
		r->deleted = (uint32_t)sqlite3_column_int64(s, 2);
		r->recent = (uint32_t)sqlite3_column_int64(s, 3);
		r->size = (uint64_t)sqlite3_column_int64(s, 4);
		r->deleted_size = (uint64_t)sqlite3_column_int64(s, 5);
	}
	store_maildir_index_done(u, s);
	r->uidnext = m.uidnext;
	r->uidvalidity = m.uidvalidity;
	r->highestmodseq = m.highestmodseq;
	store_maildir_index_mbox_free(&m);
	return rc == SQLITE_ROW ? STORE_OK : store_maildir_index_err(u, rc, "status");
}

enum store_err store_maildir_mbox_status(struct store_user *pu, const char *name,
                                         struct store_status *st_r)
{
	struct smd_user *u = store_maildir_user_of(pu);
	pthread_mutex_lock(&u->lock);
	enum store_err err = smb_status(u, name, st_r);
	pthread_mutex_unlock(&u->lock);
	return err;
}

/* --- DELETE --- */

struct smb_file {
	uint32_t uid;
	char *file;
};

static void smb_files_free(struct smb_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].file);
	free(v);
}

/* Every message of a mailbox (UID order). */
static enum store_err smb_files(struct smd_user *u, int64_t id, struct smb_file **v_r, size_t *n_r)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_UIDS);
	sqlite3_bind_int64(s, 1, id);
	struct smb_file *v = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n].uid = (uint32_t)sqlite3_column_int64(s, 0);
		v[n++].file = xstrdup((const char *)sqlite3_column_text(s, 1));
	}
	store_maildir_index_done(u, s);
	*v_r = v;
	*n_r = n;
	return rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, "files");
}

static enum store_err smb_has_children(struct smd_user *u, const char *name, bool *r)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_CHILDREN);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	store_maildir_index_done(u, s);
	*r = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK
	                                             : store_maildir_index_err(u, rc, "children");
}

/* Open handles of a deleted mailbox stop working; their sessions are
 * woken so that they notice. */
static void smb_handles_gone(struct smd_user *u, int64_t id, uint64_t modseq)
{
	for (struct smd_mailbox *mb = u->handles; mb != NULL; mb = mb->next) {
		if (mb->id == id)
			mb->gone = true;
	}
	store_maildir_msg_notify(u, id, modseq);
}

/* A parent keeps its place in the hierarchy as \Noselect (RFC 9051 §6.3.5):
 * its messages are expunged. */
static enum store_err smb_delete_to_noselect(struct smd_user *u, const struct smi_mbox *m)
{
	struct smb_file *v = NULL;
	size_t n = 0;
	enum store_err err = smb_files(u, m->id, &v, &n);
	uint64_t modseq = m->highestmodseq + 1;
	uint32_t *uids = xmalloc((n ? n : 1) * sizeof(*uids));
	for (size_t i = 0; i < n; i++)
		uids[i] = v[i].uid;
	if (err == STORE_OK)
		err = store_maildir_index_begin(u);
	if (err == STORE_OK) {
		err = store_maildir_change_expunge_rows(u, m->id, uids, n, modseq);
		sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_SET_NOSELECT);
		sqlite3_bind_int64(s, 1, m->id);
		sqlite3_bind_int(s, 2, 1);
		int rc = err == STORE_OK ? sqlite3_step(s) : SQLITE_DONE;
		store_maildir_index_done(u, s);
		if (rc != SQLITE_DONE)
			err = store_maildir_index_err(u, rc, "delete");
		if (err == STORE_OK)
			err = store_maildir_index_commit(u);
		else
			store_maildir_index_rollback(u);
	}
	if (err == STORE_OK) {
		for (size_t i = 0; i < n; i++)
			store_maildir_change_unlink(u, m->dir, v[i].file);
		smb_handles_gone(u, m->id, modseq);
	}
	free(uids);
	smb_files_free(v, n);
	return err;
}

/* The directory is renamed away first, so that recovery removes it
 * rather than adopting it again should the process stop right here. */
static enum store_err smb_delete_leaf(struct smd_user *u, const struct smi_mbox *m)
{
	char *from = store_maildir_path(u, m->dir, NULL);
	char gone[64];
	snprintf(gone, sizeof(gone), "#deleted-%lld-%lld", (long long)m->id, (long long)time(NULL));
	char *to = store_maildir_path(u, gone, NULL);
	enum store_err err = STORE_OK;
	if (rename(from, to) < 0 && errno != ENOENT) {
		log_error("event=store_error user=%s op=delete dir=%s error=\"%s\"", u->name, from,
		          strerror(errno));
		err = STORE_ERR_IO;
	}
	if (err == STORE_OK && store_maildir_fsync_dir(u, u->dir) < 0)
		err = STORE_ERR_IO;
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_DELETE);
	sqlite3_bind_int64(s, 1, m->id);
	int rc = err == STORE_OK ? sqlite3_step(s) : SQLITE_DONE;
	store_maildir_index_done(u, s);
	if (rc != SQLITE_DONE)
		err = store_maildir_index_err(u, rc, "delete");
	if (err == STORE_OK) {
		store_maildir_rmtree(to);
		smb_handles_gone(u, m->id, m->highestmodseq + 1);
	} else {
		rename(to, from);
	}
	free(from);
	free(to);
	return err;
}

static enum store_err smb_delete(struct smd_user *u, const char *name)
{
	struct smi_mbox m;
	enum store_err err = store_maildir_index_mbox(u, name, 0, &m);
	bool children = false;
	if (err == STORE_OK)
		err = smb_has_children(u, name, &children);
	if (err == STORE_OK) {
		if (children && m.noselect)
			err = STORE_ERR_HASCHILDREN;
		else if (children)
			err = smb_delete_to_noselect(u, &m);
		else
			err = smb_delete_leaf(u, &m);
	}
	store_maildir_index_mbox_free(&m);
	return err;
}

enum store_err store_maildir_mbox_delete(struct store_user *pu, const char *name)
{
	struct smd_user *u = store_maildir_user_of(pu);
	/* An APPEND writing into the directory holds the writer lock. */
	store_maildir_write_lock(u);
	pthread_mutex_lock(&u->lock);
	enum store_err err = smb_delete(u, name);
	store_maildir_write_unlock(u);
	pthread_mutex_unlock(&u->lock);
	return err;
}

/* --- RENAME --- */

struct smb_move {
	int64_t id;
	char *old_dir, *new_name, *new_dir;
	bool moved;
};

static void smb_moves_free(struct smb_move *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].old_dir);
		free(v[i].new_name);
		free(v[i].new_dir);
	}
	free(v);
}

static enum store_err smb_move_add(struct smd_user *u, struct smb_move **v, size_t *n, int64_t id,
                                   const char *old_name, const char *old_dir, const char *from,
                                   const char *to)
{
	size_t len = strlen(to) + strlen(old_name) - strlen(from) + 1;
	char *new_name = xmalloc(len);
	snprintf(new_name, len, "%s%s", to, old_name + strlen(from));
	if (!store_name_valid(new_name)) {
		bool long_name = strlen(new_name) > STORE_NAME_MAX;
		free(new_name);
		return long_name ? STORE_ERR_LIMIT : STORE_ERR_INVALID_NAME;
	}
	char *new_dir = store_maildir_dir_encode(new_name);
	struct smi_mbox m;
	enum store_err err =
	    new_dir == NULL ? STORE_ERR_LIMIT : store_maildir_index_mbox(u, new_name, 0, &m);
	store_maildir_index_mbox_free(&m);
	if (err == STORE_OK || err == STORE_ERR_NOTFOUND) {
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[*n] = (struct smb_move){.id = id,
		                             .old_dir = xstrdup(old_dir),
		                             .new_name = new_name,
		                             .new_dir = new_dir};
		(*n)++;
		return err == STORE_OK ? STORE_ERR_EXISTS : STORE_OK;
	}
	free(new_name);
	free(new_dir);
	return err;
}

/* The mailbox and its children with their new names. */
static enum store_err smb_plan(struct smd_user *u, const struct smi_mbox *f, const char *to,
                               struct smb_move **v_r, size_t *n_r)
{
	enum store_err err = smb_move_add(u, v_r, n_r, f->id, f->name, f->dir, f->name, to);
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_CHILDREN);
	sqlite3_bind_text(s, 1, f->name, -1, SQLITE_STATIC);
	int rc = SQLITE_DONE;
	while (err == STORE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		err = smb_move_add(u, v_r, n_r, sqlite3_column_int64(s, 0),
		                   (const char *)sqlite3_column_text(s, 1),
		                   (const char *)sqlite3_column_text(s, 2), f->name, to);
	store_maildir_index_done(u, s);
	if (err == STORE_OK && rc != SQLITE_DONE)
		err = store_maildir_index_err(u, rc, "rename");
	return err;
}

static enum store_err smb_move_dirs(struct smd_user *u, struct smb_move *v, size_t n)
{
	enum store_err err = STORE_OK;
	for (size_t i = 0; i < n && err == STORE_OK; i++) {
		char *from = store_maildir_path(u, v[i].old_dir, NULL);
		char *to = store_maildir_path(u, v[i].new_dir, NULL);
		/* rename() would replace an empty directory: refuse instead. */
		if (access(to, F_OK) == 0)
			err = STORE_ERR_EXISTS;
		else if (rename(from, to) == 0)
			v[i].moved = true;
		else if (errno != ENOENT) /* a \Noselect parent may have no directory */
			err = STORE_ERR_IO;
		if (err == STORE_ERR_IO)
			log_error("event=store_error user=%s op=rename dir=%s error=\"%s\"",
			          u->name, from, strerror(errno));
		free(from);
		free(to);
	}
	if (err == STORE_OK && store_maildir_fsync_dir(u, u->dir) < 0)
		err = STORE_ERR_IO;
	return err;
}

static void smb_unmove_dirs(struct smd_user *u, struct smb_move *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!v[i].moved)
			continue;
		char *from = store_maildir_path(u, v[i].old_dir, NULL);
		char *to = store_maildir_path(u, v[i].new_dir, NULL);
		rename(to, from);
		free(from);
		free(to);
	}
}

/* Creates the missing parents of name. Inside a transaction. */
static enum store_err smb_create_parents(struct smd_user *u, const char *name)
{
	const char *slash = strrchr(name, '/');
	if (slash == NULL)
		return STORE_OK;
	char *parent = xstrndup(name, (size_t)(slash - name));
	struct smi_mbox m;
	enum store_err err = store_maildir_index_mbox(u, parent, 0, &m);
	store_maildir_index_mbox_free(&m);
	if (err == STORE_ERR_NOTFOUND)
		err = smb_create_path(u, parent, 0, false);
	free(parent);
	return err;
}

static enum store_err smb_rename_tree(struct smd_user *u, const struct smi_mbox *f, const char *to)
{
	struct smb_move *v = NULL;
	size_t n = 0;
	enum store_err err = smb_plan(u, f, to, &v, &n);
	if (err == STORE_OK)
		err = store_maildir_index_begin(u);
	else {
		smb_moves_free(v, n);
		return err;
	}
	err = smb_create_parents(u, to);
	if (err == STORE_OK)
		err = smb_move_dirs(u, v, n);
	for (size_t i = 0; i < n && err == STORE_OK; i++) {
		sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_RENAME);
		sqlite3_bind_int64(s, 1, v[i].id);
		sqlite3_bind_text(s, 2, v[i].new_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, v[i].new_dir, -1, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		store_maildir_index_done(u, s);
		if (rc != SQLITE_DONE)
			err = store_maildir_index_err(u, rc, "rename");
	}
	if (err == STORE_OK)
		err = store_maildir_index_commit(u);
	else
		store_maildir_index_rollback(u);
	if (err != STORE_OK)
		smb_unmove_dirs(u, v, n);
	smb_moves_free(v, n);
	return err;
}

/* RENAME INBOX (RFC 9051 §6.3.6): a new mailbox receives INBOX's
 * messages (files renamed, UIDs kept: the new mailbox has a UIDVALIDITY
 * of its own); INBOX stays, empty, and its children stay where they are. */
static enum store_err smb_rename_inbox_files(struct smd_user *u, const struct smi_mbox *f,
                                             const struct smi_mbox *t, struct smb_file *v, size_t n,
                                             size_t *moved_r)
{
	enum store_err err = STORE_OK;
	uint64_t tmod = t->highestmodseq + 1;
	for (*moved_r = 0; *moved_r < n && err == STORE_OK; (*moved_r)++) {
		char *cur = store_maildir_path(u, f->dir, "cur");
		char *tcur = store_maildir_path(u, t->dir, "cur");
		size_t len = strlen(cur) + strlen(tcur) + 2 * strlen(v[*moved_r].file) + 4;
		char *from = xmalloc(len), *to = xmalloc(len);
		snprintf(from, len, "%s/%s", cur, v[*moved_r].file);
		snprintf(to, len, "%s/%s", tcur, v[*moved_r].file);
		if (rename(from, to) < 0)
			err = STORE_ERR_IO;
		free(cur);
		free(tcur);
		free(from);
		free(to);
		if (err != STORE_OK)
			return err;
		sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_COPY);
		sqlite3_bind_int64(s, 1, f->id);
		sqlite3_bind_int64(s, 2, v[*moved_r].uid);
		sqlite3_bind_int64(s, 3, t->id);
		sqlite3_bind_int64(s, 4, v[*moved_r].uid);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)tmod);
		sqlite3_bind_text(s, 6, v[*moved_r].file, -1, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		store_maildir_index_done(u, s);
		if (rc != SQLITE_DONE)
			err = store_maildir_index_err(u, rc, "rename");
	}
	return err;
}

static void smb_unmove_files(struct smd_user *u, const struct smi_mbox *f, const struct smi_mbox *t,
                             struct smb_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *from = store_maildir_path(u, f->dir, "cur");
		char *to = store_maildir_path(u, t->dir, "cur");
		size_t len = strlen(from) + strlen(to) + 2 * strlen(v[i].file) + 4;
		char *a = xmalloc(len), *b = xmalloc(len);
		snprintf(a, len, "%s/%s", from, v[i].file);
		snprintf(b, len, "%s/%s", to, v[i].file);
		rename(b, a);
		free(a);
		free(b);
		free(from);
		free(to);
	}
}

static enum store_err smb_rename_inbox_tx(struct smd_user *u, const struct smi_mbox *f,
                                          const char *to, struct smb_file *v, size_t n,
                                          uint64_t *modseq_r)
{
	enum store_err err = smb_create_path(u, to, 0, false);
	struct smi_mbox t = {0};
	if (err == STORE_OK)
		err = store_maildir_index_mbox(u, to, 0, &t);
	size_t moved = 0;
	if (err == STORE_OK)
		err = smb_rename_inbox_files(u, f, &t, v, n, &moved);
	char *tcur = store_maildir_path(u, t.dir ? t.dir : "", "cur");
	if (err == STORE_OK && n > 0 && store_maildir_fsync_dir(u, tcur) < 0)
		err = STORE_ERR_IO;
	free(tcur);
	uint32_t *uids = xmalloc((n ? n : 1) * sizeof(*uids));
	for (size_t i = 0; i < n; i++)
		uids[i] = v[i].uid;
	*modseq_r = f->highestmodseq + 1;
	if (err == STORE_OK && n > 0)
		err = store_maildir_change_expunge_rows(u, f->id, uids, n, *modseq_r);
	if (err == STORE_OK && n > 0)
		err = store_maildir_index_set_next(u, t.id, v[n - 1].uid + 1, t.highestmodseq + 1);
	free(uids);
	if (err != STORE_OK && t.dir != NULL) {
		smb_unmove_files(u, f, &t, v, moved);
		char *top = store_maildir_path(u, t.dir, NULL);
		store_maildir_rmtree(top);
		free(top);
	}
	store_maildir_index_mbox_free(&t);
	return err;
}

static enum store_err smb_rename_inbox(struct smd_user *u, const struct smi_mbox *f, const char *to)
{
	struct smb_file *v = NULL;
	size_t n = 0;
	uint64_t modseq = 0;
	enum store_err err = smb_files(u, f->id, &v, &n);
	if (err == STORE_OK)
		err = store_maildir_index_begin(u);
	if (err == STORE_OK) {
		err = smb_rename_inbox_tx(u, f, to, v, n, &modseq);
		if (err == STORE_OK)
			err = store_maildir_index_commit(u);
		else
			store_maildir_index_rollback(u);
	}
	if (err == STORE_OK && n > 0) {
		store_maildir_write_uidvalidity(u, f->dir, f->uidvalidity, f->uidnext);
		store_maildir_msg_notify(u, f->id, modseq);
	}
	smb_files_free(v, n);
	return err;
}

static enum store_err smb_rename(struct smd_user *u, const char *from, const char *to)
{
	struct smi_mbox f, t;
	enum store_err err = store_maildir_index_mbox(u, from, 0, &f);
	if (err != STORE_OK)
		return err;
	err = store_maildir_index_mbox(u, to, 0, &t);
	store_maildir_index_mbox_free(&t);
	if (err == STORE_OK)
		err = STORE_ERR_EXISTS;
	else if (err == STORE_ERR_NOTFOUND)
		err = STORE_OK;
	size_t flen = strlen(from);
	/* A mailbox cannot become its own child. */
	if (err == STORE_OK && strncmp(to, from, flen) == 0 && to[flen] == '/')
		err = STORE_ERR_INVALID_NAME;
	if (err == STORE_OK)
		err = strcmp(from, "INBOX") == 0 ? smb_rename_inbox(u, &f, to)
		                                 : smb_rename_tree(u, &f, to);
	store_maildir_index_mbox_free(&f);
	return err;
}

enum store_err store_maildir_mbox_rename(struct store_user *pu, const char *from, const char *to)
{
	struct smd_user *u = store_maildir_user_of(pu);
	/* An APPEND writing into the directory holds the writer lock. */
	store_maildir_write_lock(u);
	pthread_mutex_lock(&u->lock);
	enum store_err err = smb_rename(u, from, to);
	store_maildir_write_unlock(u);
	pthread_mutex_unlock(&u->lock);
	return err;
}
