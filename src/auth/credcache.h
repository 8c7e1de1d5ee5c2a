/* credcache: passwords verified recently, so that a client logging in again
 * and again (phones reconnecting, fetchmail polling, a mail client's many
 * connections) does not pay the deliberately slow hash each time.
 *
 * What is kept is not the password: per user, HMAC-SHA256 under a random
 * key made at start (never stored) of the user name, the passwd-file's
 * stored hash and the password, with an expiry. A check recomputes that
 * MAC and compares in constant time, so
 *   - only a password that was verified by the real hash within the TTL
 *     matches; a wrong one never does and goes to the slow hash (and to the
 *     failed-login penalty) as before;
 *   - a password change (a new stored hash) invalidates the entry by itself,
 *     with no need to flush anything when the passwd-file is reloaded.
 * The table is direct-mapped (a slot per user-name hash; a collision
 * replaces the older entry, which is then only a miss), so its memory is
 * fixed by its size. Thread-safe (one mutex; the work under it is a
 * comparison). Dovecot's auth_cache serves the same purpose. */
#ifndef ROOST_AUTH_CREDCACHE_H
#define ROOST_AUTH_CREDCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct credcache;

/* slots: entries kept at most (0: the cache is off and every call is a
 * no-op / miss); ttl_s: how long a verification counts. */
struct credcache *credcache_new(size_t slots, unsigned ttl_s);
void credcache_free(struct credcache **cc);

/* Whether password (len bytes) was verified for user against the stored
 * hash `stored` less than ttl_s ago (now_s: a monotonic clock in s). */
bool credcache_check(struct credcache *cc, const char *user, const char *stored,
		     const char *password, size_t len, uint64_t now_s);
/* Records a successful verification by the real hash. */
void credcache_add(struct credcache *cc, const char *user, const char *stored,
		   const char *password, size_t len, uint64_t now_s);

#endif
