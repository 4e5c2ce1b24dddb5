/*
 * espota_image_parse over synthetic images: every kind, and malformed input
 * (truncation at every length of the headers, wrong magic, absurd segment
 * sizes, corrupt gzip, zip bombs, ISIZE mismatch).
 */
#include "espota/errors.h"
#include "espota/image.h"
#include "fit_builders.h"
#include "test.h"

/* A parse as the tests read it: the facts (sized struct), the image
 * object's detail and its segments through the counted accessor. */
typedef struct {
	espota_image_info i;
	char detail[128];
	espota_image_segment segments[64];
	size_t nsegments;
} parsed;

static int parse(parsed *in, const unsigned char *buf, size_t len)
{
	espota_image *img = NULL;
	size_t k;
	int rc;

	memset(in, 0, sizeof(*in));
	in->i.struct_size = sizeof(in->i);
	rc = espota_image_parse(&img, buf, len);
	if (img == NULL) {
		ASSERT(rc != ESPOTA_OK && rc != ESPOTA_EIMAGE);
		return rc;
	}
	ASSERT_OK(espota_image_get_info(img, &in->i));
	snprintf(in->detail, sizeof(in->detail), "%s", espota_image_error(img));
	in->nsegments = espota_image_segment_count(img);
	ASSERT_EQ(in->nsegments, in->i.segment_count);
	ASSERT(in->nsegments <= 64);
	for (k = 0; k < in->nsegments; k++)
		in->segments[k] = *espota_image_segment_at(img, k);
	ASSERT(espota_image_segment_at(img, k) == NULL);
	espota_image_free(img);
	return rc;
}

static void test_arduino_329008(void)
{
	unsigned char *b = build_arduino(329008, 2, 3, 0);
	parsed in;

	ASSERT_OK(parse(&in, b, 329008));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_ESP8266_ARDUINO);
	ASSERT_STREQ(espota_image_kind_name(in.i.kind), "esp8266-arduino");
	ASSERT_EQ(in.i.platform, ESPOTA_PLATFORM_ESP8266);
	ASSERT_EQ(in.i.file_size, 329008);
	ASSERT_EQ(in.i.inner_size, 329008);
	ASSERT_EQ(in.i.gzip, 0);
	ASSERT_EQ(in.i.is_signed, 0);
	ASSERT_EQ(in.i.magic, 0xE9);
	ASSERT_EQ(in.i.flash_mode, 3);
	ASSERT_EQ(in.i.flash_size_code, 2);
	ASSERT_EQ(in.i.header_flash_size, 1048576);
	ASSERT_EQ(in.i.app_offset, 0x1000);
	ASSERT_EQ(in.i.segment_count, 5);
	ASSERT_EQ(in.segments[0].addr, 0x40201010u);
	ASSERT_EQ(in.segments[0].offset, 0x1000 + 16);
	ASSERT_EQ(in.i.app_end, 329008); /* == getSketchSize() */
	ASSERT_EQ(in.i.checksum_ok, 1);
	ASSERT_EQ(in.i.irom0_len, in.segments[0].len);
	ASSERT_EQ(in.i.entry, 0x40100000u);
	ASSERT_STREQ(in.detail, "");
	/* A flipped data byte breaks the checksum only. */
	b[0x1000 + 100] ^= 0x55;
	ASSERT_OK(parse(&in, b, 329008));
	ASSERT_EQ(in.i.checksum_ok, 0);
	free(b);
}

static void test_every_pad_length(void)
{
	/* Lengths whose segment data ends at every residue mod 16: app_end
	 * must stay (pos + 16) & ~15 and equal the built length. */
	size_t total;
	for (total = 0x1000 + 8192; total < 0x1000 + 8192 + 16 * 20; total += 16) {
		unsigned char *b = build_arduino(total, 4, 2, 0);
		parsed in;
		ASSERT_OK(parse(&in, b, total));
		ASSERT_EQ(in.i.app_end, total);
		ASSERT_EQ(in.i.checksum_ok, 1);
		ASSERT_EQ(in.i.header_flash_size, 4u << 20);
		free(b);
	}
}

