/* config: the option table and everything derived from it (see config.h).
 *
 * One static table describes every option: its name (which is also the
 * struct config field), type, default as text, range or choices, and a
 * one-line doc. Defaults are produced by parsing the default text with the
 * same code that parses the file and the -o overrides, so a default can
 * never be something the parser would reject; config_print and the example
 * file (checked against this table by test_config) come from it too.
 *
 * The file is read whole into memory and handed to inih line by line
 * through our own reader. The reader is what knows the line number: the
 * Debian build of inih (r55) is compiled without INI_HANDLER_LINENO, so
 * the handler gets no line number, and defining it on our side would only
 * change the handler type we pass, not how the library calls it. inih
 * calls the handler for a "key = value" line before it asks the reader
 * for the next line, so "the line the reader returned last" is exact.
 * The reader also rejects what inih would accept but we do not: sections,
 * "key: value", overlong lines (inih would split them) and indented lines
 * (inih would take them as multi-line continuations); it hands inih the
 * line without leading blanks so continuations cannot happen.
 *
 * Invariant: every string field of a struct config owned by this module is
 * malloc'd (never NULL after config_init_defaults), and every number field
 * holds a value within its table range. */
#include "config/config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/xalloc.h"

/* A config file larger than this is certainly a mistake (a log file
 * passed to -c, say); refusing it avoids reading a huge file into memory. */
#define CONFIG_FILE_MAX (1024 * 1024)

/* Timers work in milliseconds; a week keeps that within 32 bits. */
#define DURATION_MAX (7u * 24 * 3600)

enum opt_type {
	OPT_STRING,    /* free text, stored as is */
	OPT_PATH,      /* non-empty; relative ones resolved against the config dir */
	OPT_LISTEN,    /* comma-separated addr:port list, stored without blanks */
	OPT_CHOICE,    /* one of choices (any case), stored in its canonical spelling */
	OPT_ENUM,      /* one of choices (any case), stored as its index in an enum */
	OPT_UINT,      /* decimal number, stored in an unsigned or size_t */
	OPT_SIZE,      /* bytes, k/m/g suffix allowed; unsigned or size_t */
	OPT_DURATION,  /* seconds, s/m/h/d suffix allowed; unsigned */
	OPT_BOOL,      /* yes/no, true/false, on/off, 1/0; bool */
	OPT_LOG_LEVEL, /* a log level name; also sets cfg->log_level */
};

struct option {
	const char *name;
	enum opt_type type;
	size_t offset; /* of the field in struct config */
	size_t size;   /* of that field, to store numbers at the right width */
	const char *def;
	const char *doc;
	unsigned long long min, max; /* numeric types */
	const char *const *choices;  /* OPT_CHOICE, OPT_ENUM; NULL-terminated */
	int (*check)(const char *value, char **reason_r); /* OPT_STRING, optional */
};

static int check_server_name(const char *value, char **reason_r);

/* The table and its helpers are laid out by hand: clang-format would
 * scatter the macro arguments. */
/* clang-format off */
static const char *const tls_versions[] = {"TLSv1.2", "TLSv1.3", NULL};
static const char *const password_schemes[] = {
	"ARGON2ID", "ARGON2I", "SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "PLAIN", NULL,
};
/* Same order as enum plaintext_auth. */
static const char *const plaintext_auth_names[] = {"loopback", "always", "never", NULL};
/* Same order as enum conn_limit_policy. */
static const char *const conn_limit_policy_names[] = {"refuse", "replace-oldest", NULL};

/* The macros take the field name and use it as the option name, so the two
 * cannot drift apart (log_level is the one exception: its text goes into
 * log_level_name); the field's size is recorded so that numbers are stored
 * at the right width (checked by option_check_table). */
#define OPT_AS(name, t, f, def, min, max, choices, check, doc)                                     \
	{name, t, offsetof(struct config, f), sizeof(((struct config *)0)->f), def, doc, min, max, \
	 choices, check}
