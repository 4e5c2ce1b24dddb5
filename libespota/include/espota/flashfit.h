/*
 * libespota - flash-fit: will the device's Updater accept this image?
 *
 * Predicts, before any byte is sent, what the device's Updater will do with
 * an image (flashfit.md sections 2, 3 and 4): whether it fits, the maximum
 * size, by how much it must shrink, which device error it would raise and
 * when, which user mistake is being made, and what to do. Facts about the
 * device that are not known are stated as assumptions in the report, never
 * silently guessed.
 *
 * Pure: no I/O, no allocation, thread-safe. Layout and board tables are
 * static and read-only.
 */
#ifndef INCLUDE_espota_flashfit_h__
#define INCLUDE_espota_flashfit_h__

#include "common.h"
#include "image.h"
#include "session.h"

ESPOTA_BEGIN_DECL

/** A standard ESP8266 flash layout (one eagle.flash.*.ld script). */
typedef struct espota_layout {
	const char *name;        /**< menu name: "1M64", "4M2M", ... */
	const char *ld_script;   /**< "eagle.flash.1m64.ld" */
	uint32_t flash_size;     /**< bytes */
	uint32_t fs_start;       /**< flash offset of _FS_start */
	uint32_t fs_end;         /**< flash offset of _FS_end (== fs_start: no filesystem) */
	uint32_t fs_block;       /**< filesystem block size, 0 without filesystem */
	uint32_t irom0_max;      /**< irom0 region length (upload.maximum_size) */
} espota_layout;

/** Number of standard layouts. */
ESPOTA_EXTERN(size_t) espota_layout_count(void);
/** Layout `i` (0-based), or NULL when out of range. */
ESPOTA_EXTERN(const espota_layout *) espota_layout_at(size_t i);
/** Find a layout by menu name ("1m64", case-insensitive) or ld script name; NULL if none. */
ESPOTA_EXTERN(const espota_layout *) espota_layout_find(const char *name);

/** A board alias with the defaults of the Arduino IDE or PlatformIO. */
typedef struct espota_board {
	const char *name;        /**< "esp8285", "nodemcuv2", "esp32dev", ... */
	const char *description;
	espota_platform platform;
	uint32_t flash_size;     /**< chip size */
	const char *layout;      /**< default ESP8266 layout name, or ESP32 partition scheme name */
	uint8_t flash_mode;
	/* Added with the generated board database (tools/gen-boards). */
	const char *chip;        /**< "esp8266", "esp32", "esp32s3", ... (build.mcu) */
	const char *origin;      /**< "ide" (Arduino IDE boards.txt) or "pio:<core board>" (PlatformIO) */
	const char *offered;     /**< layouts or schemes the board offers, space separated, default first */
} espota_board;

/** Number of boards in the database (IDE and PlatformIO ids). */
ESPOTA_EXTERN(size_t) espota_board_count(void);
ESPOTA_EXTERN(const espota_board *) espota_board_at(size_t i);
/**
 * Find a board by any of its names, case-insensitive: IDE id ("d1_mini"),
 * PlatformIO id ("esp12e"), the value a device announces in its mDNS TXT
 * `board` ("ESP8266_WEMOS_D1MINI", "PLATFORMIO_D1_MINI"). NULL if none.
 */
ESPOTA_EXTERN(const espota_board *) espota_board_find(const char *name);
/** Number of aliases (names other than the ids). */
ESPOTA_EXTERN(size_t) espota_board_alias_count(void);
/** Alias `i` and, in `*board`, the board it names; NULL when out of range. */
ESPOTA_EXTERN(const char *) espota_board_alias_at(size_t i, const espota_board **board);
/**
 * The known board name closest to `name` (for "did you mean ...?"), or NULL
 * when nothing is close. Never returns an exact match's own spelling only
 * differing in case: for that espota_board_find succeeds.
 */
ESPOTA_EXTERN(const char *) espota_board_suggest(const char *name);

/** One partition; library-owned (espota_partition_table_at()), fields only appended. */
typedef struct espota_partition {
	char label[17];
	uint8_t type;     /**< 0 app, 1 data */
	uint8_t subtype;  /**< app: 0x00 factory, 0x10+n ota_n; data: 0x82 spiffs, 0x83 littlefs, 0x81 fat, ... */
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
} espota_partition;

