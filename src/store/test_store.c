/* test_store: unit tests of the embedded store (Maildir++ + SQLite).
 *
 * Each test works in a fresh temporary mail_root with fsync off, drives
 * the public interface (store.h; store_backend.h only to check which
 * backend dispatch chose) and, for recovery and deliveries, pokes
 * the files underneath the way a crash or an MDA would. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/test.h"
#include "lib/xalloc.h"
#include "mail/mime.h"
#include "store/store.h"
#include "store/store_backend.h"

TEST_STATE_DEFINE;

static char root[128];

static void rm_rf(const char *path)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

static struct store *fresh_store(void)
{
	if (root[0] != '\0')
		rm_rf(root);
	strcpy(root, "/tmp/roost-test-store-XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
	struct store_settings set = {.backend = "maildir", .mail_root = root, .fsync = false};
	const char *err = NULL;
	struct store *st = store_open(&set, &err);
	if (st == NULL)
		abort();
	return st;
}

static uint32_t append(struct store_user *u, const char *box, const char *data, uint32_t flags,
                       const char *kw)
{
	struct store_append *a;
	if (store_append_begin(u, box, &a) != STORE_OK)
		return 0;
	struct store_new_msg m = {.data = data,
	                          .len = strlen(data),
	                          .flags = flags,
	                          .keywords = kw,
	                          .internaldate = 1700000000,
	                          .internaldate_tz = 60};
	uint32_t uid = 0, uv = 0;
	if (store_append_add(a, &m, &uid) != STORE_OK) {
		store_append_abort(&a);
		return 0;
	}
	return store_append_commit(&a, &uv) == STORE_OK ? uid : 0;
}

static void path_of(char *out, size_t cap, const char *rel)
{
	if ((size_t)snprintf(out, cap, "%s/alice/%s", root, rel) >= cap)
		abort();
}

static void write_file(const char *rel, const char *data, time_t mtime)
{
	char p[1024];
	path_of(p, sizeof(p), rel);
	FILE *f = fopen(p, "w");
	fputs(data, f);
	fclose(f);
	if (mtime > 0) {
		struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
		utimensat(AT_FDCWD, p, ts, 0);
	}
}

static size_t count_files(const char *rel)
{
	char p[512];
	path_of(p, sizeof(p), rel);
	DIR *d = opendir(p);
	struct dirent *de;
	size_t n = 0;
	while (d != NULL && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

static char *read_body(struct store_mailbox *mb, uint32_t uid)
{
	struct store_body *b;
	if (store_body_open(mb, uid, &b) != STORE_OK)
		return NULL;
	uint64_t size = store_body_size(b);
	char *buf = xcalloc(1, size + 1);
	ssize_t n = store_body_read(b, buf, size, 0);
	const char *map = store_body_map(b);
	if (n != (ssize_t)size || map == NULL || memcmp(map, buf, size) != 0) {
		free(buf);
		buf = NULL;
	}
	store_body_close(&b);
	return buf;
}

/* --- name validation --- */

static void test_names(void)
{
	test_begin("store: name validation");
	test_assert(store_name_valid("INBOX"));
	test_assert(store_name_valid("a/b/c"));
	test_assert(store_name_valid("Entw\xc3\xbcrfe"));
	test_assert(store_name_valid("a.b"));
	test_assert(!store_name_valid(""));
	test_assert(!store_name_valid(".."));
	test_assert(!store_name_valid("a/../b"));
	test_assert(!store_name_valid("a/./b"));
	test_assert(!store_name_valid("/a"));
	test_assert(!store_name_valid("a/"));
	test_assert(!store_name_valid("a//b"));
	test_assert(!store_name_valid("a\nb"));
	test_assert(!store_name_valid("a\x7f"));
	test_assert(!store_name_valid("a\xc2\x85")); /* C1 control */
	test_assert(!store_name_valid("a\xc3"));     /* truncated UTF-8 */
	test_assert(!store_name_valid("\xc0\xaf"));  /* overlong '/' */
	test_assert(!store_name_valid("a*"));
	test_assert(!store_name_valid("a%"));
	char big[STORE_NAME_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	test_assert(!store_name_valid(big));
	big[STORE_NAME_MAX] = '\0';
	test_assert(store_name_valid(big));
	char deep[STORE_DEPTH_MAX * 2 + 2] = "";
	for (int i = 0; i <= STORE_DEPTH_MAX; i++)
		strcat(deep, i ? "/a" : "a");
	test_assert(!store_name_valid(deep));
	test_assert(strcmp(store_err_text(STORE_ERR_NOTFOUND), "Mailbox does not exist") == 0);
	test_end();
}

static void test_users(void)
{
	test_begin("store: user names and sharing");
	struct store *st = fresh_store();
	struct store_user *u = NULL, *u2 = NULL;
	test_assert(store_user_open(st, "../x", &u) == STORE_ERR_INVALID_NAME);
	test_assert(store_user_open(st, "..", &u) == STORE_ERR_INVALID_NAME);
	test_assert(store_user_open(st, ".hidden", &u) == STORE_ERR_INVALID_NAME);
	test_assert(store_user_open(st, "a/b", &u) == STORE_ERR_INVALID_NAME);
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	test_assert(store_user_open(st, "alice", &u2) == STORE_OK);
	test_assert(u == u2);
	/* Invalid names never reach the file system. */
	test_assert(store_create(u, "../evil", 0) == STORE_ERR_INVALID_NAME);
	test_assert(store_create(u, "a/../../evil", 0) == STORE_ERR_INVALID_NAME);
	test_assert(store_rename(u, "Sent", "x/..") == STORE_ERR_INVALID_NAME);
	store_user_unref(&u2);
	store_user_unref(&u);
	test_assert(u == NULL);
	store_close(&st);
	test_end();
}

/* --- backends --- */

/* Every operation of a registered backend is set (store.c calls them
 * without checking). */
static bool ops_complete(const struct store_backend_ops *o)
{
	return o->name != NULL && o->open && o->close && o->user_open && o->user_unref && o->list &&
	       o->create && o->remove && o->rename && o->subscribe && o->status &&
	       o->append_begin && o->append_add && o->append_commit && o->append_abort &&
	       o->mailbox_open && o->mailbox_close && o->mailbox_watch && o->mailbox_sync_new &&
	       o->mailbox_uids && o->mailbox_highestmodseq && o->fetch && o->body_open &&
	       o->body_size && o->body_read && o->body_map && o->body_close && o->set_flags &&
	       o->expunge && o->copy && o->changes;
}

/* Opens a store with the given backend name in the current root and
 * checks that every object made from it dispatches to maildir. */
static bool opens_maildir(const char *backend)
{
	struct store_settings set = {.backend = backend, .mail_root = root, .fsync = false};
	const char *err = NULL;
	struct store *st = store_open(&set, &err);
	if (st == NULL || st->ops != &store_maildir_ops)
		return false;
	struct store_user *u = NULL;
	struct store_append *a = NULL;
	struct store_mailbox *mb = NULL;
	struct store_mailbox_info info;
	struct store_body *b = NULL;
	static const char msg[] = "Subject: b\n\nb\n";
	struct store_new_msg m = {.data = msg, .len = strlen(msg), .internaldate = -1};
	uint32_t uid = 0, uv = 0;
	bool ok = store_user_open(st, "alice", &u) == STORE_OK && u->ops == &store_maildir_ops &&
	          store_append_begin(u, "INBOX", &a) == STORE_OK && a->ops == &store_maildir_ops &&
	          store_append_add(a, &m, &uid) == STORE_OK &&
	          store_append_commit(&a, &uv) == STORE_OK && a == NULL &&
	          store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK &&
	          mb->ops == &store_maildir_ops;
	if (mb != NULL) {
		store_mailbox_info_free(&info);
		/* Bare LF became CRLF (store_backend.h: bytes are CRLF). */
		ok = ok && store_body_open(mb, uid, &b) == STORE_OK &&
		     b->ops == &store_maildir_ops && store_body_size(b) == strlen(msg) + 3;
		store_body_close(&b);
		store_mailbox_close(&mb);
	}
	store_user_unref(&u);
	store_close(&st);
	return ok && st == NULL;
}

static void test_backends(void)
{
	test_begin("store: backend registry and dispatch");
	struct store *st = fresh_store();
	store_close(&st);
	test_assert(store_backend_find("maildir") == &store_maildir_ops);
	test_assert(store_backend_find(NULL) == &store_maildir_ops);
	test_assert(store_backend_find("nosuch") == NULL);
	test_assert(ops_complete(&store_maildir_ops));
	test_assert(strcmp(store_maildir_ops.name, "maildir") == 0);
	/* An unknown name fails with a message that says what is known. */
	struct store_settings set = {.backend = "nosuch", .mail_root = root, .fsync = false};
	const char *err = NULL;
	test_assert(store_open(&set, &err) == NULL);
	test_assert(err != NULL && strstr(err, "unknown mail store backend") != NULL &&
	            strstr(err, "maildir") != NULL);
	set.backend = "";
	err = NULL;
	test_assert(store_open(&set, &err) == NULL && err != NULL);
	/* maildir by name and by default (NULL). */
	test_assert(opens_maildir("maildir"));
	test_assert(opens_maildir(NULL));
	/* The backend's own checks still run after selection. */
	set.backend = NULL;
	set.mail_root = "";
	err = NULL;
	test_assert(store_open(&set, &err) == NULL && err != NULL &&
	            strstr(err, "mail_root") != NULL);
	test_end();
}

/* --- mailboxes --- */

static bool listed(struct store_user *u, const char *name, unsigned *attrs_r)
{
	struct store_mailbox_entry *v;
	size_t n;
	bool found = false;
	if (store_list(u, &v, &n) != STORE_OK)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(v[i - 1].name, v[i].name) >= 0)
			return false; /* must be sorted */
		if (strcmp(v[i].name, name) == 0) {
			found = true;
			*attrs_r = v[i].attrs;
		}
	}
	store_list_free(v, n);
	return found;
}

