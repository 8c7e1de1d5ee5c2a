/*
 * roost-load — an IMAP load generator: N concurrent scripted sessions in one
 * process on one epoll loop (non-blocking sockets, optional TLS).
 *
 * Usage:
 *   roost-load --host 127.0.0.1 --port 143 --users users.txt --workload W
 *              --clients N --duration S [--warmup S] [--ramp S] [--connect-rate R]
 *              [--timeout S] [--starttls | --tls] [--server-pid PID]
 *              [--think-ms T] [--deliver-every S] [--deliverers K] [--maildir PATTERN]
 *              [--append-every N] [--fetch-bodies K] [--source A[-B] | --source none]
 *              [--json]
 *
 *   W: login-storm | idle-hold | sync | fetch-bulk | append | search | mixed
 *   --users FILE     lines "user password" (the password is the rest of the
 *                    line); session i logs in as user i mod (number of users)
 *   --duration S     the measured window (default 10); --warmup S before it
 *                    (default 2; sessions connect and work, nothing counted)
 *   --ramp S         spread the first connects over S seconds (default 0)
 *   --connect-rate R at most R new connections a second (default unlimited)
 *   --timeout S      per command and per connect/handshake/greeting (default
 *                    10); a session that times out counts an error and
 *                    reconnects
 *   --starttls       STARTTLS after the greeting; --tls: implicit TLS (IMAPS
 *                    port). Certificates are not verified.
 *   --server-pid PID the server's VmRSS (/proc/PID/status) and utime+stime
 *                    (/proc/PID/stat) at the start and end of the window,
 *                    peak RSS sampled every 100 ms
 *   --think-ms T     pause between a session's workload commands
 *   --deliver-every S idle-hold: every S seconds (default 5) APPEND one
 *                    message to the INBOX of each user with idle sessions,
 *                    through --deliverers K (default 8) separate connections
 *   --maildir PATTERN idle-hold: deliver by writing the message into the
 *                    Maildir PATTERN (%u = user name) through tmp/ and a
 *                    rename into new/, instead of APPEND (measures the
 *                    server's notice of external deliveries)
 *   --append-every N sync: APPEND + STORE \Deleted + UID EXPUNGE every Nth
 *                    round (default 5); --fetch-bodies K bodies a round (3)
 *   --source A-B     source IPv4 addresses to rotate (bind() with
 *                    IP_BIND_ADDRESS_NO_PORT); default 127.0.0.1-127.0.0.254
 *                    when the host is in 127/8, none otherwise
 *   --json           one JSON object on stdout; a table otherwise
 *
 * The run ends by itself: warmup + duration, then a drain (at most
 * max(3, --timeout) seconds) in which no new command starts and commands in
 * flight finish; then every socket is closed. Exit status 0 when the run
 * completed (errors are reported, not fatal), 2 on bad usage.
 *
 * JSON contract (bench/compare.py reads these keys; keep them):
 *   "workload", "clients", "duration_s", "tls",
 *   "ops", "ops_per_s"                 workload operations completed in the
 *                                      window: login-storm a whole cycle
 *                                      (connect..LOGOUT OK), idle-hold a
 *                                      delivery heard, sync one command,
 *                                      fetch-bulk one UID FETCH 1:*, append one
 *                                      APPEND, search one SEARCH
 *   "bytes_in", "bytes_out"            all bytes on the wire (after TLS) in
 *                                      the window; also "bytes_in_per_s",
 *                                      "bytes_out_per_s"
 *   "message_bytes", "message_bytes_per_s"  literal bytes of BODY[] FETCHes
 *   "latency_us": {"<op>": {"count", "p50", "p99", "p999", "max"}}
 *       ops: connect (to greeting), starttls, login, select, logout, cycle,
 *       idle (to "+"), fetch_flags, fetch_body, store, append, expunge,
 *       fetch_bulk, search_text, search_from, search_since, deliver
 *   "commands_us": {"count", "p50", "p99", "p999", "max"}  every workload
 *                                      command together (not connect, STARTTLS,
 *                                      LOGIN, LOGOUT, IDLE, deliveries)
 *   "errors": {"<kind>": n}            connect, tls, timeout, closed, bye, no,
 *                                      bad, protocol, login, idle_ended,
 *                                      deliver (a delivery could not be made)
 *   "sessions_established"             successful LOGINs of the client sessions
 *                                      (whole run; idle-hold deliverers excluded)
 *   "sessions_active"                  client sessions that completed a workload
 *                                      command (after LOGIN) in the window
 *   "sessions_refused"                 connect failures, BYE greetings, LOGIN NO
 *   "appends_ok"                       OK APPENDs (whole run, deliveries excluded)
 *   "unfinished"                       commands still in flight at the end
 *   "idle_sessions_peak"
 *   "server": {"pid", "rss_kib_initial", "rss_kib_start", "rss_kib_end",
 *              "rss_kib_peak", "cpu_s"} (with --server-pid) initial: before
 *                                      the first connect (idle-hold: growth
 *                                      per session = (end - initial) / clients);
 *                                      start/end: the window's; cpu_s: in it
 *   "delivery_us": {"count", "p50", "p99", "max", "within_2s", "expected",
 *                   "rounds"}          (idle-hold) count of (session,
 *                                      delivery) pairs heard; expected: idle
 *                                      sessions of the users when each
 *                                      delivery was sent. Latency runs from
 *                                      the moment the delivery's APPEND is
 *                                      sent (or its Maildir file written) to
 *                                      the session's "* n EXISTS".
 */
