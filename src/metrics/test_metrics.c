/* test_metrics: the exposition format (HELP/TYPE, label escaping,
 * cumulative histogram buckets with +Inf, _sum and _count), sharded
 * counters under concurrent updates, and the HTTP answers. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/test.h"
#include "metrics/metrics.h"
#include "metrics/metrics_http.h"

TEST_STATE_DEFINE;

static char *render(void)
{
	struct buf b = {0};
	metrics_render(&b);
	char *s = strdup(buf_rdata(&b));
	buf_release(&b);
	return s;
}

/* The value of the sample line that starts with exactly `prefix ` ; -1
 * when absent. */
static double sample(const char *text, const char *prefix)
{
	size_t plen = strlen(prefix);
	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *eol = strchr(p, '\n');
		if (strncmp(p, prefix, plen) == 0 && p[plen] == ' ')
			return strtod(p + plen + 1, NULL);
		p = eol != NULL ? eol + 1 : NULL;
	}
	return -1;
}

static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *eol = strchr(p, '\n');
		if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
			return true;
		p = eol != NULL ? eol + 1 : NULL;
	}
	return false;
}

static void test_escaping(void)
{
	test_begin("metrics: label and HELP escaping");
	struct buf b = {0};
	metrics_escape_label(&b, "a\\b\"c\nd");
	test_assert_str(buf_rdata(&b), "a\\\\b\\\"c\\nd");
	buf_release(&b);
	metrics_escape_help(&b, "x\\y\"z\n");
	test_assert_str(buf_rdata(&b), "x\\\\y\"z\\n");
	buf_release(&b);
	/* Through the renderer: a command name with all three. */
	metrics_command(metrics_command_id("WE\"IRD\\NAME\n"), 1000);
	char *text = render();
	test_assert(
	    sample(text,
	           "roost_command_duration_seconds_count{command=\"WE\\\"IRD\\\\NAME\\n\"}") == 1);
	free(text);
	test_end();
}

static void test_histogram(void)
{
	test_begin("metrics: histogram buckets are cumulative, +Inf equals _count");
	unsigned id = metrics_command_id("SELECT");
	test_assert(id == 1);
	test_assert(metrics_command_id("NOSUCH") == 4);
	metrics_command(id, 400000);      /* 0.0004 s: first bucket */
	metrics_command(id, 500000);      /* exactly 0.0005: still le="0.0005" */
	metrics_command(id, 3000000);     /* 0.003: le="0.005" */
	metrics_command(id, 20000000000); /* 20 s: only +Inf */
	metrics_command(metrics_command_id("XYZZY"), 1);
	char *text = render();
	const char *b = "roost_command_duration_seconds_bucket{command=\"SELECT\",le=";
	char key[200];
	snprintf(key, sizeof(key), "%s\"0.0005\"}", b);
	test_assert(sample(text, key) == 2);
	snprintf(key, sizeof(key), "%s\"0.0025\"}", b);
	test_assert(sample(text, key) == 2);
	snprintf(key, sizeof(key), "%s\"0.005\"}", b);
	test_assert(sample(text, key) == 3);
	snprintf(key, sizeof(key), "%s\"10\"}", b);
	test_assert(sample(text, key) == 3);
	snprintf(key, sizeof(key), "%s\"+Inf\"}", b);
	test_assert(sample(text, key) == 4);
	test_assert(sample(text, "roost_command_duration_seconds_count{command=\"SELECT\"}") == 4);
	test_assert(
	    has_line(text, "roost_command_duration_seconds_sum{command=\"SELECT\"} 20.003900000"));
	test_assert(sample(text, "roost_command_duration_seconds_count{command=\"other\"}") == 1);
	test_assert(sample(text, "roost_command_duration_seconds_count{command=\"FETCH\"}") == 0);
	/* An unlabelled histogram: le is its only label. */
	metrics_tls_handshake(true, 2000000);
	metrics_tls_handshake(false, 0);
	free(text);
	text = render();
	test_assert(sample(text, "roost_tls_handshake_duration_seconds_bucket{le=\"0.001\"}") == 0);
	test_assert(sample(text, "roost_tls_handshake_duration_seconds_bucket{le=\"0.0025\"}") ==
	            1);
	test_assert(sample(text, "roost_tls_handshake_duration_seconds_bucket{le=\"+Inf\"}") == 1);
	test_assert(has_line(text, "roost_tls_handshake_duration_seconds_sum 0.002000000"));
	test_assert(sample(text, "roost_tls_handshake_duration_seconds_count") == 1);
	test_assert(sample(text, "roost_tls_handshakes_total{result=\"fail\"}") == 1);
	free(text);
	test_end();
}

