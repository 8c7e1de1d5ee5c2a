/* metrics: the slot table, its per-thread shards and the exposition
 * (see metrics.h).
 *
 * Layout: every value is one uint64_t slot at a fixed offset (SLOT_*
 * below); a histogram is METRICS_BUCKETS + 1 per-bucket counts (the last
 * one is +Inf) and a sum in nanoseconds. Buckets are stored
 * non-cumulative, so an observation touches exactly two slots; the
 * renderer accumulates them, and reports _count as the +Inf bucket's
 * cumulative value, so `le="+Inf"` and `_count` always agree even while
 * other threads keep observing.
 *
 * A thread picks its shard on its first update (round robin); shards are
 * cache-line aligned. Reads sum all shards with relaxed loads: a scrape
 * sees each slot at some recent moment, which is all Prometheus needs.
 *
 * Exposition format 0.0.4: one "# HELP" and one "# TYPE" line per family,
 * then its samples; label values escape \ " and line feed; histograms
 * list cumulative _bucket{le=...} ending with le="+Inf", then _sum and
 * _count. */
#include "metrics/metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/version.h"

#define HIST_SLOTS       (METRICS_BUCKETS + 2) /* buckets, +Inf, sum */
#define N_COMMAND_LABELS (METRICS_MAX_COMMANDS + 1)
#define METRICS_SHARDS   16

enum {
	SLOT_SESSIONS = 0,
	SLOT_ACCEPTED = SLOT_SESSIONS + METRICS_STATE_COUNT_,
	SLOT_REFUSED = SLOT_ACCEPTED + METRICS_LISTENER_COUNT_,
	SLOT_LOGINS = SLOT_REFUSED + METRICS_REFUSE_COUNT_,
	SLOT_AUTH_CACHE = SLOT_LOGINS + METRICS_MECH_COUNT_ * METRICS_LOGIN_RESULT_COUNT_,
	SLOT_BYTES_IN = SLOT_AUTH_CACHE + 2, /* [0] miss, [1] hit */
	SLOT_BYTES_OUT,
	SLOT_THROTTLES,
	SLOT_TIMEOUTS = SLOT_THROTTLES + METRICS_THROTTLE_COUNT_,
	SLOT_TLS_RESULT = SLOT_TIMEOUTS + METRICS_TIMEOUT_COUNT_, /* [0] fail, [1] ok */
	SLOT_TLS_HIST = SLOT_TLS_RESULT + 2,
	SLOT_CMD_HIST = SLOT_TLS_HIST + HIST_SLOTS,
	SLOT_STORE_HIST = SLOT_CMD_HIST + N_COMMAND_LABELS * HIST_SLOTS,
	SLOT_LMTP_SESSIONS = SLOT_STORE_HIST + METRICS_STORE_OP_COUNT_ * HIST_SLOTS,
	SLOT_LMTP_DELIVERIES,
	SLOT_LMTP_BYTES = SLOT_LMTP_DELIVERIES + METRICS_LMTP_RESULT_COUNT_,
	SLOT_COUNT,
};

struct metrics_shard {
	_Alignas(64) _Atomic uint64_t slot[SLOT_COUNT];
};

static struct metrics_shard metrics_shards[METRICS_SHARDS];
static atomic_uint metrics_next_shard;
static _Thread_local struct metrics_shard *metrics_my_shard;
static _Atomic int64_t metrics_start_time; /* Unix seconds; 0 = not set */

static const char *metrics_command_names[N_COMMAND_LABELS];
static size_t metrics_n_commands;

