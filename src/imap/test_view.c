/* Unit tests for view.c against a fake store and a reference client.
 *
 * The store, session and response functions view.c calls are replaced
 * here by small fakes: the store is an array of messages with modseqs and
 * expunge marks; responses go into one output buffer. A random run of
 * appends, flag changes and expunges, synced with and without permission
 * to send EXPUNGE, is checked against a model of what a client knows:
 * applying the untagged responses to the client's sequence-number list
 * must always give the store's UIDs in order (after a sync that may
 * expunge), and never an EXPUNGE when not allowed. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "imap/mboxname.h"
#include "imap/resp.h"
#include "imap/session.h"
#include "imap/view.h"
#include "lib/test.h"
#include "lib/xalloc.h"

TEST_STATE_DEFINE;

/* --- fake store --- */

struct fake_msg {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	bool expunged;
};

static struct fake_msg fake_msgs[4096];
static size_t fake_n;
static uint64_t fake_modseq;
static uint32_t fake_uidnext = 1;
static store_watch_fn *fake_watch_fn;
static void *fake_watch_ctx;
static int fake_mb_token;

static void fake_reset(void)
{
	fake_n = 0;
	fake_modseq = 1;
	fake_uidnext = 1;
}

static uint32_t fake_append(uint32_t flags)
{
	struct fake_msg *m = &fake_msgs[fake_n++];
	m->uid = fake_uidnext++;
	m->flags = flags;
	m->modseq = ++fake_modseq;
	m->expunged = false;
	return m->uid;
}

static struct fake_msg *fake_find(uint32_t uid)
{
	for (size_t i = 0; i < fake_n; i++) {
		if (fake_msgs[i].uid == uid && !fake_msgs[i].expunged)
			return &fake_msgs[i];
	}
	return NULL;
}

const char *store_err_text(enum store_err err)
{
	return err == STORE_OK ? "ok" : "error";
}

enum store_err store_mailbox_open(struct store_user *u, const char *name, bool claim_recent,
				  struct store_mailbox **mb_r, struct store_mailbox_info *info_r)
{
	*mb_r = (struct store_mailbox *)&fake_mb_token;
	memset(info_r, 0, sizeof(*info_r));
	info_r->uidvalidity = 42;
	info_r->uidnext = fake_uidnext;
	info_r->highestmodseq = fake_modseq;
	info_r->recent_uid = UINT32_MAX;
	info_r->keywords = xstrdup("");
	return STORE_OK;
}

void store_mailbox_close(struct store_mailbox **mb)
{
	*mb = NULL;
}

void store_mailbox_info_free(struct store_mailbox_info *info)
{
	free(info->keywords);
}

enum store_err store_mailbox_uids(struct store_mailbox *mb, uint32_t **uids_r, size_t *n_r)
{
	uint32_t *out = xcalloc(fake_n + 1, sizeof(*out));
	size_t n = 0;
	for (size_t i = 0; i < fake_n; i++) {
		if (!fake_msgs[i].expunged)
			out[n++] = fake_msgs[i].uid;
	}
	*uids_r = out;
	*n_r = n;
	return STORE_OK;
}

enum store_err store_fetch(struct store_mailbox *mb, const uint32_t *uids, size_t n,
			   unsigned fields, store_msg_fn *fn, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		struct fake_msg *m = fake_find(uids[i]);
		if (m == NULL)
			continue;
		struct store_msg msg = {.uid = m->uid, .flags = m->flags, .keywords = "",
					.modseq = m->modseq};
		if (fn(ctx, &msg) != 0)
			break;
	}
	return STORE_OK;
}

enum store_err store_changes(struct store_mailbox *mb, uint64_t since, uint32_t below_uid,
			     store_change_fn *fn, void *ctx, uint64_t *highest_r)
{
	for (size_t i = 0; i < fake_n; i++) {
		const struct fake_msg *m = &fake_msgs[i];
		if (m->modseq <= since || (m->expunged && m->uid >= below_uid))
			continue;
		struct store_change c = {.uid = m->uid, .modseq = m->modseq,
					 .expunged = m->expunged, .flags = m->flags,
					 .keywords = m->flags & STORE_FLAG_FLAGGED ? "$Hot" : ""};
		fn(ctx, &c);
	}
	*highest_r = fake_modseq;
	return STORE_OK;
}