/* Every sample line belongs to a family announced by HELP then TYPE,
 * each family is announced once, and every histogram's buckets are
 * non-decreasing and end with +Inf == _count. */
static void test_format(void)
{
	test_begin("metrics: every sample has HELP and TYPE; histograms well formed");
	char *text = render();
	char family[128] = "", type[16] = "";
	int families = 0, bad = 0;
	double last_bucket = -1;
	bool expect_inf_next = false;
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			sscanf(line + 7, "%127s", family);
			type[0] = '\0';
			families++;
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[128];
			sscanf(line + 7, "%127s %15s", name, type);
			bad += strcmp(name, family) != 0;
			last_bucket = -1;
			continue;
		}
		size_t flen = strlen(family);
		bool ok = strncmp(line, family, flen) == 0 && type[0] != '\0';
		const char *rest = line + flen;
		if (ok && strcmp(type, "histogram") == 0) {
			ok = strncmp(rest, "_bucket{", 8) == 0 || strncmp(rest, "_sum", 4) == 0 ||
			     strncmp(rest, "_count", 6) == 0;
			double v = strtod(strrchr(line, ' ') + 1, NULL);
			if (strncmp(rest, "_bucket{", 8) == 0) {
				ok = ok && v >= last_bucket;
				last_bucket = v;
				expect_inf_next = strstr(rest, "le=\"+Inf\"") != NULL;
			} else if (strncmp(rest, "_count", 6) == 0) {
				ok = ok && v == last_bucket;
				last_bucket = -1;
			} else {
				ok = ok && expect_inf_next;
			}
		} else if (ok) {
			ok = rest[0] == ' ' || rest[0] == '{';
		}
		if (!ok) {
			fprintf(stderr, "bad line: %s\n", line);
			bad++;
		}
	}
	test_assert(bad == 0);
	test_assert(families >= 15);
	free(text);
	test_end();
}

struct counter_job {
	int n;
};

static void *counter_thread(void *arg)
{
	struct counter_job *job = arg;
	for (int i = 0; i < job->n; i++) {
		metrics_bytes_in(2);
		metrics_session_enter(METRICS_STATE_AUTH);
	}
	return NULL;
}

static void test_concurrent(void)
{
	test_begin("metrics: sharded counters and gauges sum across threads");
	char *before = render();
	double in0 = sample(before, "roost_received_bytes_total");
	free(before);
	pthread_t t[4];
	struct counter_job job = {.n = 10000};
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, counter_thread, &job);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* Leave from this thread (another shard): the gauge returns to 0. */
	for (int i = 0; i < 40000; i++)
		metrics_session_leave(METRICS_STATE_AUTH);
	metrics_session_leave(METRICS_STATE_SELECTED);
	char *text = render();
	test_assert(sample(text, "roost_received_bytes_total") == in0 + 80000);
	test_assert(sample(text, "roost_sessions{state=\"authenticated\"}") == 0);
	test_assert(has_line(text, "roost_sessions{state=\"selected\"} -1"));
	metrics_session_enter(METRICS_STATE_SELECTED);
	free(text);
	test_end();
}

