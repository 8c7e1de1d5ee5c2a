/* arena: a bump allocator for data that dies together.
 *
 * A parsed command's arguments live in an arena that is reset when the
 * command's tagged reply has been queued. Allocations are 8-byte aligned.
 * arena_reset() keeps the first block for reuse; arena_release() frees
 * everything (idle connections keep no memory). */
#ifndef ROOST_LIB_ARENA_H
#define ROOST_LIB_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head; /* current block; older blocks chained behind */
	size_t block_size;        /* default size of new blocks */
	size_t used_total;        /* bytes handed out since last reset */
};

/* block_size 0 means a 4 KiB default. */
void arena_init(struct arena *a, size_t block_size);
/* Returns size bytes (never NULL; aborts on OOM). Valid until reset. */
void *arena_alloc(struct arena *a, size_t size);
void *arena_zalloc(struct arena *a, size_t size);
/* NUL-terminated copy of len bytes of s. */
char *arena_strndup(struct arena *a, const char *s, size_t len);
/* Frees all but the first block and makes it empty. */
void arena_reset(struct arena *a);
/* Frees every block. The arena may be used again afterwards. */
void arena_release(struct arena *a);

#endif
