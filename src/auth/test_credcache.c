/* Unit tests for the verified-password cache. */
#include <stdio.h>
#include <string.h>

#include "auth/credcache.h"
#include "lib/test.h"

TEST_STATE_DEFINE;

static const char *const stored = "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";

static void test_hit_and_miss(void)
{
	test_begin("credcache: only the verified password of that user and hash hits");
	struct credcache *cc = credcache_new(64, 600);
	test_assert(!credcache_check(cc, "alice", stored, "secret", 6, 100));
	credcache_add(cc, "alice", stored, "secret", 6, 100);
	test_assert(credcache_check(cc, "alice", stored, "secret", 6, 101));
	/* a wrong password, a prefix, another user, another stored hash */
	test_assert(!credcache_check(cc, "alice", stored, "secreT", 6, 101));
	test_assert(!credcache_check(cc, "alice", stored, "secret", 5, 101));
	test_assert(!credcache_check(cc, "bob", stored, "secret", 6, 101));
	test_assert(!credcache_check(cc, "alice", "{PLAIN}secret", "secret", 6, 101));
	/* passwords may hold NUL bytes (SASL): compared by length */
	credcache_add(cc, "carol", stored, "a\0b", 3, 100);
	test_assert(credcache_check(cc, "carol", stored, "a\0b", 3, 100));
	test_assert(!credcache_check(cc, "carol", stored, "a\0c", 3, 100));
	credcache_free(&cc);
	test_assert(cc == NULL);
	test_end();
}

static void test_expiry_and_off(void)
{
	test_begin("credcache: entries expire; size or ttl 0 turns it off");
	struct credcache *cc = credcache_new(64, 10);
	credcache_add(cc, "alice", stored, "pw", 2, 1000);
	test_assert(credcache_check(cc, "alice", stored, "pw", 2, 1009));
	test_assert(!credcache_check(cc, "alice", stored, "pw", 2, 1010));
	credcache_free(&cc);
	struct credcache *off = credcache_new(0, 600);
	credcache_add(off, "alice", stored, "pw", 2, 1);
	test_assert(!credcache_check(off, "alice", stored, "pw", 2, 1));
	credcache_free(&off);
	off = credcache_new(64, 0);
	credcache_add(off, "alice", stored, "pw", 2, 1);
	test_assert(!credcache_check(off, "alice", stored, "pw", 2, 1));
	credcache_free(&off);
	test_assert(!credcache_check(NULL, "alice", stored, "pw", 2, 1));
	test_end();
}

static void test_collisions_bounded(void)
{
	test_begin("credcache: a full table replaces entries, never grows");
	struct credcache *cc = credcache_new(4, 600);
	char user[16];
	for (int i = 0; i < 100; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		credcache_add(cc, user, stored, "pw", 2, 1);
	}
	int hits = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		hits += credcache_check(cc, user, stored, "pw", 2, 2);
	}
	test_assert(hits >= 1 && hits <= 4);
	/* the most recent one is always there */
	test_assert(credcache_check(cc, "u99", stored, "pw", 2, 2));
	credcache_free(&cc);
	test_end();
}

int main(void)
{
	test_hit_and_miss();
	test_expiry_and_off();
	test_collisions_bounded();
	return test_done();
}
