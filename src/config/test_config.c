/* test_config: the option table, file parsing with exact "file:line:"
 * errors, -o overrides, value units, relative paths, config_print, and
 * that etc/roost.conf.example lists every option with its default.
 *
 * Files are written into a fresh directory under /tmp, removed at the
 * end. Error messages are compared whole: they are the user interface of
 * `roost check-config`. */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/test.h"
#include "lib/xalloc.h"

TEST_STATE_DEFINE;

static char tmpdir[] = "/tmp/roost-test-config-XXXXXX";
static char *tmpfiles[16];
static size_t n_tmpfiles;

static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xfmt(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return xstrdup(buf);
}

/* Writes content (len bytes) to tmpdir/name; returns the path (static
 * storage until the end of the test run). */
static const char *write_file_n(const char *name, const char *content, size_t len)
{
	char *path = xfmt("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(content, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	for (size_t i = 0; i < n_tmpfiles; i++) {
		if (strcmp(tmpfiles[i], path) == 0) {
			free(path);
			return tmpfiles[i];
		}
	}
	if (n_tmpfiles == sizeof(tmpfiles) / sizeof(tmpfiles[0]))
		abort();
	tmpfiles[n_tmpfiles++] = path;
	return path;
}

static const char *write_file(const char *name, const char *content)
{
	return write_file_n(name, content, strlen(content));
}

/* Loads content as roost.conf and checks that it fails with exactly
 * "<path><suffix>", e.g. suffix ":3: unknown key 'foo'". */
static void expect_file_error(const char *content, const char *suffix)
{
	const char *path = write_file("roost.conf", content);
	struct config cfg;
	char *error = NULL;
	char *want = xfmt("%s%s", path, suffix);
	test_assert(config_load(&cfg, path, NULL, 0, &error) == -1);
	test_assert_str(error, want);
	test_assert(cfg.server_name == NULL); /* zeroed on failure */
	config_free(&cfg);
	free(error);
	free(want);
}

static void expect_override_error(const char *ovr, const char *want)
{
	struct config cfg;
	char *error = NULL;
	char *ovrs[] = {"threads=2", (char *)ovr};
	test_assert(config_load(&cfg, NULL, ovrs, 2, &error) == -1);
	test_assert_str(error, want);
	free(error);
}

