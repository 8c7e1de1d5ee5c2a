/* Tests for import_dovecot.c: dovecot-uidlist (versions 3 and 1, stale and
 * malformed lines, lookup by base name), dovecot-keywords, the Maildir info
 * suffix (and store_maildir_info_parse, the store's parser of it that
 * import_dovecot_info shares), subscriptions (version 2 with tab-escaped
 * levels, version 1) and folder directory names. Inputs are copies of what
 * Dovecot 2.3 writes. */
#include "cli/import_dovecot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/test.h"
#include "store/store.h"

TEST_STATE_DEFINE;

static void test_uidlist_v3(void)
{
	test_begin("uidlist v3");
	static const char f[] = "3 V1795447495 N7 G19be2702c55a046b3051000083ecc375\n"
	                        "1 :1795447493.M42920P20784.vm,S=15,W=18\n"
	                        "2 W1234 S1200 :1795447493.M45910P20784.vm,S=15,W=18\n"
	                        "5 G0123 :1795447499.M1P2.vm:2,S\n"
	                        "garbage line\n"
	                        "6\n"
	                        "4 1795447499.M2P2.vm\n";
	struct import_dovecot_uidlist l;
	const char *err = NULL;
	test_assert(import_dovecot_uidlist_parse(f, strlen(f), &l, &err) == 0);
	test_assert(l.uidvalidity == 1795447495u);
	test_assert(l.nextuid == 7);
	test_assert(l.n == 3);
	test_assert(import_dovecot_uidlist_find(&l, "1795447493.M42920P20784.vm,S=15,W=18") == 1);
	test_assert(import_dovecot_uidlist_find(&l, "1795447493.M45910P20784.vm,S=15,W=18:2,Fc") ==
	            2);
	test_assert(import_dovecot_uidlist_find(&l, "1795447499.M1P2.vm:2,") == 5);
	test_assert(import_dovecot_uidlist_find(&l, "1795447499.M1P2.v") == 0);
	test_assert(import_dovecot_uidlist_find(&l, "1795447499.M1P2.vmx") == 0);
	test_assert(import_dovecot_uidlist_find(&l, "1795447499.M2P2.vm") == 0);
	import_dovecot_uidlist_free(&l);
	test_end();
}

static void test_uidlist_other(void)
{
	test_begin("uidlist v1, nextuid, errors");
	static const char v1[] = "1 1234567 3\n1 a.host\n9 b.host:2,S\n";
	struct import_dovecot_uidlist l;
	const char *err = NULL;
	test_assert(import_dovecot_uidlist_parse(v1, strlen(v1), &l, &err) == 0);
	test_assert(l.uidvalidity == 1234567);
	/* Raised above the largest listed UID. */
	test_assert(l.nextuid == 10);
	test_assert(import_dovecot_uidlist_find(&l, "b.host:2,RS") == 9);
	test_assert(import_dovecot_uidlist_find(&l, "a.host") == 1);
	import_dovecot_uidlist_free(&l);
	static const char empty[] = "3 V42 N1 G00\n";
	test_assert(import_dovecot_uidlist_parse(empty, strlen(empty), &l, &err) == 0);
	test_assert(l.uidvalidity == 42 && l.nextuid == 1 && l.n == 0);
	test_assert(import_dovecot_uidlist_find(&l, "x") == 0);
	import_dovecot_uidlist_free(&l);
	static const char v2[] = "2 V1 N1\n";
	test_assert(import_dovecot_uidlist_parse(v2, strlen(v2), &l, &err) < 0);
	test_assert(import_dovecot_uidlist_parse("", 0, &l, &err) < 0);
	import_dovecot_uidlist_free(&l);
	/* No trailing newline; a UID too large is skipped. */
	static const char tail[] = "3 V7 N2\n99999999999 :big\n1 :x";
	test_assert(import_dovecot_uidlist_parse(tail, strlen(tail), &l, &err) == 0);
	test_assert(l.n == 1 && import_dovecot_uidlist_find(&l, "x:2,") == 1);
	import_dovecot_uidlist_free(&l);
	test_end();
}

