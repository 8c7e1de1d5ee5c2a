/* cmd_fetch: FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9, §7.5.2;
 * RFC 3516 BINARY; RFC 3501 §6.4.5 for rev1's RFC822 items).
 *
 * parse -> check -> stream. The handler parses the set and the items
 * (fetch_items.c), resolves the set to UIDs of the view, and hands a
 * producer to the session (session_set_producer). The producer writes
 * at most about FETCH_BUDGET bytes per call and is called again whenever
 * the client has drained its output, so memory never grows with the
 * data size:
 *   - metadata comes from store_fetch in batches of FETCH_BATCH messages,
 *     copied into a per-batch arena that is reset for the next batch;
 *   - literal data is read from the message file FETCH_CHUNK bytes at a
 *     time, straight into the connection's output.
 * A literal's size goes out before its data: file ranges know theirs;
 * HEADER.FIELDS(.NOT) filters the header (bounded: FETCH_HEADER_MAX) into
 * memory; BINARY decodes the part once without keeping the output, to
 * learn the decoded size and whether it holds NUL (then it is sent as a
 * literal8, RFC 3516 §4.2), and decodes again while streaming.
 *
 * Choices where the RFCs leave room:
 *   - A section that does not exist in the message (BODY[1.5] of a
 *     two-part message, BODY[1.HEADER] of a text part) is an empty string
 *     "" (RFC 3501/9051 §6.4.5 practice: a meaningless section is empty).
 *     BINARY of it is "" too and BINARY.SIZE is 0.
 *   - BINARY of a multipart or message/rfc822 part (and BINARY[]) is the
 *     part's bytes undecoded: only leaf parts have a CTE to undo.
 *   - A message in our view that another session expunged is skipped
 *     (its data is gone). FETCH by sequence number then ends with
 *     NO [EXPUNGEISSUED] after the other messages' data (RFC 9051 §7.1
 *     EXPUNGEISSUED; no EXPUNGE may be sent during it, §7.5.1). UID FETCH
 *     ends with OK: a UID that does not exist is ignored without error
 *     (RFC 9051 §6.4.9), and the EXPUNGE follows with the view's update.
 *   - \Seen is set (one store_set_flags per batch, on the store pool
 *     while the producer waits) before the batch's
 *     responses are written, so FLAGS in them is current; when FLAGS was
 *     not asked for and \Seen was newly set, FLAGS is appended (§6.4.5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/commands.h"
#include "imap/fetch_items.h"
#include "imap/resp.h"
#include "imap/seqset.h"
#include "imap/view.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mail/mime.h"

#define FETCH_BATCH      128           /* messages per store_fetch call */
#define FETCH_CHUNK      (64 * 1024)   /* literal bytes per read */
#define FETCH_BUDGET     (128 * 1024)  /* bytes written per producer call */
#define FETCH_HEADER_MAX (1024 * 1024) /* header read for HEADER.FIELDS */

/* One message of the current batch (strings in the batch arena). */
struct fetch_msg {
	uint32_t uid;
	uint32_t flags;
	bool found;         /* store_fetch reported it: not expunged */
	bool flags_changed; /* we set \Seen */
	uint64_t modseq;    /* after we set \Seen */
	const char *keywords;
	int64_t internaldate;
	int32_t internaldate_tz;
	uint64_t size;
	const char *envelope, *bodystructure, *body;
	const void *parts;
	size_t parts_len;
};

enum fetch_lit_kind {
	FETCH_LIT_NONE,   /* no literal being written */
	FETCH_LIT_FILE,   /* bytes [pos, pos+left) of the message file */
	FETCH_LIT_MEM,    /* the bytes in mem */
	FETCH_LIT_DECODE, /* the input [pos, end) decoded, minus skip bytes */
};

struct fetch_lit {
	enum fetch_lit_kind kind;
	uint64_t left;     /* bytes of the literal still to write */
	uint64_t pos, end; /* FILE, DECODE: input position and end in the file */
	uint64_t skip;     /* DECODE: decoded bytes before the partial's start */
	struct buf mem;    /* MEM: the data; DECODE: decoded bytes not yet written */
	struct mime_decoder *dec;
};