/* Upper bounds in nanoseconds and as written in le="...". */
static const uint64_t metrics_bucket_ns[METRICS_BUCKETS] = {
    500000,    1000000,   2500000,   5000000,    10000000,   25000000,   50000000,
    100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
static const char *const metrics_bucket_le[METRICS_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10",
};

/* --- updates --- */

static struct metrics_shard *metrics_shard(void)
{
	if (metrics_my_shard == NULL) {
		unsigned i =
		    atomic_fetch_add_explicit(&metrics_next_shard, 1, memory_order_relaxed);
		metrics_my_shard = &metrics_shards[i % METRICS_SHARDS];
	}
	return metrics_my_shard;
}

static void metrics_add(size_t slot, uint64_t n)
{
	atomic_fetch_add_explicit(&metrics_shard()->slot[slot], n, memory_order_relaxed);
}

static void metrics_observe(size_t base, uint64_t ns)
{
	size_t b = 0;
	while (b < METRICS_BUCKETS && ns > metrics_bucket_ns[b])
		b++;
	metrics_add(base + b, 1);
	metrics_add(base + METRICS_BUCKETS + 1, ns);
}

void metrics_init(void)
{
	atomic_store(&metrics_start_time, (int64_t)time(NULL));
}

void metrics_set_command_names(const char *const *names, size_t n)
{
	if (n > METRICS_MAX_COMMANDS)
		n = METRICS_MAX_COMMANDS;
	for (size_t i = 0; i < n; i++)
		metrics_command_names[i] = names[i];
	metrics_n_commands = n;
	metrics_command_names[n] = "other";
}

unsigned metrics_command_id(const char *name)
{
	for (size_t i = 0; i < metrics_n_commands; i++) {
		if (strcmp(metrics_command_names[i], name) == 0)
			return (unsigned)i;
	}
	return (unsigned)metrics_n_commands;
}

uint64_t metrics_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_session_enter(enum metrics_state state)
{
	metrics_add(SLOT_SESSIONS + state, 1);
}

void metrics_session_leave(enum metrics_state state)
{
	metrics_add(SLOT_SESSIONS + state, UINT64_MAX); /* -1 modulo 2^64 */
}

void metrics_conn_accepted(enum metrics_listener listener)
{
	metrics_add(SLOT_ACCEPTED + listener, 1);
}

void metrics_conn_refused(enum metrics_refuse reason)
{
	metrics_add(SLOT_REFUSED + reason, 1);
}

void metrics_login(enum metrics_mech mech, enum metrics_login_result result)
{
	metrics_add(SLOT_LOGINS + (size_t)mech * METRICS_LOGIN_RESULT_COUNT_ + result, 1);
}

void metrics_auth_cache(bool hit)
{
	metrics_add(SLOT_AUTH_CACHE + (hit ? 1 : 0), 1);
}

void metrics_command(unsigned command_id, uint64_t duration_ns)
{
	if (command_id > metrics_n_commands)
		command_id = (unsigned)metrics_n_commands;
	metrics_observe(SLOT_CMD_HIST + (size_t)command_id * HIST_SLOTS, duration_ns);
}

void metrics_bytes_in(uint64_t n)
{
	metrics_add(SLOT_BYTES_IN, n);
}

void metrics_bytes_out(uint64_t n)
{
	metrics_add(SLOT_BYTES_OUT, n);
}

void metrics_throttle(enum metrics_throttle reason)
{
	metrics_add(SLOT_THROTTLES + reason, 1);
}

void metrics_timeout(enum metrics_timeout kind)
{
	metrics_add(SLOT_TIMEOUTS + kind, 1);
}

void metrics_tls_handshake(bool ok, uint64_t duration_ns)
{
	metrics_add(SLOT_TLS_RESULT + (ok ? 1 : 0), 1);
	if (ok)
		metrics_observe(SLOT_TLS_HIST, duration_ns);
}

void metrics_store_op(enum metrics_store_op op, uint64_t duration_ns)
{
	metrics_observe(SLOT_STORE_HIST + (size_t)op * HIST_SLOTS, duration_ns);
}

void metrics_lmtp_session(int delta)
{
	metrics_add(SLOT_LMTP_SESSIONS, (uint64_t)(int64_t)delta);
}

void metrics_lmtp_delivery(enum metrics_lmtp_result result, uint64_t bytes)
{
	metrics_add(SLOT_LMTP_DELIVERIES + result, 1);
	metrics_add(SLOT_LMTP_BYTES, bytes);
}

/* --- reading --- */

static uint64_t metrics_read(size_t slot)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < METRICS_SHARDS; i++)
		sum += atomic_load_explicit(&metrics_shards[i].slot[slot], memory_order_relaxed);
	return sum;
}

void metrics_escape_label(struct buf *out, const char *value)
{
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '\\')
			buf_append_str(out, "\\\\");
		else if (*p == '"')
			buf_append_str(out, "\\\"");
		else if (*p == '\n')
			buf_append_str(out, "\\n");
		else
			buf_append(out, p, 1);
	}
}

