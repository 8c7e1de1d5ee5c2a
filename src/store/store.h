/* store: the mail storage interface.
 *
 * Everything above this layer (IMAP commands, later LMTP and the admin
 * CLI) reaches mail only through these functions; nothing outside store/
 * touches message files or SQL. The embedded backend is Maildir++ files
 * plus one SQLite index per user (store_maildir.c); a networked backend
 * (SQL metadata + object storage) can implement the same interface: store.c
 * dispatches every call through the backend vtable of store_backend.h,
 * chosen by store_settings.backend.
 *
 * Objects:
 *   struct store         the backend, one per server
 *   struct store_user    one user's mail; shared by all of that user's
 *                        sessions (refcounted); every function taking it is
 *                        thread-safe (it serializes internally)
 *   struct store_mailbox a session's open mailbox (SELECT/EXAMINE); used by
 *                        one thread at a time
 *   struct store_body    an open message's bytes, read with pread-like calls
 *
 * Mailbox names at this interface are UTF-8, hierarchy delimiter '/',
 * "INBOX" (exactly, upper case) for the inbox; the IMAP layer converts
 * from modified UTF-7 and case-folds INBOX, and validates names with
 * store_name_valid() before any call. The backend never trusts a name:
 * it refuses invalid ones with STORE_ERR_INVALID_NAME.
 *
 * Messages are stored with CRLF line ends: the backend converts bare LF to
 * CRLF when it writes (APPEND and external new/ deliveries), so sizes and
 * MIME offsets refer to exactly the bytes a FETCH returns.
 *
 * Durability: store_append_commit(), store_copy() (and move) return
 * STORE_OK only when the message files and the directory entries are
 * fsync'd and the index transaction is committed. A crash at any instant
 * loses nothing acknowledged and never reuses a UID (the UID is also
 * encoded in the file name, and recovery reconciles files and rows on
 * store_user_open). */
#ifndef ROOST_STORE_STORE_H
#define ROOST_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum store_err {
	STORE_OK = 0,
	STORE_ERR_NOTFOUND,     /* no such mailbox -> NO [NONEXISTENT] / [TRYCREATE] */
	STORE_ERR_EXISTS,       /* mailbox exists -> NO [ALREADYEXISTS] */
	STORE_ERR_INVALID_NAME, /* name refused -> NO [CANNOT] */
	STORE_ERR_NOPERM,       /* e.g. DELETE INBOX -> NO [NOPERM] / [CANNOT] */
	STORE_ERR_HASCHILDREN,  /* DELETE of a \Noselect parent with children */
	STORE_ERR_NOSELECT,     /* the mailbox cannot hold messages */
	STORE_ERR_EXPUNGED,     /* the message is gone -> NO [EXPUNGEISSUED] */
	STORE_ERR_LIMIT,        /* a configured limit (name length, count) -> NO [LIMIT] */
	STORE_ERR_OVERQUOTA,    /* -> NO [OVERQUOTA] */
	STORE_ERR_CORRUPT,      /* index or file damaged -> NO [CORRUPTION] */
	STORE_ERR_IO,           /* I/O or database failure -> NO [SERVERBUG] */
};

/* Short human text for an error ("Mailbox does not exist"). */
const char *store_err_text(enum store_err err);

/* System flags (RFC 9051 §2.3.2). \Recent is not stored: it is a property
 * of the session that first sees a message (store_mailbox_open). */
enum store_flag {
	STORE_FLAG_SEEN = 1u << 0,
	STORE_FLAG_ANSWERED = 1u << 1,
	STORE_FLAG_FLAGGED = 1u << 2,
	STORE_FLAG_DELETED = 1u << 3,
	STORE_FLAG_DRAFT = 1u << 4,
};
#define STORE_FLAGS_ALL 0x1fu

