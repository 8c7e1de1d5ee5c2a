/* store_maildir_watch: noticing files an MDA drops into new/.
 *
 * While any handle of a mailbox has a watcher registered, the mailbox's
 * new/ directory is watched with inotify. One background thread per
 * store (started with the first watch, stopped by store_close)
 * waits for events; for each mailbox with a delivery it takes a reference
 * on the user, runs sync_new under the user's lock — which assigns UIDs,
 * commits and calls the watchers — and drops the reference. So a delivery
 * reaches an IDLE session within milliseconds.
 *
 * The watch tables (under st->lock) map an inotify watch descriptor to
 * (user, mailbox id) and back, with a count of the handles that want it. inotify watches the inode, so a RENAME of the mailbox keeps the
 * watch valid. Lock order: the user lock is held when the table changes
 * (store_mailbox_watch); the thread never holds st->lock while it takes a
 * user lock. */
#include "store/store_maildir.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

struct smw_watch {
	struct htab_node by_wd, by_box;
	int wd;
	struct smd_user *u; /* not a reference: removed before the user is freed */
	int64_t mbox_id;
	unsigned count;
};

/* Runs sync_new for the mailbox a watch descriptor belongs to. */
static void smw_deliver(struct smd_store *st, int wd)
{
	pthread_mutex_lock(&st->lock);
	struct smw_watch *w = NULL;
	for (struct htab_node *n = htab_first(&st->watches_by_wd, htab_hash_u64((uint64_t)wd));
	     n != NULL && w == NULL; n = htab_next(n)) {
		w = htab_entry(n, struct smw_watch, by_wd);
		if (w->wd != wd)
			w = NULL;
	}
	struct smd_user *u = w != NULL ? w->u : NULL;
	int64_t id = w != NULL ? w->mbox_id : 0;
	if (u != NULL)
		u->refcount++;
	pthread_mutex_unlock(&st->lock);
	if (u == NULL)
		return;
	pthread_mutex_lock(&u->lock);
	store_maildir_append_sync_new(u, id);
	pthread_mutex_unlock(&u->lock);
	store_maildir_user_unref(&u->pub);
}

/* Reads a batch of events and handles each watch descriptor once. */
static void smw_read_events(struct smd_store *st)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(st->inotify_fd, buf, sizeof(buf));
	if (n <= 0)
		return;
	int wds[64];
	size_t n_wds = 0;
	for (char *p = buf; p < buf + n;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;
		p += sizeof(*ev) + ev->len;
		if (ev->mask & IN_IGNORED)
			continue;
		bool dup = false;
		for (size_t i = 0; i < n_wds && !dup; i++)
			dup = wds[i] == ev->wd;
		if (!dup && n_wds < 64)
			wds[n_wds++] = ev->wd;
	}
	for (size_t i = 0; i < n_wds; i++)
		smw_deliver(st, wds[i]);
}

static void *smw_thread(void *arg)
{
	struct smd_store *st = arg;
	for (;;) {
		struct pollfd pfd[2] = {{.fd = st->inotify_fd, .events = POLLIN},
		                        {.fd = st->wake_fd, .events = POLLIN}};
		int rc = poll(pfd, 2, -1);
		if (rc < 0 && errno != EINTR)
			break;
		if (pfd[1].revents != 0)
			break;
		if (pfd[0].revents & POLLIN)
			smw_read_events(st);
	}
	return NULL;
}

static uint64_t smw_box_hash(const struct smd_user *u, int64_t mbox_id)
{
	return htab_hash_u64((uint64_t)(uintptr_t)u ^ htab_hash_u64((uint64_t)mbox_id));
}

/* The watch of (u, mbox_id), or NULL. st->lock held. */
static struct smw_watch *smw_find_box(struct smd_store *st, struct smd_user *u, int64_t mbox_id)
{
	for (struct htab_node *n = htab_first(&st->watches_by_box, smw_box_hash(u, mbox_id));
	     n != NULL; n = htab_next(n)) {
		struct smw_watch *w = htab_entry(n, struct smw_watch, by_box);
		if (w->u == u && w->mbox_id == mbox_id)
			return w;
	}
	return NULL;
}

/* Starts the thread on first use. st->lock held. */
static bool smw_start(struct smd_store *st)
{
	if (st->thread_running)
		return true;
	if (st->inotify_fd < 0)
		st->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (st->wake_fd < 0)
		st->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (st->inotify_fd < 0 || st->wake_fd < 0) {
		log_error("event=store_watch_error error=\"%s\"", strerror(errno));
		return false;
	}
	if (pthread_create(&st->thread, NULL, smw_thread, st) != 0) {
		log_error("event=store_watch_error error=\"cannot start thread\"");
		return false;
	}
	st->thread_running = true;
	return true;
}

void store_maildir_watch_add(struct smd_user *u, int64_t mbox_id)
{
	struct smi_mbox m;
	if (store_maildir_index_mbox(u, NULL, mbox_id, &m) != STORE_OK)
		return;
	char *path = store_maildir_path(u, m.dir, "new");
	store_maildir_index_mbox_free(&m);
	struct smd_store *st = u->st;
	pthread_mutex_lock(&st->lock);
	struct smw_watch *w = smw_find_box(st, u, mbox_id);
	if (w != NULL) {
		w->count++;
	} else if (smw_start(st)) {
		int wd = inotify_add_watch(st->inotify_fd, path,
		                           IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
		if (wd < 0) {
			log_warn("event=store_watch_error dir=%s error=\"%s\"", path,
			         strerror(errno));
		} else {
			w = xcalloc(1, sizeof(*w));
			w->wd = wd;
			w->u = u;
			w->mbox_id = mbox_id;
			w->count = 1;
			htab_insert(&st->watches_by_wd, &w->by_wd, htab_hash_u64((uint64_t)wd));
			htab_insert(&st->watches_by_box, &w->by_box, smw_box_hash(u, mbox_id));
		}
	}
	pthread_mutex_unlock(&st->lock);
	free(path);
}

void store_maildir_watch_remove(struct smd_user *u, int64_t mbox_id)
{
	struct smd_store *st = u->st;
	pthread_mutex_lock(&st->lock);
	struct smw_watch *w = smw_find_box(st, u, mbox_id);
	if (w != NULL && --w->count == 0) {
		htab_remove(&st->watches_by_wd, &w->by_wd);
		htab_remove(&st->watches_by_box, &w->by_box);
		inotify_rm_watch(st->inotify_fd, w->wd);
		free(w);
	}
	pthread_mutex_unlock(&st->lock);
}

static void smw_free(struct htab_node *n)
{
	free(htab_entry(n, struct smw_watch, by_wd));
}

void store_maildir_watch_stop(struct smd_store *st)
{
	if (st->thread_running) {
		uint64_t one = 1;
		if (write(st->wake_fd, &one, sizeof(one)) < 0)
			log_warn("event=store_watch_error error=\"%s\"", strerror(errno));
		pthread_join(st->thread, NULL);
		st->thread_running = false;
	}
	htab_free(&st->watches_by_box);
	htab_clear(&st->watches_by_wd, smw_free);
	if (st->inotify_fd >= 0)
		close(st->inotify_fd);
	if (st->wake_fd >= 0)
		close(st->wake_fd);
	st->inotify_fd = st->wake_fd = -1;
}
