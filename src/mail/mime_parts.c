/* mime_parts: the serialized part tree, section lookup and header filter.
 *
 * Blob format (version 1, little-endian): "RMP" 0x01, u32 node count, then
 * the nodes in preorder, each: u64 hdr_off, hdr_len, body_off, body_len;
 * u32 number of children; u8 cte; u8 flags (MIME_PNODE_*); u8 charset
 * length and the charset bytes (text parts, for SEARCH). The first node is
 * the message; a message/rfc822 part has one child, its embedded message.
 *
 * Sections (RFC 9051 §6.4.5): a number selects a child of a multipart;
 * in a message whose body is not multipart, part 1 is the body itself;
 * after a message/rfc822 part the next number applies to its embedded
 * message. HEADER and TEXT apply to the top message (empty path) or to a
 * message/rfc822 part; MIME to any numbered part. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "mail/mime_internal.h"

#define MIME_PARTS_MAGIC "RMP\x01"
#define MIME_PARTS_MAX_DEPTH 128

static void mime_parts_put(struct buf *out, uint64_t v, int bytes)
{
	unsigned char b[8];
	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	buf_append(out, b, (size_t)bytes);
}

static size_t mime_parts_count(const struct mime_node *n)
{
	size_t c = 1;
	for (const struct mime_node *ch = n->first_child; ch != NULL; ch = ch->next)
		c += mime_parts_count(ch);
	return c;
}

static void mime_parts_node(const struct mime_node *n, struct buf *out)
{
	mime_parts_put(out, n->hdr_off, 8);
	mime_parts_put(out, n->hdr_len, 8);
	mime_parts_put(out, n->body_off, 8);
	mime_parts_put(out, n->body_len, 8);
	mime_parts_put(out, n->nchildren, 4);
	mime_parts_put(out, (uint64_t)n->cte, 1);
	uint8_t flags = (n->multipart ? MIME_PNODE_MULTIPART : 0) |
			(n->rfc822 ? MIME_PNODE_RFC822 : 0) | (n->text ? MIME_PNODE_TEXT : 0);
	mime_parts_put(out, flags, 1);
	const char *cs = n->text ? mime_params_get(&n->params, "charset") : NULL;
	size_t cslen = cs != NULL ? strlen(cs) : 0;
	if (cslen >= sizeof(((struct mime_pnode *)0)->charset))
		cslen = 0; /* not a real charset name */
	mime_parts_put(out, cslen, 1);
	buf_append(out, cs, cslen);
	for (const struct mime_node *c = n->first_child; c != NULL; c = c->next)
		mime_parts_node(c, out);
}

void mime_parts_serialize(const struct mime_node *root, struct buf *out)
{
	buf_append(out, MIME_PARTS_MAGIC, 4);
	mime_parts_put(out, mime_parts_count(root), 4);
	mime_parts_node(root, out);
}

struct mime_parts_reader {
	const unsigned char *p;
	size_t left;
	struct mime_pnode *nodes;
	size_t count, used;
};

static int mime_parts_get(struct mime_parts_reader *r, int bytes, uint64_t *v_r)
{
	if (r->left < (size_t)bytes)
		return -1;
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += bytes;
	r->left -= (size_t)bytes;
	*v_r = v;
	return 0;
}

/* Reads a node and its subtree; returns its index or -1. */
static int64_t mime_parts_read(struct mime_parts_reader *r, int depth)
{
	uint64_t v[8];
	if (r->used >= r->count || depth > MIME_PARTS_MAX_DEPTH)
		return -1;
	static const int widths[7] = {8, 8, 8, 8, 4, 1, 1};
	for (int i = 0; i < 7; i++)
		if (mime_parts_get(r, widths[i], &v[i]) < 0)
			return -1;
	if (mime_parts_get(r, 1, &v[7]) < 0 || v[7] > r->left || v[7] >= 64 ||
	    v[5] > MIME_CTE_UNKNOWN)
		return -1;
	size_t idx = r->used++;
	struct mime_pnode *n = &r->nodes[idx];
	*n = (struct mime_pnode){v[0], v[1], v[2], v[3], (uint32_t)v[4], UINT32_MAX, UINT32_MAX,
				 (enum mime_cte)v[5], (uint8_t)v[6], {0}};
	memcpy(n->charset, r->p, v[7]);
	r->p += v[7];
	r->left -= v[7];
	uint32_t prev = UINT32_MAX;
	for (uint32_t i = 0; i < n->nchildren; i++) {
		int64_t c = mime_parts_read(r, depth + 1);
		if (c < 0)
			return -1;
		if (prev == UINT32_MAX)
			r->nodes[idx].first_child = (uint32_t)c;
		else
			r->nodes[prev].next = (uint32_t)c;
		prev = (uint32_t)c;
	}
	return (int64_t)idx;
}

