/* Tests for sasl.c: the strict base64 decoder against a table of valid and
 * invalid inputs (RFC 4648 §10 vectors, padding, pad bits, bad
 * characters, whitespace), encode/decode round trips, and PLAIN messages
 * with and without authzid, missing NULs, empty and overlong fields. */
#include "auth/sasl.h"

#include <stdlib.h>
#include <string.h>

#include "lib/test.h"

TEST_STATE_DEFINE;

struct b64_case {
	const char *in;
	size_t in_len;
	const char *out; /* NULL: must be rejected */
	size_t out_len;
};

#define OK(in, out)                                                                                \
	{                                                                                          \
		in, sizeof(in) - 1, out, sizeof(out) - 1                                           \
	}
#define BAD(in)                                                                                    \
	{                                                                                          \
		in, sizeof(in) - 1, NULL, 0                                                        \
	}

static const struct b64_case b64_cases[] = {
    OK("", ""),
    /* RFC 4648 §10 */
    OK("Zg==", "f"),
    OK("Zm8=", "fo"),
    OK("Zm9v", "foo"),
    OK("Zm9vYg==", "foob"),
    OK("Zm9vYmE=", "fooba"),
    OK("Zm9vYmFy", "foobar"),
    OK("AGFsaWNlAHB3", "\0alice\0pw"),
    OK("+/+/", "\xfb\xff\xbf"),
    OK("AAAA", "\0\0\0"),
    /* length not a multiple of 4: padding is mandatory */
    BAD("Z"),
    BAD("Zg"),
    BAD("Zg="),
    BAD("Zm9vY"),
    /* misplaced padding */
    BAD("Z==="),
    BAD("===="),
    BAD("=Zg="),
    BAD("Zg=A"),
    BAD("Zg==Zg=="),
    BAD("Zm9v===="),
    /* non-zero pad bits */
    BAD("Zh=="),
    BAD("Zm9="),
    BAD("QR=="),
    /* characters outside the alphabet, whitespace, URL-safe alphabet */
    BAD(" Zg="),
    BAD("Zg= "),
    BAD("Zm9v\r\n"),
    BAD("Zm\r\n9v"),
    BAD("Zm 9v"),
    BAD("Zm\t9v"),
    BAD("-_-_"),
    BAD("Zm9*"),
    BAD("Zm9\0"),
    BAD("Zm\x80v"),
};

static void test_b64_table(void)
{
	struct arena a;
	arena_init(&a, 0);
	test_begin("sasl: base64 decode table");
	for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		const struct b64_case *c = &b64_cases[i];
		char *out = NULL;
		size_t out_len = 0;
		int ret = sasl_base64_decode(c->in, c->in_len, &a, &out, &out_len);
		if (c->out == NULL) {
			test_assert(ret == -1);
			if (ret != -1)
				fprintf(stderr, "  case %zu accepted\n", i);
			continue;
		}
		test_assert(ret == 0 && out_len == c->out_len &&
		            memcmp(out, c->out, out_len) == 0 && out[out_len] == '\0');
		if (ret != 0)
			fprintf(stderr, "  case %zu rejected\n", i);
	}
	test_end();
	arena_release(&a);
}

static void test_b64_pad_bits(void)
{
	/* Of the 64 digits after "Q", only those with zero low 4 bits
	 * (A, Q, g, w) may precede "==". */
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct arena a;
	arena_init(&a, 0);
	int accepted = 0;
	char in[5] = "Q?==";
	char *out;
	size_t out_len;
	test_begin("sasl: base64 pad bits, exhaustively for one digit");
	for (int i = 0; i < 64; i++) {
		in[1] = alphabet[i];
		accepted += sasl_base64_decode(in, 4, &a, &out, &out_len) == 0;
	}
	test_assert(accepted == 4);
	in[1] = 'w';
	test_assert(sasl_base64_decode(in, 4, &a, &out, &out_len) == 0);
	test_assert(out_len == 1 && (unsigned char)out[0] == 0x43);
	test_end();
	arena_release(&a);
}

static void test_b64_round_trip(void)
{
	struct arena a;
	arena_init(&a, 0);
	unsigned char in[300];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 167 + 13);
	int bad = 0;
	test_begin("sasl: base64 encode/decode round trip, lengths 0..300");
	for (size_t len = 0; len <= sizeof(in); len++) {
		char *enc = sasl_base64_encode(in, len, &a);
		char *dec;
		size_t dec_len;
		bad += strlen(enc) != (len + 2) / 3 * 4;
		bad += sasl_base64_decode(enc, strlen(enc), &a, &dec, &dec_len) != 0 ||
		       dec_len != len || memcmp(dec, in, len) != 0;
		arena_reset(&a);
	}
	test_assert(bad == 0);
	test_assert_str(sasl_base64_encode("foobar", 6, &a), "Zm9vYmFy");
	test_assert_str(sasl_base64_encode("fooba", 5, &a), "Zm9vYmE=");
	test_assert_str(sasl_base64_encode("foob", 4, &a), "Zm9vYg==");
	test_assert_str(sasl_base64_encode("", 0, &a), "");
	test_end();
	arena_release(&a);
}

