/*
 * load_stats.c — roost-load's figures: log-linear latency histograms, the
 * server's RSS and CPU time from /proc, and the report (JSON or a table).
 *
 * Histogram (HDR-style): values below 1024 µs have their own bucket; above,
 * each power of two is split into 512 buckets, so a percentile is within
 * 0.2% of the true value; the exact maximum is kept apart. Values are in
 * microseconds and capped at 2^36 µs. Only operations completed inside the
 * measured window are recorded (the callers check).
 */
#include "load.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const load_op_names[OP_COUNT] = {
    [OP_CONNECT] = "connect",
    [OP_STARTTLS] = "starttls",
    [OP_LOGIN] = "login",
    [OP_SELECT] = "select",
    [OP_LOGOUT] = "logout",
    [OP_CYCLE] = "cycle",
    [OP_IDLE] = "idle",
    [OP_FETCH_FLAGS] = "fetch_flags",
    [OP_FETCH_BODY] = "fetch_body",
    [OP_STORE] = "store",
    [OP_APPEND] = "append",
    [OP_EXPUNGE] = "expunge",
    [OP_FETCH_BULK] = "fetch_bulk",
    [OP_SEARCH_TEXT] = "search_text",
    [OP_SEARCH_FROM] = "search_from",
    [OP_SEARCH_SINCE] = "search_since",
    [OP_DELIVER] = "deliver",
    [OP_NOOP] = "noop",
    [OP_SEARCH_UNSEEN] = "search_unseen",
};

const char *const load_err_names[ERR_COUNT] = {
    [ERR_CONNECT] = "connect", [ERR_TLS] = "tls",
    [ERR_TIMEOUT] = "timeout", [ERR_CLOSED] = "closed",
    [ERR_BYE] = "bye",         [ERR_NO] = "no",
    [ERR_BAD] = "bad",         [ERR_PROTOCOL] = "protocol",
    [ERR_LOGIN] = "login",     [ERR_IDLE_ENDED] = "idle_ended",
    [ERR_DELIVER] = "deliver",
};

static size_t stats_bucket(uint64_t v)
{
	if (v < 1024)
		return (size_t)v;
	if (v >= (UINT64_C(1) << 36))
		v = (UINT64_C(1) << 36) - 1;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned e = msb - 9;
	return (size_t)(512u * e + (v >> e));
}

/* A representative value of a bucket: its midpoint. */
static uint64_t stats_bucket_value(size_t idx)
{
	if (idx < 1024)
		return idx;
	unsigned e = (unsigned)(idx / 512) - 1;
	uint64_t m = idx - 512u * e;
	return (m << e) + ((UINT64_C(1) << e) >> 1);
}

void load_hist_record(struct load_hist *h, uint64_t us)
{
	if (!h->buckets) {
		h->buckets = calloc(LOAD_HIST_BUCKETS, sizeof(*h->buckets));
		if (!h->buckets) {
			perror("roost-load: calloc");
			exit(2);
		}
	}
	h->buckets[stats_bucket(us)]++;
	h->count++;
	if (us > h->max)
		h->max = us;
}

