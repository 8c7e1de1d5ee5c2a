/* test: a tiny unit-test harness.
 *
 *   int main(void) {
 *       test_begin("parser: atoms");
 *       test_assert(x == 1);
 *       test_end();
 *       return test_done();
 *   }
 *
 * test_done() prints "N passed, N failed" (the line CI reads) and returns
 * the exit status. A test is one begin/end pair; it fails if any assert
 * inside it failed. */
#ifndef ROOST_LIB_TEST_H
#define ROOST_LIB_TEST_H

#include <stdio.h>
#include <string.h>

struct test_state {
	const char *name;
	int failed_asserts;
	int passed;
	int failed;
};
extern struct test_state test_state_g;

#define TEST_STATE_DEFINE struct test_state test_state_g

static inline void test_begin(const char *name)
{
	test_state_g.name = name;
	test_state_g.failed_asserts = 0;
}

#define test_assert(expr)                                                                          \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "FAIL %s: %s:%d: %s\n", test_state_g.name, __FILE__,      \
				__LINE__, #expr);                                                  \
			test_state_g.failed_asserts++;                                             \
		}                                                                                  \
	} while (0)

#define test_assert_str(a, b)                                                                      \
	do {                                                                                       \
		const char *ta_ = (a), *tb_ = (b);                                                 \
		if (ta_ == NULL || tb_ == NULL || strcmp(ta_, tb_) != 0) {                         \
			fprintf(stderr, "FAIL %s: %s:%d: \"%s\" != \"%s\"\n", test_state_g.name,   \
				__FILE__, __LINE__, ta_ ? ta_ : "(null)", tb_ ? tb_ : "(null)");   \
			test_state_g.failed_asserts++;                                             \
		}                                                                                  \
	} while (0)

static inline void test_end(void)
{
	if (test_state_g.failed_asserts == 0)
		test_state_g.passed++;
	else
		test_state_g.failed++;
}

static inline int test_done(void)
{
	printf("%d passed, %d failed\n", test_state_g.passed, test_state_g.failed);
	return test_state_g.failed == 0 ? 0 : 1;
}

#endif