/* Special-use attributes (RFC 6154) and other mailbox attributes. */
enum store_mailbox_attr {
	STORE_ATTR_SENT = 1u << 0,
	STORE_ATTR_DRAFTS = 1u << 1,
	STORE_ATTR_TRASH = 1u << 2,
	STORE_ATTR_JUNK = 1u << 3,
	STORE_ATTR_ARCHIVE = 1u << 4,
	STORE_ATTR_SPECIAL_USE_MASK = 0x1fu,
	STORE_ATTR_SUBSCRIBED = 1u << 8,
	/* Subscribed, but no such mailbox (LIST ... \NonExistent). */
	STORE_ATTR_NONEXISTENT = 1u << 9,
	/* Exists only as a parent of other mailboxes (\Noselect). */
	STORE_ATTR_NOSELECT = 1u << 10,
};

/* Longest mailbox name in bytes, and deepest hierarchy. */
#define STORE_NAME_MAX 512
#define STORE_DEPTH_MAX 32

struct store_settings {
	const char *backend;   /* "maildir" (NULL: "maildir") */
	const char *mail_root; /* <mail_root>/<user>/ holds the Maildir++ tree and index.sqlite */
	bool fsync;            /* false only for tests and benchmarks that say so */
	/* A user no session holds stays open this long (index and prepared
	 * statements), at most linger_users of them; 0 = close at once. */
	unsigned linger_ms;
	unsigned linger_users;
	/* Indexing time one full-text search may spend (0: 2 s). */
	unsigned fts_catch_up_ms;
};

struct store;
struct store_user;
struct store_mailbox;
struct store_body;

/* --- backend and users --- */

/* Opens the backend. Returns NULL and a static message on failure. */
struct store *store_open(const struct store_settings *set, const char **error_r);
/* Frees the backend; every user must have been released. */
void store_close(struct store **st);

/* Opens (creating on first use: directories, index, and the special-use
 * mailboxes Sent, Drafts, Trash, Junk, Archive) the mail of `user`. A user
 * already open is shared: this takes a reference. Runs recovery the first
 * time the user is opened by this process. user must be a valid passdb
 * user name (no '/', not "." or ".."); others get STORE_ERR_INVALID_NAME. */
enum store_err store_user_open(struct store *st, const char *user, struct store_user **u_r);
void store_user_unref(struct store_user **u);
/* store_user_unref as a workpool job (ctx is the struct store_user *):
 * the last reference closes the index, which checkpoints and fsyncs, so a
 * loop thread hands it to a pool instead of blocking on the disk. */
void store_user_unref_job(void *ctx);

/* Whether a UTF-8 mailbox name is acceptable: not empty, at most
 * STORE_NAME_MAX bytes and STORE_DEPTH_MAX levels, valid UTF-8, no control
 * characters, no empty level ("a//b", leading or trailing '/'), no level
 * "." or "..", no '*' or '%'. */
bool store_name_valid(const char *name);

/* --- mailboxes --- */

struct store_mailbox_entry {
	char *name;     /* UTF-8, '/'-separated */
	unsigned attrs; /* enum store_mailbox_attr bits */
};

/* Every mailbox of the user, plus subscribed names that do not exist
 * (STORE_ATTR_NONEXISTENT), sorted by name bytes. Free with store_list_free. */
enum store_err store_list(struct store_user *u, struct store_mailbox_entry **entries_r, size_t *n_r);
void store_list_free(struct store_mailbox_entry *entries, size_t n);

/* Creates a mailbox (and any missing parents, RFC 9051 §6.3.4).
 * special_use: STORE_ATTR_* special-use bits or 0. */
enum store_err store_create(struct store_user *u, const char *name, unsigned special_use);
/* Deletes a mailbox and its messages. INBOX -> STORE_ERR_NOPERM. A
 * mailbox with children becomes \Noselect instead (RFC 9051 §6.3.5);
 * deleting a \Noselect mailbox that has children -> STORE_ERR_HASCHILDREN. */
enum store_err store_delete(struct store_user *u, const char *name);
/* Renames a mailbox and all its children (RFC 9051 §6.3.6). Renaming
 * INBOX moves its messages into the new mailbox and leaves INBOX empty. */
enum store_err store_rename(struct store_user *u, const char *from, const char *to);
/* Adds or removes a subscription. Subscribing to a name that does not
 * exist is allowed (RFC 9051 §6.3.7). */
enum store_err store_subscribe(struct store_user *u, const char *name, bool subscribe);

