/* store_maildir_user: the maildir backend's table of open users.
 *
 * Invariants: one struct smd_user per user name at a time, shared by all
 * of that user's sessions through a refcount kept under st->lock (an open
 * mailbox handle holds a reference too). A user being initialized
 * (directories, index, recovery) is already in the table with its own
 * lock held, so a second opener waits on that lock and then sees whether
 * the first one succeeded. Recovery runs once per user per process
 * (st->recovered).
 *
 * Lingering: when the last reference goes, the user stays open (index,
 * prepared statements) for st->linger_ms, at most st->linger_users
 * users, the longest unused closed first. Clients that poll (connect, log in, check, log
 * out, every minute or faster) and login storms would otherwise reopen
 * the index, re-prepare every statement, and checkpoint and fsync it on
 * every close. Expired users are closed by a later release (on the store
 * pool, where closing may block) or by store_close. */
#include "store/store_maildir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "lib/log.h"
#include "lib/xalloc.h"

static uint64_t smu_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct smu_recovered {
	struct htab_node node;
	char name[];
};

static struct smu_recovered *smu_recovered_find(struct smd_store *st, const char *user, uint64_t h)
{
	for (struct htab_node *n = htab_first(&st->recovered, h); n != NULL; n = htab_next(n)) {
		struct smu_recovered *r = htab_entry(n, struct smu_recovered, node);
		if (strcmp(r->name, user) == 0)
			return r;
	}
	return NULL;
}

/* Whether the user has been recovered in this process; marks it. */
static bool smu_recovered_mark(struct smd_store *st, const char *user)
{
	uint64_t h = htab_hash_str(user);
	pthread_mutex_lock(&st->lock);
	bool found = smu_recovered_find(st, user, h) != NULL;
	if (!found) {
		size_t len = strlen(user) + 1;
		struct smu_recovered *r = xmalloc(sizeof(*r) + len);
		memcpy(r->name, user, len);
		htab_insert(&st->recovered, &r->node, h);
	}
	pthread_mutex_unlock(&st->lock);
	return found;
}

static void smu_recovered_free(struct htab_node *n)
{
	free(htab_entry(n, struct smu_recovered, node));
}

void store_maildir_user_forget_recovered(struct smd_store *st)
{
	htab_clear(&st->recovered, smu_recovered_free);
}

static void smu_free(struct smd_user *u)
{
	store_maildir_fts_close(u);
	store_maildir_index_close(u);
	pthread_mutex_destroy(&u->lock);
	pthread_mutex_destroy(&u->wlock);
	free(u->new_pending);
	free(u->name);
	free(u->dir);
	free(u);
}

/* The first opener of a user: directories, index, recovery. User lock held. */
static enum store_err smu_init(struct smd_user *u)
{
	if (store_maildir_mkdir_p(u->dir) < 0) {
		log_error("event=store_error user=%s op=mkdir error=\"%s\"", u->name,
		          strerror(errno));
		return STORE_ERR_IO;
	}
	bool created = false;
	enum store_err err = store_maildir_index_open(u, &created);
	if (err != STORE_OK)
		return err;
	if (created || !smu_recovered_mark(u->st, u->name))
		err = store_maildir_recover(u, created);
	return err;
}

static struct smd_user *smu_new(struct smd_store *st, const char *user)
{
	struct smd_user *u = xcalloc(1, sizeof(*u));
	u->pub.ops = &store_maildir_ops;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&u->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_init(&u->wlock, NULL);
	u->st = st;
	u->name = xstrdup(user);
	size_t len = strlen(st->root) + strlen(user) + 2;
	u->dir = xmalloc(len);
	snprintf(u->dir, len, "%s/%s", st->root, user);
	u->refcount = 1;
	return u;
}

/* --- lingering (st->lock held) --- */

static void smu_idle_remove(struct smd_store *st, struct smd_user *u)
{
	if (u->idle_prev != NULL)
		u->idle_prev->idle_next = u->idle_next;
	else
		st->idle_first = u->idle_next;
	if (u->idle_next != NULL)
		u->idle_next->idle_prev = u->idle_prev;
	else
		st->idle_last = u->idle_prev;
	u->idle_prev = u->idle_next = NULL;
	u->idle = false;
	st->n_idle--;
}

