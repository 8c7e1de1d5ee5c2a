/* Tests for password.c: round trips for every scheme we generate, fixed
 * vectors made by independent tools, and malformed stored values.
 *
 * Vectors were produced with:
 *   openssl passwd -6 -salt saltsaltsalt 'correct horse'
 *   openssl passwd -5 -salt abcdefgh 'pässwörd'            (UTF-8)
 *   openssl passwd -1 -salt xyz12345 secret                 (MD5, via {CRYPT})
 *   python3 crypt.crypt('secret', '$6$rounds=10000$somesalt')
 *   htpasswd -bnBC 5 u 'battery staple'                     (apache2-utils)
 *   echo -n hunter2 | argon2 somesaltvalue -id -t 2 -m 10 -p 1 -l 32 -e
 *   echo -n hunter2 | argon2 othersaltvalue -i -t 3 -m 12 -p 2 -l 32 -e */
#include "auth/password.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"

TEST_STATE_DEFINE;

#define V_SHA512                                                                                   \
	"$6$saltsaltsalt$Cy2drr8kDRji6smvDcT28wkqtq0R0VzVL5CkrjPQCITc5d/"                          \
	"31j94knt9rGTcVSyjLXfjsiIsBh5ee8qR/3QDx1"
#define V_SHA512_ROUNDS                                                                            \
	"$6$rounds=10000$somesalt$AEDs0HhpiWC3RvRmT2scuHU."                                        \
	"RHWXFjUeLcbf7h4l9QwulX3MFDVZV2Mp7QFX2BcYdG.n9zc30tP.hKBrDqWDW/"
#define V_SHA256 "$5$abcdefgh$vl6a2mAodUYEe3Mhai26AyjORet86eVRC5bBAu6c/n9"
#define V_MD5    "$1$xyz12345$3DEfNimzF.GydnupkqKuU1"
#define V_BLF    "$2y$05$U9c/8QtDXGuZdQdORLvBlunloejqTHgcD0tnNl69j1GD9nqOU81oK"
#define V_ARGON2ID                                                                                 \
	"$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHR2YWx1ZQ$4U86pp9oZWtJWCdVJ9R47AhTwoJu3g/"         \
	"kdFQsn1BC9QA"
#define V_ARGON2I                                                                                  \
	"$argon2i$v=19$m=4096,t=3,p=2$b3RoZXJzYWx0dmFsdWU$h/"                                      \
	"D6tQFDMvPT49QLqBIkg9pJ5pYUczHfSw9x2uIrP0Y"
#define PW_UTF8 "p\xc3\xa4ssw\xc3\xb6rd"

static int verify(const char *stored, const char *pw)
{
	const char *error = NULL;
	int ret = password_verify(stored, pw, strlen(pw), &error);
	if (ret < 0 && error == NULL)
		return -2; /* -1 must always come with a reason */
	return ret;
}

static void test_round_trip(const char *scheme, const char *prefix)
{
	const char *pw = "Tr0ub4dor&3 \xe2\x9c\x93";
	const char *error = NULL;
	char *h = password_hash(scheme, pw, strlen(pw), &error);
	test_assert(h != NULL);
	if (h == NULL)
		return;
	test_assert(strncmp(h, prefix, strlen(prefix)) == 0);
	test_assert(verify(h, pw) == 1);
	test_assert(verify(h, "Tr0ub4dor&3") == 0);
	test_assert(verify(h, "") == 0);
	/* fresh salt every time */
	char *h2 = password_hash(scheme, pw, strlen(pw), &error);
	test_assert(h2 != NULL && (strcmp(h, h2) != 0 || strncmp(h, "{PLAIN}", 7) == 0));
	free(h2);
	free(h);
}

static void test_round_trips(void)
{
	test_begin("password: hash/verify round trip per scheme");
	test_round_trip("ARGON2ID", "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$");
	test_round_trip("argon2i", "{ARGON2I}$argon2i$v=19$m=19456,t=2,p=1$");
	test_round_trip("SHA512-CRYPT", "{SHA512-CRYPT}$6$");
	test_round_trip("SHA256-CRYPT", "{SHA256-CRYPT}$5$");
	test_round_trip("BLF-CRYPT", "{BLF-CRYPT}$2y$10$");
	test_round_trip("Plain", "{PLAIN}Tr0ub4dor&3 ");
	test_end();
}