struct fetch_ctx {
	struct arena arena; /* the set and the items */
	struct fetch_items items;
	bool uid_mode;
	bool set_seen; /* items set \Seen and the mailbox is read-write */
	char *tag;
	uint32_t *uids; /* resolved UIDs, ascending */
	size_t n_uids, next;
	struct arena batch_arena;
	struct fetch_msg *batch;
	size_t batch_n, batch_pos, batch_fill;
	struct fetch_msg *msg; /* the message being written, or NULL */
	size_t item;           /* next item of msg */
	struct store_body *body;
	struct buf line; /* response text not yet written */
	struct fetch_lit lit;
	char *chunk;    /* FETCH_CHUNK bytes for reads */
	size_t written; /* bytes written in this producer call */
	bool expunged;  /* a message of the set was expunged meanwhile */
	bool unknown_cte;
	bool seen_wait; /* the batch's \Seen commit runs on the store pool */
	enum store_err err;
};

/* --- output --- */

static void cmd_fetch_write(struct session *s, struct fetch_ctx *f, const void *data, size_t len)
{
	session_write(s, data, len);
	f->written += len;
}

static void cmd_fetch_flush_line(struct session *s, struct fetch_ctx *f)
{
	cmd_fetch_write(s, f, buf_rdata(&f->line), buf_rlen(&f->line));
	buf_consume(&f->line, buf_rlen(&f->line));
}

/* Ends the literal: frees what it held. */
static void cmd_fetch_lit_end(struct fetch_ctx *f)
{
	if (f->lit.dec != NULL)
		mime_decoder_finish(&f->lit.dec, &f->lit.mem);
	buf_release(&f->lit.mem);
	memset(&f->lit, 0, sizeof(f->lit));
}

/* Announces a literal of len bytes (literal8 with binary) and writes the
 * line up to it; the data follows through cmd_fetch_lit_step. An empty
 * string is sent as "" (no literal). */
static void cmd_fetch_lit_begin(struct session *s, struct fetch_ctx *f, uint64_t len, bool binary)
{
	if (len == 0) {
		buf_append(&f->line, "\"\"", 2);
		cmd_fetch_lit_end(f);
		return;
	}
	buf_printf(&f->line, "%s{%llu}\r\n", binary ? "~" : "", (unsigned long long)len);
	cmd_fetch_flush_line(s, f);
	f->lit.left = len;
}

/* The literal could not be read to its announced end (file damaged or
 * truncated): fill it so the client stays in sync, and fail the command. */
static void cmd_fetch_lit_pad(struct session *s, struct fetch_ctx *f)
{
	size_t n = f->lit.left < FETCH_CHUNK ? (size_t)f->lit.left : FETCH_CHUNK;
	memset(f->chunk, ' ', n);
	cmd_fetch_write(s, f, f->chunk, n);
	f->lit.left -= n;
	f->err = STORE_ERR_IO;
}

static void cmd_fetch_lit_file(struct session *s, struct fetch_ctx *f)
{
	size_t n = f->lit.left < FETCH_CHUNK ? (size_t)f->lit.left : FETCH_CHUNK;
	ssize_t got = store_body_read(f->body, f->chunk, n, f->lit.pos);
	if (got <= 0) {
		cmd_fetch_lit_pad(s, f);
		return;
	}
	cmd_fetch_write(s, f, f->chunk, (size_t)got);
	f->lit.pos += (uint64_t)got;
	f->lit.left -= (uint64_t)got;
}

/* Decodes the next input chunk into lit.mem, dropping the bytes before
 * the partial's start. Returns false when the input is exhausted. */
static bool cmd_fetch_lit_decode_more(struct fetch_ctx *f)
{
	struct fetch_lit *l = &f->lit;
	if (l->pos < l->end) {
		uint64_t rest = l->end - l->pos;
		size_t n = rest < FETCH_CHUNK ? (size_t)rest : FETCH_CHUNK;
		ssize_t got = store_body_read(f->body, f->chunk, n, l->pos);
		if (got <= 0) {
			l->pos = l->end;
		} else {
			l->pos += (uint64_t)got;
			mime_decoder_feed(l->dec, f->chunk, (size_t)got, &l->mem);
		}
	} else if (l->dec != NULL) {
		mime_decoder_finish(&l->dec, &l->mem);
	} else {
		return false;
	}
	size_t drop = buf_rlen(&l->mem) < l->skip ? buf_rlen(&l->mem) : (size_t)l->skip;
	buf_consume(&l->mem, drop);
	l->skip -= drop;
	return true;
}