static void test_defaults(void)
{
	struct config cfg;
	test_begin("config: defaults");
	config_init_defaults(&cfg);
	test_assert_str(cfg.imap_listen, "127.0.0.1:1143");
	test_assert_str(cfg.imaps_listen, "127.0.0.1:1993");
	test_assert_str(cfg.tls_cert, "tls/cert.pem");
	test_assert_str(cfg.tls_key, "tls/key.pem");
	test_assert_str(cfg.tls_min_version, "TLSv1.2");
	test_assert_str(cfg.tls_ciphers, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5:!DSS");
	test_assert_str(
	    cfg.tls_ciphersuites,
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256");
	test_assert(cfg.tls_handshake_timeout == 30);
	test_assert_str(cfg.passwd_file, "passwd");
	test_assert_str(cfg.password_scheme, "ARGON2ID");
	test_assert(cfg.plaintext_auth == PLAINTEXT_AUTH_LOOPBACK);
	test_assert(cfg.auth_workers == 0);
	test_assert_str(cfg.mail_root, "mail");
	test_assert_str(cfg.state_dir, "state");
	test_assert(cfg.threads == 0);
	test_assert_str(cfg.run_user, "");
	test_assert_str(cfg.log_level_name, "info");
	test_assert(cfg.log_level == LOG_INFO);
	test_assert_str(cfg.server_name, "roost");
	test_assert(cfg.max_line_length == 64 * 1024);
	test_assert(cfg.max_literal_size == 64 * 1024 * 1024);
	test_assert(cfg.max_literal_size_preauth == 8 * 1024);
	test_assert(cfg.max_connections == 18000);
	test_assert(cfg.output_buffer_limit == 4 * 1024 * 1024);
	test_assert(cfg.preauth_timeout == 60);
	test_assert(cfg.idle_timeout == 1800);
	test_assert(cfg.config_path == NULL && cfg.config_dir == NULL);
	config_free(&cfg);
	test_assert(cfg.tls_cert == NULL && cfg.threads == 0);
	test_end();
}

static void test_load_over_defaults(void)
{
	struct config cfg;
	char *error = NULL;
	char *ovrs[] = {"server_name=x", "log_level=debug"};
	test_begin("config: config_load over config_init_defaults leaks nothing");
	/* LeakSanitizer (ROOST_SANITIZE) is what checks this test. */
	config_init_defaults(&cfg);
	test_assert(config_load(&cfg, NULL, ovrs, 2, &error) == 0);
	test_assert_str(cfg.server_name, "x");
	config_free(&cfg);
	config_init_defaults(&cfg);
	test_assert(config_load(&cfg, "/nonexistent/roost.conf", NULL, 0, &error) == -1);
	free(error);
	test_assert(cfg.server_name == NULL);
	config_free(&cfg);
	test_end();
}

static void test_load_no_file(void)
{
	struct config cfg;
	char *error = NULL;
	char *cwd = getcwd(NULL, 0);
	char *want = xfmt("%s/mail", cwd);
	test_begin("config: no file, paths relative to the current directory");
	test_assert(config_load(&cfg, NULL, NULL, 0, &error) == 0);
	test_assert(error == NULL);
	test_assert(cfg.config_path == NULL);
	test_assert_str(cfg.config_dir, cwd);
	test_assert_str(cfg.mail_root, want);
	config_free(&cfg);
	free(want);
	free(cwd);
	test_end();
}

/* clang-format off */
static const char valid_conf[] =
	"\xef\xbb\xbf# a comment\n"
	"; another comment\n"
	"\n"
	"imap_listen = 127.0.0.1:143 , [::1]:143,*:10143, localhost:1\n"
	"imaps_listen =\n"
	"   threads = 4\r\n"
	"auth_workers=2\n"
	"plaintext_auth = ALWAYS ; trailing comment\n"
	"password_scheme = sha512-crypt\n"
	"tls_min_version = tlsv1.3\n"
	"log_level = warning\n"
	"server_name = mail.example.org IMAP\n"
	"run_user = roost\n"
	"max_line_length = 16M\n"
	"max_literal_size = 1g\n"
	"max_literal_size_preauth = 1024\n"
	"max_connections = 5\n"
	"output_buffer_limit = 64k\n"
	"preauth_timeout = 2m\n"
	"idle_timeout = 1d\n"
	"tls_handshake_timeout = 1h\n"
	"mail_root = /srv/mail"; /* no final newline */
/* clang-format on */

static void test_valid_file(void)
{
	struct config cfg;
	char *error = NULL;
	test_begin("config: valid file");
	const char *path = write_file("roost.conf", valid_conf);
	test_assert(config_load(&cfg, path, NULL, 0, &error) == 0);
	test_assert(error == NULL);
	test_assert_str(cfg.imap_listen, "127.0.0.1:143,[::1]:143,*:10143,localhost:1");
	test_assert_str(cfg.imaps_listen, "");
	test_assert(cfg.threads == 4 && cfg.auth_workers == 2);
	test_assert(cfg.plaintext_auth == PLAINTEXT_AUTH_ALWAYS);
	test_assert_str(cfg.password_scheme, "SHA512-CRYPT");
	test_assert_str(cfg.tls_min_version, "TLSv1.3");
	test_assert_str(cfg.log_level_name, "warn");
	test_assert(cfg.log_level == LOG_WARN);
	test_assert_str(cfg.server_name, "mail.example.org IMAP");
	test_assert_str(cfg.run_user, "roost");
	test_assert(cfg.max_line_length == 16u << 20);
	test_assert(cfg.max_literal_size == 1u << 30);
	test_assert(cfg.max_literal_size_preauth == 1024);
	test_assert(cfg.max_connections == 5);
	test_assert(cfg.output_buffer_limit == 64u << 10);
	test_assert(cfg.preauth_timeout == 120 && cfg.idle_timeout == 86400);
	test_assert(cfg.tls_handshake_timeout == 3600);
	test_assert_str(cfg.mail_root, "/srv/mail");
	test_assert_str(cfg.config_path, path);
	config_free(&cfg);
	test_end();
}

static void test_file_errors(void)
{
	test_begin("config: file errors carry file:line");
	expect_file_error("# comment\n\nfoo = 1\n", ":3: unknown key 'foo'");
	expect_file_error("threads = 1\nmax_line_length = 12q\n",
	                  ":2: max_line_length: expected a size (bytes, or a number with suffix k, "
	                  "m or g), got '12q'");
	expect_file_error(
	    "max_line_length = 100\n",
	    ":1: max_line_length: must be between 1024 and 16777216 bytes, got '100'");
	expect_file_error(
	    "max_line_length = 17m\n",
	    ":1: max_line_length: must be between 1024 and 16777216 bytes, got '17m'");
	expect_file_error("\n\n\n\nidle_timeout = 5w\n",
	                  ":5: idle_timeout: expected a duration (seconds, or a number with suffix "
	                  "s, m, h or d), got '5w'");
	expect_file_error("idle_timeout = 0\n",
	                  ":1: idle_timeout: must be between 1 and 604800 seconds, got '0'");
	expect_file_error(
	    "\nplaintext_auth = sometimes\n",
	    ":2: plaintext_auth: expected loopback, always or never, got 'sometimes'");
	expect_file_error("password_scheme = MD5-CRYPT\n",
	                  ":1: password_scheme: expected ARGON2ID, ARGON2I, SHA512-CRYPT, "
	                  "SHA256-CRYPT, BLF-CRYPT or PLAIN, got 'MD5-CRYPT'");
	expect_file_error("tls_min_version = TLSv1.1\n",
	                  ":1: tls_min_version: expected TLSv1.2 or TLSv1.3, got 'TLSv1.1'");
	expect_file_error("log_level = loud\n",
	                  ":1: log_level: expected debug, info, warn or error, got 'loud'");
	expect_file_error("threads = 1\n# again:\nthreads = 2\n",
	                  ":3: duplicate key 'threads' (first set on line 1)");
	expect_file_error("threads = 1\n[main]\nauth_workers = 1\n",
	                  ":2: sections are not supported");
	expect_file_error("\n  [main\n", ":2: sections are not supported");
	expect_file_error("threads = 1\nthreads 4\n", ":2: expected 'key = value'");
	expect_file_error("threads: 4\n", ":1: expected 'key = value'");
	/* the comment hides the '=': inih itself reports this line */
	expect_file_error("\nthreads ; = 4\n", ":2: expected 'key = value'");
	expect_file_error("= 4\n", ":1: unknown key ''");
	expect_file_error("Threads = 4\n", ":1: unknown key 'Threads'");
	test_end();
}

static void test_number_errors(void)
{
	const char *uint_msg = "threads: expected a non-negative decimal number";
	char *want;
	test_begin("config: numbers, paths, listeners and names");
	want = xfmt(":1: %s, got '-1'", uint_msg);
	expect_file_error("threads = -1\n", want);
	free(want);
	want = xfmt(":1: %s, got ''", uint_msg);
	expect_file_error("threads =\n", want);
	free(want);
	want = xfmt(":1: %s, got '4k'", uint_msg);
	expect_file_error("threads = 4k\n", want);
	free(want);
	want = xfmt(":1: %s, got '99999999999999999999999'", uint_msg);
	expect_file_error("threads = 99999999999999999999999\n", want);
	free(want);
	expect_file_error("threads = 1025\n",
	                  ":1: threads: must be between 0 and 1024, got '1025'");
	expect_file_error("max_literal_size = 0\n",
	                  ":1: max_literal_size: must be at least 1, got '0'");
	expect_file_error("mail_root =\n", ":1: mail_root: expected a path, got an empty value");
	expect_file_error("server_name =\n", ":1: server_name: must not be empty");
	expect_file_error("server_name = a\"b\n",
	                  ":1: server_name: only printable ASCII without \" and \\");
	expect_file_error("max_literal_size = 1k\nmax_literal_size_preauth = 2k\n",
	                  ": max_literal_size_preauth (2048) must not exceed max_literal_size "
	                  "(1024)");
	static const char *const bad_listen[] = {
	    "127.0.0.1", ":143",   "1.2.3.4:0",   "1.2.3.4:65536", "::1:143", "a:1,,b:2",
	    "[::1:143",  "[]:143", "1.2.3.4:14x", "1.2.3.4 :14 3", "a]:1",    ",a:1",
	};
	for (size_t i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
		char *content = xfmt("imap_listen = %s\n", bad_listen[i]);
		want = xfmt(":1: imap_listen: expected comma-separated addr:port (IPv4:port, "
		            "[IPv6]:port, *:port; port 1-65535), got '%s'",
		            bad_listen[i]);
		expect_file_error(content, want);
		free(content);
		free(want);
	}
	test_end();
}

static void test_read_errors(void)
{
	struct config cfg;
	char *error = NULL;
	char line[400];
	test_begin("config: unreadable and malformed files");
	char *missing = xfmt("%s/missing.conf", tmpdir);
	char *want = xfmt("%s: No such file or directory", missing);
	test_assert(config_load(&cfg, missing, NULL, 0, &error) == -1);
	test_assert_str(error, want);
	free(error);
	free(want);
	free(missing);
	want = xfmt("%s: Is a directory", tmpdir);
	test_assert(config_load(&cfg, tmpdir, NULL, 0, &error) == -1);
	test_assert_str(error, want);
	free(error);
	free(want);

	const char *path = write_file_n("roost.conf", "threads = 1\nthr\0eads = 2\n", 25);
	want = xfmt("%s:2: NUL byte in line", path);
	test_assert(config_load(&cfg, path, NULL, 0, &error) == -1);
	test_assert_str(error, want);
	free(error);
	free(want);

	/* inih would silently split an overlong line in two */
	memset(line, 'x', sizeof(line));
	memcpy(line, "server_name = ", 14);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	expect_file_error(line, ":1: line longer than 199 characters");
	line[198] = '\n';
	line[199] = '\0';
	path = write_file("roost.conf", line);
	test_assert(config_load(&cfg, path, NULL, 0, &error) == 0);
	test_assert(cfg.server_name != NULL && strlen(cfg.server_name) == 198 - 14);
	config_free(&cfg);
	test_end();
}

static void test_overrides(void)
{
	struct config cfg;
	char *error = NULL;
	char *ovrs[] = {"threads=8", "max_line_length = 1m", " plaintext_auth = never ",
	                "threads=6", "imap_listen="};
	test_begin("config: -o overrides win over the file, later wins");
	const char *path = write_file("roost.conf", "threads = 2\nplaintext_auth = always\n"
	                                            "idle_timeout = 1h\n");
	test_assert(config_load(&cfg, path, ovrs, 5, &error) == 0);
	test_assert(cfg.threads == 6);
	test_assert(cfg.max_line_length == 1u << 20);
	test_assert(cfg.plaintext_auth == PLAINTEXT_AUTH_NEVER);
	test_assert(cfg.idle_timeout == 3600);
	test_assert_str(cfg.imap_listen, "");
	config_free(&cfg);
	/* an override may fix what the file alone would fail validation on */
	char *fix[] = {"max_literal_size_preauth=1k"};
	path = write_file("roost.conf", "max_literal_size = 1k\nmax_literal_size_preauth = 2k\n");
	test_assert(config_load(&cfg, path, fix, 1, &error) == 0);
	test_assert(cfg.max_literal_size_preauth == 1024);
	config_free(&cfg);
	test_end();

	test_begin("config: override errors");
	expect_override_error("foo=1", "-o foo=1: unknown key 'foo'");
	expect_override_error("threads", "-o threads: expected key=value");
	expect_override_error(
	    "threads=x", "-o threads=x: threads: expected a non-negative decimal number, got 'x'");
	expect_override_error("idle_timeout=10x",
	                      "-o idle_timeout=10x: idle_timeout: expected a duration (seconds, or "
	                      "a number with suffix s, m, h or d), got '10x'");
	expect_override_error("max_literal_size_preauth=1g",
	                      "config: max_literal_size_preauth (1073741824) must not exceed "
	                      "max_literal_size (67108864)");
	test_end();
}

struct size_case {
	const char *text;
	int ret;
	unsigned long long value;
};

static void test_units(void)
{
	static const struct size_case sizes[] = {
	    {"0", 0, 0},
	    {"1", 0, 1},
	    {"1k", 0, 1024},
	    {"1K", 0, 1024},
	    {"64m", 0, 64ull << 20},
	    {"64M", 0, 64ull << 20},
	    {"2g", 0, 2ull << 30},
	    {"3G", 0, 3ull << 30},
	    {"", -1, 0},
	    {"k", -1, 0},
	    {"1kb", -1, 0},
	    {"1 k", -1, 0},
	    {"-1", -1, 0},
	    {"+1", -1, 0},
	    {"1.5k", -1, 0},
	    {"1t", -1, 0},
	    {" 1", -1, 0},
	    {"18446744073709551616", -1, 0},
	    {"17179869184g", -1, 0},
	};
	static const struct size_case durations[] = {
	    {"0", 0, 0},           {"30", 0, 30},     {"30s", 0, 30},
	    {"2m", 0, 120},        {"2M", 0, 120},    {"1h", 0, 3600},
	    {"1H", 0, 3600},       {"2d", 0, 172800}, {"4294967295", 0, UINT_MAX},
	    {"4294967296", -1, 0}, {"49711d", -1, 0}, {"", -1, 0},
	    {"s", -1, 0},          {"1w", -1, 0},     {"1ms", -1, 0},
	    {"1 s", -1, 0},
	};
	test_begin("config: size and duration units");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t v = 12345;
		int ret = config_parse_size(sizes[i].text, &v);
		test_assert(ret == sizes[i].ret);
		test_assert(ret < 0 ? v == 12345 : v == sizes[i].value);
	}
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		unsigned v = 12345;
		int ret = config_parse_duration(durations[i].text, &v);
		test_assert(ret == durations[i].ret);
		test_assert(ret < 0 ? v == 12345 : v == durations[i].value);
	}
	test_end();
}

