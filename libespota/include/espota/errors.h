/*
 * libespota - error codes and decoded device errors.
 *
 * Every fallible function returns ESPOTA_OK (0) or a negative
 * espota_error_code. Codes are never renumbered; retired ones stay as
 * _OBSOLETE placeholders.
 */
#ifndef INCLUDE_espota_errors_h__
#define INCLUDE_espota_errors_h__

#include "common.h"

ESPOTA_BEGIN_DECL

typedef enum espota_error_code {
	ESPOTA_OK = 0,
	ESPOTA_ERROR = -1,      /**< generic failure */
	ESPOTA_EINVAL = -2,     /**< invalid argument or options version */
	ESPOTA_ENOMEM = -3,     /**< out of memory */
	ESPOTA_EIO = -4,        /**< socket or file error */
	ESPOTA_ETIMEOUT = -5,   /**< a phase deadline passed (see last phase) */
	ESPOTA_EREFUSED = -6,   /**< the device refused the update: an Updater error was reported */
	ESPOTA_EAUTH = -7,      /**< authentication failed or no password available */
	ESPOTA_EPROTO = -8,     /**< the device sent something the protocol does not allow */
	ESPOTA_EIMAGE = -9,     /**< the image is malformed or of the wrong kind */
	ESPOTA_ENOFIT = -10,    /**< preflight: the image would be refused by the device */
	ESPOTA_EUSER = -11,     /**< a user callback asked to stop with an error */
	ESPOTA_ECANCELLED = -12,/**< cancelled by espota_session_cancel() */
	ESPOTA_ERESOLVE = -13,  /**< the device address could not be resolved */
	ESPOTA_ECLOSED = -14    /**< the device closed the connection without a result */
} espota_error_code;

/**
 * Static, one-line description of an error code; never NULL, never
 * allocates. Thread-safe.
 */
ESPOTA_EXTERN(const char *) espota_strerror(int code);

/** Symbolic name of an error code ("ESPOTA_ETIMEOUT"), or "ESPOTA_UNKNOWN". */
ESPOTA_EXTERN(const char *) espota_error_name(int code);

/**
 * 1 when the same upload may succeed if tried again (ESPOTA_ETIMEOUT,
 * ESPOTA_ECLOSED, ESPOTA_EIO: the network or the device gave out), else 0
 * (a refusal, a wrong password, a bad image or argument, a cancel: trying
 * again gives the same answer). The fleet's `retries` follow this rule.
 */
ESPOTA_EXTERN(int) espota_error_retryable(int code);

/** Length of espota_device_error.raw including the terminating NUL. */
#define ESPOTA_DEVICE_ERROR_RAW_SIZE 256

/**
 * An error reported by the device's Updater, decoded.
 *
 * ESP8266 sends "ERROR[<n>]: <text>" (over UDP prefixed by "ERR: ", over
 * TCP at the end); ESP32 sends only "<text>\r\n", which is mapped back to
 * its number. The static strings are never NULL.
 */
typedef struct espota_device_error {
	espota_platform platform; /**< whose error table was used */
	int code;                 /**< Updater error number, or -1 if the text is not recognised */
	const char *name;         /**< e.g. "SPACE", "FLASH_CONFIG"; "UNKNOWN" if not recognised */
	const char *text;         /**< the Updater's canonical text for the code */
	const char *explanation;  /**< plain-language meaning and what to do */
	char raw[ESPOTA_DEVICE_ERROR_RAW_SIZE]; /**< the text as received, trimmed, printable ASCII only */
} espota_device_error;

/**
 * Decode a device error text such as "ERR: ERROR[8]: Flash config wrong:
 * real: 1048576, SDK: 4194304" or "MD5 Check Failed\r\n".
 *
 * @param out       filled on success
 * @param platform  hint when the text carries no number; UNKNOWN tries both
 * @return ESPOTA_OK, or ESPOTA_EINVAL when the text is not an error text.
 * Pure and thread-safe.
 */
ESPOTA_EXTERN(int) espota_device_error_parse(espota_device_error *out,
	espota_platform platform, const char *text, size_t len) ESPOTA_NONNULL(1, 3);

/**
 * Plain-language explanation for an Updater error number of a platform.
 * Static string, never NULL.
 */
ESPOTA_EXTERN(const char *) espota_device_error_explain(espota_platform platform, int code);

ESPOTA_END_DECL

#endif
