/* capability: the capability list a session advertises, which depends on
 * its state: before/after TLS, before/after login (RFC 9051 §7.2.2). */
#ifndef ROOST_IMAP_CAPABILITY_H
#define ROOST_IMAP_CAPABILITY_H

#include "lib/buf.h"

struct session;

/* Appends the space-separated list (no "CAPABILITY" word) to out. */
void capability_append(const struct session *s, struct buf *out);

#endif
