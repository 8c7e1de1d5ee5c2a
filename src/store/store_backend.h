/* store_backend: the seam between the store interface (store.h) and the
 * backends that implement it. Only src/store files include this header.
 *
 * store.c is the dispatch layer: every public store_* function checks
 * what any backend would have to check (user and mailbox names with
 * store_user_name_valid / store_name_valid, the INBOX rules of RFC 9051
 * §6.3.4-6.3.6), clears output parameters, then calls the backend through
 * the struct store_backend_ops of the object it was given. Each public
 * object (struct store, store_user, store_mailbox, store_append,
 * store_body) is, to the dispatch layer, only its `ops` pointer: a backend
 * allocates its own larger struct that begins with the public one and sets
 * `ops` when it creates the object. Dispatch costs one indirect call.
 *
 * What a backend must guarantee (a networked backend, e.g. SQL metadata +
 * object storage + pub/sub for change notification, included):
 *   - Names reaching the ops are valid (store.c checked them); a backend
 *     still returns STORE_ERR_INVALID_NAME for names it cannot represent.
 *   - Users: user_open returns the one shared object per user name per
 *     store (refcounted; user_unref drops a reference). Every op taking a
 *     user, and every op on objects derived from it (mailboxes, appends,
 *     bodies), is thread-safe: the backend serializes per user as needed.
 *     A struct store_mailbox is used by one thread at a time; it keeps
 *     its user alive until mailbox_close.
 *   - Durability: append_commit and copy return STORE_OK only when the
 *     messages and their metadata survive a crash (fsync'd files and a
 *     committed transaction, or the remote store's acknowledged write);
 *     a UID is never reused within a UIDVALIDITY, even after a crash.
 *   - Append transactions: nothing added is visible before append_commit,
 *     which makes all of them visible at once; commit and abort free the
 *     transaction, and abort or a failed commit leaves no message behind.
 *     Callers run begin, add and commit/abort on one thread (the maildir
 *     backend holds its per-user lock in between).
 *   - Change notification: every committed change (APPEND, flags,
 *     EXPUNGE, COPY/MOVE, RENAME/DELETE of an open mailbox, external
 *     deliveries) raises the highest modseq seen by every open handle of
 *     that mailbox (mailbox_highestmodseq is polled after each command and
 *     must be cheap: an in-memory value) and calls its registered watch
 *     function. Watch functions run on any thread and may only post a
 *     wake-up; none runs after mailbox_close (or mailbox_watch(NULL))
 *     returns. A networked backend subscribes to its pub/sub channel while
 *     a watcher is registered.
 *   - Modseqs: each committed change takes a new per-mailbox modseq,
 *     strictly increasing; expunges leave tombstones so `changes` can
 *     report them (RFC 7162 QRESYNC needs them too).
 *   - Bytes: messages are stored and returned with CRLF line ends (bare LF
 *     converted on write), so sizes, body reads and the MIME part offsets
 *     in FETCH summaries all refer to exactly the bytes FETCH returns. An
 *     open body stays readable until body_close even if the message is
 *     expunged meanwhile (FETCH streams it over many event-loop turns).
 *   - Memory handed to callers (store_mailbox_entry arrays and names,
 *     store_mailbox_info.keywords, UID arrays, copy results) is malloc'd:
 *     store.c frees it with free() through store_list_free,
 *     store_mailbox_info_free and store_copy_result_free, whatever the
 *     backend. Strings passed to callbacks live only during the callback.
 *   - Errors: one of enum store_err; details go to the log, never to the
 *     caller (IMAP shows only store_err_text). */
#ifndef ROOST_STORE_STORE_BACKEND_H
#define ROOST_STORE_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store/store.h"

struct store_backend_ops;

/* The public objects as the dispatch layer sees them: the first member
 * of each backend's own struct. */
struct store {
	const struct store_backend_ops *ops;
	/* store_set_quota_lookup (store.c); a backend leaves them zeroed. */
	store_quota_lookup_fn *quota_lookup;
	void *quota_ctx;
};
struct store_user {
	const struct store_backend_ops *ops;
};
struct store_mailbox {
	const struct store_backend_ops *ops;
};
struct store_append {
	const struct store_backend_ops *ops;
};
struct store_body {
	const struct store_backend_ops *ops;
};
struct store_import {
	const struct store_backend_ops *ops;
};

/* One function per backend operation; each has the contract of the
 * store.h function of the same name, except that arguments are already
 * validated, output parameters already cleared, and destructors take the
 * object itself (store.c clears the caller's pointer). All are required
 * except fts_search. */
struct store_backend_ops {
	const char *name;

	/* Returns NULL and a static message on failure. */
	struct store *(*open)(const struct store_settings *set, const char **error_r);
	void (*close)(struct store *st);

	enum store_err (*user_open)(struct store *st, const char *user, struct store_user **u_r);
	void (*user_unref)(struct store_user *u);

