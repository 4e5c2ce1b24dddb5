/*
 * Small helpers every layer may use.
 */
#include <string.h>

#include "espota/errors.h"
#include "util/util.h"

int espota__strcaseeq(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = (unsigned char)*a, cb = (unsigned char)*b;
		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb)
			return 0;
		if (ca == 0)
			return 1;
	}
}

int espota__copy_sized(void *out, size_t outsize, const void *in, size_t insize)
{
	size_t n = outsize < insize ? outsize : insize;

	if (n < sizeof(size_t) + sizeof(int))
		return ESPOTA_EINVAL;
	memcpy((char *)out + sizeof(size_t), (const char *)in + sizeof(size_t), n - sizeof(size_t));
	return ESPOTA_OK;
}
