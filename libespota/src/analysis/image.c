/*
 * Image inspection: what is this file, and what will the device's ROM,
 * boot loader and Updater see in it? (flashfit.md sections 1 and 4.1.)
 *
 * Every read goes through a small reader (struct rd) that either serves a
 * caller buffer with bounds checks or inflates a gzip stream forward in
 * bounded steps. Structures are walked strictly forward, so a gzip image is
 * inflated exactly once, and the first 4 KiB + 64 bytes are kept in a
 * prefix buffer so classification can look around the app header at 0x1000
 * before deciding how to walk. No length read from the file is trusted:
 * each is checked against what is actually there (or against a 16 MiB cap
 * while inflating) before it is used.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "espota/errors.h"
#include "espota/flashfit.h"
#include "espota/image.h"
#include "analysis/image_internal.h"

/* Arduino .bin: the app image starts after eboot, at 0x1000 (APP_START_OFFSET). */
#define APP_START 0x1000u
/* Enough to see the eboot image, the app header and its first segment header. */
#define PREFIX_MAX (APP_START + 64u)
/* No ESP8266/ESP32 app or ArduinoOTA filesystem image is near this; more
 * inflated data means a zip bomb or a file that is not an image. */
#define INFLATE_CAP ((uint64_t)16 << 20)
/* Plausible signature lengths (RSA-512 .. RSA-8192 / ECDSA); signing.py
 * writes RSA-2048 = 256 bytes. */
#define SIG_MIN 64u
#define SIG_MAX 1024u

#define RD_OK 0
#define RD_EOF (-1) /* the data ends before the requested bytes */
#define RD_BAD (-2) /* corrupt gzip, zip bomb: message in rd.err */

typedef struct rd {
	const unsigned char *buf; /* raw input (the whole file) */
	size_t len;
	int gz;
	/* gzip state */
	z_stream zs;
	int zinit;
	int zend;                 /* inflate reported Z_STREAM_END */
	uint64_t zpos;            /* inflated bytes produced so far */
	size_t prefix_len;
	unsigned char prefix[PREFIX_MAX];
	unsigned char scratch[4096];
	char err[96];
} rd;

const char *espota_image_kind_name(espota_image_kind kind)
{
	switch (kind) {
	case ESPOTA_IMAGE_UNKNOWN: return "unknown";
	case ESPOTA_IMAGE_ESP8266_ARDUINO: return "esp8266-arduino";
	case ESPOTA_IMAGE_ESP8266_BARE: return "esp8266-bare";
	case ESPOTA_IMAGE_ESP8266_V2: return "esp8266-v2";
	case ESPOTA_IMAGE_ESP32_APP: return "esp32-app";
	case ESPOTA_IMAGE_ESP32_PARTITIONS: return "esp32-partitions";
	case ESPOTA_IMAGE_LITTLEFS: return "littlefs";
	case ESPOTA_IMAGE_SPIFFS: return "spiffs";
	}
	return "unknown";
}

size_t espota_image_header_size(void)
{
	return ESPOTA_IMAGE_HEADER_SIZE;
}

/* Esp.cpp magicFlashChipSize(): codes 5, 6 ("-c1" layouts known to esptool
 * only) and everything above 9 mean 0, which makes the Updater's size
 * checks pass vacuously. */
uint64_t espota_esp8266_flash_size(unsigned int code)
{
	switch (code) {
	case 0x0: return (uint64_t)512 << 10;
	case 0x1: return (uint64_t)256 << 10;
	case 0x2: return 1u << 20;
	case 0x3: return 2u << 20;
	case 0x4: return 4u << 20;
	case 0x8: return 8u << 20;
	case 0x9: return 16u << 20;
	default: return 0;
	}
}

/* esp_app_format.h / esptool: 0 = 1 MB ... 7 = 128 MB. */
uint64_t espota_esp32_flash_size(unsigned int code)
{
	if (code > 7)
		return 0;
	return (uint64_t)1 << (20 + code);
}

/* ------------------------------------------------------------------ */
/* Reader                                                              */

