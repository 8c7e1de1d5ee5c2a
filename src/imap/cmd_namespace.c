/* NAMESPACE (RFC 2342, RFC 9051 §6.3.10): roost has one personal
 * namespace with an empty prefix and '/' as hierarchy delimiter, and no
 * other users' or shared namespaces. */
#include "imap/commands.h"
#include "imap/mboxname.h"
#include "imap/resp.h"

enum cmd_result cmd_namespace(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 0))
		return CMD_DONE;
	resp_untagged(s, "NAMESPACE ((\"\" \"%c\")) NIL NIL", MBOXNAME_DELIMITER);
	return cmd_ok(s, cmd);
}
