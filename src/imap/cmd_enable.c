/* ENABLE (RFC 5161, RFC 9051 §6.3.1): turns on extensions that change
 * what the server sends. Unknown capability names are ignored (RFC 5161
 * §3.1); the untagged ENABLED response lists the ones this command newly
 * enabled, and is sent even when that list is empty. */
#include <strings.h>

#include "imap/commands.h"
#include "imap/resp.h"

struct enable_ext {
	const char *name;
	unsigned bit;
};

static const struct enable_ext enable_exts[] = {
	{"IMAP4rev2", SESSION_ENABLED_IMAP4REV2},
	{"UTF8=ACCEPT", SESSION_ENABLED_UTF8_ACCEPT}, /* RFC 6855 */
};

enum cmd_result cmd_enable(struct session *s, const struct imap_command *cmd)
{
	if (cmd->nargs == 0)
		return cmd_bad(s, cmd, "ENABLE needs at least one capability name");
	for (size_t i = 0; i < cmd->nargs; i++) {
		if (cmd->args[i].type != IMAP_ARG_ATOM)
			return cmd_bad(s, cmd, "ENABLE takes capability names (atoms)");
	}
	struct buf line = {0};
	buf_append_str(&line, "ENABLED");
	for (size_t i = 0; i < cmd->nargs; i++) {
		for (size_t e = 0; e < sizeof(enable_exts) / sizeof(enable_exts[0]); e++) {
			const struct enable_ext *ext = &enable_exts[e];
			if (strcasecmp(cmd->args[i].str, ext->name) != 0 || (s->enabled & ext->bit))
				continue;
			s->enabled |= ext->bit;
			buf_append(&line, " ", 1);
			buf_append_str(&line, ext->name);
		}
	}
	resp_untagged(s, "%.*s", (int)line.len, line.data);
	buf_release(&line);
	return cmd_ok(s, cmd);
}
