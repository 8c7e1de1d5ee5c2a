/* test_htab: the intrusive hash table. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/htab.h"
#include "lib/test.h"

TEST_STATE_DEFINE;

struct item {
	char key[16];
	int value;
	struct htab_node by_key;
};

static struct item *find(const struct htab *t, const char *key)
{
	for (struct htab_node *n = htab_first(t, htab_hash_str(key)); n != NULL; n = htab_next(n)) {
		struct item *it = htab_entry(n, struct item, by_key);
		if (strcmp(it->key, key) == 0)
			return it;
	}
	return NULL;
}

static size_t cleared;

static void count_cleared(struct htab_node *n)
{
	(void)n;
	cleared++;
}

static void test_insert_find_remove(void)
{
	test_begin("htab: insert, find across growth, remove");
	static struct item items[5000];
	struct htab t = {0};
	test_assert(find(&t, "nothing") == NULL);
	for (int i = 0; i < 5000; i++) {
		snprintf(items[i].key, sizeof(items[i].key), "user%d", i);
		items[i].value = i;
		htab_insert(&t, &items[i].by_key, htab_hash_str(items[i].key));
	}
	test_assert(t.count == 5000 && t.n_slots >= 5000);
	bool all = true;
	for (int i = 0; i < 5000; i++) {
		struct item *it = find(&t, items[i].key);
		all = all && it == &items[i];
	}
	test_assert(all);
	for (int i = 0; i < 5000; i += 2)
		htab_remove(&t, &items[i].by_key);
	test_assert(t.count == 2500);
	test_assert(find(&t, "user0") == NULL && find(&t, "user1") == &items[1]);
	test_assert(find(&t, "user4998") == NULL && find(&t, "user4999") == &items[4999]);
	htab_clear(&t, count_cleared);
	test_assert(cleared == 2500 && t.count == 0 && t.n_slots == 0);
	test_assert(find(&t, "user1") == NULL);
	test_end();
}

static void test_same_hash(void)
{
	test_begin("htab: entries of one hash are walked in turn");
	struct item a = {.key = "a"}, b = {.key = "b"}, c = {.key = "c"};
	struct htab t = {0};
	htab_insert(&t, &a.by_key, 42);
	htab_insert(&t, &b.by_key, 42);
	htab_insert(&t, &c.by_key, 43);
	int n = 0;
	for (struct htab_node *p = htab_first(&t, 42); p != NULL; p = htab_next(p))
		n++;
	test_assert(n == 2);
	htab_remove(&t, &a.by_key);
	struct htab_node *p = htab_first(&t, 42);
	test_assert(p == &b.by_key && htab_next(p) == NULL);
	test_assert(htab_hash_u64(1) != htab_hash_u64(2));
	htab_free(&t);
	test_end();
}

int main(void)
{
	test_insert_find_remove();
	test_same_hash();
	return test_done();
}