static void test_vectors(void)
{
	test_begin("password: fixed vectors from other tools");
	test_assert(verify("{SHA512-CRYPT}" V_SHA512, "correct horse") == 1);
	test_assert(verify("{SHA512-CRYPT}" V_SHA512, "correct horsf") == 0);
	test_assert(verify("{sha512-crypt}" V_SHA512_ROUNDS, "secret") == 1);
	test_assert(verify("{SHA256-CRYPT}" V_SHA256, PW_UTF8) == 1);
	test_assert(verify("{SHA256-CRYPT}" V_SHA256, "passwrd") == 0);
	test_assert(verify("{BLF-CRYPT}" V_BLF, "battery staple") == 1);
	test_assert(verify("{BLF-CRYPT}" V_BLF, "battery stapl") == 0);
	test_assert(verify("{ARGON2ID}" V_ARGON2ID, "hunter2") == 1);
	test_assert(verify("{ARGON2ID}" V_ARGON2ID, "hunter3") == 0);
	test_assert(verify("{ARGON2I}" V_ARGON2I, "hunter2") == 1);
	test_assert(verify("{ARGON2I}" V_ARGON2I, "Hunter2") == 0);
	test_end();
}

static void test_blf_variants(void)
{
	/* $2b$ and $2a$ compute the same hash as $2y$ for ASCII passwords;
	 * index 13 is the 'y' after "{BLF-CRYPT}$2". */
	char sb[] = "{BLF-CRYPT}" V_BLF, sa[] = "{BLF-CRYPT}" V_BLF;
	sb[13] = 'b';
	sa[13] = 'a';

	test_begin("password: BLF-CRYPT accepts $2y$ $2b$ $2a$");
	test_assert(verify(sb, "battery staple") == 1);
	test_assert(verify(sa, "battery staple") == 1);
	test_assert(verify(sa, "battery") == 0);
	test_end();
}

static void test_crypt_and_plain(void)
{
	test_begin("password: {CRYPT} and no prefix");
	test_assert(verify("{CRYPT}" V_MD5, "secret") == 1);
	test_assert(verify(V_MD5, "secret") == 1);
	test_assert(verify(V_MD5, "Secret") == 0);
	test_assert(verify(V_SHA512, "correct horse") == 1);
	test_assert(verify("{crypt}" V_BLF, "battery staple") == 1);
	test_end();

	test_begin("password: PLAIN, CLEAR, CLEARTEXT");
	test_assert(verify("{PLAIN}s3cret:x", "s3cret:x") == 1);
	test_assert(verify("{PLAIN}s3cret", "s3cre") == 0);
	test_assert(verify("{PLAIN}s3cret", "s3crett") == 0);
	test_assert(verify("{CLEAR}s3cret", "s3cret") == 1);
	test_assert(verify("{cleartext}s3cret", "s3cret") == 1);
	test_assert(verify("{CLEARTEXT}s3cret", "S3cret") == 0);
	test_end();

	test_begin("password: NUL in the password never matches");
	const char *error = NULL;
	test_assert(password_verify("{PLAIN}ab", "ab\0c", 4, &error) == 0);
	test_assert(password_verify("{SHA512-CRYPT}" V_SHA512, "correct horse\0x", 15, &error) ==
	            0);
	test_assert(password_hash("PLAIN", "a\0b", 3, &error) == NULL);
	test_end();
}

static void test_long_passwords(void)
{
	char pw[1025];
	const char *error = NULL;
	memset(pw, 'x', sizeof(pw) - 1);
	pw[sizeof(pw) - 1] = '\0';

	test_begin("password: lengths crypt(3) cannot take");
	char *h = password_hash("SHA512-CRYPT", pw, 511, &error);
	test_assert(h != NULL && password_verify(h, pw, 511, &error) == 1);
	test_assert(h != NULL && password_verify(h, pw, 512, &error) == 0);
	free(h);
	test_assert(password_hash("SHA512-CRYPT", pw, 512, &error) == NULL);
	test_assert(password_verify("{SHA512-CRYPT}" V_SHA512, pw, 1024, &error) == 0);
	h = password_hash("ARGON2ID", pw, 1024, &error);
	test_assert(h != NULL && password_verify(h, pw, 1024, &error) == 1);
	test_assert(h != NULL && password_verify(h, pw, 1023, &error) == 0);
	free(h);
	test_end();
}

