/* mboxname: mailbox names between the client and the store (see mboxname.h).
 *
 * Modified UTF-7 (RFC 3501 §5.1.3): printable US-ASCII (0x20-0x7e) stands
 * for itself except '&', which is "&-"; every other character is written
 * as '&', the modified BASE64 (',' instead of '/', no '=' padding) of its
 * UTF-16BE form, and '-'. The decoder accepts only the canonical form, so
 * every name has exactly one spelling on the wire: no printable ASCII
 * inside a shift, no two shifts back to back, no stray or non-zero
 * padding bits, no lone surrogates, no NUL, no raw 8-bit or control bytes.
 *
 * Invariants: a name returned by mboxname_from_*() is valid UTF-8, passes
 * store_name_valid(), and spells the inbox exactly "INBOX". The checks
 * here run before the store's own so that the client gets a precise
 * reason, and the store's check runs last so that nothing it refuses is
 * ever handed to it. */
#include "imap/mboxname.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap/session.h"
#include "lib/xalloc.h"
#include "store/store.h"
#include "lib/codec.h"

/* RFC 3501 §5.1.3: modified base64 uses ',' where base64 has '/'. */
static const char mboxname_mutf7_digit[65] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static bool mboxname_printable(uint32_t c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* Makes out a C string (allocating it when still empty). */
static void mboxname_terminate(struct buf *out)
{
	buf_reserve(out, 0);
	out->data[out->len] = '\0';
}

/* Decodes one UTF-8 sequence strictly (no overlong forms, surrogates or
 * code points above U+10FFFF). Returns its length, or 0 when invalid. */
static size_t mboxname_utf8_decode(const unsigned char *p, size_t len, uint32_t *cp_r)
{
	static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t n;
	uint32_t cp;
	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	} else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

static void mboxname_utf8_encode(uint32_t cp, struct buf *out)
{
	unsigned char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, b, n);
}

/* Whether in[0..len) is valid UTF-8 without NUL bytes. */
static bool mboxname_utf8_valid(const char *in, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = mboxname_utf8_decode(p + i, len - i, &cp);
		if (n == 0 || cp == 0)
			return false;
		i += n;
	}
	return true;
}

/* Encodes one run of non-printable characters starting at in[*pos] as
 * "&<base64>-". */
