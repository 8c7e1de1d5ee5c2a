/* store: the dispatch layer between the store interface (store.h) and
 * its backends (store_backend.h), plus the helpers every backend shares
 * (error texts, name validation, keyword lists).
 *
 * Each public function checks what no backend may skip -- user and
 * mailbox names, the INBOX rules of RFC 9051 §6.3.4-6.3.6 -- clears its
 * output parameters, and calls the backend through the object's ops. The
 * backend is chosen by name when the store is opened (the registry
 * below); everything created from a store carries the same ops. Each
 * backend call is timed here, once for every backend, into
 * roost_store_operation_duration_seconds{op} (metrics/metrics.h). */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "metrics/metrics.h"
#include "store/store_backend.h"

const char *store_err_text(enum store_err err)
{
	switch (err) {
	case STORE_OK:
		return "OK";
	case STORE_ERR_NOTFOUND:
		return "Mailbox does not exist";
	case STORE_ERR_EXISTS:
		return "Mailbox already exists";
	case STORE_ERR_INVALID_NAME:
		return "Invalid mailbox name";
	case STORE_ERR_NOPERM:
		return "Operation not permitted";
	case STORE_ERR_HASCHILDREN:
		return "Mailbox has children";
	case STORE_ERR_NOSELECT:
		return "Mailbox cannot hold messages";
	case STORE_ERR_EXPUNGED:
		return "Message has been expunged";
	case STORE_ERR_LIMIT:
		return "Limit exceeded";
	case STORE_ERR_OVERQUOTA:
		return "Quota exceeded";
	case STORE_ERR_CORRUPT:
		return "Mail index is damaged";
	case STORE_ERR_IO:
		return "Internal storage error";
	}
	return "Unknown storage error";
}

/* Length of the UTF-8 sequence at s (1..4), or 0 when invalid (overlong
 * forms, surrogates and code points above U+10FFFF are refused). */
static size_t store_utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n;
	uint32_t cp;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Checks one level [s, s+len): not empty, not "." or "..". */
static bool store_level_valid(const char *s, size_t len)
{
	if (len == 0)
		return false;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	return true;
}

bool store_name_valid(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return false;
	size_t len = strlen(name);
	if (len > STORE_NAME_MAX)
		return false;
	const unsigned char *p = (const unsigned char *)name;
	size_t level_start = 0, depth = 1;
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		if (c < 0x20 || c == 0x7f || c == '*' || c == '%')
			return false;
		if (c == '/') {
			if (!store_level_valid(name + level_start, i - level_start))
				return false;
			if (++depth > STORE_DEPTH_MAX)
				return false;
			level_start = ++i;
			continue;
		}
		size_t n = store_utf8_len(p + i);
		/* C1 controls (U+0080..U+009F) are control characters too. */
		if (n == 0 || (n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0))
			return false;
		i += n;
	}
	return store_level_valid(name + level_start, len - level_start);
}

bool store_user_name_valid(const char *user)
{
	if (user == NULL || user[0] == '\0' || user[0] == '.' || strlen(user) > 255)
		return false;
	for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++) {
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	}
	return true;
}

/* --- keywords --- */

struct store_kw_list {
	char **v;
	size_t n, cap;
};

static void store_kw_add(struct store_kw_list *l, const char *s, size_t len)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strlen(l->v[i]) == len && strncasecmp(l->v[i], s, len) == 0)
			return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = xstrndup(s, len);
}

static void store_kw_del(struct store_kw_list *l, const char *s, size_t len)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strlen(l->v[i]) == len && strncasecmp(l->v[i], s, len) == 0) {
			free(l->v[i]);
			l->v[i] = l->v[--l->n];
			return;
		}
	}
}

static void store_kw_each(struct store_kw_list *l, const char *kw, bool add)
{
	if (kw == NULL)
		return;
	const char *p = kw;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, " ");
		if (len > 0) {
			if (add)
				store_kw_add(l, p, len);
			else
				store_kw_del(l, p, len);
		}
		p += len;
	}
}

static int store_kw_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