static void test_bools(void)
{
	static const char *const yes[] = {"yes", "YES", "true", "True", "on", "ON", "1"};
	static const char *const no[] = {"no", "No", "false", "FALSE", "off", "Off", "0"};
	static const char *const bad[] = {"", "2", "y", "n", "enable", "yes ", "01"};
	test_begin("config: booleans");
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		bool v = false;
		test_assert(config_parse_bool(yes[i], &v) == 0 && v);
		v = true;
		test_assert(config_parse_bool(no[i], &v) == 0 && !v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool v = true;
		test_assert(config_parse_bool(bad[i], &v) == -1 && v);
	}
	test_end();
}

static void test_relative_paths(void)
{
	struct config cfg;
	char *error = NULL;
	test_begin("config: relative paths resolve against the config's directory");
	char *sub = xfmt("%s/sub", tmpdir);
	test_assert(mkdir(sub, 0700) == 0);
	const char *path = write_file("sub/roost.conf", "mail_root = m\nstate_dir = ./././s\n"
	                                                "tls_cert = /etc/c.pem\n"
	                                                "passwd_file = ../pw\ntls_key = .\n");
	/* a non-canonical path to the file: the directory is realpath'd */
	char *indirect = xfmt("%s/sub/../sub//roost.conf", tmpdir);
	char *real = realpath(sub, NULL);
	test_assert(config_load(&cfg, indirect, NULL, 0, &error) == 0);
	char *want = xfmt("%s/m", real);
	test_assert_str(cfg.mail_root, want);
	free(want);
	want = xfmt("%s/s", real);
	test_assert_str(cfg.state_dir, want);
	free(want);
	want = xfmt("%s/../pw", real);
	test_assert_str(cfg.passwd_file, want);
	free(want);
	test_assert_str(cfg.tls_cert, "/etc/c.pem");
	test_assert_str(cfg.tls_key, real);
	test_assert_str(cfg.config_dir, real);
	test_assert_str(cfg.config_path, indirect);
	config_free(&cfg);

	/* a bare file name: relative to the current directory */
	char *cwd = getcwd(NULL, 0);
	test_assert(chdir(sub) == 0);
	test_assert(config_load(&cfg, "roost.conf", NULL, 0, &error) == 0);
	want = xfmt("%s/m", real);
	test_assert_str(cfg.mail_root, want);
	free(want);
	config_free(&cfg);
	test_assert(chdir(cwd) == 0);
	(void)path;
	free(cwd);
	free(real);
	free(indirect);
	free(sub);
	test_end();
}

