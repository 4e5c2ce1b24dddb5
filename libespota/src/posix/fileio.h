/*
 * Internal: escaping for messages that quote untrusted text (paths).
 */
#ifndef ESPOTA_SRC_FILEIO_H
#define ESPOTA_SRC_FILEIO_H

#include <stddef.h>

/* Copy `src` into `dst` (always NUL-terminated when dstlen > 0) with
 * control bytes and DEL written as \xNN and backslash as \\. At most
 * `limit` source bytes are kept (0: no limit); a longer text ends in "...".
 * Returns dst. */
char *espota__escape(char *dst, size_t dstlen, const char *src, size_t limit);

#endif