static char *store_kw_join(struct store_kw_list *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), store_kw_cmp);
	size_t total = 1;
	for (size_t i = 0; i < l->n; i++)
		total += strlen(l->v[i]) + 1;
	char *out = xmalloc(total), *w = out;
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0)
			*w++ = ' ';
		size_t len = strlen(l->v[i]);
		memcpy(w, l->v[i], len);
		w += len;
		free(l->v[i]);
	}
	*w = '\0';
	free(l->v);
	return out;
}

char *store_keywords_canon(const char *kw)
{
	struct store_kw_list l = {0};
	store_kw_each(&l, kw, true);
	return store_kw_join(&l);
}

char *store_keywords_apply(const char *cur, enum store_flag_op op, const char *kw)
{
	struct store_kw_list l = {0};
	if (op != STORE_OP_REPLACE)
		store_kw_each(&l, cur, true);
	store_kw_each(&l, kw, op != STORE_OP_REMOVE);
	return store_kw_join(&l);
}

/* --- the registry --- */

static const struct store_backend_ops *const store_backends[] = {
    &store_maildir_ops,
};

const struct store_backend_ops *store_backend_find(const char *name)
{
	if (name == NULL)
		return store_backends[0];
	for (size_t i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++) {
		if (strcmp(store_backends[i]->name, name) == 0)
			return store_backends[i];
	}
	return NULL;
}

/* --- backend and users --- */

struct store *store_open(const struct store_settings *set, const char **error_r)
{
	const struct store_backend_ops *ops = store_backend_find(set->backend);
	if (ops == NULL) {
		*error_r = "unknown mail store backend (known backends: maildir)";
		return NULL;
	}
	return ops->open(set, error_r);
}

void store_close(struct store **stp)
{
	struct store *st = *stp;
	if (st == NULL)
		return;
	*stp = NULL;
	st->ops->close(st);
}

enum store_err store_user_open(struct store *st, const char *user, struct store_user **u_r)
{
	*u_r = NULL;
	if (!store_user_name_valid(user))
		return STORE_ERR_INVALID_NAME;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = st->ops->user_open(st, user, u_r);
	metrics_store_op(METRICS_STORE_USER_OPEN, metrics_now_ns() - t0);
	/* Every open asks again, so a changed limit (config or passwd-file
	 * reload) applies from the user's next login or delivery on. */
	if (ret == STORE_OK && st->quota_lookup != NULL) {
		uint64_t bytes = 0, messages = 0;
		st->quota_lookup(st->quota_ctx, user, &bytes, &messages);
		(*u_r)->ops->quota_set(*u_r, bytes, messages);
	}
	return ret;
}

void store_user_unref_job(void *ctx)
{
	struct store_user *u = ctx;
	store_user_unref(&u);
}

void store_user_unref(struct store_user **up)
{
	struct store_user *u = *up;
	if (u == NULL)
		return;
	*up = NULL;
	u->ops->user_unref(u);
}

/* --- mailboxes --- */

enum store_err store_list(struct store_user *u, struct store_mailbox_entry **entries_r, size_t *n_r)
{
	*entries_r = NULL;
	*n_r = 0;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = u->ops->list(u, entries_r, n_r);
	metrics_store_op(METRICS_STORE_LIST, metrics_now_ns() - t0);
	return ret;
}

void store_list_free(struct store_mailbox_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(entries[i].name);
	free(entries);
}

enum store_err store_create(struct store_user *u, const char *name, unsigned special_use)
{
	if (!store_name_valid(name))
		return STORE_ERR_INVALID_NAME;
	/* RFC 9051 §6.3.4: creating INBOX is an error. */
	if (strcmp(name, "INBOX") == 0)
		return STORE_ERR_EXISTS;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = u->ops->create(u, name, special_use & STORE_ATTR_SPECIAL_USE_MASK);
	metrics_store_op(METRICS_STORE_CREATE, metrics_now_ns() - t0);
	return ret;
}

enum store_err store_delete(struct store_user *u, const char *name)
{
	if (!store_name_valid(name))
		return STORE_ERR_INVALID_NAME;
	/* RFC 9051 §6.3.5: deleting INBOX is an error. */
	if (strcmp(name, "INBOX") == 0)
		return STORE_ERR_NOPERM;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = u->ops->remove(u, name);
	metrics_store_op(METRICS_STORE_DELETE, metrics_now_ns() - t0);
	return ret;
}

