/* LIST (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS,
 * RFC 6154 SPECIAL-USE) and LSUB (RFC 3501 §6.3.9).
 *
 * The reference is decoded and prepended to each pattern (RFC 9051
 * §6.3.9); patterns are matched on UTF-8 store names, INBOX
 * case-insensitively (mboxpattern.c). The user's mailboxes come from one
 * store_list() call and are put into a sorted array of nodes together
 * with the hierarchy levels that are not mailboxes themselves ("virtual"
 * nodes), so that each node can be told whether it has children and
 * whether a descendant meets the selection criteria (RECURSIVEMATCH,
 * and LSUB's "%" rule) by looking up its ancestors.
 *
 * What is returned, for a name that matches a pattern:
 *   - a node that meets the selection criteria: existing mailboxes for
 *     plain LIST; subscribed names (\NonExistent when no mailbox) with
 *     SUBSCRIBED; mailboxes with a special use with SPECIAL-USE; and
 *     subscribed names for LSUB;
 *   - with RECURSIVEMATCH, a node with a descendant that meets them, with
 *     the CHILDINFO extended data item (RFC 5258 §3.5);
 *   - with a pattern ending in "%", a hierarchy level that is not a
 *     mailbox but has mailboxes below it (RFC 9051 §6.3.9), or for LSUB
 *     has subscribed names below it (RFC 3501 §6.3.9), as \Noselect
 *     (\NonExistent for IMAP4rev2 and LIST-EXTENDED clients).
 * \HasChildren / \HasNoChildren are always sent (RFC 9051 §7.3.1 makes
 * them part of every IMAP4rev2 LIST response), special-use attributes
 * too (RFC 6154 §5.1), \Subscribed when asked for. */
#include <stdlib.h>
#include <string.h>

#include "imap/cmd_mailbox.h"
#include "imap/commands.h"
#include "imap/mboxname.h"
#include "imap/mboxpattern.h"
#include "imap/resp.h"
#include "imap/session.h"
#include "lib/xalloc.h"

enum list_sel {
	LIST_SEL_SUBSCRIBED = 1u << 0,
	LIST_SEL_REMOTE = 1u << 1, /* no remote mailboxes here: no effect */
	LIST_SEL_RECURSIVEMATCH = 1u << 2,
	LIST_SEL_SPECIAL_USE = 1u << 3,
};

enum list_ret {
	LIST_RET_SUBSCRIBED = 1u << 0,
	LIST_RET_CHILDREN = 1u << 1,
	LIST_RET_SPECIAL_USE = 1u << 2,
	LIST_RET_STATUS = 1u << 3,
};

struct list_cmd {
	bool lsub;
	bool extended; /* RFC 5258 syntax: selection/return options or pattern list */
	bool empty_pattern; /* LIST "" "": the delimiter and root */
	unsigned sel, ret;
	struct cmd_mailbox_status_items status;
	struct mboxpattern *patterns;
	size_t npatterns;
};

enum list_node_flag {
	LIST_NODE_VIRTUAL = 1u << 0,      /* a hierarchy level, not a store entry */
	LIST_NODE_HAS_CHILDREN = 1u << 1, /* an existing mailbox below it */
	LIST_NODE_CHILD_MATCH = 1u << 2,  /* a name below it meets the selection */
};

struct list_node {
	const char *name; /* NUL-terminated */
	size_t len;
	unsigned attrs; /* STORE_ATTR_* */
	unsigned flags; /* enum list_node_flag */
};

struct list_tree {
	struct store_mailbox_entry *entries;
	size_t nentries;
	struct list_node *nodes; /* sorted by name bytes */
	size_t n;
	char **owned; /* virtual nodes' names */
	size_t nowned;
};

/* --- parsing --- */

