/* store_maildir_change: changes to existing messages — STORE (flags and
 * keywords), EXPUNGE — and the change log sessions follow.
 *
 * Each operation is one index transaction that takes one new modseq for
 * the mailbox (RFC 7162 §3.1: every change gets a modseq above all
 * earlier ones). EXPUNGE deletes rows and writes tombstones in that
 * transaction, then unlinks the files: a crash in between leaves files
 * whose UIDs are tombstoned, which recovery removes. The change log is
 * rows with modseq > since plus tombstones with modseq > since. */
#include "store/store_maildir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

struct smc_item {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	char *keywords; /* set_flags */
	char *file;     /* expunge */
};

struct smc_list {
	struct smc_item *v;
	size_t n, cap;
};

static struct smc_item *smc_push(struct smc_list *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	struct smc_item *it = &l->v[l->n++];
	memset(it, 0, sizeof(*it));
	return it;
}

static void smc_list_free(struct smc_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].keywords);
		free(l->v[i].file);
	}
	free(l->v);
}

/* --- STORE --- */

struct smc_flag_req {
	enum store_flag_op op;
	uint32_t flags;
	const char *keywords;
	uint64_t unchangedsince;
	uint64_t modseq; /* the transaction's new modseq */
	bool changed;    /* any row changed */
};

/* Applies the change to one message; records it for the callback. */
static enum store_err smc_flag_one(struct smd_user *u, int64_t id, uint32_t uid,
                                   struct smc_flag_req *req, struct smc_list *out)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_FILE);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, uid);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		store_maildir_index_done(u, s);
		return rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, "flags");
	}
	uint32_t old = (uint32_t)sqlite3_column_int(s, 2);
	const char *old_kw = (const char *)sqlite3_column_text(s, 3);
	uint64_t modseq = (uint64_t)sqlite3_column_int64(s, 4);
	if (req->unchangedsince != 0 && modseq > req->unchangedsince) {
		store_maildir_index_done(u, s);
		return STORE_OK; /* RFC 7162 §3.2: not changed, reported as MODIFIED */
	}
	uint32_t flags = req->op == STORE_OP_ADD      ? old | req->flags
	                 : req->op == STORE_OP_REMOVE ? old & ~req->flags
	                                              : req->flags;
	flags &= STORE_FLAGS_ALL;
	char *kw = store_keywords_apply(old_kw ? old_kw : "", req->op, req->keywords);
	bool changed = flags != old || strcmp(kw, old_kw ? old_kw : "") != 0;
	store_maildir_index_done(u, s);
	struct smc_item *it = smc_push(out);
	it->uid = uid;
	it->flags = flags;
	it->keywords = kw;
	it->modseq = modseq;
	if (!changed)
		return STORE_OK;
	it->modseq = req->modseq;
	req->changed = true;
	s = store_maildir_index_stmt(u, SMI_MSG_SET_FLAGS);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int(s, 3, (int)flags);
	sqlite3_bind_text(s, 4, kw, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)req->modseq);
	rc = sqlite3_step(s);
	store_maildir_index_done(u, s);
	return rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, "flags");
}

static enum store_err smc_set_flags(struct smd_mailbox *mb, const uint32_t *uids, size_t n,
                                    struct smc_flag_req *req, struct smc_list *out)
{
	struct smd_user *u = mb->u;
	if (mb->gone)
		return STORE_ERR_NOTFOUND;
	struct smi_mbox m;
	enum store_err err = store_maildir_index_mbox(u, NULL, mb->id, &m);
	if (err != STORE_OK)
		return err;
	req->modseq = m.highestmodseq + 1;
	store_maildir_index_mbox_free(&m);
	err = store_maildir_index_begin(u);
	for (size_t i = 0; i < n && err == STORE_OK; i++)
		err = smc_flag_one(u, mb->id, uids[i], req, out);
	if (err == STORE_OK && req->changed)
		err = store_maildir_index_set_next(u, mb->id, 0, req->modseq);
	if (err == STORE_OK)
		err = store_maildir_index_commit(u);
	else
		store_maildir_index_rollback(u);
	if (err == STORE_OK && req->changed)
		store_maildir_msg_notify(u, mb->id, req->modseq);
	return err;
}

enum store_err store_maildir_change_set_flags(struct store_mailbox *pmb, const uint32_t *uids,
                                              size_t n, enum store_flag_op op, uint32_t flags,
                                              const char *keywords, uint64_t unchangedsince,
                                              store_msg_fn *fn, void *ctx)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	struct smc_flag_req req = {
	    .op = op, .flags = flags, .keywords = keywords, .unchangedsince = unchangedsince};
	struct smc_list out = {0};
	pthread_mutex_lock(&mb->u->lock);
	enum store_err err = smc_set_flags(mb, uids, n, &req, &out);
	pthread_mutex_unlock(&mb->u->lock);
	for (size_t i = 0; i < out.n && err == STORE_OK && fn != NULL; i++) {
		struct store_msg m = {.uid = out.v[i].uid,
		                      .flags = out.v[i].flags,
		                      .keywords = out.v[i].keywords,
		                      .modseq = out.v[i].modseq,
		                      .sent_date = -1};
		if (fn(ctx, &m) != 0)
			break;
	}
	smc_list_free(&out);
	return err;
}

/* --- EXPUNGE --- */