uint64_t store_mailbox_highestmodseq(struct store_mailbox *mb)
{
	return fake_modseq;
}

void store_mailbox_watch(struct store_mailbox *mb, store_watch_fn *fn, void *ctx)
{
	fake_watch_fn = fn;
	fake_watch_ctx = ctx;
}

/* --- fake session, loop and responses --- */

static struct buf out;
static loop_fn *posted_fn;
static void *posted_ctx;
static int wakes;

bool session_rev2(const struct session *s)
{
	return (s->enabled & SESSION_ENABLED_IMAP4REV2) != 0;
}

void session_bye(struct session *s, const char *text, const char *reason)
{
	s->state = SESSION_LOGOUT;
}

void session_set_state(struct session *s, enum session_state state)
{
	s->state = state;
}

void session_write(struct session *s, const void *data, size_t len)
{
	buf_append(&out, data, len);
}

void resp_untagged(struct session *s, const char *fmt, ...)
{
	va_list ap;
	buf_append_str(&out, "* ");
	va_start(ap, fmt);
	buf_vprintf(&out, fmt, ap);
	va_end(ap);
	buf_append_str(&out, "\r\n");
}

void resp_status_untagged(struct session *s, enum resp_status status, enum resp_code code,
			  const char *code_arg, const char *text)
{
	buf_printf(&out, "* OK [%d %s] %s\r\n", (int)code, code_arg ? code_arg : "", text);
}

void mboxname_append(const struct session *s, struct buf *b, const char *name)
{
	buf_append_str(b, name);
}

struct loop *conn_loop(const struct conn *c)
{
	return NULL;
}

void loop_post(struct loop *loop, loop_fn *fn, void *ctx)
{
	posted_fn = fn;
	posted_ctx = ctx;
}

/* --- the reference client --- */

static uint32_t client[4096]; /* seq n -> client[n-1] */
static size_t client_n;

/* Applies the output to the client model. Returns the number of EXPUNGE
 * lines, or -1 when a line is inconsistent with the model. */
static int client_apply(void)
{
	int expunges = 0;
	char *line = out.data;
	while (line != NULL && *line != '\0') {
		char *end = strstr(line, "\r\n");
		*end = '\0';
		unsigned long n, uid;
		if (sscanf(line, "* %lu EXPUNGE", &n) == 1 && strstr(line, "EXPUNGE")) {
			if (n == 0 || n > client_n)
				return -1;
			memmove(&client[n - 1], &client[n], (client_n - n) * sizeof(client[0]));
			client_n--;
			expunges++;
		} else if (sscanf(line, "* %lu FETCH (UID %lu", &n, &uid) == 2) {
			if (n == 0 || n > client_n || client[n - 1] != uid)
				return -1;
		} else if (sscanf(line, "* %lu EXISTS", &n) == 1 && strstr(line, "EXISTS")) {
			/* New messages: the store's next UIDs after the client's last. */
			uint32_t last = client_n ? client[client_n - 1] : 0;
			for (size_t i = 0; i < fake_n && client_n < n; i++) {
				if (fake_msgs[i].uid > last && !fake_msgs[i].expunged)
					client[client_n++] = fake_msgs[i].uid;
			}
			if (client_n != n)
				return -1;
		}
		line = end + 2;
	}
	out.len = 0;
	if (out.data)
		out.data[0] = '\0';
	return expunges;
}

static bool client_matches_store(void)
{
	size_t j = 0;
	for (size_t i = 0; i < fake_n; i++) {
		if (fake_msgs[i].expunged)
			continue;
		if (j >= client_n || client[j] != fake_msgs[i].uid)
			return false;
		j++;
	}
	return j == client_n;
}

static struct session *new_session(void)
{
	struct session *s = xcalloc(1, sizeof(*s));
	s->state = SESSION_SELECTED;
	return s;
}

static void open_view(struct session *s)
{
	test_assert(view_open(s, "INBOX", false) == STORE_OK);
	client_n = 0;
	client_apply(); /* EXISTS of the existing messages */
}

/* --- tests --- */