static char *print_to_string(const struct config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_print(cfg, f);
	fclose(f);
	return text;
}

static void test_print(void)
{
	struct config cfg, again;
	char *error = NULL;
	test_begin("config: print shows exact values and reads back");
	char *ovrs[] = {"run_user=", "max_literal_size_preauth=1000", "plaintext_auth=never"};
	test_assert(config_load(&cfg, NULL, ovrs, 3, &error) == 0);
	char *text = print_to_string(&cfg);
	test_assert(strncmp(text, "# IMAP listeners", 16) == 0);
	test_assert(strstr(text, "\nmax_line_length = 65536\n") != NULL);
	test_assert(strstr(text, "\nmax_literal_size_preauth = 1000\n") != NULL);
	test_assert(strstr(text, "\nidle_timeout = 1800\n") != NULL);
	test_assert(strstr(text, "\nrun_user =\n") != NULL);
	test_assert(strstr(text, "\nplaintext_auth = never\n") != NULL);
	test_assert(strstr(text, "\nlog_level = info\n") != NULL);
	test_assert(strstr(text, "\n# longest command line accepted, literals excluded (1k to "
	                         "16m)\nmax_line_length = ") != NULL);
	/* the output is itself a valid config with the same settings */
	const char *path = write_file("printed.conf", text);
	test_assert(config_load(&again, path, NULL, 0, &error) == 0);
	char *text2 = print_to_string(&again);
	test_assert_str(text2, text);
	free(text2);
	free(text);
	config_free(&again);
	config_free(&cfg);
	test_end();
}