static void test_bare(void)
{
	unsigned char *b = build_arduino(0x1000 + 20000, 2, 3, 0);
	parsed in;

	ASSERT_OK(parse(&in, b + 0x1000, 20000));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_ESP8266_BARE);
	ASSERT_EQ(in.i.app_offset, 0);
	ASSERT_EQ(in.i.app_end, 20000);
	ASSERT_EQ(in.i.segment_count, 5);
	ASSERT_EQ(in.i.checksum_ok, 1);
	free(b);
}

static void test_v2(void)
{
	/* 0xEA header + irom0 (addr 0), then a v1 image, then CRC-32. */
	static const uint32_t addr[] = { 0x40100000u, 0x3FFE8000u };
	static const uint32_t len[] = { 3000, 500 };
	unsigned char *b = calloc(1, 16384);
	parsed in;
	size_t end;

	b[0] = 0xEA;
	b[1] = 4;
	b[2] = 0;
	b[3] = 0x20;
	put32(b + 4, 0x40100000u);
	put32(b + 8, 0);
	put32(b + 12, 4096);
	end = put_v1(b + 16 + 4096, 8, addr, len, 2, 0, 0x20, 0x40100000u, 0);
	end += 16 + 4096 + 4;
	ASSERT_OK(parse(&in, b, end));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_ESP8266_V2);
	ASSERT_EQ(in.i.segment_count, 3);
	ASSERT_EQ(in.i.irom0_len, 4096);
	ASSERT_EQ(in.i.app_end, end);
	ASSERT_EQ(in.i.checksum_ok, 1);
	ASSERT_EQ(parse(&in, b, end - 5), ESPOTA_EIMAGE);
	free(b);
}

static void test_signed(void)
{
	unsigned char *b = build_arduino(329008, 2, 3, 0);
	parsed in;
	size_t n = add_signature(b, 329008, 256);

	ASSERT_EQ(n, 329268);
	ASSERT_OK(parse(&in, b, n));
	ASSERT_EQ(in.i.is_signed, 1);
	ASSERT_EQ(in.i.signature_len, 256);
	ASSERT_EQ(in.i.file_size, 329268);
	ASSERT_EQ(in.i.app_end, 329008);
	/* A trailer whose length does not match is reported, not trusted. */
	put32(b + n - 4, 255);
	ASSERT_OK(parse(&in, b, n));
	ASSERT_EQ(in.i.is_signed, 0);
	ASSERT_CONTAINS(in.detail, "260 bytes after the end");
	free(b);
}

static void test_gzip(void)
{
	unsigned char *b = build_arduino(329008, 4, 2, 1);
	size_t zn;
	unsigned char *z = gzip_buf(b, 329008, 300, &zn);
	parsed in;

	ASSERT(zn < 329008 / 4);
	ASSERT_OK(parse(&in, z, zn));
	ASSERT_EQ(in.i.gzip, 1);
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_ESP8266_ARDUINO);
	ASSERT_EQ(in.i.file_size, zn);
	ASSERT_EQ(in.i.inner_size, 329008);
	ASSERT_EQ(in.i.header_flash_size, 4u << 20);
	ASSERT_EQ(in.i.segment_count, 5);
	ASSERT_EQ(in.i.app_end, 329008);
	ASSERT_EQ(in.i.checksum_ok, 1);

	/* gzip + signed: the trailer follows the gzip stream. */
	{
		size_t sn = add_signature(z, zn, 256);
		ASSERT_OK(parse(&in, z, sn));
		ASSERT_EQ(in.i.gzip, 1);
		ASSERT_EQ(in.i.is_signed, 1);
		ASSERT_EQ(in.i.signature_len, 256);
		ASSERT_EQ(in.i.file_size, sn);
		ASSERT_EQ(in.i.inner_size, 329008);
	}
	free(z);
	free(b);
}