/* Inflate up to n bytes into dst. *got receives what was produced. */
static int gz_pull(rd *r, unsigned char *dst, size_t n, size_t *got)
{
	*got = 0;
	while (n > 0) {
		size_t chunk = n;
		uInt before;
		int z;

		if (r->zend)
			return RD_EOF;
		if (r->zpos >= INFLATE_CAP) {
			snprintf(r->err, sizeof(r->err),
				"gzip inflates to more than %llu bytes (zip bomb?)",
				(unsigned long long)INFLATE_CAP);
			return RD_BAD;
		}
		if ((uint64_t)chunk > INFLATE_CAP - r->zpos)
			chunk = (size_t)(INFLATE_CAP - r->zpos);
		if (chunk > UINT_MAX)
			chunk = UINT_MAX;
		r->zs.next_out = dst;
		r->zs.avail_out = (uInt)chunk;
		before = r->zs.avail_out;
		z = inflate(&r->zs, Z_NO_FLUSH);
		{
			size_t produced = (size_t)(before - r->zs.avail_out);
			dst += produced;
			n -= produced;
			*got += produced;
			r->zpos += produced;
			if (z == Z_STREAM_END) {
				r->zend = 1;
			} else if (z == Z_BUF_ERROR || (z == Z_OK && produced == 0 && r->zs.avail_in == 0)) {
				if (produced == 0) {
					snprintf(r->err, sizeof(r->err), "corrupt gzip: the stream is truncated");
					return RD_BAD;
				}
			} else if (z != Z_OK) {
				snprintf(r->err, sizeof(r->err), "corrupt gzip: %s",
					r->zs.msg ? r->zs.msg : "inflate failed");
				return RD_BAD;
			}
		}
	}
	return RD_OK;
}

/*
 * Read n bytes at offset off of the (inner) data: copy them to dst if not
 * NULL, XOR them into *acc if not NULL. Reads past the prefix of a gzip
 * stream must move forward; the walkers guarantee that.
 */
static int rd_span(rd *r, uint64_t off, uint64_t n, unsigned char *dst, uint8_t *acc)
{
	uint64_t i;

	if (!r->gz) {
		if (off > r->len || n > r->len - off)
			return RD_EOF;
		if (dst)
			memcpy(dst, r->buf + off, (size_t)n);
		if (acc)
			for (i = 0; i < n; i++)
				*acc ^= r->buf[off + i];
		return RD_OK;
	}

	if (off < r->prefix_len) {
		uint64_t k = r->prefix_len - off;
		if (k > n)
			k = n;
		if (dst) {
			memcpy(dst, r->prefix + off, (size_t)k);
			dst += k;
		}
		if (acc)
			for (i = 0; i < k; i++)
				*acc ^= r->prefix[off + i];
		off += k;
		n -= k;
	}
	if (n == 0)
		return RD_OK;
	if (off < r->zpos) {
		snprintf(r->err, sizeof(r->err), "internal: backward read in gzip stream");
		return RD_BAD;
	}
	while (off > r->zpos) { /* skip */
		uint64_t k = off - r->zpos;
		size_t got;
		int rc;
		if (k > sizeof(r->scratch))
			k = sizeof(r->scratch);
		if ((rc = gz_pull(r, r->scratch, (size_t)k, &got)) != RD_OK)
			return rc;
	}
	while (n > 0) {
		uint64_t k = n;
		size_t got;
		int rc;
		if (dst == NULL && k > sizeof(r->scratch))
			k = sizeof(r->scratch);
		if (k > INFLATE_CAP)
			k = INFLATE_CAP;
		rc = gz_pull(r, dst ? dst : r->scratch, (size_t)k, &got);
		if (acc)
			for (i = 0; i < got; i++)
				*acc ^= (dst ? dst : r->scratch)[i];
		if (rc != RD_OK)
			return rc;
		if (dst)
			dst += got;
		n -= got;
	}
	return RD_OK;
}

/* Bytes readable at the start without moving a gzip stream. */
static size_t rd_head_len(const rd *r)
{
	return r->gz ? r->prefix_len : r->len;
}

static const unsigned char *rd_head(const rd *r)
{
	return r->gz ? r->prefix : r->buf;
}

/* Total inner length: the input length, or inflate to the end. */
static int rd_total(rd *r, uint64_t *total)
{
	if (!r->gz) {
		*total = r->len;
		return RD_OK;
	}
	while (!r->zend) {
		size_t got;
		int rc = gz_pull(r, r->scratch, sizeof(r->scratch), &got);
		if (rc == RD_BAD)
			return rc;
	}
	*total = r->zpos;
	return RD_OK;
}