/* Writes from lit.mem (MEM and DECODE). */
static void cmd_fetch_lit_mem(struct session *s, struct fetch_ctx *f)
{
	struct fetch_lit *l = &f->lit;
	if (buf_rlen(&l->mem) == 0) {
		if (l->kind != FETCH_LIT_DECODE || !cmd_fetch_lit_decode_more(f))
			cmd_fetch_lit_pad(s, f);
		return;
	}
	size_t n = buf_rlen(&l->mem);
	if (n > l->left)
		n = (size_t)l->left;
	if (n > FETCH_CHUNK)
		n = FETCH_CHUNK;
	cmd_fetch_write(s, f, buf_rdata(&l->mem), n);
	buf_consume(&l->mem, n);
	l->left -= n;
}

/* Writes the next piece of the literal under way. */
static void cmd_fetch_lit_step(struct session *s, struct fetch_ctx *f)
{
	if (f->lit.kind == FETCH_LIT_FILE)
		cmd_fetch_lit_file(s, f);
	else
		cmd_fetch_lit_mem(s, f);
	if (f->lit.left == 0)
		cmd_fetch_lit_end(f);
}

/* --- sections --- */

/* The part of a total-byte string that <offset.count> selects (RFC 9051
 * §6.4.5: a start beyond the end gives an empty string; a count beyond
 * the end is truncated). */
static void cmd_fetch_window(const struct fetch_item *it, uint64_t total, uint64_t *start_r,
                             uint64_t *len_r)
{
	uint64_t start = 0, len = total;
	if (it->partial) {
		start = it->offset < total ? it->offset : total;
		len = total - start;
		if (len > it->count)
			len = it->count;
	}
	*start_r = start;
	*len_r = len;
}

static enum mime_section_kind cmd_fetch_kind(enum fetch_spec spec)
{
	switch (spec) {
	case FETCH_SPEC_CONTENT:
		return MIME_SECTION_CONTENT;
	case FETCH_SPEC_TEXT:
		return MIME_SECTION_TEXT;
	case FETCH_SPEC_MIME:
		return MIME_SECTION_MIME;
	default:
		return MIME_SECTION_HEADER;
	}
}

/* Where the item's bytes are in the message. Returns 0, or -1 when the
 * section does not exist. The whole message (BODY[], RFC822, BINARY[])
 * needs no part tree; it counts as composite (never decoded). */
static int cmd_fetch_range(struct fetch_ctx *f, const struct fetch_item *it, struct mime_range *r)
{
	uint64_t size = store_body_size(f->body);
	if (!fetch_item_needs_parts(it)) {
		r->offset = 0;
		r->len = size;
		r->cte = MIME_CTE_BINARY;
		r->composite = true;
		return 0;
	}
	if (f->msg->parts == NULL || mime_section(f->msg->parts, f->msg->parts_len, it->path,
	                                          it->depth, cmd_fetch_kind(it->spec), r) < 0)
		return -1;
	/* The index and the file should agree; never read outside the file. */
	if (r->offset > size)
		r->offset = size;
	if (r->len > size - r->offset)
		r->len = size - r->offset;
	return 0;
}

/* HEADER.FIELDS / HEADER.FIELDS.NOT: the filtered header in lit.mem. */
static void cmd_fetch_filter_header(struct fetch_ctx *f, const struct fetch_item *it,
                                    const struct mime_range *r)
{
	struct buf hdr = {0};
	uint64_t len = r->len < FETCH_HEADER_MAX ? r->len : FETCH_HEADER_MAX;
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < FETCH_CHUNK ? (size_t)(len - done) : FETCH_CHUNK;
		buf_reserve(&hdr, n);
		ssize_t got = store_body_read(f->body, buf_wptr(&hdr), n, r->offset + done);
		if (got <= 0)
			break;
		hdr.len += (size_t)got;
		done += (uint64_t)got;
	}
	mime_header_filter(buf_rdata(&hdr), buf_rlen(&hdr), it->fields, it->n_fields,
	                   it->spec == FETCH_SPEC_HEADER_FIELDS_NOT, &f->lit.mem);
	buf_release(&hdr);
}

