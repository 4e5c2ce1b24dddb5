/*
 * libespota - firmware and filesystem image inspection.
 *
 * Pure functions: no I/O, no global state, thread-safe. espota_image_parse()
 * returns a library-owned image object: its facts are copied out with
 * espota_image_get_info() (a struct that carries its size), its segments are
 * counted accessors, and the reason a parse failed is the object's own
 * detail, espota_image_error(). Parsing a gzip image inflates it in bounded
 * steps through zlib. Every length read from the image is bounds-checked.
 */
#ifndef INCLUDE_espota_image_h__
#define INCLUDE_espota_image_h__

#include "common.h"

ESPOTA_BEGIN_DECL

/** Size of the 8-byte ESP8266 (and ESP32 common) image header. */
#define ESPOTA_IMAGE_HEADER_SIZE 8
ESPOTA_EXTERN(size_t) espota_image_header_size(void);

/** A parsed image (opaque, library-owned; free with espota_image_free()). */
typedef struct espota_image espota_image;

/** What an image is. */
typedef enum espota_image_kind {
	ESPOTA_IMAGE_UNKNOWN = 0,        /**< not recognised: only valid as a filesystem upload */
	ESPOTA_IMAGE_ESP8266_ARDUINO = 1,/**< eboot at 0, app image at 0x1000 (elf2bin .bin) */
	ESPOTA_IMAGE_ESP8266_BARE = 2,   /**< a single v1 (0xE9) image */
	ESPOTA_IMAGE_ESP8266_V2 = 3,     /**< SDK/rboot 0xEA image; ArduinoOTA rejects it (error 10) */
	ESPOTA_IMAGE_ESP32_APP = 4,      /**< ESP32-family app image (extended header) */
	ESPOTA_IMAGE_ESP32_PARTITIONS = 5, /**< binary ESP32 partition table */
	ESPOTA_IMAGE_LITTLEFS = 6,       /**< LittleFS filesystem image */
	ESPOTA_IMAGE_SPIFFS = 7          /**< SPIFFS filesystem image (heuristic) */
} espota_image_kind;

/** Static name of an image kind ("esp8266-arduino"). */
ESPOTA_EXTERN(const char *) espota_image_kind_name(espota_image_kind kind);

/** One segment; library-owned (espota_image_segment_at()), fields only appended. */
typedef struct espota_image_segment {
	uint32_t addr;   /**< load address */
	uint32_t len;    /**< data length */
	uint32_t offset; /**< file offset of the data (inside the inflated data for gzip) */
} espota_image_segment;

/**
 * Facts about an image. The caller owns the struct and sets `struct_size`
 * to sizeof(espota_image_info) (ESPOTA_IMAGE_INFO_INIT does); the library
 * fills and reads only the first `struct_size` bytes. Fields are only
 * appended.
 */
typedef struct espota_image_info {
	size_t struct_size;          /**< set by the caller: sizeof(espota_image_info) */
	espota_image_kind kind;
	espota_platform platform;    /**< ESP8266, ESP32, or UNKNOWN for filesystems */
	uint64_t file_size;          /**< bytes that would be uploaded (compressed size for gzip) */
	uint64_t inner_size;         /**< uncompressed size (gzip ISIZE), else file_size */
	int gzip;                    /**< 1 if the file is gzip-compressed */
	int is_signed;               /**< 1 if a signature trailer was recognised */
	uint32_t signature_len;      /**< signature bytes (without the 4-byte length) */
	/* Header of the image at offset 0 (eboot for an Arduino .bin), which is
	 * what the ROM and the Updater inspect. */
	uint8_t magic;
	uint8_t flash_mode;          /**< 0 QIO, 1 QOUT, 2 DIO, 3 DOUT */
	uint8_t flash_size_code;     /**< high nibble of byte 3 */
	uint8_t flash_freq_code;     /**< low nibble of byte 3 */
	uint64_t header_flash_size;  /**< bytes the size code means on this platform; 0 = code not understood */
	/* The application image (at 0x1000 for an Arduino .bin). */
	uint32_t app_offset;
	uint32_t entry;
	unsigned int segment_count;  /**< segments of the app image (espota_image_segment_at()) */
	uint64_t app_end;            /**< padded end of the app image incl. checksum (== getSketchSize()) */
	int checksum_ok;             /**< 1 valid, 0 invalid, -1 not checked */
	uint32_t irom0_len;          /**< ESP8266 .irom0.text segment length, 0 if none */
	/* ESP32 only. */
	uint16_t chip_id;
	int hash_appended;
} espota_image_info;

#define ESPOTA_IMAGE_INFO_INIT { sizeof(espota_image_info), ESPOTA_IMAGE_UNKNOWN, ESPOTA_PLATFORM_UNKNOWN, \
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/**
 * Inspect an image. Returns ESPOTA_OK when the kind could be determined
 * (which includes ESPOTA_IMAGE_UNKNOWN for data that is simply not an app
 * image), ESPOTA_EIMAGE when the data claims to be an image but is broken
 * (truncated, absurd segment sizes, corrupt gzip, zip bomb), ESPOTA_EINVAL
 * for NULL arguments, ESPOTA_ENOMEM.
 *
 * On ESPOTA_OK and on ESPOTA_EIMAGE `*out` is a new image object (as
 * sqlite3_open() hands back its handle on failure): espota_image_error()
 * says why parsing stopped or what was odd. Free it with espota_image_free().
 * `buf` is not kept.
 */
ESPOTA_EXTERN(int) espota_image_parse(espota_image **out, const unsigned char *buf, size_t len)
	ESPOTA_NONNULL(1);

/** Free an image object; NULL is ignored. */
ESPOTA_EXTERN(void) espota_image_free(espota_image *img);

/** Copy the image's facts into `out`, at most `out->struct_size` bytes. */
ESPOTA_EXTERN(int) espota_image_get_info(const espota_image *img, espota_image_info *out) ESPOTA_NONNULL(1, 2);

/** Why parsing stopped or what was odd; "" if nothing. Never NULL; valid while `img` lives. */
ESPOTA_EXTERN(const char *) espota_image_error(const espota_image *img);

/** Number of segments of the app image. */
ESPOTA_EXTERN(size_t) espota_image_segment_count(const espota_image *img);

/** Segment `i` (0-based), or NULL when out of range. Valid while `img` lives. */
ESPOTA_EXTERN(const espota_image_segment *) espota_image_segment_at(const espota_image *img, size_t i);

/** ESP8266 flash size code (high nibble of header byte 3) to bytes; 0 if not understood. */
ESPOTA_EXTERN(uint64_t) espota_esp8266_flash_size(unsigned int code);
/** ESP32 flash size code to bytes; 0 if not understood. */
ESPOTA_EXTERN(uint64_t) espota_esp32_flash_size(unsigned int code);

ESPOTA_END_DECL

#endif