struct store_status {
	uint32_t messages;
	uint32_t unseen;  /* messages without \Seen */
	uint32_t deleted; /* messages with \Deleted */
	uint32_t recent;  /* UIDs above the recent mark (not claimed by a session) */
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint64_t size;    /* sum of RFC822.SIZE */
	uint64_t highestmodseq;
	uint64_t deleted_size; /* sum of RFC822.SIZE of messages with \Deleted */
};

/* STATUS data for a mailbox (after picking up new/ deliveries). */
enum store_err store_status(struct store_user *u, const char *name, struct store_status *st_r);

/* --- appending --- */

struct store_new_msg {
	const void *data; /* the message as received; bare LF becomes CRLF */
	size_t len;
	uint32_t flags;       /* enum store_flag */
	const char *keywords; /* space-separated keyword atoms, or NULL */
	int64_t internaldate; /* seconds since the epoch; < 0: now */
	int32_t internaldate_tz; /* minutes east of UTC */
};

struct store_append;

/* Starts an append transaction into `mailbox` (APPEND, MULTIAPPEND,
 * LMTP). STORE_ERR_NOTFOUND when it does not exist (-> [TRYCREATE]). */
enum store_err store_append_begin(struct store_user *u, const char *mailbox,
				  struct store_append **a_r);
/* Writes one message file (tmp/, fsync, rename) and reserves its UID.
 * Nothing is visible until commit. */
enum store_err store_append_add(struct store_append *a, const struct store_new_msg *msg,
				uint32_t *uid_r);
/* Makes every added message visible in one index transaction, durably.
 * Frees a. On failure the added files are removed. */
enum store_err store_append_commit(struct store_append **a, uint32_t *uidvalidity_r);
/* Abandons the transaction and removes its files. Frees a. */
void store_append_abort(struct store_append **a);

/* --- migration (roost import-maildir) --- */

struct store_import;

/* Starts importing a mailbox from another server so that its clients keep
 * their caches: the mailbox (created with its parents when missing) takes
 * the given UIDVALIDITY, and messages keep their UIDs. STORE_ERR_EXISTS
 * when the mailbox holds messages (their UIDs would clash), or when it
 * already has this UIDVALIDITY and has handed out UIDs. Holds the user's
 * lock until commit/abort: meant for the offline import tool. */
enum store_err store_import_begin(struct store_user *u, const char *mailbox, uint32_t uidvalidity,
				  struct store_import **im_r);
/* Adds one message under `uid`, which must be above every UID added
 * before (STORE_ERR_EXISTS otherwise; 0 and UINT32_MAX: STORE_ERR_LIMIT).
 * msg->internaldate < 0 means now. Batches of messages are committed
 * durably as they fill. */
enum store_err store_import_add(struct store_import *im, const struct store_new_msg *msg,
				uint32_t uid);
/* Commits what is left and sets the mailbox's UIDNEXT to at least
 * uidnext (and above every added UID). Imported messages are not
 * \Recent. Frees im. */
enum store_err store_import_commit(struct store_import **im, uint32_t uidnext);
/* Drops the messages added since the last batch commit (earlier batches
 * stay). Frees im. */
void store_import_abort(struct store_import **im);

/* Reports a keyword letter of a Maildir info suffix: index 0..25 for
 * 'a'..'z' (Dovecot numbers keywords in dovecot-keywords this way). */
typedef void store_maildir_keyword_fn(void *ctx, unsigned index);
/* The store flags (enum store_flag) of a Maildir file name's ":2,<info>"
 * suffix: D draft, F flagged, R answered, S seen, T deleted; 0 when the
 * name has no suffix. Each lower-case letter is passed to keyword_fn when
 * it is not NULL; other characters are ignored. Pure (no store needed):
 * the Maildir backend reads its own file names with it, and the import
 * tool reads another server's, keywords included. */
uint32_t store_maildir_info_parse(const char *name, store_maildir_keyword_fn *keyword_fn,
				  void *ctx);

/* --- an open mailbox --- */

