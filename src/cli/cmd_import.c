/* cmd_import: `roost import-maildir --user USER [-c FILE] PATH` moves a
 * Dovecot Maildir++ tree into USER's store so that mail clients keep their
 * caches: every mailbox keeps its UIDVALIDITY and every message its UID
 * (from dovecot-uidlist), UIDNEXT is at least Dovecot's, flags and
 * keywords come from the ":2,<info>" suffixes and dovecot-keywords, the
 * internal date from the file's mtime (what Dovecot uses), and the
 * subscriptions file replaces the user's subscriptions. Files that
 * dovecot-uidlist does not list get new UIDs from Dovecot's next UID on,
 * in delivery (name) order, as Dovecot itself would give them.
 *
 * Folders: PATH itself is INBOX; ".a.b" directories (Maildir++, Dovecot's
 * default layout) are "a/b", and plain directories holding cur/ (LAYOUT=fs)
 * are their relative path. Names are modified UTF-7 on disk and UTF-8 in
 * the store. The Dovecot tree is only read: messages are copied (with CRLF
 * line ends, as Dovecot serves them), so it stays intact.
 *
 * The store's per-user lock works within one process only, and a running
 * server keeps mailbox state in memory; so the import refuses to run while
 * the server answers on its control socket. It also refuses a target
 * mailbox that already holds messages (their UIDs would clash); a new
 * user's empty special-use mailboxes (Sent, Drafts, ...) take the imported
 * ones' UIDVALIDITY. Exit status: 0 all imported, 1 something failed (the
 * other folders are still imported), 2 usage. */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "auth/passdb.h"
#include "cli/import_dovecot.h"
#include "imap/mboxname.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store.h"

/* Largest file read as one message; beyond it a file is not mail. */
#define CMD_IMPORT_MAX_MSG ((off_t)1 << 31)

struct cmd_import_folder {
	char *name; /* store name (UTF-8) */
	char *path; /* the Maildir directory holding cur/ new/ */
};

struct cmd_import_file {
	uint32_t uid; /* 0 until assigned */
	char *path;
	char *name;
};

struct cmd_import {
	const char *user;
	struct store_user *u;
	struct cmd_import_folder *folders;
	size_t n_folders;
	int status;
};

static int cmd_import_usage(const char *msg)
{
	fprintf(stderr,
	        "roost: %s\n"
	        "usage: roost import-maildir --user USER [-c FILE] [-o key=value]... PATH\n",
	        msg);
	return 2;
}

static char *cmd_import_join(const char *a, const char *b)
{
	size_t len = strlen(a) + strlen(b) + 2;
	char *p = xmalloc(len);
	snprintf(p, len, "%s/%s", a, b);
	return p;
}

/* Reads a whole small file (metadata); NULL when it does not exist. */
static char *cmd_import_slurp(const char *dir, const char *file, size_t *len_r)
{
	char *path = cmd_import_join(dir, file);
	FILE *f = fopen(path, "re");
	free(path);
	*len_r = 0;
	if (f == NULL)
		return NULL;
	struct buf b = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*len_r = b.len;
	return b.data != NULL ? b.data : xstrdup("");
}

static bool cmd_import_is_dir(const char *dir, const char *sub)
{
	char *p = sub != NULL ? cmd_import_join(dir, sub) : xstrdup(dir);
	struct stat st;
	bool ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return ok;
}

/* Converts Dovecot's on-disk name (modified UTF-7, '/' between levels) to
 * a store name; NULL when it is not a valid one. */
static char *cmd_import_store_name(const char *raw)
{
	struct buf b = {0};
	char *name = NULL;
	if (strcasecmp(raw, "INBOX") == 0)
		return xstrdup("INBOX");
	if (mutf7_to_utf8(raw, strlen(raw), &b) == 0 && store_name_valid(buf_rdata(&b)))
		name = xstrdup(buf_rdata(&b));
	buf_release(&b);
	return name;
}

static void cmd_import_folder_add(struct cmd_import *im, const char *raw, const char *path)
{
	char *name = cmd_import_store_name(raw);
	if (name == NULL) {
		fprintf(stderr, "roost: skipping folder %s: not a valid mailbox name\n", path);
		im->status = 1;
		return;
	}
	im->folders = xrealloc(im->folders, (im->n_folders + 1) * sizeof(*im->folders));
	im->folders[im->n_folders].name = name;
	im->folders[im->n_folders].path = xstrdup(path);
	im->n_folders++;
}

/* LAYOUT=fs: every directory below root (but cur/ new/ tmp/ and dot
 * names) that holds cur/ is a folder named by its relative path. */