#include "load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define LOAD_EVENTS 1024
/* Connects started per loop iteration at most, so that events keep flowing. */
#define LOAD_CONNECT_BURST 256

uint64_t load_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void load_usage(void)
{
	fprintf(
	    stderr,
	    "usage: roost-load --host H --port P --users FILE --workload W --clients N\n"
	    "         --duration S [--warmup S] [--ramp S] [--connect-rate R] [--timeout S]\n"
	    "         [--starttls|--tls] [--server-pid PID] [--think-ms T] [--deliver-every S]\n"
	    "         [--deliverers K] [--maildir PATTERN] [--append-every N] [--fetch-bodies K]\n"
	    "         [--source A[-B]|none] [--json]\n"
	    "  W: login-storm idle-hold sync fetch-bulk append search mixed\n");
	exit(2);
}

static double load_num(const char *s, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "roost-load: bad number: %s\n", s);
		load_usage();
	}
	return v;
}

static bool load_parse_source(struct load_opts *o, const char *arg)
{
	if (strcmp(arg, "none") == 0) {
		o->src_first = o->src_last = 0;
		return true;
	}
	char a[64];
	snprintf(a, sizeof(a), "%s", arg);
	char *dash = strchr(a, '-');
	if (dash)
		*dash = '\0';
	struct in_addr x, y;
	if (inet_pton(AF_INET, a, &x) != 1 || inet_pton(AF_INET, dash ? dash + 1 : a, &y) != 1)
		return false;
	o->src_first = ntohl(x.s_addr);
	o->src_last = ntohl(y.s_addr);
	return o->src_first != 0 && o->src_last >= o->src_first;
}

static enum load_workload load_parse_workload(const char *name)
{
	for (int i = 0; i < WL_COUNT; i++)
		if (strcmp(name, load_workload_names[i]) == 0)
			return (enum load_workload)i;
	fprintf(stderr, "roost-load: unknown workload: %s\n", name);
	load_usage();
	return WL_COUNT;
}

enum {
	OPT_HOST = 256,
	OPT_PORT,
	OPT_USERS,
	OPT_WORKLOAD,
	OPT_CLIENTS,
	OPT_DURATION,
	OPT_WARMUP,
	OPT_RAMP,
	OPT_RATE,
	OPT_TIMEOUT,
	OPT_PID,
	OPT_JSON,
	OPT_STARTTLS,
	OPT_TLS,
	OPT_THINK,
	OPT_DELIVER,
	OPT_DELIVERERS,
	OPT_APPEND_EVERY,
	OPT_FETCH_BODIES,
	OPT_SOURCE,
	OPT_MAILDIR,
};

