/* Tests for passdb.c: loading (lookups, comments, extra fields, errors
 * with their line numbers), reference counting, and the atomic editor
 * (content, mode, symlinks, no temporary files left behind). Each test
 * works in its own fresh directory under $TMPDIR. */
#include "auth/passdb.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/password.h"
#include "lib/test.h"

TEST_STATE_DEFINE;

static char dir[256];
static char path[300];

static void fresh_dir(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/roost-passdb-XXXXXX", t != NULL ? t : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/passwd", dir);
}

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[600];
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static void write_file(const char *p, const char *content, mode_t mode)
{
	FILE *f = fopen(p, "w");
	if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0) {
		perror(p);
		exit(1);
	}
	chmod(p, mode);
}

/* Whole file into a static buffer ("" when missing). */
static const char *read_back(const char *p)
{
	static char data[65536];
	FILE *f = fopen(p, "r");
	size_t n = 0;
	if (f != NULL) {
		n = fread(data, 1, sizeof(data) - 1, f);
		fclose(f);
	}
	data[n] = '\0';
	return data;
}

static int count_dir_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	}
	if (d != NULL)
		closedir(d);
	return n;
}

static mode_t file_mode(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? st.st_mode & 07777 : 0;
}

static const char sample[] = "# roost users\n"
                             "\n"
                             "alice:{PLAIN}wonderland\n"
                             "   # indented comment\n"
                             "bob:{SHA512-CRYPT}$6$x$y:1000:1000::/home/bob::userdb_quota=1G\n"
                             "\t\n"
                             "carol@example.org:{PLAIN}c\n"
                             "d\xc3\xa9sir\xc3\xa9:{CLEAR}x:\n"
                             "nohash:\n"
                             "last:{PLAIN}no newline";

static void test_load(void)
{
	const char *error = NULL;
	fresh_dir();
	write_file(path, sample, 0600);
	struct passdb *db = passdb_load(path, &error);

	test_begin("passdb: load and look up");
	test_assert(db != NULL);
	if (db != NULL) {
		test_assert(passdb_count(db) == 6);
		test_assert_str(passdb_lookup(db, "alice"), "{PLAIN}wonderland");
		test_assert_str(passdb_lookup(db, "bob"), "{SHA512-CRYPT}$6$x$y");
		test_assert_str(passdb_lookup(db, "carol@example.org"), "{PLAIN}c");
		test_assert_str(passdb_lookup(db, "d\xc3\xa9sir\xc3\xa9"), "{CLEAR}x");
		test_assert_str(passdb_lookup(db, "nohash"), "");
		test_assert_str(passdb_lookup(db, "last"), "{PLAIN}no newline");
		test_assert(passdb_lookup(db, "Alice") == NULL);
		test_assert(passdb_lookup(db, "alic") == NULL);
		test_assert(passdb_lookup(db, "") == NULL);
		test_assert(passdb_lookup(db, "# roost users") == NULL);
	}
	test_end();

	test_begin("passdb: reference counting");
	struct passdb *db2 = db;
	passdb_ref(db2);
	passdb_unref(&db);
	test_assert(db == NULL);
	test_assert_str(passdb_lookup(db2, "alice"), "{PLAIN}wonderland");
	passdb_unref(&db2);
	test_assert(db2 == NULL);
	passdb_unref(&db2); /* NULL is fine */
	test_end();
	remove_dir();
}

static void test_load_empty_and_many(void)
{
	const char *error = NULL;
	fresh_dir();

	test_begin("passdb: empty file");
	write_file(path, "", 0600);
	struct passdb *db = passdb_load(path, &error);
	test_assert(db != NULL && passdb_count(db) == 0 && passdb_lookup(db, "a") == NULL);
	passdb_unref(&db);
	test_end();

	test_begin("passdb: 5000 users, every one found");
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 5000; i++)
		fprintf(f, "user%d:{PLAIN}pw%d\n", i, i);
	fclose(f);
	db = passdb_load(path, &error);
	test_assert(db != NULL && passdb_count(db) == 5000);
	int bad = 0;
	char u[32], pw[32];
	for (int i = 0; db != NULL && i < 5000; i++) {
		snprintf(u, sizeof(u), "user%d", i);
		snprintf(pw, sizeof(pw), "{PLAIN}pw%d", i);
		const char *h = passdb_lookup(db, u);
		bad += h == NULL || strcmp(h, pw) != 0;
	}
	test_assert(bad == 0);
	test_assert(db == NULL || passdb_lookup(db, "user5000") == NULL);
	passdb_unref(&db);
	test_end();
	remove_dir();
}

