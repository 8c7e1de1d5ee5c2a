/* config: roost's settings, one flat "key = value" file.
 *
 * Every option is described once, in a table in config.c (name, type,
 * default, one-line documentation); loading, `-o key=value` overrides,
 * `roost check-config` output and validation all come from that table, and
 * etc/roost.conf.example lists every option with its default.
 *
 * The file is INI-style (parsed with inih): "key = value" lines, '#' or ';'
 * comments, no sections. Unknown keys, bad values and duplicate keys are
 * errors reported as "file:line: reason". Durations accept a plain number
 * of seconds or a suffix s/m/h/d ("30m"); sizes accept k/m/g (KiB, MiB,
 * GiB). Relative paths are taken relative to the directory of the config
 * file, so a config under ./var can say "tls_cert = tls/cert.pem". */
#ifndef ROOST_CONFIG_CONFIG_H
#define ROOST_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/log.h"

enum plaintext_auth {
	PLAINTEXT_AUTH_LOOPBACK, /* allowed on loopback only (default) */
	PLAINTEXT_AUTH_ALWAYS,   /* allowed everywhere (tests, trusted nets) */
	PLAINTEXT_AUTH_NEVER,    /* TLS required even on loopback */
};

/* What a per-user connection limit does when it is reached. */
enum conn_limit_policy {
	CONN_LIMIT_REFUSE,         /* the new login gets NO [LIMIT] */
	CONN_LIMIT_REPLACE_OLDEST, /* the longest-idle session is ended */
};

struct config {
	/* listeners: comma-separated "addr:port" ("[::1]:1143" for IPv6);
	 * empty disables */
	char *imap_listen;  /* default "127.0.0.1:1143" */
	char *imaps_listen; /* default "127.0.0.1:1993" */

	/* TLS */
	char *tls_cert;          /* PEM certificate chain; default "tls/cert.pem" */
	char *tls_key;           /* PEM private key; default "tls/key.pem" */
	char *tls_min_version;   /* "TLSv1.2" (default) or "TLSv1.3" */
	char *tls_ciphers;       /* TLS 1.2 cipher list (OpenSSL syntax) */
	char *tls_ciphersuites;  /* TLS 1.3 suites */
	unsigned tls_handshake_timeout; /* seconds, default 30 */

	/* authentication */
	char *passwd_file;       /* default "passwd" */
	char *password_scheme;   /* scheme for `roost user add`; default "ARGON2ID" */
	enum plaintext_auth plaintext_auth;
	unsigned auth_workers;   /* hashing threads; 0 = number of cores */
	unsigned auth_cache_ttl; /* seconds a verified password is remembered; 0 = off */
	unsigned auth_cache_size;

	/* storage */
	char *mail_root;         /* default "mail" */
	bool mail_fsync;         /* default yes */
	unsigned fts_index_budget_ms; /* indexing time per background job */
	unsigned mail_linger;       /* seconds an unused user stays open; 0 = close at once */
	unsigned mail_linger_users; /* users kept open that way at most */
	bool fts;                /* default yes: full-text index for SEARCH BODY/TEXT */
	size_t mail_quota;       /* bytes per user; 0 = unlimited (default) */
	unsigned mail_quota_messages; /* messages per user; 0 = unlimited (default) */
	unsigned store_workers;  /* threads for store writes; 0 = number of cores */
	char *state_dir;         /* default "state" (control socket, runtime files) */

	/* process */
	unsigned threads;        /* event-loop threads; 0 = number of cores */
	char *run_user;          /* drop privileges to this user after bind; "" = stay */
	char *log_level_name;    /* "info" */
	enum log_level log_level;
	char *server_name;       /* greeting/ID name; default "roost" */

	/* protocol limits */
	size_t max_line_length;        /* default 64k */
	size_t max_literal_size;       /* after login; default 64m */
	size_t max_literal_size_preauth; /* before login; default 8k */
	size_t max_connections;        /* whole server; default 18000 */
	size_t output_buffer_limit;    /* pending output before a client is cut; default 4m */

