/* tls: OpenSSL server context with atomic reload (see tls.h). */
#include "net/tls.h"

#include <openssl/err.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

struct tls_ctx {
	pthread_mutex_t lock;
	SSL_CTX *current; /* guarded by lock */
};

static char *tls_error(const char *what, const char *path)
{
	char ossl[256] = "";
	unsigned long e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	ERR_clear_error();
	size_t n = strlen(what) + strlen(path) + strlen(ossl) + 8;
	char *msg = xmalloc(n);
	snprintf(msg, n, "%s %s: %s", what, path, ossl);
	return msg;
}

static int tls_min_version(const char *name)
{
	return strcasecmp(name, "TLSv1.3") == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

static int tls_configure(SSL_CTX *ctx, const struct config *cfg, char **error_r)
{
	SSL_CTX_set_min_proto_version(ctx, tls_min_version(cfg->tls_min_version));
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle sessions give their record buffers back (tens of KiB each). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (cfg->tls_ciphers[0] != '\0' && SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) {
		*error_r = tls_error("bad tls_ciphers", cfg->tls_ciphers);
		return -1;
	}
	if (cfg->tls_ciphersuites[0] != '\0' &&
	    SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1) {
		*error_r = tls_error("bad tls_ciphersuites", cfg->tls_ciphersuites);
		return -1;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		*error_r = tls_error("cannot load tls_cert", cfg->tls_cert);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
		*error_r = tls_error("cannot load tls_key", cfg->tls_key);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_error("tls_key does not match", cfg->tls_cert);
		return -1;
	}
	/* Resumption: a server-side cache for TLS 1.2 session ids and one
	 * ticket per handshake for TLS 1.3 (fewer bytes than the default 2). */
	static const unsigned char sid_ctx[] = "roost-imap";
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, 20000);
	SSL_CTX_set_timeout(ctx, 3600);
	SSL_CTX_set_num_tickets(ctx, 1);
	return 0;
}

static SSL_CTX *tls_build(const struct config *cfg, char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = tls_error("cannot create TLS context", "");
		return NULL;
	}
	if (tls_configure(ctx, cfg, error_r) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct tls_ctx *tls_ctx_new(const struct config *cfg, char **error_r)
{
	SSL_CTX *ctx = tls_build(cfg, error_r);
	if (ctx == NULL)
		return NULL;
	struct tls_ctx *tls = xcalloc(1, sizeof(*tls));
	pthread_mutex_init(&tls->lock, NULL);
	tls->current = ctx;
	return tls;
}

int tls_ctx_reload(struct tls_ctx *tls, const struct config *cfg, char **error_r)
{
	SSL_CTX *ctx = tls_build(cfg, error_r);
	if (ctx == NULL)
		return -1;
	pthread_mutex_lock(&tls->lock);
	SSL_CTX *old = tls->current;
	tls->current = ctx;
	pthread_mutex_unlock(&tls->lock);
	SSL_CTX_free(old); /* live handshakes hold their own references */
	return 0;
}

SSL_CTX *tls_ctx_acquire(struct tls_ctx *tls)
{
	pthread_mutex_lock(&tls->lock);
	SSL_CTX *ctx = tls->current;
	SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&tls->lock);
	return ctx;
}

void tls_ctx_free(struct tls_ctx **tlsp)
{
	struct tls_ctx *tls = *tlsp;
	if (tls == NULL)
		return;
	SSL_CTX_free(tls->current);
	pthread_mutex_destroy(&tls->lock);
	free(tls);
	*tlsp = NULL;
}