#define OPT(t, f, def, min, max, choices, check, doc)                                              \
	OPT_AS(#f, t, f, def, min, max, choices, check, doc)
#define STRING(f, def, check, doc) OPT(OPT_STRING, f, def, 0, 0, NULL, check, doc)
#define TYPED(t, f, def, doc)      OPT(t, f, def, 0, 0, NULL, NULL, doc)
#define CHOICE(t, f, def, choices, doc) OPT(t, f, def, 0, 0, choices, NULL, doc)
#define NUMBER(t, f, def, min, max, doc) OPT(t, f, def, min, max, NULL, NULL, doc)

static const struct option options[] = {
	TYPED(OPT_LISTEN, imap_listen, "127.0.0.1:1143",
	      "IMAP listeners (STARTTLS): comma-separated IPv4:port, [IPv6]:port, *:port; empty = none"),
	TYPED(OPT_LISTEN, imaps_listen, "127.0.0.1:1993",
	      "IMAPS listeners (TLS from the first byte), same syntax; empty = none"),
	TYPED(OPT_PATH, tls_cert, "tls/cert.pem", "PEM certificate chain, server certificate first"),
	TYPED(OPT_PATH, tls_key, "tls/key.pem", "PEM private key of tls_cert"),
	CHOICE(OPT_CHOICE, tls_min_version, "TLSv1.2", tls_versions,
	       "oldest TLS version accepted: TLSv1.2 or TLSv1.3"),
	STRING(tls_ciphers, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5:!DSS", NULL,
	       "TLS 1.2 cipher list (OpenSSL syntax); forward-secret AEAD ciphers only"),
	STRING(tls_ciphersuites,
	       "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256", NULL,
	       "TLS 1.3 cipher suites (OpenSSL syntax)"),
	NUMBER(OPT_DURATION, tls_handshake_timeout, "30s", 1, 3600,
	       "time a client has to complete the TLS handshake"),
	TYPED(OPT_PATH, passwd_file, "passwd",
	      "user database, Dovecot passwd-file format (user:{SCHEME}hash)"),
	CHOICE(OPT_CHOICE, password_scheme, "ARGON2ID", password_schemes,
	       "scheme for new passwords: ARGON2ID, ARGON2I, SHA512-CRYPT, SHA256-CRYPT, "
	       "BLF-CRYPT, PLAIN"),
	CHOICE(OPT_ENUM, plaintext_auth, "loopback", plaintext_auth_names,
	       "where passwords may be sent without TLS: loopback, always or never"),
	NUMBER(OPT_UINT, auth_workers, "0", 0, 1024,
	       "password hashing threads; 0 = one per CPU core"),
	NUMBER(OPT_DURATION, auth_cache_ttl, "10m", 0, DURATION_MAX,
	       "how long a verified password is remembered (as a keyed MAC, never in clear) so "
	       "the same user logging in again skips the slow hash; a password change "
	       "invalidates it at once; 0 = no cache"),
	NUMBER(OPT_UINT, auth_cache_size, "65536", 0, 16777216,
	       "users the password cache holds (a fixed table of about 50 bytes per slot plus "
	       "the names); 0 = no cache"),
	TYPED(OPT_PATH, mail_root, "mail", "directory holding the users' mailboxes"),
	TYPED(OPT_BOOL, mail_fsync, "yes",
	      "fsync message files and the index before acknowledging APPEND/COPY/MOVE; "
	      "turn off only for throwaway test data"),
	NUMBER(OPT_DURATION, mail_linger, "30s", 0, 3600,
	       "how long a user's index stays open after their last session ends, so that a "
	       "client that polls (log in, check, log out) does not reopen and re-check it each "
	       "time; 0 = close at once"),
	NUMBER(OPT_UINT, mail_linger_users, "256", 0, 1048576,
	       "users kept open that way at most, the longest unused closed first (each holds "
	       "two descriptors and its SQLite page cache)"),
	TYPED(OPT_BOOL, fts, "yes",
	      "keep a full-text index per user (roost-fts.sqlite, a cache built in the "
	      "background after a mailbox's first SEARCH BODY/TEXT/FROM/TO/CC/BCC/SUBJECT); "
	      "no = always scan"),
	NUMBER(OPT_UINT, fts_index_budget_ms, "2000", 1, 600000,
	       "indexing time of one background job of the full-text index (low priority; each "
	       "queues the next); a SEARCH never waits for it: messages not indexed yet are "
	       "scanned"),
	NUMBER(OPT_SIZE, mail_quota, "0", 0, SIZE_MAX,
	       "storage quota of each user (sum of message sizes); APPEND/COPY/delivery over it "
	       "is refused; the passwd-file extra field userdb_quota_rule=*:storage=<size> "
	       "overrides it per user; 0 = unlimited"),
	NUMBER(OPT_UINT, mail_quota_messages, "0", 0, 4294967295u,
	       "message-count quota of each user; userdb_quota_rule=*:messages=<n> overrides it "
	       "per user; 0 = unlimited"),
	NUMBER(OPT_UINT, store_workers, "0", 0, 1024,
	       "threads for blocking mail store writes (fsync); 0 = four per CPU core"),
	TYPED(OPT_PATH, state_dir, "state", "directory for the control socket and runtime files"),
	NUMBER(OPT_UINT, threads, "0", 0, 1024, "event-loop threads; 0 = one per CPU core"),
	STRING(run_user, "", NULL,
	       "user to switch to after binding when started as root; empty = do not switch"),
	OPT_AS("log_level", OPT_LOG_LEVEL, log_level_name, "info", 0, 0, NULL, NULL,
	       "least severe events logged: debug, info, warn or error"),
	STRING(server_name, "roost", check_server_name,
	       "name in the greeting and the ID response (printable ASCII, no \" or \\)"),
	NUMBER(OPT_SIZE, max_line_length, "64k", 1024, 16 << 20,
	       "longest command line accepted, literals excluded (1k to 16m)"),
	NUMBER(OPT_SIZE, max_literal_size, "64m", 1, SIZE_MAX,
	       "largest literal (e.g. an APPENDed message) after login"),
	NUMBER(OPT_SIZE, max_literal_size_preauth, "8k", 1, SIZE_MAX,
	       "largest literal before login; at most max_literal_size"),
	NUMBER(OPT_UINT, max_connections, "18000", 1, 10000000,
	       "client connections served at once; further ones are refused"),
	NUMBER(OPT_SIZE, output_buffer_limit, "4m", 64 << 10, SIZE_MAX,
	       "output queued for a client before it is cut off as too slow (at least 64k)"),
	/* traffic governance (limits/, issue 4) */
	NUMBER(OPT_UINT, max_preauth_connections_per_ip, "100", 0, 10000000,
	       "connections from one address not yet logged in; further ones get BYE "
	       "[UNAVAILABLE]; 0 = no limit"),
	NUMBER(OPT_UINT, connect_rate_per_ip, "1200", 0, 10000000,
	       "connection attempts per address per minute; further ones get BYE [UNAVAILABLE]; "
	       "0 = no limit"),
	NUMBER(OPT_UINT, max_user_connections, "200", 0, 10000000,
	       "sessions of one user at once; 0 = no limit"),
	CHOICE(OPT_ENUM, max_user_connections_policy, "refuse", conn_limit_policy_names,
	       "over max_user_connections: refuse (NO [LIMIT]) or replace-oldest (end the "
	       "user's longest-idle session)"),
	NUMBER(OPT_UINT, max_userip_connections, "50", 0, 10000000,
	       "sessions of one user from one address at once; 0 = no limit"),
	CHOICE(OPT_ENUM, max_userip_connections_policy, "replace-oldest", conn_limit_policy_names,
	       "over max_userip_connections: refuse (NO [LIMIT]) or replace-oldest (end the "
	       "longest-idle session from that address)"),
	NUMBER(OPT_UINT, auth_fail_delay_ms, "500", 0, 600000,
	       "milliseconds an address waits before its password check after 2 failures in a "
	       "row; doubles with each further failure"),
	NUMBER(OPT_UINT, auth_fail_delay_max_ms, "15000", 0, 600000,
	       "longest authentication failure delay, in milliseconds"),
	NUMBER(OPT_UINT, command_rate, "100", 0, 10000000,
	       "commands per second one user may send, sustained; faster ones are delayed; 0 = "
	       "no limit"),
	NUMBER(OPT_UINT, command_burst, "500", 1, 10000000,
	       "commands one user may send at once before command_rate applies"),
	NUMBER(OPT_UINT, throttle_max_delay_ms, "10000", 0, 3600000,
	       "longest delay of a throttled command in milliseconds; beyond it the command "
	       "gets NO [LIMIT]; 0 = no cap"),
	NUMBER(OPT_UINT, throttle_max_delayed, "100", 0, 10000000,
	       "consecutive delayed commands of a session before further ones get NO [LIMIT]; 0 "
	       "= no cap"),
	NUMBER(OPT_SIZE, download_limit, "0", 0, SIZE_MAX,
	       "FETCH output bytes per user per bandwidth_window; above it output waits; 0 = no "
	       "limit"),
	NUMBER(OPT_SIZE, upload_limit, "0", 0, SIZE_MAX,
	       "APPEND and literal bytes per user per bandwidth_window; above it the next "
	       "command waits; 0 = no limit"),
	NUMBER(OPT_DURATION, bandwidth_window, "60s", 1, DURATION_MAX,
	       "length of the rolling window of download_limit and upload_limit"),
	NUMBER(OPT_UINT, user_cpu_percent, "5", 0, 100,
	       "share of one network thread's time (percent) one user's commands may take, "
	       "sustained; a bulk FETCH or SEARCH beyond it continues in spaced slices; 0 or 100 "
	       "= no limit"),
	NUMBER(OPT_UINT, user_cpu_burst_ms, "2000", 1, 3600000,
	       "thread time in milliseconds one user may take at once before user_cpu_percent "
	       "applies"),
	NUMBER(OPT_DURATION, preauth_timeout, "60s", 1, DURATION_MAX,
	       "idle time allowed before login"),
	NUMBER(OPT_DURATION, idle_timeout, "30m", 1, DURATION_MAX,
	       "idle time allowed after login; RFC 9051 section 5.4 asks for at least 30m"),
	NUMBER(OPT_DURATION, idle_keepalive, "2m", 1, DURATION_MAX,
	       "interval of the untagged OK sent to a client in IDLE, so NAT boxes keep the "
	       "connection"),
	/* timeouts and logs (admin, issue 4) */
	NUMBER(OPT_DURATION, output_stall_timeout, "60s", 1, DURATION_MAX,
	       "time queued output may wait without any of it being read before the client is "
	       "cut off and its memory freed"),
	TYPED(OPT_PATH, audit_log, "audit.log",
	      "JSON-lines audit log of logins, failed logins, DELETE, RENAME, EXPUNGE and MOVE; "
	      "reopened on SIGHUP"),
	/* metrics (issue 4) */
	TYPED(OPT_LISTEN, metrics_listen, "127.0.0.1:9143",
	      "Prometheus metrics endpoint (HTTP GET /metrics), same syntax as imap_listen; keep it "
	      "on loopback or a private network; empty = off; restart to change"),
	NUMBER(OPT_DURATION, metrics_timeout, "10s", 1, 3600,
	       "time a metrics HTTP connection may take to send its request and read the answer"),
	/* LMTP delivery (issue 5) */
	STRING(lmtp_socket, "lmtp.sock", NULL,
	       "LMTP unix socket (mode 0660) for the MTA; a relative path is inside state_dir; "
	       "empty = none; restart to change"),
	TYPED(OPT_LISTEN, lmtp_listen, "",
	      "LMTP TCP listeners, same syntax as imap_listen; keep them on loopback; empty = none; "
	      "restart to change"),
	NUMBER(OPT_SIZE, lmtp_max_message_size, "50m", 1024, SIZE_MAX,
	       "largest message LMTP accepts (SIZE in LHLO); larger ones get 552 5.3.4"),
	NUMBER(OPT_UINT, lmtp_max_recipients, "100", 1, 100000,
	       "recipients of one LMTP transaction; further RCPTs get 452 4.5.3"),
	NUMBER(OPT_DURATION, lmtp_timeout, "5m", 1, DURATION_MAX,
	       "idle time allowed to an LMTP client before 421 and close"),
	STRING(lmtp_detail_separator, "+", NULL,
	       "characters that separate user and detail in a local part (user+detail); empty = "
	       "none; restart to change"),
	TYPED(OPT_BOOL, lmtp_detail_to_folder, "yes",
	      "deliver user+detail@domain into the user's folder named detail when it exists "
	      "(else INBOX)"),
};
/* clang-format on */

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* Enum fields are read and written as int. */
_Static_assert(sizeof(enum plaintext_auth) == sizeof(int), "enum is not int-sized");
_Static_assert(sizeof(enum conn_limit_policy) == sizeof(int), "enum is not int-sized");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum is not int-sized");

/* ---- small helpers ---- */

static char *strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* printf into a malloc'd string. */
static char *strfmt(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	char *s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static void *field(struct config *cfg, const struct option *opt)
{
	return (char *)cfg + opt->offset;
}

static const void *cfield(const struct config *cfg, const struct option *opt)
{
	return (const char *)cfg + opt->offset;
}

static bool option_is_string(const struct option *opt)
{
	switch (opt->type) {
	case OPT_STRING:
	case OPT_PATH:
	case OPT_LISTEN:
	case OPT_CHOICE:
	case OPT_LOG_LEVEL:
		return true;
	default:
		return false;
	}
}

/* A string field holds either the table's static default text (what
 * config_init_defaults leaves there) or a malloc'd string; only the latter
 * is ever freed. */
static void free_string(const struct option *opt, char *s)
{
	if (s != opt->def)
		free(s);
}

static void set_string(struct config *cfg, const struct option *opt, char *owned)
{
	char **p = field(cfg, opt);
	free_string(opt, *p);
	*p = owned;
}

static void store_number(struct config *cfg, const struct option *opt, unsigned long long v)
{
	if (opt->size == sizeof(unsigned))
		*(unsigned *)field(cfg, opt) = (unsigned)v;
	else
		*(size_t *)field(cfg, opt) = (size_t)v;
}

static unsigned long long load_number(const struct config *cfg, const struct option *opt)
{
	if (opt->size == sizeof(unsigned))
		return *(const unsigned *)cfield(cfg, opt);
	return *(const size_t *)cfield(cfg, opt);
}

static const struct option *option_find(const char *name)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	}
	return NULL;
}

