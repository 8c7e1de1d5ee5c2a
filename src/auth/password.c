/* password: Dovecot-compatible "{SCHEME}hash" hashing and verification.
 *
 * One table maps a scheme name to how it is checked: by libargon2 (the
 * ARGON2 family), by libxcrypt's crypt_rn() (the *-CRYPT family and the
 * generic {CRYPT}) or by a plain comparison. The crypt schemes with a
 * fixed algorithm also name the "$id$" prefixes they accept, so that a
 * line labelled {SHA512-CRYPT} but holding some other hash is reported as
 * malformed instead of being verified with whatever the prefix says.
 *
 * Invariants:
 *   - Thread-safe: no static mutable state; every call uses its own
 *     struct crypt_data (32 KiB, so it is heap-allocated, never on a
 *     worker's stack) and error strings are string literals.
 *   - Secrets (the NUL-terminated copy of the password, crypt scratch
 *     state, PLAIN digests) are wiped with explicit_bzero before free.
 *   - Comparisons of secret-derived bytes use CRYPTO_memcmp; argon2_verify
 *     compares in constant time itself. */
#include "auth/password.h"

#include <argon2.h>
#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "lib/xalloc.h"

/* Argon2 cost for new hashes: the OWASP password-storage minimum for
 * Argon2id (m = 19 MiB, t = 2, p = 1). It costs ~20-40 ms and 19 MiB per
 * verification on a current core; the auth pool runs `auth_workers` of
 * them at once, so peak memory is auth_workers * 19 MiB. Raising m is the
 * better lever than t if more resistance is wanted. Existing hashes keep
 * the parameters they were made with (they are encoded in the string). */
#define ARGON2_T_COST      2
#define ARGON2_M_COST_KIB  19456
#define ARGON2_PARALLELISM 1
#define ARGON2_SALT_LEN    16
#define ARGON2_HASH_LEN    32

/* bcrypt cost 10 (2^10 rounds, ~60-80 ms), Dovecot's and PHP's default. */
#define BLF_CRYPT_COST 10

enum password_kind {
	PASSWORD_KIND_ARGON2,
	PASSWORD_KIND_CRYPT,
	PASSWORD_KIND_PLAIN,
};

struct password_scheme {
	const char *name; /* canonical, upper case; also the output prefix */
	enum password_kind kind;
	argon2_type argon2_type;
	/* CRYPT: accepted "$id$" prefixes (NULL-terminated; NULL list = any),
	 * the first one is used to generate new hashes. */
	const char *const *crypt_prefixes;
	unsigned long crypt_cost; /* for crypt_gensalt_rn; 0 = its default */
	bool can_hash;            /* password_hash() may produce it */
};

static const char *const sha512_prefixes[] = {"$6$", NULL};
static const char *const sha256_prefixes[] = {"$5$", NULL};
/* $2y$ is what Dovecot, PHP and htpasswd write, so it is what we generate;
 * $2b$ (OpenBSD's name for the same fixed algorithm) and $2a$ (the
 * original) are accepted so that hashes from other tools keep working. */
static const char *const blf_prefixes[] = {"$2y$", "$2b$", "$2a$", NULL};

/* Only canonical names are generated; CLEAR/CLEARTEXT are Dovecot aliases
 * of PLAIN and {CRYPT} has no single algorithm to generate. */
static const struct password_scheme password_schemes[] = {
    {.name = "ARGON2ID", .kind = PASSWORD_KIND_ARGON2, .argon2_type = Argon2_id, .can_hash = true},
    {.name = "ARGON2I", .kind = PASSWORD_KIND_ARGON2, .argon2_type = Argon2_i, .can_hash = true},
    {.name = "SHA512-CRYPT",
     .kind = PASSWORD_KIND_CRYPT,
     .crypt_prefixes = sha512_prefixes,
     .can_hash = true},
    {.name = "SHA256-CRYPT",
     .kind = PASSWORD_KIND_CRYPT,
     .crypt_prefixes = sha256_prefixes,
     .can_hash = true},
    {.name = "BLF-CRYPT",
     .kind = PASSWORD_KIND_CRYPT,
     .crypt_prefixes = blf_prefixes,
     .crypt_cost = BLF_CRYPT_COST,
     .can_hash = true},
    {.name = "CRYPT", .kind = PASSWORD_KIND_CRYPT},
    {.name = "PLAIN", .kind = PASSWORD_KIND_PLAIN, .can_hash = true},
    {.name = "CLEAR", .kind = PASSWORD_KIND_PLAIN},
    {.name = "CLEARTEXT", .kind = PASSWORD_KIND_PLAIN},
};

