/* password: password hashing schemes in Dovecot's "{SCHEME}hash" format.
 *
 * Supported, so existing Dovecot passwd-files work unchanged:
 *   {ARGON2ID}$argon2id$v=19$m=...,t=...,p=...$salt$hash   (libargon2)
 *   {ARGON2I}$argon2i$...                                     (libargon2)
 *   {SHA512-CRYPT}$6$salt$hash, {SHA256-CRYPT}$5$...          (libxcrypt)
 *   {BLF-CRYPT}$2y$NN$..., $2b$, $2a$                         (libxcrypt)
 *   {CRYPT}<any crypt(3) string libxcrypt knows>
 *   {PLAIN}text, {CLEAR}text, {CLEARTEXT}text                 (not recommended)
 * A hash with no {SCHEME} prefix is treated as {CRYPT} (Dovecot's default
 * for passwd-files).
 *
 * Verification compares in constant time. These functions are CPU-heavy
 * by design (tens of milliseconds): never call them on an event-loop
 * thread; the auth worker pool runs them. */
#ifndef ROOST_AUTH_PASSWORD_H
#define ROOST_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* Verifies password (len bytes, may contain any byte but NUL) against a
 * stored "{SCHEME}hash". Returns 1 on match, 0 on mismatch, -1 when the
 * stored value is malformed or the scheme unknown (*error_r says why). */
int password_verify(const char *stored, const char *password, size_t len, const char **error_r);

/* Hashes password with scheme (case-insensitive: "ARGON2ID", "SHA512-CRYPT",
 * "BLF-CRYPT", "SHA256-CRYPT", "PLAIN"), using fresh random salt, and
 * returns a malloc'd "{SCHEME}hash" string (caller frees), or NULL with
 * *error_r set. */
char *password_hash(const char *scheme, const char *password, size_t len, const char **error_r);

/* Whether scheme is one password_hash() can produce. */
bool password_scheme_supported(const char *scheme);

#endif
