/* xalloc: allocation helpers that abort on failure.
 *
 * roost treats allocation failure as fatal: every caller would otherwise
 * need an error path that cannot be tested, and a server that is out of
 * memory cannot answer its clients usefully anyway. */
#ifndef ROOST_LIB_XALLOC_H
#define ROOST_LIB_XALLOC_H

#include <stddef.h>

/* Each returns valid memory or aborts the process with a message. */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
/* Copies len bytes of s and appends a NUL. */
char *xstrndup(const char *s, size_t len);

#endif