struct load_error_case {
	const char *content;
	size_t len;         /* content may hold a NUL */
	const char *expect; /* after "<path>" */
};

#define ERR_CASE(content, expect)                                                                  \
	{                                                                                          \
		content, sizeof(content) - 1, expect                                               \
	}

static const struct load_error_case load_errors[] = {
    ERR_CASE("a:x\nnocolon\n", ":2: missing ':' after user name"),
    ERR_CASE("# c\n\n:{PLAIN}x\n", ":3: empty user name"),
    ERR_CASE("a:x\nb:y\n\na:z\n", ":4: duplicate user 'a' (first on line 1)"),
    ERR_CASE("a b:x\n", ":1: invalid user name"),
    ERR_CASE("ok:x\n a:x\n", ":2: invalid user name"),
    ERR_CASE("a\tb:x\n", ":1: invalid user name"),
    ERR_CASE("a\x7f:x\n", ":1: invalid user name"),
    ERR_CASE("a:x\r\n", ":1: control character in password field"),
    ERR_CASE("a:{PLAIN}x\ty:1\n", ":1: control character in password field"),
    ERR_CASE("a:x\nb:y\nc\0:z\n", ":3: NUL byte in line"),
};

static void write_bytes(const char *p, const char *data, size_t len)
{
	FILE *f = fopen(p, "w");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(p);
		exit(1);
	}
}

static void test_load_errors(void)
{
	const char *error = NULL;
	char expect[512];
	fresh_dir();
	test_begin("passdb: load errors name the line");
	for (size_t i = 0; i < sizeof(load_errors) / sizeof(load_errors[0]); i++) {
		const struct load_error_case *c = &load_errors[i];
		write_bytes(path, c->content, c->len);
		struct passdb *db = passdb_load(path, &error);
		snprintf(expect, sizeof(expect), "%s%s", path, c->expect);
		test_assert(db == NULL);
		test_assert(db != NULL || strncmp(error, expect, strlen(expect)) == 0);
		if (db == NULL && strncmp(error, expect, strlen(expect)) != 0)
			fprintf(stderr, "  case %zu: got '%s'\n", i, error);
		passdb_unref(&db);
	}
	test_end();

	test_begin("passdb: overlong user name");
	char line[300];
	memset(line, 'u', 256);
	strcpy(line + 256, ":x\n");
	write_file(path, line, 0600);
	test_assert(passdb_load(path, &error) == NULL && strstr(error, ":1: invalid user") != NULL);
	strcpy(line + 255, ":x\n"); /* exactly 255 is fine */
	write_file(path, line, 0600);
	struct passdb *db = passdb_load(path, &error);
	test_assert(db != NULL && passdb_count(db) == 1);
	passdb_unref(&db);
	test_end();

	test_begin("passdb: missing file and directory");
	unlink(path);
	test_assert(passdb_load(path, &error) == NULL && strstr(error, path) != NULL &&
	            strstr(error, "No such file") != NULL);
	test_assert(passdb_load(dir, &error) == NULL && strstr(error, "not a regular") != NULL);
	test_end();
	remove_dir();
}

static void test_user_name_valid(void)
{
	test_begin("passdb: user name rules");
	test_assert(passdb_user_name_valid("a"));
	test_assert(passdb_user_name_valid("first.last+tag@example.org"));
	test_assert(passdb_user_name_valid("\xc3\xa9"));
	test_assert(!passdb_user_name_valid(""));
	test_assert(!passdb_user_name_valid("a:b"));
	test_assert(!passdb_user_name_valid("a b"));
	test_assert(!passdb_user_name_valid("a\nb"));
	test_assert(!passdb_user_name_valid("a\x01"));
	test_assert(!passdb_user_name_valid("\x7f"));
	test_end();
}

static const char edit_base[] = "# users\n"
                                "alice:{PLAIN}old:1000:1000::/home/alice::extra=1\n"
                                "\n"
                                "bob:{PLAIN}bob\n";

