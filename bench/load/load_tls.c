/*
 * load_tls.c — the client side of TLS for roost-load (OpenSSL).
 *
 * Verification is off: benchmark servers use self-signed certificates and
 * the load generator measures the server, not the PKI. Sockets are
 * non-blocking; every call maps OpenSSL's WANT_READ/WANT_WRITE to "would
 * block" and the connection keeps EPOLLIN registered at all times, with
 * EPOLLOUT added while a write or the handshake waits to send. Partial
 * writes are enabled so a large literal goes out in pieces, and the write
 * buffer may move between retries (the output queue advances its offset).
 */
#include "load.h"

#include <openssl/err.h>
#include <stdlib.h>

SSL_CTX *load_tls_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		fprintf(stderr, "roost-load: SSL_CTX_new failed\n");
		exit(2);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	/* Every connection does a full handshake, as a fresh client would. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

/* 1 done, 0 in progress, -1 failed. Creates the SSL object on first call. */
int load_tls_handshake(struct load_sess *s)
{
	if (!s->ssl) {
		s->ssl = SSL_new(s->run->ssl_ctx);
		if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1)
			return -1;
		SSL_set_connect_state(s->ssl);
	}
	ERR_clear_error();
	int rc = SSL_do_handshake(s->ssl);
	if (rc == 1)
		return 1;
	int e = SSL_get_error(s->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	return -1;
}

long load_tls_read(struct load_sess *s, void *buf, size_t len)
{
	size_t got = 0;
	ERR_clear_error();
	int rc = SSL_read_ex(s->ssl, buf, len, &got);
	if (rc == 1)
		return (long)got;
	int e = SSL_get_error(s->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -2;
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	return -1;
}

long load_tls_write(struct load_sess *s, const void *buf, size_t len)
{
	size_t put = 0;
	ERR_clear_error();
	int rc = SSL_write_ex(s->ssl, buf, len, &put);
	if (rc == 1)
		return (long)put;
	int e = SSL_get_error(s->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -2;
	return -1;
}
