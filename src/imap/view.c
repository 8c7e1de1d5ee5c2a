/* view: a session's picture of its selected mailbox (see view.h).
 *
 * Invariants:
 *   - uids[0..count) ascend; sequence number n is uids[n-1]. Only this file
 *     changes the array, and only while writing the untagged response that
 *     tells the client (EXISTS for additions, EXPUNGE for removals).
 *   - modseq is the store's highest modseq the view has caught up with:
 *     every change up to it is either announced or, for expunges that may
 *     not be sent yet (RFC 9051 §7.5.1), recorded in pending[].
 *   - pending[] ascends and each of its UIDs is still in uids[].
 *   - own[] lists (uid, modseq) pairs a STORE already answered; it lives
 *     only until the next view_sync.
 *
 * Threads: everything runs on the session's loop thread except
 * view_waker_notify, which the store may call from any thread: it touches
 * only atomics and loop_post(). The waker is reference-counted so that a
 * post still queued when IDLE ends or the session goes finds the waker
 * alive but detached (s == NULL) and does nothing. */
#include "imap/view.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/mboxname.h"
#include "imap/parser.h"
#include "imap/resp.h"
#include "imap/session.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct view_waker {
	atomic_uint refs;
	atomic_bool posted;   /* a wake-up is queued on the loop */
	struct loop *loop;
	struct session *s;    /* loop thread only; NULL once detached */
	view_wake_fn *fn;
};

/* --- small helpers --- */

static void view_push_uid(uint32_t **arr, size_t *n, size_t *cap, uint32_t uid)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*arr = xrealloc(*arr, *cap * sizeof(**arr));
	}
	(*arr)[(*n)++] = uid;
}

/* Index of the first element >= uid. */
static size_t view_lower_bound(const uint32_t *arr, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (arr[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool view_sorted_contains(const uint32_t *arr, size_t n, uint32_t uid)
{
	size_t i = view_lower_bound(arr, n, uid);
	return i < n && arr[i] == uid;
}

uint32_t view_seq_uid(const struct view *v, uint32_t seq)
{
	if (seq == 0 || seq > v->count)
		return 0;
	return v->uids[seq - 1];
}

uint32_t view_uid_seq(const struct view *v, uint32_t uid)
{
	size_t i = view_lower_bound(v->uids, v->count, uid);
	if (i < v->count && v->uids[i] == uid)
		return (uint32_t)(i + 1);
	return 0;
}

bool view_is_recent(const struct view *v, uint32_t uid)
{
	return uid >= v->recent_uid;
}

bool view_is_pending_expunge(const struct view *v, uint32_t uid)
{
	return view_sorted_contains(v->pending, v->n_pending, uid);
}

static uint32_t view_recent_count(const struct view *v)
{
	if (v->recent_uid == UINT32_MAX)
		return 0;
	return (uint32_t)(v->count - view_lower_bound(v->uids, v->count, v->recent_uid));
}

/* Whether the space-separated list holds the keyword (flags compare
 * case-insensitively, RFC 9051 §2.3.2). */
static bool view_keyword_listed(const char *list, const char *kw, size_t len)
{
	const char *p = list != NULL ? list : "";
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n == len && n > 0 && strncasecmp(p, kw, len) == 0)
			return true;
		p += n;
	}
	return false;
}

static const char *const view_system_flags[] = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
						"\\Draft"};
static const uint32_t view_system_bits[] = {STORE_FLAG_ANSWERED, STORE_FLAG_FLAGGED,
					    STORE_FLAG_DELETED, STORE_FLAG_SEEN, STORE_FLAG_DRAFT};

void view_append_flags(const struct view *v, struct buf *out, uint32_t uid, uint32_t flags,
		       const char *keywords)
{
	bool first = true;
	for (size_t i = 0; i < sizeof(view_system_bits) / sizeof(view_system_bits[0]); i++) {
		if ((flags & view_system_bits[i]) == 0)
			continue;
		if (!first)
			buf_append(out, " ", 1);
		buf_append_str(out, view_system_flags[i]);
		first = false;
	}
	if (view_is_recent(v, uid)) {
		if (!first)
			buf_append(out, " ", 1);
		buf_append_str(out, "\\Recent");
		first = false;
	}
	const char *p = keywords != NULL ? keywords : "";
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n == 0)
			break;
		if (!first)
			buf_append(out, " ", 1);
		buf_append(out, p, n);
		first = false;
		p += n;
	}
}