static void test_defaults_and_list(void)
{
	test_begin("store: special-use defaults, list, subscriptions");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	unsigned a = 0;
	test_assert(listed(u, "INBOX", &a) && (a & STORE_ATTR_SUBSCRIBED));
	test_assert(listed(u, "Sent", &a) && (a & STORE_ATTR_SENT) && (a & STORE_ATTR_SUBSCRIBED));
	test_assert(listed(u, "Drafts", &a) && (a & STORE_ATTR_DRAFTS));
	test_assert(listed(u, "Trash", &a) && (a & STORE_ATTR_TRASH));
	test_assert(listed(u, "Junk", &a) && (a & STORE_ATTR_JUNK));
	test_assert(listed(u, "Archive", &a) && (a & STORE_ATTR_ARCHIVE));
	test_assert(store_subscribe(u, "Nowhere", true) == STORE_OK);
	test_assert(listed(u, "Nowhere", &a) && (a & STORE_ATTR_NONEXISTENT) &&
	            (a & STORE_ATTR_SUBSCRIBED));
	test_assert(store_subscribe(u, "Nowhere", false) == STORE_OK);
	test_assert(!listed(u, "Nowhere", &a));
	test_assert(store_subscribe(u, "Sent", false) == STORE_OK);
	test_assert(listed(u, "Sent", &a) && !(a & STORE_ATTR_SUBSCRIBED));
	/* Escaping: '.' and '%' inside a level. */
	test_assert(store_create(u, "a.b/c", 0) == STORE_OK);
	char p[512];
	struct stat stt;
	path_of(p, sizeof(p), ".a%2Eb.c/cur");
	test_assert(stat(p, &stt) == 0);
	test_assert(listed(u, "a.b", &a) && !(a & STORE_ATTR_NOSELECT));
	test_assert(store_create(u, "a.b/c", 0) == STORE_ERR_EXISTS);
	test_assert(store_create(u, "INBOX", 0) == STORE_ERR_EXISTS);
	/* Valid, but too long for one Maildir++ directory name. */
	char longname[301];
	memset(longname, 'n', 300);
	longname[300] = '\0';
	test_assert(store_create(u, longname, 0) == STORE_ERR_LIMIT);
	test_assert(store_create(u, "Stuff", STORE_ATTR_ARCHIVE) == STORE_OK);
	test_assert(listed(u, "Stuff", &a) && (a & STORE_ATTR_ARCHIVE));
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

static atomic_int wakeups;

static void watch_cb(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&wakeups, 1);
}

static void test_delete_rename(void)
{
	test_begin("store: delete and rename with children and INBOX");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	unsigned a;
	test_assert(store_delete(u, "INBOX") == STORE_ERR_NOPERM);
	test_assert(store_delete(u, "Nope") == STORE_ERR_NOTFOUND);
	test_assert(store_create(u, "p/c1/g", 0) == STORE_OK);
	test_assert(store_create(u, "p/c2", 0) == STORE_OK);
	test_assert(append(u, "p", "Subject: x\r\n\r\nhi\r\n", 0, NULL) == 1);
	/* A parent becomes \Noselect; its messages go. */
	test_assert(store_delete(u, "p") == STORE_OK);
	test_assert(listed(u, "p", &a) && (a & STORE_ATTR_NOSELECT));
	struct store_status ss;
	test_assert(store_status(u, "p", &ss) == STORE_ERR_NOSELECT);
	test_assert(store_delete(u, "p") == STORE_ERR_HASCHILDREN);
	/* CREATE over a \Noselect name makes it a mailbox again. */
	uint32_t p_uv = 0;
	test_assert(store_create(u, "p", 0) == STORE_OK);
	test_assert(store_status(u, "p", &ss) == STORE_OK && ss.messages == 0);
	p_uv = ss.uidvalidity;
	test_assert(append(u, "p", "Subject: y\r\n\r\ny\r\n", 0, NULL) == 2);
	test_assert(store_delete(u, "p") == STORE_OK);
	test_assert(listed(u, "p", &a) && (a & STORE_ATTR_NOSELECT) && p_uv != 0);
	/* Rename moves the children too. */
	test_assert(append(u, "p/c1/g", "Subject: g\r\n\r\ng\r\n", 0, NULL) == 1);
	test_assert(store_rename(u, "p", "q/r") == STORE_OK);
	test_assert(!listed(u, "p", &a) && !listed(u, "p/c1/g", &a));
	test_assert(listed(u, "q", &a) && listed(u, "q/r/c1/g", &a) && listed(u, "q/r/c2", &a));
	test_assert(store_status(u, "q/r/c1/g", &ss) == STORE_OK && ss.messages == 1);
	test_assert(store_rename(u, "q/r", "q/r/x") == STORE_ERR_INVALID_NAME);
	test_assert(store_rename(u, "q/r/c2", "Sent") == STORE_ERR_EXISTS);
	test_assert(store_rename(u, "zzz", "yyy") == STORE_ERR_NOTFOUND);
	/* An open handle follows a rename and notices a delete. */
	struct store_mailbox *h;
	struct store_mailbox_info hi;
	atomic_store(&wakeups, 0);
	test_assert(store_mailbox_open(u, "q/r/c1/g", false, &h, &hi) == STORE_OK);
	store_mailbox_info_free(&hi);
	store_mailbox_watch(h, watch_cb, NULL);
	test_assert(store_rename(u, "q/r/c1", "q/moved") == STORE_OK);
	uint32_t *hu;
	size_t hn;
	test_assert(store_mailbox_uids(h, &hu, &hn) == STORE_OK && hn == 1);
	free(hu);
	char *hb = read_body(h, 1);
	test_assert(hb != NULL && strcmp(hb, "Subject: g\r\n\r\ng\r\n") == 0);
	free(hb);
	test_assert(store_delete(u, "q/moved/g") == STORE_OK);
	test_assert(atomic_load(&wakeups) == 1);
	test_assert(store_mailbox_uids(h, &hu, &hn) == STORE_ERR_NOTFOUND);
	store_mailbox_close(&h);
	test_assert(store_create(u, "q/r/c1/g", 0) == STORE_OK);
	test_assert(append(u, "q/r/c1/g", "Subject: g\r\n\r\ng\r\n", 0, NULL) == 1);
	/* Leaf delete removes the directory. */
	test_assert(store_delete(u, "q/r/c2") == STORE_OK);
	char p[512];
	struct stat stt;
	path_of(p, sizeof(p), ".q.r.c2");
	test_assert(stat(p, &stt) < 0);
	/* A re-created mailbox gets a new UIDVALIDITY. */
	test_assert(store_status(u, "q/r/c1/g", &ss) == STORE_OK);
	uint32_t old_uv = ss.uidvalidity;
	test_assert(store_delete(u, "q/r/c1/g") == STORE_OK);
	test_assert(store_create(u, "q/r/c1/g", 0) == STORE_OK);
	test_assert(store_status(u, "q/r/c1/g", &ss) == STORE_OK && ss.uidvalidity > old_uv);
	test_assert(ss.messages == 0);
	/* RENAME INBOX: messages move, INBOX stays empty, UIDs kept. */
	test_assert(append(u, "INBOX", "Subject: 1\r\n\r\n1\r\n", 0, NULL) == 1);
	test_assert(append(u, "INBOX", "Subject: 2\r\n\r\n2\r\n", 0, NULL) == 2);
	test_assert(store_rename(u, "INBOX", "Old/Inbox") == STORE_OK);
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK && ss.messages == 0);
	test_assert(ss.uidnext == 3);
	test_assert(store_status(u, "Old/Inbox", &ss) == STORE_OK && ss.messages == 2);
	test_assert(ss.uidnext == 3);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "Old/Inbox", false, &mb, &info) == STORE_OK);
	char *body = read_body(mb, 2);
	test_assert(body != NULL && strcmp(body, "Subject: 2\r\n\r\n2\r\n") == 0);
	free(body);
	store_mailbox_info_free(&info);
	store_mailbox_close(&mb);
	test_assert(append(u, "INBOX", "Subject: 3\r\n\r\n3\r\n", 0, NULL) == 3);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

/* --- messages --- */

struct fetched {
	uint32_t uid[16];
	uint32_t flags[16];
	char kw[16][64];
	uint64_t modseq[16];
	int64_t date[16];
	uint64_t size[16];
	bool has_summary[16];
	size_t n;
};

