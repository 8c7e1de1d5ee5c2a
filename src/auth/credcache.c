/* credcache: recently verified passwords as keyed MACs (see credcache.h). */
#include "auth/credcache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/xalloc.h"

#define CREDCACHE_KEY_LEN 32
#define CREDCACHE_MAC_LEN 32

struct credcache_slot {
	char *user; /* NULL: empty */
	uint8_t mac[CREDCACHE_MAC_LEN];
	uint64_t expires_s;
};

struct credcache {
	pthread_mutex_t lock;
	uint8_t key[CREDCACHE_KEY_LEN];
	unsigned ttl_s;
	size_t n;
	struct credcache_slot *slots;
};

struct credcache *credcache_new(size_t slots, unsigned ttl_s)
{
	struct credcache *cc = xcalloc(1, sizeof(*cc));
	pthread_mutex_init(&cc->lock, NULL);
	cc->ttl_s = ttl_s;
	cc->n = ttl_s > 0 ? slots : 0;
	if (cc->n > 0)
		cc->slots = xcalloc(cc->n, sizeof(*cc->slots));
	/* Without a random key the MACs would be guessable offline from a
	 * memory dump: then the cache stays off. */
	if (getrandom(cc->key, sizeof(cc->key), 0) != (ssize_t)sizeof(cc->key)) {
		free(cc->slots);
		cc->slots = NULL;
		cc->n = 0;
	}
	return cc;
}

void credcache_free(struct credcache **ccp)
{
	struct credcache *cc = *ccp;
	if (cc == NULL)
		return;
	for (size_t i = 0; i < cc->n; i++)
		free(cc->slots[i].user);
	free(cc->slots);
	explicit_bzero(cc->key, sizeof(cc->key));
	pthread_mutex_destroy(&cc->lock);
	free(cc);
	*ccp = NULL;
}

/* FNV-1a of the user name: picks the slot. */
static size_t credcache_slot_of(const struct credcache *cc, const char *user)
{
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h % cc->n);
}

/* HMAC(key, user NUL stored NUL password). */
static bool credcache_mac(const struct credcache *cc, const char *user, const char *stored,
			  const char *password, size_t len, uint8_t mac_r[CREDCACHE_MAC_LEN])
{
	size_t ulen = strlen(user) + 1, slen = strlen(stored) + 1;
	size_t total = ulen + slen + len;
	uint8_t *msg = xmalloc(total);
	memcpy(msg, user, ulen);
	memcpy(msg + ulen, stored, slen);
	memcpy(msg + ulen + slen, password, len);
	unsigned mac_len = 0;
	bool ok = HMAC(EVP_sha256(), cc->key, sizeof(cc->key), msg, total, mac_r, &mac_len) != NULL &&
		  mac_len == CREDCACHE_MAC_LEN;
	explicit_bzero(msg, total);
	free(msg);
	return ok;
}

bool credcache_check(struct credcache *cc, const char *user, const char *stored,
		     const char *password, size_t len, uint64_t now_s)
{
	uint8_t mac[CREDCACHE_MAC_LEN];
	if (cc == NULL || cc->n == 0 || !credcache_mac(cc, user, stored, password, len, mac))
		return false;
	struct credcache_slot *sl = &cc->slots[credcache_slot_of(cc, user)];
	pthread_mutex_lock(&cc->lock);
	bool hit = sl->user != NULL && strcmp(sl->user, user) == 0 && now_s < sl->expires_s &&
		   CRYPTO_memcmp(sl->mac, mac, sizeof(mac)) == 0;
	pthread_mutex_unlock(&cc->lock);
	return hit;
}

void credcache_add(struct credcache *cc, const char *user, const char *stored,
		   const char *password, size_t len, uint64_t now_s)
{
	uint8_t mac[CREDCACHE_MAC_LEN];
	if (cc == NULL || cc->n == 0 || !credcache_mac(cc, user, stored, password, len, mac))
		return;
	struct credcache_slot *sl = &cc->slots[credcache_slot_of(cc, user)];
	char *copy = xstrdup(user);
	pthread_mutex_lock(&cc->lock);
	char *old = sl->user;
	sl->user = copy;
	memcpy(sl->mac, mac, sizeof(mac));
	sl->expires_s = now_s + cc->ttl_s;
	pthread_mutex_unlock(&cc->lock);
	free(old);
}