/* BODY[section]<partial>, BODY.PEEK[...], RFC822, RFC822.HEADER/.TEXT. */
static void cmd_fetch_section(struct session *s, struct fetch_ctx *f, const struct fetch_item *it)
{
	struct mime_range r;
	uint64_t start, len;
	buf_append_str(&f->line, it->name);
	if (it->partial)
		buf_printf(&f->line, "<%llu>", (unsigned long long)it->offset);
	buf_append(&f->line, " ", 1);
	if (cmd_fetch_range(f, it, &r) < 0) {
		cmd_fetch_lit_begin(s, f, 0, false);
		return;
	}
	if (it->spec == FETCH_SPEC_HEADER_FIELDS || it->spec == FETCH_SPEC_HEADER_FIELDS_NOT) {
		cmd_fetch_filter_header(f, it, &r);
		cmd_fetch_window(it, buf_rlen(&f->lit.mem), &start, &len);
		buf_consume(&f->lit.mem, (size_t)start);
		f->lit.kind = FETCH_LIT_MEM;
	} else {
		cmd_fetch_window(it, r.len, &start, &len);
		f->lit.kind = FETCH_LIT_FILE;
		f->lit.pos = r.offset + start;
	}
	cmd_fetch_lit_begin(s, f, len, false);
}

/* --- BINARY (RFC 3516) --- */

static bool cmd_fetch_decodes(const struct mime_range *r)
{
	return !r->composite && (r->cte == MIME_CTE_BASE64 || r->cte == MIME_CTE_QUOTED_PRINTABLE);
}

/* Counts decoded bytes and looks for NUL in the window [wstart, wend). */
static void cmd_fetch_count(const char *data, size_t len, uint64_t wstart, uint64_t wend,
                            uint64_t *total, bool *nul)
{
	uint64_t from = *total, to = *total + len;
	if (!*nul && from < wend && to > wstart) {
		uint64_t a = from > wstart ? from : wstart;
		uint64_t b = to < wend ? to : wend;
		*nul = memchr(data + (a - from), '\0', (size_t)(b - a)) != NULL;
	}
	*total = to;
}

/* First pass over a BINARY part: the decoded size, and whether the part
 * of it the item selects holds a NUL (-> literal8). Nothing is kept. */
static void cmd_fetch_measure(struct fetch_ctx *f, const struct fetch_item *it,
                              const struct mime_range *r, uint64_t *total_r, bool *nul_r)
{
	uint64_t wstart = it->partial ? it->offset : 0;
	uint64_t wend =
	    it->partial && it->count <= UINT64_MAX - wstart ? wstart + it->count : UINT64_MAX;
	struct mime_decoder *d = cmd_fetch_decodes(r) ? mime_decoder_new(r->cte) : NULL;
	struct buf out = {0};
	*total_r = 0;
	*nul_r = false;
	for (uint64_t pos = r->offset; pos < r->offset + r->len;) {
		uint64_t rest = r->offset + r->len - pos;
		size_t n = rest < FETCH_CHUNK ? (size_t)rest : FETCH_CHUNK;
		ssize_t got = store_body_read(f->body, f->chunk, n, pos);
		if (got <= 0)
			break;
		pos += (uint64_t)got;
		if (d == NULL) {
			cmd_fetch_count(f->chunk, (size_t)got, wstart, wend, total_r, nul_r);
			continue;
		}
		mime_decoder_feed(d, f->chunk, (size_t)got, &out);
		cmd_fetch_count(buf_rdata(&out), buf_rlen(&out), wstart, wend, total_r, nul_r);
		buf_consume(&out, buf_rlen(&out));
	}
	if (d != NULL) {
		mime_decoder_finish(&d, &out);
		cmd_fetch_count(buf_rdata(&out), buf_rlen(&out), wstart, wend, total_r, nul_r);
	}
	buf_release(&out);
}

