/*
 * libespota - the one file reader used by the library, the CLI and the
 * bindings.
 *
 * espota_file_read() opens the path with O_NONBLOCK (so a FIFO or a device
 * cannot block the open), checks with fstat that it is a regular file and
 * refuses anything else (FIFO, directory, character or block device,
 * socket) before reading a byte. Empty files and files larger than the cap
 * are refused too. Messages name the path with its control bytes escaped.
 */
#ifndef INCLUDE_espota_file_h__
#define INCLUDE_espota_file_h__

#include <stddef.h>

#include "common.h"
#include "errors.h"

ESPOTA_BEGIN_DECL

/** The largest file espota_file_read() reads (64 MiB): the image cap of
 * espota_upload_file(), the CLI and the bindings. */
#define ESPOTA_FILE_MAX ((size_t)64 * 1024 * 1024)

/** ESPOTA_FILE_MAX, for bindings. */
ESPOTA_EXTERN(size_t) espota_file_max(void);

/**
 * Read the whole regular file at `path` into a new buffer.
 *
 * `max` is the size cap in bytes; 0, or anything above ESPOTA_FILE_MAX,
 * means ESPOTA_FILE_MAX. On success `*out` holds `*len` bytes followed by a
 * NUL byte (not counted); free it with espota_file_free().
 *
 * @return ESPOTA_OK; ESPOTA_EIO when the file cannot be opened or read;
 * ESPOTA_EINVAL for a NULL argument, a path that is not a regular file, an
 * empty file or one larger than the cap; ESPOTA_ENOMEM. On failure `*out`
 * is NULL and, when `err` is not NULL, `err` holds a one-line message that
 * names the path and the reason (cut to `errlen`, reason kept).
 */
ESPOTA_EXTERN(int) espota_file_read(unsigned char **out, size_t *len, const char *path, size_t max,
	char *err, size_t errlen);

/** Free a buffer from espota_file_read(); NULL is a no-op. */
ESPOTA_EXTERN(void) espota_file_free(void *buf);

ESPOTA_END_DECL

#endif
