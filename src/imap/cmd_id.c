/* ID (RFC 2971): the client says who it is, the server answers in kind.
 *
 * Arguments: NIL, or a list of up to 30 field/value pairs; fields are
 * strings of at most 30 bytes, values strings (or NIL) of at most 1024
 * bytes (RFC 2971 §3.3). The client's fields are logged, escaped. */
#include <stdio.h>
#include <string.h>

#include "imap/commands.h"
#include "imap/resp.h"
#include "lib/log.h"
#include "lib/version.h"

#define ID_MAX_PAIRS 30
#define ID_MAX_FIELD 30
#define ID_MAX_VALUE 1024

static bool id_string_or_nil(const struct imap_arg *arg, size_t max)
{
	if (arg->type == IMAP_ARG_NIL)
		return true;
	return (arg->type == IMAP_ARG_QUOTED || arg->type == IMAP_ARG_LITERAL) && arg->len <= max;
}

static bool id_valid(const struct imap_arg *arg)
{
	if (arg->type == IMAP_ARG_NIL)
		return true;
	if (arg->type != IMAP_ARG_LIST || arg->count % 2 != 0 || arg->count > 2 * ID_MAX_PAIRS)
		return false;
	for (size_t i = 0; i < arg->count; i += 2) {
		const struct imap_arg *field = &arg->list[i];
		if (field->type != IMAP_ARG_QUOTED && field->type != IMAP_ARG_LITERAL)
			return false;
		if (field->len > ID_MAX_FIELD || !id_string_or_nil(&arg->list[i + 1], ID_MAX_VALUE))
			return false;
	}
	return true;
}

static void id_log(const struct session *s, const struct imap_arg *arg)
{
	char line[1024] = "";
	size_t used = 0;
	for (size_t i = 0; arg->type == IMAP_ARG_LIST && i < arg->count && used < 700; i += 2) {
		char field[80], value[200];
		const struct imap_arg *v = &arg->list[i + 1];
		log_escape(field, sizeof(field), arg->list[i].str, arg->list[i].len);
		log_escape(value, sizeof(value), v->type == IMAP_ARG_NIL ? "" : v->str,
			   v->type == IMAP_ARG_NIL ? 0 : v->len);
		used += (size_t)snprintf(line + used, sizeof(line) - used, " %s=%s", field, value);
	}
	log_info("event=id sid=%016llx%s", (unsigned long long)s->id, line);
}

enum cmd_result cmd_id(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 1))
		return CMD_DONE;
	if (!id_valid(&cmd->args[0]))
		return cmd_bad(s, cmd, "ID expects NIL or a list of field/value string pairs");
	id_log(s, &cmd->args[0]);
	struct buf line = {0};
	buf_append_str(&line, "ID (\"name\" ");
	resp_append_nstring(&line, s->ctx->cfg->server_name, strlen(s->ctx->cfg->server_name), 0);
	buf_append_str(&line, " \"version\" \"" ROOST_VERSION "\")");
	resp_untagged(s, "%.*s", (int)line.len, line.data);
	buf_release(&line);
	return cmd_ok(s, cmd);
}
