/*
 * libespota - device policy: what the front ends (CLI, Python, Lua) used to
 * decide each on their own.
 *
 * - describe a device from a board name (any alias), an ESP8266 layout, an
 *   ESP32 scheme or partition table (CSV or binary), recording which facts
 *   are the board's defaults rather than given;
 * - the preflight policy: refuse only on facts; what rests on an assumption
 *   is a warning with the figure assumed (or a refusal in strict mode);
 * - sizes ("1M", "512K", "0x100000"), platform and auth scheme names.
 *
 * Pure: no I/O, no allocation, thread-safe.
 */
#ifndef INCLUDE_espota_device_h__
#define INCLUDE_espota_device_h__

#include "common.h"
#include "image.h"
#include "flashfit.h"
#include "upload.h"

ESPOTA_BEGIN_DECL

/** espota_fit_device::assumed: facts that are a board's defaults. */
#define ESPOTA_DEVICE_ASSUMED_LAYOUT  (1u << 0) /**< ESP8266 layout: the board's default, it offers others */
#define ESPOTA_DEVICE_ASSUMED_SCHEME  (1u << 1) /**< ESP32 scheme: the board's default (none given) */
#define ESPOTA_DEVICE_ASSUMED_CHIP    (1u << 2) /**< chip size: the board's flash size, not measured */
#define ESPOTA_DEVICE_UNKNOWN_BOARD   (1u << 3) /**< the board name is not in the database */

/** What the caller knows about the device (every field optional). */
typedef struct espota_device_spec {
	unsigned int version;          /**< ESPOTA_DEVICE_SPEC_VERSION */
	const char *board;             /**< any board name or alias; NULL = none */
	const char *layout;            /**< ESP8266 layout ("1M64", "eagle.flash.4m2m.ld") */
	const char *scheme;            /**< ESP32 built-in scheme ("min_spiffs") */
	const unsigned char *partitions; /**< ESP32 partition table, CSV text or binary; NULL = none */
	size_t partitions_len;
	espota_platform platform;      /**< UNKNOWN: from the board, layout, scheme or image */
	espota_target target;
	uint64_t chip_size;            /**< 0 = unknown */
	uint64_t device_header_size;   /**< 0 = unknown */
	uint64_t running_size;         /**< 0 = unknown */
	int flash_map;
	int gzip_support;              /**< 1, 0, -1 unknown */
	int strict;                    /**< preflight refuses on assumptions too */
} espota_device_spec;

#define ESPOTA_DEVICE_SPEC_VERSION 1
#define ESPOTA_DEVICE_SPEC_INIT { ESPOTA_DEVICE_SPEC_VERSION, NULL, NULL, NULL, NULL, 0, \
	ESPOTA_PLATFORM_UNKNOWN, ESPOTA_TARGET_APP, 0, 0, 0, 0, -1, 0 }
ESPOTA_EXTERN(int) espota_device_spec_init(espota_device_spec *spec, unsigned int version);

/** A described device; release its table with espota_device_clear(). */
typedef struct espota_device {
	espota_fit_device fit;         /**< for espota_fit_check, espota_preflight_run, upload options */
	espota_partition_table *parts; /**< the ESP32 table fit.partitions points to (owned), or NULL */
	int given;                     /**< a board, layout, scheme or table was given */
	char note[256];                /**< a warning for the user ("unknown board ...; did you mean ...?"), or "" */
} espota_device;

/** Free what espota_device_describe() allocated (NULL-safe; the struct may be described again). */
ESPOTA_EXTERN(void) espota_device_clear(espota_device *dev);

/**
 * Describe a device (`out` is overwritten: clear it first if it held a
 * description). Explicit layout/scheme/partitions/sizes win over the
 * board's defaults. An unknown board is not an error: the note says so
 * (with a near-miss suggestion) and fit.assumed has
 * ESPOTA_DEVICE_UNKNOWN_BOARD. Returns ESPOTA_OK, or ESPOTA_EINVAL with a
 * message in `err` for an unknown layout or scheme or a malformed table.
 */
ESPOTA_EXTERN(int) espota_device_describe(espota_device *out, const espota_device_spec *spec,
	char *err, size_t errlen) ESPOTA_NONNULL(1, 2);

/** Preflight decision. */
typedef enum espota_preflight_decision {
	ESPOTA_PREFLIGHT_SEND = 0,   /**< send */
	ESPOTA_PREFLIGHT_WARN = 1,   /**< send, with warnings */
	ESPOTA_PREFLIGHT_REFUSE = 2  /**< do not send (unless forced) */
} espota_preflight_decision;

#define ESPOTA_PREFLIGHT_TEXT_SIZE 1024

typedef struct espota_preflight {
	espota_fit_report report;      /**< the fit check under the facts and assumptions stated */
	espota_preflight_decision decision;
	int on_facts;                  /**< REFUSE: the facts alone refuse it; 0: strict mode refused a warning */
	uint64_t running_size_max;     /**< rests on the running sketch: fits when it is at most this many bytes; 0 n/a */
	const char *fits_with;         /**< rests on the layout/scheme: the first offered one it fits, or NULL */
	char warnings[ESPOTA_PREFLIGHT_TEXT_SIZE]; /**< one line per warning, each with the figure assumed */
} espota_preflight;

/**
 * Run the fit check of `img` against `dev` and decide: refuse only when the
 * facts decide it (it would fail even with the most favourable value of
 * every assumed fact: running sketch size, the board's other layouts or
 * schemes, the chip size); otherwise warn and send. dev->strict turns
 * warnings into refusals. Returns ESPOTA_OK or ESPOTA_EINVAL.
 */
ESPOTA_EXTERN(int) espota_preflight_run(espota_preflight *out, const espota_image_info *img,
	const espota_fit_device *dev) ESPOTA_NONNULL(1, 2, 3);

/** "send", "warn", "refuse". */
ESPOTA_EXTERN(const char *) espota_preflight_decision_name(espota_preflight_decision d);

/**
 * Parse a size: bytes in decimal or 0x hex, or a number with a K, M or G
 * suffix (binary units, optional "i" and "B": "4M", "4MB", "512KiB", "1.5M").
 * Surrounding spaces are ignored. Returns ESPOTA_OK or ESPOTA_EINVAL.
 */
ESPOTA_EXTERN(int) espota_size_parse(const char *s, uint64_t *out) ESPOTA_NONNULL(2);

/** Name of built-in ESP32 partition scheme `i` (0-based), NULL past the end. */
ESPOTA_EXTERN(const char *) espota_partition_scheme_at(size_t i);

/** "esp8266", "esp32", or "unknown". */
ESPOTA_EXTERN(const char *) espota_platform_name(espota_platform p);
/** Parse "esp8266"/"esp32" (also "esp8285", "esp32s3", ...: the chip family). ESPOTA_EINVAL if not. */
ESPOTA_EXTERN(int) espota_platform_parse(const char *name, espota_platform *out) ESPOTA_NONNULL(2);
/** The platform an image's kind implies for an upload, or UNKNOWN (filesystem images say nothing). */
ESPOTA_EXTERN(espota_platform) espota_image_platform(const espota_image_info *img);
/** "none", "md5", "pbkdf2-sha256", "pbkdf2-md5". */
ESPOTA_EXTERN(const char *) espota_auth_scheme_name(espota_auth_scheme s);

ESPOTA_END_DECL

#endif