static int fetch_cb(void *ctx, const struct store_msg *m)
{
	struct fetched *f = ctx;
	if (f->n == 16)
		return 1;
	f->uid[f->n] = m->uid;
	f->flags[f->n] = m->flags;
	snprintf(f->kw[f->n], sizeof(f->kw[0]), "%s", m->keywords);
	f->modseq[f->n] = m->modseq;
	f->date[f->n] = m->internaldate;
	f->size[f->n] = m->size;
	f->has_summary[f->n] = m->envelope != NULL && m->bodystructure != NULL;
	f->n++;
	return 0;
}

static void test_append_fetch(void)
{
	test_begin("store: append, fetch, body round trip, bare LF");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	const char *raw = "Subject: hi\nFrom: a@b\n\nline1\r\nline2\n\rx\n";
	const char *want = "Subject: hi\r\nFrom: a@b\r\n\r\nline1\r\nline2\r\n\rx\r\n";
	uint32_t uid =
	    append(u, "INBOX", raw, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, "Work $Important work");
	test_assert(uid == 1);
	test_assert(append(u, "Nope", raw, 0, NULL) == 0);
	struct store_append *a;
	test_assert(store_append_begin(u, "Nope", &a) == STORE_ERR_NOTFOUND);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	test_assert(info.uidnext == 2 && info.uidvalidity > 0);
	test_assert(strcmp(info.keywords, "$Important Work") == 0);
	store_mailbox_info_free(&info);
	char *body = read_body(mb, 1);
	test_assert(body != NULL && strcmp(body, want) == 0);
	free(body);
	struct fetched f = {0};
	uint32_t uids[] = {1, 5};
	test_assert(store_fetch(mb, uids, 2, STORE_FETCH_SUMMARY, fetch_cb, &f) == STORE_OK);
	test_assert(f.n == 1 && f.uid[0] == 1);
	test_assert(f.flags[0] == (STORE_FLAG_SEEN | STORE_FLAG_FLAGGED));
	test_assert(strcmp(f.kw[0], "$Important Work") == 0);
	test_assert(f.date[0] == 1700000000 && f.size[0] == strlen(want));
	test_assert(f.has_summary[0]);
	struct store_body *b;
	test_assert(store_body_open(mb, 9, &b) == STORE_ERR_EXPUNGED);
	/* Multi-append: one transaction, consecutive UIDs, abort leaves none. */
	test_assert(store_append_begin(u, "INBOX", &a) == STORE_OK);
	struct store_new_msg m = {.data = "a\r\n", .len = 3, .internaldate = -1};
	uint32_t u1 = 0, u2 = 0, uv = 0;
	test_assert(store_append_add(a, &m, &u1) == STORE_OK && u1 == 2);
	test_assert(store_append_add(a, &m, &u2) == STORE_OK && u2 == 3);
	test_assert(store_append_commit(&a, &uv) == STORE_OK && a == NULL);
	test_assert(store_append_begin(u, "INBOX", &a) == STORE_OK);
	test_assert(store_append_add(a, &m, &u1) == STORE_OK && u1 == 4);
	store_append_abort(&a);
	test_assert(count_files("cur") == 3);
	uint32_t *all;
	size_t n;
	test_assert(store_mailbox_uids(mb, &all, &n) == STORE_OK && n == 3);
	test_assert(all[0] == 1 && all[1] == 2 && all[2] == 3);
	free(all);
	/* An empty message is fine too. */
	uint32_t e = append(u, "INBOX", "", 0, NULL);
	test_assert(e == 4 || e == 5);
	body = read_body(mb, e);
	test_assert(body != NULL && body[0] == '\0');
	free(body);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

struct changes {
	uint32_t uid[16];
	bool expunged[16];
	uint64_t modseq[16];
	uint32_t flags[16];
	size_t n;
};

static void change_cb(void *ctx, const struct store_change *c)
{
	struct changes *ch = ctx;
	if (ch->n == 16)
		return;
	ch->uid[ch->n] = c->uid;
	ch->expunged[ch->n] = c->expunged;
	ch->modseq[ch->n] = c->modseq;
	ch->flags[ch->n] = c->flags;
	ch->n++;
}

static void test_flags_changes_expunge(void)
{
	test_begin("store: flags, modseq, changes, expunge");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	for (int i = 0; i < 4; i++)
		append(u, "INBOX", "Subject: m\r\n\r\nm\r\n", 0, NULL);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", true, &mb, &info) == STORE_OK);
	uint64_t base = info.highestmodseq;
	test_assert(store_mailbox_highestmodseq(mb) == base);
	store_mailbox_info_free(&info);
	uint32_t uids[] = {1, 2, 3};
	struct fetched f = {0};
	test_assert(store_set_flags(mb, uids, 3, STORE_OP_ADD, STORE_FLAG_SEEN, "Foo", 0, fetch_cb,
	                            &f) == STORE_OK);
	test_assert(f.n == 3 && f.flags[0] == STORE_FLAG_SEEN && strcmp(f.kw[2], "Foo") == 0);
	test_assert(f.modseq[0] == base + 1 && f.modseq[2] == base + 1);
	test_assert(store_mailbox_highestmodseq(mb) == base + 1);
	/* No change: same modseq reported, none taken. */
	memset(&f, 0, sizeof(f));
	test_assert(store_set_flags(mb, uids, 1, STORE_OP_ADD, STORE_FLAG_SEEN, NULL, 0, fetch_cb,
	                            &f) == STORE_OK);
	test_assert(f.n == 1 && f.modseq[0] == base + 1);
	test_assert(store_mailbox_highestmodseq(mb) == base + 1);
	/* UNCHANGEDSINCE below the message's modseq: not changed, not reported. */
	memset(&f, 0, sizeof(f));
	test_assert(store_set_flags(mb, uids, 2, STORE_OP_REPLACE, STORE_FLAG_DELETED, NULL, base,
	                            fetch_cb, &f) == STORE_OK);
	test_assert(f.n == 0);
	memset(&f, 0, sizeof(f));
	test_assert(store_set_flags(mb, uids + 1, 2, STORE_OP_REPLACE, STORE_FLAG_DELETED, NULL,
	                            base + 1, fetch_cb, &f) == STORE_OK);
	test_assert(f.n == 2 && f.flags[0] == STORE_FLAG_DELETED && f.kw[0][0] == '\0');
	test_assert(f.modseq[0] == base + 2);
	memset(&f, 0, sizeof(f));
	test_assert(store_set_flags(mb, uids, 1, STORE_OP_REMOVE, STORE_FLAG_SEEN, "foo", 0,
	                            fetch_cb, &f) == STORE_OK);
	test_assert(f.n == 1 && f.flags[0] == 0 && f.kw[0][0] == '\0');
	/* Expunge only \Deleted among the given UIDs. */
	uint32_t *ex;
	size_t n_ex;
	uint32_t two[] = {1, 2};
	test_assert(store_expunge(mb, two, 2, &ex, &n_ex) == STORE_OK);
	test_assert(n_ex == 1 && ex[0] == 2);
	free(ex);
	uint64_t after_first = store_mailbox_highestmodseq(mb);
	test_assert(store_expunge(mb, NULL, 0, &ex, &n_ex) == STORE_OK);
	test_assert(n_ex == 1 && ex[0] == 3);
	free(ex);
	test_assert(count_files("cur") == 2);
	struct store_body *b;
	test_assert(store_body_open(mb, 3, &b) == STORE_ERR_EXPUNGED);
	/* Changes since base: 1 (flags), 2 and 3 expunged; 4 unchanged. */
	struct changes ch = {0};
	uint64_t highest = 0;
	test_assert(store_changes(mb, base, UINT32_MAX, change_cb, &ch, &highest) == STORE_OK);
	test_assert(highest == store_mailbox_highestmodseq(mb));
	test_assert(ch.n == 3 && ch.uid[0] == 1 && !ch.expunged[0]);
	test_assert(ch.uid[1] == 2 && ch.expunged[1] && ch.uid[2] == 3 && ch.expunged[2]);
	test_assert(ch.modseq[2] == highest && ch.modseq[1] == after_first);
	memset(&ch, 0, sizeof(ch));
	test_assert(store_changes(mb, base, 3, change_cb, &ch, &highest) == STORE_OK);
	test_assert(ch.n == 2 && ch.uid[1] == 2);
	memset(&ch, 0, sizeof(ch));
	test_assert(store_changes(mb, highest, UINT32_MAX, change_cb, &ch, &highest) == STORE_OK);
	test_assert(ch.n == 0);
	/* Appends show up as changes too. */
	test_assert(append(u, "INBOX", "x\r\n", 0, NULL) == 5);
	test_assert(store_changes(mb, highest, UINT32_MAX, change_cb, &ch, &highest) == STORE_OK);
	test_assert(ch.n == 1 && ch.uid[0] == 5);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

static void test_status_recent(void)
{
	test_begin("store: status counts and recent claiming");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	append(u, "INBOX", "a\r\n", STORE_FLAG_SEEN, NULL);
	append(u, "INBOX", "bb\r\n", STORE_FLAG_DELETED, NULL);
	append(u, "INBOX", "ccc\n", 0, NULL);
	struct store_status ss;
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK);
	test_assert(ss.messages == 3 && ss.unseen == 2 && ss.deleted == 1 && ss.recent == 3);
	test_assert(ss.uidnext == 4 && ss.size == 3 + 4 + 5 && ss.highestmodseq > 0);
	test_assert(store_status(u, "Nope", &ss) == STORE_ERR_NOTFOUND);
	struct store_mailbox *mb, *mb2;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	test_assert(info.recent_uid == UINT32_MAX);
	store_mailbox_info_free(&info);
	test_assert(store_mailbox_open(u, "INBOX", true, &mb2, &info) == STORE_OK);
	test_assert(info.recent_uid == 1);
	store_mailbox_info_free(&info);
	store_mailbox_close(&mb2);
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK && ss.recent == 0);
	append(u, "INBOX", "d\r\n", 0, NULL);
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK && ss.recent == 1);
	test_assert(store_mailbox_open(u, "INBOX", true, &mb2, &info) == STORE_OK);
	test_assert(info.recent_uid == 4);
	store_mailbox_info_free(&info);
	store_mailbox_close(&mb2);
	test_assert(store_mailbox_open(u, "INBOX", true, &mb2, &info) == STORE_OK);
	test_assert(info.recent_uid == UINT32_MAX);
	store_mailbox_info_free(&info);
	store_mailbox_close(&mb2);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