static int plain(struct arena *a, const char *msg, size_t len, const char **zid, const char **cid,
                 const char **pw, size_t *pw_len, const char **error)
{
	*error = NULL;
	int ret = sasl_plain_parse(msg, len, a, zid, cid, pw, pw_len, error);
	return ret < 0 && *error == NULL ? -2 : ret;
}

#define PLAIN(msg) plain(&a, msg, sizeof(msg) - 1, &zid, &cid, &pw, &pw_len, &error)

static void test_plain_ok(void)
{
	struct arena a;
	arena_init(&a, 0);
	const char *zid, *cid, *pw, *error;
	size_t pw_len;

	test_begin("sasl: PLAIN without authzid");
	test_assert(PLAIN("\0alice\0s3cret pw") == 0);
	test_assert_str(zid, "");
	test_assert_str(cid, "alice");
	test_assert_str(pw, "s3cret pw");
	test_assert(pw_len == 9);
	test_end();

	test_begin("sasl: PLAIN with authzid, UTF-8");
	test_assert(PLAIN("admin\0alice@example.org\0p\xc3\xa4ss") == 0);
	test_assert_str(zid, "admin");
	test_assert_str(cid, "alice@example.org");
	test_assert_str(pw, "p\xc3\xa4ss");
	test_assert(pw_len == 5);
	test_end();
	arena_release(&a);
}

static void test_plain_bad(void)
{
	struct arena a;
	arena_init(&a, 0);
	const char *zid, *cid, *pw, *error;
	size_t pw_len;

	test_begin("sasl: PLAIN malformed messages");
	test_assert(PLAIN("") == -1);
	test_assert(PLAIN("alice") == -1);
	test_assert(PLAIN("alice\0pw") == -1);
	test_assert(PLAIN("\0alice") == -1);
	test_assert(PLAIN("\0\0pw") == -1 && strstr(error, "identity") != NULL);
	test_assert(PLAIN("\0alice\0") == -1 && strstr(error, "password") != NULL);
	test_assert(PLAIN("\0\0") == -1);
	test_assert(PLAIN("\0alice\0p\0w") == -1 && strstr(error, "NUL") != NULL);
	test_assert(PLAIN("\0alice\0pw\0") == -1);
	test_assert(PLAIN("a\0b\0c\0d") == -1);
	test_end();
	arena_release(&a);
}

/* zid_len/cid_len/pw_len bytes of 'z', 'c', 'p' with the two NULs. */
static int plain_sized(struct arena *a, size_t zl, size_t cl, size_t pl, const char **error)
{
	char *msg = malloc(zl + cl + pl + 2);
	memset(msg, 'z', zl);
	msg[zl] = '\0';
	memset(msg + zl + 1, 'c', cl);
	msg[zl + 1 + cl] = '\0';
	memset(msg + zl + cl + 2, 'p', pl);
	const char *zid, *cid, *pw;
	size_t pw_len;
	int ret = plain(a, msg, zl + cl + pl + 2, &zid, &cid, &pw, &pw_len, error);
	if (ret == 0 && (strlen(zid) != zl || strlen(cid) != cl || pw_len != pl))
		ret = -3;
	free(msg);
	return ret;
}

static void test_plain_limits(void)
{
	struct arena a;
	arena_init(&a, 0);
	const char *error;
	test_begin("sasl: PLAIN field length limits");
	test_assert(plain_sized(&a, 255, 255, 1024, &error) == 0);
	test_assert(plain_sized(&a, 256, 5, 5, &error) == -1 && strstr(error, "too long"));
	test_assert(plain_sized(&a, 0, 256, 5, &error) == -1 && strstr(error, "too long"));
	test_assert(plain_sized(&a, 0, 5, 1025, &error) == -1 && strstr(error, "password"));
	test_assert(plain_sized(&a, 0, 1, 1, &error) == 0);
	test_end();
	arena_release(&a);
}

int main(void)
{
	test_b64_table();
	test_b64_pad_bits();
	test_b64_round_trip();
	test_plain_ok();
	test_plain_bad();
	test_plain_limits();
	return test_done();
}
