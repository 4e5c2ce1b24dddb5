/*
 * Shared helpers for the libFuzzer targets.
 */
#ifndef ESPOTA_FUZZ_H
#define ESPOTA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invariant the library promises; abort() so libFuzzer saves the input. */
#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* A string buffer must be NUL-terminated within its size. */
#define FUZZ_TERMINATED(buf) FUZZ_ASSERT(memchr((buf), '\0', sizeof(buf)) != NULL)

/* Reads bytes from the front of the input; past the end it returns zeros. */
typedef struct fuzz_in {
	const uint8_t *p;
	size_t n;
} fuzz_in;

static inline uint8_t fuzz_u8(fuzz_in *in)
{
	uint8_t v;
	if (in->n == 0)
		return 0;
	v = in->p[0];
	in->p++;
	in->n--;
	return v;
}

static inline uint16_t fuzz_u16(fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);
	return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

/* Take up to `max` bytes; *len receives how many. */
static inline const uint8_t *fuzz_take(fuzz_in *in, size_t max, size_t *len)
{
	const uint8_t *p = in->p;
	size_t k = max < in->n ? max : in->n;
	in->p += k;
	in->n -= k;
	*len = k;
	return p;
}

/* memmem without _GNU_SOURCE. */
static inline int fuzz_contains(const void *hay, size_t n, const char *needle)
{
	const unsigned char *h = hay;
	size_t k = strlen(needle), i;
	if (k == 0 || n < k)
		return k == 0;
	for (i = 0; i + k <= n; i++)
		if (memcmp(h + i, needle, k) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
