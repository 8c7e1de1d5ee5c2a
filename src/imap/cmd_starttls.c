/* STARTTLS (RFC 9051 §6.2.1).
 *
 * The tagged OK goes out in plaintext, then the handshake begins. Anything
 * the client sent after the STARTTLS line is discarded (conn_start_tls
 * drops the input buffer, and the parser is reset here), so plaintext
 * pipelined behind STARTTLS can never be executed as if it came over TLS
 * (the command-injection class of bug, CVE-2011-0411 and kin). */
#include "imap/commands.h"
#include "imap/resp.h"

enum cmd_result cmd_starttls(struct session *s, const struct imap_command *cmd)
{
	if (!cmd_expect_args(s, cmd, 0))
		return CMD_DONE;
	if (s->tls)
		return cmd_bad(s, cmd, "TLS is already active");
	resp_tagged(s, cmd->tag, RESP_OK, RESP_CODE_NONE, NULL, "Begin TLS negotiation now");
	imap_parser_reset(s->parser);
	s->tls_pending = true;
	SSL_CTX *tls = tls_ctx_acquire(s->ctx->tls);
	conn_start_tls(s->conn, tls, atomic_load(&s->ctx->settings.tls_handshake_timeout_s) * 1000);
	SSL_CTX_free(tls);
	return CMD_DONE;
}