static void cmd_import_scan_fs(struct cmd_import *im, const char *dir, const char *prefix,
                               int depth)
{
	DIR *d = depth < STORE_DEPTH_MAX ? opendir(dir) : NULL;
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (n[0] == '.' || strcmp(n, "cur") == 0 || strcmp(n, "new") == 0 ||
		    strcmp(n, "tmp") == 0 || !cmd_import_is_dir(dir, n))
			continue;
		char *path = cmd_import_join(dir, n);
		char *name = prefix != NULL ? cmd_import_join(prefix, n) : xstrdup(n);
		if (cmd_import_is_dir(path, "cur"))
			cmd_import_folder_add(im, name, path);
		cmd_import_scan_fs(im, path, name, depth + 1);
		free(name);
		free(path);
	}
	if (d != NULL)
		closedir(d);
}

static int cmd_import_folder_cmp(const void *a, const void *b)
{
	const struct cmd_import_folder *x = a, *y = b;
	/* INBOX first, then by name: parents before children. */
	bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* PATH itself (INBOX), its Maildir++ ".a.b" folders, and LAYOUT=fs ones. */
static void cmd_import_scan(struct cmd_import *im, const char *root)
{
	cmd_import_folder_add(im, "INBOX", root);
	DIR *d = opendir(root);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		char *raw = import_dovecot_dir_name(de->d_name);
		if (raw != NULL && cmd_import_is_dir(root, de->d_name)) {
			char *path = cmd_import_join(root, de->d_name);
			if (cmd_import_is_dir(path, "cur"))
				cmd_import_folder_add(im, raw, path);
			free(path);
		}
		free(raw);
	}
	if (d != NULL)
		closedir(d);
	cmd_import_scan_fs(im, root, NULL, 0);
	qsort(im->folders, im->n_folders, sizeof(*im->folders), cmd_import_folder_cmp);
}

/* --- one folder --- */

struct cmd_import_box {
	struct import_dovecot_uidlist uidlist;
	char *keywords[IMPORT_DOVECOT_KEYWORDS];
	struct cmd_import_file *files;
	size_t n;
	uint32_t uidnext;
};

static void cmd_import_box_free(struct cmd_import_box *b)
{
	import_dovecot_uidlist_free(&b->uidlist);
	import_dovecot_keywords_free(b->keywords);
	for (size_t i = 0; i < b->n; i++) {
		free(b->files[i].path);
		free(b->files[i].name);
	}
	free(b->files);
}

/* Message files of dir/sub (Maildir: names starting with '.' are not mail). */
static void cmd_import_list(struct cmd_import_box *b, const char *dir, const char *sub)
{
	char *path = cmd_import_join(dir, sub);
	DIR *d = opendir(path);
	struct dirent *de;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		b->files = xrealloc(b->files, (b->n + 1) * sizeof(*b->files));
		struct cmd_import_file *f = &b->files[b->n++];
		f->path = cmd_import_join(path, de->d_name);
		f->name = xstrdup(de->d_name);
		f->uid = import_dovecot_uidlist_find(&b->uidlist, de->d_name);
	}
	if (d != NULL)
		closedir(d);
	free(path);
}

/* Listed files by UID, then the others in delivery order (Maildir names
 * begin with the delivery time; a natural comparison orders M9 < M10). */
static int cmd_import_file_cmp(const void *a, const void *b)
{
	const struct cmd_import_file *x = a, *y = b;
	if (x->uid != y->uid) {
		if (x->uid == 0 || y->uid == 0)
			return x->uid == 0 ? 1 : -1;
		return x->uid < y->uid ? -1 : 1;
	}
	return strverscmp(x->name, y->name);
}

/* Reads the folder's metadata and files and gives every file its UID. */
static int cmd_import_box_load(struct cmd_import_box *b, const struct cmd_import_folder *f)
{
	memset(b, 0, sizeof(*b));
	size_t len;
	char *data = cmd_import_slurp(f->path, "dovecot-uidlist", &len);
	const char *error = NULL;
	int ret = data != NULL ? import_dovecot_uidlist_parse(data, len, &b->uidlist, &error) : 0;
	free(data);
	if (ret < 0) {
		fprintf(stderr, "roost: %s/dovecot-uidlist: %s\n", f->path, error);
		return -1;
	}
	data = cmd_import_slurp(f->path, "dovecot-keywords", &len);
	import_dovecot_keywords_parse(data != NULL ? data : "", len, b->keywords);
	free(data);
	cmd_import_list(b, f->path, "cur");
	cmd_import_list(b, f->path, "new");
	if (b->n > 1)
		qsort(b->files, b->n, sizeof(*b->files), cmd_import_file_cmp);
	/* The same message in new/ and cur/ (a crash mid-rename) keeps its UID
	 * once; the copy gets a new one, as Dovecot would. */
	for (size_t i = 1; i < b->n; i++)
		if (b->files[i].uid != 0 && b->files[i].uid == b->files[i - 1].uid)
			b->files[i].uid = 0;
	if (b->n > 1)
		qsort(b->files, b->n, sizeof(*b->files), cmd_import_file_cmp);
	b->uidnext = b->uidlist.nextuid > 0 ? b->uidlist.nextuid : 1;
	for (size_t i = 0; i < b->n; i++) {
		if (b->files[i].uid == 0)
			b->files[i].uid = b->uidnext++;
	}
	return 0;
}