/* ---- value syntax ---- */

/* Parses the decimal digits at *s (at least one) into *v_r and advances *s
 * past them. Returns -1 when there are none or the number overflows. Signs
 * are not accepted: strtoull would quietly turn "-1" into a huge value. */
static int parse_digits(const char **s, unsigned long long *v_r)
{
	const char *p = *s;
	unsigned long long v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*s = p;
	*v_r = v;
	return 0;
}

/* A number optionally followed by one suffix letter from units (matched
 * case-insensitively), which multiplies it by the matching factor. */
static int parse_scaled(const char *s, const char *units, const unsigned long long *factors,
                        unsigned long long *v_r)
{
	unsigned long long v;
	if (parse_digits(&s, &v) < 0)
		return -1;
	unsigned long long factor = 1;
	if (*s != '\0') {
		const char *u = strchr(units, (char)(*s | 0x20));
		if (u == NULL || s[1] != '\0')
			return -1;
		factor = factors[u - units];
	}
	if (v > ULLONG_MAX / factor)
		return -1;
	*v_r = v * factor;
	return 0;
}

static int parse_size_ull(const char *s, unsigned long long *v_r)
{
	static const unsigned long long factors[] = {1ull << 10, 1ull << 20, 1ull << 30};
	return parse_scaled(s, "kmg", factors, v_r);
}

