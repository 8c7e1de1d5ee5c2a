/* fuzz_parser: libFuzzer target for the IMAP command parser.
 *
 * The input is split into chunks at positions taken from its first bytes
 * (so the resumable paths are exercised too), literals are accepted or
 * rejected alternately, and every parsed command's argument tree is walked
 * so that ASan sees any bad pointer. Build: cmake -DROOST_FUZZ=ON with
 * CC=clang; run: build-fuzz/fuzz_parser fuzz/corpus/parser -dict=fuzz/parser.dict */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct imap_arg *args, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (args[i].type == IMAP_ARG_LIST)
			total += walk(args[i].list, args[i].count);
		else if (args[i].str != NULL)
			total += args[i].len + (size_t)(args[i].str[args[i].len] == '\0');
	}
	return total;
}

static void drive(struct imap_parser *p, const char *data, size_t len, unsigned *flip)
{
	while (len > 0) {
		size_t used = 0;
		enum imap_parse_status st = imap_parser_feed(p, data, len, &used);
		data += used;
		len -= used;
		if (st == IMAP_PARSE_LITERAL) {
			if ((*flip)++ % 3 == 2)
				imap_parser_literal_reject(p);
			else
				imap_parser_literal_accept(p);
		} else if (st == IMAP_PARSE_COMMAND) {
			const struct imap_command *cmd = imap_parser_command(p);
			(void)walk(cmd->args, cmd->nargs);
		} else if (st == IMAP_PARSE_ERROR) {
			const char *text, *tag;
			if (imap_parser_error(p, &text, &tag) == IMAP_ERR_FATAL)
				imap_parser_reset(p);
		} else if (used == 0) {
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits limits;
	imap_parser_limits_default(&limits);
	limits.max_line = 256;
	limits.max_literal = 512;
	limits.max_depth = 8;
	limits.max_args = 64;
	struct imap_parser *p = imap_parser_new(&limits);
	size_t step = size > 0 ? (size_t)(data[0] % 17) + 1 : 1;
	unsigned flip = 0;
	for (size_t off = 0; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;
		drive(p, (const char *)data + off, n, &flip);
	}
	imap_parser_free(&p);
	return 0;
}
