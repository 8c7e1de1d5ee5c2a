/* store_maildir: private declarations of the embedded backend (Maildir++
 * message files plus one SQLite index per user). Only the src/store files
 * include this header; everything above the store uses store.h, and
 * store.c reaches this backend only through store_maildir_ops
 * (store_backend.h).
 *
 * Locking: struct smd_store's `lock` guards its table of open users, every
 * user's refcount and the inotify watch table. Each user has its own
 * recursive mutex `lock` that serializes every operation on the user, its
 * database and its mailbox handles (recursive so that a FETCH callback may
 * open a body or an append transaction may poll the modseq on the same
 * thread). Order: a user lock may be held while taking the store lock,
 * never the reverse. */
#ifndef ROOST_STORE_STORE_MAILDIR_H
#define ROOST_STORE_STORE_MAILDIR_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/htab.h"
#include "mail/mime.h"
#include "store/store_backend.h"

/* Cached prepared statements, one per query (store_maildir_index.c). */
enum smi_stmt {
	SMI_MBOX_BY_NAME,
	SMI_MBOX_BY_ID,
	SMI_MBOX_INSERT,
	SMI_MBOX_SET_NEXT,
	SMI_MBOX_SET_RECENT,
	SMI_MBOX_LIST,
	SMI_MBOX_CHILDREN,
	SMI_MBOX_DELETE,
	SMI_MBOX_SET_NOSELECT,
	SMI_MBOX_RENAME,
	SMI_MSG_INSERT,
	SMI_MSG_GET,
	SMI_MSG_RANGE,
	SMI_MSG_GET_META,
	SMI_MSG_RANGE_META,
	SMI_MSG_FILE,
	SMI_MSG_UIDS,
	SMI_MSG_UID_LIST,
	SMI_MSG_SET_FLAGS,
	SMI_MSG_DELETE,
	SMI_MSG_DELETED_UIDS,
	SMI_MSG_COPY,
	SMI_MSG_KEYWORDS,
	SMI_MSG_STATUS,
	SMI_MSG_MAXUID,
	SMI_TOMB_INSERT,
	SMI_TOMB_MAXUID,
	SMI_TOMB_HAS,
	SMI_CHANGES,
	SMI_SUB_LIST,
	SMI_SUB_ADD,
	SMI_SUB_DEL,
	SMI_META_GET,
	SMI_META_SET,
	SMI_QUOTA_USAGE,
	SMI_COUNT
};

/* Each object begins with its public struct (store_backend.h), whose ops
 * is &store_maildir_ops; the store_maildir_*_of() helpers below convert
 * the public pointers the ops receive. */
struct smd_store {
	struct store pub;
	char *root;
	bool fsync;
	pthread_mutex_t lock;
	struct htab users; /* open users by name (smd_user.by_name), lingering ones too */
	/* Users no session holds, kept open a while (store_maildir_user.c):
	 * least recently released first. */
	struct smd_user *idle_first, *idle_last;
	size_t n_idle;
	unsigned linger_ms, linger_users; /* store_settings */
	unsigned fts_catch_up_ms;
	struct htab recovered; /* names of the users recovered by this process */
	/* inotify watcher (store_maildir_watch.c), started lazily. */
	struct htab watches_by_wd, watches_by_box; /* struct smw_watch */
	int inotify_fd;
	int wake_fd; /* eventfd: stop request */
	bool thread_running;
	pthread_t thread;
};

/* Mailbox row as the operations need it. */
struct smi_mbox {
	int64_t id;
	char *name;
	char *dir; /* relative to the user's directory: "" for INBOX */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	unsigned special_use;
	bool noselect;
	uint32_t recent_uid;
};

