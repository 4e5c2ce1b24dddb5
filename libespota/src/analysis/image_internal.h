/*
 * Internal helpers shared by the image, flash-fit and partition modules.
 */
#ifndef ESPOTA_SRC_IMAGE_INTERNAL_H
#define ESPOTA_SRC_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "espota/flashfit.h"
#include "espota/image.h"
#include "util/util.h"

/* Segments an ESP image header can count (a 4-bit field in practice;
 * esptool writes at most 16). */
#define ESPOTA__IMAGE_MAX_SEGMENTS 16

/* A parsed image: the public facts, its segments and its detail. */
struct espota_image {
	espota_image_info info;
	espota_image_segment segments[ESPOTA__IMAGE_MAX_SEGMENTS];
	char detail[128];
};

/* Partitions in a table: the binary form at 0x8000 holds 0xC00 / 32 = 96
 * entries; gen_esp32part.py tables in practice stay far below 32. */
#define ESPOTA__PARTITIONS_MAX 96

struct espota_partition_table {
	char name[32];    /* scheme name or "custom" */
	unsigned int count;
	espota_partition entries[ESPOTA__PARTITIONS_MAX];
	char detail[128]; /* why the last parse failed, "" after a success */
};

/* Parse into caller storage; the reason of a failure goes to `err`. */
int espota__partitions_parse_csv(struct espota_partition_table *out, const char *text, size_t len,
	char *err, size_t errlen);
int espota__partitions_parse_bin(struct espota_partition_table *out, const unsigned char *buf, size_t len,
	char *err, size_t errlen);
int espota__partitions_builtin(struct espota_partition_table *out, const char *name);

/* Parse into caller storage (no allocation): the library's own callers. */
int espota__image_parse(struct espota_image *out, const unsigned char *buf, size_t len);

/* The Updater rounds every size up to a 4 KiB flash sector. */
#define ESPOTA__SECTOR 4096u

static inline uint64_t espota__ceil4k(uint64_t x)
{
	/* x is at most a file size; no realistic value comes near overflow,
	 * but saturate instead of wrapping anyway. */
	if (x > UINT64_MAX - (ESPOTA__SECTOR - 1))
		return UINT64_MAX & ~(uint64_t)(ESPOTA__SECTOR - 1);
	return (x + ESPOTA__SECTOR - 1) & ~(uint64_t)(ESPOTA__SECTOR - 1);
}

static inline uint64_t espota__floor4k(uint64_t x)
{
	return x & ~(uint64_t)(ESPOTA__SECTOR - 1);
}

/*
 * NULL test for arguments declared ESPOTA_NONNULL: the attribute lets the
 * compiler delete a plain `p == NULL` (and GCC warns about it), but
 * bindings can still pass NULL, so launder the pointer through an empty asm.
 */
static inline int espota__isnull(const void *p)
{
#if defined(__GNUC__)
	__asm__("" : "+r"(p));
#endif
	return p == NULL;
}

/* Little-endian loads from a byte buffer the caller has bounds-checked. */
static inline uint32_t espota__le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint16_t espota__le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Built-in ESP32 partition schemes, for advice ("a scheme with larger app
 * slots"): name of scheme i, NULL past the end. */
const char *espota__partitions_builtin_name(size_t i);
/* The static spelling of built-in scheme `name`, NULL if none. */
const char *espota__partitions_builtin_name_of(const char *name);
/* Copy a caller's fit device of any version (1 ends before `assumed`) into a
 * full one: the later fields keep their defaults. `src->version` is valid. */
struct espota_fit_device;
void espota__fit_device_copy(struct espota_fit_device *dst, const struct espota_fit_device *src);

/* Flash size a partition table needs: the end of its last partition
 * rounded up to a power of two (at least 1 MB). */
uint64_t espota__partitions_flash_size(const espota_partition_table *t);


#endif