/* The value at or below which pct percent of the samples lie. */
uint64_t load_hist_percentile(const struct load_hist *h, double pct)
{
	if (h->count == 0)
		return 0;
	uint64_t want = (uint64_t)((double)h->count * pct / 100.0 + 0.999999);
	if (want == 0)
		want = 1;
	uint64_t seen = 0;
	for (size_t i = 0; i < LOAD_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= want) {
			uint64_t v = stats_bucket_value(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

void load_hist_free(struct load_hist *h)
{
	free(h->buckets);
	h->buckets = NULL;
}

bool load_proc_rss_kib(long pid, uint64_t *kib_r)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "VmRSS: %llu", &v) == 1) {
			*kib_r = v;
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

/* utime + stime (fields 14 and 15 of /proc/PID/stat, proc(5)); the fields
 * are counted after the last ')' because the command name may hold spaces. */
bool load_proc_cpu_s(long pid, double *cpu_r)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	unsigned long long ut, st;
	/* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime(14) stime(15) */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return false;
	long tck = sysconf(_SC_CLK_TCK);
	*cpu_r = (double)(ut + st) / (double)(tck > 0 ? tck : 100);
	return true;
}

/* An operation that started at start_us completed now. primary: it is
 * the workload's unit of work (counted in "ops"). */
void load_record_op(struct load_run *r, enum load_op op, uint64_t start_us, bool primary)
{
	if (!r->in_window)
		return;
	uint64_t d = r->now_us > start_us ? r->now_us - start_us : 0;
	load_hist_record(&r->hist[op], d);
	if (op != OP_CONNECT && op != OP_STARTTLS && op != OP_LOGIN && op != OP_LOGOUT &&
	    op != OP_CYCLE && op != OP_IDLE && op != OP_DELIVER)
		load_hist_record(&r->commands, d);
	if (primary)
		r->ops++;
}

void load_count_error(struct load_run *r, enum load_err e)
{
	if (!r->draining)
		r->errors[e]++;
}

static void report_json_hist(FILE *out, const struct load_hist *h)
{
	fprintf(out,
	        "{\"count\": %" PRIu64 ", \"p50\": %" PRIu64 ", \"p99\": %" PRIu64
	        ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64 "}",
	        h->count, load_hist_percentile(h, 50), load_hist_percentile(h, 99),
	        load_hist_percentile(h, 99.9), h->max);
}

static void report_json(struct load_run *r, FILE *out)
{
	double d = r->o.duration_s;
	fprintf(out, "{\"workload\": \"%s\", \"clients\": %u, \"duration_s\": %.3f, ",
	        load_workload_names[r->o.workload], r->o.clients, d);
	fprintf(out, "\"tls\": \"%s\", ",
	        r->o.tls == LOAD_TLS_NONE       ? "none"
	        : r->o.tls == LOAD_TLS_STARTTLS ? "starttls"
	                                        : "implicit");
	fprintf(out, "\"ops\": %" PRIu64 ", \"ops_per_s\": %.1f, ", r->ops, (double)r->ops / d);
	fprintf(out,
	        "\"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64
	        ", \"bytes_in_per_s\": %.1f, \"bytes_out_per_s\": %.1f, ",
	        r->bytes_in, r->bytes_out, (double)r->bytes_in / d, (double)r->bytes_out / d);
	fprintf(out, "\"message_bytes\": %" PRIu64 ", \"message_bytes_per_s\": %.1f, ",
	        r->message_bytes, (double)r->message_bytes / d);
	fprintf(out, "\"latency_us\": {");
	bool first = true;
	for (int i = 0; i < OP_COUNT; i++) {
		if (r->hist[i].count == 0)
			continue;
		fprintf(out, "%s\"%s\": ", first ? "" : ", ", load_op_names[i]);
		report_json_hist(out, &r->hist[i]);
		first = false;
	}
	fprintf(out, "}, \"commands_us\": ");
	report_json_hist(out, &r->commands);
	fprintf(out, ", \"errors\": {");
	first = true;
	for (int i = 0; i < ERR_COUNT; i++) {
		if (r->errors[i] == 0)
			continue;
		fprintf(out, "%s\"%s\": %" PRIu64, first ? "" : ", ", load_err_names[i],
		        r->errors[i]);
		first = false;
	}
	fprintf(out, "}, \"sessions_established\": %" PRIu64 ", \"sessions_refused\": %" PRIu64,
	        r->sessions_established, r->sessions_refused);
	fprintf(out, ", \"sessions_active\": %" PRIu64, r->sessions_active);
	fprintf(out, ", \"appends_ok\": %" PRIu64 ", \"unfinished\": %" PRIu64, r->appends_ok,
	        r->unfinished);
	fprintf(out, ", \"idle_sessions_peak\": %u", r->idle_peak);
	if (r->o.server_pid > 0)
		fprintf(out,
		        ", \"server\": {\"pid\": %ld, \"rss_kib_initial\": %" PRIu64
		        ", \"rss_kib_start\": %" PRIu64 ", \"rss_kib_end\": %" PRIu64
		        ", \"rss_kib_peak\": %" PRIu64 ", \"cpu_s\": %.3f}",
		        r->o.server_pid, r->rss_initial, r->rss_start, r->rss_end, r->rss_peak,
		        r->cpu_end - r->cpu_start);
	if (r->o.workload == WL_IDLE_HOLD) {
		const struct load_hist *h = &r->deliver_hist;
		fprintf(out,
		        ", \"delivery_us\": {\"count\": %" PRIu64 ", \"p50\": %" PRIu64
		        ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64 ", \"within_2s\": %" PRIu64
		        ", \"expected\": %" PRIu64 ", \"rounds\": %u}",
		        h->count, load_hist_percentile(h, 50), load_hist_percentile(h, 99), h->max,
		        r->deliver_within_2s, r->deliver_expected, r->deliver_round);
	}
	fprintf(out, "}\n");
}

static void report_table(struct load_run *r, FILE *out)
{
	double d = r->o.duration_s;
	fprintf(out, "workload %s, %u clients, %.1f s measured\n",
	        load_workload_names[r->o.workload], r->o.clients, d);
	fprintf(out, "ops %" PRIu64 " (%.1f/s)  in %.1f MB/s  out %.1f MB/s  message %.1f MB/s\n",
	        r->ops, (double)r->ops / d, (double)r->bytes_in / d / 1e6,
	        (double)r->bytes_out / d / 1e6, (double)r->message_bytes / d / 1e6);
	fprintf(out, "%-14s %10s %10s %10s %10s %10s\n", "op", "count", "p50 us", "p99 us",
	        "p99.9 us", "max us");
	for (int i = 0; i < OP_COUNT; i++) {
		const struct load_hist *h = &r->hist[i];
		if (h->count == 0)
			continue;
		fprintf(out,
		        "%-14s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
		        "\n",
		        load_op_names[i], h->count, load_hist_percentile(h, 50),
		        load_hist_percentile(h, 99), load_hist_percentile(h, 99.9), h->max);
	}
	fprintf(out,
	        "sessions established %" PRIu64 ", refused %" PRIu64 ", idle peak %u, active in "
	        "the window %" PRIu64 "\n",
	        r->sessions_established, r->sessions_refused, r->idle_peak, r->sessions_active);
	if (r->unfinished)
		fprintf(out, "unfinished (in flight at the end) %" PRIu64 "\n", r->unfinished);
	for (int i = 0; i < ERR_COUNT; i++)
		if (r->errors[i])
			fprintf(out, "errors %-10s %" PRIu64 "\n", load_err_names[i], r->errors[i]);
	if (r->o.workload == WL_IDLE_HOLD) {
		const struct load_hist *h = &r->deliver_hist;
		fprintf(out,
		        "delivery: %" PRIu64 "/%" PRIu64 " heard, p50 %" PRIu64 " us, p99 %" PRIu64
		        " us, max %" PRIu64 " us, within 2 s %" PRIu64 "\n",
		        h->count, r->deliver_expected, load_hist_percentile(h, 50),
		        load_hist_percentile(h, 99), h->max, r->deliver_within_2s);
	}
	if (r->o.server_pid > 0)
		fprintf(out,
		        "server pid %ld: RSS %" PRIu64 " before, %" PRIu64 " -> %" PRIu64
		        " KiB in the window (peak %" PRIu64 "), CPU %.2f s\n",
		        r->o.server_pid, r->rss_initial, r->rss_start, r->rss_end, r->rss_peak,
		        r->cpu_end - r->cpu_start);
}

void load_report(struct load_run *r, FILE *out)
{
	if (r->o.json)
		report_json(r, out);
	else
		report_table(r, out);
	fflush(out);
}
