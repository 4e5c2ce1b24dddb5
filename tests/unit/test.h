/*
 * A tiny assertion layer for the C tests (libuv's task.h idea): no external
 * framework, one process per test file, non-zero exit on the first failure.
 */
#ifndef ESPOTA_TEST_H
#define ESPOTA_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_FAIL_(...) do { \
	fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); \
	fputc('\n', stderr); \
	abort(); \
} while (0)

#define ASSERT(c) do { if (!(c)) TEST_FAIL_("assertion failed: %s", #c); } while (0)
#define ASSERT_EQ(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_); \
} while (0)
#define ASSERT_NE(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ == b_) TEST_FAIL_("%s != %s: both %lld", #a, #b, a_); \
} while (0)
#define ASSERT_OK(e) ASSERT_EQ((e), 0)
#define ASSERT_STREQ(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) \
		TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
} while (0)
#define ASSERT_CONTAINS(hay, needle) do { \
	const char *h_ = (hay), *n_ = (needle); \
	if (h_ == NULL || strstr(h_, n_) == NULL) \
		TEST_FAIL_("%s does not contain \"%s\": \"%s\"", #hay, n_, h_ ? h_ : "(null)"); \
} while (0)
#define ASSERT_MEMEQ(a, b, n) do { \
	if (memcmp((a), (b), (n)) != 0) TEST_FAIL_("%s and %s differ", #a, #b); \
} while (0)

/* Runs each test function and prints a closing line CTest logs show. */
#define TEST_LIST_BEGIN static const struct { const char *name; void (*fn)(void); } test_list_[] = {
#define TEST_ENTRY(f) { #f, f },
#define TEST_LIST_END }; \
int main(int argc, char **argv) { \
	size_t i, n = sizeof(test_list_) / sizeof(test_list_[0]), run = 0; \
	for (i = 0; i < n; i++) { \
		if (argc > 1 && strcmp(argv[1], test_list_[i].name) != 0) continue; \
		fprintf(stderr, "-- %s\n", test_list_[i].name); \
		test_list_[i].fn(); \
		run++; \
	} \
	printf("%zu passed, 0 failed\n", run); \
	return run == 0 ? 1 : 0; \
}

#endif
