/* store: the backend object, the table of open users and the helpers
 * every backend shares (error texts, name validation, keyword lists).
 *
 * Invariants: one struct store_user per user name at a time, shared by
 * all of that user's sessions through a refcount kept under st->lock. A
 * user being initialized (index opened, recovery running) is already in
 * the table with its own lock held, so a second opener waits on that lock
 * and then sees whether the first one succeeded. Recovery runs once per
 * user per process (st->recovered). */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store_maildir.h"

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

/* --- backend --- */

static int store_mkdir_p(const char *path)
{
	char *tmp = xstrdup(path);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
			free(tmp);
			return -1;
		}
		*p = '/';
	}
	int ret = mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
	free(tmp);
	return ret;
}

struct store *store_open(const struct store_settings *set, const char **error_r)
{
	if (set->backend != NULL && strcmp(set->backend, "maildir") != 0) {
		*error_r = "unknown mail store backend";
		return NULL;
	}
	if (set->mail_root == NULL || set->mail_root[0] == '\0') {
		*error_r = "mail_root is not set";
		return NULL;
	}
	if (store_mkdir_p(set->mail_root) < 0) {
		*error_r = "cannot create mail_root";
		return NULL;
	}
	struct store *st = xcalloc(1, sizeof(*st));
	st->root = xstrdup(set->mail_root);
	st->fsync = set->fsync;
	st->inotify_fd = -1;
	st->wake_fd = -1;
	pthread_mutex_init(&st->lock, NULL);
	return st;
}

void store_close(struct store **stp)
{
	struct store *st = *stp;
	if (st == NULL)
		return;
	*stp = NULL;
	store_maildir_watch_stop(st);
	if (st->users != NULL)
		log_warn("event=store_close_busy user=%s", st->users->name);
	for (size_t i = 0; i < st->n_recovered; i++)
		free(st->recovered[i]);
	free(st->recovered);
	pthread_mutex_destroy(&st->lock);
	free(st->root);
	free(st);
}

bool store_recovered_mark(struct store *st, const char *user)
{
	pthread_mutex_lock(&st->lock);
	bool found = false;
	for (size_t i = 0; i < st->n_recovered && !found; i++)
		found = strcmp(st->recovered[i], user) == 0;
	if (!found) {
		st->recovered = xrealloc(st->recovered, (st->n_recovered + 1) * sizeof(char *));
		st->recovered[st->n_recovered++] = xstrdup(user);
	}
	pthread_mutex_unlock(&st->lock);
	return found;
}

static void store_user_free(struct store_user *u)
{
	store_maildir_index_close(u);
	pthread_mutex_destroy(&u->lock);
	free(u->name);
	free(u->dir);
	free(u);
}

/* The first opener of a user: directories, index, recovery. User lock held. */
static enum store_err store_user_init(struct store_user *u)
{
	if (store_mkdir_p(u->dir) < 0) {
		log_error("event=store_error user=%s op=mkdir error=\"%s\"", u->name,
		          strerror(errno));
		return STORE_ERR_IO;
	}
	bool created = false;
	enum store_err err = store_maildir_index_open(u, &created);
	if (err != STORE_OK)
		return err;
	if (created || !store_recovered_mark(u->st, u->name))
		err = store_maildir_recover(u, created);
	return err;
}

static struct store_user *store_user_new(struct store *st, const char *user)
{
	struct store_user *u = xcalloc(1, sizeof(*u));
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&u->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	u->st = st;
	u->name = xstrdup(user);
	size_t len = strlen(st->root) + strlen(user) + 2;
	u->dir = xmalloc(len);
	snprintf(u->dir, len, "%s/%s", st->root, user);
	u->refcount = 1;
	return u;
}

enum store_err store_user_open(struct store *st, const char *user, struct store_user **u_r)
{
	*u_r = NULL;
	if (!store_user_name_valid(user))
		return STORE_ERR_INVALID_NAME;
	pthread_mutex_lock(&st->lock);
	struct store_user *u = st->users;
	while (u != NULL && strcmp(u->name, user) != 0)
		u = u->next;
	if (u != NULL) {
		u->refcount++;
		pthread_mutex_unlock(&st->lock);
		/* Waits for a concurrent first opener to finish. */
		pthread_mutex_lock(&u->lock);
		enum store_err err = u->failed ? u->open_err : STORE_OK;
		pthread_mutex_unlock(&u->lock);
		if (err != STORE_OK) {
			store_user_unref(&u);
			return err;
		}
		*u_r = u;
		return STORE_OK;
	}
	u = store_user_new(st, user);
	pthread_mutex_lock(&u->lock);
	u->next = st->users;
	st->users = u;
	pthread_mutex_unlock(&st->lock);
	enum store_err err = store_user_init(u);
	if (err != STORE_OK) {
		u->failed = true;
		u->open_err = err;
	}
	pthread_mutex_unlock(&u->lock);
	if (err != STORE_OK) {
		store_user_unref(&u);
		return err;
	}
	*u_r = u;
	return STORE_OK;
}

void store_user_unref(struct store_user **up)
{
	struct store_user *u = *up;
	if (u == NULL)
		return;
	*up = NULL;
	struct store *st = u->st;
	pthread_mutex_lock(&st->lock);
	if (--u->refcount > 0) {
		pthread_mutex_unlock(&st->lock);
		return;
	}
	struct store_user **pp = &st->users;
	while (*pp != u)
		pp = &(*pp)->next;
	*pp = u->next;
	pthread_mutex_unlock(&st->lock);
	store_user_free(u);
}
