/* sasl: SASL mechanisms' message formats (RFC 4422), starting with PLAIN.
 *
 * PLAIN (RFC 4616): base64 of  [authzid] NUL authcid NUL passwd.
 * Decoding is strict: invalid base64 (bad characters, bad padding, data
 * after padding), missing NULs, an empty authcid or password, a NUL inside
 * a field, or fields over 255 (ids) / 1024 (password) bytes are errors.
 * The caller answers BAD for undecodable base64 and NO
 * [AUTHENTICATIONFAILED] for a well-formed message that fails. */
#ifndef ROOST_AUTH_SASL_H
#define ROOST_AUTH_SASL_H

#include <stddef.h>

#include "lib/arena.h"

/* Strict base64 decode of in[0..len) into arena memory (NUL-terminated).
 * Returns 0 and the bytes, or -1. An empty input decodes to 0 bytes
 * (RFC 9051 §6.2.2: "=" is the empty initial response, handled by the
 * caller). */
int sasl_base64_decode(const char *in, size_t len, struct arena *a, char **out_r,
		       size_t *out_len_r);

/* Base64 encode into arena memory (NUL-terminated). */
char *sasl_base64_encode(const void *in, size_t len, struct arena *a);

/* Parses a decoded PLAIN message. authzid_r is "" when absent. Returns 0,
 * or -1 with *error_r set to a short reason. Outputs point into arena
 * memory (NUL-terminated copies). */
int sasl_plain_parse(const char *msg, size_t len, struct arena *a, const char **authzid_r,
		     const char **authcid_r, const char **password_r, size_t *password_len_r,
		     const char **error_r);

#endif