/* BINARY[part]<partial> and BINARY.PEEK[...]. */
static void cmd_fetch_binary(struct session *s, struct fetch_ctx *f, const struct fetch_item *it)
{
	struct mime_range r;
	uint64_t total, start, len;
	bool nul;
	buf_append_str(&f->line, it->name);
	if (it->partial)
		buf_printf(&f->line, "<%llu>", (unsigned long long)it->offset);
	buf_append(&f->line, " ", 1);
	if (cmd_fetch_range(f, it, &r) < 0) {
		cmd_fetch_lit_begin(s, f, 0, false);
		return;
	}
	cmd_fetch_measure(f, it, &r, &total, &nul);
	cmd_fetch_window(it, total, &start, &len);
	if (cmd_fetch_decodes(&r)) {
		f->lit.kind = FETCH_LIT_DECODE;
		f->lit.dec = mime_decoder_new(r.cte);
		f->lit.pos = r.offset;
		f->lit.end = r.offset + r.len;
		f->lit.skip = start;
	} else {
		f->lit.kind = FETCH_LIT_FILE;
		f->lit.pos = r.offset + start;
	}
	cmd_fetch_lit_begin(s, f, len, nul);
}

/* BINARY.SIZE[part]: the decoded size (RFC 3516 §4.2). */
static void cmd_fetch_binary_size(struct fetch_ctx *f, const struct fetch_item *it)
{
	struct mime_range r;
	uint64_t total = 0;
	bool nul;
	if (cmd_fetch_range(f, it, &r) == 0) {
		if (cmd_fetch_decodes(&r))
			cmd_fetch_measure(f, it, &r, &total, &nul);
		else
			total = r.len;
	}
	buf_printf(&f->line, "%s %llu", it->name, (unsigned long long)total);
}

/* RFC 9051 §6.4.5 / RFC 3516 §4.1: BINARY of a part whose CTE the server
 * does not know is NO [UNKNOWN-CTE]. Checked before anything of the
 * message is written. */
static bool cmd_fetch_cte_known(struct fetch_ctx *f)
{
	for (size_t i = 0; i < f->items.count; i++) {
		const struct fetch_item *it = &f->items.items[i];
		struct mime_range r;
		if ((it->att == FETCH_ATT_BINARY || it->att == FETCH_ATT_BINARY_SIZE) &&
		    cmd_fetch_range(f, it, &r) == 0 && !r.composite && r.cte == MIME_CTE_UNKNOWN)
			return false;
	}
	return true;
}

/* --- messages --- */

static void cmd_fetch_internaldate(struct buf *out, int64_t t, int32_t tz)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t local = (time_t)(t + (int64_t)tz * 60);
	struct tm tm;
	if (tz <= -24 * 60 || tz >= 24 * 60)
		tz = 0;
	if (gmtime_r(&local, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		local = 0;
		tz = 0;
		gmtime_r(&local, &tm);
	}
	int32_t abs_tz = tz < 0 ? -tz : tz;
	/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP
	 * time SP zone DQUOTE (RFC 9051 §9). */
	buf_printf(out, "INTERNALDATE \"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday,
	           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
	           tz < 0 ? '-' : '+', (int)(abs_tz / 60), (int)(abs_tz % 60));
}

static void cmd_fetch_flags(struct session *s, struct fetch_ctx *f)
{
	buf_append_str(&f->line, "FLAGS (");
	view_append_flags(s->view, &f->line, f->msg->uid, f->msg->flags, f->msg->keywords);
	buf_append(&f->line, ")", 1);
}

