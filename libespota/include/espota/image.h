/*
 * libespota - firmware and filesystem image inspection.
 *
 * Pure functions: no I/O, no global state, thread-safe. Parsing a gzip
 * image inflates it in bounded steps through zlib (which allocates its own
 * small state for the duration of the call); nothing else allocates.
 * Every length read from the image is bounds-checked.
 */
#ifndef INCLUDE_espota_image_h__
#define INCLUDE_espota_image_h__

#include "common.h"

ESPOTA_BEGIN_DECL

/** Maximum number of segments recorded in espota_image_info. */
#define ESPOTA_IMAGE_MAX_SEGMENTS 16
/** Size of the 8-byte ESP8266 (and ESP32 common) image header. */
#define ESPOTA_IMAGE_HEADER_SIZE 8
ESPOTA_EXTERN(size_t) espota_image_header_size(void);
ESPOTA_EXTERN(size_t) espota_image_max_segments(void);

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

typedef struct espota_image_segment {
	uint32_t addr;   /**< load address */
	uint32_t len;    /**< data length */
	uint32_t offset; /**< file offset of the data (inside the inflated data for gzip) */
} espota_image_segment;

typedef struct espota_image_info {
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
	unsigned int segment_count;
	espota_image_segment segments[ESPOTA_IMAGE_MAX_SEGMENTS];
	uint64_t app_end;            /**< padded end of the app image incl. checksum (== getSketchSize()) */
	int checksum_ok;             /**< 1 valid, 0 invalid, -1 not checked */
	uint32_t irom0_len;          /**< ESP8266 .irom0.text segment length, 0 if none */
	/* ESP32 only. */
	uint16_t chip_id;
	int hash_appended;
	char detail[128];            /**< why parsing stopped or what was odd; "" if nothing */
} espota_image_info;

/**
 * Inspect an image. Returns ESPOTA_OK when the kind could be determined
 * (which includes ESPOTA_IMAGE_UNKNOWN for data that is simply not an app
 * image), ESPOTA_EIMAGE when the data claims to be an image but is broken
 * (truncated, absurd segment sizes, corrupt gzip, zip bomb), with the
 * reason in out->detail, ESPOTA_EINVAL for NULL arguments.
 */
ESPOTA_EXTERN(int) espota_image_parse(espota_image_info *out, const unsigned char *buf, size_t len)
	ESPOTA_NONNULL(1);

/** ESP8266 flash size code (high nibble of header byte 3) to bytes; 0 if not understood. */
ESPOTA_EXTERN(uint64_t) espota_esp8266_flash_size(unsigned int code);
/** ESP32 flash size code to bytes; 0 if not understood. */
ESPOTA_EXTERN(uint64_t) espota_esp32_flash_size(unsigned int code);

ESPOTA_END_DECL

#endif