/** An ESP32 partition table (opaque, library-owned; free with espota_partition_table_free()). */
typedef struct espota_partition_table espota_partition_table;

/**
 * Parse an ESP32 partition table in CSV (gen_esp32part.py syntax).
 * On ESPOTA_OK and on a parse error (ESPOTA_EIMAGE) `*out` is a new table
 * object: after an error it holds no partitions and espota_partition_table_error()
 * says what is wrong. ESPOTA_ENOMEM and NULL arguments leave `*out` NULL.
 */
ESPOTA_EXTERN(int) espota_partition_table_parse_csv(espota_partition_table **out,
	const char *text, size_t len) ESPOTA_NONNULL(1, 2);
/** Parse a binary ESP32 partition table (0x50AA entries); as espota_partition_table_parse_csv(). */
ESPOTA_EXTERN(int) espota_partition_table_parse_bin(espota_partition_table **out,
	const unsigned char *buf, size_t len) ESPOTA_NONNULL(1, 2);
/** A built-in arduino-esp32 scheme ("default", "min_spiffs", "huge_app", ...); an
 * unknown name gives ESPOTA_EINVAL with the detail on the returned object. */
ESPOTA_EXTERN(int) espota_partition_table_builtin(espota_partition_table **out, const char *name)
	ESPOTA_NONNULL(1, 2);
/** Free a table; NULL is ignored. */
ESPOTA_EXTERN(void) espota_partition_table_free(espota_partition_table *table);
/** Why the last parse into this table failed; "" after a success. Never NULL. */
ESPOTA_EXTERN(const char *) espota_partition_table_error(const espota_partition_table *table);
/** Scheme name or "custom". Never NULL. */
ESPOTA_EXTERN(const char *) espota_partition_table_name(const espota_partition_table *table);
/** Number of partitions. */
ESPOTA_EXTERN(size_t) espota_partition_table_count(const espota_partition_table *table);
/** Partition `i` (0-based), or NULL when out of range. Valid while the table lives. */
ESPOTA_EXTERN(const espota_partition *) espota_partition_table_at(const espota_partition_table *table, size_t i);

/** What is known about the device that will receive the image. */
typedef struct espota_fit_device {
	unsigned int version;              /**< ESPOTA_FIT_DEVICE_VERSION */
	espota_platform platform;          /**< UNKNOWN: taken from the image */
	espota_target target;              /**< app or filesystem upload */
	const espota_layout *layout;       /**< ESP8266: layout of the RUNNING firmware; NULL = unknown */
	const espota_partition_table *partitions; /**< ESP32: partition table; NULL = unknown */
	uint64_t chip_size;                /**< real (JEDEC) flash size; 0 = unknown (layout size assumed) */
	uint64_t device_header_size;       /**< flash size in the header now on the device; 0 = unknown */
	uint64_t running_size;             /**< running sketch size S; 0 = unknown (same as the new image assumed) */
	int flash_map;                     /**< running firmware built with FLASH_MAP_SUPPORT */
	int atomic_fs;                     /**< running firmware built with ATOMIC_FS_UPDATE */
	uint32_t signing_len;              /**< running firmware verifies signatures of this length; 0 = no */
	int gzip_support;                  /**< 1 yes, 0 no, -1 unknown (core >= 2.7 on the device) */
	/* Version 2: the preflight policy (device.h). */
	unsigned int assumed;              /**< ESPOTA_DEVICE_ASSUMED_*: which of the facts above are board defaults */
	const espota_board *board;         /**< board the defaults came from, or NULL */
	int strict;                        /**< preflight: refuse on assumptions too (CI) */
} espota_fit_device;

#define ESPOTA_FIT_DEVICE_VERSION 2
#define ESPOTA_FIT_DEVICE_INIT { ESPOTA_FIT_DEVICE_VERSION, ESPOTA_PLATFORM_UNKNOWN, ESPOTA_TARGET_APP, NULL, NULL, 0, 0, 0, 0, 0, 0, -1, 0, NULL, 0 }
ESPOTA_EXTERN(int) espota_fit_device_init(espota_fit_device *dev, unsigned int version);

