/* store_maildir_recover: makes the index agree with the message files.
 *
 * Runs on the first store_user_open() of a user in this process, under
 * the user's lock. The files are the truth for what exists, the index
 * for everything else:
 *   - a directory without a row becomes a mailbox (UIDVALIDITY read back
 *     from its roost-uidvalidity file when there is one, with the uidnext
 *     recorded there at the last EXPUNGE); "#deleted-*"
 *     directories (a DELETE that did not finish) are removed;
 *   - a file whose UID is tombstoned is removed (an EXPUNGE that did not
 *     finish unlinking); a file without a row gets its row, parsed again
 *     (a crash between rename and commit); a file without a UID in its
 *     name, or whose UID's row names another file, goes to new/ to get a
 *     fresh UID;
 *   - a row without a file is deleted and tombstoned;
 *   - uidnext ends above every UID in files, rows and tombstones, so no
 *     UID is ever handed out twice.
 * A missing or damaged index.sqlite is therefore rebuilt from the files
 * with the UIDs in their names (flags as of the file name, keywords
 * lost). */
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

/* Maildir: a tmp/ file this old was abandoned by its writer. */
#define SMR_TMP_MAX_AGE (36 * 3600)

struct smr_row {
	uint32_t uid;
	char *file;
	bool seen;
};

struct smr_state {
	struct smd_user *u;
	const struct smi_mbox *m;
	struct smr_row *rows;
	size_t n_rows;
	uint64_t modseq; /* for rows added or tombstoned */
	uint32_t max_uid;
	bool changed;
};

static char *smr_join(const char *a, const char *b)
{
	size_t len = strlen(a) + strlen(b) + 2;
	char *p = xmalloc(len);
	snprintf(p, len, "%s/%s", a, b);
	return p;
}

/* Reads "<uidvalidity> [<uidnext>]"; 0 for what is missing. */
static uint32_t smr_read_uidvalidity(struct smd_user *u, const char *dir, uint32_t *uidnext_r)
{
	char *p = store_maildir_path(u, dir, "roost-uidvalidity");
	FILE *f = fopen(p, "re");
	free(p);
	unsigned long v = 0, next = 0;
	if (f != NULL) {
		int n = fscanf(f, "%lu %lu", &v, &next);
		if (n < 1 || v >= UINT32_MAX)
			v = 0;
		if (n < 2 || next >= UINT32_MAX)
			next = 0;
		fclose(f);
	}
	*uidnext_r = (uint32_t)next;
	return (uint32_t)v;
}

/* Adds a mailbox row for a directory found on disk. */
static enum store_err smr_adopt(struct smd_user *u, const char *name, const char *dir)
{
	struct smi_mbox m;
	enum store_err err = store_maildir_index_mbox(u, name, 0, &m);
	store_maildir_index_mbox_free(&m);
	if (err != STORE_ERR_NOTFOUND)
		return err;
	uint32_t uidnext = 0;
	uint32_t uv = smr_read_uidvalidity(u, dir, &uidnext);
	if (uv != 0)
		err = store_maildir_index_note_uidvalidity(u, uv);
	else
		err = store_maildir_index_new_uidvalidity(u, &uv);
	if (err == STORE_OK && store_maildir_make_dirs(u, dir, uv) < 0)
		err = STORE_ERR_IO;
	int64_t id;
	if (err == STORE_OK)
		err = store_maildir_index_mbox_insert(u, name, dir, uv, 0, true, &id);
	if (err == STORE_OK && uidnext > 1)
		err = store_maildir_index_set_next(u, id, uidnext, 0);
	if (err == STORE_OK)
		log_info("event=store_recover user=%s adopted=%s", u->name, dir);
	return err;
}

static bool smr_is_maildir(struct smd_user *u, const char *dir)
{
	char *p = store_maildir_path(u, dir, "cur");
	struct stat stt;
	bool ok = stat(p, &stt) == 0 && S_ISDIR(stt.st_mode);
	free(p);
	return ok;
}

/* Walks the user's directory: adopts mailboxes, removes #deleted-*. */
static enum store_err smr_discover(struct smd_user *u)
{
	DIR *d = opendir(u->dir);
	if (d == NULL)
		return STORE_ERR_IO;
	enum store_err err = STORE_OK;
	if (smr_is_maildir(u, ""))
		err = smr_adopt(u, "INBOX", "");
	struct dirent *de;
	while (err == STORE_OK && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "#deleted-", 9) == 0) {
			char *p = smr_join(u->dir, de->d_name);
			store_maildir_rmtree(p);
			free(p);
			continue;
		}
		char *name = store_maildir_dir_decode(de->d_name);
		if (name != NULL && smr_is_maildir(u, de->d_name))
			err = smr_adopt(u, name, de->d_name);
		free(name);
	}
	closedir(d);
	return err;
}