static void test_gzip_malformed(void)
{
	unsigned char *b = build_arduino(65536, 2, 3, 0);
	size_t zn, i;
	unsigned char *z = gzip_buf(b, 65536, 0, &zn);
	parsed in;

	/* Every truncation of the stream is an error, never a crash. */
	for (i = 0; i < zn; i += (i < 64 ? 1 : 97)) {
		int rc = parse(&in, z, i);
		if (i < 2) {
			ASSERT_OK(rc);
			continue;
		}
		ASSERT_EQ(rc, ESPOTA_EIMAGE);
		ASSERT(in.detail[0] != '\0');
	}
	/* Corrupt data in the middle. */
	z[zn / 2] ^= 0xFF;
	z[zn / 2 + 1] ^= 0xA5;
	ASSERT_EQ(parse(&in, z, zn), ESPOTA_EIMAGE);
	ASSERT_CONTAINS(in.detail, "gzip");
	z[zn / 2] ^= 0xFF;
	z[zn / 2 + 1] ^= 0xA5;
	ASSERT_OK(parse(&in, z, zn));
	/* ISIZE that does not match the data (zlib checks it too). */
	put32(z + zn - 4, 65536 + 16);
	ASSERT_EQ(parse(&in, z, zn), ESPOTA_EIMAGE);
	ASSERT_CONTAINS(in.detail, "gzip");
	free(z);
	free(b);
}

static void test_gzip_bomb(void)
{
	/* 64 MiB of zeros compress to ~64 KiB; the parser stops at 16 MiB. */
	size_t n = 64u << 20, zn;
	unsigned char *zeros = calloc(1, n);
	unsigned char *z;
	parsed in;

	ASSERT(zeros != NULL);
	zeros[0] = 0xE9; /* looks like an image header, with absurd segments */
	zeros[1] = 1;
	put32(zeros + 12, 0xFFFFFFF0u);
	z = gzip_buf(zeros, n, 0, &zn);
	ASSERT(zn < 200000);
	ASSERT_EQ(parse(&in, z, zn), ESPOTA_EIMAGE);
	ASSERT(strstr(in.detail, "zip bomb") != NULL || strstr(in.detail, "claims") != NULL);
	free(z);
	/* Plain zeros: not an image, but still more than 16 MiB inflated. */
	zeros[0] = 0;
	z = gzip_buf(zeros, n, 0, &zn);
	ASSERT_EQ(parse(&in, z, zn), ESPOTA_EIMAGE);
	ASSERT_CONTAINS(in.detail, "zip bomb");
	free(z);
	free(zeros);
}

static void test_truncated_and_absurd(void)
{
	unsigned char *b = build_arduino(20480, 2, 3, 0);
	parsed in;
	size_t i;

	/* Truncation at every header position and a sweep through the data. */
	for (i = 1; i < 20480; i += (i < 0x1100 ? 1 : 61)) {
		int rc = parse(&in, b, i);
		ASSERT(rc == ESPOTA_EIMAGE || rc == ESPOTA_OK);
		if (i >= 0x1000 + 64)
			ASSERT_EQ(rc, ESPOTA_EIMAGE);
	}
	ASSERT_OK(parse(&in, b, 20480));

	/* Absurd segment length in the app. */
	put32(b + 0x1000 + 12, 0xFFFFFFF0u);
	ASSERT_EQ(parse(&in, b, 20480), ESPOTA_EIMAGE);
	ASSERT_CONTAINS(in.detail, "segment 0 claims");
	free(b);

	b = build_arduino(20480, 2, 3, 0);
	b[0x1000 + 1] = 0; /* no segments */
	ASSERT_EQ(parse(&in, b, 20480), ESPOTA_EIMAGE);
	ASSERT_CONTAINS(in.detail, "segment count");
	b[0x1000 + 1] = 200;
	ASSERT_EQ(parse(&in, b, 20480), ESPOTA_EIMAGE);
	/* A bare image with an absurd count. */
	b[0x1000 + 1] = 5;
	b[0x1000] = 0; /* no app at 0x1000: walk the eboot image as bare */
	ASSERT_OK(parse(&in, b, 20480));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_ESP8266_BARE);
	ASSERT_CONTAINS(in.detail, "bytes after the end");
	free(b);

	/* Wrong magic: not an image, valid only as a filesystem. */
	{
		unsigned char junk[4096];
		memset(junk, 0x13, sizeof(junk));
		ASSERT_OK(parse(&in, junk, sizeof(junk)));
		ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_UNKNOWN);
		ASSERT_CONTAINS(in.detail, "not an application image");
		ASSERT_OK(parse(&in, junk, 0));
		ASSERT_EQ(parse(&in, NULL, 5), ESPOTA_EINVAL);
	}
}