static const struct option load_longopts[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"users", required_argument, NULL, OPT_USERS},
    {"workload", required_argument, NULL, OPT_WORKLOAD},
    {"clients", required_argument, NULL, OPT_CLIENTS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"ramp", required_argument, NULL, OPT_RAMP},
    {"connect-rate", required_argument, NULL, OPT_RATE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"server-pid", required_argument, NULL, OPT_PID},
    {"json", no_argument, NULL, OPT_JSON},
    {"starttls", no_argument, NULL, OPT_STARTTLS},
    {"tls", no_argument, NULL, OPT_TLS},
    {"think-ms", required_argument, NULL, OPT_THINK},
    {"deliver-every", required_argument, NULL, OPT_DELIVER},
    {"deliverers", required_argument, NULL, OPT_DELIVERERS},
    {"append-every", required_argument, NULL, OPT_APPEND_EVERY},
    {"fetch-bodies", required_argument, NULL, OPT_FETCH_BODIES},
    {"source", required_argument, NULL, OPT_SOURCE},
    {"maildir", required_argument, NULL, OPT_MAILDIR},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void load_opt(struct load_opts *o, int c, const char *arg, bool *source_set)
{
	switch (c) {
	case OPT_HOST:
		o->host = arg;
		break;
	case OPT_PORT:
		o->port = (unsigned)load_num(arg, 1, 65535);
		break;
	case OPT_USERS:
		o->users_file = arg;
		break;
	case OPT_WORKLOAD:
		o->workload = load_parse_workload(arg);
		break;
	case OPT_CLIENTS:
		o->clients = (unsigned)load_num(arg, 1, 1000000);
		break;
	case OPT_DURATION:
		o->duration_s = load_num(arg, 0.1, 86400);
		break;
	case OPT_WARMUP:
		o->warmup_s = load_num(arg, 0, 86400);
		break;
	case OPT_RAMP:
		o->ramp_s = load_num(arg, 0, 86400);
		break;
	case OPT_RATE:
		o->connect_rate = load_num(arg, 0, 1e9);
		break;
	case OPT_TIMEOUT:
		o->timeout_s = load_num(arg, 0.1, 3600);
		break;
	case OPT_PID:
		o->server_pid = (long)load_num(arg, 1, 1e9);
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_STARTTLS:
		o->tls = LOAD_TLS_STARTTLS;
		break;
	case OPT_TLS:
		o->tls = LOAD_TLS_IMPLICIT;
		break;
	case OPT_THINK:
		o->think_ms = (unsigned)load_num(arg, 0, 3600000);
		break;
	case OPT_DELIVER:
		o->deliver_every_s = load_num(arg, 0.05, 86400);
		break;
	case OPT_DELIVERERS:
		o->deliverers = (unsigned)load_num(arg, 1, 1000);
		break;
	case OPT_APPEND_EVERY:
		o->append_every = (unsigned)load_num(arg, 1, 1e6);
		break;
	case OPT_FETCH_BODIES:
		o->fetch_bodies = (unsigned)load_num(arg, 1, 10);
		break;
	case OPT_MAILDIR:
		o->maildir = arg;
		break;
	case OPT_SOURCE:
		*source_set = true;
		if (!load_parse_source(o, arg)) {
			fprintf(stderr, "roost-load: bad --source: %s\n", arg);
			load_usage();
		}
		break;
	default:
		load_usage();
	}
}

static void load_parse_args(struct load_opts *o, int argc, char **argv)
{
	*o = (struct load_opts){
	    .host = "127.0.0.1",
	    .port = 143,
	    .workload = WL_COUNT,
	    .clients = 10,
	    .duration_s = 10,
	    .warmup_s = 2,
	    .timeout_s = 10,
	    .deliver_every_s = 5,
	    .deliverers = 8,
	    .append_every = 5,
	    .fetch_bodies = 3,
	};
	bool source_set = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", load_longopts, NULL)) != -1)
		load_opt(o, c, optarg, &source_set);
	if (optind != argc || !o->users_file || o->workload == WL_COUNT)
		load_usage();
	struct in_addr a;
	if (inet_pton(AF_INET, o->host, &a) != 1) {
		fprintf(stderr, "roost-load: --host must be an IPv4 address: %s\n", o->host);
		exit(2);
	}
	if (!source_set && (ntohl(a.s_addr) >> 24) == 127) {
		o->src_first = (127u << 24) | 1u;
		o->src_last = (127u << 24) | 254u;
	}
}

