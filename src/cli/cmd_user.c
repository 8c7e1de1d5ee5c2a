/* cmd_user: `roost user add|passwd|del NAME` edits the passwd-file.
 *
 *   roost user add    NAME [--password-stdin] [-c FILE] [-o key=value]...
 *   roost user passwd NAME [--password-stdin] [-c FILE] [-o key=value]...
 *   roost user del    NAME [-c FILE] [-o key=value]...
 *
 * The file named by passwd_file is rewritten atomically by passdb (see
 * passdb.h); the server picks the change up on its next reload. The new
 * password comes from one line of stdin (--password-stdin, for scripts) or
 * is typed twice on /dev/tty with echo off, and is hashed with
 * password_scheme.
 *
 * The password never reaches stdio: it is read with read(2) into a stack
 * buffer that is wiped before return, so no copy lingers in a FILE
 * buffer. While echo is off, fatal terminal signals are caught so that
 * the terminal is restored before the signal takes effect.
 *
 * Exit status: 0 done, 1 failed, 2 usage (bad action, missing or invalid
 * NAME, option not valid for the action). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/passdb.h"
#include "auth/password.h"
#include "lib/log.h"

/* SASL PLAIN's limit (sasl.h): a longer password could never log in.
 * Buffers hold one more byte for a '\r' before the '\n', and the NUL. */
#define CMD_USER_PASSWORD_MAX 1024
#define CMD_USER_PASSWORD_BUF (CMD_USER_PASSWORD_MAX + 2)

enum cmd_user_action {
	CMD_USER_ADD,
	CMD_USER_PASSWD,
	CMD_USER_DEL,
};

/* Set by the handler while echo is off; read() then fails with EINTR. */
static volatile sig_atomic_t cmd_user_signal;

static const int cmd_user_signals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGTSTP};
#define CMD_USER_N_SIGNALS (sizeof(cmd_user_signals) / sizeof(cmd_user_signals[0]))

static int cmd_user_usage(const char *msg)
{
	fprintf(stderr,
	        "roost: %s\n"
	        "usage: roost user add|passwd NAME [--password-stdin] [-c FILE] [-o key=value]...\n"
	        "       roost user del NAME [-c FILE] [-o key=value]...\n",
	        msg);
	return 2;
}

static int cmd_user_parse(const struct cli_opts *opts, enum cmd_user_action *action_r,
                          const char **name_r)
{
	if (opts->n_positional != 2)
		return cmd_user_usage(opts->n_positional < 2 ? "missing action or user name"
		                                             : "too many arguments");
	const char *action = opts->positional[0];
	if (strcmp(action, "add") == 0)
		*action_r = CMD_USER_ADD;
	else if (strcmp(action, "passwd") == 0)
		*action_r = CMD_USER_PASSWD;
	else if (strcmp(action, "del") == 0)
		*action_r = CMD_USER_DEL;
	else
		return cmd_user_usage("unknown user action (add, passwd, del)");
	if (*action_r == CMD_USER_DEL && opts->password_stdin)
		return cmd_user_usage("--password-stdin is not valid for 'del'");
	*name_r = opts->positional[1];
	if (!passdb_user_name_valid(*name_r)) {
		char esc[300];
		log_escape(esc, sizeof(esc), *name_r, strlen(*name_r));
		fprintf(stderr,
		        "roost: invalid user name %s (1-255 bytes, no ':', space or "
		        "control characters)\n",
		        esc);
		return 2;
	}
	return 0;
}

/* Reads one line from fd (without its '\n', and without a '\r' before
 * it) into buf of size cap. Returns 0 and *len_r, or -1 with *error_r. */
static int cmd_user_read_line(int fd, char *buf, size_t cap, size_t *len_r, const char **error_r)
{
	size_t len = 0;
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR && cmd_user_signal == 0)
			continue;
		if (n < 0) {
			*error_r = errno == EINTR ? "interrupted" : "cannot read the password";
			return -1;
		}
		if (n == 0 || c == '\n')
			break;
		if (len + 1 >= cap) {
			*error_r = "password longer than 1024 bytes";
			return -1;
		}
		buf[len++] = c;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	*len_r = len;
	return 0;
}