/* The line holding "key = ..." (not a comment), or NULL; *count_r says how
 * many such lines there are. */
static char *find_key_line(char **lines, size_t n, const char *key, size_t *idx_r, size_t *count_r)
{
	char *found = NULL;
	size_t klen = strlen(key);
	*count_r = 0;
	for (size_t i = 0; i < n; i++) {
		const char *l = lines[i];
		if (strncmp(l, key, klen) == 0 && (l[klen] == ' ' || l[klen] == '=')) {
			if (found == NULL) {
				found = lines[i];
				*idx_r = i;
			}
			(*count_r)++;
		}
	}
	return found;
}

static size_t split_lines(char *text, char **lines, size_t max)
{
	size_t n = 0;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l != NULL && n < max;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	return n;
}

static void check_example_lines(const char *path)
{
	static char *lines[1000];
	FILE *f = fopen(path, "r");
	test_assert(f != NULL);
	if (f == NULL)
		return;
	char text[65536];
	size_t len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	size_t n = split_lines(text, lines, 1000);
	const char *name, *def, *doc;
	size_t options = 0;
	for (size_t i = 0; config_option_info(i, &name, &def, &doc) == 0; i++, options++) {
		size_t idx = 0, count;
		char *line = find_key_line(lines, n, name, &idx, &count);
		if (count != 1)
			fprintf(stderr, "example: '%s' appears %zu times\n", name, count);
		test_assert(count == 1);
		if (line == NULL)
			continue;
		char *want = xfmt("%s =%s%s", name, def[0] != '\0' ? " " : "", def);
		test_assert_str(line, want);
		free(want);
		want = xfmt("# %s", doc);
		test_assert(idx > 0);
		test_assert_str(idx > 0 ? lines[idx - 1] : "", want);
		free(want);
	}
	test_assert(options > 20);
	/* and nothing else is set there */
	size_t settings = 0;
	for (size_t i = 0; i < n; i++)
		settings += lines[i][0] != '#' && lines[i][0] != '\0';
	test_assert(settings == options);
}

