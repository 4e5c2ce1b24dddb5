/*
 * libespota - fleet uploads: one image to many devices from one thread.
 *
 * The fleet driver runs up to `max_concurrent` uploads at once as transfers
 * of one multi handle (multi.h), the same driver as espota_upload(). Each device
 * has its own progress, result, retries and deadline; one device's failure
 * never disturbs the others. Callbacks run on the calling thread.
 */
#ifndef INCLUDE_espota_fleet_h__
#define INCLUDE_espota_fleet_h__

#include "common.h"
#include "errors.h"
#include "session.h"
#include "upload.h"
#include "multi.h"

ESPOTA_BEGIN_DECL

/** One device of a fleet. */
typedef struct espota_fleet_device {
	const char *host;      /**< required */
	uint16_t port;         /**< 0 = the base options' port (or 8266) */
	const char *password;  /**< NULL = the base options' password / auth callback */
} espota_fleet_device;

/** Progress of device `index` (position in the devices array). Return as espota_progress_cb. */
typedef int (*espota_fleet_progress_cb)(size_t index, const espota_progress *progress, void *payload);

/**
 * Called exactly once per device when it is finished (success, final
 * failure, or cancelled before it started). The result is library-owned and
 * valid only during the call: read it with the espota_transfer_* accessors
 * (multi.h: result code, error detail, device error, stats, attempts).
 */
typedef void (*espota_fleet_done_cb)(size_t index, const espota_transfer *result, void *payload);

typedef struct espota_fleet_options {
	unsigned int version;             /**< ESPOTA_FLEET_OPTIONS_VERSION */
	unsigned int max_concurrent;      /**< uploads in flight at once; 0 = the fleet chooses (up to every device, at most 256, 3 descriptors each): it starts 32 and doubles while the acknowledged bytes per second hold (at least 0.9 of the best seen) and each upload's share stays at 5,840 bytes/s or more, goes back when the rate falls, and keeps fewer on a medium too slow for 32 (devices behind one access point share its air) */
	unsigned int retries;             /**< extra attempts after a timeout, I/O error or lost connection */
	unsigned int device_deadline_ms;  /**< budget per device including retries; 0 = none */
	espota_fleet_progress_cb progress;
	espota_fleet_done_cb done;
	void *payload;
} espota_fleet_options;

#define ESPOTA_FLEET_OPTIONS_VERSION 1
#define ESPOTA_FLEET_OPTIONS_INIT { .version = ESPOTA_FLEET_OPTIONS_VERSION }

ESPOTA_EXTERN(int) espota_fleet_options_init(espota_fleet_options *opts, unsigned int version);

/**
 * Upload `image` to every device. `base` gives the shared settings (target,
 * timeouts, transfer mode, password or auth callback, compression, fit
 * preflight); its host, port, progress and payload fields are ignored (the
 * auth callback receives each device's host: the very pointer given in
 * `devices[i].host`, so callers can map it back to the device). Each
 * device's outcome goes to `opts->done`; progress carries the attempt in
 * `espota_progress.tries`. Log lines of a device are prefixed
 * "[<index> <host>:<port>] ".
 *
 * @return ESPOTA_OK when every device succeeded; ESPOTA_ERROR when some
 * failed (see the done callback; the session's last error says how many);
 * ESPOTA_ECANCELLED after espota_session_cancel(); another negative code
 * when nothing could start (bad options, preflight refusal).
 */
ESPOTA_EXTERN(int) espota_fleet_upload(espota_session *session, const unsigned char *image, size_t len,
	const espota_upload_options *base, const espota_fleet_device *devices, size_t ndevices,
	const espota_fleet_options *opts) ESPOTA_NONNULL(1, 2, 4, 5);

ESPOTA_END_DECL

#endif
