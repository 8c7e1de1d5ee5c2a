/* cmd_mailbox: helpers shared by the mailbox commands (CREATE, DELETE,
 * RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, LIST).
 *
 * A mailbox argument becomes a store name only through
 * cmd_mailbox_name(), so that every refused name is answered before it
 * can reach the store. STATUS and LIST-STATUS (RFC 5819) share the
 * parsing and formatting of STATUS data items. */
#ifndef ROOST_IMAP_CMD_MAILBOX_H
#define ROOST_IMAP_CMD_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/parser.h"
#include "store/store.h"

struct session;

/* Converts a mailbox argument (mboxname_from_arg) into *name_r
 * (malloc'd). On failure replies tagged BAD (not an astring) or
 * NO [CANNOT] (a refused name) and returns false. */
bool cmd_mailbox_name(struct session *s, const struct imap_command *cmd,
		      const struct imap_arg *arg, char **name_r);
/* Replies "NO [CANNOT] <text>" for a refused name. */
void cmd_mailbox_refused(struct session *s, const struct imap_command *cmd, const char *text);

/* STATUS data items (RFC 9051 §6.3.11, RFC 8438 SIZE, RFC 3501 RECENT,
 * RFC 9208 DELETED-STORAGE). */
enum cmd_mailbox_status_item {
	CMD_STATUS_MESSAGES,
	CMD_STATUS_UIDNEXT,
	CMD_STATUS_UIDVALIDITY,
	CMD_STATUS_UNSEEN,
	CMD_STATUS_DELETED,
	CMD_STATUS_SIZE,
	CMD_STATUS_RECENT,
	CMD_STATUS_DELETED_STORAGE, /* RFC 9208 §4.2.1, in KiB */
	CMD_STATUS_COUNT_
};

/* The items a client asked for, each once, in the order asked. */
struct cmd_mailbox_status_items {
	unsigned char order[CMD_STATUS_COUNT_];
	size_t n;
};

/* Parses "(" status-att *(SP status-att) ")". Returns false with a
 * static text for the tagged BAD (unknown or empty item list; RECENT
 * after ENABLE IMAP4rev2, whose grammar no longer has it). */
bool cmd_mailbox_status_parse(const struct session *s, const struct imap_arg *arg,
			      struct cmd_mailbox_status_items *items_r, const char **error_r);
/* Writes "* STATUS <name> (<item> <value> ...)". */
void cmd_mailbox_status_write(struct session *s, const char *name,
			      const struct cmd_mailbox_status_items *items,
			      const struct store_status *st);

#endif