static void test_set_replace(void)
{
	const char *error = NULL;
	fresh_dir();
	write_file(path, edit_base, 0640);

	test_begin("passdb: set replaces the hash, keeps extra fields and mode");
	test_assert(passdb_file_set(path, "alice", "{PLAIN}new", true, false, &error) == 0);
	test_assert_str(read_back(path), "# users\n"
	                                 "alice:{PLAIN}new:1000:1000::/home/alice::extra=1\n"
	                                 "\n"
	                                 "bob:{PLAIN}bob\n");
	test_assert(file_mode(path) == 0640);
	test_assert(count_dir_entries() == 1);
	test_end();

	test_begin("passdb: set adds a user at the end");
	test_assert(passdb_file_set(path, "carol", "{PLAIN}c", false, true, &error) == 0);
	test_assert(passdb_file_set(path, "dave", "{PLAIN}d", false, false, &error) == 0);
	test_assert_str(read_back(path), "# users\n"
	                                 "alice:{PLAIN}new:1000:1000::/home/alice::extra=1\n"
	                                 "\n"
	                                 "bob:{PLAIN}bob\n"
	                                 "carol:{PLAIN}c\n"
	                                 "dave:{PLAIN}d\n");
	test_assert(file_mode(path) == 0640);
	test_assert(count_dir_entries() == 1);
	test_end();

	test_begin("passdb: set refuses per must_exist / must_not_exist");
	const char *before = strdup(read_back(path));
	test_assert(passdb_file_set(path, "bob", "{PLAIN}x", false, true, &error) == -1);
	test_assert(strstr(error, "already exists") != NULL);
	test_assert(passdb_file_set(path, "zed", "{PLAIN}x", true, false, &error) == -1);
	test_assert(strstr(error, "does not exist") != NULL);
	test_assert(passdb_file_set(path, "bad name", "{PLAIN}x", false, false, &error) == -1);
	test_assert(passdb_file_set(path, "eve", "{PLAIN}a:b", false, false, &error) == -1);
	test_assert(passdb_file_set(path, "eve", "{PLAIN}a\nb", false, false, &error) == -1);
	test_assert(passdb_file_set(path, "eve", "", false, false, &error) == -1);
	test_assert_str(read_back(path), before);
	test_assert(count_dir_entries() == 1);
	free((void *)before);
	test_end();
	remove_dir();
}

static void test_delete(void)
{
	const char *error = NULL;
	fresh_dir();
	write_file(path, edit_base, 0604);

	test_begin("passdb: delete removes only that line");
	test_assert(passdb_file_delete(path, "alice", &error) == 0);
	test_assert_str(read_back(path), "# users\n\nbob:{PLAIN}bob\n");
	test_assert(file_mode(path) == 0604);
	test_assert(passdb_file_delete(path, "alice", &error) == -1);
	test_assert(strstr(error, "does not exist") != NULL);
	test_assert(passdb_file_delete(path, "bob", &error) == 0);
	test_assert_str(read_back(path), "# users\n\n");
	test_assert(count_dir_entries() == 1);
	test_end();

	test_begin("passdb: delete on a missing file fails and creates nothing");
	unlink(path);
	test_assert(passdb_file_delete(path, "bob", &error) == -1);
	test_assert(passdb_file_set(path, "bob", "{PLAIN}x", true, false, &error) == -1);
	test_assert(count_dir_entries() == 0);
	test_end();
	remove_dir();
}

