/* buf: a growable byte buffer with a read position.
 *
 * Used for connection input (bytes appended at the end, consumed from the
 * front) and for building responses. Invariant: rpos <= len < cap, and
 * after any append data[len] is a NUL (not counted in len), so a buffer
 * built from text can be used as a C string. The
 * memory is released entirely by buf_release() so that an idle connection
 * holds no buffer at all. */
#ifndef ROOST_LIB_BUF_H
#define ROOST_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;  /* bytes written */
	size_t rpos; /* bytes already consumed from the front */
	size_t cap;
};

/* Unread bytes and their count. */
/* An empty, never-allocated buffer reads as "" (not NULL + 0, which is
 * undefined behaviour in C). */
static inline const char *buf_rdata(const struct buf *b) { return b->data ? b->data + b->rpos : ""; }
static inline size_t buf_rlen(const struct buf *b) { return b->len - b->rpos; }

/* Ensures room for at least `extra` more bytes after len (plus a NUL);
 * may compact. */
void buf_reserve(struct buf *b, size_t extra);
/* Pointer to the writable tail and its size (after buf_reserve). */
static inline char *buf_wptr(struct buf *b) { return b->data + b->len; }
static inline size_t buf_wlen(const struct buf *b) { return b->cap ? b->cap - b->len - 1 : 0; }
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Marks n unread bytes consumed; when everything is consumed the buffer
 * is reset to empty (memory kept). */
void buf_consume(struct buf *b, size_t n);
/* Moves unread bytes to the front. */
void buf_compact(struct buf *b);
/* Empties the buffer and frees its memory. */
void buf_release(struct buf *b);

#endif
