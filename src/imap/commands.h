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
/* The name of table entry i (0-based), or NULL past the end: the label
 * values of the command metrics (metrics_set_command_names). */
const char *commands_name(size_t i);

cmd_handler_fn cmd_capability;
cmd_handler_fn cmd_noop;
cmd_handler_fn cmd_logout;
cmd_handler_fn cmd_starttls;
cmd_handler_fn cmd_login;
cmd_handler_fn cmd_authenticate;
cmd_handler_fn cmd_id;
cmd_handler_fn cmd_enable;
cmd_handler_fn cmd_select;      /* cmd_select.c */
cmd_handler_fn cmd_examine;     /* cmd_select.c */
cmd_handler_fn cmd_create;
cmd_handler_fn cmd_delete;
cmd_handler_fn cmd_rename;
cmd_handler_fn cmd_subscribe;   /* cmd_subscribe.c */
cmd_handler_fn cmd_unsubscribe; /* cmd_subscribe.c */
cmd_handler_fn cmd_list;        /* cmd_list.c */
cmd_handler_fn cmd_lsub;        /* cmd_list.c */
cmd_handler_fn cmd_namespace;
cmd_handler_fn cmd_status;
cmd_handler_fn cmd_append;
cmd_handler_fn cmd_idle;
cmd_handler_fn cmd_check;
cmd_handler_fn cmd_close;       /* cmd_close.c */
cmd_handler_fn cmd_unselect;    /* cmd_close.c */
cmd_handler_fn cmd_expunge;
cmd_handler_fn cmd_search;
cmd_handler_fn cmd_fetch;
cmd_handler_fn cmd_store;
cmd_handler_fn cmd_copy;        /* cmd_copy.c */
cmd_handler_fn cmd_move;        /* cmd_copy.c */
cmd_handler_fn cmd_uid;
cmd_handler_fn cmd_getquota;     /* cmd_quota.c */
cmd_handler_fn cmd_getquotaroot; /* cmd_quota.c */
cmd_handler_fn cmd_setquota;     /* cmd_quota.c */

/* The commands that have a UID form (RFC 9051 §6.4.9), called by cmd_uid
 * with uid=true and the arguments after the command name, and by their
 * own handler with uid=false. */
typedef enum cmd_result cmd_uid_fn(struct session *s, const struct imap_command *cmd,
				   const struct imap_arg *args, size_t nargs, bool uid);
cmd_uid_fn cmd_fetch_run;   /* cmd_fetch.c */
cmd_uid_fn cmd_search_run;  /* cmd_search.c */
cmd_uid_fn cmd_store_run;   /* cmd_store.c */
cmd_uid_fn cmd_copy_run;    /* cmd_copy.c (COPY) */
cmd_uid_fn cmd_move_run;    /* cmd_copy.c (MOVE) */
cmd_uid_fn cmd_expunge_run; /* cmd_expunge.c (UID EXPUNGE: uid=true) */

/* Shared helpers for handlers. */
/* Replies "BAD <text>" and returns CMD_DONE. */
enum cmd_result cmd_bad(struct session *s, const struct imap_command *cmd, const char *text);
/* Replies OK "<NAME> completed" and returns CMD_DONE. */
enum cmd_result cmd_ok(struct session *s, const struct imap_command *cmd);
/* True when the command has exactly n arguments; else replies BAD. */
bool cmd_expect_args(struct session *s, const struct imap_command *cmd, size_t n);
/* Replies NO with the response code and text that a store error maps to
 * (one place for the mapping: NONEXISTENT, ALREADYEXISTS, ...). With
 * trycreate, NOTFOUND maps to [TRYCREATE] (APPEND, COPY, MOVE). */
enum cmd_result cmd_store_error(struct session *s, const struct imap_command *cmd,
				enum store_err err, bool trycreate);

#endif