static int mboxname_encode_shift(const unsigned char *in, size_t len, size_t *pos, struct buf *out)
{
	uint32_t bits = 0;
	unsigned nbits = 0;
	size_t i = *pos;
	buf_append(out, "&", 1);
	while (i < len && !mboxname_printable(in[i])) {
		uint32_t cp, units[2];
		size_t n = mboxname_utf8_decode(in + i, len - i, &cp);
		if (n == 0 || cp == 0)
			return -1;
		i += n;
		size_t nunits = 1;
		units[0] = cp;
		if (cp >= 0x10000) { /* UTF-16 surrogate pair */
			units[0] = 0xd800 | ((cp - 0x10000) >> 10);
			units[1] = 0xdc00 | ((cp - 0x10000) & 0x3ff);
			nunits = 2;
		}
		for (size_t u = 0; u < nunits; u++) {
			bits = (bits << 16) | units[u];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				buf_append(out, &mboxname_mutf7_digit[(bits >> nbits) & 0x3f], 1);
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (nbits > 0)
		buf_append(out, &mboxname_mutf7_digit[(bits << (6 - nbits)) & 0x3f], 1);
	buf_append(out, "-", 1);
	*pos = i;
	return 0;
}

int utf8_to_mutf7(const char *in, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t start = out->len;
	for (size_t i = 0; i < len;) {
		if (p[i] == '&') {
			buf_append(out, "&-", 2);
			i++;
		} else if (mboxname_printable(p[i])) {
			buf_append(out, &in[i], 1);
			i++;
		} else if (mboxname_encode_shift(p, len, &i, out) < 0) {
			out->len = start;
			mboxname_terminate(out);
			return -1;
		}
	}
	mboxname_terminate(out);
	return 0;
}

/* Adds one UTF-16 unit decoded from a shift; *high holds a pending high
 * surrogate. Returns -1 for what canonical mUTF-7 cannot contain. */
static int mboxname_decode_unit(uint32_t u, uint32_t *high, struct buf *out)
{
	if (*high != 0) {
		if (u < 0xdc00 || u > 0xdfff)
			return -1;
		mboxname_utf8_encode(0x10000 + ((*high - 0xd800) << 10) + (u - 0xdc00), out);
		*high = 0;
		return 0;
	}
	if (u >= 0xd800 && u <= 0xdbff) {
		*high = u;
		return 0;
	}
	/* A lone low surrogate, NUL, or a character that must be written
	 * directly (RFC 3501 §5.1.3: "MUST NOT be used to represent any
	 * printing US-ASCII character which can represent itself"). */
	if ((u >= 0xdc00 && u <= 0xdfff) || u == 0 || mboxname_printable(u))
		return -1;
	mboxname_utf8_encode(u, out);
	return 0;
}

/* Decodes the shift starting after the '&' at in[*pos] up to and
 * including its '-'. */
static int mboxname_decode_shift(const unsigned char *in, size_t len, size_t *pos, struct buf *out)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0, units = 0;
	size_t i = *pos;
	for (; i < len && in[i] != '-'; i++) {
		int v = codec_base64_value(in[i], ',');
		if (v < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			if (mboxname_decode_unit((bits >> nbits) & 0xffff, &high, out) < 0)
				return -1;
			bits &= (1u << nbits) - 1;
			units++;
		}
	}
	/* Unterminated, empty, a dangling surrogate, a whole unused base64
	 * character, or padding bits that are not zero: not canonical. */
	if (i == len || units == 0 || high != 0 || nbits >= 6 || bits != 0)
		return -1;
	*pos = i + 1;
	return 0;
}

int mutf7_to_utf8(const char *in, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t start = out->len;
	bool after_shift = false;
	for (size_t i = 0; i < len;) {
		if (p[i] == '&' && i + 1 < len && p[i + 1] == '-') {
			buf_append(out, "&", 1);
			i += 2;
			after_shift = false;
		} else if (p[i] == '&' && !after_shift) {
			i++;
			if (mboxname_decode_shift(p, len, &i, out) < 0)
				goto fail;
			after_shift = true; /* "&AOQ-&AOQ-" is "&AOQA5A-" spelled twice */
		} else if (mboxname_printable(p[i]) && p[i] != '&') {
			buf_append(out, &in[i], 1);
			i++;
			after_shift = false;
		} else {
			goto fail;
		}
	}
	mboxname_terminate(out);
	return 0;
fail:
	out->len = start;
	mboxname_terminate(out);
	return -1;
}

/* RFC 9051 §5.1: "INBOX" in any case, alone or as the first level, is the
 * inbox; the store only knows the upper-case spelling. */
static void mboxname_fold_inbox(char *name, size_t len)
{
	if (len >= 5 && strncasecmp(name, "INBOX", 5) == 0 && (len == 5 || name[5] == '/'))
		memcpy(name, "INBOX", 5);
}

static const char *mboxname_check_level(const char *level, size_t len)
{
	if (len == 0)
		return "Mailbox name has an empty hierarchy level";
	if ((len == 1 && level[0] == '.') || (len == 2 && level[0] == '.' && level[1] == '.'))
		return "Mailbox name levels \".\" and \"..\" are not allowed";
	return NULL;
}

/* The reason a UTF-8 name is refused, or NULL. The same rules as
 * store_name_valid(), spelled out so that the client learns which. */
static const char *mboxname_check(const char *name, size_t len)
{
	if (len == 0)
		return "Mailbox name is empty";
	if (len > STORE_NAME_MAX)
		return "Mailbox name is too long";
	if (name[0] == MBOXNAME_DELIMITER)
		return "Mailbox name must not start with the hierarchy delimiter \"/\"";
	if (name[len - 1] == MBOXNAME_DELIMITER)
		return "Mailbox name must not end with the hierarchy delimiter \"/\"";
	unsigned depth = 1;
	size_t level = 0;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)name[i] : MBOXNAME_DELIMITER;
		/* C0, DEL, and the C1 controls (U+0080-U+009F: C2 80-C2 9F) */
		if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && i + 1 < len && (unsigned char)name[i + 1] < 0xa0))
			return "Mailbox name contains control characters";
		if (c == '*' || c == '%')
			return "Mailbox name must not contain the wildcards \"*\" or \"%\"";
		if (c != MBOXNAME_DELIMITER)
			continue;
		const char *why = mboxname_check_level(name + level, i - level);
		if (why != NULL)
			return why;
		level = i + 1;
		if (i < len && ++depth > STORE_DEPTH_MAX)
			return "Mailbox name has too many hierarchy levels";
	}
	return NULL;
}

