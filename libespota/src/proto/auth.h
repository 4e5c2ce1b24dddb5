/*
 * Internal: hashing and the two challenge-response schemes (protocol.md
 * section 4). OpenSSL EVP does the hashing; libsodium wipes secrets.
 */
#ifndef ESPOTA_SRC_AUTH_H
#define ESPOTA_SRC_AUTH_H

#include <stddef.h>
#include "espota/upload.h"

#define ESPOTA__MD5_HEX 32
#define ESPOTA__SHA256_HEX 64

/* Lowercase hex digests into `out` (NUL-terminated). Return 0 or -1. */
int espota__md5_hex(char out[ESPOTA__MD5_HEX + 1], const void *data, size_t len);
int espota__sha256_hex(char out[ESPOTA__SHA256_HEX + 1], const void *data, size_t len);

/*
 * Compute the auth datagram "200 <cnonce> <response>\n" into `out` for
 * `scheme` given the device's nonce, the cnonce and the password.
 * `out` must hold at least 140 bytes. Returns its length or -1.
 * Every intermediate holding password material is wiped.
 */
int espota__auth_datagram(char *out, size_t outlen, espota_auth_scheme scheme,
	const char *nonce, const char *cnonce, const char *password);

/*
 * espota-compatible cnonce: MD5hex (scheme A) or SHA256hex (scheme B) of
 * filename + decimal size + md5hex + host. The device never checks its
 * content, only its length.
 */
int espota__cnonce_seeded(char *out, size_t outlen, espota_auth_scheme scheme,
	const char *filename, size_t size, const char *md5hex, const char *host);

/* Random cnonce from the CSPRNG (libsodium), hex of the scheme's length. */
int espota__cnonce_random(char *out, size_t outlen, espota_auth_scheme scheme);

/* Response only (hex), for tests: scheme A or B. */
int espota__auth_response(char *out, size_t outlen, espota_auth_scheme scheme,
	const char *nonce, const char *cnonce, const char *password);

#endif