struct smd_user {
	struct store_user pub;
	struct smd_store *st;
	struct htab_node by_name;
	struct smd_user *next; /* lists of users to free (store_maildir_user.c) */
	char *name;
	char *dir;    /* <mail_root>/<user> */
	int refcount; /* under st->lock */
	/* Lingering (refcount 0, still open), under st->lock. */
	bool idle;
	uint64_t idle_since_ms;
	struct smd_user *idle_prev, *idle_next;
	bool failed;  /* initialization failed (others waiting give up) */
	enum store_err open_err;
	pthread_mutex_t lock;
	/* The writer lock: serializes everything that hands out UIDs or adds
	 * message files (APPEND, new/ pickups, COPY/MOVE, import) and the
	 * DELETE/RENAME that move their directories. Taken before `lock`,
	 * never waited for while holding it: an APPEND holds only `wlock`
	 * while it writes and fsyncs its files, so the user's other sessions
	 * read the index meanwhile (store_maildir_append.c). */
	pthread_mutex_t wlock;
	/* Mailboxes whose new/ pickup found `wlock` taken (under `lock`): the
	 * writer picks them up before it lets `wlock` go. */
	int64_t *new_pending;
	size_t n_new_pending;
	sqlite3 *db;
	sqlite3_stmt *stmts[SMI_COUNT];
	struct smd_mailbox *handles; /* open mailbox handles (linked) */
	_Atomic uint32_t file_counter;
	/* Quota limits, 0 = unlimited (atomics: set without the user locks,
	 * which an append holds while it writes). */
	_Atomic uint64_t quota_bytes;
	_Atomic uint64_t quota_messages;
	/* The full-text index (store_maildir_fts.c): created on first use
	 * under `lock`, then guarded by its own mutex; freed by
	 * store_maildir_fts_close when the user is freed. */
	struct smf_index *fts;
};

struct smd_mailbox {
	struct store_mailbox pub;
	struct smd_user *u;
	struct smd_mailbox *next;
	int64_t id;
	bool gone; /* deleted while open */
	uint64_t highestmodseq;
	store_watch_fn *fn;
	void *ctx;
};

static inline struct smd_store *store_maildir_store_of(struct store *st)
{
	return (struct smd_store *)st;
}

static inline struct smd_user *store_maildir_user_of(struct store_user *u)
{
	return (struct smd_user *)u;
}

static inline struct smd_mailbox *store_maildir_mailbox_of(struct store_mailbox *mb)
{
	return (struct smd_mailbox *)mb;
}

/* --- store_maildir.c: names, files, writing --- */

/* Encodes a store name as its Maildir++ directory ("" for INBOX).
 * Returns NULL when the result would be too long for the file system. */
char *store_maildir_dir_encode(const char *name);
/* Decodes a ".x.y" directory name; NULL when it is not a valid mailbox. */
char *store_maildir_dir_decode(const char *dir);
/* "<user dir>/<dir>/<sub>" (sub may be NULL). malloc'd. */
char *store_maildir_path(const struct smd_user *u, const char *dir, const char *sub);
/* A new unique file name carrying size, UID and flags. */
char *store_maildir_file_name(struct smd_user *u, uint64_t size, uint32_t uid, uint32_t flags);
/* A new unique base name (tmp/ files). */
char *store_maildir_file_base(struct smd_user *u);
/* Parses ",U=<uid>" and ":2,<flags>" from a file name. Returns false when
 * the name has no UID. */
bool store_maildir_file_parse(const char *name, uint32_t *uid_r, uint32_t *flags_r);
int store_maildir_fsync_dir(const struct smd_user *u, const char *path);
/* Writes dir/roost-uidvalidity: "<uidvalidity> <uidnext>". It lets a
 * rebuilt index keep the UIDVALIDITY and stay above UIDs whose files are
 * gone; rewritten before files are unlinked (EXPUNGE, MOVE). */
int store_maildir_write_uidvalidity(struct smd_user *u, const char *dir, uint32_t uidvalidity,
                                    uint32_t uidnext);
/* Creates dir/{cur,new,tmp} and the uidvalidity file. */
int store_maildir_make_dirs(struct smd_user *u, const char *dir, uint32_t uidvalidity);
/* Writes data (bare LF -> CRLF) to a tmp file in dir, parses it, fsyncs,
 * sets mtime and renames it into cur/ as <name for uid>. Returns 0 and
 * the base name, size and summary, or -1. src_fd >= 0: read from that
 * file instead of data. */
struct smm_written {
	char *file;
	uint64_t size;
	struct mail_summary sum;
};
int store_maildir_write(struct smd_user *u, const char *dir, const void *data, size_t len,
                        int src_fd, uint32_t uid, uint32_t flags, int64_t mtime,
                        struct smm_written *w_r);
