/* UID (RFC 9051 §6.4.9): "UID FETCH|SEARCH|STORE|COPY|MOVE|EXPUNGE ..."
 * runs the named command with unique identifiers instead of sequence
 * numbers. Each command's _run function takes the arguments after its
 * name and uid=true. Because these forms do not depend on sequence
 * numbers, EXPUNGE responses may accompany them (RFC 9051 §7.5.1). */
#include <strings.h>

#include "imap/commands.h"

struct uid_sub {
	const char *name;
	cmd_uid_fn *run;
};

static const struct uid_sub uid_subs[] = {
	{"FETCH", cmd_fetch_run}, {"SEARCH", cmd_search_run}, {"STORE", cmd_store_run},
	{"COPY", cmd_copy_run},   {"MOVE", cmd_move_run},     {"EXPUNGE", cmd_expunge_run},
};

enum cmd_result cmd_uid(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs < 1 || cmd->args[0].type != IMAP_ARG_ATOM)
		return cmd_bad(s, cmd, "UID needs a command name");
	for (size_t i = 0; i < sizeof(uid_subs) / sizeof(uid_subs[0]); i++) {
		if (strcasecmp(cmd->args[0].str, uid_subs[i].name) == 0)
			return uid_subs[i].run(s, cmd, cmd->args + 1, cmd->nargs - 1, true);
	}
	return cmd_bad(s, cmd, "UID takes FETCH, SEARCH, STORE, COPY, MOVE or EXPUNGE");
}
