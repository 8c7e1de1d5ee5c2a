/* view: a session's picture of its selected mailbox.
 *
 * IMAP sequence numbers belong to the session: message n is the n-th UID
 * of the view, and the view changes only when the session tells the
 * client (EXISTS, EXPUNGE). The store keeps the truth; the view follows
 * it through store_changes() (modseq-ordered changes) and announces what
 * changed at the moments RFC 9051 §7 allows:
 *   - new messages (EXISTS) and flag changes (FETCH FLAGS) after any
 *     command and during IDLE;
 *   - expunges (EXPUNGE) only when allowed: never during FETCH, STORE or
 *     SEARCH by sequence number (RFC 9051 §7.5.1), since the client could
 *     no longer match sequence numbers to messages.
 *
 * Memory: one uint32_t per message (the UID array). */
#ifndef ROOST_IMAP_VIEW_H
#define ROOST_IMAP_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/seqset.h"
#include "store/store.h"

struct session;
struct buf;
struct imap_arg;

/* A flag change the session reported itself (see view_note_own). */
struct view_own {
	uint32_t uid;
	uint64_t modseq;
};

struct view {
	struct store_mailbox *mb;
	char *name;        /* UTF-8 store name */
	bool readonly;     /* EXAMINE */
	uint32_t uidvalidity;
	uint32_t uidnext;  /* as last announced */
	uint64_t modseq;   /* changes up to here are reflected */
	uint32_t recent_uid; /* UIDs >= this are \Recent here */
	uint32_t *uids;    /* seq n -> uids[n-1], ascending */
	size_t count, cap;
	char *keywords;    /* keywords announced in FLAGS */
	/* SEARCH ... RETURN (SAVE) result (RFC 5182, part of RFC 9051): the
	 * UIDs "$" stands for; expunged ones are dropped when resolved. */
	uint32_t *saved;
	size_t n_saved;
	bool woken;        /* the store signalled a change (set on the loop thread) */
	/* Expunges the store reported that could not be announced yet
	 * (RFC 9051 §7.5.1): ascending UIDs, still present in uids[]. */
	uint32_t *pending;
	size_t n_pending, pending_cap;
	/* Flag changes this session already reported itself (STORE): a
	 * change with exactly this UID and modseq is not announced again. */
	struct view_own *own;
	size_t n_own, own_cap;
	struct view_waker *waker; /* while view_watch() is on (IDLE) */
};

/* SELECT / EXAMINE: opens `name` and sends the untagged responses
 * (FLAGS, EXISTS, RECENT for rev1, OK [UNSEEN] for rev1, OK
 * [PERMANENTFLAGS], OK [UIDVALIDITY], OK [UIDNEXT], LIST for rev2). On
 * success the session owns the view (s->view). */
enum store_err view_open(struct session *s, const char *name, bool readonly);
/* view_open in two halves, so that SELECT's store work (the \Recent claim
 * commits to the index, with an fsync) runs on the store pool:
 * view_open_prepare touches only the store (any thread); view_open_finish
 * builds the view from it and writes the responses (the loop thread).
 * want_unseen: find the first unseen message (IMAP4rev1's OK [UNSEEN]).
 * A prepared opening that is not finished is released with
 * view_opening_free. */
struct view_opening {
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	uint32_t *uids;
	size_t count;
	uint32_t first_unseen_uid; /* 0: none, or not asked */
};
enum store_err view_open_prepare(struct store_user *mail, const char *name, bool claim_recent,
				 bool want_unseen, struct view_opening *o);
void view_open_finish(struct session *s, const char *name, bool readonly, struct view_opening *o);
void view_opening_free(struct view_opening *o);
/* Closes the view (CLOSE, UNSELECT, re-SELECT, logout). */
void view_close(struct session *s);

/* Brings the view up to date and writes the untagged updates. With
 * allow_expunge false, expunges stay pending (their messages keep their
 * sequence numbers) until a later call allows them. */
void view_sync(struct session *s, bool allow_expunge);

/* Seq <-> UID. view_seq_uid: 0 when out of range. view_uid_seq: 0 when
 * the UID is not in the view. */
uint32_t view_seq_uid(const struct view *v, uint32_t seq);
uint32_t view_uid_seq(const struct view *v, uint32_t uid);

/* Resolves a parsed set (sequence numbers, or UIDs with uid_mode) to the
 * ascending UIDs of the view it names: '*' is the last message (or the
 * largest UID); for UIDs a range naming no message is empty, not an
 * error. "$" (set->is_saved) gives the saved SEARCH result. Returns 0 and
 * a malloc'd array (NULL when empty), or -1 when a sequence number is
 * beyond EXISTS (the caller answers BAD). */
int view_resolve(const struct view *v, struct seqset *set, bool uid_mode, uint32_t **uids_r,
		 size_t *n_r);

/* Removes expunged UIDs (ascending; those not in the view are ignored)
 * and writes their "* n EXPUNGE", together with any held-back expunges
 * (the session's own EXPUNGE, UID EXPUNGE and MOVE; never while a FETCH,
 * STORE or SEARCH by sequence number runs). */
void view_expunge_uids(struct session *s, const uint32_t *uids, size_t n);

/* STORE: the session has told the client about this message's flags as of
 * this modseq; view_sync does not announce that change again. */
void view_note_own(struct view *v, uint32_t uid, uint64_t modseq);

/* STORE, before its FETCH responses: keywords (space-separated) not yet in
 * the mailbox's FLAGS are added and a new FLAGS response is written. */
void view_announce_keywords(struct session *s, const char *keywords);

/* Whether the store reported the UID expunged but the client was not told
 * yet (the message keeps its sequence number meanwhile). */
bool view_is_pending_expunge(const struct view *v, uint32_t uid);

/* IDLE: with fn != NULL, calls fn(s) on the session's loop thread soon
 * after the store reports a change to the mailbox (another session, a
 * delivery into new/); with fn == NULL stops. The store's callback only
 * posts to the loop; a post that arrives after the watch stopped or the
 * view closed does nothing (the session is never touched then). */
typedef void view_wake_fn(struct session *s);
void view_watch(struct session *s, view_wake_fn *fn);

/* Parses a sequence-set argument (an atom: "1:4,7", "*", "$") and
 * resolves it with view_resolve. Returns 0, or -1 with a static reason in
 * *error_r (bad syntax, or a sequence number beyond EXISTS): the caller
 * answers BAD. */
int view_resolve_arg(const struct view *v, const struct imap_arg *arg, bool uid_mode,
		     uint32_t **uids_r, size_t *n_r, const char **error_r);

/* Parses flags for STORE and APPEND: n atoms (the members of a flag list,
 * or STORE's bare flags). System flags (case-insensitive) go into
 * *flags_r as enum store_flag bits, keywords (deduplicated) are appended
 * to keywords space-separated. Returns 0, or -1 with a static reason
 * (\Recent, an unknown \-flag, a keyword that is not an atom): BAD. */
int view_parse_flags(const struct imap_arg *args, size_t n, uint32_t *flags_r,
		     struct buf *keywords, const char **error_r);

/* Whether a UID is \Recent in this session. */
bool view_is_recent(const struct view *v, uint32_t uid);

/* Appends "\Seen \Flagged kw1 kw2" (and \Recent when recent) to out. */
void view_append_flags(const struct view *v, struct buf *out, uint32_t uid, uint32_t flags,
		       const char *keywords);

#endif