void metrics_escape_help(struct buf *out, const char *text)
{
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\\')
			buf_append_str(out, "\\\\");
		else if (*p == '\n')
			buf_append_str(out, "\\n");
		else
			buf_append(out, p, 1);
	}
}

/* --- exposition --- */

static void metrics_family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s ", name);
	metrics_escape_help(out, help);
	buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* name{k1="v1",k2="v2"} value; labels NULL-terminated pairs. */
static void metrics_sample(struct buf *out, const char *name, const char *const *labels,
                           const char *value)
{
	buf_append_str(out, name);
	if (labels != NULL && labels[0] != NULL) {
		buf_append_str(out, "{");
		for (size_t i = 0; labels[i] != NULL; i += 2) {
			buf_printf(out, "%s%s=\"", i > 0 ? "," : "", labels[i]);
			metrics_escape_label(out, labels[i + 1]);
			buf_append_str(out, "\"");
		}
		buf_append_str(out, "}");
	}
	buf_printf(out, " %s\n", value);
}

static void metrics_sample_u64(struct buf *out, const char *name, const char *const *labels,
                               uint64_t v)
{
	char num[32];
	snprintf(num, sizeof(num), "%" PRIu64, v);
	metrics_sample(out, name, labels, num);
}

/* One labelled counter or gauge family over consecutive slots. */
static void metrics_render_vec(struct buf *out, const char *name, const char *type,
                               const char *help, const char *label, const char *const *values,
                               size_t n, size_t base)
{
	metrics_family(out, name, type, help);
	for (size_t i = 0; i < n; i++) {
		const char *labels[] = {label, values[i], NULL};
		uint64_t v = metrics_read(base + i);
		if (strcmp(type, "gauge") == 0) {
			char num[32];
			snprintf(num, sizeof(num), "%" PRId64, (int64_t)v);
			metrics_sample(out, name, labels, num);
		} else {
			metrics_sample_u64(out, name, labels, v);
		}
	}
}

/* The samples of one histogram (the family lines are the caller's);
 * label is NULL for an unlabelled histogram. */
static void metrics_render_hist(struct buf *out, const char *name, const char *label,
                                const char *value, size_t base)
{
	char sname[128];
	uint64_t cum = 0;
	snprintf(sname, sizeof(sname), "%s_bucket", name);
	for (size_t b = 0; b <= METRICS_BUCKETS; b++) {
		cum += metrics_read(base + b);
		const char *le = b < METRICS_BUCKETS ? metrics_bucket_le[b] : "+Inf";
		const char *with_label[] = {label, value, "le", le, NULL};
		const char *only_le[] = {"le", le, NULL};
		metrics_sample_u64(out, sname, label != NULL ? with_label : only_le, cum);
	}
	const char *labels[] = {label, value, NULL};
	uint64_t sum = metrics_read(base + METRICS_BUCKETS + 1);
	char num[48];
	snprintf(num, sizeof(num), "%" PRIu64 ".%09" PRIu64, sum / 1000000000u, sum % 1000000000u);
	snprintf(sname, sizeof(sname), "%s_sum", name);
	metrics_sample(out, sname, label != NULL ? labels : NULL, num);
	snprintf(sname, sizeof(sname), "%s_count", name);
	metrics_sample_u64(out, sname, label != NULL ? labels : NULL, cum);
}

static const char *const metrics_state_names[METRICS_STATE_COUNT_] = {
    "not_authenticated", "authenticated", "selected", "logout"};
static const char *const metrics_listener_names[METRICS_LISTENER_COUNT_] = {"imap", "imaps"};
static const char *const metrics_refuse_names[METRICS_REFUSE_COUNT_] = {"max_connections",
                                                                        "ip_preauth", "ip_rate"};
static const char *const metrics_mech_names[METRICS_MECH_COUNT_] = {"LOGIN", "PLAIN"};
static const char *const metrics_login_result_names[METRICS_LOGIN_RESULT_COUNT_] = {
    "ok", "fail", "limit", "authzid", "unavailable"};
static const char *const metrics_throttle_names[METRICS_THROTTLE_COUNT_] = {
    "commands", "download", "upload", "auth_penalty", "cpu"};