/* ------------------------------------------------------------------ */
/* Walkers                                                             */

#define detailf(out, ...) snprintf((out)->detail, sizeof((out)->detail), __VA_ARGS__)

static int fail_read(struct espota_image *out, const rd *r, int rc, const char *what, uint64_t off)
{
	if (rc == RD_BAD)
		detailf(out, "%s", r->err);
	else
		detailf(out, "truncated: %s at offset %llu is past the end of the data",
			what, (unsigned long long)off);
	return ESPOTA_EIMAGE;
}

/*
 * Walk a v1 (0xE9) image at `base`: header, segments, padding, checksum.
 * `window_end` limits where it may extend (the eboot image must end before
 * 0x1000). Records segments when `record` is set. Returns ESPOTA_OK or
 * ESPOTA_EIMAGE with the reason in out->detail.
 */
static int walk_v1(struct espota_image *out, rd *r, uint64_t base, uint64_t header_len,
	uint64_t window_end, int record, uint64_t *end_out, int *ck_out)
{
	unsigned char h[24], c;
	unsigned int count, i;
	uint64_t pos;
	uint8_t x = 0xEF;
	int rc;

	if ((rc = rd_span(r, base, header_len, h, NULL)) != RD_OK)
		return fail_read(out, r, rc, "image header", base);
	if (h[0] != 0xE9) {
		detailf(out, "no image header (0xE9) at offset %llu", (unsigned long long)base);
		return ESPOTA_EIMAGE;
	}
	count = h[1];
	if (count == 0 || count > ESPOTA__IMAGE_MAX_SEGMENTS) {
		detailf(out, "absurd segment count %u at offset %llu (1..%u allowed)",
			count, (unsigned long long)base, ESPOTA__IMAGE_MAX_SEGMENTS);
		return ESPOTA_EIMAGE;
	}
	pos = base + header_len;
	for (i = 0; i < count; i++) {
		unsigned char sh[8];
		uint32_t addr, slen;

		if ((rc = rd_span(r, pos, 8, sh, NULL)) != RD_OK)
			return fail_read(out, r, rc, "segment header", pos);
		addr = espota__le32(sh);
		slen = espota__le32(sh + 4);
		pos += 8;
		if ((uint64_t)slen > INFLATE_CAP || (!r->gz && (uint64_t)slen > r->len - (pos < r->len ? pos : r->len))) {
			detailf(out, "segment %u claims %lu bytes at offset %llu, beyond the end of the data",
				i, (unsigned long)slen, (unsigned long long)pos);
			return ESPOTA_EIMAGE;
		}
		if (pos + slen > window_end) {
			detailf(out, "segment %u ends at %llu, beyond %llu",
				i, (unsigned long long)(pos + slen), (unsigned long long)window_end);
			return ESPOTA_EIMAGE;
		}
		if (record) {
			out->segments[i].addr = addr;
			out->segments[i].len = slen;
			out->segments[i].offset = (uint32_t)pos;
		}
		if ((rc = rd_span(r, pos, slen, NULL, &x)) != RD_OK)
			return fail_read(out, r, rc, "segment data", pos);
		pos += slen;
	}
	if (record)
		out->info.segment_count = count;
	/* Zero padding so that the length including the checksum byte is a
	 * multiple of 16: getSketchSize()'s (pos + 16) & ~15. */
	pos = (pos + 16) & ~(uint64_t)15;
	if (pos > window_end) {
		detailf(out, "image at %llu ends at %llu, beyond %llu", (unsigned long long)base,
			(unsigned long long)pos, (unsigned long long)window_end);
		return ESPOTA_EIMAGE;
	}
	if ((rc = rd_span(r, pos - 1, 1, &c, NULL)) != RD_OK)
		return fail_read(out, r, rc, "checksum byte", pos - 1);
	*end_out = pos;
	*ck_out = c == x;
	return ESPOTA_OK;
}

static void set_header(struct espota_image *out, const unsigned char *h, int esp32)
{
	out->info.magic = h[0];
	out->info.flash_mode = h[2];
	out->info.flash_size_code = (uint8_t)(h[3] >> 4);
	out->info.flash_freq_code = (uint8_t)(h[3] & 0x0F);
	out->info.header_flash_size = esp32 ? espota_esp32_flash_size(out->info.flash_size_code) :
		espota_esp8266_flash_size(out->info.flash_size_code);
	out->info.entry = espota__le32(h + 4);
}