static const struct {
	const char *name;
	unsigned bit;
} list_sel_opts[] = {
	{"SUBSCRIBED", LIST_SEL_SUBSCRIBED},
	{"REMOTE", LIST_SEL_REMOTE},
	{"RECURSIVEMATCH", LIST_SEL_RECURSIVEMATCH},
	{"SPECIAL-USE", LIST_SEL_SPECIAL_USE}, /* RFC 6154 §5.3 */
}, list_ret_opts[] = {
	{"SUBSCRIBED", LIST_RET_SUBSCRIBED},
	{"CHILDREN", LIST_RET_CHILDREN},
	{"SPECIAL-USE", LIST_RET_SPECIAL_USE}, /* RFC 6154 §5.2 */
	{"STATUS", LIST_RET_STATUS},           /* RFC 5819 */
};

static unsigned list_option(const struct imap_arg *arg, bool selection)
{
	size_t n = selection ? sizeof(list_sel_opts) / sizeof(list_sel_opts[0])
			     : sizeof(list_ret_opts) / sizeof(list_ret_opts[0]);
	for (size_t i = 0; i < n; i++) {
		const char *name = selection ? list_sel_opts[i].name : list_ret_opts[i].name;
		if (arg->type == IMAP_ARG_ATOM && imap_arg_atom_equals(arg, name))
			return selection ? list_sel_opts[i].bit : list_ret_opts[i].bit;
	}
	return 0;
}

static bool list_parse_selection(struct list_cmd *lc, const struct imap_arg *opts,
				 const char **error_r)
{
	for (size_t i = 0; i < opts->count; i++) {
		unsigned bit = list_option(&opts->list[i], true);
		if (bit == 0) {
			*error_r = "Unknown LIST selection option";
			return false;
		}
		lc->sel |= bit;
	}
	/* RFC 5258 §3.1: RECURSIVEMATCH only modifies a base option. */
	if ((lc->sel & LIST_SEL_RECURSIVEMATCH) && !(lc->sel & LIST_SEL_SUBSCRIBED)) {
		*error_r = "RECURSIVEMATCH needs the SUBSCRIBED selection option";
		return false;
	}
	/* RFC 5258 §3.1: the SUBSCRIBED selection implies the return option. */
	if (lc->sel & LIST_SEL_SUBSCRIBED)
		lc->ret |= LIST_RET_SUBSCRIBED;
	return true;
}

static bool list_parse_return(const struct session *s, struct list_cmd *lc,
			      const struct imap_arg *opts, const char **error_r)
{
	for (size_t i = 0; i < opts->count; i++) {
		unsigned bit = list_option(&opts->list[i], false);
		if (bit == 0) {
			*error_r = "Unknown LIST return option";
			return false;
		}
		lc->ret |= bit;
		if (bit != LIST_RET_STATUS)
			continue;
		/* RFC 5819: STATUS (<status-att> ...) */
		if (++i == opts->count) {
			*error_r = "LIST RETURN (STATUS) needs a list of STATUS items";
			return false;
		}
		if (!cmd_mailbox_status_parse(s, &opts->list[i], &lc->status, error_r))
			return false;
	}
	return true;
}

/* Appends a reference or pattern as UTF-8. A pattern that is not valid
 * modified UTF-7 (a stray '&') is matched as it is: it then finds only
 * names spelled exactly so, which is what the client asked for. */
static void list_decode(const struct session *s, const char *str, size_t len, struct buf *out)
{
	if (session_utf8(s) || mutf7_to_utf8(str, len, out) < 0)
		buf_append(out, str, len);
}

static bool list_parse_patterns(const struct session *s, struct list_cmd *lc,
				const struct imap_arg *ref, const struct imap_arg *pat,
				const char **error_r)
{
	const char *rstr, *pstr;
	size_t rlen, plen, n = 1;
	if (!imap_arg_get_astring(ref, &rstr, &rlen)) {
		*error_r = "The LIST reference must be a string";
		return false;
	}
	const struct imap_arg *pats = pat;
	if (pat->type == IMAP_ARG_LIST) { /* RFC 5258: several patterns */
		lc->extended = true;
		pats = pat->list;
		n = pat->count;
		if (lc->lsub || n == 0) {
			*error_r = "Mailbox patterns must be strings";
			return false;
		}
	}
	lc->patterns = xcalloc(n, sizeof(*lc->patterns));
	for (size_t i = 0; i < n; i++) {
		if (!imap_arg_get_astring(&pats[i], &pstr, &plen)) {
			*error_r = "Mailbox patterns must be strings";
			return false;
		}
		if (pat->type != IMAP_ARG_LIST && plen == 0)
			lc->empty_pattern = true;
		struct buf full = {0};
		list_decode(s, rstr, rlen, &full);
		list_decode(s, pstr, plen, &full);
		mboxpattern_compile(&lc->patterns[lc->npatterns++], buf_rdata(&full), full.len);
		buf_release(&full);
	}
	return true;
}

