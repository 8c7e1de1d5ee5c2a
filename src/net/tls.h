/* tls: the server's OpenSSL context, built from the config and swapped
 * whole on reload.
 *
 * TLS 1.2 minimum (configurable to 1.3), the configured cipher lists,
 * server-side session cache and TLS 1.3 tickets for resumption, and
 * SSL_MODE_RELEASE_BUFFERS so idle TLS sessions keep no record buffers.
 * Loop threads take the current SSL_CTX with tls_ctx_acquire() for each
 * handshake; a reload builds a new SSL_CTX and swaps it in, so handshakes
 * in progress finish with the old one and new ones use the new. */
#ifndef ROOST_NET_TLS_H
#define ROOST_NET_TLS_H

#include <openssl/ssl.h>

#include "config/config.h"

struct tls_ctx;

/* Builds the context from cfg (tls_cert, tls_key, tls_min_version,
 * tls_ciphers, tls_ciphersuites). Returns NULL with a malloc'd message in
 * *error_r (caller frees) when the files cannot be used. */
struct tls_ctx *tls_ctx_new(const struct config *cfg, char **error_r);
/* Rebuilds from cfg; on failure the old context stays in use. Returns 0,
 * or -1 with a malloc'd *error_r. Any thread. */
int tls_ctx_reload(struct tls_ctx *tls, const struct config *cfg, char **error_r);
/* The current SSL_CTX with a reference the caller drops with
 * SSL_CTX_free(). Any thread. */
SSL_CTX *tls_ctx_acquire(struct tls_ctx *tls);
void tls_ctx_free(struct tls_ctx **tls);

#endif
