/* APPEND (RFC 9051 §6.3.12; MULTIAPPEND RFC 3502; APPENDUID RFC 4315 §3;
 * literal8 RFC 3516; UTF8 data RFC 6855 §4).
 *
 *   APPEND mailbox 1*( [flag-list] [date-time] (literal / literal8 /
 *                      "UTF8" SP "(" literal8 ")") )
 *
 * Every message is parsed and validated before anything is written; then
 * all of them go into the mailbox in one store transaction (all or none,
 * RFC 3502 §6.3.11), durably (the store fsyncs) before the tagged
 * "OK [APPENDUID uidvalidity uids]". A mailbox that does not exist gets
 * NO [TRYCREATE], a name that could never exist NO [CANNOT]. When the
 * target is the selected mailbox the new EXISTS goes out before the
 * tagged OK (session_before_tagged runs the view sync).
 *
 * The store calls fsync, so they run on the store pool (store_job.h):
 * the literals stay in the parser's memory, which is not touched while
 * the command runs; the reply is written back on the loop thread. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/commands.h"
#include "imap/mboxname.h"
#include "imap/resp.h"
#include "imap/store_job.h"
#include "imap/view.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

struct append_msg {
	struct store_new_msg msg;
	struct buf keywords;
};

static const char append_months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int append_digits(const char *p, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t append_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int append_month_days(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

/* RFC 9051 §9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz", the day may be
 * " d" (date-day-fixed). Strict: every field and its range is checked. */
static int append_parse_date(const char *s, size_t len, int64_t *t_r, int32_t *tz_r)
{
	if (len != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' || s[14] != ':' ||
	    s[17] != ':' || s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
		return -1;
	int day = s[0] == ' ' ? append_digits(s + 1, 1) : append_digits(s, 2);
	int month = 0;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(s + 3, append_months[i], 3) == 0)
			month = i + 1;
	}
	int year = append_digits(s + 7, 4), hour = append_digits(s + 12, 2);
	int min = append_digits(s + 15, 2), sec = append_digits(s + 18, 2);
	int zh = append_digits(s + 22, 2), zm = append_digits(s + 24, 2);
	if (day < 1 || month == 0 || year < 0 || hour < 0 || hour > 23 || min < 0 || min > 59 ||
	    sec < 0 || sec > 60 || zh < 0 || zh > 23 || zm < 0 || zm > 59 ||
	    day > append_month_days(year, month))
		return -1;
	int32_t tz = (int32_t)(zh * 60 + zm) * (s[21] == '-' ? -1 : 1);
	int64_t local = append_days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 +
			sec;
	*t_r = local - (int64_t)tz * 60;
	*tz_r = tz;
	return 0;
}

/* One message: [flag-list] [date-time] data. Advances *i past it. */
static int append_parse_msg(const struct imap_arg *args, size_t nargs, size_t *i,
			    struct append_msg *m, const char **error_r)
{
	m->msg.internaldate = -1;
	if (*i < nargs && args[*i].type == IMAP_ARG_LIST) {
		const struct imap_arg *l = &args[(*i)++];
		if (view_parse_flags(l->list, l->count, &m->msg.flags, &m->keywords, error_r) < 0)
			return -1;
	}
	if (*i < nargs && args[*i].type == IMAP_ARG_QUOTED) {
		const struct imap_arg *d = &args[(*i)++];
		if (append_parse_date(d->str, d->len, &m->msg.internaldate,
				      &m->msg.internaldate_tz) < 0) {
			*error_r = "Invalid date-time";
			return -1;
		}
	}
	const struct imap_arg *data = *i < nargs ? &args[(*i)++] : NULL;
	if (data != NULL && imap_arg_atom_equals(data, "UTF8") && *i < nargs &&
	    args[*i].type == IMAP_ARG_LIST && args[*i].count == 1) {
		/* RFC 6855 §4: UTF8 (~{n}...) */
		data = &args[(*i)++].list[0];
		if (!data->literal8)
			data = NULL;
	}
	if (data == NULL || data->type != IMAP_ARG_LITERAL) {
		*error_r = "APPEND expects [flags] [date-time] and a literal";
		return -1;
	}
	m->msg.data = data->str;
	m->msg.len = data->len;
	return 0;
}