enum store_err store_rename(struct store_user *u, const char *from, const char *to)
{
	if (!store_name_valid(from) || !store_name_valid(to))
		return STORE_ERR_INVALID_NAME;
	/* RFC 9051 §6.3.6: the new name must not exist; INBOX always does. */
	if (strcmp(to, "INBOX") == 0)
		return STORE_ERR_EXISTS;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = u->ops->rename(u, from, to);
	metrics_store_op(METRICS_STORE_RENAME, metrics_now_ns() - t0);
	return ret;
}

enum store_err store_subscribe(struct store_user *u, const char *name, bool subscribe)
{
	if (!store_name_valid(name))
		return STORE_ERR_INVALID_NAME;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = u->ops->subscribe(u, name, subscribe);
	metrics_store_op(METRICS_STORE_SUBSCRIBE, metrics_now_ns() - t0);
	return ret;
}

enum store_err store_status(struct store_user *u, const char *name, struct store_status *st_r)
{
	memset(st_r, 0, sizeof(*st_r));
	if (!store_name_valid(name))
		return STORE_ERR_INVALID_NAME;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = u->ops->status(u, name, st_r);
	metrics_store_op(METRICS_STORE_STATUS, metrics_now_ns() - t0);
	return ret;
}

/* --- appending --- */

enum store_err store_append_begin(struct store_user *u, const char *mailbox,
                                  struct store_append **a_r)
{
	*a_r = NULL;
	if (!store_name_valid(mailbox))
		return STORE_ERR_INVALID_NAME;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = u->ops->append_begin(u, mailbox, a_r);
	metrics_store_op(METRICS_STORE_APPEND_BEGIN, metrics_now_ns() - t0);
	return ret;
}

enum store_err store_append_add(struct store_append *a, const struct store_new_msg *msg,
                                uint32_t *uid_r)
{
	*uid_r = 0;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = a->ops->append_add(a, msg, uid_r);
	metrics_store_op(METRICS_STORE_APPEND_ADD, metrics_now_ns() - t0);
	return ret;
}

enum store_err store_append_commit(struct store_append **ap, uint32_t *uidvalidity_r)
{
	struct store_append *a = *ap;
	*ap = NULL;
	*uidvalidity_r = 0;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = a->ops->append_commit(a, uidvalidity_r);
	metrics_store_op(METRICS_STORE_APPEND_COMMIT, metrics_now_ns() - t0);
	return ret;
}

void store_append_abort(struct store_append **ap)
{
	struct store_append *a = *ap;
	if (a == NULL)
		return;
	*ap = NULL;
	a->ops->append_abort(a);
}

/* --- migration --- */

enum store_err store_import_begin(struct store_user *u, const char *mailbox, uint32_t uidvalidity,
                                  struct store_import **im_r)
{
	*im_r = NULL;
	if (!store_name_valid(mailbox))
		return STORE_ERR_INVALID_NAME;
	return u->ops->import_begin(u, mailbox, uidvalidity, im_r);
}

enum store_err store_import_add(struct store_import *im, const struct store_new_msg *msg,
                                uint32_t uid)
{
	if (uid == 0 || uid == UINT32_MAX)
		return STORE_ERR_LIMIT;
	return im->ops->import_add(im, msg, uid);
}

enum store_err store_import_commit(struct store_import **imp, uint32_t uidnext)
{
	struct store_import *im = *imp;
	*imp = NULL;
	return im->ops->import_commit(im, uidnext);
}

void store_import_abort(struct store_import **imp)
{
	struct store_import *im = *imp;
	if (im == NULL)
		return;
	*imp = NULL;
	im->ops->import_abort(im);
}

/* --- an open mailbox --- */

enum store_err store_mailbox_open(struct store_user *u, const char *name, bool claim_recent,
                                  struct store_mailbox **mb_r, struct store_mailbox_info *info_r)
{
	*mb_r = NULL;
	memset(info_r, 0, sizeof(*info_r));
	if (!store_name_valid(name))
		return STORE_ERR_INVALID_NAME;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = u->ops->mailbox_open(u, name, claim_recent, mb_r, info_r);
	metrics_store_op(METRICS_STORE_MAILBOX_OPEN, metrics_now_ns() - t0);
	return ret;
}

