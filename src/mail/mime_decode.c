/* mime_decode: content-transfer-encoding decoders (RFC 2045 §6).
 *
 * Streaming: a chunk may end anywhere, even inside "=4" or a base64
 * quantum; the state carries over. Base64 is lenient (RFC 2045 §6.8:
 * characters outside the alphabet are ignored; padding ends a quantum and
 * decoding goes on after it). Quoted-printable drops soft line breaks and
 * the trailing whitespace of encoded lines (§6.7 rule 3), and keeps a '='
 * that does not start a valid escape as a literal '='. */
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "mail/mime_internal.h"
#include "lib/codec.h"

/* Whitespace runs longer than this cannot be line padding: flushed. */
#define MIME_DECODE_WS_MAX 4096

enum mime_qp_state {
	MIME_QP_NORMAL,
	MIME_QP_CR,    /* CR seen in text */
	MIME_QP_EQ,    /* '=' seen */
	MIME_QP_EQ1,   /* '=' and one hex digit */
	MIME_QP_EQ_WS, /* '=' then whitespace: a soft break with padding */
	MIME_QP_EQ_CR, /* '=' [whitespace] CR */
};

struct mime_decoder {
	enum mime_cte cte;
	unsigned char q[4];
	int qn;
	enum mime_qp_state state;
	char hex1;
	struct buf ws;
};

struct mime_decoder *mime_decoder_new(enum mime_cte cte)
{
	struct mime_decoder *d = xcalloc(1, sizeof(*d));
	d->cte = cte;
	return d;
}

/* Emits the bytes of a quantum of qn sextets (qn >= 2). */
static void mime_decode_b64_flush(struct mime_decoder *d, struct buf *out)
{
	unsigned char o[3];
	o[0] = (unsigned char)(d->q[0] << 2 | d->q[1] >> 4);
	o[1] = (unsigned char)(d->q[1] << 4 | d->q[2] >> 2);
	o[2] = (unsigned char)(d->q[2] << 6 | d->q[3]);
	if (d->qn >= 2)
		buf_append(out, o, (size_t)d->qn - 1);
	d->qn = 0;
	memset(d->q, 0, sizeof(d->q));
}

static void mime_decode_b64(struct mime_decoder *d, const unsigned char *s, size_t len,
			    struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		int v = codec_base64_value(s[i], '/');
		if (v >= 0) {
			d->q[d->qn++] = (unsigned char)v;
			if (d->qn == 4)
				mime_decode_b64_flush(d, out);
		} else if (s[i] == '=' && d->qn > 0) {
			mime_decode_b64_flush(d, out);
		}
	}
}

static void mime_decode_ws_flush(struct mime_decoder *d, struct buf *out)
{
	buf_append(out, buf_rdata(&d->ws), buf_rlen(&d->ws));
	d->ws.len = d->ws.rpos = 0;
}

/* One character in text (not after '='). */
static void mime_decode_qp_text(struct mime_decoder *d, char c, struct buf *out)
{
	if (c == ' ' || c == '\t') {
		if (buf_rlen(&d->ws) >= MIME_DECODE_WS_MAX)
			mime_decode_ws_flush(d, out);
		buf_append(&d->ws, &c, 1);
	} else if (c == '\r') {
		d->state = MIME_QP_CR;
	} else if (c == '\n') {
		d->ws.len = d->ws.rpos = 0; /* trailing padding of the line */
		buf_append(out, "\n", 1);
	} else {
		mime_decode_ws_flush(d, out);
		if (c == '=')
			d->state = MIME_QP_EQ;
		else
			buf_append(out, &c, 1);
	}
}

/* Returns false when c must be processed again in the NORMAL state. */
static bool mime_decode_qp_state(struct mime_decoder *d, char c, struct buf *out)
{
	int h = codec_hex_value((unsigned char)c);
	enum mime_qp_state st = d->state;
	d->state = MIME_QP_NORMAL;
	switch (st) {
	case MIME_QP_CR:
		if (c == '\n') {
			d->ws.len = d->ws.rpos = 0;
			buf_append(out, "\r\n", 2);
			return true;
		}
		mime_decode_ws_flush(d, out);
		buf_append(out, "\r", 1);
		return false;
	case MIME_QP_EQ:
		if (h >= 0) {
			d->hex1 = c;
			d->state = MIME_QP_EQ1;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			d->state = c == '\r' ? MIME_QP_EQ_CR : MIME_QP_EQ_WS;
		} else if (c != '\n') {
			buf_append(out, "=", 1);
			return false;
		}
		return true;
	case MIME_QP_EQ1:
		if (h >= 0) {
			char b = (char)(codec_hex_value((unsigned char)d->hex1) * 16 + h);
			buf_append(out, &b, 1);
			return true;
		}
		buf_append(out, "=", 1);
		buf_append(out, &d->hex1, 1);
		return false;
	case MIME_QP_EQ_WS:
		if (c == ' ' || c == '\t' || c == '\r') {
			d->state = c == '\r' ? MIME_QP_EQ_CR : MIME_QP_EQ_WS;
			return true;
		}
		if (c == '\n')
			return true;
		buf_append(out, "=", 1);
		return false;
	case MIME_QP_EQ_CR:
		return c == '\n';
	case MIME_QP_NORMAL:
		break;
	}
	return false;
}

static void mime_decode_qp(struct mime_decoder *d, const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (d->state != MIME_QP_NORMAL && mime_decode_qp_state(d, s[i], out))
			continue;
		mime_decode_qp_text(d, s[i], out);
	}
}

int mime_decoder_feed(struct mime_decoder *d, const void *data, size_t len, struct buf *out)
{
	switch (d->cte) {
	case MIME_CTE_BASE64:
		mime_decode_b64(d, data, len, out);
		return 0;
	case MIME_CTE_QUOTED_PRINTABLE:
		mime_decode_qp(d, data, len, out);
		return 0;
	case MIME_CTE_7BIT:
	case MIME_CTE_8BIT:
	case MIME_CTE_BINARY:
		buf_append(out, data, len);
		return 0;
	case MIME_CTE_UNKNOWN:
		break;
	}
	return -1;
}

static void mime_decode_qp_finish(struct mime_decoder *d, struct buf *out)
{
	switch (d->state) {
	case MIME_QP_CR:
		mime_decode_ws_flush(d, out);
		buf_append(out, "\r", 1);
		break;
	case MIME_QP_EQ:
	case MIME_QP_EQ_WS:
		buf_append(out, "=", 1);
		break;
	case MIME_QP_EQ1:
		buf_append(out, "=", 1);
		buf_append(out, &d->hex1, 1);
		break;
	case MIME_QP_NORMAL:
		mime_decode_ws_flush(d, out);
		break;
	case MIME_QP_EQ_CR:
		break;
	}
}

void mime_decoder_finish(struct mime_decoder **dp, struct buf *out)
{
	struct mime_decoder *d = *dp;
	if (d == NULL)
		return;
	*dp = NULL;
	if (d->cte == MIME_CTE_BASE64 && d->qn >= 2)
		mime_decode_b64_flush(d, out);
	else if (d->cte == MIME_CTE_QUOTED_PRINTABLE)
		mime_decode_qp_finish(d, out);
	buf_release(&d->ws);
	free(d);
}