static void test_random_mutations(void)
{
	/* Cheap fuzzing: headers and segment tables with random bytes. */
	unsigned char *b = build_arduino(8192 + 4096, 2, 3, 0);
	unsigned char *copy = malloc(8192 + 4096);
	uint32_t x = 12345;
	int round;

	for (round = 0; round < 3000; round++) {
		parsed in;
		int k, rc;
		memcpy(copy, b, 8192 + 4096);
		for (k = 0; k < 4; k++) {
			size_t pos;
			x = x * 1103515245u + 12345u;
			pos = (x >> 8) % 64;
			if (x & 1)
				pos += 0x1000;
			x = x * 1103515245u + 12345u;
			copy[pos] = (unsigned char)(x >> 16);
		}
		rc = parse(&in, copy, 8192 + 4096 - (round % 7));
		ASSERT(rc == ESPOTA_OK || rc == ESPOTA_EIMAGE);
		ASSERT(in.i.segment_count <= 16);
		ASSERT(memchr(in.detail, '\0', sizeof(in.detail)) != NULL);
	}
	free(copy);
	free(b);
}

static void test_esp32(void)
{
	unsigned char *b = build_esp32(1318256, 2, 0, 1);
	parsed in;

	ASSERT_OK(parse(&in, b, 1318256));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_ESP32_APP);
	ASSERT_EQ(in.i.platform, ESPOTA_PLATFORM_ESP32);
	ASSERT_EQ(in.i.chip_id, 0);
	ASSERT_EQ(in.i.hash_appended, 1);
	ASSERT_EQ(in.i.header_flash_size, 4u << 20); /* ESP32 code 2 = 4 MB */
	ASSERT_EQ(in.i.segment_count, 3);
	ASSERT_EQ(in.i.app_end, 1318256);
	ASSERT_EQ(in.i.checksum_ok, 1);
	ASSERT_EQ(parse(&in, b, 1318256 - 16), ESPOTA_EIMAGE);
	free(b);
	b = build_esp32(65536, 4, 9, 0); /* S3, 16 MB, no hash */
	ASSERT_OK(parse(&in, b, 65536));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_ESP32_APP);
	ASSERT_EQ(in.i.chip_id, 9);
	ASSERT_EQ(in.i.header_flash_size, 16u << 20);
	free(b);
}

static void test_partition_table_image(void)
{
	unsigned char t[0xC00];
	parsed in;

	memset(t, 0xFF, sizeof(t));
	t[0] = 0xAA; t[1] = 0x50; t[2] = 0; t[3] = 0x10;
	put32(t + 4, 0x10000); put32(t + 8, 0x140000);
	memcpy(t + 12, "app0", 4); memset(t + 16, 0, 12); put32(t + 28, 0);
	ASSERT_OK(parse(&in, t, sizeof(t)));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_ESP32_PARTITIONS);
	ASSERT_CONTAINS(in.detail, "1 partitions");
	t[32] = 0x12; /* garbage instead of the end marker */
	ASSERT_EQ(parse(&in, t, sizeof(t)), ESPOTA_EIMAGE);
}