#define N_SCHEMES (sizeof(password_schemes) / sizeof(password_schemes[0]))

static const struct password_scheme *password_scheme_find(const char *name, size_t len)
{
	for (size_t i = 0; i < N_SCHEMES; i++) {
		const char *s = password_schemes[i].name;
		if (strlen(s) == len && strncasecmp(s, name, len) == 0)
			return &password_schemes[i];
	}
	return NULL;
}

bool password_scheme_supported(const char *scheme)
{
	const struct password_scheme *s = password_scheme_find(scheme, strlen(scheme));
	return s != NULL && s->can_hash;
}

/* Splits "{SCHEME}rest". No prefix means {CRYPT}, as in Dovecot's
 * passwd-file. Returns the scheme and *rest_r, or NULL with *error_r. */
static const struct password_scheme *password_split(const char *stored, const char **rest_r,
                                                    const char **error_r)
{
	if (stored[0] != '{') {
		*rest_r = stored;
		return password_scheme_find("CRYPT", 5);
	}
	const char *end = strchr(stored, '}');
	if (end == NULL) {
		*error_r = "malformed {SCHEME} prefix";
		return NULL;
	}
	const struct password_scheme *s =
	    password_scheme_find(stored + 1, (size_t)(end - stored - 1));
	if (s == NULL) {
		*error_r = "unknown password scheme";
		return NULL;
	}
	*rest_r = end + 1;
	return s;
}

static bool password_has_prefix(const char *const *prefixes, const char *hash)
{
	if (prefixes == NULL)
		return true;
	for (size_t i = 0; prefixes[i] != NULL; i++) {
		if (strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	}
	return false;
}

/* crypt(3) wants a C string: a NUL-terminated copy the caller wipes. */
static char *password_cstr(const char *password, size_t len)
{
	char *p = xmalloc(len + 1);
	memcpy(p, password, len);
	p[len] = '\0';
	return p;
}

static void password_free_secret(char *p, size_t len)
{
	explicit_bzero(p, len);
	free(p);
}

static int password_verify_crypt(const struct password_scheme *s, const char *hash,
                                 const char *password, size_t len, const char **error_r)
{
	if (!password_has_prefix(s->crypt_prefixes, hash)) {
		*error_r = "hash does not match its scheme";
		return -1;
	}
	/* crypt refuses longer phrases, so no stored hash was made from one */
	if (len >= CRYPT_MAX_PASSPHRASE_SIZE)
		return 0;
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	char *pw = password_cstr(password, len);
	/* crypt_rn returns NULL (not a "*0" failure token) for a setting it
	 * cannot parse or an algorithm it does not support. */
	const char *out = crypt_rn(pw, hash, cd, (int)sizeof(*cd));
	int ret;
	if (out == NULL) {
		*error_r = "malformed or unsupported crypt hash";
		ret = -1;
	} else {
		size_t out_len = strlen(out);
		ret = out_len == strlen(hash) && CRYPTO_memcmp(out, hash, out_len) == 0;
	}
	password_free_secret(pw, len + 1);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ret;
}

static int password_verify_argon2(const struct password_scheme *s, const char *hash,
                                  const char *password, size_t len, const char **error_r)
{
	int rc = argon2_verify(hash, password, len, s->argon2_type);
	if (rc == ARGON2_OK)
		return 1;
	if (rc == ARGON2_VERIFY_MISMATCH)
		return 0;
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) {
		*error_r = "out of memory verifying argon2 hash";
		return -1;
	}
	*error_r = "malformed argon2 hash";
	return -1;
}

/* Compares SHA-256 digests rather than the strings so that neither the
 * stored password's length nor the position of the first difference
 * shows in the timing. */
