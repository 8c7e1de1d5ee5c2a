/* capability: per-state capability list (see capability.h).
 *
 * Before login: STARTTLS while the connection is plaintext, and either
 * AUTH=PLAIN (TLS, or plaintext allowed here) or LOGINDISABLED (RFC 9051
 * §6.2.3, §7.2.2). After login the authentication capabilities are gone:
 * they cannot be used any more. */
#include "imap/capability.h"

#include "imap/session.h"

/* Always advertised; IMAP4rev1 and IMAP4rev2 both, so rev1 clients keep
 * working and rev2 clients can ENABLE IMAP4rev2 (RFC 9051 §1). */
static const char capability_base[] =
	"IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MULTIAPPEND MOVE "
	"CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE ESEARCH SEARCHRES BINARY UTF8=ACCEPT "
	"STATUS=SIZE QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE";

void capability_append(const struct session *s, struct buf *out)
{
	buf_append_str(out, capability_base);
	if (s->state != SESSION_NOT_AUTH)
		return;
	if (!s->tls)
		buf_append_str(out, " STARTTLS");
	if (session_plaintext_auth_allowed(s))
		buf_append_str(out, " AUTH=PLAIN");
	else
		buf_append_str(out, " LOGINDISABLED");
}
