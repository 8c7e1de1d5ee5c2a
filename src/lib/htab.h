/* htab: an intrusive chained hash table.
 *
 * Entries embed a struct htab_node and are found by a 64-bit hash the
 * caller computes; the caller compares keys itself while it walks the
 * entries of one hash (htab_first/htab_next), so one entry can sit in
 * several tables under different keys. The table never allocates per
 * entry (a session's store user or inotify watch is already a heap
 * object) and doubles its slot array when it holds more entries than
 * slots. Not thread-safe: the owner's lock guards it.
 *
 * Written here rather than taken from a library: Debian's C hash tables
 * (glib's GHashTable, hsearch(3)) allocate per entry or allow one table
 * per process, and these tables sit on the login path. */
#ifndef ROOST_LIB_HTAB_H
#define ROOST_LIB_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab_node {
	struct htab_node *next;
	uint64_t hash;
};

struct htab {
	struct htab_node **slots;
	size_t n_slots; /* 0 or a power of two */
	size_t count;
};

/* The entry of type `type` whose member `member` is node n. */
#define htab_entry(n, type, member) ((type *)((char *)(n) - offsetof(type, member)))

/* An empty table needs no init beyond zeroing; htab_free releases the slots
 * (the entries belong to the caller). */
void htab_free(struct htab *t);
void htab_insert(struct htab *t, struct htab_node *n, uint64_t hash);
/* Removes n, which must be in t. */
void htab_remove(struct htab *t, struct htab_node *n);
/* Empties t, calling fn (when not NULL) on every entry, and frees the slots. */
void htab_clear(struct htab *t, void (*fn)(struct htab_node *n));
/* The first entry with this hash, or NULL; then the next one after n. */
struct htab_node *htab_first(const struct htab *t, uint64_t hash);
struct htab_node *htab_next(const struct htab_node *n);

/* FNV-1a of a string, and a 64-bit mix of an integer key. */
uint64_t htab_hash_str(const char *s);
uint64_t htab_hash_u64(uint64_t x);

#endif