static int parse_duration_ull(const char *s, unsigned long long *v_r)
{
	static const unsigned long long factors[] = {1, 60, 3600, 86400};
	return parse_scaled(s, "smhd", factors, v_r);
}

int config_parse_size(const char *s, size_t *size_r)
{
	unsigned long long v;
	if (parse_size_ull(s, &v) < 0 || v > SIZE_MAX)
		return -1;
	*size_r = (size_t)v;
	return 0;
}

int config_parse_duration(const char *s, unsigned *seconds_r)
{
	unsigned long long v;
	if (parse_duration_ull(s, &v) < 0 || v > UINT_MAX)
		return -1;
	*seconds_r = (unsigned)v;
	return 0;
}

int config_parse_bool(const char *s, bool *value_r)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*value_r = strcasecmp(s, yes[i]) == 0;
			return 0;
		}
	}
	return -1;
}

/* Index of s in a NULL-terminated list, ignoring case, or -1. */
static int choice_index(const char *const *choices, const char *s)
{
	for (int i = 0; choices[i] != NULL; i++) {
		if (strcasecmp(choices[i], s) == 0)
			return i;
	}
	return -1;
}

/* "a, b or c" for messages. */
static char *choices_text(const char *const *choices)
{
	size_t n = 0, len = 1;
	for (; choices[n] != NULL; n++)
		len += strlen(choices[n]) + 4;
	char *s = xmalloc(len);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, i + 1 == n ? " or " : ", ");
		strcat(s, choices[i]);
	}
	return s;
}