/* Parses an existing file (already CRLF) into a summary. */
int store_maildir_parse_file(int fd, struct mail_summary *sum_r);
/* Whether the file contains a bare LF. -1 on error. */
int store_maildir_has_bare_lf(int fd);
/* Removes a directory tree (message dirs are flat: one level deep). */
void store_maildir_rmtree(const char *path);
/* mkdir -p with mode 0700. 0 or -1 (errno set). */
int store_maildir_mkdir_p(const char *path);

/* --- the backend's operations (store_backend.h), by file; reached only
 * through store_maildir_ops --- */

/* store_maildir_user.c */
enum store_err store_maildir_user_open(struct store *st, const char *user, struct store_user **u_r);
void store_maildir_user_unref(struct store_user *u);
/* Closes every lingering user (store_close). */
void store_maildir_user_close_idle(struct smd_store *st);
/* Frees the names of the users recovered by this process (store_close). */
void store_maildir_user_forget_recovered(struct smd_store *st);
/* store_maildir_mbox.c */
enum store_err store_maildir_mbox_list(struct store_user *u, struct store_mailbox_entry **entries_r,
                                       size_t *n_r);
enum store_err store_maildir_mbox_create(struct store_user *u, const char *name,
                                         unsigned special_use);
enum store_err store_maildir_mbox_delete(struct store_user *u, const char *name);
enum store_err store_maildir_mbox_rename(struct store_user *u, const char *from, const char *to);
enum store_err store_maildir_mbox_subscribe(struct store_user *u, const char *name, bool subscribe);
enum store_err store_maildir_mbox_status(struct store_user *u, const char *name,
                                         struct store_status *st_r);
/* store_maildir_append.c */
enum store_err store_maildir_append_begin(struct store_user *u, const char *mailbox,
                                          struct store_append **a_r);
enum store_err store_maildir_append_add(struct store_append *a, const struct store_new_msg *msg,
                                        uint32_t *uid_r);
enum store_err store_maildir_append_commit(struct store_append *a, uint32_t *uidvalidity_r);
void store_maildir_append_abort(struct store_append *a);
enum store_err store_maildir_append_copy(struct store_mailbox *mb, const uint32_t *uids, size_t n,
                                         const char *dest, bool move, struct store_copy_result *r);
/* store_maildir_import.c */
enum store_err store_maildir_import_begin(struct store_user *u, const char *mailbox,
                                          uint32_t uidvalidity, struct store_import **im_r);
enum store_err store_maildir_import_add(struct store_import *im, const struct store_new_msg *msg,
                                        uint32_t uid);
enum store_err store_maildir_import_commit(struct store_import *im, uint32_t uidnext);
void store_maildir_import_abort(struct store_import *im);
/* store_maildir_msg.c */
enum store_err store_maildir_msg_open(struct store_user *u, const char *name, bool claim_recent,
                                      struct store_mailbox **mb_r,
                                      struct store_mailbox_info *info_r);
void store_maildir_msg_close(struct store_mailbox *mb);
void store_maildir_msg_watch(struct store_mailbox *mb, store_watch_fn *fn, void *ctx);
enum store_err store_maildir_msg_sync_new(struct store_mailbox *mb);
enum store_err store_maildir_msg_uids(struct store_mailbox *mb, uint32_t **uids_r, size_t *n_r);
uint64_t store_maildir_msg_highestmodseq(struct store_mailbox *mb);
enum store_err store_maildir_msg_fetch(struct store_mailbox *mb, const uint32_t *uids, size_t n,
                                       unsigned fields, store_msg_fn *fn, void *ctx);
enum store_err store_maildir_msg_body_open(struct store_mailbox *mb, uint32_t uid,
                                           struct store_body **b_r);
uint64_t store_maildir_msg_body_size(const struct store_body *b);
ssize_t store_maildir_msg_body_read(struct store_body *b, void *buf, size_t len, uint64_t offset);
const void *store_maildir_msg_body_map(struct store_body *b);
void store_maildir_msg_body_close(struct store_body *b);
/* store_maildir_change.c */
enum store_err store_maildir_change_set_flags(struct store_mailbox *mb, const uint32_t *uids,
                                              size_t n, enum store_flag_op op, uint32_t flags,
                                              const char *keywords, uint64_t unchangedsince,
                                              store_msg_fn *fn, void *ctx);