	enum store_err (*list)(struct store_user *u, struct store_mailbox_entry **entries_r,
	                       size_t *n_r);
	enum store_err (*create)(struct store_user *u, const char *name, unsigned special_use);
	enum store_err (*remove)(struct store_user *u, const char *name); /* store_delete */
	enum store_err (*rename)(struct store_user *u, const char *from, const char *to);
	enum store_err (*subscribe)(struct store_user *u, const char *name, bool subscribe);
	enum store_err (*status)(struct store_user *u, const char *name, struct store_status *st_r);

	enum store_err (*append_begin)(struct store_user *u, const char *mailbox,
	                               struct store_append **a_r);
	enum store_err (*append_add)(struct store_append *a, const struct store_new_msg *msg,
	                             uint32_t *uid_r);
	/* Both free a. */
	enum store_err (*append_commit)(struct store_append *a, uint32_t *uidvalidity_r);
	void (*append_abort)(struct store_append *a);

	enum store_err (*import_begin)(struct store_user *u, const char *mailbox,
	                               uint32_t uidvalidity, struct store_import **im_r);
	enum store_err (*import_add)(struct store_import *im, const struct store_new_msg *msg,
	                             uint32_t uid);
	/* Both free im. */
	enum store_err (*import_commit)(struct store_import *im, uint32_t uidnext);
	void (*import_abort)(struct store_import *im);

	enum store_err (*mailbox_open)(struct store_user *u, const char *name, bool claim_recent,
	                               struct store_mailbox **mb_r,
	                               struct store_mailbox_info *info_r);
	void (*mailbox_close)(struct store_mailbox *mb);
	void (*mailbox_watch)(struct store_mailbox *mb, store_watch_fn *fn, void *ctx);
	enum store_err (*mailbox_sync_new)(struct store_mailbox *mb);
	enum store_err (*mailbox_uids)(struct store_mailbox *mb, uint32_t **uids_r, size_t *n_r);
	uint64_t (*mailbox_highestmodseq)(struct store_mailbox *mb);

	enum store_err (*fetch)(struct store_mailbox *mb, const uint32_t *uids, size_t n,
	                        unsigned fields, store_msg_fn *fn, void *ctx);

	enum store_err (*body_open)(struct store_mailbox *mb, uint32_t uid,
	                            struct store_body **b_r);
	uint64_t (*body_size)(const struct store_body *b);
	ssize_t (*body_read)(struct store_body *b, void *buf, size_t len, uint64_t offset);
	const void *(*body_map)(struct store_body *b);
	void (*body_close)(struct store_body *b);

	enum store_err (*set_flags)(struct store_mailbox *mb, const uint32_t *uids, size_t n,
	                            enum store_flag_op op, uint32_t flags, const char *keywords,
	                            uint64_t unchangedsince, store_msg_fn *fn, void *ctx);
	enum store_err (*expunge)(struct store_mailbox *mb, const uint32_t *uids, size_t n,
	                          uint32_t **expunged_r, size_t *n_expunged_r);
	enum store_err (*copy)(struct store_mailbox *mb, const uint32_t *uids, size_t n,
	                       const char *dest, bool move, struct store_copy_result *r);
	enum store_err (*changes)(struct store_mailbox *mb, uint64_t since, uint32_t below_uid,
	                          store_change_fn *fn, void *ctx, uint64_t *highest_r);

	/* Full-text index (store.h store_fts_search). Optional: NULL when the
	 * backend has none (store_fts_search then fails and SEARCH scans).
	 * may_index false: store_fts_search_indexed. */
	enum store_err (*fts_search)(struct store_mailbox *mb, struct store_fts_query *q, size_t n,
	                             bool may_index, uint32_t **missing_r, size_t *n_missing_r,
	                             struct store_fts_info *info_r);

	/* Quota (store.h): limits 0 = unlimited; usage kept with the messages. */
	void (*quota_set)(struct store_user *u, uint64_t bytes, uint64_t messages);
	enum store_err (*quota_check)(struct store_user *u, uint64_t size, bool *too_big_r);
	enum store_err (*quota_get)(struct store_user *u, uint64_t *used_bytes_r,
	                            uint64_t *limit_bytes_r, uint64_t *messages_r,
	                            uint64_t *limit_messages_r);
};

/* --- the registry --- */

/* The embedded backend: Maildir++ files + a SQLite index per user. */
extern const struct store_backend_ops store_maildir_ops;

/* The backend registered under `name` (exact match; NULL selects the
 * default, "maildir"), or NULL when there is none. */
const struct store_backend_ops *store_backend_find(const char *name);

/* --- helpers every backend may use (store.c) --- */

/* Canonical keyword list: space-separated, unique (case-insensitive),
 * sorted. Returns a malloc'd string ("" when none). */
char *store_keywords_canon(const char *kw);
/* Merges (op add/remove/replace) keywords into a canonical list. */
char *store_keywords_apply(const char *cur, enum store_flag_op op, const char *kw);
/* Whether a passdb user name can name a user's mail (no '/', no control
 * characters, not starting with '.', at most 255 bytes). */
bool store_user_name_valid(const char *user);

#endif