/* LIST [(selection)] reference pattern-or-patterns [RETURN (options)];
 * LSUB reference pattern. */
static bool list_parse(const struct session *s, const struct imap_command *cmd,
		       struct list_cmd *lc, const char **error_r)
{
	const struct imap_arg *args = cmd->args;
	size_t i = 0;
	if (!lc->lsub && cmd->nargs > 0 && args[0].type == IMAP_ARG_LIST) {
		lc->extended = true;
		if (!list_parse_selection(lc, &args[0], error_r))
			return false;
		i++;
	}
	if (cmd->nargs < i + 2) {
		*error_r = "Expected a reference and a mailbox pattern";
		return false;
	}
	if (i + 2 < cmd->nargs) {
		if (lc->lsub || i + 4 != cmd->nargs || !imap_arg_atom_equals(&args[i + 2], "RETURN") ||
		    args[i + 3].type != IMAP_ARG_LIST) {
			*error_r = "Unexpected arguments after the mailbox pattern";
			return false;
		}
		lc->extended = true;
		if (!list_parse_return(s, lc, &args[i + 3], error_r))
			return false;
	}
	return list_parse_patterns(s, lc, &args[i], &args[i + 1], error_r);
}

static void list_cmd_free(struct list_cmd *lc)
{
	for (size_t i = 0; i < lc->npatterns; i++)
		mboxpattern_free(&lc->patterns[i]);
	free(lc->patterns);
	lc->patterns = NULL;
}

/* --- the tree of names --- */

static int list_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int list_node_cmp(const void *a, const void *b)
{
	const struct list_node *x = a, *y = b;
	return list_name_cmp(x->name, x->len, y->name, y->len);
}

static struct list_node *list_tree_find(const struct list_tree *t, const char *name, size_t len)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = list_name_cmp(t->nodes[mid].name, t->nodes[mid].len, name, len);
		if (c == 0)
			return &t->nodes[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Adds a node for every hierarchy level that is not a store entry. */
static void list_tree_add_levels(struct list_tree *t)
{
	struct list_node *levels = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct list_node *node = &t->nodes[i];
		for (size_t p = 0; p < node->len; p++) {
			if (node->name[p] != MBOXNAME_DELIMITER || list_tree_find(t, node->name, p))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				levels = xrealloc(levels, cap * sizeof(*levels));
			}
			levels[n++] = (struct list_node){node->name, p, 0, LIST_NODE_VIRTUAL};
		}
	}
	if (n > 0)
		qsort(levels, n, sizeof(*levels), list_node_cmp);
	t->owned = n > 0 ? xmalloc(n * sizeof(*t->owned)) : NULL;
	t->nodes = xrealloc(t->nodes, (t->n + n + 1) * sizeof(*t->nodes));
	size_t total = t->n;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && list_node_cmp(&levels[i - 1], &levels[i]) == 0)
			continue;
		char *name = xstrndup(levels[i].name, levels[i].len);
		t->owned[t->nowned++] = name;
		t->nodes[total] = levels[i];
		t->nodes[total++].name = name;
	}
	free(levels);
	t->n = total;
	qsort(t->nodes, t->n, sizeof(*t->nodes), list_node_cmp);
}