static void test_counters(void)
{
	test_begin("metrics: labelled counters");
	metrics_login(METRICS_MECH_PLAIN, METRICS_LOGIN_LIMIT);
	metrics_login(METRICS_MECH_PLAIN, METRICS_LOGIN_LIMIT);
	metrics_timeout(METRICS_TIMEOUT_IDLE);
	metrics_throttle(METRICS_THROTTLE_UPLOAD);
	metrics_conn_refused(METRICS_REFUSE_IP_RATE);
	metrics_conn_accepted(METRICS_LISTENER_IMAPS);
	metrics_store_op(METRICS_STORE_APPEND_COMMIT, 7000000);
	char *text = render();
	test_assert(sample(text, "roost_logins_total{mechanism=\"PLAIN\",result=\"limit\"}") == 2);
	test_assert(sample(text, "roost_logins_total{mechanism=\"LOGIN\",result=\"ok\"}") == 0);
	test_assert(sample(text, "roost_timeouts_total{kind=\"idle\"}") == 1);
	test_assert(sample(text, "roost_timeouts_total{kind=\"preauth\"}") == 0);
	test_assert(sample(text, "roost_throttles_total{reason=\"upload\"}") == 1);
	test_assert(sample(text, "roost_connections_refused_total{reason=\"ip_rate\"}") == 1);
	test_assert(sample(text, "roost_connections_accepted_total{listener=\"imaps\"}") == 1);
	test_assert(sample(text,
	                   "roost_store_operation_duration_seconds_bucket{op=\"append_commit\","
	                   "le=\"0.01\"}") == 1);
	test_assert(sample(text,
	                   "roost_store_operation_duration_seconds_bucket{op=\"append_commit\","
	                   "le=\"0.005\"}") == 0);
	test_assert(has_line(text, "roost_build_info{version=\""
	                           "0.1.0"
	                           "\"} 1") ||
	            strstr(text, "roost_build_info{version=") != NULL);
	test_assert(sample(text, "roost_process_open_fds") > 0);
	test_assert(sample(text, "roost_process_resident_memory_bytes") > 0);
	test_assert(sample(text, "roost_process_start_time_seconds") > 1600000000);
	free(text);
	test_end();
}

static char *respond(const char *req)
{
	struct buf b = {0};
	metrics_http_respond(req, strlen(req), &b);
	char *s = strdup(buf_rdata(&b));
	buf_release(&b);
	return s;
}

static void test_http(void)
{
	test_begin("metrics_http: status codes and headers");
	char *r = respond("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	test_assert(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
	test_assert(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
	            NULL);
	test_assert(strstr(r, "\r\nConnection: close\r\n") != NULL);
	const char *body = strstr(r, "\r\n\r\n") + 4;
	unsigned long clen = strtoul(strstr(r, "Content-Length: ") + 16, NULL, 10);
	test_assert(clen == strlen(body));
	test_assert(strncmp(body, "# HELP ", 7) == 0);
	free(r);
	r = respond("GET /metrics?x=1 HTTP/1.0\n\n");
	test_assert(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
	free(r);
	r = respond("HEAD /metrics HTTP/1.1\r\n\r\n");
	test_assert(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0);
	test_assert(strcmp(strstr(r, "\r\n\r\n"), "\r\n\r\n") == 0);
	free(r);
	r = respond("GET / HTTP/1.1\r\n\r\n");
	test_assert(strncmp(r, "HTTP/1.1 404 ", 13) == 0);
	free(r);
	r = respond("GET /metricsx HTTP/1.1\r\n\r\n");
	test_assert(strncmp(r, "HTTP/1.1 404 ", 13) == 0);
	free(r);
	r = respond("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	test_assert(strncmp(r, "HTTP/1.1 405 ", 13) == 0);
	test_assert(strstr(r, "\r\nAllow: GET, HEAD\r\n") != NULL);
	free(r);
	r = respond("get /metrics HTTP/1.1\r\n\r\n"); /* methods are case-sensitive */
	test_assert(strncmp(r, "HTTP/1.1 405 ", 13) == 0);
	free(r);
	const char *bad[] = {"GET\r\n\r\n",
	                     "GET /metrics\r\n\r\n",
	                     "GET  /metrics HTTP/1.1\r\n\r\n",
	                     "GET /metrics HTTP/2.0\r\n\r\n",
	                     "G@T /metrics HTTP/1.1\r\n\r\n",
	                     "\r\n\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = respond(bad[i]);
		test_assert(strncmp(r, "HTTP/1.1 400 ", 13) == 0);
		free(r);
	}
	test_end();
}

int main(void)
{
	static const char *const names[] = {"NOOP", "SELECT", "WE\"IRD\\NAME\n", "FETCH"};
	metrics_init();
	metrics_set_command_names(names, 4);
	test_escaping();
	test_histogram();
	test_format();
	test_concurrent();
	test_counters();
	test_http();
	return test_done();
}