/* ---- listener lists ---- */

/* Loose check of one "host:port" element: the net layer does the real
 * parsing (and name resolution) at start; this catches typos early, with
 * a line number. IPv6 needs brackets, or the port would be ambiguous. */
static int listen_check_one(const char *e, size_t len)
{
	const char *colon = NULL;
	for (size_t i = 0; i < len; i++) {
		if (e[i] == ' ' || e[i] == '\t')
			return -1;
		if (e[i] == ':')
			colon = e + i;
	}
	if (colon == NULL || colon == e)
		return -1;
	size_t hlen = (size_t)(colon - e);
	if (e[0] == '[' ? (hlen < 3 || e[hlen - 1] != ']') : memchr(e, ':', hlen) != NULL)
		return -1;
	if (memchr(e, ']', hlen) != NULL && e[0] != '[')
		return -1;
	const char *p = colon + 1;
	unsigned long long port;
	if (parse_digits(&p, &port) < 0 || p != e + len || port < 1 || port > 65535)
		return -1;
	return 0;
}

/* Checks a comma-separated list and returns it with the blanks around the
 * elements removed, so that the net layer sees one canonical spelling.
 * An empty list is valid (no listener). */
static char *listen_normalize(const char *value)
{
	size_t vlen = strlen(value);
	char *out = xmalloc(vlen + 1);
	size_t olen = 0;
	if (vlen == 0) {
		out[0] = '\0';
		return out;
	}
	for (const char *p = value;; p++) {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *e = end;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (listen_check_one(p, (size_t)(e - p)) < 0) {
			free(out);
			return NULL;
		}
		if (olen > 0)
			out[olen++] = ',';
		memcpy(out + olen, p, (size_t)(e - p));
		olen += (size_t)(e - p);
		if (*end == '\0')
			break;
		p = end;
	}
	out[olen] = '\0';
	return out;
}

static int check_server_name(const char *value, char **reason_r)
{
	/* It goes into an IMAP quoted string (ID) and the greeting line. */
	for (const char *p = value; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
			*reason_r = xstrdup("server_name: only printable ASCII without \" and \\");
			return -1;
		}
	}
	if (value[0] == '\0') {
		*reason_r = xstrdup("server_name: must not be empty");
		return -1;
	}
	return 0;
}

/* ---- setting one option from text ---- */

static const char *number_expected(enum opt_type type)
{
	switch (type) {
	case OPT_SIZE:
		return "a size (bytes, or a number with suffix k, m or g)";
	case OPT_DURATION:
		return "a duration (seconds, or a number with suffix s, m, h or d)";
	default:
		return "a non-negative decimal number";
	}
}

static int set_number(struct config *cfg, const struct option *opt, const char *value,
                      char **reason_r)
{
	unsigned long long v;
	int ret = opt->type == OPT_SIZE       ? parse_size_ull(value, &v)
	          : opt->type == OPT_DURATION ? parse_duration_ull(value, &v)
	                                      : parse_scaled(value, "", NULL, &v);
	if (ret < 0) {
		*reason_r = strfmt("%s: expected %s, got '%s'", opt->name,
		                   number_expected(opt->type), value);
		return -1;
	}
	if (v < opt->min || v > opt->max) {
		const char *unit = opt->type == OPT_SIZE       ? " bytes"
		                   : opt->type == OPT_DURATION ? " seconds"
		                                               : "";
		if (opt->max == SIZE_MAX || opt->max == UINT_MAX)
			*reason_r = strfmt("%s: must be at least %llu, got '%s'", opt->name,
			                   opt->min, value);
		else
			*reason_r = strfmt("%s: must be between %llu and %llu%s, got '%s'",
			                   opt->name, opt->min, opt->max, unit, value);
		return -1;
	}
	store_number(cfg, opt, v);
	return 0;
}