/* The command's job for the store pool (store_job.h). The messages'
 * data point into the parser's literals, valid while the command runs. */
struct append_job {
	const struct imap_command *cmd;
	struct store_user *mail;
	char *name;
	struct append_msg *msgs;
	size_t n;
	enum store_err err;
	struct buf code; /* APPENDUID data on success */
};

static void append_job_free(void *arg)
{
	struct append_job *j = arg;
	for (size_t i = 0; i < j->n; i++)
		buf_release(&j->msgs[i].keywords);
	free(j->msgs);
	free(j->name);
	buf_release(&j->code);
	free(j);
}

/* Pool thread: one transaction, all messages or none (RFC 3502). */
static void append_job_work(void *arg)
{
	struct append_job *j = arg;
	struct store_append *a;
	j->err = store_append_begin(j->mail, j->name, &a);
	if (j->err != STORE_OK)
		return;
	uint32_t *uids = xcalloc(j->n, sizeof(*uids));
	for (size_t i = 0; i < j->n && j->err == STORE_OK; i++) {
		struct append_msg *m = &j->msgs[i];
		m->msg.keywords = m->keywords.len > 0 ? m->keywords.data : NULL;
		j->err = store_append_add(a, &m->msg, &uids[i]);
	}
	uint32_t uidvalidity = 0;
	if (j->err != STORE_OK)
		store_append_abort(&a);
	else
		j->err = store_append_commit(&a, &uidvalidity);
	if (j->err == STORE_OK) {
		buf_printf(&j->code, "%" PRIu32 " ", uidvalidity);
		for (size_t i = 0; i < j->n; i++)
			buf_printf(&j->code, i > 0 ? ",%" PRIu32 : "%" PRIu32, uids[i]);
	}
	free(uids);
}

/* Loop thread: the EXISTS for a selected target comes from the view sync
 * that resp_tagged runs first. */
static void append_job_reply(struct session *s, void *arg)
{
	struct append_job *j = arg;
	if (j->err != STORE_OK)
		cmd_store_error(s, j->cmd, j->err, true);
	else
		resp_tagged(s, j->cmd->tag, RESP_OK, RESP_CODE_APPENDUID, j->code.data,
			    "APPEND completed");
}

/* Parses every message first (nothing is written for a bad command),
 * then hands the job to the store pool. Takes name. */
static enum cmd_result append_execute(struct session *s, const struct imap_command *cmd,
				      char *name)
{
	struct append_job *j = xcalloc(1, sizeof(*j));
	j->cmd = cmd;
	j->mail = s->mail;
	j->name = name;
	j->msgs = xcalloc(cmd->nargs, sizeof(*j->msgs));
	const char *error = NULL;
	for (size_t i = 1; i < cmd->nargs;) {
		if (append_parse_msg(cmd->args, cmd->nargs, &i, &j->msgs[j->n++], &error) < 0) {
			append_job_free(j);
			return cmd_bad(s, cmd, error);
		}
		if (j->msgs[j->n - 1].msg.len == 0) {
			append_job_free(j);
			resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_NONE, NULL,
				    "Empty messages cannot be appended");
			return CMD_DONE;
		}
	}
	return store_job_run(s, append_job_work, append_job_reply, append_job_free, j);
}

enum cmd_result cmd_append(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs < 2)
		return cmd_bad(s, cmd, "APPEND takes a mailbox, [flags] [date-time] and a literal");
	char *name = NULL;
	bool bad_syntax = false;
	const char *error = NULL;
	if (mboxname_from_arg(s, &cmd->args[0], &name, &bad_syntax, &error) < 0) {
		if (bad_syntax)
			return cmd_bad(s, cmd, error);
		resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_CANNOT, NULL, error);
		return CMD_DONE;
	}
	return append_execute(s, cmd, name);
}