/* Copies one message file into the import transaction. */
static enum store_err cmd_import_message(struct store_import *si, struct cmd_import_box *b,
                                         const struct cmd_import_file *f)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CMD_IMPORT_MAX_MSG) {
		fprintf(stderr, "roost: skipping %s: %s\n", f->path,
		        fd < 0 ? strerror(errno) : "not a message file");
		if (fd >= 0)
			close(fd);
		return STORE_OK;
	}
	size_t size = (size_t)st.st_size;
	void *map = size > 0 ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (map == MAP_FAILED) {
		fprintf(stderr, "roost: cannot read %s: %s\n", f->path, strerror(errno));
		return STORE_ERR_IO;
	}
	struct buf kw = {0};
	struct store_new_msg msg = {
	    .data = map != NULL ? map : "",
	    .len = size,
	    .flags = import_dovecot_info(f->name, b->keywords, &kw),
	    .internaldate = (int64_t)st.st_mtime,
	};
	msg.keywords = buf_rdata(&kw);
	enum store_err err = store_import_add(si, &msg, f->uid);
	buf_release(&kw);
	if (map != NULL)
		munmap(map, size);
	return err;
}

static int cmd_import_folder(struct cmd_import *im, const struct cmd_import_folder *f)
{
	struct cmd_import_box b;
	if (cmd_import_box_load(&b, f) < 0) {
		cmd_import_box_free(&b);
		return -1;
	}
	/* A folder Dovecot never opened has no UIDs a client could know. */
	uint32_t uidvalidity = b.uidlist.uidvalidity;
	if (uidvalidity == 0)
		uidvalidity = (uint32_t)time(NULL);
	struct store_import *si = NULL;
	enum store_err err = store_import_begin(im->u, f->name, uidvalidity, &si);
	for (size_t i = 0; i < b.n && err == STORE_OK; i++)
		err = cmd_import_message(si, &b, &b.files[i]);
	if (err == STORE_OK)
		err = store_import_commit(&si, b.uidnext);
	else
		store_import_abort(&si);
	if (err == STORE_OK)
		printf("%-30s messages=%zu uidvalidity=%u uidnext=%u\n", f->name, b.n, uidvalidity,
		       b.uidnext);
	else
		fprintf(stderr, "roost: folder %s (%s): %s%s\n", f->name, f->path,
		        store_err_text(err),
		        err == STORE_ERR_EXISTS ? " (the target mailbox must be empty)" : "");
	cmd_import_box_free(&b);
	return err == STORE_OK ? 0 : -1;
}

/* --- subscriptions --- */

static bool cmd_import_in(char **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

/* Makes the user's subscriptions those of the subscriptions file (when
 * there is one): Dovecot's set replaces roost's defaults. */
static int cmd_import_subscriptions(struct cmd_import *im, const char *root)
{
	size_t len, n_raw = 0, n = 0;
	char *data = cmd_import_slurp(root, "subscriptions", &len);
	if (data == NULL)
		return 0;
	char **raw = NULL;
	import_dovecot_subscriptions_parse(data, len, &raw, &n_raw);
	free(data);
	char **names = xcalloc(n_raw + 1, sizeof(char *));
	for (size_t i = 0; i < n_raw; i++) {
		char *name = cmd_import_store_name(raw[i]);
		if (name != NULL)
			names[n++] = name;
		else
			fprintf(stderr, "roost: skipping subscription %s: invalid name\n", raw[i]);
	}
	import_dovecot_names_free(raw, n_raw);
	struct store_mailbox_entry *list = NULL;
	size_t n_list = 0;
	enum store_err err = store_list(im->u, &list, &n_list);
	for (size_t i = 0; i < n_list && err == STORE_OK; i++)
		if ((list[i].attrs & STORE_ATTR_SUBSCRIBED) &&
		    !cmd_import_in(names, n, list[i].name))
			err = store_subscribe(im->u, list[i].name, false);
	store_list_free(list, n_list);
	for (size_t i = 0; i < n && err == STORE_OK; i++)
		err = store_subscribe(im->u, names[i], true);
	if (err == STORE_OK)
		printf("subscriptions: %zu\n", n);
	else
		fprintf(stderr, "roost: subscriptions: %s\n", store_err_text(err));
	import_dovecot_names_free(names, n);
	return err == STORE_OK ? 0 : -1;
}

/* --- checks and the command --- */

/* Whether a server answers on the control socket: it would hold mailbox
 * state in memory that the import changes underneath. */
static bool cmd_import_server_running(const struct config *cfg)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/control.sock", cfg->state_dir);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
		return false;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool up = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	if (fd >= 0)
		close(fd);
	return up;
}