/* Why bytes are not modified UTF-7: the most useful reason first. */
static const char *mboxname_mutf7_error(const char *str, size_t len)
{
	bool eight_bit = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c < 0x20 || c == 0x7f)
			return "Mailbox name contains control characters";
		eight_bit = eight_bit || c >= 0x80;
	}
	if (eight_bit)
		return "Mailbox name has 8-bit characters: use modified UTF-7, or ENABLE UTF8=ACCEPT";
	return "Mailbox name is not valid modified UTF-7 (RFC 3501 section 5.1.3)";
}

int mboxname_from_wire(const char *str, size_t len, bool utf8, char **name_r,
		       const char **error_r)
{
	struct buf b = {0};
	*name_r = NULL;
	if (utf8) {
		if (!mboxname_utf8_valid(str, len)) {
			*error_r = "Mailbox name is not valid UTF-8";
			return -1;
		}
		buf_append(&b, str, len);
	} else if (mutf7_to_utf8(str, len, &b) < 0) {
		buf_release(&b);
		*error_r = mboxname_mutf7_error(str, len);
		return -1;
	}
	mboxname_terminate(&b);
	mboxname_fold_inbox(b.data, b.len);
	const char *why = mboxname_check(b.data, b.len);
	if (why == NULL && !store_name_valid(b.data))
		why = "Mailbox name is not allowed";
	if (why != NULL) {
		buf_release(&b);
		*error_r = why;
		return -1;
	}
	*name_r = xstrndup(b.data, b.len);
	buf_release(&b);
	return 0;
}

int mboxname_from_arg(const struct session *s, const struct imap_arg *arg, char **name_r,
		      bool *bad_syntax_r, const char **error_r)
{
	const char *str;
	size_t len;
	*name_r = NULL;
	*bad_syntax_r = false;
	if (!imap_arg_get_astring(arg, &str, &len)) {
		*bad_syntax_r = true;
		*error_r = "Mailbox name must be an atom, a quoted string or a literal";
		return -1;
	}
	return mboxname_from_wire(str, len, session_utf8(s), name_r, error_r);
}

/* Appends str as a quoted string, or as a literal when a byte cannot be
 * quoted (CR, LF, NUL; 8-bit unless UTF-8 is on, RFC 9051 §4.3). */
static void mboxname_append_string(struct buf *out, const char *str, size_t len, bool utf8)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c == '\0' || c == '\r' || c == '\n' || (c >= 0x80 && !utf8)) {
			buf_printf(out, "{%zu}\r\n", len);
			buf_append(out, str, len);
			return;
		}
	}
	buf_append(out, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		if (str[i] == '"' || str[i] == '\\')
			buf_append(out, "\\", 1);
		buf_append(out, &str[i], 1);
	}
	buf_append(out, "\"", 1);
}

void mboxname_append(const struct session *s, struct buf *out, const char *name)
{
	size_t len = strlen(name);
	if (session_utf8(s)) {
		mboxname_append_string(out, name, len, true);
		return;
	}
	struct buf m = {0};
	if (utf8_to_mutf7(name, len, &m) == 0)
		mboxname_append_string(out, m.data, m.len, false);
	else /* not UTF-8: cannot happen for store names; send the bytes as they are */
		mboxname_append_string(out, name, len, false);
	buf_release(&m);
}
