/*
 * libespota - advice for a failed upload: what to do next, in plain words.
 *
 * One table for every front end (the espota CLI, Python, Lua): the advice
 * depends on the error, the phase it stopped in, the target, whether a
 * password was given, the host name and, when the caller knows it, how
 * long ago the same device took an update. docs/errors.md lists every case
 * with its expected advice; tests/unit/test_hint.c checks each one.
 *
 * Pure: no I/O, no allocation, thread-safe.
 */
#ifndef INCLUDE_espota_hint_h__
#define INCLUDE_espota_hint_h__

#include "common.h"
#include "session.h"
#include "upload.h"
#include "flashfit.h"

ESPOTA_BEGIN_DECL

/** Word the advice for the espota command line (-p, -I, --auth-env...)
 * instead of the library options (port, bind_address, password...). */
#define ESPOTA_HINT_CLI (1u << 0)

/** A device updated less than this long ago is probably still rebooting. */
#define ESPOTA_HINT_REBOOT_MS 60000u

/** What the advice is computed from. Zero/NULL fields are "not known". */
typedef struct espota_hint_input {
	unsigned int version;                      /**< ESPOTA_HINT_INPUT_VERSION */
	int code;                                  /**< the failure: a negative ESPOTA_E* code */
	const espota_upload_stats *stats;          /**< where it stopped; NULL = unknown */
	const espota_device_error *device_error;   /**< the Updater error the device sent, or NULL */
	const espota_fit_report *report;           /**< the preflight report (ESPOTA_ENOFIT), or NULL */
	espota_target target;                      /**< app or filesystem upload */
	espota_platform platform;                  /**< as the caller believes; stats->platform wins */
	const char *host;                          /**< the device as given */
	uint16_t port;                             /**< its UDP port */
	int password_given;                        /**< 1: a password was sent; 0: none was available */
	int bind_given;                            /**< a local address or port was chosen */
	uint64_t since_success_ms;                 /**< ms since this device last confirmed an update; 0 = none known */
	uint32_t flags;                            /**< ESPOTA_HINT_* */
} espota_hint_input;

#define ESPOTA_HINT_INPUT_VERSION 1
ESPOTA_EXTERN(int) espota_hint_input_init(espota_hint_input *in, unsigned int version);

/**
 * Write the advice for `in` into `buf`: zero or more lines, each ending in
 * '\n' (an empty string when there is nothing useful to add). Returns the
 * length it needed, snprintf-like (the text is cut, still terminated, when
 * `buflen` is too small), or ESPOTA_EINVAL.
 */
ESPOTA_EXTERN(int) espota_hint(char *buf, size_t buflen, const espota_hint_input *in) ESPOTA_NONNULL(3);

/**
 * Names of the flash-fit flags, as the JSON events, Python and Lua use
 * them: "FIRMWARE_AS_FS", "RUNNING_SIZE", "GZIP_LOCKOUT"... `kind` is 'm'
 * (ESPOTA_FIT_MISTAKE_*), 'a' (ESPOTA_FIT_ASSUME_*) or 'w'
 * (ESPOTA_FIT_WARN_*); `bit` one flag. NULL for an unknown flag.
 * espota_fit_flag_text() is a one-line description of the same flag.
 */
ESPOTA_EXTERN(const char *) espota_fit_flag_name(int kind, uint32_t bit);
ESPOTA_EXTERN(const char *) espota_fit_flag_text(int kind, uint32_t bit);

ESPOTA_END_DECL

#endif
