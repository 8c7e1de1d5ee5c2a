/* fuzz_mime: libFuzzer target for the MIME parser and its consumers.
 *
 * The input is parsed whole and in chunks whose sizes come from its first
 * byte; the two summaries must be identical (the parser is resumable at any
 * byte). Then every section reachable with small paths is looked up and
 * checked to lie inside the message, and the header filter, the decoders
 * and the search functions run over it so ASan sees their reads. Build:
 * cmake -DROOST_FUZZ=ON with CC=clang; run:
 * build-fuzz/fuzz_mime fuzz/corpus/mime */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sections(const struct mail_summary *s, size_t size)
{
	static const enum mime_section_kind kinds[] = {MIME_SECTION_CONTENT, MIME_SECTION_HEADER,
						       MIME_SECTION_TEXT, MIME_SECTION_MIME};
	uint32_t path[3];
	for (uint32_t a = 0; a < 4; a++) {
		for (uint32_t b = 0; b < 4; b++) {
			path[0] = a + 1;
			path[1] = b + 1;
			path[2] = 1;
			for (size_t depth = 0; depth <= 3; depth++) {
				for (size_t k = 0; k < 4; k++) {
					struct mime_range r;
					if (mime_section(s->parts, s->parts_len, path, depth, kinds[k],
							 &r) == 0 &&
					    (r.offset > size || r.len > size - r.offset))
						abort();
				}
			}
		}
	}
}

static void check_decoders(const char *msg, size_t size)
{
	struct buf out = {0};
	for (enum mime_cte c = MIME_CTE_7BIT; c <= MIME_CTE_UNKNOWN; c++) {
		struct mime_decoder *d = mime_decoder_new(c);
		for (size_t i = 0; i < size; i += 7)
			mime_decoder_feed(d, msg + i, size - i < 7 ? size - i : 7, &out);
		mime_decoder_finish(&d, &out);
		buf_release(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct mail_summary whole, chunked;
	mime_parse(msg, size, &whole);
	size_t step = size > 0 ? 1 + data[0] % 13 : 1;
	struct mime_parser *p = mime_parser_new();
	for (size_t i = 0; i < size; i += step)
		mime_parser_feed(p, msg + i, size - i < step ? size - i : step);
	mime_parser_finish(&p, &chunked);
	if (strcmp(whole.envelope, chunked.envelope) != 0 ||
	    strcmp(whole.bodystructure, chunked.bodystructure) != 0 ||
	    whole.parts_len != chunked.parts_len ||
	    memcmp(whole.parts, chunked.parts, whole.parts_len) != 0)
		abort();
	check_sections(&whole, size);
	struct mime_range r;
	if (mime_section(whole.parts, whole.parts_len, NULL, 0, MIME_SECTION_HEADER, &r) == 0) {
		static const char *const names[] = {"subject", "from", "content-type"};
		struct buf out = {0};
		mime_header_filter(msg + r.offset, (size_t)r.len, names, 3, size % 2 == 0, &out);
		buf_release(&out);
	}
	check_decoders(msg, size);
	mail_header_contains(msg, size, size % 3 == 0 ? NULL : "subject", "e\xc3\xa9");
	mail_body_contains(msg, size, whole.parts, whole.parts_len, "ab", size % 2 == 0);
	mail_summary_free(&whole);
	mail_summary_free(&chunked);
	return 0;
}