struct store_mailbox_info {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	/* Messages with UID >= recent_uid are \Recent for this session (it
	 * claimed them, RFC 3501 §2.3.2); UINT32_MAX when none. */
	uint32_t recent_uid;
	/* Keywords in use in the mailbox (space-separated), for FLAGS. */
	char *keywords;
};

/* Opens a mailbox for a session (SELECT / EXAMINE). Picks up new/
 * deliveries first. With claim_recent (a read-write SELECT), messages not
 * yet seen by any session become \Recent to this one. */
enum store_err store_mailbox_open(struct store_user *u, const char *name, bool claim_recent,
				  struct store_mailbox **mb_r, struct store_mailbox_info *info_r);
/* Closes the handle; no watch callback runs after this returns. */
void store_mailbox_close(struct store_mailbox **mb);
void store_mailbox_info_free(struct store_mailbox_info *info);

/* Called (from any thread, possibly with store locks held: it must only
 * post a wake-up and return) when the mailbox changed: another session's
 * APPEND/STORE/EXPUNGE/COPY/MOVE, or a file delivered into new/. */
typedef void store_watch_fn(void *ctx);
/* Registers (fn != NULL) or removes (fn == NULL) this handle's watcher.
 * While a watcher is registered the backend also watches new/ (inotify)
 * so that external deliveries are noticed within a second. */
void store_mailbox_watch(struct store_mailbox *mb, store_watch_fn *fn, void *ctx);

/* Picks up files delivered into new/ (assigning UIDs). Cheap when there
 * are none. Called on SELECT, NOOP, CHECK, IDLE and by the watcher. */
enum store_err store_mailbox_sync_new(struct store_mailbox *mb);

/* The current UIDs, ascending. *uids_r is malloc'd (NULL when empty). */
enum store_err store_mailbox_uids(struct store_mailbox *mb, uint32_t **uids_r, size_t *n_r);

/* One message's metadata. Strings are valid only during the callback. */
struct store_msg {
	uint32_t uid;
	uint32_t flags;        /* enum store_flag */
	const char *keywords;  /* space-separated, "" when none */
	uint64_t modseq;
	int64_t internaldate;  /* seconds since the epoch */
	int32_t internaldate_tz; /* minutes east of UTC */
	uint64_t size;         /* RFC822.SIZE */
	/* Filled only when asked for with STORE_FETCH_SUMMARY: */
	const char *envelope;      /* IMAP ENVELOPE "(...)" */
	const char *bodystructure; /* BODYSTRUCTURE with extension data */
	const char *body;          /* BODY (no extension data) */
	const void *parts;         /* serialized part tree (mail/mime.h) */
	size_t parts_len;
	int64_t sent_date;         /* Date: header, seconds; -1 when absent/unparsable */
	int32_t sent_tz;
};

enum store_fetch_fields {
	STORE_FETCH_SUMMARY = 1u << 0, /* envelope, bodystructure, body, parts, sent date */
};

/* Calls fn for each message whose UID is in uids[0..n) (ascending), in
 * UID order, skipping UIDs that no longer exist. fn returns 0 to go on,
 * anything else to stop (store_fetch then returns STORE_OK). */
typedef int store_msg_fn(void *ctx, const struct store_msg *msg);
enum store_err store_fetch(struct store_mailbox *mb, const uint32_t *uids, size_t n,
			   unsigned fields, store_msg_fn *fn, void *ctx);

/* Opens a message's bytes. STORE_ERR_EXPUNGED when it is gone. */
enum store_err store_body_open(struct store_mailbox *mb, uint32_t uid, struct store_body **b_r);
uint64_t store_body_size(const struct store_body *b);
/* Reads up to len bytes at offset; returns the count (0 at the end) or -1. */
ssize_t store_body_read(struct store_body *b, void *buf, size_t len, uint64_t offset);
/* The whole message mapped read-only (mmap for local files), valid until
 * store_body_close; NULL on failure. For SEARCH over bodies. */
const void *store_body_map(struct store_body *b);
void store_body_close(struct store_body **b);

/* --- changes --- */

enum store_flag_op { STORE_OP_ADD, STORE_OP_REMOVE, STORE_OP_REPLACE };