static const char *const metrics_timeout_names[METRICS_TIMEOUT_COUNT_] = {
    "preauth", "idle", "tls_handshake", "output_stall"};
static const char *const metrics_tls_result_names[2] = {"fail", "ok"};
static const char *const metrics_store_op_names[METRICS_STORE_OP_COUNT_] = {
    "user_open", "list",         "create",     "delete",        "rename",       "subscribe",
    "status",    "append_begin", "append_add", "append_commit", "mailbox_open", "sync_new",
    "uids",      "fetch",        "body_open",  "body_read",     "set_flags",    "expunge",
    "copy",      "move",         "changes",
};

static const char *const metrics_lmtp_result_names[METRICS_LMTP_RESULT_COUNT_] = {
    "ok", "tempfail", "overquota", "too_big"};

static void metrics_render_lmtp(struct buf *out)
{
	metrics_family(out, "roost_lmtp_sessions", "gauge", "Live LMTP sessions.");
	buf_printf(out, "roost_lmtp_sessions %" PRId64 "\n",
	           (int64_t)metrics_read(SLOT_LMTP_SESSIONS));
	metrics_render_vec(out, "roost_lmtp_deliveries_total", "counter",
	                   "LMTP deliveries (one per recipient of a message), by result.",
	                   "result", metrics_lmtp_result_names, METRICS_LMTP_RESULT_COUNT_,
	                   SLOT_LMTP_DELIVERIES);
	metrics_family(out, "roost_lmtp_delivered_bytes_total", "counter",
	               "Bytes stored by LMTP deliveries (trace headers included).");
	buf_printf(out, "roost_lmtp_delivered_bytes_total %" PRIu64 "\n",
	           metrics_read(SLOT_LMTP_BYTES));
}

static void metrics_render_auth_cache(struct buf *out)
{
	const char *name = "roost_auth_cache_lookups_total";
	metrics_family(out, name, "counter",
	               "Password checks answered from the verified-password cache (hit) or by "
	               "the hash (miss).");
	static const char *const results[2] = {"miss", "hit"};
	for (size_t i = 0; i < 2; i++) {
		const char *labels[] = {"result", results[i], NULL};
		metrics_sample_u64(out, name, labels, metrics_read(SLOT_AUTH_CACHE + i));
	}
}

static void metrics_render_logins(struct buf *out)
{
	const char *name = "roost_logins_total";
	metrics_family(out, name, "counter",
	               "Login attempts (LOGIN, AUTHENTICATE) by mechanism and result.");
	for (size_t m = 0; m < METRICS_MECH_COUNT_; m++) {
		for (size_t r = 0; r < METRICS_LOGIN_RESULT_COUNT_; r++) {
			const char *labels[] = {"mechanism", metrics_mech_names[m], "result",
			                        metrics_login_result_names[r], NULL};
			metrics_sample_u64(
			    out, name, labels,
			    metrics_read(SLOT_LOGINS + m * METRICS_LOGIN_RESULT_COUNT_ + r));
		}
	}
}

static void metrics_render_commands(struct buf *out)
{
	const char *name = "roost_command_duration_seconds";
	metrics_family(out, name, "histogram",
	               "IMAP command latency from the parsed command to its tagged reply, by "
	               "command name (other: unknown names).");
	size_t n = metrics_n_commands;
	for (size_t i = 0; i <= n; i++) {
		const char *cname = i < n ? metrics_command_names[i] : "other";
		metrics_render_hist(out, name, "command", cname, SLOT_CMD_HIST + i * HIST_SLOTS);
	}
}

static void metrics_render_store(struct buf *out)
{
	const char *name = "roost_store_operation_duration_seconds";
	metrics_family(out, name, "histogram", "Mail store operation latency by operation.");
	for (size_t i = 0; i < METRICS_STORE_OP_COUNT_; i++)
		metrics_render_hist(out, name, "op", metrics_store_op_names[i],
		                    SLOT_STORE_HIST + i * HIST_SLOTS);
}