/* "user password" lines; the password is the rest of the line. */
static void load_read_users(struct load_run *r)
{
	FILE *f = fopen(r->o.users_file, "r");
	if (!f) {
		fprintf(stderr, "roost-load: %s: %s\n", r->o.users_file, strerror(errno));
		exit(2);
	}
	char line[1024];
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *sp = strchr(line, ' ');
		if (line[0] == '#' || !sp || sp == line || strlen(line) > 700)
			continue;
		*sp = '\0';
		if (r->nusers == cap) {
			cap = cap ? cap * 2 : 64;
			r->users = realloc(r->users, cap * sizeof(*r->users));
			if (!r->users) {
				perror("roost-load: realloc");
				exit(2);
			}
		}
		r->users[r->nusers++] =
		    (struct load_user){.name = strdup(line), .pass = strdup(sp + 1)};
	}
	fclose(f);
	if (r->nusers == 0) {
		fprintf(stderr, "roost-load: no users in %s\n", r->o.users_file);
		exit(2);
	}
}

/* Sessions need a descriptor each: raise the soft limit to the hard one. */
static void load_raise_nofile(size_t need)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (need + 32 > rl.rlim_cur)
		fprintf(stderr, "roost-load: warning: %zu sessions but only %llu descriptors\n",
		        need, (unsigned long long)rl.rlim_cur);
}

static void load_setup(struct load_run *r)
{
	load_read_users(r);
	r->nclients = r->o.clients;
	size_t nd = 0;
	if (r->o.workload == WL_IDLE_HOLD && !r->o.maildir)
		nd = r->o.deliverers < r->nusers ? r->o.deliverers : r->nusers;
	r->nsess = r->nclients + nd;
	load_raise_nofile(r->nsess);
	r->sess = calloc(r->nsess, sizeof(*r->sess));
	r->cq = calloc(r->nsess, sizeof(*r->cq));
	if (!r->sess || !r->cq) {
		perror("roost-load: calloc");
		exit(2);
	}
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0) {
		perror("roost-load: epoll_create1");
		exit(2);
	}
	if (r->o.tls != LOAD_TLS_NONE)
		r->ssl_ctx = load_tls_ctx();
	load_wl_messages(r);
	if (r->o.server_pid > 0)
		(void)load_proc_rss_kib(r->o.server_pid, &r->rss_initial);
	r->now_us = r->start_us = load_now_us();
	r->window_start_us = r->start_us + (uint64_t)(r->o.warmup_s * 1e6);
	r->window_end_us = r->window_start_us + (uint64_t)(r->o.duration_s * 1e6);
	for (size_t i = 0; i < r->nsess; i++) {
		struct load_sess *s = &r->sess[i];
		s->run = r;
		s->id = (uint32_t)i;
		s->fd = -1;
		s->phase = PH_OFF;
		s->rng = (uint32_t)(i * 2654435761u) | 1u;
		s->deliverer = i >= r->nclients;
		s->user = (uint32_t)(i % r->nusers);
		s->want_connect = !s->deliverer;
		s->wake_us =
		    r->start_us + (uint64_t)(r->o.ramp_s * 1e6 * (double)i / (double)r->nclients);
	}
}

void load_enqueue(struct load_run *r, struct load_sess *s)
{
	if (s->queued)
		return;
	s->queued = true;
	s->want_connect = false;
	r->cq[(r->cq_head + r->cq_len) % r->nsess] = s->id;
	r->cq_len++;
}

/* Starts queued connects within the --connect-rate token bucket. */
static void load_connect_queued(struct load_run *r, uint64_t dt_us)
{
	if (r->o.connect_rate > 0) {
		double burst = r->o.connect_rate / 50 > 1 ? r->o.connect_rate / 50 : 1;
		r->connect_tokens += r->o.connect_rate * (double)dt_us / 1e6;
		if (r->connect_tokens > burst)
			r->connect_tokens = burst;
	}
	for (int n = 0; r->cq_len > 0 && n < LOAD_CONNECT_BURST; n++) {
		if (r->o.connect_rate > 0) {
			if (r->connect_tokens < 1)
				return;
			r->connect_tokens -= 1;
		}
		struct load_sess *s = &r->sess[r->cq[r->cq_head]];
		r->cq_head = (r->cq_head + 1) % r->nsess;
		r->cq_len--;
		s->queued = false;
		if (!r->draining)
			load_conn_start(s);
	}
}