/* RFC 9051 §9: flag-keyword is an atom; ATOM-CHAR excludes atom-specials
 * "(" ")" "{" SP CTL "%" "*" DQUOTE "\" and "]". */
static bool view_keyword_valid(const char *kw, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)kw[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

static int view_parse_flag(const struct imap_arg *arg, uint32_t *flags, struct buf *keywords,
			   const char **error_r)
{
	if (arg->type != IMAP_ARG_ATOM) {
		*error_r = "Flags must be atoms";
		return -1;
	}
	if (arg->str[0] == '\\') {
		for (size_t i = 0; i < sizeof(view_system_flags) / sizeof(view_system_flags[0]); i++) {
			if (strcasecmp(arg->str, view_system_flags[i]) == 0) {
				*flags |= view_system_bits[i];
				return 0;
			}
		}
		*error_r = strcasecmp(arg->str, "\\Recent") == 0 ? "\\Recent cannot be set"
								 : "Unknown system flag";
		return -1;
	}
	if (!view_keyword_valid(arg->str, arg->len)) {
		*error_r = "Invalid keyword";
		return -1;
	}
	if (!view_keyword_listed(buf_rdata(keywords), arg->str, arg->len)) {
		if (keywords->len > 0)
			buf_append(keywords, " ", 1);
		buf_append(keywords, arg->str, arg->len);
	}
	return 0;
}

int view_parse_flags(const struct imap_arg *args, size_t n, uint32_t *flags_r,
		     struct buf *keywords, const char **error_r)
{
	*flags_r = 0;
	for (size_t i = 0; i < n; i++) {
		if (view_parse_flag(&args[i], flags_r, keywords, error_r) < 0)
			return -1;
	}
	return 0;
}

/* "\Answered \Flagged \Deleted \Seen \Draft kw1 kw2" */
static void view_append_flag_names(const struct view *v, struct buf *out)
{
	for (size_t i = 0; i < sizeof(view_system_flags) / sizeof(view_system_flags[0]); i++) {
		if (i > 0)
			buf_append(out, " ", 1);
		buf_append_str(out, view_system_flags[i]);
	}
	if (v->keywords != NULL && v->keywords[0] != '\0') {
		buf_append(out, " ", 1);
		buf_append_str(out, v->keywords);
	}
}

/* FLAGS, and PERMANENTFLAGS (RFC 9051 §7.1: "\*" = new keywords may be
 * created; an empty list for EXAMINE, where nothing can be stored). */
static void view_write_flags(struct session *s, const struct view *v)
{
	struct buf b = {0};
	view_append_flag_names(v, &b);
	resp_untagged(s, "FLAGS (%s)", b.data);
	b.len = 0;
	buf_append(&b, "(", 1);
	if (!v->readonly) {
		view_append_flag_names(v, &b);
		buf_append_str(&b, " \\*");
	}
	buf_append(&b, ")", 1);
	resp_status_untagged(s, RESP_OK, RESP_CODE_PERMANENTFLAGS, b.data,
			     v->readonly ? "No permanent flags permitted" : "Flags permitted");
	buf_release(&b);
}

/* --- open and close --- */

static int view_find_unseen(void *ctx, const struct store_msg *msg)
{
	uint32_t *first_unseen_uid = ctx;
	if (msg->flags & STORE_FLAG_SEEN)
		return 0;
	*first_unseen_uid = msg->uid;
	return 1;
}

static void view_write_select_data(struct session *s, const struct view *v,
				   uint32_t first_unseen_uid)
{
	view_write_flags(s, v);
	resp_untagged(s, "%zu EXISTS", v->count);
	if (!session_rev2(s)) {
		/* IMAP4rev1 only (RFC 3501 §6.3.1): RECENT and the first unseen. */
		resp_untagged(s, "%" PRIu32 " RECENT", view_recent_count(v));
		uint32_t first_unseen = view_uid_seq(v, first_unseen_uid);
		if (first_unseen != 0) {
			char arg[16];
			snprintf(arg, sizeof(arg), "%" PRIu32, first_unseen);
			resp_status_untagged(s, RESP_OK, RESP_CODE_UNSEEN, arg, "First unseen");
		}
	}
	char arg[24];
	snprintf(arg, sizeof(arg), "%" PRIu32, v->uidvalidity);
	resp_status_untagged(s, RESP_OK, RESP_CODE_UIDVALIDITY, arg, "UIDs valid");
	snprintf(arg, sizeof(arg), "%" PRIu32, v->uidnext);
	resp_status_untagged(s, RESP_OK, RESP_CODE_UIDNEXT, arg, "Predicted next UID");
	if (session_rev2(s)) {
		/* RFC 9051 §6.3.2: a LIST response with the mailbox name. */
		struct buf b = {0};
		buf_append_str(&b, "LIST () \"/\" ");
		mboxname_append(s, &b, v->name);
		resp_untagged(s, "%s", b.data);
		buf_release(&b);
	}
}

enum store_err view_open_prepare(struct store_user *mail, const char *name, bool claim_recent,
				 bool want_unseen, struct view_opening *o)
{
	memset(o, 0, sizeof(*o));
	enum store_err err = store_mailbox_open(mail, name, claim_recent, &o->mb, &o->info);
	if (err != STORE_OK)
		return err;
	err = store_mailbox_uids(o->mb, &o->uids, &o->count);
	if (err == STORE_OK && want_unseen && o->count > 0)
		err = store_fetch(o->mb, o->uids, o->count, 0, view_find_unseen,
				  &o->first_unseen_uid);
	if (err != STORE_OK)
		view_opening_free(o);
	return err;
}

void view_opening_free(struct view_opening *o)
{
	if (o->mb != NULL) {
		store_mailbox_info_free(&o->info);
		store_mailbox_close(&o->mb);
	}
	free(o->uids);
	memset(o, 0, sizeof(*o));
}

void view_open_finish(struct session *s, const char *name, bool readonly, struct view_opening *o)
{
	struct view *v = xcalloc(1, sizeof(*v));
	v->uids = o->uids;
	v->count = v->cap = o->count;
	v->mb = o->mb;
	v->name = xstrdup(name);
	v->readonly = readonly;
	v->uidvalidity = o->info.uidvalidity;
	v->uidnext = o->info.uidnext;
	if (v->count > 0 && v->uids[v->count - 1] >= v->uidnext)
		v->uidnext = v->uids[v->count - 1] + 1;
	v->modseq = o->info.highestmodseq;
	/* \Recent does not exist in IMAP4rev2 (RFC 9051 §2.3.2 lists it as
	 * removed), and EXAMINE never claims it. */
	v->recent_uid = session_rev2(s) ? UINT32_MAX : o->info.recent_uid;
	v->keywords = xstrdup(o->info.keywords != NULL ? o->info.keywords : "");
	store_mailbox_info_free(&o->info);
	uint32_t first_unseen_uid = o->first_unseen_uid;
	memset(o, 0, sizeof(*o)); /* the view owns the handle and the UIDs now */
	s->view = v;
	view_write_select_data(s, v, first_unseen_uid);
}

enum store_err view_open(struct session *s, const char *name, bool readonly)
{
	struct view_opening o;
	enum store_err err = view_open_prepare(s->mail, name, !readonly, !session_rev2(s), &o);
	if (err == STORE_OK)
		view_open_finish(s, name, readonly, &o);
	return err;
}

void view_close(struct session *s)
{
	struct view *v = s->view;
	if (v == NULL)
		return;
	view_watch(s, NULL);
	store_mailbox_close(&v->mb);
	free(v->name);
	free(v->uids);
	free(v->keywords);
	free(v->saved);
	free(v->pending);
	free(v->own);
	free(v);
	s->view = NULL;
}

/* --- sequence sets --- */

/* Sequence numbers: every number must exist (RFC 9051 §6.4.4 / §9:
 * a sequence number above EXISTS, or "*" in an empty mailbox, is an
 * error the client made). */
static int view_resolve_seq(const struct view *v, struct seqset *set, uint32_t **uids_r,
			    size_t *n_r)
{
	for (size_t i = 0; i < set->count; i++) {
		const struct seq_range *r = &set->ranges[i];
		if ((r->lo != SEQ_STAR && r->lo > v->count) || (r->hi != SEQ_STAR && r->hi > v->count) ||
		    v->count == 0)
			return -1;
	}
	seqset_resolve(set, (uint32_t)v->count);
	size_t n = 0, cap = 0;
	uint32_t *out = NULL;
	for (size_t i = 0; i < set->count; i++) {
		for (uint64_t seq = set->ranges[i].lo; seq <= set->ranges[i].hi; seq++)
			view_push_uid(&out, &n, &cap, v->uids[seq - 1]);
	}
	*uids_r = out;
	*n_r = n;
	return 0;
}

static int view_resolve_saved(const struct view *v, uint32_t **uids_r, size_t *n_r)
{
	size_t n = 0, cap = 0;
	uint32_t *out = NULL;
	for (size_t i = 0; i < v->n_saved; i++) {
		if (view_uid_seq(v, v->saved[i]) != 0)
			view_push_uid(&out, &n, &cap, v->saved[i]);
	}
	*uids_r = out;
	*n_r = n;
	return 0;
}

int view_resolve(const struct view *v, struct seqset *set, bool uid_mode, uint32_t **uids_r,
		 size_t *n_r)
{
	*uids_r = NULL;
	*n_r = 0;
	if (set->is_saved)
		return view_resolve_saved(v, uids_r, n_r);
	if (!uid_mode)
		return view_resolve_seq(v, set, uids_r, n_r);
	/* UIDs: "*" is the largest UID (RFC 9051 §9), so "n:*" always names
	 * the last message; a set naming no message is simply empty. */
	seqset_resolve(set, v->count > 0 ? v->uids[v->count - 1] : 0);
	size_t n = 0, cap = 0;
	uint32_t *out = NULL;
	for (size_t i = 0; i < set->count; i++) {
		size_t j = view_lower_bound(v->uids, v->count, set->ranges[i].lo);
		for (; j < v->count && v->uids[j] <= set->ranges[i].hi; j++)
			view_push_uid(&out, &n, &cap, v->uids[j]);
	}
	*uids_r = out;
	*n_r = n;
	return 0;
}

int view_resolve_arg(const struct view *v, const struct imap_arg *arg, bool uid_mode,
		     uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	*uids_r = NULL;
	*n_r = 0;
	if (arg->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	struct arena a;
	arena_init(&a, 512);
	struct seqset set;
	int rc = seqset_parse(arg->str, arg->len, &a, &set, error_r);
	if (rc == 0 && view_resolve(v, &set, uid_mode, uids_r, n_r) < 0) {
		*error_r = "Invalid message sequence number";
		rc = -1;
	}
	arena_release(&a);
	return rc;
}

/* --- the session's own changes --- */

void view_note_own(struct view *v, uint32_t uid, uint64_t modseq)
{
	if (v->n_own == v->own_cap) {
		v->own_cap = v->own_cap ? v->own_cap * 2 : 16;
		v->own = xrealloc(v->own, v->own_cap * sizeof(*v->own));
	}
	v->own[v->n_own].uid = uid;
	v->own[v->n_own].modseq = modseq;
	v->n_own++;
}

static int view_own_cmp(const void *a, const void *b)
{
	const struct view_own *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static bool view_is_own(const struct view *v, uint32_t uid, uint64_t modseq)
{
	size_t lo = 0, hi = v->n_own;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v->own[mid].uid < uid)
			lo = mid + 1;
		else if (v->own[mid].uid > uid)
			hi = mid;
		else
			return v->own[mid].modseq >= modseq;
	}
	return false;
}

/* --- sync --- */

/* Adds keywords (space-separated, none listed yet) to FLAGS and tells the
 * client with a new FLAGS response (RFC 9051 §7.3.5) before any FETCH that
 * shows them. */
static void view_add_keywords(struct session *s, struct view *v, const char *added)
{
	size_t old = strlen(v->keywords), len = strlen(added);
	v->keywords = xrealloc(v->keywords, old + len + 2);
	snprintf(v->keywords + old, len + 2, "%s%s", old ? " " : "", added);
	view_write_flags(s, v);
}


struct view_sync_ctx {
	struct view *v;
	struct buf fetches; /* "* n FETCH (UID u FLAGS (...))" lines */
	struct buf new_keywords;
	uint32_t *expunged, *added;
	size_t n_expunged, cap_expunged, n_added, cap_added;
};

static void view_collect_keywords(struct view_sync_ctx *c, const char *keywords)
{
	const char *p = keywords != NULL ? keywords : "";
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n > 0 && !view_keyword_listed(c->v->keywords, p, n) &&
		    !view_keyword_listed(buf_rdata(&c->new_keywords), p, n)) {
			if (c->new_keywords.len > 0)
				buf_append(&c->new_keywords, " ", 1);
			buf_append(&c->new_keywords, p, n);
		}
		p += n;
	}
}