/** Overall verdict. */
typedef enum espota_fit_verdict {
	ESPOTA_FIT_OK = 0,      /**< the Updater will accept it */
	ESPOTA_FIT_WARN = 1,    /**< accepted, but something is wrong (e.g. locks out future OTA) */
	ESPOTA_FIT_FAIL = 2,    /**< the device will refuse it, or would take it and not boot */
	ESPOTA_FIT_UNKNOWN = 3  /**< not enough facts to decide */
} espota_fit_verdict;

/** When the predicted device error happens. */
typedef enum espota_fit_when {
	ESPOTA_FIT_WHEN_NONE = 0,
	ESPOTA_FIT_WHEN_BEFORE_DATA = 1, /**< in begin(), before any byte is sent (errors 4, 5, 8, 10 on ESP32) */
	ESPOTA_FIT_WHEN_FIRST_BLOCK = 2, /**< ESP32: at the first 4 KiB flush (8, 13) */
	ESPOTA_FIT_WHEN_AFTER_UPLOAD = 3, /**< in end(), after the whole upload (9, 10, 12) */
	ESPOTA_FIT_WHEN_DURING_UPLOAD = 4 /**< while writing (1, 2: e.g. a layout beyond the chip; not confirmed from source) */
} espota_fit_when;

/** User mistakes recognised (bit flags). */
#define ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS    (1u << 0) /**< app image sent as a filesystem (-s) */
#define ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE    (1u << 1) /**< non-app data sent as firmware */
#define ESPOTA_FIT_MISTAKE_DEVICE_HEADER     (1u << 2) /**< device header claims more flash than the chip (error 8) */
#define ESPOTA_FIT_MISTAKE_IMAGE_HEADER      (1u << 3) /**< new image claims more flash than the chip (error 9) */
#define ESPOTA_FIT_MISTAKE_WRONG_PLATFORM    (1u << 4) /**< ESP32 image to ESP8266 or the reverse */
#define ESPOTA_FIT_MISTAKE_TOO_BIG           (1u << 5) /**< larger than the space the Updater allows */
#define ESPOTA_FIT_MISTAKE_GZIP_UNSUPPORTED  (1u << 6) /**< gzip to a device without gzip support */
#define ESPOTA_FIT_MISTAKE_NOT_SIGNED        (1u << 7) /**< signing device, no valid trailer */
#define ESPOTA_FIT_MISTAKE_NO_OTA_SLOT       (1u << 8) /**< ESP32 table without a second app slot */
#define ESPOTA_FIT_MISTAKE_LAYOUT_BEYOND_CHIP (1u << 9) /**< running layout addresses flash the chip does not have */
#define ESPOTA_FIT_MISTAKE_WRONG_FORMAT      (1u << 10) /**< an app image the Updater cannot take (ESP8266 v2 / 0xEA) */

/** Assumptions made for unknown facts (bit flags). */
#define ESPOTA_FIT_ASSUME_RUNNING_SIZE   (1u << 0) /**< running sketch assumed as large as the new image */
#define ESPOTA_FIT_ASSUME_CHIP_SIZE      (1u << 1) /**< chip size assumed equal to the layout's */
#define ESPOTA_FIT_ASSUME_DEVICE_HEADER  (1u << 2) /**< device header assumed correct (no error 8) */
#define ESPOTA_FIT_ASSUME_LAYOUT         (1u << 3) /**< layout unknown: size limits not checked */
#define ESPOTA_FIT_ASSUME_GZIP_SUPPORT   (1u << 4) /**< device assumed to run core >= 2.7 */
#define ESPOTA_FIT_ASSUME_PLATFORM       (1u << 5) /**< platform unknown: ESP8266 assumed */
#define ESPOTA_FIT_ASSUME_RUNNING_PARTITION (1u << 6) /**< ESP32: running from the factory app assumed */

