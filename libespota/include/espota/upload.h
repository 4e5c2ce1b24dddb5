/*
 * libespota - the upload API.
 *
 * An upload runs the whole ArduinoOTA exchange (protocol.md): bind a TCP
 * listener, send the UDP invitation, answer the AUTH challenge, accept the
 * device's connect-back, stream the image while parsing the device's
 * acknowledgements, and wait for the device's final "OK". It succeeds only
 * when the device said OK and acknowledged every byte.
 *
 * Callbacks run synchronously on the calling thread, only inside
 * espota_upload()/espota_upload_file(), and never under an internal lock.
 * When an upload function fails before it starts (bad options), no callback
 * is called. Callbacks must not call functions on the session that runs
 * them (except espota_session_cancel); such calls return ESPOTA_EINVAL.
 */
#ifndef INCLUDE_espota_upload_h__
#define INCLUDE_espota_upload_h__

#include "common.h"
#include "errors.h"
#include "session.h"

ESPOTA_BEGIN_DECL

struct espota_fit_device; /* flashfit.h */

/** Phases of an upload, in order. */
typedef enum espota_phase {
	ESPOTA_PHASE_NONE = 0,
	ESPOTA_PHASE_PREFLIGHT = 1, /**< image inspection and fit check */
	ESPOTA_PHASE_RESOLVE = 2,   /**< resolving the device address */
	ESPOTA_PHASE_INVITE = 3,    /**< UDP invitation sent, waiting for OK/AUTH */
	ESPOTA_PHASE_AUTH = 4,      /**< challenge answered, waiting for OK */
	ESPOTA_PHASE_CONNECT = 5,   /**< waiting for the device to connect back */
	ESPOTA_PHASE_TRANSFER = 6,  /**< sending the image */
	ESPOTA_PHASE_RESULT = 7,    /**< all bytes acknowledged, waiting for the final OK */
	ESPOTA_PHASE_DONE = 8       /**< success */
} espota_phase;

/** Static name of a phase ("transfer"). Never NULL. */
ESPOTA_EXTERN(const char *) espota_phase_name(espota_phase phase);

/** Authentication schemes (protocol.md section 4). */
typedef enum espota_auth_scheme {
	ESPOTA_AUTH_NONE = 0,
	ESPOTA_AUTH_MD5 = 1,           /**< scheme A: ESP8266, ESP32 <= 3.3.0 */
	ESPOTA_AUTH_PBKDF2_SHA256 = 2, /**< scheme B with the SHA-256 password hash (ESP32 >= 3.3.1) */
	ESPOTA_AUTH_PBKDF2_MD5 = 3     /**< scheme B with the MD5 password hash (fallback, espota -m) */
} espota_auth_scheme;

/** How scheme B picks the password hash. */
typedef enum espota_auth_mode {
	ESPOTA_AUTH_MODE_AUTO = 0,     /**< SHA-256, then one retry with MD5 (espota 2025-10) */
	ESPOTA_AUTH_MODE_SHA256 = 1,   /**< SHA-256 only */
	ESPOTA_AUTH_MODE_MD5 = 2       /**< MD5 only (espota --md5-target) */
} espota_auth_mode;

/** Transfer strategy. */
typedef enum espota_transfer_mode {
	ESPOTA_TRANSFER_PIPELINED = 0,     /**< keep up to `window` bytes unacknowledged (default);
	                                        on ESP8266 devices it learns the device's receive
	                                        window from the acknowledgements and paces to the
	                                        flash blocks when that pays (docs/protocol.md) */
	ESPOTA_TRANSFER_STOP_AND_WAIT = 1, /**< one chunk per acknowledgement, like espota.py */
	ESPOTA_TRANSFER_STREAM = 2,        /**< pipelined without block pacing: always `window` ahead */
	ESPOTA_TRANSFER_PACED = 3          /**< pipelined, block pacing with a fixed 4 x MSS window
	                                        guess (the default before 1.0; kept for comparison) */
} espota_transfer_mode;