static void smu_idle_append(struct smd_store *st, struct smd_user *u, uint64_t now)
{
	u->idle = true;
	u->idle_since_ms = now;
	u->idle_prev = st->idle_last;
	u->idle_next = NULL;
	if (st->idle_last != NULL)
		st->idle_last->idle_next = u;
	else
		st->idle_first = u;
	st->idle_last = u;
	st->n_idle++;
}

static void smu_table_remove(struct smd_store *st, struct smd_user *u)
{
	htab_remove(&st->users, &u->by_name);
}

static struct smd_user *smu_table_find(struct smd_store *st, const char *user, uint64_t h)
{
	for (struct htab_node *n = htab_first(&st->users, h); n != NULL; n = htab_next(n)) {
		struct smd_user *u = htab_entry(n, struct smd_user, by_name);
		if (strcmp(u->name, user) == 0)
			return u;
	}
	return NULL;
}

/* Takes the lingering users that are due out of the table (expired, or
 * beyond the cap when all is true: every one); returns them linked by
 * `next` for the caller to free after unlocking. */
static struct smd_user *smu_idle_take_due(struct smd_store *st, uint64_t now, bool all)
{
	struct smd_user *due = NULL;
	while (st->idle_first != NULL &&
	       (all || st->n_idle > st->linger_users ||
	        now - st->idle_first->idle_since_ms >= st->linger_ms)) {
		struct smd_user *u = st->idle_first;
		smu_idle_remove(st, u);
		smu_table_remove(st, u);
		u->next = due;
		due = u;
	}
	return due;
}

static void smu_free_list(struct smd_user *u)
{
	while (u != NULL) {
		struct smd_user *next = u->next;
		smu_free(u);
		u = next;
	}
}

/* Takes a reference on a user already in the table, then waits for a
 * concurrent first opener to finish. */
static enum store_err smu_share(struct smd_user *u)
{
	if (u->idle)
		smu_idle_remove(u->st, u);
	u->refcount++;
	pthread_mutex_unlock(&u->st->lock);
	pthread_mutex_lock(&u->lock);
	enum store_err err = u->failed ? u->open_err : STORE_OK;
	pthread_mutex_unlock(&u->lock);
	return err;
}

enum store_err store_maildir_user_open(struct store *pst, const char *user, struct store_user **u_r)
{
	struct smd_store *st = store_maildir_store_of(pst);
	uint64_t h = htab_hash_str(user);
	pthread_mutex_lock(&st->lock);
	struct smd_user *u = smu_table_find(st, user, h);
	enum store_err err;
	if (u != NULL) {
		err = smu_share(u);
	} else {
		u = smu_new(st, user);
		pthread_mutex_lock(&u->lock);
		htab_insert(&st->users, &u->by_name, h);
		pthread_mutex_unlock(&st->lock);
		err = smu_init(u);
		if (err != STORE_OK) {
			u->failed = true;
			u->open_err = err;
		}
		pthread_mutex_unlock(&u->lock);
	}
	if (err != STORE_OK) {
		store_maildir_user_unref(&u->pub);
		return err;
	}
	*u_r = &u->pub;
	return STORE_OK;
}

void store_maildir_user_unref(struct store_user *pu)
{
	struct smd_user *u = store_maildir_user_of(pu);
	struct smd_store *st = u->st;
	uint64_t now = smu_now_ms();
	pthread_mutex_lock(&st->lock);
	if (--u->refcount > 0) {
		pthread_mutex_unlock(&st->lock);
		return;
	}
	struct smd_user *dead = NULL;
	if (u->failed || st->linger_ms == 0 || st->linger_users == 0) {
		smu_table_remove(st, u);
		dead = u;
		u->next = NULL;
	} else {
		smu_idle_append(st, u, now);
	}
	struct smd_user *due = smu_idle_take_due(st, now, false);
	pthread_mutex_unlock(&st->lock);
	smu_free_list(dead);
	smu_free_list(due);
}

void store_maildir_user_close_idle(struct smd_store *st)
{
	pthread_mutex_lock(&st->lock);
	struct smd_user *due = smu_idle_take_due(st, 0, true);
	pthread_mutex_unlock(&st->lock);
	smu_free_list(due);
}