enum store_err store_maildir_change_expunge(struct store_mailbox *mb, const uint32_t *uids,
                                            size_t n, uint32_t **expunged_r, size_t *n_expunged_r);
enum store_err store_maildir_change_changes(struct store_mailbox *mb, uint64_t since,
                                            uint32_t below_uid, store_change_fn *fn, void *ctx,
                                            uint64_t *highest_r);

/* store_maildir_quota.c */
void store_maildir_quota_set(struct store_user *u, uint64_t bytes, uint64_t messages);
enum store_err store_maildir_quota_check(struct store_user *u, uint64_t size, bool *too_big_r);
enum store_err store_maildir_quota_get(struct store_user *u, uint64_t *used_bytes_r,
                                       uint64_t *limit_bytes_r, uint64_t *messages_r,
                                       uint64_t *limit_messages_r);
/* STORE_OK when add_bytes and add_messages more fit the user's limits,
 * STORE_ERR_OVERQUOTA when not, STORE_ERR_IO when the usage cannot be
 * read. User lock held. */
enum store_err store_maildir_quota_fits(struct smd_user *u, uint64_t add_bytes,
                                        uint64_t add_messages);

/* --- store_maildir_index.c: the SQLite index --- */

enum store_err store_maildir_index_open(struct smd_user *u, bool *created_r);
void store_maildir_index_close(struct smd_user *u);
/* A reset statement for id (a fresh one when the cached one is in use;
 * release it with store_maildir_index_done). */
sqlite3_stmt *store_maildir_index_stmt(struct smd_user *u, enum smi_stmt id);
void store_maildir_index_done(struct smd_user *u, sqlite3_stmt *s);
enum store_err store_maildir_index_err(struct smd_user *u, int rc, const char *what);
enum store_err store_maildir_index_begin(struct smd_user *u);
enum store_err store_maildir_index_commit(struct smd_user *u);
void store_maildir_index_rollback(struct smd_user *u);
/* Loads a mailbox row by name or id. NOTFOUND, or IO. */
enum store_err store_maildir_index_mbox(struct smd_user *u, const char *name, int64_t id,
                                        struct smi_mbox *m_r);
void store_maildir_index_mbox_free(struct smi_mbox *m);
/* Loads a selectable mailbox's row after picking up its new/ deliveries
 * (SELECT, STATUS). NOTFOUND, NOSELECT, or IO; free *m_r on STORE_OK. */
enum store_err store_maildir_mbox_load_synced(struct smd_user *u, const char *name,
					      struct smi_mbox *m_r);
enum store_err store_maildir_index_set_next(struct smd_user *u, int64_t id, uint32_t uidnext,
                                            uint64_t modseq);
/* Makes later UIDVALIDITYs exceed v (one read back from a directory). */
enum store_err store_maildir_index_note_uidvalidity(struct smd_user *u, uint32_t v);
/* A new UIDVALIDITY: max(now, last + 1), remembered. */
enum store_err store_maildir_index_new_uidvalidity(struct smd_user *u, uint32_t *v_r);
/* Inserts a mailbox row (and subscribes when asked). */
enum store_err store_maildir_index_mbox_insert(struct smd_user *u, const char *name,
                                               const char *dir, uint32_t uidvalidity,
                                               unsigned special_use, bool subscribe, int64_t *id_r);
struct smi_msg_row {
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags;
	const char *keywords;
	int64_t internaldate;
	int32_t internaldate_tz;
	uint64_t size;
	const char *file;
	const struct mail_summary *sum;
};
enum store_err store_maildir_index_msg_insert(struct smd_user *u, int64_t mbox_id,
                                              const struct smi_msg_row *r);
enum store_err store_maildir_index_tombstone(struct smd_user *u, int64_t mbox_id, uint32_t uid,
                                             uint64_t modseq);
/* The largest UID in rows and tombstones of a mailbox (0 when none). */
enum store_err store_maildir_index_max_uid(struct smd_user *u, int64_t mbox_id, uint32_t *r);

/* --- store_maildir_mbox.c --- */

/* INBOX and the special-use mailboxes of a new user, all subscribed. */
enum store_err store_maildir_mbox_defaults(struct smd_user *u);

