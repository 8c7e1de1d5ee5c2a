/* login: the password check shared by LOGIN and AUTHENTICATE PLAIN.
 *
 * The check runs on the auth worker pool (hashing takes tens of
 * milliseconds and must never stall a loop). An unknown user is verified
 * against a stand-in hash of the configured scheme, so an unknown user and
 * a wrong password cost the same work and get the same answer:
 * NO [AUTHENTICATIONFAILED] (RFC 5530). On success the session becomes
 * authenticated and the tagged OK carries the new capabilities. */
#ifndef ROOST_IMAP_LOGIN_H
#define ROOST_IMAP_LOGIN_H

#include <stddef.h>

#include "imap/session.h"

/* Starts the check for the running command (s->cmd_tag) and returns
 * CMD_ASYNC; the tagged reply and session_cmd_done() follow. mech names
 * the mechanism in logs ("LOGIN", "PLAIN"). authzid may be NULL or "";
 * when set it must equal user (no proxy authorization). The strings are
 * copied; the caller may wipe its copy of the password at once. */
enum cmd_result login_begin(struct session *s, const char *mech, const char *authzid,
			    const char *user, const char *password, size_t password_len);

/* Creates the stand-in hash for ctx (at start; hashing is slow). Returns
 * a malloc'd "{SCHEME}hash" or NULL. */
char *login_make_dummy_hash(const char *scheme);

#endif