void view_announce_keywords(struct session *s, const char *keywords)
{
	struct view_sync_ctx c = {.v = s->view};
	view_collect_keywords(&c, keywords);
	if (c.new_keywords.len > 0)
		view_add_keywords(s, s->view, c.new_keywords.data);
	buf_release(&c.new_keywords);
}

static void view_on_change(void *ctx, const struct store_change *ch)
{
	struct view_sync_ctx *c = ctx;
	struct view *v = c->v;
	uint32_t seq = view_uid_seq(v, ch->uid);
	if (ch->expunged) {
		if (seq != 0 && !view_is_pending_expunge(v, ch->uid))
			view_push_uid(&c->expunged, &c->n_expunged, &c->cap_expunged, ch->uid);
		return;
	}
	if (seq == 0) {
		/* New messages get UIDs above every UID the view holds; anything
		 * else is a message this view never had (already gone). */
		uint32_t last = c->n_added > 0 ? c->added[c->n_added - 1]
					       : (v->count > 0 ? v->uids[v->count - 1] : 0);
		if (ch->uid > last) {
			view_push_uid(&c->added, &c->n_added, &c->cap_added, ch->uid);
			view_collect_keywords(c, ch->keywords);
		}
		return;
	}
	view_collect_keywords(c, ch->keywords);
	if (view_is_own(v, ch->uid, ch->modseq) || view_is_pending_expunge(v, ch->uid))
		return;
	/* The UID is included although not asked for: it is always valid in a
	 * FETCH response and lets a client apply the change without tracking
	 * sequence numbers (cf. RFC 7162 §3.2.4). */
	buf_printf(&c->fetches, "* %" PRIu32 " FETCH (UID %" PRIu32 " FLAGS (", seq, ch->uid);
	view_append_flags(v, &c->fetches, ch->uid, ch->flags, ch->keywords);
	buf_append(&c->fetches, "))\r\n", 4);
}