/* The \Deleted messages among uids (all of them when uids is NULL). */
static enum store_err smc_deleted(struct smd_user *u, int64_t id, const uint32_t *uids, size_t n,
                                  struct smc_list *out)
{
	size_t count = uids != NULL ? n : 1;
	int rc = SQLITE_DONE;
	for (size_t i = 0; i < count && rc == SQLITE_DONE; i++) {
		sqlite3_stmt *s =
		    store_maildir_index_stmt(u, uids ? SMI_MSG_FILE : SMI_MSG_DELETED_UIDS);
		sqlite3_bind_int64(s, 1, id);
		if (uids != NULL)
			sqlite3_bind_int64(s, 2, uids[i]);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (uids != NULL && !(sqlite3_column_int(s, 2) & STORE_FLAG_DELETED))
				continue;
			struct smc_item *it = smc_push(out);
			it->uid = uids ? uids[i] : (uint32_t)sqlite3_column_int64(s, 0);
			it->file = xstrdup((const char *)sqlite3_column_text(s, uids ? 0 : 1));
		}
		store_maildir_index_done(u, s);
	}
	return rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, "expunge");
}

enum store_err store_maildir_change_expunge_rows(struct smd_user *u, int64_t id,
                                                 const uint32_t *uids, size_t n, uint64_t modseq)
{
	enum store_err err = STORE_OK;
	for (size_t i = 0; i < n && err == STORE_OK; i++) {
		sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_DELETE);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, uids[i]);
		int rc = sqlite3_step(s);
		store_maildir_index_done(u, s);
		if (rc != SQLITE_DONE)
			err = store_maildir_index_err(u, rc, "expunge");
		else
			err = store_maildir_index_tombstone(u, id, uids[i], modseq);
	}
	if (err == STORE_OK && n > 0)
		err = store_maildir_index_set_next(u, id, 0, modseq);
	return err;
}

void store_maildir_change_unlink(struct smd_user *u, const char *dir, const char *file)
{
	char *cur = store_maildir_path(u, dir, "cur");
	size_t len = strlen(cur) + strlen(file) + 2;
	char *path = xmalloc(len);
	snprintf(path, len, "%s/%s", cur, file);
	unlink(path);
	free(path);
	free(cur);
}

static enum store_err smc_expunge(struct smd_mailbox *mb, const uint32_t *uids, size_t n,
                                  struct smc_list *out)
{
	struct smd_user *u = mb->u;
	struct smi_mbox m;
	enum store_err err =
	    mb->gone ? STORE_ERR_NOTFOUND : store_maildir_index_mbox(u, NULL, mb->id, &m);
	if (err != STORE_OK)
		return err;
	err = smc_deleted(u, mb->id, uids, n, out);
	if (err != STORE_OK || out->n == 0) {
		store_maildir_index_mbox_free(&m);
		return err;
	}
	uint64_t modseq = m.highestmodseq + 1;
	uint32_t *v = xmalloc(out->n * sizeof(*v));
	for (size_t i = 0; i < out->n; i++)
		v[i] = out->v[i].uid;
	err = store_maildir_index_begin(u);
	if (err == STORE_OK)
		err = store_maildir_change_expunge_rows(u, mb->id, v, out->n, modseq);
	if (err == STORE_OK)
		err = store_maildir_index_commit(u);
	else
		store_maildir_index_rollback(u);
	free(v);
	if (err == STORE_OK) {
		store_maildir_write_uidvalidity(u, m.dir, m.uidvalidity, m.uidnext);
		for (size_t i = 0; i < out->n; i++)
			store_maildir_change_unlink(u, m.dir, out->v[i].file);
		store_maildir_msg_notify(u, mb->id, modseq);
	}
	store_maildir_index_mbox_free(&m);
	return err;
}

enum store_err store_maildir_change_expunge(struct store_mailbox *pmb, const uint32_t *uids,
                                            size_t n, uint32_t **expunged_r, size_t *n_expunged_r)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	struct smc_list out = {0};
	pthread_mutex_lock(&mb->u->lock);
	enum store_err err = smc_expunge(mb, uids, n, &out);
	pthread_mutex_unlock(&mb->u->lock);
	if (err == STORE_OK && out.n > 0) {
		uint32_t *v = xmalloc(out.n * sizeof(*v));
		for (size_t i = 0; i < out.n; i++)
			v[i] = out.v[i].uid;
		*expunged_r = v;
		*n_expunged_r = out.n;
	}
	smc_list_free(&out);
	return err;
}

/* --- the change log --- */

enum store_err store_maildir_change_changes(struct store_mailbox *pmb, uint64_t since,
                                            uint32_t below_uid, store_change_fn *fn, void *ctx,
                                            uint64_t *highest_r)
{
	struct smd_mailbox *mb = store_maildir_mailbox_of(pmb);
	struct smd_user *u = mb->u;
	pthread_mutex_lock(&u->lock);
	struct smi_mbox m = {0};
	enum store_err err =
	    mb->gone ? STORE_ERR_NOTFOUND : store_maildir_index_mbox(u, NULL, mb->id, &m);
	*highest_r = err == STORE_OK ? m.highestmodseq : 0;
	store_maildir_index_mbox_free(&m);
	if (err != STORE_OK) {
		pthread_mutex_unlock(&u->lock);
		return err;
	}
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_CHANGES);
	sqlite3_bind_int64(s, 1, mb->id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)since);
	sqlite3_bind_int64(s, 3, below_uid);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_change c = {.uid = (uint32_t)sqlite3_column_int64(s, 0),
		                         .modseq = (uint64_t)sqlite3_column_int64(s, 1),
		                         .expunged = sqlite3_column_int(s, 2) != 0,
		                         .flags = (uint32_t)sqlite3_column_int(s, 3),
		                         .keywords = (const char *)sqlite3_column_text(s, 4)};
		if (c.keywords == NULL)
			c.keywords = "";
		fn(ctx, &c);
	}
	store_maildir_index_done(u, s);
	if (rc != SQLITE_DONE)
		err = store_maildir_index_err(u, rc, "changes");
	pthread_mutex_unlock(&u->lock);
	return err;
}