static int cmd_import_check(const struct config *cfg, const char *user, const char *path)
{
	const char *error = NULL;
	struct passdb *db = passdb_load(cfg->passwd_file, &error);
	if (db == NULL) {
		fprintf(stderr, "roost: %s\n", error);
		return -1;
	}
	bool known = passdb_lookup(db, user) != NULL;
	passdb_unref(&db);
	if (!known) {
		fprintf(stderr, "roost: no user '%s' in %s (add it with `roost user add`)\n", user,
		        cfg->passwd_file);
		return -1;
	}
	if (!cmd_import_is_dir(path, "cur") && !cmd_import_is_dir(path, "new")) {
		fprintf(stderr, "roost: %s is not a Maildir (no cur/ or new/)\n", path);
		return -1;
	}
	if (cmd_import_server_running(cfg)) {
		fprintf(stderr,
		        "roost: the server is running (%s/control.sock answers); stop it "
		        "before importing\n",
		        cfg->state_dir);
		return -1;
	}
	return 0;
}

static int cmd_import_run(const struct config *cfg, const char *user, const char *path)
{
	struct store_settings set = {
	    .backend = "maildir", .mail_root = cfg->mail_root, .fsync = cfg->mail_fsync};
	const char *error = NULL;
	struct store *st = store_open(&set, &error);
	if (st == NULL) {
		fprintf(stderr, "roost: store: %s\n", error);
		return 1;
	}
	struct cmd_import im = {.user = user};
	enum store_err err = store_user_open(st, user, &im.u);
	if (err != STORE_OK) {
		fprintf(stderr, "roost: cannot open the mail of %s: %s\n", user,
		        store_err_text(err));
		store_close(&st);
		return 1;
	}
	cmd_import_scan(&im, path);
	for (size_t i = 0; i < im.n_folders; i++)
		if (cmd_import_folder(&im, &im.folders[i]) < 0)
			im.status = 1;
	if (cmd_import_subscriptions(&im, path) < 0)
		im.status = 1;
	for (size_t i = 0; i < im.n_folders; i++) {
		free(im.folders[i].name);
		free(im.folders[i].path);
	}
	free(im.folders);
	store_user_unref(&im.u);
	store_close(&st);
	return im.status;
}

/* Takes "--user U" / "--user=U" out of argv (cli_opts_parse does not know
 * it); returns the value or NULL. argv is compacted, *argc updated. */
static const char *cmd_import_take_user(int *argc, char **argv, bool *dup_r)
{
	const char *user = NULL;
	int w = 0;
	*dup_r = false;
	for (int i = 0; i < *argc; i++) {
		const char *v = NULL;
		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[w++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--user") == 0 && i + 1 < *argc)
			v = argv[++i];
		else if (strncmp(argv[i], "--user=", 7) == 0)
			v = argv[i] + 7;
		if (v == NULL) {
			argv[w++] = argv[i];
			continue;
		}
		*dup_r = *dup_r || user != NULL;
		user = v;
	}
	*argc = w;
	return user;
}

/* 0 when the arguments make sense, else the usage status 2. */
static int cmd_import_args(const char *user, bool dup, const struct cli_opts *opts)
{
	if (user == NULL || user[0] == '\0')
		return cmd_import_usage("missing --user USER");
	if (dup)
		return cmd_import_usage("--user given more than once");
	if (opts->n_positional != 1)
		return cmd_import_usage(opts->n_positional == 0 ? "missing PATH"
		                                                : "too many arguments");
	if (!passdb_user_name_valid(user))
		return cmd_import_usage("invalid user name");
	return 0;
}

int cli_import_maildir(int argc, char **argv)
{
	bool dup = false;
	const char *user = cmd_import_take_user(&argc, argv, &dup);
	struct cli_opts opts;
	if (cli_opts_parse(argc, argv, &opts) < 0)
		return 2;
	int status = cmd_import_args(user, dup, &opts);
	struct config cfg;
	if (status == 0) {
		status = 1;
		if (cli_load_config(&opts, &cfg) == 0) {
			if (cmd_import_check(&cfg, user, opts.positional[0]) == 0)
				status = cmd_import_run(&cfg, user, opts.positional[0]);
			config_free(&cfg);
		}
	}
	cli_opts_free(&opts);
	return status;
}