static void test_example(void)
{
	struct config cfg, defaults;
	char *error = NULL;
	test_begin("config: etc/roost.conf.example lists every option with its default");
	char *src_dir = xstrdup(__FILE__);
	char *slash = strrchr(src_dir, '/');
	if (slash != NULL)
		*slash = '\0';
	char *path = xfmt("%s/../../etc/roost.conf.example", slash != NULL ? src_dir : ".");
	test_assert(config_load(&cfg, path, NULL, 0, &error) == 0);
	if (error != NULL)
		fprintf(stderr, "%s\n", error);
	free(error);
	check_example_lines(path);

	/* loaded, it equals the defaults resolved in the same directory */
	char *cwd = getcwd(NULL, 0);
	test_assert(cfg.config_dir != NULL && chdir(cfg.config_dir) == 0);
	test_assert(config_load(&defaults, NULL, NULL, 0, &error) == 0);
	test_assert(chdir(cwd) == 0);
	char *a = print_to_string(&cfg), *b = print_to_string(&defaults);
	test_assert_str(a, b);
	free(a);
	free(b);
	config_free(&defaults);
	config_free(&cfg);
	free(cwd);
	free(path);
	free(src_dir);
	test_end();
}

static void cleanup(void)
{
	while (n_tmpfiles > 0) {
		char *p = tmpfiles[--n_tmpfiles];
		unlink(p);
		free(p);
	}
	char *sub = xfmt("%s/sub", tmpdir);
	rmdir(sub);
	free(sub);
	rmdir(tmpdir);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_defaults();
	test_load_over_defaults();
	test_load_no_file();
	test_valid_file();
	test_file_errors();
	test_number_errors();
	test_read_errors();
	test_overrides();
	test_units();
	test_bools();
	test_relative_paths();
	test_print();
	test_example();
	cleanup();
	return test_done();
}