/** Warnings: accepted, but something is wrong (bit flags). */
#define ESPOTA_FIT_WARN_GZIP_LOCKOUT     (1u << 0) /**< gzip image with a too-big header: later OTAs fail with error 8 */
#define ESPOTA_FIT_WARN_GZIP_OVERLAP     (1u << 1) /**< inflated size > FS_start - ceil4k(N) (derived rule, not checked by the device) */
#define ESPOTA_FIT_WARN_IROM0            (1u << 2) /**< irom0 segment larger than the layout's irom0 window */
#define ESPOTA_FIT_WARN_FIRMWARE_AS_FS   (1u << 3) /**< fits, but an app image overwrites the filesystem */
#define ESPOTA_FIT_WARN_LAST_OTA_SLOT    (1u << 4) /**< ESP32: after this update no further OTA is possible */
#define ESPOTA_FIT_WARN_HEADER_SIZE_CODE (1u << 5) /**< image size code the Updater does not understand (checks pass vacuously) */

#define ESPOTA_FIT_TEXT_SIZE 1024

/**
 * The fit check's report. The caller owns the struct and sets
 * `struct_size` to sizeof(espota_fit_report) (ESPOTA_FIT_REPORT_INIT does);
 * the library fills and reads only the first `struct_size` bytes. Fields
 * are only appended.
 */
typedef struct espota_fit_report {
	size_t struct_size;        /**< set by the caller: sizeof(espota_fit_report) */
	espota_fit_verdict verdict;
	int device_error;          /**< predicted Updater error number, 0 if none */
	const char *device_error_text; /**< its canonical text, "" if none */
	espota_fit_when when;
	uint32_t mistakes;         /**< ESPOTA_FIT_MISTAKE_* */
	uint32_t assumptions;      /**< ESPOTA_FIT_ASSUME_* */
	uint64_t size;             /**< bytes that will be uploaded (N) */
	uint64_t limit;            /**< largest N the Updater accepts here (0 if unknown) */
	int64_t margin;            /**< limit - N when it fits (>= 0); negative = overshoot */
	uint64_t shrink_by;        /**< bytes to remove for it to fit (0 if it fits) */
	uint64_t same_size_limit;  /**< steady-state limit (running == new size), 0 if n/a */
	char summary[256];         /**< one line */
	char advice[ESPOTA_FIT_TEXT_SIZE]; /**< what to do, possibly several lines */
	/* Added after the first draft of this header. */
	int64_t same_size_margin;  /**< same_size_limit - N (negative: a same-size update cannot fit); 0 if n/a */
	uint32_t warnings;         /**< ESPOTA_FIT_WARN_* */
} espota_fit_report;

#define ESPOTA_FIT_REPORT_INIT { sizeof(espota_fit_report), ESPOTA_FIT_OK, 0, NULL, ESPOTA_FIT_WHEN_NONE, \
	0, 0, 0, 0, 0, 0, 0, "", "", 0, 0 }

/**
 * Run the fit check of `img` (from espota_image_get_info(), or filled by
 * hand) against `dev`. `out->struct_size` and `img->struct_size` must be set.
 * Returns ESPOTA_OK when a report was produced (whatever its verdict),
 * ESPOTA_EINVAL for bad arguments.
 */
ESPOTA_EXTERN(int) espota_fit_check(espota_fit_report *out, const espota_image_info *img,
	const espota_fit_device *dev) ESPOTA_NONNULL(1, 2, 3);

/** Static name of a verdict ("fits", "warning", "refused", "unknown"). */
ESPOTA_EXTERN(const char *) espota_fit_verdict_name(espota_fit_verdict v);

/**
 * Write a human-readable multi-line report (image facts, assumptions,
 * verdict, advice) into `buf`. Returns the length it needed (snprintf-like),
 * or a negative error code.
 */
ESPOTA_EXTERN(int) espota_fit_report_format(char *buf, size_t buflen, const espota_image_info *img,
	const espota_fit_device *dev, const espota_fit_report *report) ESPOTA_NONNULL(3, 4, 5);

/**
 * The report of the flash-fit preflight that the last upload on `session`
 * ran (when its options had `fit` set), or NULL. Valid until the next
 * upload on the session; useful after ESPOTA_ENOFIT.
 */
ESPOTA_EXTERN(const espota_fit_report *) espota_session_fit_report(const espota_session *session);

ESPOTA_END_DECL

#endif
