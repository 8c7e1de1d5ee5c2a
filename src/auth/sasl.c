/* sasl: strict base64 (RFC 4648 §4) and the PLAIN message (RFC 4616).
 *
 * The base64 decoder is hand-written rather than OpenSSL's
 * EVP_DecodeBlock because that one skips leading/trailing whitespace,
 * does not reject non-zero pad bits, and returns the length rounded up
 * to whole quanta (the caller must subtract the padding itself). IMAP
 * wants exactly one encoding per byte string, so we accept:
 *   - only A-Z a-z 0-9 + / and '=' (no whitespace, no URL-safe alphabet);
 *   - a length that is a multiple of 4 (padding is mandatory);
 *   - '=' only as the last one or two characters;
 *   - zero pad bits (RFC 4648 §3.5), so "QR==" is rejected for "QQ==".
 * Anything else is -1, which the caller turns into a tagged BAD.
 *
 * All output lives in the caller's arena; nothing here keeps state, so it
 * is safe from any thread. */
#include "auth/sasl.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/codec.h"

#define SASL_ID_MAX       255
#define SASL_PASSWORD_MAX 1024

/* Number of '=' at the end of in (0..2), or -1 if padding is misplaced. */
static int sasl_b64_padding(const char *in, size_t len)
{
	int pad = 0;
	while (pad < 2 && len > (size_t)pad && in[len - 1 - (size_t)pad] == '=')
		pad++;
	/* a third '=' (or one anywhere earlier) is caught as a bad digit */
	return pad;
}

/* Decodes one quantum of 4 - pad digits into 3 - pad bytes. Returns
 * false on a bad digit or non-zero pad bits. */
static bool sasl_b64_quantum(const char *in, int pad, unsigned char *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int d = i < 4 - pad ? codec_base64_value((unsigned char)in[i], '/') : 0;
		if (d < 0)
			return false;
		v = v << 6 | (uint32_t)d;
	}
	/* The bits below the last output byte: with pad 1 they are the third
	 * digit's low 2 bits (plus the zeros we filled in), with pad 2 the
	 * second digit's low 4 bits. A canonical encoder leaves them zero. */
	if (pad > 0 && (v & (pad == 1 ? 0xffu : 0xffffu)) != 0)
		return false;
	out[0] = (unsigned char)(v >> 16);
	if (pad < 2)
		out[1] = (unsigned char)(v >> 8);
	if (pad < 1)
		out[2] = (unsigned char)v;
	return true;
}

int sasl_base64_decode(const char *in, size_t len, struct arena *a, char **out_r, size_t *out_len_r)
{
	if (len % 4 != 0)
		return -1;
	int pad = sasl_b64_padding(in, len);
	size_t out_len = len / 4 * 3 - (size_t)pad;
	unsigned char *out = arena_alloc(a, out_len + 1);
	for (size_t i = 0, o = 0; i < len; i += 4, o += 3) {
		if (!sasl_b64_quantum(in + i, i + 4 == len ? pad : 0, out + o))
			return -1;
	}
	out[out_len] = '\0';
	*out_r = (char *)out;
	*out_len_r = out_len;
	return 0;
}

char *sasl_base64_encode(const void *in, size_t len, struct arena *a)
{
	const unsigned char *p = in;
	char *out = arena_alloc(a, (len + 2) / 3 * 4 + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		size_t n = len - i < 3 ? len - i : 3;
		uint32_t v = (uint32_t)p[i] << 16;
		if (n > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (n > 2)
			v |= p[i + 2];
		out[o++] = codec_base64_alphabet[v >> 18 & 63];
		out[o++] = codec_base64_alphabet[v >> 12 & 63];
		out[o++] = n > 1 ? codec_base64_alphabet[v >> 6 & 63] : '=';
		out[o++] = n > 2 ? codec_base64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

int sasl_plain_parse(const char *msg, size_t len, struct arena *a, const char **authzid_r,
                     const char **authcid_r, const char **password_r, size_t *password_len_r,
                     const char **error_r)
{
	/* RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
	const char *end = msg + len;
	const char *nul1 = len > 0 ? memchr(msg, '\0', len) : NULL;
	const char *nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1)) : NULL;
	if (nul2 == NULL) {
		*error_r = "missing NUL separator";
		return -1;
	}
	size_t zid_len = (size_t)(nul1 - msg);
	size_t cid_len = (size_t)(nul2 - nul1 - 1);
	size_t pw_len = (size_t)(end - nul2 - 1);
	if (memchr(nul2 + 1, '\0', pw_len) != NULL) {
		*error_r = "NUL inside password";
		return -1;
	}
	if (cid_len == 0 || pw_len == 0) {
		*error_r = cid_len == 0 ? "empty authentication identity" : "empty password";
		return -1;
	}
	if (zid_len > SASL_ID_MAX || cid_len > SASL_ID_MAX || pw_len > SASL_PASSWORD_MAX) {
		*error_r = pw_len > SASL_PASSWORD_MAX ? "password too long" : "identity too long";
		return -1;
	}
	*authzid_r = arena_strndup(a, msg, zid_len);
	*authcid_r = arena_strndup(a, nul1 + 1, cid_len);
	*password_r = arena_strndup(a, nul2 + 1, pw_len);
	*password_len_r = pw_len;
	return 0;
}