static enum store_err list_tree_build(struct store_user *u, struct list_tree *t)
{
	memset(t, 0, sizeof(*t));
	enum store_err err = store_list(u, &t->entries, &t->nentries);
	if (err != STORE_OK)
		return err;
	t->nodes = xcalloc(t->nentries + 1, sizeof(*t->nodes));
	for (size_t i = 0; i < t->nentries; i++) {
		t->nodes[i].name = t->entries[i].name;
		t->nodes[i].len = strlen(t->entries[i].name);
		t->nodes[i].attrs = t->entries[i].attrs;
	}
	t->n = t->nentries;
	qsort(t->nodes, t->n, sizeof(*t->nodes), list_node_cmp);
	list_tree_add_levels(t);
	return STORE_OK;
}

static void list_tree_free(struct list_tree *t)
{
	for (size_t i = 0; i < t->nowned; i++)
		free(t->owned[i]);
	free(t->owned);
	free(t->nodes);
	store_list_free(t->entries, t->nentries);
	memset(t, 0, sizeof(*t));
}

static bool list_node_exists(const struct list_node *n)
{
	return !(n->flags & LIST_NODE_VIRTUAL) && !(n->attrs & STORE_ATTR_NONEXISTENT);
}

/* Whether a node meets the selection criteria by itself. */
static bool list_meets(const struct list_cmd *lc, const struct list_node *n)
{
	bool subscribed = (n->attrs & STORE_ATTR_SUBSCRIBED) && !(n->flags & LIST_NODE_VIRTUAL);
	if (lc->lsub || (lc->sel & LIST_SEL_SUBSCRIBED)) {
		if (!subscribed)
			return false;
	} else if (!list_node_exists(n)) {
		return false;
	}
	if ((lc->sel & LIST_SEL_SPECIAL_USE) &&
	    !(list_node_exists(n) && (n->attrs & STORE_ATTR_SPECIAL_USE_MASK)))
		return false;
	return true;
}

/* Sets flag on every ancestor of n. */
static void list_tree_mark_ancestors(struct list_tree *t, const struct list_node *n, unsigned flag)
{
	for (size_t p = 0; p < n->len; p++) {
		if (n->name[p] != MBOXNAME_DELIMITER)
			continue;
		struct list_node *a = list_tree_find(t, n->name, p);
		if (a != NULL)
			a->flags |= flag;
	}
}

static void list_tree_mark(struct list_tree *t, const struct list_cmd *lc)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct list_node *n = &t->nodes[i];
		if (list_node_exists(n))
			list_tree_mark_ancestors(t, n, LIST_NODE_HAS_CHILDREN);
		if (list_meets(lc, n))
			list_tree_mark_ancestors(t, n, LIST_NODE_CHILD_MATCH);
	}
}

/* --- output --- */

static const struct {
	unsigned attr;
	const char *name;
} list_special_uses[] = {
	{STORE_ATTR_SENT, "\\Sent"},   {STORE_ATTR_DRAFTS, "\\Drafts"},
	{STORE_ATTR_TRASH, "\\Trash"}, {STORE_ATTR_JUNK, "\\Junk"},
	{STORE_ATTR_ARCHIVE, "\\Archive"},
};

static void list_attr(struct buf *b, const char *attr)
{
	if (b->len > 0 && b->data[b->len - 1] != '(')
		buf_append(b, " ", 1);
	buf_append_str(b, attr);
}

static void list_append_attrs(const struct session *s, const struct list_cmd *lc,
			      const struct list_node *n, struct buf *b)
{
	bool exists = list_node_exists(n);
	if (lc->lsub) {
		/* RFC 3501 §6.3.9: LSUB marks a name it cannot select, or a
		 * level that is not itself subscribed, \Noselect. */
		if (!exists || (n->attrs & STORE_ATTR_NOSELECT) || !list_meets(lc, n))
			list_attr(b, "\\Noselect");
		return;
	}
	if (!exists)
		list_attr(b, lc->extended || session_rev2(s) ? "\\NonExistent" : "\\Noselect");
	else if (n->attrs & STORE_ATTR_NOSELECT)
		list_attr(b, "\\Noselect");
	if (n->flags & LIST_NODE_HAS_CHILDREN)
		list_attr(b, "\\HasChildren");
	else if (exists)
		list_attr(b, "\\HasNoChildren");
	if ((lc->ret & LIST_RET_SUBSCRIBED) && (n->attrs & STORE_ATTR_SUBSCRIBED))
		list_attr(b, "\\Subscribed");
	for (size_t i = 0; exists && i < sizeof(list_special_uses) / sizeof(list_special_uses[0]);
	     i++) {
		if (n->attrs & list_special_uses[i].attr)
			list_attr(b, list_special_uses[i].name);
	}
}

