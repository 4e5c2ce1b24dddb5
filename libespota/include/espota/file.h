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

/** A file read into memory (opaque, library-owned). */
typedef struct espota_file espota_file;

/**
 * Read the whole regular file at `path` into a new file object.
 *
 * `max` is the size cap in bytes; 0, or anything above ESPOTA_FILE_MAX,
 * means ESPOTA_FILE_MAX. On success espota_file_data() gives the bytes
 * (followed by a NUL byte, not counted).
 *
 * @return ESPOTA_OK; ESPOTA_EIO when the file cannot be opened or read;
 * ESPOTA_EINVAL for a path that is not a regular file, an empty file or one
 * larger than the cap, or a NULL argument; ESPOTA_ENOMEM. On ESPOTA_EIO and
 * ESPOTA_EINVAL `*out` is still an object, holding no data and the
 * one-line reason (espota_file_error(): it names the path, control bytes
 * escaped), as espota_image_parse() does; free it. A NULL argument and
 * ESPOTA_ENOMEM leave `*out` NULL.
 */
ESPOTA_EXTERN(int) espota_file_read(espota_file **out, const char *path, size_t max);

/** The file's bytes (NULL after a failed read); `len` (may be NULL) gets their count. */
ESPOTA_EXTERN(const unsigned char *) espota_file_data(const espota_file *file, size_t *len);

/** Why the read failed; "" after a success. Never NULL. */
ESPOTA_EXTERN(const char *) espota_file_error(const espota_file *file);

/** Wipe the bytes (a file may hold a password) and free the object; NULL is ignored. */
ESPOTA_EXTERN(void) espota_file_free(espota_file *file);

ESPOTA_END_DECL

#endif