/* Merges expunged UIDs (ascending) that the view holds into pending[]. */
static void view_add_pending(struct view *v, const uint32_t *uids, size_t n)
{
	if (n == 0)
		return;
	uint32_t *merged = xmalloc((v->n_pending + n) * sizeof(merged[0]));
	size_t i = 0, j = 0, m = 0;
	while (i < v->n_pending || j < n) {
		uint32_t next;
		if (j == n || (i < v->n_pending && v->pending[i] <= uids[j])) {
			next = v->pending[i++];
		} else {
			next = uids[j++];
			if (view_uid_seq(v, next) == 0)
				continue;
		}
		if (m == 0 || merged[m - 1] != next)
			merged[m++] = next;
	}
	free(v->pending);
	v->pending = merged;
	v->n_pending = m;
	v->pending_cap = v->n_pending + n;
}

/* Announces every pending expunge in one pass: the k-th removed message
 * (counting from 0, ascending) at original position i is reported as
 * i + 1 - k, its sequence number once the earlier ones are gone
 * (RFC 9051 §7.5.1: each EXPUNGE renumbers the later messages). */
static void view_flush_pending(struct session *s, struct view *v)
{
	if (v->n_pending == 0)
		return;
	struct buf out = {0};
	size_t k = 0, w = 0;
	for (size_t i = 0; i < v->count; i++) {
		if (k < v->n_pending && v->uids[i] == v->pending[k]) {
			buf_printf(&out, "* %zu EXPUNGE\r\n", i + 1 - k);
			k++;
			continue;
		}
		v->uids[w++] = v->uids[i];
	}
	v->count = w;
	v->n_pending = 0;
	session_write(s, out.data, out.len);
	buf_release(&out);
}