static int cmd_user_check_password(const char *pw, size_t len, const char **error_r)
{
	if (len == 0)
		*error_r = "empty password";
	else if (len > CMD_USER_PASSWORD_MAX)
		*error_r = "password longer than 1024 bytes";
	else if (memchr(pw, '\0', len) != NULL)
		*error_r = "password contains a NUL byte";
	else
		return 0;
	return -1;
}

static void cmd_user_on_signal(int sig)
{
	cmd_user_signal = sig;
}

/* Without SA_RESTART, so a signal interrupts the blocking read(). */
static void cmd_user_catch_signals(struct sigaction *saved)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cmd_user_on_signal;
	sigemptyset(&sa.sa_mask);
	cmd_user_signal = 0;
	for (size_t i = 0; i < CMD_USER_N_SIGNALS; i++)
		sigaction(cmd_user_signals[i], &sa, &saved[i]);
}

/* Restores the handlers, then delivers a caught signal as if it had
 * arrived now, with the terminal already back to normal. */
static void cmd_user_release_signals(const struct sigaction *saved)
{
	for (size_t i = 0; i < CMD_USER_N_SIGNALS; i++)
		sigaction(cmd_user_signals[i], &saved[i], NULL);
	if (cmd_user_signal != 0)
		raise(cmd_user_signal);
}

static int cmd_user_prompt(int fd, const char *prompt, char *buf, size_t cap, size_t *len_r,
                           const char **error_r)
{
	if (write(fd, prompt, strlen(prompt)) < 0) {
		*error_r = "cannot write to /dev/tty";
		return -1;
	}
	return cmd_user_read_line(fd, buf, cap, len_r, error_r);
}

/* Asks twice with echo off; ECHONL still echoes the Enter so the next
 * prompt starts on its own line. */
static int cmd_user_ask_twice(int fd, char *pw, size_t cap, size_t *len_r, const char **error_r)
{
	char again[CMD_USER_PASSWORD_BUF];
	size_t again_len = 0;
	int ret = cmd_user_prompt(fd, "New password: ", pw, cap, len_r, error_r);
	if (ret == 0)
		ret = cmd_user_check_password(pw, *len_r, error_r);
	if (ret == 0)
		ret = cmd_user_prompt(fd, "Retype new password: ", again, sizeof(again), &again_len,
		                      error_r);
	if (ret == 0 && (again_len != *len_r || memcmp(pw, again, again_len) != 0)) {
		*error_r = "passwords do not match";
		ret = -1;
	}
	explicit_bzero(again, sizeof(again));
	return ret;
}

static int cmd_user_read_tty(char *pw, size_t cap, size_t *len_r, const char **error_r)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		*error_r = "no terminal to read the password from (use --password-stdin)";
		return -1;
	}
	struct termios saved, quiet;
	if (tcgetattr(fd, &saved) < 0) {
		close(fd);
		*error_r = "cannot read terminal settings (use --password-stdin)";
		return -1;
	}
	struct sigaction old[CMD_USER_N_SIGNALS];
	cmd_user_catch_signals(old);
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ECHONL;
	int ret = tcsetattr(fd, TCSAFLUSH, &quiet);
	if (ret < 0)
		*error_r = "cannot turn off terminal echo";
	else
		ret = cmd_user_ask_twice(fd, pw, cap, len_r, error_r);
	tcsetattr(fd, TCSAFLUSH, &saved);
	if (cmd_user_signal != 0)
		(void)!write(fd, "\n", 1);
	close(fd);
	cmd_user_release_signals(old);
	return ret;
}

static int cmd_user_read_password(bool from_stdin, char *pw, size_t cap, size_t *len_r,
                                  const char **error_r)
{
	if (!from_stdin)
		return cmd_user_read_tty(pw, cap, len_r, error_r);
	if (cmd_user_read_line(STDIN_FILENO, pw, cap, len_r, error_r) < 0)
		return -1;
	return cmd_user_check_password(pw, *len_r, error_r);
}

