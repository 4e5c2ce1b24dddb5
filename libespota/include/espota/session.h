/*
 * libespota - sessions.
 *
 * A session is the handle uploads run on. It owns a wake-up channel for
 * espota_session_cancel(), the last error detail and the statistics of the
 * last upload. It holds no sockets between uploads.
 *
 * Threads: libespota has no global or static mutable state and needs no
 * initialisation. A session may be used by one thread at a time; distinct
 * sessions may run concurrently in different threads.
 * espota_session_cancel() is the one function that may be called on a
 * session from another thread while it is in use.
 */
#ifndef INCLUDE_espota_session_h__
#define INCLUDE_espota_session_h__

#include "common.h"
#include "errors.h"

ESPOTA_BEGIN_DECL

typedef struct espota_session espota_session;

/** Log levels passed to espota_log_cb. */
typedef enum espota_log_level {
	ESPOTA_LOG_ERROR = 0,
	ESPOTA_LOG_WARN = 1,
	ESPOTA_LOG_INFO = 2,
	ESPOTA_LOG_DEBUG = 3
} espota_log_level;

/**
 * Log callback. `message` is one line without a newline; it never contains
 * a password or a password hash. Called on the thread running the upload.
 */
typedef void (*espota_log_cb)(espota_log_level level, const char *message, void *payload);

typedef struct espota_session_options {
	unsigned int version;      /**< ESPOTA_SESSION_OPTIONS_VERSION */
	espota_log_level log_level;/**< messages above this level are not formatted; default WARN */
	espota_log_cb log;         /**< optional */
	void *log_payload;         /**< passed to log */
} espota_session_options;

#define ESPOTA_SESSION_OPTIONS_VERSION 1
#define ESPOTA_SESSION_OPTIONS_INIT { .version = ESPOTA_SESSION_OPTIONS_VERSION, .log_level = ESPOTA_LOG_WARN, .log = NULL, .log_payload = NULL }

/** Initialise `opts` with defaults, as ESPOTA_SESSION_OPTIONS_INIT does. */
ESPOTA_EXTERN(int) espota_session_options_init(espota_session_options *opts, unsigned int version);

/**
 * Create a session. `opts` may be NULL for defaults.
 * @return ESPOTA_OK, ESPOTA_EINVAL (bad version), ESPOTA_ENOMEM or ESPOTA_EIO.
 */
ESPOTA_EXTERN(int) espota_session_new(espota_session **out, const espota_session_options *opts) ESPOTA_NONNULL(1);

/** Free a session; NULL is ignored. Must not be called while an upload runs. */
ESPOTA_EXTERN(void) espota_session_free(espota_session *session);

/**
 * Ask the upload running on `session` to stop. Thread-safe and
 * async-signal-safe; the upload returns ESPOTA_ECANCELLED promptly (it wakes
 * from any wait) after closing its sockets. A cancel that arrives while no
 * upload runs applies to the next one only if it starts within the same
 * call sequence; espota_upload() clears a pending cancel when it starts.
 */
ESPOTA_EXTERN(int) espota_session_cancel(espota_session *session);

/**
 * One-line detail of the session's last failure ("" after a success).
 * Valid until the next call on the session. Never NULL.
 */
ESPOTA_EXTERN(const char *) espota_session_last_error(const espota_session *session);

/**
 * The device error decoded during the last upload, or NULL if the device
 * reported none. Valid until the next upload on the session.
 */
ESPOTA_EXTERN(const espota_device_error *) espota_session_device_error(const espota_session *session);

ESPOTA_END_DECL

#endif