static void test_resolve(void)
{
	test_begin("view: resolve sequence and UID sets");
	fake_reset();
	for (int i = 0; i < 6; i++)
		fake_append(0);
	fake_msgs[1].expunged = true; /* UIDs 1 3 4 5 6 */
	fake_modseq++;
	struct session *s = new_session();
	open_view(s);
	struct view *v = s->view;
	test_assert(v->count == 5);
	test_assert(view_seq_uid(v, 2) == 3 && view_uid_seq(v, 3) == 2 && view_uid_seq(v, 2) == 0);
	struct imap_arg arg = {.type = IMAP_ARG_ATOM};
	uint32_t *uids;
	size_t n;
	const char *err;
	struct {
		const char *set;
		bool uid;
		int rc;
		const char *want;
	} cases[] = {
		{"2:3", false, 0, "3 4"},     {"*", false, 0, "6"},     {"4:*", false, 0, "5 6"},
		{"6", false, -1, ""},         {"1,5:6", false, -1, ""}, {"0", false, -1, ""},
		{"2:4", true, 0, "3 4"},      {"7:*", true, 0, "6"},    {"50:60", true, 0, ""},
		{"1:*", true, 0, "1 3 4 5 6"}, {"x", true, -1, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		arg.str = cases[i].set;
		arg.len = strlen(cases[i].set);
		int rc = view_resolve_arg(v, &arg, cases[i].uid, &uids, &n, &err);
		char got[64] = "";
		for (size_t k = 0; k < n; k++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u", k ? " " : "",
				 (unsigned)uids[k]);
		test_assert(rc == cases[i].rc);
		if (rc == 0)
			test_assert_str(got, cases[i].want);
		free(uids);
	}
	/* "$": the saved UIDs still in the view */
	v->saved = xmalloc(3 * sizeof(uint32_t));
	v->saved[0] = 2;
	v->saved[1] = 4;
	v->saved[2] = 6;
	v->n_saved = 3;
	arg.str = "$";
	arg.len = 1;
	test_assert(view_resolve_arg(v, &arg, false, &uids, &n, &err) == 0);
	test_assert(n == 2 && uids[0] == 4 && uids[1] == 6);
	free(uids);
	view_close(s);
	free(s);
	test_end();
}

static void test_expunge_numbering(void)
{
	test_begin("view: held-back expunges, then renumbered EXPUNGEs");
	fake_reset();
	for (int i = 0; i < 6; i++)
		fake_append(0);
	struct session *s = new_session();
	open_view(s);
	fake_msgs[1].expunged = true;
	fake_msgs[1].modseq = ++fake_modseq;
	fake_msgs[2].expunged = true;
	fake_msgs[2].modseq = ++fake_modseq;
	fake_msgs[4].expunged = true;
	fake_msgs[4].modseq = ++fake_modseq;
	view_sync(s, false);
	test_assert(out.len == 0);
	test_assert(s->view->count == 6 && s->view->n_pending == 3);
	view_sync(s, true);
	test_assert_str(out.data, "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n* 3 EXPUNGE\r\n");
	test_assert(client_apply() == 3 && client_matches_store());
	view_close(s);
	free(s);
	test_end();
}

static void test_own_changes(void)
{
	test_begin("view: own STORE not announced twice, others' are");
	fake_reset();
	fake_append(0);
	fake_append(0);
	struct session *s = new_session();
	open_view(s);
	fake_msgs[0].flags = STORE_FLAG_SEEN;
	fake_msgs[0].modseq = ++fake_modseq;
	view_note_own(s->view, 1, fake_msgs[0].modseq);
	fake_msgs[1].flags = STORE_FLAG_FLAGGED;
	fake_msgs[1].modseq = ++fake_modseq;
	view_sync(s, true);
	/* a new keyword: FLAGS first, then the FETCH */
	const char *flags = strstr(out.data, "* FLAGS (");
	const char *fetch = strstr(out.data, "* 2 FETCH (UID 2 FLAGS (\\Flagged $Hot))");
	test_assert(flags != NULL && fetch != NULL && flags < fetch);
	test_assert(strstr(out.data, "* 1 FETCH") == NULL);
	test_assert(client_apply() == 0);
	view_close(s);
	free(s);
	test_end();
}

static void test_random_model(void)
{
	test_begin("view: random changes against the reference client");
	srand(7);
	fake_reset();
	for (int i = 0; i < 20; i++)
		fake_append(0);
	struct session *s = new_session();
	open_view(s);
	bool ok = true;
	for (int step = 0; step < 3000 && ok && fake_n < 4000; step++) {
		int op = rand() % 10;
		if (op < 3) {
			fake_append((uint32_t)rand() & STORE_FLAGS_ALL);
		} else if (op < 6 && fake_n > 0) {
			struct fake_msg *m = &fake_msgs[(size_t)rand() % fake_n];
			if (!m->expunged) {
				m->flags = (uint32_t)rand() & STORE_FLAGS_ALL;
				m->modseq = ++fake_modseq;
			}
		} else if (op < 8 && fake_n > 0) {
			struct fake_msg *m = &fake_msgs[(size_t)rand() % fake_n];
			if (!m->expunged) {
				m->expunged = true;
				m->modseq = ++fake_modseq;
			}
		} else {
			bool allow = rand() % 2;
			view_sync(s, allow);
			int ex = client_apply();
			if (ex < 0 || (!allow && ex > 0) || (allow && !client_matches_store()))
				ok = false;
			if (client_n != s->view->count)
				ok = false;
		}
	}
	test_assert(ok);
	view_close(s);
	free(s);
	test_end();
}

static void wake_fn(struct session *s)
{
	wakes++;
}

static void test_watch(void)
{
	test_begin("view: wake-ups coalesce and stop after unwatch");
	fake_reset();
	fake_append(0);
	struct session *s = new_session();
	open_view(s);
	view_watch(s, wake_fn);
	test_assert(fake_watch_fn != NULL);
	store_watch_fn *notify = fake_watch_fn;
	void *ctx = fake_watch_ctx;
	posted_fn = NULL;
	notify(ctx);
	loop_fn *fn = posted_fn;
	posted_fn = NULL;
	notify(ctx); /* coalesced: nothing posted */
	test_assert(fn != NULL && posted_fn == NULL);
	fn(ctx);
	test_assert(wakes == 1);
	notify(ctx);
	fn = posted_fn;
	view_watch(s, NULL); /* a post still queued finds the waker detached */
	test_assert(fake_watch_fn == NULL);
	fn(ctx);
	test_assert(wakes == 1);
	view_close(s);
	free(s);
	test_end();
}

static void test_flags_parse(void)
{
	test_begin("view: flag parsing");
	struct imap_arg a[3] = {{.type = IMAP_ARG_ATOM}, {.type = IMAP_ARG_ATOM},
				{.type = IMAP_ARG_ATOM}};
	const char *ok_sets[][3] = {{"\\SEEN", "$Label", "$label"}, {"\\Draft", "a.b", "x-y_z"}};
	const char *bad[] = {"\\Recent", "\\Foo", "a]b", "a%b", "a*b", "a\\b", "a\"b", "a{b"};
	uint32_t flags;
	const char *err;
	struct buf kw = {0};
	for (size_t i = 0; i < 2; i++) {
		for (int k = 0; k < 3; k++) {
			a[k].str = ok_sets[i][k];
			a[k].len = strlen(ok_sets[i][k]);
		}
		kw.len = 0;
		test_assert(view_parse_flags(a, 3, &flags, &kw, &err) == 0);
	}
	test_assert(flags == STORE_FLAG_DRAFT);
	test_assert_str(kw.data, "a.b x-y_z");
	kw.len = 0;
	a[0].str = "\\SEEN";
	a[0].len = 5;
	a[1].str = "$Label";
	a[1].len = 6;
	a[2].str = "$label";
	a[2].len = 6;
	test_assert(view_parse_flags(a, 3, &flags, &kw, &err) == 0);
	test_assert(flags == STORE_FLAG_SEEN);
	test_assert_str(kw.data, "$Label");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a[0].str = bad[i];
		a[0].len = strlen(bad[i]);
		test_assert(view_parse_flags(a, 1, &flags, &kw, &err) < 0);
	}
	a[0].type = IMAP_ARG_QUOTED;
	a[0].str = "x";
	a[0].len = 1;
	test_assert(view_parse_flags(a, 1, &flags, &kw, &err) < 0);
	buf_release(&kw);
	test_end();
}

int main(void)
{
	test_resolve();
	test_expunge_numbering();
	test_own_changes();
	test_random_model();
	test_watch();
	test_flags_parse();
	buf_release(&out);
	return test_done();
}