static void test_copy_move(void)
{
	test_begin("store: copy and move");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	append(u, "INBOX", "Subject: 1\r\n\r\none\r\n", STORE_FLAG_FLAGGED, "K1");
	append(u, "INBOX", "Subject: 2\r\n\r\ntwo\r\n", 0, NULL);
	append(u, "INBOX", "Subject: 3\r\n\r\nthree\r\n", 0, NULL);
	append(u, "Trash", "Subject: t\r\n\r\nt\r\n", 0, NULL);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	struct store_copy_result r;
	uint32_t uids[] = {1, 3, 7};
	test_assert(store_copy(mb, uids, 3, "Nope", false, &r) == STORE_ERR_NOTFOUND);
	test_assert(store_copy(mb, uids, 3, "Trash", false, &r) == STORE_OK);
	test_assert(r.count == 2 && r.src_uids[0] == 1 && r.src_uids[1] == 3);
	test_assert(r.dst_uids[0] == 2 && r.dst_uids[1] == 3);
	struct store_status ss;
	test_assert(store_status(u, "Trash", &ss) == STORE_OK);
	test_assert(r.uidvalidity == ss.uidvalidity && ss.messages == 3 && ss.uidnext == 4);
	store_copy_result_free(&r);
	struct store_mailbox *tb;
	test_assert(store_mailbox_open(u, "Trash", false, &tb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	struct fetched f = {0};
	uint32_t two[] = {2};
	test_assert(store_fetch(tb, two, 1, 0, fetch_cb, &f) == STORE_OK);
	test_assert(f.n == 1 && f.flags[0] == STORE_FLAG_FLAGGED && strcmp(f.kw[0], "K1") == 0);
	test_assert(f.date[0] == 1700000000);
	char *body = read_body(tb, 3);
	test_assert(body != NULL && strcmp(body, "Subject: 3\r\n\r\nthree\r\n") == 0);
	free(body);
	/* Move: sources are expunged. */
	uint32_t mv[] = {2};
	test_assert(store_copy(mb, mv, 1, "Trash", true, &r) == STORE_OK);
	test_assert(r.count == 1 && r.src_uids[0] == 2 && r.dst_uids[0] == 4);
	store_copy_result_free(&r);
	uint32_t *all;
	size_t n;
	test_assert(store_mailbox_uids(mb, &all, &n) == STORE_OK && n == 2);
	test_assert(all[0] == 1 && all[1] == 3);
	free(all);
	test_assert(count_files("cur") == 2 && count_files(".Trash/cur") == 4);
	body = read_body(tb, 4);
	test_assert(body != NULL && strcmp(body, "Subject: 2\r\n\r\ntwo\r\n") == 0);
	free(body);
	/* Copy into the same mailbox. */
	test_assert(store_copy(mb, uids, 1, "INBOX", false, &r) == STORE_OK);
	test_assert(r.count == 1 && r.dst_uids[0] == 4);
	store_copy_result_free(&r);
	store_mailbox_close(&tb);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

/* --- recovery --- */

static struct store_user *reopen(struct store **st, struct store_user **u)
{
	store_user_unref(u);
	store_close(st);
	struct store_settings set = {.backend = "maildir", .mail_root = root, .fsync = false};
	const char *err;
	*st = store_open(&set, &err);
	if (store_user_open(*st, "alice", u) != STORE_OK)
		*u = NULL;
	return *u;
}

/* --- quota --- */

static uint64_t used_bytes(struct store_user *u, uint64_t *messages_r)
{
	uint64_t b = 0, lb, m = 0, lm;
	if (store_quota_get(u, &b, &lb, &m, &lm) != STORE_OK)
		return UINT64_MAX;
	if (messages_r != NULL)
		*messages_r = m;
	return b;
}

static void quota_lookup(void *ctx, const char *user, uint64_t *bytes_r, uint64_t *messages_r)
{
	*bytes_r = strcmp(user, "alice") == 0 ? *(uint64_t *)ctx : 0;
	*messages_r = 0;
}

static void test_quota(void)
{
	test_begin("store: quota usage, limits and enforcement");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	const char *m20 = "Subject: a\n\n12345678\n"; /* 20 bytes stored (CRLF) */
	uint64_t n = 0, lb = 1, lm = 1;
	test_assert(append(u, "INBOX", m20, 0, NULL) == 1);
	test_assert(store_quota_get(u, NULL, &lb, NULL, &lm) == STORE_OK && lb == 0 && lm == 0);
	test_assert(used_bytes(u, &n) == 24 && n == 1);
	/* Limit 60 bytes: one more fits, then a third does not. */
	store_user_set_quota(u, 60, 0);
	bool too_big = true;
	test_assert(store_quota_check(u, 30, &too_big) == STORE_OK && !too_big);
	test_assert(store_quota_check(u, 40, &too_big) == STORE_ERR_OVERQUOTA && !too_big);
	test_assert(store_quota_check(u, 61, &too_big) == STORE_ERR_OVERQUOTA && too_big);
	test_assert(append(u, "INBOX", m20, 0, NULL) == 2);
	test_assert(append(u, "INBOX", m20, 0, NULL) == 0);
	/* The stored size counts: 36 bare-LF bytes become 40 > 60 - 48. */
	store_user_set_quota(u, 0, 0);
	test_assert(used_bytes(u, &n) == 48 && n == 2 && count_files("cur") == 2);
	/* Two in one transaction: the second one is over. */
	store_user_set_quota(u, 90, 0);
	struct store_append *a;
	struct store_new_msg msg = {.data = m20, .len = strlen(m20), .internaldate = -1};
	uint32_t uid = 0, uv = 0;
	test_assert(store_append_begin(u, "INBOX", &a) == STORE_OK);
	test_assert(store_append_add(a, &msg, &uid) == STORE_OK);
	test_assert(store_append_add(a, &msg, &uid) == STORE_ERR_OVERQUOTA);
	test_assert(store_append_commit(&a, &uv) == STORE_OK);
	test_assert(used_bytes(u, &n) == 72 && n == 3 && count_files("cur") == 3);
	/* COPY over the limit is refused, MOVE is not; usage unchanged. */
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	struct store_copy_result r;
	uint32_t one[] = {1}, two[] = {1, 2};
	test_assert(store_copy(mb, two, 2, "Trash", false, &r) == STORE_ERR_OVERQUOTA);
	test_assert(count_files(".Trash/cur") == 0);
	test_assert(store_copy(mb, two, 2, "Trash", true, &r) == STORE_OK && r.count == 2);
	store_copy_result_free(&r);
	test_assert(used_bytes(u, &n) == 72 && n == 3);
	/* Message count limit. */
	store_user_set_quota(u, 0, 3);
	test_assert(append(u, "INBOX", m20, 0, NULL) == 0);
	test_assert(store_quota_check(u, 1, &too_big) == STORE_ERR_OVERQUOTA && !too_big);
	/* EXPUNGE frees. */
	uint32_t three[] = {3};
	test_assert(store_set_flags(mb, three, 1, STORE_OP_ADD, STORE_FLAG_DELETED, NULL, 0, NULL,
	                            NULL) == STORE_OK);
	struct store_status ss;
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK && ss.deleted_size == 24);
	uint32_t *gone = NULL;
	size_t ngone = 0;
	test_assert(store_expunge(mb, NULL, 0, &gone, &ngone) == STORE_OK && ngone == 1);
	free(gone);
	test_assert(used_bytes(u, &n) == 48 && n == 2);
	test_assert(store_copy(mb, one, 1, "Trash", false, &r) == STORE_OK && r.count == 0);
	store_copy_result_free(&r);
	store_mailbox_close(&mb);
	/* Survives a restart (recomputed from the rows); DELETE frees. */
	test_assert(reopen(&st, &u) != NULL);
	test_assert(used_bytes(u, &n) == 48 && n == 2);
	test_assert(store_quota_get(u, NULL, &lb, NULL, &lm) == STORE_OK && lb == 0 && lm == 0);
	test_assert(store_create(u, "Work", 0) == STORE_OK);
	test_assert(append(u, "Work", m20, 0, NULL) != 0);
	test_assert(used_bytes(u, &n) == 72 && n == 3);
	test_assert(store_delete(u, "Work") == STORE_OK);
	test_assert(store_delete(u, "Trash") == STORE_OK);
	test_assert(used_bytes(u, &n) == 0 && n == 0);
	/* The lookup supplies limits at every open. */
	uint64_t limit = 30;
	store_set_quota_lookup(st, quota_lookup, &limit);
	struct store_user *u2;
	test_assert(store_user_open(st, "alice", &u2) == STORE_OK);
	test_assert(store_quota_get(u, NULL, &lb, NULL, NULL) == STORE_OK && lb == 30);
	test_assert(append(u, "INBOX", m20, 0, NULL) != 0);
	test_assert(append(u, "INBOX", m20, 0, NULL) == 0);
	store_user_unref(&u2);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

static void test_recovery(void)
{
	test_begin("store: recovery of files and rows");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	append(u, "INBOX", "Subject: 1\r\n\r\n1\r\n", STORE_FLAG_SEEN, NULL);
	append(u, "INBOX", "Subject: 2\r\n\r\n2\r\n", 0, NULL);
	append(u, "INBOX", "Subject: 3\r\n\r\n3\r\n", STORE_FLAG_DELETED, NULL);
	/* Keep a copy of message 3's file, expunge it, put the file back:
	 * a crash between commit and unlink. */
	char name3[256], p[1024], q[1024];
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	DIR *d;
	struct dirent *de;
	path_of(p, sizeof(p), "cur");
	d = opendir(p);
	name3[0] = '\0';
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ",U=3:") != NULL)
			snprintf(name3, sizeof(name3), "%s", de->d_name);
	}
	closedir(d);
	test_assert(name3[0] != '\0');
	snprintf(q, sizeof(q), "cur/%s", name3);
	path_of(p, sizeof(p), q);
	char keep[1100];
	snprintf(keep, sizeof(keep), "%s.keep", p);
	test_assert(link(p, keep) == 0);
	uint32_t *ex;
	size_t n_ex;
	test_assert(store_expunge(mb, NULL, 0, &ex, &n_ex) == STORE_OK && n_ex == 1);
	free(ex);
	store_mailbox_close(&mb);
	test_assert(rename(keep, p) == 0);
	/* A file with a UID and no row (crash before commit). */
	write_file("cur/1700000000.M1P1Q1.host,S=20,U=7:2,FS", "Subject: 7\r\n\r\nseven\r\n",
	           1600000000);
	/* A row without a file: remove message 2's file. */
	path_of(p, sizeof(p), "cur");
	d = opendir(p);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ",U=2:") != NULL) {
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	closedir(d);
	/* A file another tool put into cur/ without a UID gets a fresh one. */
	write_file("cur/1690000000.M5P5.other:2,S", "Subject: foreign\r\n\r\nf\r\n", 0);
	test_assert(reopen(&st, &u) != NULL);
	struct store_status ss;
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK);
	test_assert(ss.messages == 3 && ss.uidnext == 9);
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	struct fetched ff = {0};
	uint32_t eight[] = {8};
	test_assert(store_fetch(mb, eight, 1, 0, fetch_cb, &ff) == STORE_OK);
	test_assert(ff.n == 1 && ff.flags[0] == STORE_FLAG_SEEN);
	uint32_t *gone;
	size_t n_gone;
	test_assert(store_set_flags(mb, eight, 1, STORE_OP_ADD, STORE_FLAG_DELETED, NULL, 0, NULL,
	                            NULL) == STORE_OK);
	test_assert(store_expunge(mb, eight, 1, &gone, &n_gone) == STORE_OK && n_gone == 1);
	free(gone);
	store_mailbox_close(&mb);
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK);
	test_assert(ss.messages == 2 && ss.uidnext == 9);
	test_assert(count_files("cur") == 2); /* the tombstoned file is gone */
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	uint32_t *all;
	size_t n;
	test_assert(store_mailbox_uids(mb, &all, &n) == STORE_OK && n == 2);
	test_assert(all[0] == 1 && all[1] == 7);
	free(all);
	struct fetched f = {0};
	uint32_t seven[] = {7};
	test_assert(store_fetch(mb, seven, 1, STORE_FETCH_SUMMARY, fetch_cb, &f) == STORE_OK);
	test_assert(f.n == 1 && f.flags[0] == (STORE_FLAG_SEEN | STORE_FLAG_FLAGGED));
	test_assert(f.date[0] == 1600000000 && f.has_summary[0]);
	struct changes ch = {0};
	uint64_t hi;
	test_assert(store_changes(mb, 0, UINT32_MAX, change_cb, &ch, &hi) == STORE_OK);
	test_assert(ch.n == 5 && ch.uid[1] == 2 && ch.expunged[1] && ch.expunged[2]);
	test_assert(ch.uid[4] == 8 && ch.expunged[4]);
	store_mailbox_close(&mb);
	test_assert(append(u, "INBOX", "x\r\n", 0, NULL) == 9);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

