/*
 * Internal: small helpers every layer may use (no I/O, no protocol).
 */
#ifndef ESPOTA_SRC_UTIL_H
#define ESPOTA_SRC_UTIL_H

#include <stddef.h>

/* Case-insensitive ASCII comparison (no locale). */
int espota__strcaseeq(const char *a, const char *b);

/*
 * Copy a struct that starts with `size_t struct_size` (the ABI rule of
 * docs/api.md): as many bytes as both the caller's (`outsize`) and the
 * library's (`insize`) struct hold, the size field itself left alone.
 * ESPOTA_EINVAL when either size does not reach past the size field and the
 * first member after it (an int).
 */
int espota__copy_sized(void *out, size_t outsize, const void *in, size_t insize);

#endif