static void list_emit(struct session *s, const struct list_cmd *lc, const struct list_node *n,
		      bool childinfo)
{
	struct buf line = {0};
	buf_append_str(&line, lc->lsub ? "* LSUB (" : "* LIST (");
	list_append_attrs(s, lc, n, &line);
	buf_printf(&line, ") \"%c\" ", MBOXNAME_DELIMITER);
	mboxname_append(s, &line, n->name);
	/* RFC 5258 §3.5: why a parent that does not match was returned */
	if (childinfo)
		buf_append_str(&line, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	buf_append(&line, "\r\n", 2);
	session_write(s, line.data, line.len);
	buf_release(&line);
	/* RFC 5819: a STATUS after each LIST of a selectable mailbox. */
	if (!(lc->ret & LIST_RET_STATUS) || !list_node_exists(n) ||
	    (n->attrs & STORE_ATTR_NOSELECT))
		return;
	struct store_status st;
	if (store_status(s->mail, n->name, &st) == STORE_OK)
		cmd_mailbox_status_write(s, n->name, &lc->status, &st);
}

/* Decides whether (and how) a node is returned; see the top comment. */
static void list_consider(struct session *s, const struct list_cmd *lc, const struct list_node *n)
{
	bool match = false, percent = false;
	for (size_t i = 0; i < lc->npatterns; i++) {
		if (mboxpattern_match(&lc->patterns[i], n->name, n->len)) {
			match = true;
			percent = percent || lc->patterns[i].trailing_percent;
		}
	}
	if (!match)
		return;
	bool child_match = (n->flags & LIST_NODE_CHILD_MATCH) != 0;
	bool recursive = (lc->sel & LIST_SEL_RECURSIVEMATCH) != 0;
	if (list_meets(lc, n) || (recursive && child_match)) {
		list_emit(s, lc, n, recursive && child_match);
		return;
	}
	if (!percent)
		return;
	if (lc->lsub ? child_match
		     : (lc->sel & ~LIST_SEL_REMOTE) == 0 && !list_node_exists(n) && (n->flags & LIST_NODE_HAS_CHILDREN))
		list_emit(s, lc, n, false);
}

static enum cmd_result list_run(struct session *s, const struct imap_command *cmd, bool lsub)
{
	struct list_cmd lc = {.lsub = lsub};
	const char *error;
	if (!list_parse(s, cmd, &lc, &error)) {
		list_cmd_free(&lc);
		return cmd_bad(s, cmd, error);
	}
	/* RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the
	 * root of the reference; roost's only namespace has root "". */
	if (!lsub && lc.empty_pattern && (lc.sel & ~LIST_SEL_REMOTE) == 0) {
		list_cmd_free(&lc);
		resp_untagged(s, "LIST (\\Noselect) \"%c\" \"\"", MBOXNAME_DELIMITER);
		return cmd_ok(s, cmd);
	}
	struct list_tree t;
	enum store_err err = list_tree_build(s->mail, &t);
	if (err != STORE_OK) {
		list_cmd_free(&lc);
		return cmd_store_error(s, cmd, err, false);
	}
	list_tree_mark(&t, &lc);
	for (size_t i = 0; i < t.n; i++)
		list_consider(s, &lc, &t.nodes[i]);
	list_tree_free(&t);
	list_cmd_free(&lc);
	return cmd_ok(s, cmd);
}

enum cmd_result cmd_list(struct session *s, const struct imap_command *cmd)
{
	return list_run(s, cmd, false);
}

enum cmd_result cmd_lsub(struct session *s, const struct imap_command *cmd)
{
	return list_run(s, cmd, true);
}