	/* traffic governance (limits/); 0 turns a limit off */
	unsigned max_preauth_connections_per_ip;
	unsigned connect_rate_per_ip;
	unsigned max_user_connections;
	enum conn_limit_policy max_user_connections_policy;
	unsigned max_userip_connections;
	enum conn_limit_policy max_userip_connections_policy;
	unsigned auth_fail_delay_ms;
	unsigned auth_fail_delay_max_ms;
	unsigned command_rate;
	unsigned command_burst;
	unsigned throttle_max_delay_ms;
	unsigned throttle_max_delayed;
	size_t download_limit;
	size_t upload_limit;
	unsigned bandwidth_window;
	unsigned user_cpu_percent;
	unsigned user_cpu_burst_ms;

	/* timeouts (seconds) */
	unsigned preauth_timeout; /* default 60 */
	unsigned idle_timeout;    /* default 1800 (RFC 9051 §5.4: at least 30 minutes) */
	unsigned idle_keepalive;  /* default 120: "* OK Still here" during IDLE */
	unsigned output_stall_timeout; /* default 60: output not read for this long cuts */
	char *audit_log;          /* default "audit.log": JSON lines (lib/audit.h) */

	/* metrics (metrics/): Prometheus endpoint */
	char *metrics_listen;     /* default "127.0.0.1:9143"; empty = off */
	unsigned metrics_timeout; /* seconds a scrape connection may take; default 10 */

	/* LMTP delivery (lmtp/) */
	char *lmtp_socket;             /* default "lmtp.sock" (inside state_dir); "" = none */
	char *lmtp_listen;             /* TCP listeners; default "" */
	size_t lmtp_max_message_size;  /* default 50m */
	unsigned lmtp_max_recipients;  /* default 100 */
	unsigned lmtp_timeout;         /* seconds; default 300 */
	char *lmtp_detail_separator;   /* default "+" */
	bool lmtp_detail_to_folder;    /* default yes */

	/* where the config came from, for relative paths and messages */
	char *config_path;
	char *config_dir;
};

/* Fills every field with its default (paths still relative). Such a
 * config owns no memory (its strings are static), but config_free is
 * harmless on it. Never free or write into a field's string yourself. */
void config_init_defaults(struct config *cfg);

/* Loads path over the defaults, applies overrides ("key=value" strings,
 * n of them, as given to -o; later wins), validates, and resolves relative
 * paths against the config file's directory. path may be NULL (defaults +
 * overrides, relative to the current directory). Returns 0, or -1 with a
 * message like "roost.conf:12: unknown key 'foo'" or "-o foo=1: unknown
 * key 'foo'" in *error_r (malloc'd; caller frees).
 * config_load fills in the defaults itself: cfg may be uninitialised or
 * hold just config_init_defaults(); a loaded config must be config_free'd
 * first (its strings would leak). On failure cfg is left zeroed, so
 * config_free(cfg) is harmless either way.
 * cfg->config_path is path as given; cfg->config_dir is absolute. */
int config_load(struct config *cfg, const char *path, char *const *overrides, size_t n,
		char **error_r);

/* Prints every option as "key = value" in table order (the effective
 * settings), one per line, with the documentation as a comment above. */
void config_print(const struct config *cfg, FILE *out);

/* Frees the strings the config owns; leaves cfg zeroed. */
void config_free(struct config *cfg);

/* The value syntax of the config file, for anything else that reads sizes
 * ("64k": k/m/g = KiB/MiB/GiB, any case), durations ("30m": s/m/h/d, plain
 * number = seconds) or booleans (yes/no, true/false, on/off, 1/0, any
 * case). Each returns 0, or -1 when s is not valid or does not fit. */
int config_parse_size(const char *s, size_t *size_r);
int config_parse_duration(const char *s, unsigned *seconds_r);
int config_parse_bool(const char *s, bool *value_r);

/* Option i (0-based, in table order): its name, its default as written in
 * etc/roost.conf.example, and its one-line documentation (static
 * strings). Returns 0, or -1 when i is past the last option. */
int config_option_info(size_t i, const char **name_r, const char **default_r, const char **doc_r);

#endif