static int set_choice(struct config *cfg, const struct option *opt, const char *value,
                      char **reason_r)
{
	int i = choice_index(opt->choices, value);
	if (i < 0) {
		char *list = choices_text(opt->choices);
		*reason_r = strfmt("%s: expected %s, got '%s'", opt->name, list, value);
		free(list);
		return -1;
	}
	if (opt->type == OPT_ENUM)
		*(int *)field(cfg, opt) = i;
	else
		set_string(cfg, opt, xstrdup(opt->choices[i]));
	return 0;
}

static int set_log_level(struct config *cfg, const struct option *opt, const char *value,
                         char **reason_r)
{
	enum log_level level;
	if (log_level_parse(value, &level) < 0) {
		*reason_r =
		    strfmt("%s: expected debug, info, warn or error, got '%s'", opt->name, value);
		return -1;
	}
	/* The name is kept in its canonical spelling ("warning" -> "warn"). */
	cfg->log_level = level;
	set_string(cfg, opt, xstrdup(log_level_name(level)));
	return 0;
}

static int set_text(struct config *cfg, const struct option *opt, const char *value,
                    char **reason_r)
{
	char *owned;
	if (opt->type == OPT_LISTEN) {
		owned = listen_normalize(value);
		if (owned == NULL) {
			*reason_r = strfmt("%s: expected comma-separated addr:port (IPv4:port, "
			                   "[IPv6]:port, *:port; port 1-65535), got '%s'",
			                   opt->name, value);
			return -1;
		}
	} else {
		if (opt->type == OPT_PATH && value[0] == '\0') {
			*reason_r = strfmt("%s: expected a path, got an empty value", opt->name);
			return -1;
		}
		if (opt->check != NULL && opt->check(value, reason_r) < 0)
			return -1;
		owned = xstrdup(value);
	}
	set_string(cfg, opt, owned);
	return 0;
}

/* Sets opt from value. Returns 0, or -1 with a malloc'd reason that names
 * the key and what was expected. */
static int option_set(struct config *cfg, const struct option *opt, const char *value,
                      char **reason_r)
{
	bool b;
	switch (opt->type) {
	case OPT_STRING:
	case OPT_PATH:
	case OPT_LISTEN:
		return set_text(cfg, opt, value, reason_r);
	case OPT_CHOICE:
	case OPT_ENUM:
		return set_choice(cfg, opt, value, reason_r);
	case OPT_UINT:
	case OPT_SIZE:
	case OPT_DURATION:
		return set_number(cfg, opt, value, reason_r);
	case OPT_BOOL:
		if (config_parse_bool(value, &b) < 0) {
			*reason_r =
			    strfmt("%s: expected yes/no, true/false, on/off or 1/0, got '%s'",
			           opt->name, value);
			return -1;
		}
		*(bool *)field(cfg, opt) = b;
		return 0;
	case OPT_LOG_LEVEL:
		return set_log_level(cfg, opt, value, reason_r);
	}
	abort();
}

/* ---- defaults, free, print ---- */

/* The table is code: a field of the wrong width or a default the parser
 * rejects is a programming error, caught the first time defaults load. */
static void option_check_table(const struct option *opt)
{
	size_t want = 0;
	switch (opt->type) {
	case OPT_UINT:
	case OPT_SIZE:
	case OPT_DURATION:
		if (opt->size != sizeof(unsigned) && opt->size != sizeof(size_t))
			break;
		want = opt->size;
		if (opt->max > (opt->size == sizeof(unsigned) ? UINT_MAX : SIZE_MAX))
			want = 0;
		break;
	case OPT_ENUM:
		want = sizeof(int);
		break;
	case OPT_BOOL:
		want = sizeof(bool);
		break;
	default:
		want = sizeof(char *);
		break;
	}
	if (opt->size != want)
		log_fatal("config: option table entry '%s' does not match its field", opt->name);
}

/* Strings are left pointing at the table's default text, so that a
 * config holding only defaults owns no memory: config_load may then be
 * called on it without leaking, whichever way callers read "loads over
 * the defaults". The text is parsed anyway, to catch a default the parser
 * would reject or would store differently (not canonical). */
