/*
 * The app image check that esp_ota_set_boot_partition() runs before it
 * switches the boot slot (ESP-IDF esp_image_verify(ESP_IMAGE_VERIFY), app
 * build, no secure boot). Written for the sim from the image format; it
 * shares no code with the library's image parser.
 *
 * Layout: a 24-byte header (magic, segment count, flash mode, size/freq,
 * entry, then the extended header: wp pin, drive settings, chip id at 12,
 * revisions, reserved, hash_appended at 23), `count` segments of an 8-byte
 * header (load address, length) plus data, zero padding so that the
 * checksum byte ends a 16-byte block, and a SHA-256 of all of that when
 * hash_appended is set.
 *
 * The device reads the image back from flash. Beyond the bytes the upload
 * wrote, flash holds erased or stale data, which the sim treats as "not a
 * valid continuation": a walk that leaves the received bytes fails.
 */
#include "sim.h"

#include <string.h>

#define HDR_LEN 24u
#define SEG_HDR_LEN 8u
#define MAX_SEGMENTS 16u
#define SIXTEEN_MB 0x1000000u

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int esp32_image_verify(const unsigned char *img, size_t len, uint32_t part_size,
		       unsigned chip_id, char *why, size_t whysz)
{
	if (part_size > SIXTEEN_MB) {
		snprintf(why, whysz, "partition size 0x%x larger than 16 MB", part_size);
		return -1;
	}
	if (len < HDR_LEN) {
		snprintf(why, whysz, "image shorter than the 24-byte header");
		return -1;
	}
	if (img[0] != 0xE9) {
		snprintf(why, whysz, "invalid magic byte 0x%02x", img[0]);
		return -1;
	}
	unsigned id = (unsigned)img[12] | (unsigned)img[13] << 8;
	if (id != chip_id) {
		snprintf(why, whysz, "chip id %u in the image, the device is %u", id, chip_id);
		return -1;
	}
	unsigned count = img[1];
	if (count > MAX_SEGMENTS) {
		snprintf(why, whysz, "segment count %u exceeds %u", count, MAX_SEGMENTS);
		return -1;
	}

	/* segment walk; the checksum is the XOR of every data byte, seeded
	 * with 0xEF (the device XORs 32-bit words and folds the 4 bytes,
	 * which is the same value because every length is a multiple of 4) */
	uint64_t pos = HDR_LEN;
	unsigned char sum = 0xEF;
	for (unsigned i = 0; i < count; i++) {
		if (pos + SEG_HDR_LEN > len) {
			snprintf(why, whysz, "segment %u header at %llu is beyond the %zu received bytes",
				 i, (unsigned long long)pos, len);
			return -1;
		}
		uint32_t seg_len = rd32(img + pos + 4);
		if (seg_len % 4 || seg_len >= SIXTEEN_MB) {
			snprintf(why, whysz, "segment %u has an invalid length 0x%x", i, seg_len);
			return -1;
		}
		pos += SEG_HDR_LEN;
		if (pos + seg_len > len) {
			snprintf(why, whysz, "segment %u (%u bytes at %llu) runs past the %zu received bytes",
				 i, seg_len, (unsigned long long)pos, len);
			return -1;
		}
		for (uint32_t k = 0; k < seg_len; k++)
			sum ^= img[pos + k];
		pos += seg_len;
	}

	/* the checksum byte ends the 16-byte block after the segments */
	uint64_t end = (pos + 1 + 15) & ~(uint64_t)15;
	if (end > len) {
		snprintf(why, whysz, "checksum byte at %llu is beyond the %zu received bytes",
			 (unsigned long long)(end - 1), len);
		return -1;
	}
	if (img[end - 1] != sum) {
		snprintf(why, whysz, "checksum failed: calculated 0x%02x, read 0x%02x", sum, img[end - 1]);
		return -1;
	}

	if (img[23]) {
		/* the digest covers everything before it */
		if (end + 32 > len) {
			snprintf(why, whysz, "appended SHA-256 at %llu is beyond the %zu received bytes",
				 (unsigned long long)end, len);
			return -1;
		}
		unsigned char digest[32];
		sha256_bin(img, (size_t)end, digest);
		end += 32;
		if (end > part_size) {
			snprintf(why, whysz, "image length %llu does not fit in the %u-byte partition",
				 (unsigned long long)end, part_size);
			return -1;
		}
		if (memcmp(digest, img + end - 32, 32) != 0) {
			snprintf(why, whysz, "appended SHA-256 does not match the image");
			return -1;
		}
	} else if (end > part_size) {
		snprintf(why, whysz, "image length %llu does not fit in the %u-byte partition",
			 (unsigned long long)end, part_size);
		return -1;
	}
	why[0] = '\0';
	return 0;
}
