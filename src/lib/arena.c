/* arena: bump allocator (see arena.h). */
#include "lib/arena.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

struct arena_block {
	struct arena_block *prev;
	size_t size; /* usable bytes in data[] */
	size_t used;
	_Alignas(8) char data[];
};

void arena_init(struct arena *a, size_t block_size)
{
	a->head = NULL;
	a->block_size = block_size ? block_size : 4096;
	a->used_total = 0;
}

static struct arena_block *arena_new_block(struct arena *a, size_t min)
{
	size_t size = a->block_size;
	if (size < min)
		size = min;
	struct arena_block *b = xmalloc(sizeof(*b) + size);
	b->prev = a->head;
	b->size = size;
	b->used = 0;
	a->head = b;
	return b;
}

void *arena_alloc(struct arena *a, size_t size)
{
	size = (size + 7) & ~(size_t)7;
	struct arena_block *b = a->head;
	if (b == NULL || b->size - b->used < size)
		b = arena_new_block(a, size);
	void *p = b->data + b->used;
	b->used += size;
	a->used_total += size;
	return p;
}

void *arena_zalloc(struct arena *a, size_t size)
{
	void *p = arena_alloc(a, size);
	memset(p, 0, size);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void arena_reset(struct arena *a)
{
	struct arena_block *b = a->head;
	if (b == NULL)
		return;
	while (b->prev != NULL) {
		struct arena_block *prev = b->prev;
		free(b);
		b = prev;
	}
	b->used = 0;
	a->head = b;
	a->used_total = 0;
}

void arena_release(struct arena *a)
{
	struct arena_block *b = a->head;
	while (b != NULL) {
		struct arena_block *prev = b->prev;
		free(b);
		b = prev;
	}
	a->head = NULL;
	a->used_total = 0;
}