void config_init_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option *opt = &options[i];
		char *reason = NULL;
		option_check_table(opt);
		if (option_set(cfg, opt, opt->def, &reason) < 0)
			log_fatal("config: bad default: %s", reason);
		if (!option_is_string(opt))
			continue;
		char **p = field(cfg, opt);
		if (strcmp(*p, opt->def) != 0)
			log_fatal("config: default of %s is not canonical", opt->name);
		set_string(cfg, opt, (char *)opt->def);
	}
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (option_is_string(&options[i]))
			free_string(&options[i], *(char **)field(cfg, &options[i]));
	}
	free(cfg->config_path);
	free(cfg->config_dir);
	memset(cfg, 0, sizeof(*cfg));
}

static void option_print(const struct config *cfg, const struct option *opt, FILE *out)
{
	fprintf(out, "# %s\n%s =", opt->doc, opt->name);
	switch (opt->type) {
	case OPT_UINT:
	case OPT_SIZE:
	case OPT_DURATION:
		/* Plain bytes and seconds: exact, whatever suffix was used. */
		fprintf(out, " %llu\n", load_number(cfg, opt));
		return;
	case OPT_ENUM:
		fprintf(out, " %s\n", opt->choices[*(const int *)cfield(cfg, opt)]);
		return;
	case OPT_BOOL:
		fprintf(out, " %s\n", *(const bool *)cfield(cfg, opt) ? "yes" : "no");
		return;
	default: {
		const char *s = *(char *const *)cfield(cfg, opt);
		/* "key =" for an empty value reads back as empty. */
		fprintf(out, "%s%s\n", s[0] != '\0' ? " " : "", s);
		return;
	}
	}
}

void config_print(const struct config *cfg, FILE *out)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (i > 0)
			fputc('\n', out);
		option_print(cfg, &options[i], out);
	}
}

int config_option_info(size_t i, const char **name_r, const char **default_r, const char **doc_r)
{
	if (i >= N_OPTIONS)
		return -1;
	*name_r = options[i].name;
	*default_r = options[i].def;
	*doc_r = options[i].doc;
	return 0;
}

/* ---- loading a file ---- */

struct load {
	struct config *cfg;
	const char *path; /* as given, for messages */
	const char *next; /* unread part of the file's text */
	const char *end;
	int lineno;            /* of the line the reader returned last */
	int set_at[N_OPTIONS]; /* line that set each option, 0 = not in the file */
	char *error;           /* first error, "path:line: reason" */
};

static void load_fail(struct load *ld, char *reason)
{
	ld->error = strfmt("%s:%d: %s", ld->path, ld->lineno, reason);
	free(reason);
}

/* What the reader refuses in a line (leading blanks already skipped,
 * trailing blanks cut): returns a malloc'd reason or NULL when it is fine. */
static char *load_check_line(const char *line, size_t len, size_t max)
{
	if (memchr(line, '\0', len) != NULL)
		return xstrdup("NUL byte in line");
	if (len > max)
		return strfmt("line longer than %zu characters", max);
	if (len == 0 || line[0] == '#' || line[0] == ';')
		return NULL;
	if (line[0] == '[')
		return xstrdup("sections are not supported");
	/* inih also splits "key: value"; only one syntax is documented. */
	size_t i = strcspn(line, "=:");
	if (i >= len || line[i] != '=')
		return xstrdup("expected 'key = value'");
	return NULL;
}

/* inih's fgets-like reader: copies the next line into str (size num). */
static char *load_read_line(char *str, int num, void *stream)
{
	struct load *ld = stream;
	if (ld->error != NULL || ld->next >= ld->end)
		return NULL;
	const char *line = ld->next;
	const char *nl = memchr(line, '\n', (size_t)(ld->end - line));
	size_t len = (size_t)((nl != NULL ? nl : ld->end) - line);
	ld->next = nl != NULL ? nl + 1 : ld->end;
	ld->lineno++;
	if (ld->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3; /* UTF-8 byte order mark */
		len -= 3;
	}
	while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	char *reason = load_check_line(line, len, num > 1 ? (size_t)num - 1 : 0);
	if (reason != NULL) {
		load_fail(ld, reason);
		return NULL;
	}
	memcpy(str, line, len);
	str[len] = '\0';
	return str;
}

/* inih's handler: one "key = value" line, always the reader's last line. */
static int load_handle(void *user, const char *section, const char *name, const char *value)
{
	struct load *ld = user;
	(void)section; /* always "": the reader stops at a section line */
	const struct option *opt = option_find(name);
	if (opt == NULL) {
		load_fail(ld, strfmt("unknown key '%s'", name));
		return 0;
	}
	size_t i = (size_t)(opt - options);
	if (ld->set_at[i] != 0) {
		load_fail(ld,
		          strfmt("duplicate key '%s' (first set on line %d)", name, ld->set_at[i]));
		return 0;
	}
	char *reason;
	if (option_set(ld->cfg, opt, value, &reason) < 0) {
		load_fail(ld, reason);
		return 0;
	}
	ld->set_at[i] = ld->lineno;
	return 1;
}