void store_mailbox_close(struct store_mailbox **mbp)
{
	struct store_mailbox *mb = *mbp;
	if (mb == NULL)
		return;
	*mbp = NULL;
	mb->ops->mailbox_close(mb);
}

void store_mailbox_info_free(struct store_mailbox_info *info)
{
	free(info->keywords);
	info->keywords = NULL;
}

void store_mailbox_watch(struct store_mailbox *mb, store_watch_fn *fn, void *ctx)
{
	mb->ops->mailbox_watch(mb, fn, fn != NULL ? ctx : NULL);
}

enum store_err store_mailbox_sync_new(struct store_mailbox *mb)
{
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = mb->ops->mailbox_sync_new(mb);
	metrics_store_op(METRICS_STORE_SYNC_NEW, metrics_now_ns() - t0);
	return ret;
}

enum store_err store_mailbox_uids(struct store_mailbox *mb, uint32_t **uids_r, size_t *n_r)
{
	*uids_r = NULL;
	*n_r = 0;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = mb->ops->mailbox_uids(mb, uids_r, n_r);
	metrics_store_op(METRICS_STORE_UIDS, metrics_now_ns() - t0);
	return ret;
}

uint64_t store_mailbox_highestmodseq(struct store_mailbox *mb)
{
	return mb->ops->mailbox_highestmodseq(mb);
}

enum store_err store_fetch(struct store_mailbox *mb, const uint32_t *uids, size_t n,
                           unsigned fields, store_msg_fn *fn, void *ctx)
{
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = mb->ops->fetch(mb, uids, n, fields, fn, ctx);
	metrics_store_op(METRICS_STORE_FETCH, metrics_now_ns() - t0);
	return ret;
}

/* --- bodies --- */

enum store_err store_body_open(struct store_mailbox *mb, uint32_t uid, struct store_body **b_r)
{
	*b_r = NULL;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = mb->ops->body_open(mb, uid, b_r);
	metrics_store_op(METRICS_STORE_BODY_OPEN, metrics_now_ns() - t0);
	return ret;
}

uint64_t store_body_size(const struct store_body *b)
{
	return b->ops->body_size(b);
}

ssize_t store_body_read(struct store_body *b, void *buf, size_t len, uint64_t offset)
{
	uint64_t t0 = metrics_now_ns();
	ssize_t ret = b->ops->body_read(b, buf, len, offset);
	metrics_store_op(METRICS_STORE_BODY_READ, metrics_now_ns() - t0);
	return ret;
}

const void *store_body_map(struct store_body *b)
{
	return b->ops->body_map(b);
}

void store_body_close(struct store_body **bp)
{
	struct store_body *b = *bp;
	if (b == NULL)
		return;
	*bp = NULL;
	b->ops->body_close(b);
}

/* --- changes --- */

enum store_err store_set_flags(struct store_mailbox *mb, const uint32_t *uids, size_t n,
                               enum store_flag_op op, uint32_t flags, const char *keywords,
                               uint64_t unchangedsince, store_msg_fn *fn, void *ctx)
{
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = mb->ops->set_flags(mb, uids, n, op, flags & STORE_FLAGS_ALL, keywords,
	                                        unchangedsince, fn, ctx);
	metrics_store_op(METRICS_STORE_SET_FLAGS, metrics_now_ns() - t0);
	return ret;
}

enum store_err store_expunge(struct store_mailbox *mb, const uint32_t *uids, size_t n,
                             uint32_t **expunged_r, size_t *n_expunged_r)
{
	*expunged_r = NULL;
	*n_expunged_r = 0;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = mb->ops->expunge(mb, uids, n, expunged_r, n_expunged_r);
	metrics_store_op(METRICS_STORE_EXPUNGE, metrics_now_ns() - t0);
	return ret;
}

