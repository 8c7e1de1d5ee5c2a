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
	/* RFC 9051 §6.3: authenticated (and so selected) */
	{"SELECT", SESSION_AUTH | SESSION_SELECTED, cmd_select},
	{"EXAMINE", SESSION_AUTH | SESSION_SELECTED, cmd_examine},
	{"CREATE", SESSION_AUTH | SESSION_SELECTED, cmd_create},
	{"DELETE", SESSION_AUTH | SESSION_SELECTED, cmd_delete},
	{"RENAME", SESSION_AUTH | SESSION_SELECTED, cmd_rename},
	{"SUBSCRIBE", SESSION_AUTH | SESSION_SELECTED, cmd_subscribe},
	{"UNSUBSCRIBE", SESSION_AUTH | SESSION_SELECTED, cmd_unsubscribe},
	{"LIST", SESSION_AUTH | SESSION_SELECTED, cmd_list},
	{"LSUB", SESSION_AUTH | SESSION_SELECTED, cmd_lsub},
	{"NAMESPACE", SESSION_AUTH | SESSION_SELECTED, cmd_namespace},
	{"STATUS", SESSION_AUTH | SESSION_SELECTED, cmd_status},
	{"APPEND", SESSION_AUTH | SESSION_SELECTED, cmd_append},
	{"IDLE", SESSION_AUTH | SESSION_SELECTED, cmd_idle},
	/* RFC 9208 QUOTA */
	{"GETQUOTA", SESSION_AUTH | SESSION_SELECTED, cmd_getquota},
	{"GETQUOTAROOT", SESSION_AUTH | SESSION_SELECTED, cmd_getquotaroot},
	{"SETQUOTA", SESSION_AUTH | SESSION_SELECTED, cmd_setquota},
	/* RFC 9051 §6.4: selected */
	{"CHECK", SESSION_SELECTED, cmd_check},
	{"CLOSE", SESSION_SELECTED, cmd_close},
	{"UNSELECT", SESSION_SELECTED, cmd_unselect},
	{"EXPUNGE", SESSION_SELECTED, cmd_expunge},
	{"SEARCH", SESSION_SELECTED, cmd_search},
	{"FETCH", SESSION_SELECTED, cmd_fetch},
	{"STORE", SESSION_SELECTED, cmd_store},
	{"COPY", SESSION_SELECTED, cmd_copy},
	{"MOVE", SESSION_SELECTED, cmd_move},
	{"UID", SESSION_SELECTED, cmd_uid},
};

const struct cmd_def *commands_find(const char *name)
{
	for (size_t i = 0; i < sizeof(command_table) / sizeof(command_table[0]); i++) {
		if (strcmp(command_table[i].name, name) == 0)
			return &command_table[i];
	}
	return NULL;
}

const char *commands_name(size_t i)
{
	return i < sizeof(command_table) / sizeof(command_table[0]) ? command_table[i].name : NULL;
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

enum cmd_result cmd_store_error(struct session *s, const struct imap_command *cmd,
				enum store_err err, bool trycreate)
{
	enum resp_code code = RESP_CODE_NONE;
	switch (err) {
	case STORE_OK:
		return cmd_ok(s, cmd);
	case STORE_ERR_NOTFOUND:
		code = trycreate ? RESP_CODE_TRYCREATE : RESP_CODE_NONEXISTENT;
		break;
	case STORE_ERR_EXISTS:
		code = RESP_CODE_ALREADYEXISTS;
		break;
	case STORE_ERR_INVALID_NAME:
	case STORE_ERR_NOSELECT:
		code = RESP_CODE_CANNOT;
		break;
	case STORE_ERR_NOPERM:
		code = RESP_CODE_NOPERM;
		break;
	case STORE_ERR_HASCHILDREN:
		code = RESP_CODE_HASCHILDREN;
		break;
	case STORE_ERR_EXPUNGED:
		code = RESP_CODE_EXPUNGEISSUED;
		break;
	case STORE_ERR_LIMIT:
		code = RESP_CODE_LIMIT;
		break;
	case STORE_ERR_OVERQUOTA:
		code = RESP_CODE_OVERQUOTA;
		break;
	case STORE_ERR_CORRUPT:
		code = RESP_CODE_CORRUPTION;
		break;
	case STORE_ERR_IO:
		code = RESP_CODE_SERVERBUG;
		break;
	}
	resp_tagged(s, cmd->tag, RESP_NO, code, NULL, store_err_text(err));
	return CMD_DONE;
}