static void test_rebuild(void)
{
	test_begin("store: a deleted index.sqlite is rebuilt, UIDs kept");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	append(u, "INBOX", "Subject: 1\r\n\r\n1\r\n", STORE_FLAG_SEEN, NULL);
	append(u, "INBOX", "Subject: 2\r\n\r\n2\r\n", 0, NULL);
	append(u, "INBOX", "Subject: 3\r\n\r\n3\r\n", STORE_FLAG_DELETED, NULL);
	test_assert(store_create(u, "Work/a.b", 0) == STORE_OK);
	test_assert(append(u, "Work/a.b", "Subject: w\r\n\r\nw\r\n", 0, NULL) == 1);
	struct store_status before, ss;
	test_assert(store_status(u, "Work/a.b", &before) == STORE_OK);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	uint32_t inbox_uv = info.uidvalidity;
	store_mailbox_info_free(&info);
	uint32_t *ex;
	size_t n_ex;
	test_assert(store_expunge(mb, NULL, 0, &ex, &n_ex) == STORE_OK && n_ex == 1);
	free(ex);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	char p[512];
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/alice/index.sqlite%s", root, sfx[i]);
		unlink(p);
	}
	/* Directories that do not decode to a valid name are never adopted. */
	const char *hostile[] = {".%2E%2E", ".a..b", ".x%2Fy", ".%00", ".a.", "..."};
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		snprintf(p, sizeof(p), "%s/alice/%s", root, hostile[i]);
		mkdir(p, 0700);
		strcat(p, "/cur");
		mkdir(p, 0700);
	}
	test_assert(reopen(&st, &u) != NULL);
	struct store_mailbox_entry *v;
	size_t nv;
	test_assert(store_list(u, &v, &nv) == STORE_OK);
	test_assert(nv == 8); /* INBOX, 5 special-use, Work, Work/a.b, nothing else */
	store_list_free(v, nv);
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK);
	test_assert(ss.messages == 2 && ss.uidvalidity == inbox_uv);
	/* UID 3's file and tombstone are gone, but the uidnext written
	 * beside the UIDVALIDITY at EXPUNGE keeps 3 from being reused. */
	test_assert(ss.uidnext == 4 && ss.unseen == 1);
	test_assert(store_status(u, "Work/a.b", &ss) == STORE_OK);
	test_assert(ss.messages == 1 && ss.uidvalidity == before.uidvalidity && ss.uidnext == 2);
	unsigned a;
	test_assert(listed(u, "Work", &a) && listed(u, "Sent", &a));
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	char *body = read_body(mb, 2);
	test_assert(body != NULL && strcmp(body, "Subject: 2\r\n\r\n2\r\n") == 0);
	free(body);
	store_mailbox_close(&mb);
	/* A garbage index is moved aside and rebuilt the same way. */
	store_user_unref(&u);
	store_close(&st);
	snprintf(p, sizeof(p), "%s/alice/index.sqlite", root);
	for (int i = 1; i < 3; i++) {
		char w[600];
		snprintf(w, sizeof(w), "%s%s", p, sfx[i]);
		unlink(w);
	}
	FILE *fp = fopen(p, "w");
	fputs("this is not a database, just some bytes that are long enough to matter.....", fp);
	fclose(fp);
	test_assert(reopen(&st, &u) != NULL);
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK && ss.messages == 2);
	store_user_unref(&u);
	store_close(&st);
	/* A database whose schema lost a table is rebuilt too. */
	sqlite3 *db = NULL;
	test_assert(sqlite3_open(p, &db) == SQLITE_OK);
	test_assert(sqlite3_exec(db, "DROP TABLE messages", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	test_assert(reopen(&st, &u) != NULL);
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK && ss.messages == 2);
	test_assert(ss.uidvalidity == inbox_uv && ss.uidnext == 4);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

/* --- new/ deliveries and watchers --- */

static void test_new_and_watch(void)
{
	test_begin("store: new/ pickup, watchers, inotify");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	write_file("new/1700000001.M1P9.mta", "Subject: n\n\nbare lf\n", 1650000000);
	write_file("new/1700000002.M2P9.mta:2,S", "Subject: m\r\n\r\ncrlf\r\n", 0);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", true, &mb, &info) == STORE_OK);
	test_assert(info.uidnext == 3 && info.recent_uid == 1);
	store_mailbox_info_free(&info);
	test_assert(count_files("new") == 0 && count_files("cur") == 2);
	char *body = read_body(mb, 1);
	test_assert(body != NULL && strcmp(body, "Subject: n\r\n\r\nbare lf\r\n") == 0);
	free(body);
	struct fetched f = {0};
	uint32_t uids[] = {1, 2};
	test_assert(store_fetch(mb, uids, 2, 0, fetch_cb, &f) == STORE_OK);
	test_assert(f.n == 2 && f.date[0] == 1650000000 && f.flags[1] == STORE_FLAG_SEEN);
	test_assert(f.size[0] == strlen("Subject: n\r\n\r\nbare lf\r\n"));
	/* A watcher is called on a change by another user handle. */
	atomic_store(&wakeups, 0);
	store_mailbox_watch(mb, watch_cb, NULL);
	test_assert(append(u, "INBOX", "x\r\n", 0, NULL) == 3);
	test_assert(atomic_load(&wakeups) == 1);
	test_assert(store_mailbox_highestmodseq(mb) > info.highestmodseq);
	/* And within a second of an external delivery (inotify). */
	atomic_store(&wakeups, 0);
	write_file("new/1700000003.M3P9.mta", "Subject: late\r\n\r\nx\r\n", 0);
	for (int i = 0; i < 100 && atomic_load(&wakeups) == 0; i++)
		usleep(10000);
	test_assert(atomic_load(&wakeups) >= 1);
	test_assert(count_files("new") == 0);
	struct store_status ss;
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK && ss.messages == 4);
	/* After unregistering, nothing calls back. */
	store_mailbox_watch(mb, NULL, NULL);
	atomic_store(&wakeups, 0);
	append(u, "INBOX", "y\r\n", 0, NULL);
	test_assert(atomic_load(&wakeups) == 0);
	store_mailbox_watch(mb, watch_cb, NULL);
	store_mailbox_close(&mb);
	write_file("new/1700000004.M4P9.mta", "Subject: unwatched\r\n\r\nx\r\n", 0);
	usleep(200000);
	test_assert(count_files("new") == 1 && atomic_load(&wakeups) == 0);
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK && ss.messages == 6);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