/* --- one mailbox --- */

static int smr_row_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct smr_row *)a)->uid, y = ((const struct smr_row *)b)->uid;
	return x < y ? -1 : x > y;
}

static enum store_err smr_load_rows(struct smr_state *rs)
{
	struct smd_user *u = rs->u;
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MSG_UIDS);
	sqlite3_bind_int64(s, 1, rs->m->id);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (rs->n_rows == cap) {
			cap = cap ? cap * 2 : 256;
			rs->rows = xrealloc(rs->rows, cap * sizeof(*rs->rows));
		}
		struct smr_row *r = &rs->rows[rs->n_rows++];
		r->uid = (uint32_t)sqlite3_column_int64(s, 0);
		r->file = xstrdup((const char *)sqlite3_column_text(s, 1));
		r->seen = false;
	}
	store_maildir_index_done(u, s);
	return rc == SQLITE_DONE ? STORE_OK : store_maildir_index_err(u, rc, "recover");
}

static int smr_tombstoned(struct smr_state *rs, uint32_t uid)
{
	sqlite3_stmt *s = store_maildir_index_stmt(rs->u, SMI_TOMB_HAS);
	sqlite3_bind_int64(s, 1, rs->m->id);
	sqlite3_bind_int64(s, 2, uid);
	int rc = sqlite3_step(s);
	store_maildir_index_done(rs->u, s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Gives a file without a usable UID to new/ (sync_new assigns one). */
static void smr_to_new(struct smr_state *rs, const char *cur, const char *name)
{
	char *from = smr_join(cur, name);
	char *newdir = store_maildir_path(rs->u, rs->m->dir, "new");
	char *base = store_maildir_file_base(rs->u);
	const char *info = strstr(name, ":2,");
	size_t len = strlen(base) + (info ? strlen(info) : 0) + 1;
	char *to_name = xmalloc(len);
	snprintf(to_name, len, "%s%s", base, info ? info : "");
	char *to = smr_join(newdir, to_name);
	if (rename(from, to) == 0)
		log_warn("event=store_recover user=%s redeliver=%s", rs->u->name, from);
	free(from);
	free(newdir);
	free(base);
	free(to_name);
	free(to);
}

/* A file in cur/ with a UID and no row: parse it and insert its row. */
static enum store_err smr_add_row(struct smr_state *rs, const char *path, const char *name,
                                  uint32_t uid, uint32_t flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat stt;
	if (fd < 0 || fstat(fd, &stt) < 0 || !S_ISREG(stt.st_mode)) {
		if (fd >= 0)
			close(fd);
		return STORE_OK;
	}
	struct mail_summary sum;
	int rc = store_maildir_parse_file(fd, &sum);
	close(fd);
	if (rc < 0) {
		mail_summary_free(&sum);
		return STORE_ERR_IO;
	}
	struct smi_msg_row row = {.uid = uid,
	                          .modseq = rs->modseq,
	                          .flags = flags,
	                          .keywords = "",
	                          .internaldate = (int64_t)stt.st_mtime,
	                          .size = (uint64_t)stt.st_size,
	                          .file = name,
	                          .sum = &sum};
	enum store_err err = store_maildir_index_msg_insert(rs->u, rs->m->id, &row);
	mail_summary_free(&sum);
	rs->changed = true;
	log_info("event=store_recover user=%s added_uid=%u mailbox_dir=\"%s\"", rs->u->name, uid,
	         rs->m->dir);
	return err;
}

static enum store_err smr_file(struct smr_state *rs, const char *cur, const char *name)
{
	uint32_t uid, flags;
	if (!store_maildir_file_parse(name, &uid, &flags)) {
		smr_to_new(rs, cur, name);
		return STORE_OK;
	}
	struct smr_row key = {.uid = uid};
	struct smr_row *r =
	    rs->n_rows == 0 ? NULL
	                    : bsearch(&key, rs->rows, rs->n_rows, sizeof(*rs->rows), smr_row_cmp);
	if (r != NULL) {
		if (strcmp(r->file, name) == 0)
			r->seen = true;
		else
			smr_to_new(rs, cur, name);
		return STORE_OK;
	}
	char *path = smr_join(cur, name);
	int t = smr_tombstoned(rs, uid);
	enum store_err err = STORE_OK;
	if (t < 0)
		err = STORE_ERR_IO;
	else if (t > 0)
		unlink(path);
	else
		err = smr_add_row(rs, path, name, uid, flags);
	if (uid > rs->max_uid)
		rs->max_uid = uid;
	free(path);
	return err;
}

static enum store_err smr_scan_cur(struct smr_state *rs)
{
	char *cur = store_maildir_path(rs->u, rs->m->dir, "cur");
	DIR *d = opendir(cur);
	if (d == NULL) {
		free(cur);
		return STORE_ERR_IO;
	}
	enum store_err err = STORE_OK;
	struct dirent *de;
	while (err == STORE_OK && (de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			err = smr_file(rs, cur, de->d_name);
	}
	closedir(d);
	free(cur);
	return err;
}

static enum store_err smr_missing_files(struct smr_state *rs)
{
	enum store_err err = STORE_OK;
	for (size_t i = 0; i < rs->n_rows && err == STORE_OK; i++) {
		if (rs->rows[i].seen)
			continue;
		log_warn("event=store_recover user=%s lost_uid=%u mailbox_dir=\"%s\"", rs->u->name,
		         rs->rows[i].uid, rs->m->dir);
		err = store_maildir_change_expunge_rows(rs->u, rs->m->id, &rs->rows[i].uid, 1,
		                                        rs->modseq);
		rs->changed = true;
	}
	return err;
}

/* Removes abandoned tmp/ files. */
static void smr_clean_tmp(struct smd_user *u, const char *dir)
{
	char *tmp = store_maildir_path(u, dir, "tmp");
	DIR *d = opendir(tmp);
	struct dirent *de;
	time_t now = time(NULL);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *p = smr_join(tmp, de->d_name);
		struct stat stt;
		if (lstat(p, &stt) == 0 && S_ISREG(stt.st_mode) &&
		    now - stt.st_mtime > SMR_TMP_MAX_AGE)
			unlink(p);
		free(p);
	}
	if (d != NULL)
		closedir(d);
	free(tmp);
}

static enum store_err smr_mailbox_tx(struct smr_state *rs)
{
	enum store_err err = smr_load_rows(rs);
	if (err == STORE_OK)
		err = smr_scan_cur(rs);
	if (err == STORE_OK)
		err = smr_missing_files(rs);
	uint32_t max_idx = 0;
	if (err == STORE_OK)
		err = store_maildir_index_max_uid(rs->u, rs->m->id, &max_idx);
	if (max_idx > rs->max_uid)
		rs->max_uid = max_idx;
	if (err == STORE_OK && (rs->changed || rs->max_uid >= rs->m->uidnext))
		err = store_maildir_index_set_next(rs->u, rs->m->id, rs->max_uid + 1,
		                                   rs->changed ? rs->modseq : 0);
	return err;
}

enum store_err store_maildir_recover_mailbox(struct smd_user *u, const struct smi_mbox *m)
{
	if (m->noselect)
		return STORE_OK;
	if (!smr_is_maildir(u, m->dir) && store_maildir_make_dirs(u, m->dir, m->uidvalidity) < 0)
		return STORE_ERR_IO;
	smr_clean_tmp(u, m->dir);
	struct smr_state rs = {.u = u, .m = m, .modseq = m->highestmodseq + 1};
	enum store_err err = store_maildir_index_begin(u);
	if (err == STORE_OK)
		err = smr_mailbox_tx(&rs);
	if (err == STORE_OK)
		err = store_maildir_index_commit(u);
	else
		store_maildir_index_rollback(u);
	if (err == STORE_OK && rs.changed) {
		uint32_t next = rs.max_uid + 1 > m->uidnext ? rs.max_uid + 1 : m->uidnext;
		store_maildir_write_uidvalidity(u, m->dir, m->uidvalidity, next);
	}
	for (size_t i = 0; i < rs.n_rows; i++)
		free(rs.rows[i].file);
	free(rs.rows);
	return err;
}

/* Names of every mailbox row. */
static char **smr_names(struct smd_user *u, size_t *n_r)
{
	sqlite3_stmt *s = store_maildir_index_stmt(u, SMI_MBOX_LIST);
	char **v = NULL;
	size_t n = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = xstrdup((const char *)sqlite3_column_text(s, 0));
	}
	store_maildir_index_done(u, s);
	*n_r = n;
	return v;
}

enum store_err store_maildir_recover(struct smd_user *u, bool index_created)
{
	enum store_err err = store_maildir_index_begin(u);
	if (err == STORE_OK)
		err = smr_discover(u);
	if (err == STORE_OK)
		err = store_maildir_index_commit(u);
	else
		store_maildir_index_rollback(u);
	if (err == STORE_OK && index_created)
		err = store_maildir_mbox_defaults(u);
	size_t n = 0;
	char **names = err == STORE_OK ? smr_names(u, &n) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct smi_mbox m;
		if (err == STORE_OK && store_maildir_index_mbox(u, names[i], 0, &m) == STORE_OK)
			err = store_maildir_recover_mailbox(u, &m);
		store_maildir_index_mbox_free(&m);
		free(names[i]);
	}
	free(names);
	return err;
}