/* Timeouts, think-time wake-ups and due (re)connects. */
static void load_scan(struct load_run *r)
{
	uint64_t now = r->now_us;
	for (size_t i = 0; i < r->nsess; i++) {
		struct load_sess *s = &r->sess[i];
		if (s->phase == PH_OFF) {
			if (s->want_connect && !r->draining && now >= s->wake_us)
				load_enqueue(r, s);
			continue;
		}
		if (s->deadline_us && now > s->deadline_us) {
			load_conn_fail(s, ERR_TIMEOUT, s->phase < PH_READY);
			continue;
		}
		if (s->phase == PH_READY && !s->cmd_inflight && s->wake_us && now >= s->wake_us)
			load_wl_next(s);
	}
}

static void load_sample_server(struct load_run *r, bool start, bool end)
{
	if (r->o.server_pid <= 0)
		return;
	uint64_t rss = 0;
	if (load_proc_rss_kib(r->o.server_pid, &rss) && rss > r->rss_peak)
		r->rss_peak = rss;
	if (start) {
		r->rss_start = rss;
		(void)load_proc_cpu_s(r->o.server_pid, &r->cpu_start);
	}
	if (end) {
		r->rss_end = rss;
		(void)load_proc_cpu_s(r->o.server_pid, &r->cpu_end);
	}
}

/* Window and drain transitions; false when the run is over. */
static bool load_phase(struct load_run *r)
{
	if (!r->in_window && !r->draining && r->now_us >= r->window_start_us) {
		r->in_window = true;
		r->next_deliver_us = r->now_us;
		load_sample_server(r, true, false);
		r->next_sample_us = r->now_us + 100000;
	}
	if (r->in_window && r->now_us >= r->window_end_us) {
		load_sample_server(r, false, true);
		r->in_window = false;
		r->draining = true;
		double grace = r->o.timeout_s > 3 ? r->o.timeout_s : 3;
		r->drain_end_us = r->now_us + (uint64_t)(grace * 1e6);
	}
	if (r->in_window && r->now_us >= r->next_sample_us) {
		load_sample_server(r, false, false);
		r->next_sample_us += 100000;
	}
	if (r->draining)
		return !load_wl_drained(r) && r->now_us < r->drain_end_us;
	return true;
}

static void load_finish(struct load_run *r)
{
	for (size_t i = 0; i < r->nsess; i++) {
		struct load_sess *s = &r->sess[i];
		if (s->cmd_inflight && !s->idling)
			r->unfinished++;
		load_conn_close(s);
	}
	close(r->epfd);
}

static void load_loop(struct load_run *r)
{
	struct epoll_event ev[LOAD_EVENTS];
	/* Scan every session each millisecond up to 2,000 sessions, every
	 * 10 ms above (think times are then 10 ms coarse). */
	uint64_t scan_every = r->nsess <= 2000 ? 1000 : 10000;
	uint64_t last_scan = 0, last_connect = r->now_us;
	for (;;) {
		r->now_us = load_now_us();
		if (!load_phase(r))
			return;
		if (r->now_us - last_scan >= scan_every) {
			load_scan(r);
			load_wl_tick(r);
			last_scan = r->now_us;
		}
		load_connect_queued(r, r->now_us - last_connect);
		last_connect = r->now_us;
		int n = epoll_wait(r->epfd, ev, LOAD_EVENTS, (int)(scan_every / 1000));
		if (n < 0 && errno != EINTR) {
			perror("roost-load: epoll_wait");
			return;
		}
		r->now_us = load_now_us();
		for (int i = 0; i < n; i++)
			load_conn_event(ev[i].data.ptr, ev[i].events);
	}
}

static void load_free(struct load_run *r)
{
	for (int i = 0; i < OP_COUNT; i++)
		load_hist_free(&r->hist[i]);
	load_hist_free(&r->deliver_hist);
	load_hist_free(&r->commands);
	for (size_t i = 0; i < r->nusers; i++) {
		free(r->users[i].name);
		free(r->users[i].pass);
	}
	for (int i = 0; i < 4; i++)
		free(r->msgs[i].data);
	free(r->deliver_msg.data);
	free(r->users);
	free(r->sess);
	free(r->cq);
	if (r->ssl_ctx)
		SSL_CTX_free(r->ssl_ctx);
}

int main(int argc, char **argv)
{
	static struct load_run run;
	signal(SIGPIPE, SIG_IGN);
	load_parse_args(&run.o, argc, argv);
	load_setup(&run);
	load_loop(&run);
	load_finish(&run);
	load_report(&run, stdout);
	load_free(&run);
	return 0;
}