void view_expunge_uids(struct session *s, const uint32_t *uids, size_t n)
{
	view_add_pending(s->view, uids, n);
	view_flush_pending(s, s->view);
}

static void view_apply_added(struct session *s, struct view *v, const uint32_t *added, size_t n)
{
	if (n == 0)
		return;
	uint32_t recent_before = view_recent_count(v);
	if (v->count + n > v->cap) {
		v->cap = v->count + n + v->count / 2;
		v->uids = xrealloc(v->uids, v->cap * sizeof(v->uids[0]));
	}
	memcpy(&v->uids[v->count], added, n * sizeof(added[0]));
	v->count += n;
	if (added[n - 1] >= v->uidnext)
		v->uidnext = added[n - 1] + 1;
	/* IMAP4rev1: a read-write session is the first to hear of messages
	 * that arrive while it is selected, so they are \Recent to it. */
	if (!session_rev2(s) && !v->readonly && v->recent_uid == UINT32_MAX)
		v->recent_uid = added[0];
	resp_untagged(s, "%zu EXISTS", v->count);
	uint32_t recent = view_recent_count(v);
	if (!session_rev2(s) && recent != recent_before)
		resp_untagged(s, "%" PRIu32 " RECENT", recent);
}

/* store_changes failed. STORE_ERR_NOTFOUND: the selected mailbox was
 * deleted or renamed, and its sequence numbers mean nothing any more
 * (RFC 9051 leaves this to the server; RFC 2180 §3.3 lists the choices).
 * When this session did it (its DELETE or RENAME is being answered) the
 * mailbox is simply closed: "* OK [CLOSED]" and back to the authenticated
 * state, as after UNSELECT. When another session did it, BYE: every client
 * copes with a reconnect, few with a state change they did not ask for.
 * The view may be freed here: the caller must not touch it afterwards. */
