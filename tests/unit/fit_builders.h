/*
 * Synthetic images for the image / flash-fit tests: an Arduino-ESP8266
 * two-part .bin of an exact length, bare and v2 images, ESP32 app images,
 * signature trailers and gzip wrappers. Only what the parsers look at is
 * realistic (headers, segment tables, padding, checksums).
 */
#ifndef ESPOTA_TEST_FIT_BUILDERS_H
#define ESPOTA_TEST_FIT_BUILDERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "espota/image.h"
#include "test.h"

/* Parse into a sized struct: the image object's facts, copied out. */
static inline int parse_info(espota_image_info *in, const unsigned char *buf, size_t len)
{
	espota_image *img = NULL;
	int rc = espota_image_parse(&img, buf, len);

	memset(in, 0, sizeof(*in));
	in->struct_size = sizeof(*in);
	if (img != NULL)
		ASSERT_OK(espota_image_get_info(img, in));
	espota_image_free(img);
	return rc;
}

static inline void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* Deterministic filler; `compressible` repeats a short pattern. */
static inline void fill_data(unsigned char *p, size_t n, uint32_t seed, int compressible)
{
	size_t i;
	uint32_t x = seed * 2654435761u + 1;
	for (i = 0; i < n; i++) {
		if (compressible) {
			p[i] = (unsigned char)("espota flash-fit "[i % 17]);
		} else {
			x = x * 1103515245u + 12345u;
			p[i] = (unsigned char)(x >> 16);
		}
	}
}

/*
 * Write a v1 image with `count` segments at b[0..]; returns its padded
 * length (incl. checksum). `hdr` is 8 (ESP8266) or 24 (ESP32).
 */
static inline size_t put_v1(unsigned char *b, size_t hdr, const uint32_t *addr, const uint32_t *len,
	unsigned count, uint8_t mode, uint8_t size_freq, uint32_t entry, int compressible)
{
	size_t pos = hdr, end;
	uint8_t ck = 0xEF;
	unsigned i;
	size_t k;

	b[0] = 0xE9;
	b[1] = (unsigned char)count;
	b[2] = mode;
	b[3] = size_freq;
	put32(b + 4, entry);
	for (i = 0; i < count; i++) {
		put32(b + pos, addr[i]);
		put32(b + pos + 4, len[i]);
		pos += 8;
		fill_data(b + pos, len[i], i + 1, compressible);
		for (k = 0; k < len[i]; k++)
			ck ^= b[pos + k];
		pos += len[i];
	}
	end = (pos + 16) & ~(size_t)15;
	memset(b + pos, 0, end - pos);
	b[end - 1] = ck;
	return end;
}

/* eboot at 0, 0xAA padded to 0x1000 (elf2bin). */
static inline void put_eboot(unsigned char *b, uint8_t mode, uint8_t size_freq)
{
	static const uint32_t addr[] = { 0x4010F000u, 0x3FFFA000u };
	static const uint32_t len[] = { 1280, 64 };
	size_t e = put_v1(b, 8, addr, len, 2, mode, size_freq, 0x4010F000u, 0);
	memset(b + e, 0xAA, 0x1000 - e);
}

#define APP_FIXED (4000u + 1000u + 800u + 2000u)

/*
 * Arduino .bin of exactly `total` bytes (a multiple of 16, >= 0x1000 + 8112):
 * 5 app segments irom0, .text, .text1, .data, .rodata; irom0 takes the rest
 * minus 0..15 bytes of padding.
 * `size_code` is the flash size nibble (2 = 1 MB, 4 = 4 MB); mode 3 = DOUT.
 */
static inline unsigned char *build_arduino(size_t total, uint8_t size_code, uint8_t mode, int compressible)
{
	uint32_t addr[5] = { 0x40201010u, 0x40100000u, 0x40101000u, 0x3FFE8000u, 0x3FFE8400u };
	uint32_t len[5] = { 0, 4000, 1000, 800, 2000 };
	unsigned char *b;
	size_t end;

	ASSERT(total % 16 == 0 && total >= 0x1000 + 8 + 40 + APP_FIXED + 16);
	/* Vary the zero padding before the checksum with the length, so the
	 * segment data ends at every residue mod 16 across tests. */
	len[0] = (uint32_t)(total - 0x1000 - 8 - 40 - APP_FIXED - 1 - (total / 16) % 16);
	b = malloc(total + 2048);
	ASSERT(b != NULL);
	put_eboot(b, mode, (uint8_t)(size_code << 4));
	end = put_v1(b + 0x1000, 8, addr, len, 5, mode, (uint8_t)(size_code << 4), 0x40100000u, compressible);
	ASSERT_EQ(0x1000 + end, total);
	return b;
}

/* ESP32 app image of exactly `total` bytes (total - 32 multiple of 16 with hash). */
static inline unsigned char *build_esp32(size_t total, uint8_t size_code, uint16_t chip, int hash)
{
	uint32_t addr[3] = { 0x3F400020u, 0x3FFB0000u, 0x40080000u };
	uint32_t len[3] = { 0, 1000, 3000 };
	size_t body = total - (hash ? 32 : 0), end;
	unsigned char *b = malloc(total + 2048);

	ASSERT(b != NULL && body % 16 == 0);
	len[0] = (uint32_t)(body - 24 - 24 - 4000 - 1);
	memset(b, 0, 24);
	b[8] = 0xEE;
	b[12] = (unsigned char)chip;
	b[13] = (unsigned char)(chip >> 8);
	b[23] = (unsigned char)(hash ? 1 : 0);
	end = put_v1(b, 24, addr, len, 3, 2, (uint8_t)(size_code << 4), 0x40080000u, 0);
	/* put_v1 rewrote bytes 0..7 only; the extended header survives. */
	ASSERT_EQ(end, body);
	if (hash)
		memset(b + end, 0x5A, 32);
	return b;
}

/* Append signing.py's trailer: sig || u32_le(siglen). Returns new length. */
static inline size_t add_signature(unsigned char *b, size_t len, uint32_t siglen)
{
	memset(b + len, 0x42, siglen);
	put32(b + len + siglen, siglen);
	return len + siglen + 4;
}

/* gzip -9 of buf; *outlen receives the compressed size. Caller frees. */
static inline unsigned char *gzip_buf(const unsigned char *buf, size_t len, size_t extra, size_t *outlen)
{
	z_stream zs;
	size_t cap = compressBound((uLong)len) + 64 + extra;
	unsigned char *out = malloc(cap);

	ASSERT(out != NULL);
	memset(&zs, 0, sizeof(zs));
	ASSERT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + 15, 9, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (unsigned char *)(uintptr_t)buf;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return out;
}

#endif