/* --- concurrency --- */

struct thread_arg {
	struct store *st;
	uint32_t uids[50];
	bool ok;
};

static void *append_thread(void *p)
{
	struct thread_arg *t = p;
	struct store_user *u;
	t->ok = store_user_open(t->st, "alice", &u) == STORE_OK;
	for (int i = 0; i < 50 && t->ok; i++) {
		t->uids[i] = append(u, "INBOX", "Subject: c\r\n\r\nc\r\n", 0, NULL);
		t->ok = t->uids[i] != 0;
	}
	store_user_unref(&u);
	return NULL;
}

static void test_concurrent(void)
{
	test_begin("store: concurrent appends never repeat a UID");
	struct store *st = fresh_store();
	struct thread_arg t[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].st = st;
		pthread_create(&th[i], NULL, append_thread, &t[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	bool seen[201] = {false}, ok = true;
	for (int i = 0; i < 4; i++) {
		ok = ok && t[i].ok;
		for (int j = 0; j < 50 && ok; j++) {
			uint32_t uid = t[i].uids[j];
			ok = uid >= 1 && uid <= 200 && !seen[uid];
			seen[uid] = true;
			ok = ok && (j == 0 || uid > t[i].uids[j - 1]);
		}
	}
	test_assert(ok);
	struct store_user *u;
	struct store_status ss;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	test_assert(store_status(u, "INBOX", &ss) == STORE_OK);
	test_assert(ss.messages == 200 && ss.uidnext == 201);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

/* What another session does while an APPEND writes its files. */
struct reader_arg {
	struct store_user *u;
	struct store_mailbox *mb;
	struct store_status ss;
	struct fetched flagged;
	bool ok;
	atomic_bool done;
};

static void *reader_thread(void *p)
{
	struct reader_arg *r = p;
	uint32_t one = 1;
	r->ok = store_status(r->u, "INBOX", &r->ss) == STORE_OK &&
	        store_set_flags(r->mb, &one, 1, STORE_OP_ADD, STORE_FLAG_FLAGGED, NULL, 0, fetch_cb,
	                        &r->flagged) == STORE_OK &&
	        store_mailbox_sync_new(r->mb) == STORE_OK;
	atomic_store(&r->done, true);
	return NULL;
}

static void test_append_writer_lock(void)
{
	test_begin("store: an open APPEND blocks no reader; it takes their new/ pickups");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	test_assert(append(u, "INBOX", "Subject: 1\r\n\r\nx\r\n", 0, NULL) == 1);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	struct store_append *a;
	const char *body = "Subject: 2\r\n\r\ny\r\n";
	struct store_new_msg m = {.data = body, .len = strlen(body)};
	uint32_t uid = 0, uv = 0;
	test_assert(store_append_begin(u, "INBOX", &a) == STORE_OK);
	test_assert(store_append_add(a, &m, &uid) == STORE_OK && uid == 2);
	write_file("new/1700000009.M9P9.mta", "Subject: 3\r\n\r\nz\r\n", 0);
	/* STATUS, STORE and a new/ pickup by another thread finish while the
	 * APPEND is open (its files written, its commit still to come). */
	struct reader_arg r = {.u = u, .mb = mb};
	pthread_t th;
	pthread_create(&th, NULL, reader_thread, &r);
	for (int i = 0; i < 200 && !atomic_load(&r.done); i++)
		usleep(10000);
	test_assert(atomic_load(&r.done));
	test_assert(count_files("new") == 1); /* left to the writer */
	test_assert(store_append_commit(&a, &uv) == STORE_OK);
	pthread_join(th, NULL);
	test_assert(r.ok && r.ss.messages == 1 && r.ss.uidnext == 2 && r.flagged.n == 1);
	/* The writer took the delivery (UID 3) before it let go, and its
	 * message's modseq is above the STORE that ran meanwhile. */
	test_assert(count_files("new") == 0);
	struct fetched f = {0};
	uint32_t uids[] = {2, 3};
	test_assert(store_fetch(mb, uids, 2, 0, fetch_cb, &f) == STORE_OK && f.n == 2);
	test_assert(f.uid[0] == 2 && f.modseq[0] > r.flagged.modseq[0]);
	test_assert(f.uid[1] == 3 && f.modseq[1] > f.modseq[0]);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

/* --- full-text index (store_fts_search) --- */

/* Runs query q on the open mailbox; returns its hits as a bitmask of UIDs
 * (< 32), or -1 on error. */
static long fts_mask(struct store_mailbox *mb, struct store_fts_query *q,
                     struct store_fts_info *info_r)
{
	uint32_t *missing = NULL;
	size_t n_missing = 0;
	struct store_fts_info info;
	if (store_fts_search(mb, q, 1, &missing, &n_missing, &info) != STORE_OK)
		return -1;
	long mask = n_missing > 0 ? -2 : 0;
	for (size_t i = 0; i < q->n_uids && mask >= 0; i++) {
		if (i > 0 && q->uids[i] <= q->uids[i - 1])
			mask = -3; /* not ascending */
		else if (q->uids[i] < 32)
			mask |= 1L << q->uids[i];
	}
	store_fts_query_free(q, 1);
	free(missing);
	if (info_r != NULL)
		*info_r = info;
	return mask;
}

/* Runs one query of kind body_only (else TEXT). */
static long fts_hits(struct store_mailbox *mb, const char *needle, bool body_only,
                     struct store_fts_info *info_r)
{
	struct store_fts_query q = {.needle = needle,
	                            .scope = body_only ? STORE_FTS_BODY : STORE_FTS_TEXT};
	return fts_mask(mb, &q, info_r);
}

#define B(uid) (1L << (uid))

/* The number of hits of one query, or -1 on error. */
static long fts_count(struct store_mailbox *mb, const char *needle, bool body_only,
                      struct store_fts_info *info_r)
{
	struct store_fts_query q = {.needle = needle,
	                            .scope = body_only ? STORE_FTS_BODY : STORE_FTS_TEXT};
	uint32_t *missing = NULL;
	size_t n_missing = 0;
	if (store_fts_search(mb, &q, 1, &missing, &n_missing, info_r) != STORE_OK)
		return -1;
	long n = (long)q.n_uids;
	store_fts_query_free(&q, 1);
	free(missing);
	return n;
}

static void test_fts_index_query(void)
{
	test_begin("store: full-text index, catch-up and queries");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	append(u, "INBOX", "Subject: Weekly Schedule\r\n\r\nthe schedule\r\n", 0, NULL);
	append(u, "INBOX",
	       "Subject: =?UTF-8?Q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	       "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n",
	       0, NULL);
	append(u, "INBOX", "From: a@example.com\r\nTo: b@example.com\r\n\r\nnothing\r\n", 0, NULL);
	append(u, "Sent", "Subject: schedule elsewhere\r\n\r\nschedule\r\n", 0, NULL);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", true, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	struct store_fts_info fi;
	/* Folded needles, as mail_search_index_needle gives them. */
	test_assert(fts_hits(mb, "schedule", false, &fi) == B(1));
	test_assert(fi.indexed == 3 && fi.dropped == 0 && !fi.rebuilt);
	test_assert(fts_hits(mb, "weekly", true, &fi) == 0 && fi.indexed == 0);
	test_assert(fts_hits(mb, "weekly", false, NULL) == B(1));
	test_assert(fts_hits(mb, "subject: café", false, NULL) == B(2));
	test_assert(fts_hits(mb, "grüße", true, NULL) == B(2));
	/* No match across two fields (the separator between them). */
	test_assert(fts_hits(mb, "example.comto", false, NULL) == 0);
	test_assert(fts_hits(mb, "b@example.com", false, NULL) == B(3));
	/* A needle with a quote is one phrase, not query syntax. */
	test_assert(fts_hits(mb, "\"schedule", false, NULL) == 0);
	/* Catch-up: new messages, then an expunge. */
	test_assert(append(u, "INBOX", "Subject: x\r\n\r\nschedule again\r\n", 0, NULL) == 4);
	test_assert(fts_hits(mb, "schedule", true, &fi) == (B(1) | B(4)) && fi.indexed == 1);
	uint32_t one = 1, *gone = NULL;
	size_t n_gone = 0;
	test_assert(store_set_flags(mb, &one, 1, STORE_OP_ADD, STORE_FLAG_DELETED, NULL, 0, NULL,
	                            NULL) == STORE_OK);
	test_assert(store_expunge(mb, NULL, 0, &gone, &n_gone) == STORE_OK && n_gone == 1);
	free(gone);
	test_assert(fts_hits(mb, "schedule", false, &fi) == B(4));
	test_assert(fi.dropped == 1 && fi.indexed == 0);
	char path[512];
	path_of(path, sizeof(path), "roost-fts.sqlite");
	test_assert(access(path, F_OK) == 0);
	store_mailbox_close(&mb);
	test_assert(store_mailbox_open(u, "Sent", false, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	test_assert(fts_hits(mb, "schedule", true, &fi) == B(1) && fi.indexed == 1);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

/* SEARCH FROM/TO/...: one top-level field's text, not the whole header. */
static long fts_field_hits(struct store_mailbox *mb, const char *field, const char *needle)
{
	struct store_fts_query q = {.needle = needle, .scope = STORE_FTS_FIELD,
	                            .field = mail_search_field(field)};
	return fts_mask(mb, &q, NULL);
}

static void test_fts_fields(void)
{
	test_begin("store: full-text index, header fields apart (FROM, TO, CC, BCC, SUBJECT)");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	append(u, "INBOX", "From: Alice <alice@x.org>\r\nTo: bob@y.org\r\nSubject: lunch\r\n\r\n"
	       "carol wrote this\r\n", 0, NULL);
	append(u, "INBOX", "From: bob@y.org\r\nTo: alice@x.org\r\nCc: carol@z.org\r\n"
	       "Subject: =?UTF-8?Q?r=C3=A9union?=\r\n\r\nlunch\r\n", 0, NULL);
	append(u, "INBOX", "From: dave@w.org\r\nBcc: alice@x.org\r\n\r\nbye\r\n", 0, NULL);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", true, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	test_assert(fts_field_hits(mb, "From", "alice") == B(1));
	test_assert(fts_field_hits(mb, "to", "alice") == B(2));
	test_assert(fts_field_hits(mb, "BCC", "alice") == B(3));
	test_assert(fts_field_hits(mb, "cc", "carol") == B(2));
	test_assert(fts_field_hits(mb, "subject", "lunch") == B(1));
	test_assert(fts_field_hits(mb, "subject", "réunion") == B(2));
	test_assert(fts_field_hits(mb, "from", "y.org") == B(2));
	/* Whole-header and body answers are unchanged by the extra columns. */
	test_assert(fts_hits(mb, "alice", false, NULL) == (B(1) | B(2) | B(3)));
	test_assert(fts_hits(mb, "lunch", true, NULL) == B(2));
	test_assert(fts_hits(mb, "carol", true, NULL) == B(1));
	/* A field the index does not hold apart: an error, the caller scans. */
	struct store_fts_query q = {.needle = "alice", .scope = STORE_FTS_FIELD, .field = -1};
	uint32_t *missing = NULL;
	size_t n_missing = 0;
	test_assert(store_fts_search(mb, &q, 1, &missing, &n_missing, NULL) != STORE_OK);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

/* The search path answers from the index as it stands: hits as a UID
 * bitmask, *missing_r the missing UIDs as a bitmask; -1 on error. */
static long fts_indexed_hits(struct store_mailbox *mb, const char *needle, long *missing_r,
                             struct store_fts_info *fi)
{
	struct store_fts_query q = {.needle = needle};
	uint32_t *missing = NULL;
	size_t n_missing = 0;
	if (store_fts_search_indexed(mb, &q, 1, &missing, &n_missing, fi) != STORE_OK)
		return -1;
	long mask = 0;
	for (size_t i = 0; i < q.n_uids; i++)
		mask |= q.uids[i] < 32 ? 1L << q.uids[i] : 0;
	*missing_r = 0;
	for (size_t i = 0; i < n_missing; i++)
		*missing_r |= missing[i] < 32 ? 1L << missing[i] : 0;
	store_fts_query_free(&q, 1);
	free(missing);
	return fi->indexed == 0 ? mask : -4; /* it never indexes */
}

static void test_fts_indexed_path(void)
{
	test_begin("store: full-text index, the search path never indexes: missing and claims");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	append(u, "INBOX", "Subject: one\r\n\r\nthe schedule\r\n", 0, NULL);
	append(u, "INBOX", "Subject: two\r\n\r\nnothing here\r\n", 0, NULL);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", true, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	struct store_fts_info fi;
	long missing = 0;
	/* Nothing indexed: all missing; the first caller is asked to queue
	 * the indexing, the next one is not. */
	test_assert(fts_indexed_hits(mb, "schedule", &missing, &fi) == 0 && missing == (B(1) | B(2)));
	test_assert(fi.deferred == 2 && fi.index_later);
	test_assert(fts_indexed_hits(mb, "schedule", &missing, &fi) == 0 && !fi.index_later);
	/* The background call indexes all and releases the claim. */
	uint32_t *gone = NULL;
	size_t n_gone = 0;
	test_assert(store_fts_search(mb, NULL, 0, &gone, &n_gone, &fi) == STORE_OK);
	test_assert(fi.indexed == 2 && fi.deferred == 0 && n_gone == 0);
	test_assert(fts_indexed_hits(mb, "schedule", &missing, &fi) == B(1) && missing == 0);
	test_assert(fi.deferred == 0 && !fi.index_later);
	test_assert(fts_indexed_hits(mb, "nothing", &missing, &fi) == B(2) && missing == 0);
	/* A delivery is missing until indexed; an expunged message stops
	 * matching at once. */
	test_assert(append(u, "INBOX", "Subject: 3\r\n\r\nschedule\r\n", 0, NULL) == 3);
	test_assert(fts_indexed_hits(mb, "schedule", &missing, &fi) == B(1) && missing == B(3));
	test_assert(fi.index_later);
	uint32_t one = 1;
	test_assert(store_set_flags(mb, &one, 1, STORE_OP_ADD, STORE_FLAG_DELETED, NULL, 0, NULL,
	                            NULL) == STORE_OK);
	test_assert(store_expunge(mb, NULL, 0, &gone, &n_gone) == STORE_OK && n_gone == 1);
	free(gone);
	test_assert(fts_indexed_hits(mb, "schedule", &missing, &fi) == 0 && missing == B(3));
	test_assert(fts_hits(mb, "schedule", false, &fi) == B(3) && fi.indexed == 1);
	test_assert(fi.dropped == 1);
	test_assert(fts_indexed_hits(mb, "schedule", &missing, &fi) == B(3) && missing == 0);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

/* Appends n copies of data in one transaction. */
static bool append_many(struct store_user *u, const char *data, size_t n)
{
	struct store_append *a;
	if (store_append_begin(u, "INBOX", &a) != STORE_OK)
		return false;
	struct store_new_msg m = {.data = data, .len = strlen(data), .internaldate = -1};
	for (size_t i = 0; i < n; i++) {
		uint32_t uid;
		if (store_append_add(a, &m, &uid) != STORE_OK) {
			store_append_abort(&a);
			return false;
		}
	}
	uint32_t uv;
	return store_append_commit(&a, &uv) == STORE_OK;
}

/* Records the UIDs a store_fetch gave, stopping after `stop_after`. */
struct fetch_uids {
	uint32_t got[64];
	size_t n, stop_after;
};

static int fetch_uids_cb(void *ctx, const struct store_msg *m)
{
	struct fetch_uids *f = ctx;
	if (f->n < 64)
		f->got[f->n] = m->uid;
	f->n++;
	return f->n == f->stop_after;
}

static void test_fetch_dense(void)
{
	test_begin("store: fetch of a dense UID list (one range scan) skips the rest");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	test_assert(append_many(u, "Subject: d\r\n\r\nd\r\n", 40));
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	uint32_t gone[] = {5, 6, 20};
	uint32_t *ex = NULL;
	size_t n_ex = 0;
	test_assert(store_set_flags(mb, gone, 3, STORE_OP_ADD, STORE_FLAG_DELETED, NULL, 0, NULL,
	                            NULL) == STORE_OK);
	test_assert(store_expunge(mb, NULL, 0, &ex, &n_ex) == STORE_OK && n_ex == 3);
	free(ex);
	/* 3..38 but 10 and 11, 20 expunged, 41 and 42 never existed. */
	uint32_t want[40], ask[48];
	size_t n_ask = 0, n_want = 0;
	for (uint32_t uid = 3; uid <= 42; uid++) {
		if (uid == 10 || uid == 11 || (uid > 38 && uid < 41))
			continue;
		ask[n_ask++] = uid;
		if (uid != 5 && uid != 6 && uid != 20 && uid <= 40)
			want[n_want++] = uid;
	}
	struct fetch_uids f = {0};
	test_assert(store_fetch(mb, ask, n_ask, 0, fetch_uids_cb, &f) == STORE_OK);
	test_assert(f.n == n_want && memcmp(f.got, want, n_want * sizeof(*want)) == 0);
	/* The callback stops it. */
	struct fetch_uids g = {.stop_after = 4};
	test_assert(store_fetch(mb, ask, n_ask, 0, fetch_uids_cb, &g) == STORE_OK);
	test_assert(g.n == 4 && memcmp(g.got, want, 4 * sizeof(*want)) == 0);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

static void test_fts_garbage_rebuild(void)
{
	test_begin("store: full-text index garbage, rebuild, damaged file");
	struct store *st = fresh_store();
	struct store_user *u;
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	test_assert(append_many(u, "Subject: bulk\r\n\r\nbulk needle\r\n", 1100));
	test_assert(append(u, "INBOX", "Subject: keep\r\n\r\nkeeper text\r\n", 0, NULL) == 1101);
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", true, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	struct store_fts_info fi;
	test_assert(fts_count(mb, "keeper", true, &fi) == 1 && fi.indexed == 1101);
	test_assert(fts_count(mb, "bulk needle", true, &fi) == 1100 && fi.indexed == 0);
	uint32_t *bulk = xmalloc(1100 * sizeof(*bulk)), *gone = NULL;
	for (uint32_t i = 0; i < 1100; i++)
		bulk[i] = i + 1;
	size_t n_gone = 0;
	test_assert(store_set_flags(mb, bulk, 1100, STORE_OP_ADD, STORE_FLAG_DELETED, NULL, 0, NULL,
	                            NULL) == STORE_OK);
	test_assert(store_expunge(mb, NULL, 0, &gone, &n_gone) == STORE_OK && n_gone == 1100);
	free(gone);
	free(bulk);
	/* 1100 garbage rows > 1000 and > 1 live: the index starts anew. */
	struct store_fts_query q = {.needle = "keeper", .scope = STORE_FTS_BODY};
	uint32_t *missing = NULL;
	size_t n_missing = 0;
	test_assert(store_fts_search(mb, &q, 1, &missing, &n_missing, &fi) == STORE_OK);
	test_assert(fi.rebuilt && fi.dropped == 1100 && fi.indexed == 1 && n_missing == 0);
	test_assert(q.n_uids == 1 && q.uids[0] == 1101);
	store_fts_query_free(&q, 1);
	test_assert(fts_count(mb, "bulk needle", true, &fi) == 0 && fi.indexed == 0);
	store_mailbox_close(&mb);
	/* A damaged cache file is replaced on the next open. */
	store_user_unref(&u);
	char path[512];
	path_of(path, sizeof(path), "roost-fts.sqlite");
	unlink(path);
	write_file("roost-fts.sqlite", "this is not a database, only some text to read",
	           time(NULL));
	test_assert(store_user_open(st, "alice", &u) == STORE_OK);
	test_assert(store_mailbox_open(u, "INBOX", true, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	test_assert(fts_count(mb, "keeper", true, &fi) == 1 && fi.indexed == 1);
	test_assert(fts_count(mb, "eeper tex", true, &fi) == 1 && fi.indexed == 0);
	test_assert(fts_count(mb, "keeper  text", true, &fi) == 0);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

/* Whether this process has user's index open (a descriptor on it). */
static bool index_open(const char *user)
{
	char want[PATH_MAX], link[PATH_MAX], path[PATH_MAX];
	snprintf(want, sizeof(want), "%s/%s/index.sqlite", root, user);
	DIR *d = opendir("/proc/self/fd");
	bool found = false;
	for (struct dirent *e; d != NULL && !found && (e = readdir(d)) != NULL;) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = strcmp(link, want) == 0;
		}
	}
	if (d != NULL)
		closedir(d);
	return found;
}

static bool open_release(struct store *st, const char *user)
{
	struct store_user *u = NULL;
	if (store_user_open(st, user, &u) != STORE_OK)
		return false;
	store_user_unref(&u);
	return true;
}

static void test_fts_catch_up_budget(void)
{
	test_begin("store: full-text catch-up stops after its time budget, later calls go on");
	struct store_settings set = {.backend = "maildir", .mail_root = root, .fsync = false,
				     .fts_catch_up_ms = 1};
	const char *err = NULL;
	struct store *st = store_open(&set, &err);
	struct store_user *u = NULL;
	test_assert(st != NULL && store_user_open(st, "budget", &u) == STORE_OK);
	test_assert(append_many(u, "Subject: s\r\n\r\na needle in a haystack\r\n", 700));
	struct store_mailbox *mb;
	struct store_mailbox_info info;
	test_assert(store_mailbox_open(u, "INBOX", false, &mb, &info) == STORE_OK);
	store_mailbox_info_free(&info);
	size_t total_indexed = 0, rounds = 0, deferred_first = 0;
	for (;;) {
		struct store_fts_query q = {.needle = "needle", .scope = STORE_FTS_BODY};
		uint32_t *missing = NULL;
		size_t n_missing = 0;
		struct store_fts_info fi;
		test_assert(store_fts_search(mb, &q, 1, &missing, &n_missing, &fi) == STORE_OK);
		total_indexed += fi.indexed;
		/* Every message is either answered by the index or left to the
		 * caller's scan, never both, never neither. */
		test_assert(q.n_uids + n_missing == 700 && n_missing == fi.deferred);
		test_assert(q.n_uids == total_indexed);
		if (rounds++ == 0)
			deferred_first = fi.deferred;
		store_fts_query_free(&q, 1);
		free(missing);
		if (fi.deferred == 0 || rounds > 20)
			break;
	}
	test_assert(deferred_first > 0 && rounds > 1 && total_indexed == 700);
	store_mailbox_close(&mb);
	store_user_unref(&u);
	store_close(&st);
	test_end();
}

static void test_linger(void)
{
	test_begin("store: released users linger (time and count bounded)");
	struct store_settings set = {.backend = "maildir", .mail_root = root, .fsync = false,
				     .linger_ms = 60000, .linger_users = 1};
	const char *err = NULL;
	struct store *st = store_open(&set, &err);
	test_assert(st != NULL);
	/* Released, lin1 stays open; a second one is over linger_users = 1,
	 * so the longest unused (lin1) is closed. */
	test_assert(open_release(st, "lin1"));
	test_assert(index_open("lin1"));
	test_assert(open_release(st, "lin2"));
	test_assert(!index_open("lin1") && index_open("lin2"));
	store_close(&st);
	test_assert(!index_open("lin2")); /* store_close closes lingering users */

	/* Expiry: a release after linger_ms closes the expired ones. */
	set.linger_ms = 1;
	set.linger_users = 10;
	st = store_open(&set, &err);
	test_assert(open_release(st, "lin1"));
	test_assert(index_open("lin1"));
	struct timespec ts = {0, 5 * 1000000L};
	nanosleep(&ts, NULL);
	test_assert(open_release(st, "lin2"));
	test_assert(!index_open("lin1"));
	store_close(&st);
	/* linger 0: closed at once. */
	set.linger_ms = 0;
	st = store_open(&set, &err);
	test_assert(open_release(st, "lin1"));
	test_assert(!index_open("lin1"));
	store_close(&st);
	test_end();
}

int main(void)
{
	test_names();
	test_users();
	test_backends();
	test_defaults_and_list();
	test_delete_rename();
	test_append_fetch();
	test_flags_changes_expunge();
	test_status_recent();
	test_copy_move();
	test_quota();
	test_recovery();
	test_rebuild();
	test_new_and_watch();
	test_concurrent();
	test_append_writer_lock();
	test_fts_index_query();
	test_fts_indexed_path();
	test_fts_fields();
	test_fetch_dense();
	test_fts_garbage_rebuild();
	test_fts_catch_up_budget();
	test_linger();
	if (root[0] != '\0')
		rm_rf(root);
	return test_done();
}