static void test_keywords_info(void)
{
	test_begin("keywords and info flags");
	static const char f[] = "0 $Label1\n1 foo\n2 bar\n30 toolarge\nx nonum\n4 bad(atom\n"
	                        "25 last\n1 foo2\n";
	char *kw[IMPORT_DOVECOT_KEYWORDS];
	import_dovecot_keywords_parse(f, strlen(f), kw);
	test_assert_str(kw[0], "$Label1");
	test_assert_str(kw[1], "foo2");
	test_assert_str(kw[2], "bar");
	test_assert(kw[3] == NULL && kw[4] == NULL);
	test_assert_str(kw[25], "last");
	struct buf b = {0};
	uint32_t fl = import_dovecot_info("1.M2.h,S=5,W=6:2,DFRSTacdz", kw, &b);
	test_assert(fl == (STORE_FLAG_DRAFT | STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED |
	                   STORE_FLAG_SEEN | STORE_FLAG_DELETED));
	test_assert_str(buf_rdata(&b), "$Label1 bar last");
	buf_release(&b);
	test_assert(import_dovecot_info("1.M2.h", kw, &b) == 0 && buf_rlen(&b) == 0);
	test_assert(import_dovecot_info("1.M2.h:2,", kw, &b) == 0 && buf_rlen(&b) == 0);
	test_assert(import_dovecot_info("1.M2.h:2,Sb", kw, &b) == STORE_FLAG_SEEN);
	test_assert_str(buf_rdata(&b), "foo2");
	buf_release(&b);
	import_dovecot_keywords_free(kw);
	test_assert(kw[0] == NULL);
	test_end();
}

/* Records the keyword letters store_maildir_info_parse reports. */
static void test_info_letter(void *ctx, unsigned index)
{
	struct buf *b = ctx;
	char c = (char)('a' + index);
	test_assert(index < IMPORT_DOVECOT_KEYWORDS);
	buf_append(b, &c, 1);
}

/* The store's parser shared by the backend and import_dovecot_info. */
static void test_info_parse(void)
{
	test_begin("store_maildir_info_parse");
	struct buf b = {0};
	uint32_t all = STORE_FLAG_DRAFT | STORE_FLAG_FLAGGED | STORE_FLAG_ANSWERED |
	               STORE_FLAG_SEEN | STORE_FLAG_DELETED;
	test_assert(store_maildir_info_parse("1.M2.h,S=5,U=7:2,DFRST", NULL, NULL) == all);
	test_assert(store_maildir_info_parse("1.M2.h:2,TzSaP!", test_info_letter, &b) ==
	            (STORE_FLAG_DELETED | STORE_FLAG_SEEN));
	test_assert(buf_rlen(&b) == 2 && memcmp(buf_rdata(&b), "za", 2) == 0);
	buf_release(&b);
	/* No info, an empty one, the "1," kind and letters before ":2,". */
	test_assert(store_maildir_info_parse("1.M2.h", test_info_letter, &b) == 0);
	test_assert(store_maildir_info_parse("1.M2.h:2,", test_info_letter, &b) == 0);
	test_assert(store_maildir_info_parse("1.M2.h:1,S", test_info_letter, &b) == 0);
	test_assert(store_maildir_info_parse("S.abc:2,", test_info_letter, &b) == 0);
	test_assert(buf_rlen(&b) == 0);
	test_assert(store_maildir_info_parse("1.M2.h:2,ab", NULL, NULL) == 0);
	buf_release(&b);
	test_end();
}

static void test_subscriptions(void)
{
	test_begin("subscriptions");
	static const char v2[] = "V\t2\n\na\tb\n&ANw-ber\nINBOX\n\nx\001ty\tz\001n\n";
	char **v;
	size_t n;
	import_dovecot_subscriptions_parse(v2, sizeof(v2) - 1, &v, &n);
	test_assert(n == 4);
	if (n == 4) {
		test_assert_str(v[0], "a/b");
		test_assert_str(v[1], "&ANw-ber");
		test_assert_str(v[2], "INBOX");
		test_assert_str(v[3], "x\ty/z\n");
	}
	import_dovecot_names_free(v, n);
	static const char v1[] = "INBOX\nSent\nlists.roost";
	import_dovecot_subscriptions_parse(v1, sizeof(v1) - 1, &v, &n);
	test_assert(n == 3);
	if (n == 3)
		test_assert_str(v[2], "lists/roost");
	import_dovecot_names_free(v, n);
	import_dovecot_subscriptions_parse("", 0, &v, &n);
	test_assert(n == 0 && v == NULL);
	test_end();
}

static void test_dir_name(void)
{
	test_begin("folder directory names");
	char *s = import_dovecot_dir_name(".a.b");
	test_assert_str(s, "a/b");
	free(s);
	s = import_dovecot_dir_name(".Sent");
	test_assert_str(s, "Sent");
	free(s);
	test_assert(import_dovecot_dir_name(".") == NULL);
	test_assert(import_dovecot_dir_name("..") == NULL);
	test_assert(import_dovecot_dir_name("..a") == NULL);
	test_assert(import_dovecot_dir_name(".a.") == NULL);
	test_assert(import_dovecot_dir_name(".a..b") == NULL);
	test_assert(import_dovecot_dir_name("cur") == NULL);
	test_end();
}

int main(void)
{
	test_uidlist_v3();
	test_uidlist_other();
	test_keywords_info();
	test_info_parse();
	test_subscriptions();
	test_dir_name();
	return test_done();
}
