/* htab: see htab.h. */
#include "lib/htab.h"

#include <stdlib.h>

#include "lib/xalloc.h"

enum { HTAB_MIN_SLOTS = 64 };

static size_t htab_slot(const struct htab *t, uint64_t hash)
{
	/* The high bits of a multiplicative mix: FNV's low bits alone are
	 * weak for short keys. */
	return (size_t)((hash * 0x9e3779b97f4a7c15ull) >> 32) & (t->n_slots - 1);
}

static void htab_grow(struct htab *t)
{
	size_t old_n = t->n_slots;
	struct htab_node **old = t->slots;
	t->n_slots = old_n ? old_n * 2 : HTAB_MIN_SLOTS;
	t->slots = xcalloc(t->n_slots, sizeof(*t->slots));
	for (size_t i = 0; i < old_n; i++) {
		struct htab_node *n = old[i];
		while (n != NULL) {
			struct htab_node *next = n->next;
			struct htab_node **slot = &t->slots[htab_slot(t, n->hash)];
			n->next = *slot;
			*slot = n;
			n = next;
		}
	}
	free(old);
}

void htab_free(struct htab *t)
{
	free(t->slots);
	*t = (struct htab){0};
}

void htab_insert(struct htab *t, struct htab_node *n, uint64_t hash)
{
	if (t->count >= t->n_slots)
		htab_grow(t);
	n->hash = hash;
	struct htab_node **slot = &t->slots[htab_slot(t, hash)];
	n->next = *slot;
	*slot = n;
	t->count++;
}

void htab_remove(struct htab *t, struct htab_node *n)
{
	struct htab_node **pp = &t->slots[htab_slot(t, n->hash)];
	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	n->next = NULL;
	t->count--;
}

void htab_clear(struct htab *t, void (*fn)(struct htab_node *n))
{
	for (size_t i = 0; fn != NULL && i < t->n_slots; i++) {
		struct htab_node *n = t->slots[i];
		while (n != NULL) {
			struct htab_node *next = n->next; /* fn may free n */
			fn(n);
			n = next;
		}
	}
	htab_free(t);
}

static struct htab_node *htab_match(struct htab_node *n, uint64_t hash)
{
	while (n != NULL && n->hash != hash)
		n = n->next;
	return n;
}

struct htab_node *htab_first(const struct htab *t, uint64_t hash)
{
	return t->n_slots ? htab_match(t->slots[htab_slot(t, hash)], hash) : NULL;
}

struct htab_node *htab_next(const struct htab_node *n)
{
	return htab_match(n->next, n->hash);
}

uint64_t htab_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t htab_hash_u64(uint64_t x)
{
	/* splitmix64's finalizer */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}