/* Fails early, before asking for a password, when the action cannot
 * succeed. passdb_file_set checks again under its lock. */
static int cmd_user_precheck(const char *path, const char *name, bool must_exist)
{
	const char *error;
	if (!must_exist && access(path, F_OK) < 0 && errno == ENOENT)
		return 0; /* the first `user add` creates the file */
	struct passdb *db = passdb_load(path, &error);
	if (db == NULL) {
		fprintf(stderr, "roost: %s\n", error);
		return -1;
	}
	bool exists = passdb_lookup(db, name) != NULL;
	passdb_unref(&db);
	if (exists == must_exist)
		return 0;
	fprintf(stderr, "roost: user '%s' %s\n", name,
	        exists ? "already exists" : "does not exist");
	return -1;
}

static int cmd_user_hash_and_store(const struct config *cfg, const char *name, bool must_exist,
                                   const char *pw, size_t pw_len)
{
	const char *error;
	char *hash = password_hash(cfg->password_scheme, pw, pw_len, &error);
	if (hash == NULL) {
		fprintf(stderr, "roost: password_scheme %s: %s\n", cfg->password_scheme, error);
		return -1;
	}
	int ret = passdb_file_set(cfg->passwd_file, name, hash, must_exist, !must_exist, &error);
	if (ret < 0)
		fprintf(stderr, "roost: %s\n", error);
	explicit_bzero(hash, strlen(hash)); /* a PLAIN "hash" is the password */
	free(hash);
	return ret;
}

static int cmd_user_set(const struct config *cfg, const struct cli_opts *opts,
                        enum cmd_user_action action, const char *name)
{
	bool must_exist = action == CMD_USER_PASSWD;
	if (!password_scheme_supported(cfg->password_scheme)) {
		fprintf(stderr, "roost: password_scheme %s cannot be used for new passwords\n",
		        cfg->password_scheme);
		return 1;
	}
	if (cmd_user_precheck(cfg->passwd_file, name, must_exist) < 0)
		return 1;
	char pw[CMD_USER_PASSWORD_BUF];
	size_t pw_len = 0;
	const char *error;
	int ret = cmd_user_read_password(opts->password_stdin, pw, sizeof(pw), &pw_len, &error);
	if (ret < 0)
		fprintf(stderr, "roost: %s\n", error);
	else
		ret = cmd_user_hash_and_store(cfg, name, must_exist, pw, pw_len);
	explicit_bzero(pw, sizeof(pw));
	if (ret < 0)
		return 1;
	printf("roost: user %s %s\n", name, must_exist ? "password changed" : "added");
	return 0;
}

static int cmd_user_del(const struct config *cfg, const char *name)
{
	const char *error;
	if (passdb_file_delete(cfg->passwd_file, name, &error) < 0) {
		fprintf(stderr, "roost: %s\n", error);
		return 1;
	}
	printf("roost: user %s deleted\n", name);
	return 0;
}

int cli_user(int argc, char **argv)
{
	struct cli_opts opts;
	memset(&opts, 0, sizeof(opts));
	if (cli_opts_parse(argc, argv, &opts) < 0)
		return 2;
	enum cmd_user_action action = CMD_USER_ADD;
	const char *name = NULL;
	int ret = cmd_user_parse(&opts, &action, &name);
	if (ret == 0) {
		struct config cfg;
		memset(&cfg, 0, sizeof(cfg));
		if (cli_load_config(&opts, &cfg) < 0)
			ret = 1;
		else if (action == CMD_USER_DEL)
			ret = cmd_user_del(&cfg, name);
		else
			ret = cmd_user_set(&cfg, &opts, action, name);
		/* safe either way: config_free leaves cfg zeroed */
		config_free(&cfg);
	}
	cli_opts_free(&opts);
	return ret;
}