static void metrics_render_tls(struct buf *out)
{
	metrics_render_vec(out, "roost_tls_handshakes_total", "counter",
	                   "Server-side TLS handshakes (IMAPS and STARTTLS) by result.", "result",
	                   metrics_tls_result_names, 2, SLOT_TLS_RESULT);
	const char *name = "roost_tls_handshake_duration_seconds";
	metrics_family(out, name, "histogram", "Duration of successful TLS handshakes.");
	metrics_render_hist(out, name, NULL, NULL, SLOT_TLS_HIST);
}

/* The number of open descriptors (entries of /proc/self/fd), or -1. */
static long metrics_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

/* Resident set size in bytes from /proc/self/statm (second field, in
 * pages), or -1. */
static long long metrics_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	if (f == NULL)
		return -1;
	unsigned long long size, resident;
	int n = fscanf(f, "%llu %llu", &size, &resident);
	fclose(f);
	if (n != 2)
		return -1;
	return (long long)(resident * (unsigned long long)sysconf(_SC_PAGESIZE));
}

static void metrics_render_process(struct buf *out)
{
	metrics_family(out, "roost_build_info", "gauge", "Build information; the value is 1.");
	const char *labels[] = {"version", ROOST_VERSION, NULL};
	metrics_sample(out, "roost_build_info", labels, "1");
	int64_t start = atomic_load(&metrics_start_time);
	if (start == 0) {
		int64_t expected = 0;
		atomic_compare_exchange_strong(&metrics_start_time, &expected, (int64_t)time(NULL));
		start = atomic_load(&metrics_start_time);
	}
	metrics_family(out, "roost_process_start_time_seconds", "gauge",
	               "Start time of the process since the Unix epoch in seconds.");
	buf_printf(out, "roost_process_start_time_seconds %" PRId64 "\n", start);
	long fds = metrics_open_fds();
	if (fds >= 0) {
		metrics_family(out, "roost_process_open_fds", "gauge",
		               "Number of open file descriptors.");
		buf_printf(out, "roost_process_open_fds %ld\n", fds);
	}
	long long rss = metrics_rss_bytes();
	if (rss >= 0) {
		metrics_family(out, "roost_process_resident_memory_bytes", "gauge",
		               "Resident memory size in bytes.");
		buf_printf(out, "roost_process_resident_memory_bytes %lld\n", rss);
	}
}

void metrics_render(struct buf *out)
{
	metrics_render_process(out);
	metrics_render_vec(out, "roost_sessions", "gauge", "Live IMAP sessions by state.", "state",
	                   metrics_state_names, METRICS_STATE_COUNT_, SLOT_SESSIONS);
	metrics_render_vec(out, "roost_connections_accepted_total", "counter",
	                   "Client connections accepted, by listener.", "listener",
	                   metrics_listener_names, METRICS_LISTENER_COUNT_, SLOT_ACCEPTED);
	metrics_render_vec(out, "roost_connections_refused_total", "counter",
	                   "Connections greeted with BYE [UNAVAILABLE] over a connection limit, "
	                   "by reason.",
	                   "reason", metrics_refuse_names, METRICS_REFUSE_COUNT_, SLOT_REFUSED);
	metrics_render_logins(out);
	metrics_render_auth_cache(out);
	metrics_render_commands(out);
	metrics_family(out, "roost_received_bytes_total", "counter",
	               "IMAP bytes received from clients (after TLS decryption).");
	buf_printf(out, "roost_received_bytes_total %" PRIu64 "\n", metrics_read(SLOT_BYTES_IN));
	metrics_family(out, "roost_sent_bytes_total", "counter",
	               "IMAP bytes sent to clients (before TLS encryption).");
	buf_printf(out, "roost_sent_bytes_total %" PRIu64 "\n", metrics_read(SLOT_BYTES_OUT));
	metrics_render_vec(out, "roost_throttles_total", "counter",
	                   "Throttle episodes started (a session slowed or refused by a rate "
	                   "limit), by reason.",
	                   "reason", metrics_throttle_names, METRICS_THROTTLE_COUNT_,
	                   SLOT_THROTTLES);
	metrics_render_vec(out, "roost_timeouts_total", "counter",
	                   "Connections ended by a timeout, by kind.", "kind",
	                   metrics_timeout_names, METRICS_TIMEOUT_COUNT_, SLOT_TIMEOUTS);
	metrics_render_tls(out);
	metrics_render_store(out);
	metrics_render_lmtp(out);
}