static int password_verify_plain(const char *stored, const char *password, size_t len,
                                 const char **error_r)
{
	unsigned char a[32], b[32];
	if (EVP_Digest(stored, strlen(stored), a, NULL, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(password, len, b, NULL, EVP_sha256(), NULL) != 1) {
		*error_r = "SHA-256 failed";
		return -1;
	}
	int ret = CRYPTO_memcmp(a, b, sizeof(a)) == 0;
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	return ret;
}

int password_verify(const char *stored, const char *password, size_t len, const char **error_r)
{
	const char *hash;
	const struct password_scheme *s = password_split(stored, &hash, error_r);
	if (s == NULL)
		return -1;
	if (hash[0] == '\0') {
		*error_r = "no password set";
		return -1;
	}
	/* A stored password cannot contain NUL (the file is text and crypt
	 * stops at NUL), so such input can only be a mismatch. Checking here
	 * keeps crypt from silently verifying a truncated prefix. */
	if (memchr(password, '\0', len) != NULL)
		return 0;
	switch (s->kind) {
	case PASSWORD_KIND_ARGON2:
		return password_verify_argon2(s, hash, password, len, error_r);
	case PASSWORD_KIND_CRYPT:
		return password_verify_crypt(s, hash, password, len, error_r);
	case PASSWORD_KIND_PLAIN:
		return password_verify_plain(hash, password, len, error_r);
	}
	*error_r = "unknown password scheme";
	return -1;
}

/* "{NAME}" + body in one malloc'd string. */
static char *password_format(const struct password_scheme *s, const char *body, size_t body_len)
{
	size_t name_len = strlen(s->name);
	char *out = xmalloc(name_len + body_len + 3);
	out[0] = '{';
	memcpy(out + 1, s->name, name_len);
	out[name_len + 1] = '}';
	memcpy(out + name_len + 2, body, body_len);
	out[name_len + 2 + body_len] = '\0';
	return out;
}

static int password_random(void *dst, size_t len)
{
	unsigned char *p = dst;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static char *password_hash_argon2(const struct password_scheme *s, const char *password, size_t len,
                                  const char **error_r)
{
	unsigned char salt[ARGON2_SALT_LEN];
	if (password_random(salt, sizeof(salt)) < 0) {
		*error_r = "getrandom failed";
		return NULL;
	}
	size_t enc_len = argon2_encodedlen(ARGON2_T_COST, ARGON2_M_COST_KIB, ARGON2_PARALLELISM,
	                                   ARGON2_SALT_LEN, ARGON2_HASH_LEN, s->argon2_type);
	char *enc = xmalloc(enc_len);
	int rc = argon2_hash(ARGON2_T_COST, ARGON2_M_COST_KIB, ARGON2_PARALLELISM, password, len,
	                     salt, sizeof(salt), NULL, ARGON2_HASH_LEN, enc, enc_len,
	                     s->argon2_type, ARGON2_VERSION_NUMBER);
	char *out = NULL;
	if (rc == ARGON2_OK)
		out = password_format(s, enc, strlen(enc));
	else
		*error_r = "argon2 hashing failed";
	free(enc);
	return out;
}

static char *password_hash_crypt(const struct password_scheme *s, const char *password, size_t len,
                                 const char **error_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	if (len >= CRYPT_MAX_PASSPHRASE_SIZE) {
		*error_r = "password too long for a crypt scheme (at most 511 bytes)";
		return NULL;
	}
	/* NULL rbytes: libxcrypt draws the salt from the OS's CSPRNG. */
	if (crypt_gensalt_rn(s->crypt_prefixes[0], s->crypt_cost, NULL, 0, setting,
	                     (int)sizeof(setting)) == NULL) {
		*error_r = "crypt_gensalt failed";
		return NULL;
	}
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	char *pw = password_cstr(password, len);
	const char *h = crypt_rn(pw, setting, cd, (int)sizeof(*cd));
	char *out = NULL;
	if (h != NULL)
		out = password_format(s, h, strlen(h));
	else
		*error_r = "crypt failed";
	password_free_secret(pw, len + 1);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return out;
}

char *password_hash(const char *scheme, const char *password, size_t len, const char **error_r)
{
	const struct password_scheme *s = password_scheme_find(scheme, strlen(scheme));
	if (s == NULL || !s->can_hash) {
		*error_r = "unsupported password scheme";
		return NULL;
	}
	if (memchr(password, '\0', len) != NULL) {
		*error_r = "password contains a NUL byte";
		return NULL;
	}
	switch (s->kind) {
	case PASSWORD_KIND_ARGON2:
		return password_hash_argon2(s, password, len, error_r);
	case PASSWORD_KIND_CRYPT:
		return password_hash_crypt(s, password, len, error_r);
	case PASSWORD_KIND_PLAIN:
		return password_format(s, password, len);
	}
	*error_r = "unsupported password scheme";
	return NULL;
}
