/* commands: the static command table and the handlers' signatures.
 *
 * One entry per command: name, the states it is valid in (RFC 9051 §6),
 * and its handler. The handler lives in cmd_<name>.c. Handlers get the
 * parsed command and reply with resp_tagged() before returning CMD_DONE,
 * or return CMD_ASYNC and finish later with session_cmd_done(). Argument
 * syntax errors are the handler's to report (tagged BAD). */
#ifndef ROOST_IMAP_COMMANDS_H
#define ROOST_IMAP_COMMANDS_H

#include "imap/parser.h"
#include "imap/session.h"

typedef enum cmd_result cmd_handler_fn(struct session *s, const struct imap_command *cmd);

struct cmd_def {
	const char *name;
	unsigned states; /* enum session_state bits */
	cmd_handler_fn *handler;
};

#define SESSION_ANY_STATE (SESSION_NOT_AUTH | SESSION_AUTH | SESSION_SELECTED)

/* The entry for an upper-cased command name, or NULL. */
const struct cmd_def *commands_find(const char *name);

cmd_handler_fn cmd_capability;
cmd_handler_fn cmd_noop;
cmd_handler_fn cmd_logout;
cmd_handler_fn cmd_starttls;
cmd_handler_fn cmd_login;
cmd_handler_fn cmd_authenticate;
cmd_handler_fn cmd_id;
cmd_handler_fn cmd_enable;

/* Shared helpers for handlers. */
/* Replies "BAD <text>" and returns CMD_DONE. */
enum cmd_result cmd_bad(struct session *s, const struct imap_command *cmd, const char *text);
/* Replies OK "<NAME> completed" and returns CMD_DONE. */
enum cmd_result cmd_ok(struct session *s, const struct imap_command *cmd);
/* True when the command has exactly n arguments; else replies BAD. */
bool cmd_expect_args(struct session *s, const struct imap_command *cmd, size_t n);

#endif
