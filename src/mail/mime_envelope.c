/* mime_envelope: ENVELOPE (RFC 9051 §7.5.2), IMAP strings, Date: parsing.
 *
 * ENVELOPE fields are the raw header values (unfolded, not decoded); an
 * absent field is NIL; Sender and Reply-To default to From when absent or
 * empty. Strings go out quoted when they can be, and as literals when they
 * hold CR, LF or 8-bit bytes, which keeps the text valid for IMAP4rev1
 * (no 8-bit quoted strings) and IMAP4rev2 alike. NUL cannot be sent in
 * either form and is dropped. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "mail/mime_internal.h"

void mime_imap_string(struct buf *out, const char *s, size_t len)
{
	bool literal = false;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c >= 0x80)
			literal = true;
		n += c != 0;
	}
	if (literal) {
		buf_printf(out, "{%zu}\r\n", n);
		for (size_t i = 0; i < len; i++)
			if (s[i] != '\0')
				buf_append(out, s + i, 1);
		return;
	}
	buf_append(out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_append(out, "\\", 1);
		if (s[i] != '\0')
			buf_append(out, s + i, 1);
	}
	buf_append(out, "\"", 1);
}

void mime_imap_nstring(struct buf *out, const char *s)
{
	if (s == NULL)
		buf_append_str(out, "NIL");
	else
		mime_imap_string(out, s, strlen(s));
}

static void mime_envelope_raw(struct buf *out, const struct mime_fields *f, const char *name)
{
	const struct mime_field *fl = mime_fields_find(f, name);
	mime_imap_nstring(out, fl != NULL ? fl->value : NULL);
}

/* Appends the address list of field name; false if it has no address. */
static bool mime_envelope_addr(struct buf *out, const struct mime_fields *f, const char *name)
{
	const struct mime_field *fl = mime_fields_find(f, name);
	size_t before = out->len;
	mime_address_write(fl != NULL ? fl->value : "", out);
	return !(out->len - before == 3 && memcmp(out->data + before, "NIL", 3) == 0);
}

char *mime_envelope_build(const struct mime_fields *f)
{
	struct buf b = {0}, from = {0};
	buf_append_str(&b, "(");
	mime_envelope_raw(&b, f, "Date");
	buf_append_str(&b, " ");
	mime_envelope_raw(&b, f, "Subject");
	mime_envelope_addr(&from, f, "From");
	buf_printf(&b, " %s ", buf_rdata(&from));
	/* RFC 9051 §7.5.2: absent or empty Sender / Reply-To take From */
	static const char *const dflt[] = {"Sender", "Reply-To"};
	for (size_t i = 0; i < 2; i++) {
		size_t mark = b.len;
		if (!mime_envelope_addr(&b, f, dflt[i])) {
			b.len = mark;
			buf_append(&b, buf_rdata(&from), buf_rlen(&from));
		}
		buf_append_str(&b, " ");
	}
	static const char *const rest[] = {"To", "Cc", "Bcc"};
	for (size_t i = 0; i < 3; i++) {
		mime_envelope_addr(&b, f, rest[i]);
		buf_append_str(&b, " ");
	}
	mime_envelope_raw(&b, f, "In-Reply-To");
	buf_append_str(&b, " ");
	mime_envelope_raw(&b, f, "Message-ID");
	buf_append_str(&b, ")");
	char *r = xstrndup(buf_rdata(&b), buf_rlen(&b));
	buf_release(&b);
	buf_release(&from);
	return r;
}

/* --- Date: (RFC 5322 §3.3 and the obsolete forms of §4.3) --- */

static const char *mime_date_skip(const char *s)
{
	for (;;) {
		s = mime_header_skip_cfws(s);
		if (*s != ',' && *s != '-')
			return s;
		s++;
	}
}

static const char *mime_date_num(const char *s, int max_digits, int *v_r, int *digits_r)
{
	int v = 0, n = 0;
	while (n < max_digits && isdigit((unsigned char)s[n]))
		v = v * 10 + (s[n++] - '0');
	*v_r = v;
	*digits_r = n;
	return s + n;
}

static int mime_date_month(const char *s, const char **end_r)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	size_t len = 0;
	while (isalpha((unsigned char)s[len]))
		len++;
	*end_r = s + len;
	if (len < 3)
		return -1;
	for (int m = 0; m < 12; m++)
		if (strncasecmp(s, names + m * 3, 3) == 0)
			return m + 1;
	return -1;
}

/* Zone as minutes east of UTC; obsolete names per RFC 5322 §4.3 (military
 * letters and unknown names mean -0000, i.e. 0). */
static int mime_date_zone(const char *s)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {{"UT", 0},   {"UTC", 0},  {"GMT", 0},  {"Z", 0},   {"EST", -5},
		     {"EDT", -4}, {"CST", -6}, {"CDT", -5}, {"MST", -7}, {"MDT", -6},
		     {"PST", -8}, {"PDT", -7}};
	if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1])) {
		int v, n;
		mime_date_num(s + 1, 4, &v, &n);
		if (n != 4 || v / 100 > 23 || v % 100 > 59)
			return 0;
		int mins = v / 100 * 60 + v % 100;
		return *s == '-' ? -mins : mins;
	}
	size_t len = 0;
	while (isalpha((unsigned char)s[len]))
		len++;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strlen(zones[i].name) == len && strncasecmp(s, zones[i].name, len) == 0)
			return zones[i].hours * 60;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t mime_date_days(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int mime_date_year(int v, int digits)
{
	if (digits == 2)
		return v < 50 ? 2000 + v : 1900 + v;
	if (digits == 3)
		return 1900 + v;
	return v;
}

int mime_date_parse(const char *s, int64_t *time_r, int32_t *tz_r)
{
	int day, month, year, hh, mm, ss = 0, n, yd;
	s = mime_date_skip(s);
	if (isalpha((unsigned char)*s)) { /* day-of-week */
		while (isalpha((unsigned char)*s))
			s++;
		s = mime_date_skip(s);
	}
	s = mime_date_skip(mime_date_num(s, 2, &day, &n));
	if (n == 0 || (month = mime_date_month(s, &s)) < 0)
		return -1;
	s = mime_date_skip(mime_date_num(mime_date_skip(s), 4, &year, &yd));
	if (yd < 2)
		return -1;
	s = mime_date_num(s, 2, &hh, &n);
	if (n == 0 || *s != ':')
		return -1;
	s = mime_date_num(mime_header_skip_cfws(s + 1), 2, &mm, &n);
	if (n == 0)
		return -1;
	s = mime_header_skip_cfws(s);
	if (*s == ':') {
		s = mime_date_num(mime_header_skip_cfws(s + 1), 2, &ss, &n);
		if (n == 0)
			return -1;
	}
	year = mime_date_year(year, yd);
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	int tz = mime_date_zone(mime_header_skip_cfws(s));
	*time_r = mime_date_days(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss -
		  (int64_t)tz * 60;
	*tz_r = tz;
	return 0;
}