/** Progress report; owned by the library, fields are only ever appended. */
typedef struct espota_progress {
	espota_phase phase;
	uint64_t sent;       /**< image bytes handed to the socket */
	uint64_t acked;      /**< image bytes the device acknowledged */
	uint64_t total;      /**< bytes to upload (never 0) */
	uint64_t elapsed_ms; /**< since the upload started */
	unsigned int attempt;/**< invitation attempt, 1-based */
	uint16_t local_port; /**< TCP port the device is asked to connect back to (open it in a firewall) */
	unsigned int tries;  /**< uploads tried for this device so far, 1-based (fleet retries) */
} espota_progress;

/**
 * Progress callback. Called on every phase change, on every change of
 * `acked` during the transfer, and about once a second while nothing
 * changes (so a caller can cancel, and bindings can poll for signals).
 * Called once with acked == 0 before any data and once with phase DONE and
 * acked == total on success.
 * Return 0 to continue; any non-zero value stops the upload, which then
 * returns that value if it is negative, ESPOTA_EUSER otherwise.
 */
typedef int (*espota_progress_cb)(const espota_progress *progress, void *payload);

/** Opaque credential request handed to espota_auth_cb. */
typedef struct espota_auth_request espota_auth_request;

/**
 * Give the password for this request. The library copies it and wipes its
 * copy when the upload ends; the caller may wipe its own at once.
 */
ESPOTA_EXTERN(int) espota_auth_request_set_password(espota_auth_request *req, const char *password);

/**
 * Password provider, called when the device answers AUTH and no static
 * password was given; at most once per upload (the MD5 fallback reuses the
 * answer). `host` is the device address as given; `scheme` is the scheme the
 * device's challenge selects.
 * Return 0 after setting a password, > 0 for "no credential" (the upload
 * fails with ESPOTA_EAUTH), < 0 to abort with that code.
 */
typedef int (*espota_auth_cb)(espota_auth_request *req, const char *host,
	espota_auth_scheme scheme, void *payload);

/** Per-phase deadlines in milliseconds; 0 selects the default shown. */
typedef struct espota_timeouts {
	unsigned int invite_ms;      /**< per invitation attempt; 2000 */
	unsigned int invite_attempts;/**< invitations before giving up; 5 */
	unsigned int auth_ms;        /**< reply to the auth datagram; 10000 (device PBKDF2 is slow) */
	unsigned int connect_ms;     /**< device connect-back; 10000 */
	unsigned int stall_ms;       /**< no acknowledgement progress during transfer; 10000 */
	unsigned int result_ms;      /**< final OK after the last acknowledgement; 10000 */
} espota_timeouts;

typedef struct espota_upload_options {
	unsigned int version;        /**< ESPOTA_UPLOAD_OPTIONS_VERSION */
	const char *host;            /**< device: host name, IPv4 or IPv6 literal (required) */
	uint16_t port;               /**< device UDP port; 0 = 3232 if platform is ESP32, else 8266 */
	const char *bind_address;    /**< local address to listen and send from; NULL = any, same family as the device */
	uint16_t bind_port;          /**< local TCP port the device connects to; 0 = any free port */
	espota_target target;        /**< app (default) or filesystem */
	const char *password;        /**< static password; NULL = ask `auth`, or fail on AUTH */
	espota_auth_mode auth_mode;  /**< scheme B password hash selection */
	const char *filename;        /**< name used in the espota-compatible cnonce seed; NULL = "firmware.bin" */
	espota_timeouts timeouts;
	espota_transfer_mode transfer;
	uint32_t chunk_size;         /**< stop-and-wait: bytes per chunk; pipelined: smallest write except the tail; 0 = 1460 */
	uint32_t window;             /**< pipelined: max unacknowledged bytes; 0 = 65536 */
	int compress;                /**< gzip the image before sending (ESP8266, core >= 2.7 on the device) */
	const struct espota_fit_device *fit; /**< if set, run the flash-fit preflight first (flashfit.h) */
	int force;                   /**< send even when the preflight says the device will refuse */
	espota_platform platform;    /**< UNKNOWN = guess from the port and the replies */
	espota_progress_cb progress;
	espota_auth_cb auth;
	void *payload;               /**< passed to progress and auth */
	/* version >= 2 */
	uint32_t min_rate;           /**< data phase bound: 60 s plus 1 s per min_rate bytes; 0 = 1000 B/s; ESPOTA_MIN_RATE_OFF = none */
} espota_upload_options;