static void test_malformed(void)
{
	test_begin("password: malformed stored values are -1");
	test_assert(verify("{NOSUCH}abc", "abc") == -1);
	test_assert(verify("{SHA512-CRYPTabc", "abc") == -1);
	test_assert(verify("{}abc", "abc") == -1);
	test_assert(verify("{PLAIN}", "") == -1);
	test_assert(verify("", "") == -1);
	test_assert(verify("*", "x") == -1);
	test_assert(verify("!" V_SHA512, "correct horse") == -1);
	/* labelled with one scheme, holding another */
	test_assert(verify("{SHA512-CRYPT}" V_SHA256, PW_UTF8) == -1);
	test_assert(verify("{SHA256-CRYPT}" V_SHA512, "correct horse") == -1);
	test_assert(verify("{BLF-CRYPT}" V_MD5, "secret") == -1);
	test_assert(verify("{ARGON2ID}" V_ARGON2I, "hunter2") == -1);
	test_assert(verify("{ARGON2I}" V_ARGON2ID, "hunter2") == -1);
	test_assert(verify("{ARGON2ID}$argon2id$v=19$m=1024,t=2,p=1$c29tZQ", "x") == -1);
	test_assert(verify("{ARGON2ID}garbage", "x") == -1);
	/* crypt accepts a bare setting as a hash; it can never match */
	test_assert(verify("{SHA512-CRYPT}$6$", "x") == 0);
	test_assert(verify("{BLF-CRYPT}$2y$99$U9c/8QtDXGuZdQdORLvBlu", "x") == -1);
	test_assert(verify("{BLF-CRYPT}$2y$05$short", "x") == -1);
	test_end();
}

static void test_unknown_scheme(void)
{
	const char *error = NULL;
	test_begin("password: unsupported schemes for hashing");
	test_assert(password_hash("MD5", "x", 1, &error) == NULL && error != NULL);
	test_assert(password_hash("CRYPT", "x", 1, &error) == NULL);
	test_assert(password_hash("", "x", 1, &error) == NULL);
	test_assert(!password_scheme_supported("CLEARTEXT"));
	test_assert(!password_scheme_supported("{ARGON2ID}"));
	test_assert(password_scheme_supported("argon2id"));
	test_assert(password_scheme_supported("SHA512-CRYPT"));
	test_assert(password_scheme_supported("BLF-CRYPT"));
	test_assert(password_scheme_supported("PLAIN"));
	test_end();
}

/* Each thread checks every vector a few times, matching and not; with
 * shared scratch state (crypt(3) without _rn, a static buffer) results
 * would mix up or the sanitizers would complain. */
static void *verify_thread(void *arg)
{
	static const char *const stored[] = {"{SHA512-CRYPT}" V_SHA512,
	                                     "{SHA256-CRYPT}" V_SHA256,
	                                     "{BLF-CRYPT}" V_BLF,
	                                     "{ARGON2ID}" V_ARGON2ID,
	                                     V_MD5,
	                                     "{PLAIN}plain"};
	static const char *const good[] = {"correct horse", PW_UTF8,  "battery staple",
	                                   "hunter2",       "secret", "plain"};
	long bad = 0;
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++) {
			bad += verify(stored[i], good[i]) != 1;
			bad += verify(stored[i], "wrong") != 0;
		}
	}
	(void)arg;
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t t[4];
	long bad = 0;
	test_begin("password: concurrent verification");
	for (int i = 0; i < 4; i++)
		test_assert(pthread_create(&t[i], NULL, verify_thread, NULL) == 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	test_assert(bad == 0);
	test_end();
}

int main(void)
{
	test_round_trips();
	test_vectors();
	test_blf_variants();
	test_crypt_and_plain();
	test_long_passwords();
	test_malformed();
	test_unknown_scheme();
	test_threads();
	return test_done();
}