static void test_edit_special(void)
{
	const char *error = NULL;
	fresh_dir();

	test_begin("passdb: first add creates the file 0600");
	test_assert(passdb_file_set(path, "alice", "{PLAIN}a", false, true, &error) == 0);
	test_assert_str(read_back(path), "alice:{PLAIN}a\n");
	test_assert(file_mode(path) == 0600);
	test_end();

	test_begin("passdb: no final newline is kept apart from the new line");
	write_file(path, "a:x\n# tail", 0600);
	test_assert(passdb_file_set(path, "b", "{PLAIN}y", false, true, &error) == 0);
	test_assert_str(read_back(path), "a:x\n# tail\nb:{PLAIN}y\n");
	write_file(path, "a:x\nb:y", 0600);
	test_assert(passdb_file_set(path, "b", "{PLAIN}z", true, false, &error) == 0);
	test_assert_str(read_back(path), "a:x\nb:{PLAIN}z\n");
	test_end();

	test_begin("passdb: a file the loader rejects is not rewritten");
	write_file(path, "a:x\nb:y\na:z\n", 0600);
	test_assert(passdb_file_set(path, "c", "{PLAIN}c", false, true, &error) == -1);
	test_assert(strstr(error, ":3: duplicate user 'a'") != NULL);
	write_file(path, "a:x\nbroken\n", 0600);
	test_assert(passdb_file_delete(path, "a", &error) == -1);
	test_assert(strstr(error, ":2: missing ':'") != NULL);
	test_assert_str(read_back(path), "a:x\nbroken\n");
	test_assert(count_dir_entries() == 1);
	test_end();

	test_begin("passdb: editing through a symlink keeps the symlink");
	char target[400];
	snprintf(target, sizeof(target), "%s/real", dir);
	unlink(path);
	write_file(target, "a:x\n", 0600);
	test_assert(symlink("real", path) == 0);
	test_assert(passdb_file_set(path, "b", "{PLAIN}y", false, true, &error) == 0);
	struct stat st;
	test_assert(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
	test_assert_str(read_back(target), "a:x\nb:{PLAIN}y\n");
	test_assert(count_dir_entries() == 2);
	test_end();
	remove_dir();
}

static void test_edit_then_verify(void)
{
	const char *error = NULL;
	fresh_dir();
	test_begin("passdb: hash, store, load, verify");
	char *h = password_hash("SHA512-CRYPT", "s3cret", 6, &error);
	test_assert(h != NULL);
	test_assert(h != NULL && passdb_file_set(path, "u", h, false, true, &error) == 0);
	struct passdb *db = passdb_load(path, &error);
	test_assert(db != NULL);
	const char *stored = db != NULL ? passdb_lookup(db, "u") : NULL;
	test_assert(stored != NULL && password_verify(stored, "s3cret", 6, &error) == 1);
	test_assert(stored != NULL && password_verify(stored, "s3cre", 5, &error) == 0);
	passdb_unref(&db);
	free(h);
	test_end();
	remove_dir();
}

static void test_quota_rule(void)
{
	fresh_dir();
	test_begin("passdb: userdb_quota_rule extra field");
	write_file(path,
	           "a:{PLAIN}x:1000:1000::/home/a::userdb_quota_rule=*:storage=10M\n"
	           "b:{PLAIN}x:::::: userdb_foo=1 quota_rule=*:storage=2048:messages=7\r\n"
	           "c:{PLAIN}x::::::userdb_quota_rule=*:storage=0\n"
	           "d:{PLAIN}x\n"
	           "e:{PLAIN}x::::::userdb_quota_rule=*:storage=5x\n"
	           "f:{PLAIN}x::::::userdb_quota_rule=*:bytes=1000:messages=none\n",
	           0600);
	const char *error = NULL;
	struct passdb *db = passdb_load(path, &error);
	test_assert(db != NULL);
	uint64_t b = 1, m = 1;
	test_assert(db != NULL && passdb_lookup_quota(db, "a", &b, &m) == PASSDB_QUOTA_BYTES);
	test_assert(b == 10u << 20 && m == 1);
	test_assert(db != NULL && passdb_lookup_quota(db, "b", &b, &m) == 3);
	test_assert(b == 2048u * 1024 && m == 7);
	test_assert(db != NULL && passdb_lookup_quota(db, "c", &b, &m) == PASSDB_QUOTA_BYTES);
	test_assert(b == 0);
	b = m = 5;
	test_assert(db != NULL && passdb_lookup_quota(db, "d", &b, &m) == 0 && b == 5 && m == 5);
	test_assert(db != NULL && passdb_lookup_quota(db, "nobody", &b, &m) == 0);
	test_assert(db != NULL && passdb_lookup_quota(db, "e", &b, &m) == -1);
	test_assert(db != NULL && passdb_lookup_quota(db, "f", &b, &m) == 3);
	test_assert(b == 1000 && m == 0);
	test_assert(db != NULL && strcmp(passdb_lookup(db, "a"), "{PLAIN}x") == 0);
	passdb_unref(&db);
	test_end();
	remove_dir();
}

int main(void)
{
	test_quota_rule();
	test_load();
	test_load_empty_and_many();
	test_load_errors();
	test_user_name_valid();
	test_set_replace();
	test_delete();
	test_edit_special();
	test_edit_then_verify();
	return test_done();
}
