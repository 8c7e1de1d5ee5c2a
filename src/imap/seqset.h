/* seqset: IMAP sequence sets (RFC 9051 §9 sequence-set).
 *
 *   sequence-set = (seq-number / seq-range) ["," sequence-set]
 *   seq-range    = seq-number ":" seq-number
 *   seq-number   = nz-number / "*"
 *   nz-number    = 1..4294967295, no leading zero
 *
 * "0", numbers above 2^32-1, leading zeros, empty elements and junk are
 * syntax errors (the caller answers BAD). "*" is kept symbolic until the
 * caller resolves it against the mailbox (seqset_resolve). "$" (RFC 5182
 * SEARCHRES) is reported separately so a caller that supports it can
 * substitute the saved result. */
#ifndef ROOST_IMAP_SEQSET_H
#define ROOST_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"

/* A range lo..hi, lo <= hi after normalization. SEQ_STAR stands for "*". */
#define SEQ_STAR UINT32_MAX
struct seq_range {
	uint32_t lo, hi;
};

struct seqset {
	struct seq_range *ranges; /* arena memory */
	size_t count;
	bool is_saved; /* the set was "$" */
};

/* Parses s[0..len). Returns 0, or -1 with a short reason in *error_r.
 * Ranges are allocated from the arena. A range "a:b" with a > b is
 * stored swapped (RFC 9051: 4:2 == 2:4). */
int seqset_parse(const char *s, size_t len, struct arena *a, struct seqset *set_r,
		 const char **error_r);

/* Replaces SEQ_STAR by `star` (the largest number in use: EXISTS or the
 * largest UID; 0 for an empty mailbox), then sorts and merges ranges so
 * they ascend and do not overlap or touch. */
void seqset_resolve(struct seqset *set, uint32_t star);

/* After seqset_resolve: whether n is in the set (binary search). */
bool seqset_contains(const struct seqset *set, uint32_t n);

/* After seqset_resolve: how many numbers the set holds (64-bit: a set can
 * name all 2^32-1 numbers). */
uint64_t seqset_count(const struct seqset *set);

/* Writes the canonical form ("1:3,5,7:9") into dst (cap bytes, NUL-
 * terminated). Returns the length it needed, like snprintf. */
size_t seqset_format(const struct seqset *set, char *dst, size_t cap);

#endif