static void test_filesystems(void)
{
	unsigned char *fs = malloc(65536);
	parsed in;

	/* LittleFS: superblock "littlefs" at offset 8 of block 0. */
	memset(fs, 0xFF, 65536);
	memset(fs, 0, 64);
	memcpy(fs + 8, "littlefs", 8);
	ASSERT_OK(parse(&in, fs, 65536));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_LITTLEFS);
	/* ... or of block 1 (block 0 being rewritten). */
	memset(fs, 0xFF, 64);
	memcpy(fs + 4096 + 8, "littlefs", 8);
	ASSERT_OK(parse(&in, fs, 65536));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_LITTLEFS);

	/* SPIFFS: lookup page entries matching the page headers. */
	memset(fs, 0xFF, 65536);
	fs[0] = 0x01; fs[1] = 0x80; /* page 1: index page of object 1 */
	fs[2] = 0x01; fs[3] = 0x00; /* page 2: data page of object 1 */
	fs[256] = 0x01; fs[257] = 0x80; fs[260] = 0xF8; /* used, final, index */
	fs[512] = 0x01; fs[513] = 0x00; fs[516] = 0xFC; /* used, final, data */
	ASSERT_OK(parse(&in, fs, 65536));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_SPIFFS);
	ASSERT_EQ(in.i.platform, ESPOTA_PLATFORM_UNKNOWN);
	fs[513] = 0x07; /* contradiction: not SPIFFS */
	ASSERT_OK(parse(&in, fs, 65536));
	ASSERT_EQ(in.i.kind, ESPOTA_IMAGE_UNKNOWN);
	free(fs);
}

static void test_flash_size_codes(void)
{
	ASSERT_EQ(espota_esp8266_flash_size(0), 524288);
	ASSERT_EQ(espota_esp8266_flash_size(1), 262144);
	ASSERT_EQ(espota_esp8266_flash_size(2), 1048576);
	ASSERT_EQ(espota_esp8266_flash_size(3), 2097152);
	ASSERT_EQ(espota_esp8266_flash_size(4), 4194304);
	ASSERT_EQ(espota_esp8266_flash_size(5), 0);
	ASSERT_EQ(espota_esp8266_flash_size(6), 0);
	ASSERT_EQ(espota_esp8266_flash_size(7), 0);
	ASSERT_EQ(espota_esp8266_flash_size(8), 8388608);
	ASSERT_EQ(espota_esp8266_flash_size(9), 16777216);
	ASSERT_EQ(espota_esp8266_flash_size(10), 0);
	ASSERT_EQ(espota_esp32_flash_size(0), 1048576);
	ASSERT_EQ(espota_esp32_flash_size(7), 128u << 20);
	ASSERT_EQ(espota_esp32_flash_size(8), 0);
	ASSERT_EQ(espota_image_header_size(), ESPOTA_IMAGE_HEADER_SIZE);
}

TEST_LIST_BEGIN
	TEST_ENTRY(test_arduino_329008)
	TEST_ENTRY(test_every_pad_length)
	TEST_ENTRY(test_bare)
	TEST_ENTRY(test_v2)
	TEST_ENTRY(test_signed)
	TEST_ENTRY(test_gzip)
	TEST_ENTRY(test_gzip_malformed)
	TEST_ENTRY(test_gzip_bomb)
	TEST_ENTRY(test_truncated_and_absurd)
	TEST_ENTRY(test_random_mutations)
	TEST_ENTRY(test_esp32)
	TEST_ENTRY(test_partition_table_image)
	TEST_ENTRY(test_filesystems)
	TEST_ENTRY(test_flash_size_codes)
TEST_LIST_END