/* Changes flags/keywords of the given UIDs (ascending); each changed
 * message gets a new modseq. unchangedsince: 0, or a CONDSTORE modseq
 * (messages with a higher modseq are not changed and not reported).
 * fn, when not NULL, is called for each message after the change (changed
 * or not) with its new flags, keywords and modseq. */
enum store_err store_set_flags(struct store_mailbox *mb, const uint32_t *uids, size_t n,
			       enum store_flag_op op, uint32_t flags, const char *keywords,
			       uint64_t unchangedsince, store_msg_fn *fn, void *ctx);

/* Expunges messages: those in uids[0..n) that have \Deleted, or, with
 * uids == NULL, every message with \Deleted. The expunged UIDs (ascending)
 * are returned in *expunged_r (malloc'd, may be NULL when none). */
enum store_err store_expunge(struct store_mailbox *mb, const uint32_t *uids, size_t n,
			     uint32_t **expunged_r, size_t *n_expunged_r);

struct store_copy_result {
	uint32_t uidvalidity; /* of the destination */
	uint32_t *src_uids;   /* source UIDs that were copied (ascending), malloc'd */
	uint32_t *dst_uids;   /* their new UIDs, same order, malloc'd */
	size_t count;
};

/* Copies (or moves: the sources are expunged in the same transaction) the
 * given UIDs into mailbox `dest` (STORE_ERR_NOTFOUND -> [TRYCREATE]).
 * Flags and keywords are kept; internal dates too. Durable on STORE_OK.
 * Free the result with store_copy_result_free. */
enum store_err store_copy(struct store_mailbox *mb, const uint32_t *uids, size_t n,
			  const char *dest, bool move, struct store_copy_result *r);
void store_copy_result_free(struct store_copy_result *r);

/* One change since a modseq, for keeping a session's view current. */
struct store_change {
	uint32_t uid;
	uint64_t modseq;
	bool expunged;
	uint32_t flags;       /* when not expunged */
	const char *keywords; /* when not expunged; valid during the callback */
};
typedef void store_change_fn(void *ctx, const struct store_change *c);

/* Reports, in UID order, every message added, changed or expunged with a
 * modseq above `since` (expunged ones only when their UID is below
 * `below_uid`: a session never saw later ones). Returns the mailbox's
 * highest modseq in *highest_r. */
enum store_err store_changes(struct store_mailbox *mb, uint64_t since, uint32_t below_uid,
			     store_change_fn *fn, void *ctx, uint64_t *highest_r);

/* The mailbox's highest modseq without touching the index when nothing
 * changed (an in-memory counter): sessions poll this after each command. */
uint64_t store_mailbox_highestmodseq(struct store_mailbox *mb);

/* --- full-text index (SEARCH BODY / TEXT, RFC 9051 §6.4.4) ---
 *
 * An accelerator, never a change of meaning: the backend indexes what
 * mail_search_text (mail/mime.h) produces for each message, and answers a
 * needle accepted by mail_search_index_needle exactly as the scanner
 * (mail_body_contains) would. The index is a cache: a backend may drop and
 * rebuild it at any time, and a backend without one simply fails
 * store_fts_search (the caller then scans). */

/* Where a needle is looked for. */
enum store_fts_scope {
	STORE_FTS_TEXT,  /* TEXT: every header field and text part */
	STORE_FTS_BODY,  /* BODY: the text parts */
	STORE_FTS_FIELD, /* one top-level header field (FROM, TO, ..., HEADER) */
};

struct store_fts_query {
	const char *needle; /* folded by mail_search_index_needle, which accepted it */
	enum store_fts_scope scope;
	int field; /* STORE_FTS_FIELD: mail_search_field() of the field's name */
	/* Results: the matching UIDs of the mailbox, ascending, malloc'd
	 * (NULL when none); free with store_fts_query_free. */
	uint32_t *uids;
	size_t n_uids;
};

struct store_fts_info {
	size_t indexed;  /* messages added to the index by this call */
	size_t deferred; /* not indexed yet: left for later (in the missing list) */
	size_t dropped;  /* index entries of expunged messages dropped by it */
	bool rebuilt;    /* the index was too full of garbage and started anew */
	/* store_fts_search_indexed: messages were missing and this caller
	 * holds the user's claim on background indexing: it should queue
	 * store_fts_search(mb, NULL, 0, ...) on a low-priority pool, and again
	 * while that leaves messages deferred. */
	bool index_later;
};