/** espota_upload_options.min_rate: no bound on the whole data phase (stall_ms still applies). */
#define ESPOTA_MIN_RATE_OFF UINT32_MAX

#define ESPOTA_UPLOAD_OPTIONS_VERSION 2
#define ESPOTA_UPLOAD_OPTIONS_INIT { .version = ESPOTA_UPLOAD_OPTIONS_VERSION }

/** Initialise `opts` with defaults, as ESPOTA_UPLOAD_OPTIONS_INIT does. */
ESPOTA_EXTERN(int) espota_upload_options_init(espota_upload_options *opts, unsigned int version);

/**
 * Upload `len` bytes from `image` to the device named in `opts`.
 *
 * @return ESPOTA_OK only after the device's final OK with every byte
 * acknowledged; otherwise a negative code with
 * espota_session_last_error() set and, when the device reported an Updater
 * error, espota_session_device_error() filled (ESPOTA_EREFUSED).
 */
ESPOTA_EXTERN(int) espota_upload(espota_session *session, const unsigned char *image, size_t len,
	const espota_upload_options *opts) ESPOTA_NONNULL(1, 4);

/** Read the file at `path` with espota_file_read() (file.h: a regular file
 * of at most ESPOTA_FILE_MAX bytes; a FIFO, directory or device is refused
 * with ESPOTA_EINVAL before anything is read) and upload it; see
 * espota_upload(). */
ESPOTA_EXTERN(int) espota_upload_file(espota_session *session, const char *path,
	const espota_upload_options *opts) ESPOTA_NONNULL(1, 2, 3);

/** What proved an upload's success (docs/protocol.md, the acknowledgement rule). */
typedef enum espota_ack_rule {
	ESPOTA_ACK_RULE_NONE = 0,      /**< no success (yet) */
	ESPOTA_ACK_RULE_COUNTS = 1,    /**< the device's counts added up to the image, then OK */
	ESPOTA_ACK_RULE_DEVICE_OK = 2  /**< the device's final OK after the end of stream decided it */
} espota_ack_rule;

/**
 * Statistics of an upload. The caller owns the struct and sets `struct_size`
 * to sizeof(espota_upload_stats) (ESPOTA_UPLOAD_STATS_INIT does): the library
 * fills only the first `struct_size` bytes, so a program built against an older,
 * smaller struct keeps working. Fields are only ever appended.
 */
typedef struct espota_upload_stats {
	size_t struct_size;          /**< set by the caller: sizeof(espota_upload_stats) */
	espota_phase phase;          /**< phase reached (where it failed, or DONE) */
	espota_auth_scheme scheme;   /**< scheme that authenticated, or NONE */
	espota_platform platform;    /**< as guessed from the exchange */
	uint64_t total;              /**< bytes to send (after compression) */
	uint64_t original_size;      /**< image size before compression */
	uint64_t sent;
	uint64_t acked;
	uint64_t elapsed_ms;
	uint64_t transfer_ms;        /**< from connect-back to the last acknowledgement */
	unsigned int invitations;    /**< invitation datagrams sent */
	unsigned int acks;           /**< acknowledgement runs (digit runs) seen */
	uint16_t local_port;         /**< TCP port the device was asked to connect to */
	uint32_t device_mss;         /**< TCP MSS the device announced (0: unknown); below 1024 an
	                                  ESP8266 upload is paced to its flash blocks */
	espota_ack_rule ack_rule;    /**< what proved the success (NONE unless it succeeded) */
} espota_upload_stats;

#define ESPOTA_UPLOAD_STATS_INIT { sizeof(espota_upload_stats), ESPOTA_PHASE_NONE, ESPOTA_AUTH_NONE, \
	ESPOTA_PLATFORM_UNKNOWN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ESPOTA_ACK_RULE_NONE }

/**
 * Copy the statistics of the last upload on `session` into `out`, at most
 * `out->struct_size` bytes. ESPOTA_EINVAL when `out->struct_size` does not
 * reach past the `struct_size` field itself (nothing useful fits).
 */
ESPOTA_EXTERN(int) espota_session_stats(const espota_session *session, espota_upload_stats *out) ESPOTA_NONNULL(1, 2);

ESPOTA_END_DECL

#endif