/* Appends one item (a literal item starts its literal). */
static void cmd_fetch_item(struct session *s, struct fetch_ctx *f, const struct fetch_item *it)
{
	const struct fetch_msg *m = f->msg;
	switch (it->att) {
	case FETCH_ATT_FLAGS:
		cmd_fetch_flags(s, f);
		break;
	case FETCH_ATT_UID:
		buf_printf(&f->line, "UID %u", (unsigned)m->uid);
		break;
	case FETCH_ATT_INTERNALDATE:
		cmd_fetch_internaldate(&f->line, m->internaldate, m->internaldate_tz);
		break;
	case FETCH_ATT_RFC822_SIZE:
		buf_printf(&f->line, "RFC822.SIZE %llu", (unsigned long long)m->size);
		break;
	case FETCH_ATT_ENVELOPE:
		/* Already IMAP text (mail/mime.h), valid for rev1 and rev2. */
		buf_printf(&f->line, "ENVELOPE %s",
		           m->envelope ? m->envelope : "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		break;
	case FETCH_ATT_BODY:
		buf_printf(&f->line, "BODY %s", m->body ? m->body : "NIL");
		break;
	case FETCH_ATT_BODYSTRUCTURE:
		buf_printf(&f->line, "BODYSTRUCTURE %s",
		           m->bodystructure ? m->bodystructure : "NIL");
		break;
	case FETCH_ATT_SECTION:
		cmd_fetch_section(s, f, it);
		break;
	case FETCH_ATT_BINARY:
		cmd_fetch_binary(s, f, it);
		break;
	case FETCH_ATT_BINARY_SIZE:
		cmd_fetch_binary_size(f, it);
		break;
	}
}

/* Starts "* <seq> FETCH (" for m, or skips m when it is gone. */
static void cmd_fetch_msg_begin(struct session *s, struct fetch_ctx *f, struct fetch_msg *m)
{
	if (!m->found) {
		f->expunged = true;
		return;
	}
	if (f->items.need_body) {
		enum store_err err = store_body_open(s->view->mb, m->uid, &f->body);
		if (err != STORE_OK) {
			if (err == STORE_ERR_EXPUNGED)
				f->expunged = true;
			else
				f->err = err;
			return;
		}
	}
	f->msg = m;
	if (!cmd_fetch_cte_known(f)) {
		f->unknown_cte = true;
		store_body_close(&f->body);
		f->msg = NULL;
		return;
	}
	f->item = 0;
	buf_printf(&f->line, "* %u FETCH (", (unsigned)view_uid_seq(s->view, m->uid));
	/* RFC 9051 §6.4.9: UID FETCH responses always include UID. */
	if (f->uid_mode && !f->items.has_uid)
		buf_printf(&f->line, "UID %u ", (unsigned)m->uid);
}

/* Appends the next item of the current message, or ends the message. */
static void cmd_fetch_msg_step(struct session *s, struct fetch_ctx *f)
{
	if (f->item < f->items.count) {
		if (f->item > 0)
			buf_append(&f->line, " ", 1);
		cmd_fetch_item(s, f, &f->items.items[f->item++]);
		return;
	}
	/* RFC 9051 §6.4.5: when BODY[] sets \Seen, the changed flags SHOULD
	 * be part of the response. */
	if (f->msg->flags_changed && !f->items.has_flags) {
		buf_append(&f->line, " ", 1);
		cmd_fetch_flags(s, f);
	}
	buf_append(&f->line, ")\r\n", 3);
	cmd_fetch_flush_line(s, f);
	/* The client now knows the new flags: view_sync need not repeat them. */
	if (f->msg->flags_changed)
		view_note_own(s->view, f->msg->uid, f->msg->modseq);
	if (f->body != NULL)
		store_body_close(&f->body);
	f->msg = NULL;
}

/* --- batches --- */

static struct fetch_msg *cmd_fetch_batch_find(struct fetch_ctx *f, uint32_t uid)
{
	while (f->batch_fill < f->batch_n && f->batch[f->batch_fill].uid < uid)
		f->batch_fill++;
	if (f->batch_fill == f->batch_n || f->batch[f->batch_fill].uid != uid)
		return NULL;
	return &f->batch[f->batch_fill];
}

static int cmd_fetch_batch_cb(void *ctx, const struct store_msg *msg)
{
	struct fetch_ctx *f = ctx;
	struct fetch_msg *m = cmd_fetch_batch_find(f, msg->uid);
	if (m == NULL)
		return 0;
	struct arena *a = &f->batch_arena;
	m->found = true;
	m->flags = msg->flags;
	m->keywords = arena_strndup(a, msg->keywords ? msg->keywords : "",
	                            msg->keywords ? strlen(msg->keywords) : 0);
	m->internaldate = msg->internaldate;
	m->internaldate_tz = msg->internaldate_tz;
	m->size = msg->size;
	if (msg->envelope != NULL)
		m->envelope = arena_strndup(a, msg->envelope, strlen(msg->envelope));
	if (msg->bodystructure != NULL)
		m->bodystructure = arena_strndup(a, msg->bodystructure, strlen(msg->bodystructure));
	if (msg->body != NULL)
		m->body = arena_strndup(a, msg->body, strlen(msg->body));
	if (msg->parts != NULL && msg->parts_len > 0) {
		void *parts = arena_alloc(a, msg->parts_len);
		memcpy(parts, msg->parts, msg->parts_len);
		m->parts = parts;
		m->parts_len = msg->parts_len;
	}
	return 0;
}

/* The \Seen commit of one batch runs on the store pool (it fsyncs the
 * index; a network loop must not wait for the disk): the producer waits
 * for it (session_producer_wait), and the flags it set come back here. */
struct fetch_seen_row {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	char *keywords;
};

struct fetch_seen_job {
	struct session *s;
	struct store_mailbox *mb;
	uint32_t *uids;
	size_t n;
	struct fetch_seen_row *rows;
	size_t n_rows;
	enum store_err err;
};

/* Pool thread: records what store_set_flags reports (valid only during
 * the callback). */
static int cmd_fetch_seen_cb(void *ctx, const struct store_msg *msg)
{
	struct fetch_seen_job *j = ctx;
	if (j->n_rows == j->n)
		return 0; /* more reports than UIDs asked for: ignore */
	const char *kw = msg->keywords ? msg->keywords : "";
	j->rows[j->n_rows++] =
	    (struct fetch_seen_row){msg->uid, msg->flags, msg->modseq, xstrdup(kw)};
	return 0;
}

static void cmd_fetch_seen_work(void *arg)
{
	struct fetch_seen_job *j = arg;
	j->rows = xcalloc(j->n, sizeof(*j->rows));
	j->err = store_set_flags(j->mb, j->uids, j->n, STORE_OP_ADD, STORE_FLAG_SEEN, NULL, 0,
				 cmd_fetch_seen_cb, j);
}

/* Loop thread: the batch's messages get their new flags. */
static void cmd_fetch_seen_apply(struct fetch_ctx *f, const struct fetch_seen_job *j)
{
	for (size_t i = 0; i < j->n_rows; i++) {
		const struct fetch_seen_row *r = &j->rows[i];
		struct fetch_msg *m = cmd_fetch_batch_find(f, r->uid);
		if (m == NULL || !m->found)
			continue;
		if (m->flags != r->flags)
			m->flags_changed = true;
		m->flags = r->flags;
		m->modseq = r->modseq;
		m->keywords = arena_strndup(&f->batch_arena, r->keywords, strlen(r->keywords));
	}
	if (j->err != STORE_OK)
		f->err = j->err;
	f->seen_wait = false;
}

static void cmd_fetch_seen_done(void *arg)
{
	struct fetch_seen_job *j = arg;
	struct session *s = j->s;
	if (session_job_end(s)) {
		cmd_fetch_seen_apply(s->producer_ctx, j);
		session_producer_resume(s);
	}
	for (size_t i = 0; i < j->n_rows; i++)
		free(j->rows[i].keywords);
	free(j->rows);
	free(j->uids);
	free(j);
}

/* BODY[...] without PEEK sets \Seen (RFC 9051 §6.4.5), not in a
 * read-only (EXAMINE) mailbox. */
static void cmd_fetch_mark_seen(struct session *s, struct fetch_ctx *f)
{
	uint32_t *uids = xmalloc(f->batch_n * sizeof(*uids));
	size_t n = 0;
	for (size_t i = 0; i < f->batch_n; i++) {
		if (f->batch[i].found && (f->batch[i].flags & STORE_FLAG_SEEN) == 0)
			uids[n++] = f->batch[i].uid;
	}
	if (n == 0) {
		free(uids);
		return;
	}
	f->batch_fill = 0;
	struct fetch_seen_job *j = xcalloc(1, sizeof(*j));
	*j = (struct fetch_seen_job){.s = s, .mb = s->view->mb, .uids = uids, .n = n};
	f->seen_wait = true;
	session_job_begin(s);
	session_producer_wait(s);
	workpool_submit(s->ctx->store_pool, conn_loop(s->conn), cmd_fetch_seen_work,
			cmd_fetch_seen_done, j);
}

/* Loads the next FETCH_BATCH messages' metadata. */
static void cmd_fetch_load_batch(struct session *s, struct fetch_ctx *f)
{
	size_t n = f->n_uids - f->next < FETCH_BATCH ? f->n_uids - f->next : FETCH_BATCH;
	arena_reset(&f->batch_arena);
	f->batch = arena_zalloc(&f->batch_arena, n * sizeof(*f->batch));
	for (size_t i = 0; i < n; i++)
		f->batch[i].uid = f->uids[f->next + i];
	f->batch_n = n;
	f->batch_pos = 0;
	f->batch_fill = 0;
	enum store_err err =
	    store_fetch(s->view->mb, f->uids + f->next, n,
	                f->items.need_summary ? STORE_FETCH_SUMMARY : 0, cmd_fetch_batch_cb, f);
	f->next += n;
	if (err != STORE_OK) {
		f->err = err;
		f->batch_n = 0; /* nothing of this batch is sent */
		return;
	}
	if (f->set_seen)
		cmd_fetch_mark_seen(s, f);
}

/* The tagged reply (see the choices at the top of the file). */
static void cmd_fetch_finish(struct session *s, struct fetch_ctx *f)
{
	const char *done = f->uid_mode ? "UID FETCH completed" : "FETCH completed";
	if (f->unknown_cte) {
		resp_tagged(s, f->tag, RESP_NO, RESP_CODE_UNKNOWN_CTE, NULL,
		            "Unknown Content-Transfer-Encoding");
	} else if (f->err != STORE_OK) {
		struct imap_command cmd = {.tag = f->tag, .name = "FETCH"};
		cmd_store_error(s, &cmd, f->err, false);
	} else if (f->expunged && !f->uid_mode) {
		resp_tagged(s, f->tag, RESP_NO, RESP_CODE_EXPUNGEISSUED, NULL,
		            "Some messages were expunged meanwhile");
	} else {
		resp_tagged(s, f->tag, RESP_OK, RESP_CODE_NONE, NULL, done);
	}
}

/* The producer: bounded work per call (see the top of the file). */
static bool cmd_fetch_produce(struct session *s)
{
	struct fetch_ctx *f = s->producer_ctx;
	f->written = 0;
	while (f->written < FETCH_BUDGET) {
		if (f->seen_wait)
			return false; /* cmd_fetch_seen_done resumes the pump */
		if (f->lit.left > 0)
			cmd_fetch_lit_step(s, f);
		else if (f->msg != NULL)
			cmd_fetch_msg_step(s, f);
		else if (f->batch_pos < f->batch_n)
			cmd_fetch_msg_begin(s, f, &f->batch[f->batch_pos++]);
		else if (f->next < f->n_uids)
			cmd_fetch_load_batch(s, f);
		else {
			cmd_fetch_finish(s, f);
			return true;
		}
	}
	return false;
}

static void cmd_fetch_free(void *ctx)
{
	struct fetch_ctx *f = ctx;
	cmd_fetch_lit_end(f);
	if (f->body != NULL)
		store_body_close(&f->body);
	buf_release(&f->line);
	arena_release(&f->batch_arena);
	arena_release(&f->arena);
	free(f->uids);
	free(f->chunk);
	free(f->tag);
	free(f);
}

enum cmd_result cmd_fetch_run(struct session *s, const struct imap_command *cmd,
                              const struct imap_arg *args, size_t nargs, bool uid)
{
	if (nargs != 2 || args[0].type != IMAP_ARG_ATOM)
		return cmd_bad(s, cmd, "FETCH takes a sequence set and data items");
	struct fetch_ctx *f = xcalloc(1, sizeof(*f));
	arena_init(&f->arena, 0);
	arena_init(&f->batch_arena, 16 * 1024);
	struct seqset set;
	const char *error = NULL;
	if (seqset_parse(args[0].str, args[0].len, &f->arena, &set, &error) < 0 ||
	    fetch_items_parse(&args[1], &f->arena, &f->items, &error) < 0) {
		cmd_fetch_free(f);
		return cmd_bad(s, cmd, error);
	}
	if (view_resolve(s->view, &set, uid, &f->uids, &f->n_uids) < 0) {
		cmd_fetch_free(f);
		return cmd_bad(s, cmd, "Message sequence number out of range");
	}
	f->uid_mode = uid;
	f->set_seen = f->items.set_seen && !s->view->readonly;
	f->tag = xstrdup(cmd->tag);
	f->chunk = xmalloc(FETCH_CHUNK);
	session_set_producer(s, cmd_fetch_produce, cmd_fetch_free, f);
	return CMD_ASYNC;
}

enum cmd_result cmd_fetch(struct session *s, const struct imap_command *cmd)
{
	return cmd_fetch_run(s, cmd, cmd->args, cmd->nargs, false);
}
