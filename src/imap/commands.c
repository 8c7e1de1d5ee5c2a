/* commands: the command table (see commands.h).
 *
 * RFC 9051 §6 lists the states in which each command is valid; the table
 * says the same, and session.c answers a command in any other state with
 * a tagged BAD naming the state, so clients learn exactly what is wrong
 * and the session goes on. */
#include "imap/commands.h"

#include <stdio.h>
#include <string.h>

#include "imap/resp.h"

static const struct cmd_def command_table[] = {
	/* RFC 9051 §6.1: any state */
	{"CAPABILITY", SESSION_ANY_STATE, cmd_capability},
	{"NOOP", SESSION_ANY_STATE, cmd_noop},
	{"LOGOUT", SESSION_ANY_STATE, cmd_logout},
	/* RFC 2971: any state */
	{"ID", SESSION_ANY_STATE, cmd_id},
	/* RFC 9051 §6.2: not authenticated */
	{"STARTTLS", SESSION_NOT_AUTH, cmd_starttls},
	{"AUTHENTICATE", SESSION_NOT_AUTH, cmd_authenticate},
	{"LOGIN", SESSION_NOT_AUTH, cmd_login},
	/* RFC 9051 §6.3.1 / RFC 5161: authenticated */
	{"ENABLE", SESSION_AUTH, cmd_enable},
};

const struct cmd_def *commands_find(const char *name)
{
	for (size_t i = 0; i < sizeof(command_table) / sizeof(command_table[0]); i++) {
		if (strcmp(command_table[i].name, name) == 0)
			return &command_table[i];
	}
	return NULL;
}

enum cmd_result cmd_bad(struct session *s, const struct imap_command *cmd, const char *text)
{
	resp_tagged(s, cmd->tag, RESP_BAD, RESP_CODE_NONE, NULL, text);
	return CMD_DONE;
}

enum cmd_result cmd_ok(struct session *s, const struct imap_command *cmd)
{
	char text[64];
	snprintf(text, sizeof(text), "%s completed", cmd->name);
	resp_tagged(s, cmd->tag, RESP_OK, RESP_CODE_NONE, NULL, text);
	return CMD_DONE;
}

bool cmd_expect_args(struct session *s, const struct imap_command *cmd, size_t n)
{
	if (cmd->nargs == n)
		return true;
	char text[80];
	if (n == 0)
		snprintf(text, sizeof(text), "%s takes no arguments", cmd->name);
	else
		snprintf(text, sizeof(text), "%s takes %zu argument%s", cmd->name, n,
			 n == 1 ? "" : "s");
	cmd_bad(s, cmd, text);
	return false;
}