/* Brings the mailbox's index up to date (every message not yet indexed
 * is read and added, in batches, each its own transaction; expunged ones
 * are dropped), then answers q[0..n) (n = 0: indexing alone, what the
 * background jobs do). Indexing stops after a time budget (about 2 s):
 * the messages left are in *missing_r and counted in info_r->deferred,
 * and later calls go on indexing them. Blocking and CPU-heavy: run it on
 * a low-priority worker pool, never on a network loop. Other users are
 * not held up, and the user's searches and other operations wait only
 * for short moments between batches.
 * *missing_r (malloc'd, ascending, may be NULL) lists the UIDs that were
 * in the mailbox but are not indexed (left for later, or e.g. a file that
 * vanished): answers for them are unknown and the caller scans them; UIDs
 * that are in neither the mailbox nor *missing_r were expunged and match
 * nothing. info_r may be NULL. On any error (STORE_ERR_IO also when the
 * backend has no index) the queries have no results and the caller scans. */
enum store_err store_fts_search(struct store_mailbox *mb, struct store_fts_query *q, size_t n,
				uint32_t **missing_r, size_t *n_missing_r,
				struct store_fts_info *info_r);
/* Answers q[0..n) from the index as it stands, never indexing, so it is
 * short and may run at normal priority beside the sessions' work (while
 * store_fts_search's indexing belongs on a low-priority pool). Messages
 * not indexed yet are in *missing_r, as with store_fts_search, and
 * info_r->index_later tells whether to queue the indexing. */
enum store_err store_fts_search_indexed(struct store_mailbox *mb, struct store_fts_query *q,
					size_t n, uint32_t **missing_r, size_t *n_missing_r,
					struct store_fts_info *info_r);
/* Frees the results of q[0..n). */
void store_fts_query_free(struct store_fts_query *q, size_t n);

/* --- quota (RFC 9208 STORAGE and MESSAGE resources) ---
 *
 * A user's usage is the sum of RFC822.SIZE and the number of messages
 * over all of the user's mailboxes. The backend keeps it in the index,
 * changed inside the same transactions as the messages, so it survives
 * restarts and crashes exactly as the messages do. Limits are per user
 * (0 = unlimited): set with store_user_set_quota, or supplied at every
 * store_user_open by the lookup set with store_set_quota_lookup.
 * store_append_add, store_append_commit and store_copy (not a move,
 * which does not change usage) return STORE_ERR_OVERQUOTA when the
 * result would exceed a limit; expunges and deletes are never refused.
 * Messages an MTA drops into new/ are counted but never refused: they
 * were already delivered. */

/* Fills the limits of `user` (0 = unlimited) when a user is opened. */
typedef void store_quota_lookup_fn(void *ctx, const char *user, uint64_t *bytes_r,
				   uint64_t *messages_r);
/* Installs (or with fn == NULL removes) the lookup; call before users
 * are opened. fn runs on any thread that opens a user. */
void store_set_quota_lookup(struct store *st, store_quota_lookup_fn *fn, void *ctx);
/* Sets the user's limits (0 = unlimited); shared by all its sessions. */
void store_user_set_quota(struct store_user *u, uint64_t bytes, uint64_t messages);
/* STORE_OK when one more message of `size` bytes fits, else
 * STORE_ERR_OVERQUOTA with *too_big_r true when size alone exceeds the
 * storage limit (it could never fit); STORE_ERR_IO when the usage cannot
 * be read. For refusing a delivery before its data is read (LMTP). */
enum store_err store_quota_check(struct store_user *u, uint64_t size, bool *too_big_r);
/* Current usage and limits (0 = unlimited). Any pointer may be NULL. */
enum store_err store_quota_get(struct store_user *u, uint64_t *used_bytes_r,
			       uint64_t *limit_bytes_r, uint64_t *messages_r,
			       uint64_t *limit_messages_r);

#endif
