/* mime_bodystructure: BODY and BODYSTRUCTURE text (RFC 9051 §7.5.2).
 *
 * Types, subtypes, parameter names and values go out as sent (quoted),
 * like the RFC examples; an absent Content-Type is "text" "plain"
 * ("charset" "us-ascii") and an absent encoding "7bit" (RFC 2045 §5.2,
 * §6.1). Text parts add their line count, message/rfc822 parts the
 * envelope, body and line count of the embedded message. BODYSTRUCTURE
 * adds the extension data: for multiparts params, disposition, language,
 * location; for single parts md5, disposition, language, location. A
 * multipart without parts (not allowed by the grammar: 1*body) is written
 * with one empty text/plain part. */
#include <string.h>
#include <strings.h>

#include "mail/mime_internal.h"

static void mime_bs_str(struct buf *out, const char *s)
{
	mime_imap_nstring(out, s);
}

static void mime_bs_params(struct buf *out, const struct mime_params *p)
{
	if (p->n == 0) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append(out, "(", 1);
	for (size_t i = 0; i < p->n; i++) {
		if (i > 0)
			buf_append(out, " ", 1);
		mime_bs_str(out, p->v[i].name);
		buf_append(out, " ", 1);
		mime_bs_str(out, p->v[i].value);
	}
	buf_append(out, ")", 1);
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void mime_bs_ext_common(struct buf *out, const struct mime_node *n)
{
	if (n->disp_type == NULL) {
		buf_append_str(out, " NIL");
	} else {
		buf_append_str(out, " (");
		mime_bs_str(out, n->disp_type);
		buf_append(out, " ", 1);
		mime_bs_params(out, &n->disp_params);
		buf_append(out, ")", 1);
	}
	if (n->nlang == 0) {
		buf_append_str(out, " NIL");
	} else {
		buf_append_str(out, " (");
		for (size_t i = 0; i < n->nlang; i++) {
			if (i > 0)
				buf_append(out, " ", 1);
			mime_bs_str(out, n->lang[i]);
		}
		buf_append(out, ")", 1);
	}
	buf_append(out, " ", 1);
	mime_bs_str(out, n->loc);
}

static void mime_bs_multipart(const struct mime_node *n, bool ext, struct buf *out)
{
	buf_append(out, "(", 1);
	for (const struct mime_node *c = n->first_child; c != NULL; c = c->next)
		mime_bodystructure_write(c, ext, out);
	if (n->first_child == NULL) {
		buf_append_str(out, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
		buf_append_str(out, ext ? " NIL NIL NIL NIL)" : ")");
	}
	buf_append(out, " ", 1);
	mime_bs_str(out, n->subtype);
	if (ext) {
		buf_append(out, " ", 1);
		mime_bs_params(out, &n->params);
		mime_bs_ext_common(out, n);
	}
	buf_append(out, ")", 1);
}

static void mime_bs_fields(const struct mime_node *n, struct buf *out)
{
	if (n->type == NULL) {
		buf_append_str(out, "\"text\" \"plain\" ");
	} else {
		mime_bs_str(out, n->type);
		buf_append(out, " ", 1);
		mime_bs_str(out, n->subtype);
		buf_append(out, " ", 1);
	}
	if (n->params.n == 0 && n->text)
		buf_append_str(out, "(\"charset\" \"us-ascii\")");
	else
		mime_bs_params(out, &n->params);
	buf_append(out, " ", 1);
	mime_bs_str(out, n->id);
	buf_append(out, " ", 1);
	mime_bs_str(out, n->desc);
	buf_append(out, " ", 1);
	mime_bs_str(out, n->cte_str != NULL ? n->cte_str : "7bit");
	buf_printf(out, " %llu", (unsigned long long)n->body_len);
}

void mime_bodystructure_write(const struct mime_node *n, bool ext, struct buf *out)
{
	if (n->multipart) {
		mime_bs_multipart(n, ext, out);
		return;
	}
	buf_append(out, "(", 1);
	mime_bs_fields(n, out);
	if (n->rfc822 && n->first_child != NULL) {
		const struct mime_node *e = n->first_child;
		buf_append(out, " ", 1);
		buf_append_str(out, e->envelope != NULL ? e->envelope
							: "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		buf_append(out, " ", 1);
		mime_bodystructure_write(e, ext, out);
		buf_printf(out, " %llu", (unsigned long long)n->lines);
	} else if (n->text) {
		buf_printf(out, " %llu", (unsigned long long)n->lines);
	}
	if (ext) {
		buf_append(out, " ", 1);
		mime_bs_str(out, n->md5);
		mime_bs_ext_common(out, n);
	}
	buf_append(out, ")", 1);
}