/* Reads the whole file into a malloc'd, NUL-terminated buffer. */
static char *read_file(const char *path, size_t *len_r, char **error_r)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		*error_r = strfmt("%s: %s", path, strerror(errno));
		return NULL;
	}
	char *text = xmalloc(CONFIG_FILE_MAX + 1);
	size_t len = fread(text, 1, CONFIG_FILE_MAX + 1, f);
	int err = ferror(f) ? errno : 0;
	fclose(f);
	if (err != 0 || len > CONFIG_FILE_MAX) {
		*error_r = err != 0 ? strfmt("%s: %s", path, strerror(err))
		                    : strfmt("%s: larger than %d bytes", path, CONFIG_FILE_MAX);
		free(text);
		return NULL;
	}
	text[len] = '\0';
	*len_r = len;
	return text;
}

static int load_file(struct load *ld, char **error_r)
{
	size_t len;
	char *text = read_file(ld->path, &len, error_r);
	if (text == NULL)
		return -1;
	ld->next = text;
	ld->end = text + len;
	int ret = ini_parse_stream(load_read_line, ld, load_handle, ld);
	free(text);
	if (ld->error != NULL) {
		*error_r = ld->error;
		return -1;
	}
	if (ret != 0) {
		/* Only lines our reader let through but inih still refused,
		 * e.g. "key ; = value" where the comment hides the '='. */
		*error_r = ret > 0 ? strfmt("%s:%d: expected 'key = value'", ld->path, ret)
		                   : strfmt("%s: inih error %d", ld->path, ret);
		return -1;
	}
	return 0;
}

/* ---- overrides, validation, paths ---- */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int apply_override(struct config *cfg, const char *ovr, char **error_r)
{
	char *copy = xstrdup(ovr);
	char *eq = strchr(copy, '=');
	char *reason = NULL;
	if (eq == NULL) {
		reason = xstrdup("expected key=value");
	} else {
		*eq = '\0';
		const char *key = trim(copy), *value = trim(eq + 1);
		const struct option *opt = option_find(key);
		if (opt == NULL)
			reason = strfmt("unknown key '%s'", key);
		else
			option_set(cfg, opt, value, &reason);
	}
	free(copy);
	if (reason != NULL) {
		*error_r = strfmt("-o %s: %s", ovr, reason);
		free(reason);
		return -1;
	}
	return 0;
}

/* Checks that involve more than one option, once everything is set. */
static int config_validate(const struct config *cfg, const char *where, char **error_r)
{
	if (cfg->max_literal_size_preauth > cfg->max_literal_size) {
		*error_r = strfmt("%s: max_literal_size_preauth (%zu) must not exceed "
		                  "max_literal_size (%zu)",
		                  where, cfg->max_literal_size_preauth, cfg->max_literal_size);
		return -1;
	}
	return 0;
}

/* The absolute directory of path, or the current directory for NULL. */
static char *config_dir_of(const char *path, char **error_r)
{
	char *dir;
	if (path == NULL) {
		dir = getcwd(NULL, 0);
		if (dir == NULL)
			*error_r = strfmt("current directory: %s", strerror(errno));
		return dir;
	}
	const char *slash = strrchr(path, '/');
	char *parent = slash == NULL   ? xstrdup(".")
	               : slash == path ? xstrdup("/")
	                               : xstrndup(path, (size_t)(slash - path));
	dir = realpath(parent, NULL);
	if (dir == NULL)
		*error_r = strfmt("%s: %s", parent, strerror(errno));
	free(parent);
	return dir;
}

static void resolve_paths(struct config *cfg)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option *opt = &options[i];
		if (opt->type != OPT_PATH)
			continue;
		const char *p = *(char **)field(cfg, opt);
		if (p[0] == '/')
			continue;
		while (p[0] == '.' && p[1] == '/')
			p += 2;
		if (strcmp(p, ".") == 0 || p[0] == '\0')
			set_string(cfg, opt, xstrdup(cfg->config_dir));
		else if (strcmp(cfg->config_dir, "/") == 0)
			set_string(cfg, opt, strfmt("/%s", p));
		else
			set_string(cfg, opt, strfmt("%s/%s", cfg->config_dir, p));
	}
}

static int config_load_steps(struct config *cfg, const char *path, char *const *overrides, size_t n,
                             char **error_r)
{
	if (path != NULL) {
		struct load ld = {.cfg = cfg, .path = path};
		if (load_file(&ld, error_r) < 0)
			return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (apply_override(cfg, overrides[i], error_r) < 0)
			return -1;
	}
	if (config_validate(cfg, path != NULL ? path : "config", error_r) < 0)
		return -1;
	cfg->config_dir = config_dir_of(path, error_r);
	if (cfg->config_dir == NULL)
		return -1;
	cfg->config_path = path != NULL ? xstrdup(path) : NULL;
	resolve_paths(cfg);
	return 0;
}

int config_load(struct config *cfg, const char *path, char *const *overrides, size_t n,
                char **error_r)
{
	config_init_defaults(cfg);
	*error_r = NULL;
	if (config_load_steps(cfg, path, overrides, n, error_r) < 0) {
		config_free(cfg);
		return -1;
	}
	return 0;
}