enum store_err store_copy(struct store_mailbox *mb, const uint32_t *uids, size_t n,
                          const char *dest, bool move, struct store_copy_result *r)
{
	memset(r, 0, sizeof(*r));
	if (!store_name_valid(dest))
		return STORE_ERR_INVALID_NAME;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = mb->ops->copy(mb, uids, n, dest, move, r);
	metrics_store_op(move ? METRICS_STORE_MOVE : METRICS_STORE_COPY, metrics_now_ns() - t0);
	return ret;
}

void store_copy_result_free(struct store_copy_result *r)
{
	free(r->src_uids);
	free(r->dst_uids);
	memset(r, 0, sizeof(*r));
}

enum store_err store_changes(struct store_mailbox *mb, uint64_t since, uint32_t below_uid,
                             store_change_fn *fn, void *ctx, uint64_t *highest_r)
{
	*highest_r = 0;
	uint64_t t0 = metrics_now_ns();
	enum store_err ret = mb->ops->changes(mb, since, below_uid, fn, ctx, highest_r);
	metrics_store_op(METRICS_STORE_CHANGES, metrics_now_ns() - t0);
	return ret;
}

/* --- full-text index --- */

static enum store_err store_fts_call(struct store_mailbox *mb, struct store_fts_query *q,
                                     size_t n, bool may_index, uint32_t **missing_r,
                                     size_t *n_missing_r, struct store_fts_info *info_r)
{
	*missing_r = NULL;
	*n_missing_r = 0;
	for (size_t i = 0; i < n; i++) {
		q[i].uids = NULL;
		q[i].n_uids = 0;
	}
	struct store_fts_info info;
	memset(&info, 0, sizeof(info));
	enum store_err ret = STORE_ERR_IO; /* no index: the caller scans */
	if (mb->ops->fts_search != NULL)
		ret = mb->ops->fts_search(mb, q, n, may_index, missing_r, n_missing_r, &info);
	if (ret != STORE_OK) {
		store_fts_query_free(q, n);
		free(*missing_r);
		*missing_r = NULL;
		*n_missing_r = 0;
	}
	if (info_r != NULL)
		*info_r = info;
	return ret;
}

enum store_err store_fts_search(struct store_mailbox *mb, struct store_fts_query *q, size_t n,
                                uint32_t **missing_r, size_t *n_missing_r,
                                struct store_fts_info *info_r)
{
	return store_fts_call(mb, q, n, true, missing_r, n_missing_r, info_r);
}

enum store_err store_fts_search_indexed(struct store_mailbox *mb, struct store_fts_query *q,
                                        size_t n, uint32_t **missing_r, size_t *n_missing_r,
                                        struct store_fts_info *info_r)
{
	return store_fts_call(mb, q, n, false, missing_r, n_missing_r, info_r);
}

void store_fts_query_free(struct store_fts_query *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(q[i].uids);
		q[i].uids = NULL;
		q[i].n_uids = 0;
	}
}

/* --- quota --- */

void store_set_quota_lookup(struct store *st, store_quota_lookup_fn *fn, void *ctx)
{
	st->quota_lookup = fn;
	st->quota_ctx = ctx;
}

void store_user_set_quota(struct store_user *u, uint64_t bytes, uint64_t messages)
{
	u->ops->quota_set(u, bytes, messages);
}

enum store_err store_quota_check(struct store_user *u, uint64_t size, bool *too_big_r)
{
	bool too_big = false;
	enum store_err ret = u->ops->quota_check(u, size, &too_big);
	if (too_big_r != NULL)
		*too_big_r = too_big;
	return ret;
}

enum store_err store_quota_get(struct store_user *u, uint64_t *used_bytes_r,
                               uint64_t *limit_bytes_r, uint64_t *messages_r,
                               uint64_t *limit_messages_r)
{
	uint64_t v[4] = {0, 0, 0, 0};
	enum store_err ret = u->ops->quota_get(u, &v[0], &v[1], &v[2], &v[3]);
	uint64_t *out[4] = {used_bytes_r, limit_bytes_r, messages_r, limit_messages_r};
	for (size_t i = 0; i < 4; i++) {
		if (out[i] != NULL)
			*out[i] = v[i];
	}
	return ret;
}