static void view_sync_fail(struct session *s, enum store_err err)
{
	if (err != STORE_ERR_NOTFOUND) {
		log_warn("event=view_sync_error sid=%016llx error=\"%s\"", (unsigned long long)s->id,
			 store_err_text(err));
		return;
	}
	if (s->cmd_name != NULL &&
	    (strcmp(s->cmd_name, "DELETE") == 0 || strcmp(s->cmd_name, "RENAME") == 0)) {
		view_close(s);
		session_set_state(s, SESSION_AUTH);
		resp_status_untagged(s, RESP_OK, RESP_CODE_CLOSED, NULL,
				     "Selected mailbox was deleted or renamed");
		return;
	}
	log_info("event=mailbox_gone sid=%016llx", (unsigned long long)s->id);
	session_bye(s, "Selected mailbox was deleted or renamed", "mailbox gone");
}

void view_sync(struct session *s, bool allow_expunge)
{
	struct view *v = s->view;
	if (v == NULL || s->state == SESSION_LOGOUT)
		return;
	v->woken = false;
	if (store_mailbox_highestmodseq(v->mb) == v->modseq) {
		if (allow_expunge)
			view_flush_pending(s, v);
		v->n_own = 0;
		return;
	}
	if (v->n_own > 1)
		qsort(v->own, v->n_own, sizeof(v->own[0]), view_own_cmp);
	struct view_sync_ctx c = {.v = v};
	uint64_t highest = v->modseq;
	enum store_err err = store_changes(v->mb, v->modseq, v->uidnext, view_on_change, &c, &highest);
	v->n_own = 0;
	if (err != STORE_OK) {
		view_sync_fail(s, err);
	} else {
		v->modseq = highest;
		if (c.new_keywords.len > 0)
			view_add_keywords(s, v, c.new_keywords.data);
		if (c.fetches.len > 0)
			session_write(s, c.fetches.data, c.fetches.len);
		view_add_pending(v, c.expunged, c.n_expunged);
		if (allow_expunge)
			view_flush_pending(s, v);
		view_apply_added(s, v, c.added, c.n_added);
	}
	buf_release(&c.fetches);
	buf_release(&c.new_keywords);
	free(c.expunged);
	free(c.added);
}

/* --- watching (IDLE) --- */

static void view_waker_unref(struct view_waker *w)
{
	if (atomic_fetch_sub(&w->refs, 1) == 1)
		free(w);
}

/* Loop thread: a change was signalled. */
static void view_waker_run(void *ctx)
{
	struct view_waker *w = ctx;
	atomic_store(&w->posted, false);
	struct session *s = w->s;
	if (s != NULL && !s->conn_gone && s->view != NULL) {
		s->view->woken = true;
		w->fn(s);
	}
	view_waker_unref(w);
}

/* Any thread, possibly with store locks held: post and return. Wake-ups
 * coalesce: while one is queued, further ones add nothing. */
static void view_waker_notify(void *ctx)
{
	struct view_waker *w = ctx;
	if (atomic_exchange(&w->posted, true))
		return;
	atomic_fetch_add(&w->refs, 1);
	loop_post(w->loop, view_waker_run, w);
}

void view_watch(struct session *s, view_wake_fn *fn)
{
	struct view *v = s->view;
	if (v == NULL)
		return;
	if (v->waker != NULL) {
		/* After this returns the store calls the watcher no more. */
		store_mailbox_watch(v->mb, NULL, NULL);
		v->waker->s = NULL;
		view_waker_unref(v->waker);
		v->waker = NULL;
	}
	if (fn == NULL)
		return;
	struct view_waker *w = xcalloc(1, sizeof(*w));
	atomic_init(&w->refs, 1);
	atomic_init(&w->posted, false);
	w->loop = conn_loop(s->conn);
	w->s = s;
	w->fn = fn;
	v->waker = w;
	store_mailbox_watch(v->mb, view_waker_notify, w);
}