static void find_irom0(struct espota_image *out)
{
	unsigned int i;
	for (i = 0; i < out->info.segment_count; i++)
		if (out->segments[i].addr >= 0x40200000u && out->segments[i].addr < 0x40300000u)
			out->info.irom0_len = out->segments[i].len;
}

/* Chip ids esptool knows (esp_app_format.h esp_chip_id_t). */
static int esp32_chip_known(unsigned int id)
{
	static const unsigned short ids[] = { 0, 2, 5, 9, 12, 13, 16, 18, 20, 23 };
	size_t i;
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* esptool image_info's test for an extended header: hash_appended in {0,1},
 * a known chip id; plus wp_pin 0xEE (esptool's default) or a GPIO number. */
static int looks_esp32(const unsigned char *h, size_t n)
{
	return n >= 24 && h[0] == 0xE9 && h[23] <= 1 && esp32_chip_known(espota__le16(h + 12)) &&
		(h[8] == 0xEE || h[8] < 0x30) && h[1] >= 1 && h[1] <= ESPOTA__IMAGE_MAX_SEGMENTS;
}

/* Arduino two-part .bin: eboot at 0 ending by 0x1000, another 0xE9 there. */
static int looks_arduino(rd *r)
{
	struct espota_image scratch;
	uint64_t end;
	int ck;

	if (rd_head_len(r) < APP_START + 8 || rd_head(r)[APP_START] != 0xE9)
		return 0;
	memset(&scratch, 0, sizeof(scratch));
	/* The dry walk stays inside the prefix, so it does not move a gzip
	 * stream. */
	return walk_v1(&scratch, r, 0, 8, APP_START, 0, &end, &ck) == ESPOTA_OK;
}

static int parse_esp8266(struct espota_image *out, rd *r, int arduino)
{
	unsigned char h[8];
	int rc, ck = -1;
	uint64_t end = 0; /* set by walk_v1 on success; initialised for the analyzers */

	memcpy(h, rd_head(r), 8);
	set_header(out, h, 0);
	out->info.platform = ESPOTA_PLATFORM_ESP8266;
	if (arduino) {
		uint64_t eboot_end;
		out->info.kind = ESPOTA_IMAGE_ESP8266_ARDUINO;
		if ((rc = walk_v1(out, r, 0, 8, APP_START, 0, &eboot_end, &ck)) != ESPOTA_OK)
			return rc;
		out->info.app_offset = APP_START;
		if (memcmp(rd_head(r) + 2, rd_head(r) + APP_START + 2, 2) != 0)
			detailf(out, "eboot and app headers differ in flash mode/size bytes");
		out->info.entry = espota__le32(rd_head(r) + APP_START + 4);
	} else {
		out->info.kind = ESPOTA_IMAGE_ESP8266_BARE;
		out->info.app_offset = 0;
	}
	if ((rc = walk_v1(out, r, out->info.app_offset, 8, UINT64_MAX, 1, &end, &ck)) != ESPOTA_OK)
		return rc;
	out->info.app_end = end;
	out->info.checksum_ok = ck;
	find_irom0(out);
	return ESPOTA_OK;
}

static int parse_esp32(struct espota_image *out, rd *r)
{
	const unsigned char *h = rd_head(r);
	uint64_t end = 0;
	int rc, ck = -1;

	out->info.kind = ESPOTA_IMAGE_ESP32_APP;
	out->info.platform = ESPOTA_PLATFORM_ESP32;
	set_header(out, h, 1);
	out->info.chip_id = espota__le16(h + 12);
	out->info.hash_appended = h[23];
	if ((rc = walk_v1(out, r, 0, 24, UINT64_MAX, 1, &end, &ck)) != ESPOTA_OK)
		return rc;
	if (out->info.hash_appended) {
		/* A SHA-256 of everything before it is part of the .bin. */
		if ((rc = rd_span(r, end, 32, NULL, NULL)) != RD_OK)
			return fail_read(out, r, rc, "appended SHA-256", end);
		end += 32;
	}
	out->info.app_end = end;
	out->info.checksum_ok = ck;
	return ESPOTA_OK;
}

/* SDK/rboot v2 image (esptool ESP8266V2FirmwareImage): 0xEA header with the
 * irom0 segment, then a v1 image with the RAM segments, then a CRC-32. */
static int parse_v2(struct espota_image *out, rd *r)
{
	unsigned char h[16];
	uint32_t irom_len;
	uint64_t end = 0;
	unsigned int i;
	int rc, ck = -1;

	out->info.kind = ESPOTA_IMAGE_ESP8266_V2;
	out->info.platform = ESPOTA_PLATFORM_ESP8266;
	if ((rc = rd_span(r, 0, 16, h, NULL)) != RD_OK)
		return fail_read(out, r, rc, "v2 header", 0);
	set_header(out, h, 0);
	irom_len = espota__le32(h + 12);
	if ((uint64_t)irom_len > INFLATE_CAP || (!r->gz && irom_len > r->len - 16)) {
		detailf(out, "v2 irom0 segment claims %lu bytes, beyond the end of the data",
			(unsigned long)irom_len);
		return ESPOTA_EIMAGE;
	}
	if ((rc = rd_span(r, 16, irom_len, NULL, NULL)) != RD_OK)
		return fail_read(out, r, rc, "v2 irom0 segment", 16);
	out->info.app_offset = 16 + irom_len;
	if ((rc = walk_v1(out, r, out->info.app_offset, 8, UINT64_MAX, 1, &end, &ck)) != ESPOTA_OK)
		return rc;
	/* The irom0 segment goes first in the table; shift the RAM ones. */
	if (out->info.segment_count < ESPOTA__IMAGE_MAX_SEGMENTS) {
		for (i = out->info.segment_count; i > 0; i--)
			out->segments[i] = out->segments[i - 1];
		out->segments[0].addr = espota__le32(h + 8);
		out->segments[0].len = irom_len;
		out->segments[0].offset = 16;
		out->info.segment_count++;
	}
	out->info.irom0_len = irom_len;
	if ((rc = rd_span(r, end, 4, NULL, NULL)) != RD_OK)
		return fail_read(out, r, rc, "v2 CRC-32", end);
	out->info.app_end = end + 4;
	out->info.checksum_ok = ck;
	return ESPOTA_OK;
}

/*
 * SPIFFS heuristic (mkspiffs defaults on ESP8266/ESP32: 256-byte pages,
 * 4 or 8 KiB blocks, so block 0 has one object-lookup page). The lookup page
 * holds one u16 object id per following page; a used id (not 0xFFFF free,
 * not 0x0000 deleted) must reappear as the obj_id at the start of that
 * page's header, whose flags byte (offset 4; spiffs_nucleus.h, a flag is
 * set when its bit is 0) must say used, finalised, not deleted, and index
 * page exactly when the id carries the index flag 0x8000. At least one used
 * entry and no contradiction in the first 15 pages means SPIFFS. Not a
 * proof: it tells a filesystem from firmware.
 */
static int looks_spiffs(const unsigned char *b, size_t n)
{
	unsigned int i, used = 0;

	if (n < 4096)
		return 0;
	for (i = 0; i < 15; i++) {
		const unsigned char *ph = b + (size_t)(i + 1) * 256;
		uint16_t id = espota__le16(b + 2 * (size_t)i);
		int index_page = (ph[4] & 0x04) == 0;

		if (id == 0xFFFF || id == 0x0000)
			continue;
		if (espota__le16(ph) != id || (ph[4] & 0x03) != 0 || (ph[4] & 0x80) == 0 ||
			index_page != ((id & 0x8000) != 0))
			return 0;
		used++;
	}
	return used > 0;
}

/* LittleFS: superblock entry name "littlefs" at offset 8 of block 0 or 1. */
static int looks_littlefs(const unsigned char *b, size_t n)
{
	static const size_t blocks[] = { 0, 4096, 8192 };
	size_t i;
	for (i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
		if (n >= blocks[i] + 16 && memcmp(b + blocks[i] + 8, "littlefs", 8) == 0)
			return 1;
	return 0;
}

/* Classify and walk the (inner) data behind reader r. */
static int parse_inner(struct espota_image *out, rd *r)
{
	const unsigned char *h = rd_head(r);
	size_t n = rd_head_len(r);

	if (n == 0) {
		detailf(out, "empty file");
		return ESPOTA_OK;
	}
	if (h[0] == 0xE9) {
		if (n < 8) {
			out->info.kind = ESPOTA_IMAGE_ESP8266_BARE;
			out->info.platform = ESPOTA_PLATFORM_ESP8266;
			out->info.magic = 0xE9;
			detailf(out, "truncated: %zu bytes, an image header needs 8", n);
			return ESPOTA_EIMAGE;
		}
		if (looks_arduino(r))
			return parse_esp8266(out, r, 1);
		if (looks_esp32(h, n))
			return parse_esp32(out, r);
		return parse_esp8266(out, r, 0);
	}
	if (h[0] == 0xEA) {
		if (n < 16) {
			out->info.kind = ESPOTA_IMAGE_ESP8266_V2;
			out->info.platform = ESPOTA_PLATFORM_ESP8266;
			out->info.magic = 0xEA;
			detailf(out, "truncated: %zu bytes, a v2 header needs 16", n);
			return ESPOTA_EIMAGE;
		}
		return parse_v2(out, r);
	}
	out->info.magic = h[0];
	if (n >= 2 && h[0] == 0xAA && h[1] == 0x50) {
		struct espota_partition_table t;
		char err[96];
		out->info.kind = ESPOTA_IMAGE_ESP32_PARTITIONS;
		out->info.platform = ESPOTA_PLATFORM_ESP32;
		if (espota__partitions_parse_bin(&t, h, n, err, sizeof(err)) != ESPOTA_OK) {
			detailf(out, "partition table: %s", err);
			return ESPOTA_EIMAGE;
		}
		detailf(out, "%u partitions", t.count);
		return ESPOTA_OK;
	}
	if (looks_littlefs(h, n)) {
		out->info.kind = ESPOTA_IMAGE_LITTLEFS;
		return ESPOTA_OK;
	}
	if (looks_spiffs(h, n)) {
		out->info.kind = ESPOTA_IMAGE_SPIFFS;
		detailf(out, "SPIFFS recognised heuristically (object lookup table matches page headers)");
		return ESPOTA_OK;
	}
	detailf(out, "not an application image (first byte 0x%02X)", h[0]);
	return ESPOTA_OK;
}

static int is_esp8266_app(const struct espota_image *out)
{
	return out->info.kind == ESPOTA_IMAGE_ESP8266_ARDUINO || out->info.kind == ESPOTA_IMAGE_ESP8266_BARE;
}

/* signing.py: payload || sig || u32_le(len(sig)). `tail` bytes follow the
 * payload; `last4` are the file's final four bytes. */
static int check_signed(struct espota_image *out, uint64_t tail, const unsigned char *last4)
{
	uint32_t siglen;
	if (tail < SIG_MIN + 4)
		return 0;
	siglen = espota__le32(last4);
	if (siglen < SIG_MIN || siglen > SIG_MAX || tail != (uint64_t)siglen + 4)
		return 0;
	out->info.is_signed = 1;
	out->info.signature_len = siglen;
	return 1;
}

static int parse_raw(struct espota_image *out, const unsigned char *buf, size_t len)
{
	rd r;
	int rc;

	memset(&r, 0, offsetof(rd, prefix));
	r.buf = buf;
	r.len = len;
	rc = parse_inner(out, &r);
	if (rc != ESPOTA_OK)
		return rc;
	if (is_esp8266_app(out) || out->info.kind == ESPOTA_IMAGE_ESP32_APP) {
		uint64_t tail = len - out->info.app_end; /* walk_v1 proved app_end <= len */
		if (tail > 0 && !(is_esp8266_app(out) && check_signed(out, tail, buf + len - 4)) &&
			out->detail[0] == '\0')
			detailf(out, "%llu bytes after the end of the image", (unsigned long long)tail);
	}
	return ESPOTA_OK;
}

static int parse_gzip(struct espota_image *out, const unsigned char *buf, size_t len)
{
	rd r; /* about 8 KiB of stack: the prefix and the inflate scratch */
	int rc, zrc;
	uint64_t total = 0;
	size_t got, tail, stream_end;

	out->info.gzip = 1;
	if (len < 18) {
		detailf(out, "truncated gzip: %zu bytes, header and trailer need 18", len);
		return ESPOTA_EIMAGE;
	}
	if (len > UINT_MAX) {
		detailf(out, "gzip file of %zu bytes is too large to be an image", len);
		return ESPOTA_EIMAGE;
	}
	memset(&r, 0, offsetof(rd, prefix));
	r.buf = buf;
	r.len = len;
	r.gz = 1;
	r.zs.next_in = (unsigned char *)(uintptr_t)buf; /* zlib does not write through it */
	r.zs.avail_in = (uInt)len;
	zrc = inflateInit2(&r.zs, 16 + MAX_WBITS); /* gzip wrapper only */
	if (zrc != Z_OK) {
		detailf(out, "zlib: cannot initialise inflate");
		return zrc == Z_MEM_ERROR ? ESPOTA_ENOMEM : ESPOTA_ERROR;
	}
	r.zinit = 1;

	rc = gz_pull(&r, r.prefix, PREFIX_MAX, &got);
	r.prefix_len = got;
	if (rc == RD_BAD) {
		detailf(out, "%s", r.err);
		rc = ESPOTA_EIMAGE;
		goto done;
	}
	rc = parse_inner(out, &r);
	if (rd_total(&r, &total) != RD_OK) {
		detailf(out, "%s", r.err);
		rc = ESPOTA_EIMAGE;
		goto done;
	}
	out->info.inner_size = total;
	if (rc != ESPOTA_OK)
		goto done;

	tail = r.zs.avail_in;
	stream_end = len - tail;
	/* zlib has checked CRC-32 and ISIZE; eboot reads ISIZE from the last
	 * four bytes it stages, so check it explicitly as well. */
	if (stream_end < 4 || espota__le32(buf + stream_end - 4) != (uint32_t)total) {
		detailf(out, "inconsistent gzip ISIZE: trailer says %lu, inflated %llu bytes",
			stream_end >= 4 ? (unsigned long)espota__le32(buf + stream_end - 4) : 0UL,
			(unsigned long long)total);
		rc = ESPOTA_EIMAGE;
		goto done;
	}
	if (tail > 0 && !check_signed(out, tail, buf + len - 4) && out->detail[0] == '\0')
		detailf(out, "%zu bytes after the gzip stream", tail);
	if (out->info.app_end && total > out->info.app_end && out->detail[0] == '\0')
		detailf(out, "%llu inflated bytes after the end of the image",
			(unsigned long long)(total - out->info.app_end));
done:
	if (r.zinit)
		inflateEnd(&r.zs);
	return rc;
}

static int parse_into(struct espota_image *out, const unsigned char *buf, size_t len)
{
	memset(out, 0, sizeof(*out));
	out->info.struct_size = sizeof(out->info);
	out->info.checksum_ok = -1;
	out->info.file_size = len;
	out->info.inner_size = len;
	if (len == 0) {
		detailf(out, "empty file");
		return ESPOTA_OK;
	}
	if (len >= 2 && buf[0] == 0x1F && buf[1] == 0x8B)
		return parse_gzip(out, buf, len);
	return parse_raw(out, buf, len);
}

int espota__image_parse(struct espota_image *out, const unsigned char *buf, size_t len)
{
	if (buf == NULL && len > 0)
		return ESPOTA_EINVAL;
	return parse_into(out, buf, len);
}

int espota_image_parse(espota_image **out, const unsigned char *buf, size_t len)
{
	struct espota_image *img;
	int rc;

	if (espota__isnull(out))
		return ESPOTA_EINVAL;
	*out = NULL;
	if (buf == NULL && len > 0)
		return ESPOTA_EINVAL;
	if ((img = malloc(sizeof(*img))) == NULL)
		return ESPOTA_ENOMEM;
	rc = parse_into(img, buf, len);
	if (rc != ESPOTA_OK && rc != ESPOTA_EIMAGE) {
		free(img);
		return rc;
	}
	*out = img;
	return rc;
}

void espota_image_free(espota_image *img)
{
	free(img);
}

int espota_image_get_info(const espota_image *img, espota_image_info *out)
{
	if (espota__isnull(img) || espota__isnull(out))
		return ESPOTA_EINVAL;
	return espota__copy_sized(out, out->struct_size, &img->info, sizeof(img->info));
}

const char *espota_image_error(const espota_image *img)
{
	return img != NULL ? img->detail : "invalid image object";
}

size_t espota_image_segment_count(const espota_image *img)
{
	return img != NULL ? img->info.segment_count : 0;
}

const espota_image_segment *espota_image_segment_at(const espota_image *img, size_t i)
{
	if (img == NULL || i >= img->info.segment_count)
		return NULL;
	return &img->segments[i];
}
