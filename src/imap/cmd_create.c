/* CREATE (RFC 9051 §6.3.4): makes a mailbox, and any missing parents.
 *
 * A trailing hierarchy delimiter only says the client means to create
 * children under the name; the name is created without it ("a/" creates
 * "a"). INBOX always exists. The optional parameter list takes RFC 6154
 * §3's USE (<special-use attributes>) to give the new mailbox a special
 * use (\Sent \Drafts \Trash \Junk \Archive). */
#include <stdlib.h>
#include <string.h>

#include "imap/cmd_mailbox.h"
#include "imap/commands.h"
#include "imap/resp.h"
#include "imap/mboxname.h"
#include "imap/session.h"

static const struct {
	const char *name;
	unsigned attr;
} cmd_create_uses[] = {
	{"\\Sent", STORE_ATTR_SENT},   {"\\Drafts", STORE_ATTR_DRAFTS},
	{"\\Trash", STORE_ATTR_TRASH}, {"\\Junk", STORE_ATTR_JUNK},
	{"\\Archive", STORE_ATTR_ARCHIVE},
};

/* Parses USE's list of attributes into *attrs_r. Returns 0, -1 for bad
 * syntax, or -2 for an attribute roost does not support. */
static int cmd_create_parse_use(const struct imap_arg *list, unsigned *attrs_r)
{
	if (list->type != IMAP_ARG_LIST)
		return -1;
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		if (a->type != IMAP_ARG_ATOM || a->len < 2 || a->str[0] != '\\')
			return -1;
		size_t u = 0, n = sizeof(cmd_create_uses) / sizeof(cmd_create_uses[0]);
		while (u < n && !imap_arg_atom_equals(a, cmd_create_uses[u].name))
			u++;
		if (u == n)
			return -2;
		*attrs_r |= cmd_create_uses[u].attr;
	}
	return 0;
}

/* create-params: "(" create-param *(SP create-param) ")"; only USE. */
static int cmd_create_parse_params(const struct imap_arg *params, unsigned *attrs_r)
{
	if (params->type != IMAP_ARG_LIST || params->count == 0)
		return -1;
	for (size_t i = 0; i < params->count; i += 2) {
		if (!imap_arg_atom_equals(&params->list[i], "USE") || i + 1 >= params->count)
			return -1;
		int ret = cmd_create_parse_use(&params->list[i + 1], attrs_r);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The name argument without one trailing delimiter, as a store name. */
static bool cmd_create_name(struct session *s, const struct imap_command *cmd, char **name_r)
{
	const char *str, *error;
	size_t len;
	if (!imap_arg_get_astring(&cmd->args[0], &str, &len)) {
		cmd_bad(s, cmd, "Mailbox name must be an atom, a quoted string or a literal");
		return false;
	}
	if (len > 1 && str[len - 1] == MBOXNAME_DELIMITER)
		len--; /* RFC 9051 §6.3.4 */
	if (mboxname_from_wire(str, len, session_utf8(s), name_r, &error) < 0) {
		cmd_mailbox_refused(s, cmd, error);
		return false;
	}
	return true;
}

enum cmd_result cmd_create(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 1 && cmd->nargs != 2)
		return cmd_bad(s, cmd, "CREATE takes a mailbox name and optional parameters");
	unsigned special_use = 0;
	if (cmd->nargs == 2) {
		int ret = cmd_create_parse_params(&cmd->args[1], &special_use);
		if (ret == -1)
			return cmd_bad(s, cmd, "CREATE parameters must be (USE (<attributes>))");
		if (ret == -2) {
			/* RFC 6154 §3: an attribute the server does not support */
			resp_tagged(s, cmd->tag, RESP_NO, RESP_CODE_USEATTR, NULL,
				    "Unsupported special-use attribute");
			return CMD_DONE;
		}
	}
	char *name;
	if (!cmd_create_name(s, cmd, &name))
		return CMD_DONE;
	enum store_err err = STORE_ERR_EXISTS; /* INBOX always exists */
	if (strcmp(name, "INBOX") != 0)
		err = store_create(s->mail, name, special_use);
	free(name);
	return cmd_store_error(s, cmd, err, false);
}