/* --- store_maildir_append.c: adding messages --- */

/* A message file written into cur/ (APPEND, a new/ delivery, an import)
 * whose index row is not yet committed. Owns its strings and summary. */
struct sma_added {
	uint32_t uid;
	char *file;
	uint32_t flags;
	char *keywords;
	int64_t date;
	int32_t tz;
	uint64_t size;
	struct mail_summary sum;
	char *orig; /* new/ deliveries: the name in new/ (to move back on failure) */
};
/* Sets e to the message written as w (e takes over w's file name and
 * summary) under uid; keywords, tz and orig are left empty. */
void store_maildir_append_added_init(struct sma_added *e, uint32_t uid, const struct smm_written *w,
                                     uint32_t flags, int64_t date);
/* Frees what e owns and zeroes it. */
void store_maildir_append_added_clear(struct sma_added *e);
/* Makes the names of n (> 0) files just put into dir's cur/ durable:
 * fsyncs cur/. Needs no lock. */
enum store_err store_maildir_append_sync_cur(struct smd_user *u, const char *dir, size_t n);
/* Commits v[0..n) of mailbox (mbox_id, dir) whose highest modseq is
 * `highest`, their cur/ entries already durable (sync_cur): one index transaction
 * inserts a row per message under one new modseq (highest + 1; none when
 * n == 0) and raises UIDNEXT to uidnext; then tells the mailbox's
 * watchers. *modseq_r gets the mailbox's highest modseq afterwards (set
 * on STORE_OK only); on failure nothing is in the index and the caller
 * removes the files. */
enum store_err store_maildir_append_rows(struct smd_user *u, int64_t mbox_id, const char *dir,
                                         const struct sma_added *v, size_t n, uint32_t uidnext,
                                         uint64_t highest, uint64_t *modseq_r);

/* Picks up new/ deliveries of a mailbox; notifies when any. Called with
 * `lock` held: when a writer holds `wlock`, the pickup is left to it. */
enum store_err store_maildir_append_sync_new(struct smd_user *u, int64_t mbox_id);
/* Takes the writer lock (before `lock`; see struct smd_user). */
void store_maildir_write_lock(struct smd_user *u);
/* Runs the new/ pickups left to this writer, then lets `wlock` go.
 * Called with `lock` held. */
void store_maildir_write_unlock(struct smd_user *u);

/* --- store_maildir_change.c --- */

/* Deletes rows and writes tombstones with modseq; inside a transaction. */
enum store_err store_maildir_change_expunge_rows(struct smd_user *u, int64_t id,
                                                 const uint32_t *uids, size_t n, uint64_t modseq);
/* Unlinks cur/<file> of the mailbox directory dir. */
void store_maildir_change_unlink(struct smd_user *u, const char *dir, const char *file);

/* --- store_maildir_msg.c: messages --- */

/* Tells every open handle of the mailbox its new modseq and calls the
 * registered watchers. User lock held. */
void store_maildir_msg_notify(struct smd_user *u, int64_t mbox_id, uint64_t modseq);

/* --- store_maildir_recover.c --- */

/* Reconciles files and rows of every mailbox; rebuilds mailboxes from
 * directories when the index was created anew. User lock held. */
enum store_err store_maildir_recover(struct smd_user *u, bool index_created);
/* Reconciles one mailbox (also used after an unclean rename). */
enum store_err store_maildir_recover_mailbox(struct smd_user *u, const struct smi_mbox *m);

/* --- store_maildir_fts.c: the full-text index (roost-fts.sqlite) --- */

enum store_err store_maildir_fts_search(struct store_mailbox *mb, struct store_fts_query *q,
                                        size_t n, bool may_index, uint32_t **missing_r, size_t *n_missing_r,
                                        struct store_fts_info *info_r);
/* Closes the user's full-text index (the user is being freed). */
void store_maildir_fts_close(struct smd_user *u);

/* --- store_maildir_watch.c --- */

/* Adds/removes an inotify watch on the mailbox's new/. User lock held. */
void store_maildir_watch_add(struct smd_user *u, int64_t mbox_id);
void store_maildir_watch_remove(struct smd_user *u, int64_t mbox_id);
/* Stops the watcher thread (store_close). */
void store_maildir_watch_stop(struct smd_store *st);

#endif