struct mime_pnode *mime_parts_load(const void *parts, size_t len, size_t *count_r)
{
	struct mime_parts_reader r = {(const unsigned char *)parts, len, NULL, 0, 0};
	uint64_t count;
	if (parts == NULL || len < 8 || memcmp(parts, MIME_PARTS_MAGIC, 4) != 0)
		return NULL;
	r.p += 4;
	r.left -= 4;
	if (mime_parts_get(&r, 4, &count) < 0 || count == 0 || count > len / 36)
		return NULL;
	r.count = count;
	r.nodes = xcalloc(count, sizeof(*r.nodes));
	if (mime_parts_read(&r, 0) != 0 || r.used != count) {
		free(r.nodes);
		return NULL;
	}
	*count_r = count;
	return r.nodes;
}

/* Walks path from the root; *node_r is the selected part. */
static int mime_section_walk(const struct mime_pnode *nodes, const uint32_t *path, size_t depth,
			     uint32_t *node_r)
{
	uint32_t cur = 0;
	bool msg_level = true; /* cur is a message: part 1 may be its body */
	for (size_t i = 0; i < depth; i++) {
		const struct mime_pnode *n = &nodes[cur];
		if (n->flags & MIME_PNODE_MULTIPART) {
			uint32_t c = n->first_child;
			for (uint32_t k = 1; k < path[i] && c != UINT32_MAX; k++)
				c = nodes[c].next;
			if (path[i] == 0 || c == UINT32_MAX)
				return -1;
			cur = c;
		} else if (!(msg_level && path[i] == 1)) {
			return -1;
		}
		msg_level = false;
		/* RFC 9051 §6.4.5: numbers after a message/rfc822 part address
		 * its embedded message's parts */
		if (i + 1 < depth && (nodes[cur].flags & MIME_PNODE_RFC822) &&
		    nodes[cur].nchildren > 0) {
			cur = nodes[cur].first_child;
			msg_level = true;
		}
	}
	*node_r = cur;
	return 0;
}

static void mime_section_set(struct mime_range *r, uint64_t off, uint64_t len,
			     const struct mime_pnode *n)
{
	r->offset = off;
	r->len = len;
	r->cte = n->cte;
	r->composite = (n->flags & (MIME_PNODE_MULTIPART | MIME_PNODE_RFC822)) != 0;
}

static int mime_section_kind(const struct mime_pnode *nodes, uint32_t idx,
			     enum mime_section_kind kind, struct mime_range *r)
{
	const struct mime_pnode *n = &nodes[idx];
	const struct mime_pnode *e = NULL;
	if ((n->flags & MIME_PNODE_RFC822) && n->nchildren > 0)
		e = &nodes[n->first_child];
	switch (kind) {
	case MIME_SECTION_CONTENT:
		mime_section_set(r, n->body_off, n->body_len, n);
		return 0;
	case MIME_SECTION_MIME:
		mime_section_set(r, n->hdr_off, n->hdr_len, n);
		r->cte = MIME_CTE_7BIT;
		r->composite = false;
		return 0;
	case MIME_SECTION_HEADER:
	case MIME_SECTION_TEXT:
		if (e == NULL)
			return -1;
		if (kind == MIME_SECTION_HEADER)
			mime_section_set(r, e->hdr_off, e->hdr_len, e);
		else
			mime_section_set(r, e->body_off, e->body_len, e);
		if (kind == MIME_SECTION_HEADER) {
			r->cte = MIME_CTE_7BIT;
			r->composite = false;
		}
		return 0;
	}
	return -1;
}

int mime_section(const void *parts, size_t parts_len, const uint32_t *path, size_t depth,
		 enum mime_section_kind kind, struct mime_range *r)
{
	size_t count;
	uint32_t idx;
	struct mime_pnode *nodes = mime_parts_load(parts, parts_len, &count);
	int ret = -1;
	if (nodes == NULL)
		return -1;
	if (depth == 0) {
		const struct mime_pnode *m = &nodes[0];
		ret = 0;
		if (kind == MIME_SECTION_CONTENT) {
			mime_section_set(r, 0, m->body_off + m->body_len, m);
			r->cte = MIME_CTE_7BIT;
			r->composite = true;
		} else if (kind == MIME_SECTION_HEADER) {
			mime_section_set(r, m->hdr_off, m->hdr_len, m);
			r->cte = MIME_CTE_7BIT;
			r->composite = false;
		} else if (kind == MIME_SECTION_TEXT) {
			mime_section_set(r, m->body_off, m->body_len, m);
		} else {
			ret = -1;
		}
	} else if (mime_section_walk(nodes, path, depth, &idx) == 0) {
		ret = mime_section_kind(nodes, idx, kind, r);
	}
	free(nodes);
	return ret;
}
