/*
 * libespota - the multi interface: many transfers, the caller's event loop.
 *
 * Modelled on curl's multi interface. Add transfers (uploads, and mDNS
 * browses or resolves: espota_multi_add_browse/_resolve) to a multi handle, ask
 * it which descriptors to watch and how long to wait, tell it what became
 * ready, and read the transfers that finished. Nothing here blocks: an
 * asyncio, libuv, GLib or Qt program drives uploads from its own loop, and
 * espota_upload() and espota_fleet_upload() are short loops over this same
 * interface (one driver for every upload).
 *
 *   espota_multi_new(&m, session);
 *   espota_multi_add_upload(m, &t, image, len, &opts);
 *   while (espota_multi_running(m) > 0) {
 *       espota_multi_fds(m, fds, cap, &n);      -- watch these
 *       espota_multi_timeout(m, &ms);           -- at most this long
 *       poll(...);                              -- or any event loop
 *       espota_multi_perform(m, fds, n);        -- what became ready
 *       while ((t = espota_multi_info_read(m)) != NULL) ... finished
 *   }
 *
 * The handle uses its session's log callback and cancel channel:
 * espota_session_cancel() stops every transfer of every multi handle on the
 * session (they finish with ESPOTA_ECANCELLED). Callbacks (progress, auth,
 * log) run only inside espota_multi_perform() and espota_multi_add_upload(),
 * on the calling thread. A multi handle is used by one thread at a time.
 */
#ifndef INCLUDE_espota_multi_h__
#define INCLUDE_espota_multi_h__

#include "common.h"
#include "errors.h"
#include "session.h"
#include "upload.h"
#include "discover.h"

ESPOTA_BEGIN_DECL

typedef struct espota_multi espota_multi;
/** One upload, browse or resolve on a multi handle; owned by the handle (library-owned). */
typedef struct espota_transfer espota_transfer;

/** What a transfer does (espota_transfer_kind()). */
typedef enum espota_kind {
	ESPOTA_KIND_UPLOAD = 1,  /**< espota_multi_add_upload() */
	ESPOTA_KIND_BROWSE = 2,  /**< espota_multi_add_browse() */
	ESPOTA_KIND_RESOLVE = 3  /**< espota_multi_add_resolve() */
} espota_kind;

/** Descriptor readiness flags (espota_waitfd.events / revents). */
#define ESPOTA_WAIT_READ  0x1
#define ESPOTA_WAIT_WRITE 0x2
#define ESPOTA_WAIT_ERROR 0x4 /**< revents only: error or hang-up */

/**
 * A descriptor to watch. This struct is frozen: it will never change size,
 * so arrays of it are safe to allocate in the caller (like curl_waitfd).
 */
typedef struct espota_waitfd {
	int fd;
	short events;  /**< ESPOTA_WAIT_READ / ESPOTA_WAIT_WRITE wanted */
	short revents; /**< what became ready, set by the caller before espota_multi_perform() */
	unsigned int serial; /**< the socket's identity on this handle: a transfer closes its sockets
	                          inside espota_multi_perform(), and the kernel may hand the same
	                          number to a new socket before the next espota_multi_fds(); a
	                          different serial for a known fd means "a new socket: register it
	                          again" (epoll forgets a closed descriptor by itself) */
} espota_waitfd;

/**
 * Create a multi handle on `session` (logging and cancel). The session must
 * outlive the handle and must not run a blocking upload meanwhile.
 * @return ESPOTA_OK, ESPOTA_EINVAL or ESPOTA_ENOMEM.
 */
ESPOTA_EXTERN(int) espota_multi_new(espota_multi **out, espota_session *session) ESPOTA_NONNULL(1, 2);

/** Free the handle and every transfer on it (running ones are closed). NULL is ignored. */
ESPOTA_EXTERN(void) espota_multi_free(espota_multi *multi);

/**
 * Start uploading `len` bytes of `image` as `opts` describes (the same
 * options as espota_upload(): compression and the fit preflight run here,
 * before this returns). `image` is borrowed: it must stay valid until the
 * transfer finishes. `opts` is copied, the strings it points to are not:
 * they must stay valid until the transfer finishes.
 *
 * A transfer that cannot start (bad options, unresolvable host, preflight
 * refusal) is still added, already finished, with its code and detail:
 * read it with espota_multi_info_read() like any other. `*out` may be NULL.
 * @return ESPOTA_OK when the transfer was added (running or finished),
 * ESPOTA_EINVAL for bad arguments (nothing added), ESPOTA_ENOMEM.
 */
ESPOTA_EXTERN(int) espota_multi_add_upload(espota_multi *multi, espota_transfer **out,
	const unsigned char *image, size_t len, const espota_upload_options *opts) ESPOTA_NONNULL(1, 3, 5);

/**
 * Browse for _arduino._tcp devices by mDNS with the options of `d`
 * (discover.h) as a transfer of this handle: its sockets are among
 * espota_multi_fds(), it ends at d's timeout, on cancel, or when `cb`
 * asks (cb may be NULL). `cb` runs inside espota_multi_perform() /
 * espota_multi_socket_action() once per device, with a device that stays
 * readable through espota_transfer_device_at() until the transfer is
 * removed. The result is ESPOTA_OK (also when nothing answered),
 * ESPOTA_EUSER (cb returned a negative value), ESPOTA_ECANCELLED,
 * ESPOTA_EIO (no socket or interface); espota_discover_found(),
 * _packets_sent() and _last_error() of `d` also tell it once it ends.
 * `d` runs one browse or resolve at a time and must outlive the transfer.
 * espota_discover_cancel(d) and espota_session_cancel() on the handle's
 * session both stop it. A browse that cannot start is added finished.
 * @return ESPOTA_OK when added, ESPOTA_EINVAL (bad arguments, or `d` runs
 * already: nothing added), ESPOTA_ENOMEM.
 */
ESPOTA_EXTERN(int) espota_multi_add_browse(espota_multi *multi, espota_transfer **out, espota_discover *d,
	espota_discover_cb cb, void *payload) ESPOTA_NONNULL(1, 3);

/**
 * Resolve `name` ("dev.local" or "dev") to one address by mDNS, as a
 * transfer (see espota_multi_add_browse()). The answer is
 * espota_transfer_address(); the result ESPOTA_OK, ESPOTA_ERESOLVE (no
 * answer before d's timeout), ESPOTA_ECANCELLED, ESPOTA_EIO, ESPOTA_EINVAL
 * (not a host name).
 */
ESPOTA_EXTERN(int) espota_multi_add_resolve(espota_multi *multi, espota_transfer **out, espota_discover *d,
	const char *name) ESPOTA_NONNULL(1, 3, 4);

/** Transfers added and not yet finished. */
ESPOTA_EXTERN(size_t) espota_multi_running(const espota_multi *multi);

/**
 * The descriptors to watch now: at most `cap` are written to `fds` and
 * `*count` receives how many there are (call again with a larger array if
 * `*count > cap`). The set changes as transfers progress: ask again after
 * every espota_multi_perform(). Includes the session's cancel channel.
 * An event loop that registers descriptors (epoll, kqueue, libuv) keys them
 * by (fd, serial), not by fd alone.
 */
ESPOTA_EXTERN(int) espota_multi_fds(espota_multi *multi, espota_waitfd *fds, size_t cap, size_t *count)
	ESPOTA_NONNULL(1, 4);

/**
 * Milliseconds until espota_multi_perform() must be called even if no
 * descriptor becomes ready (0: now; -1: no transfer is running).
 */
ESPOTA_EXTERN(int) espota_multi_timeout(espota_multi *multi, long *ms) ESPOTA_NONNULL(1, 2);

/**
 * Do the work that is due: handle the descriptors whose `revents` are set
 * in `fds` (as returned by espota_multi_fds(); `n` may be 0 to only run
 * timers), then every deadline that passed and the writes that may go.
 * Descriptors not known to the handle are ignored.
 */
ESPOTA_EXTERN(int) espota_multi_perform(espota_multi *multi, const espota_waitfd *fds, size_t n)
	ESPOTA_NONNULL(1);

/**
 * The same as espota_multi_perform() for one descriptor: for event loops
 * that call back per descriptor (asyncio add_reader, libuv uv_poll).
 * `fd` -1 with `revents` 0 only runs timers.
 */
ESPOTA_EXTERN(int) espota_multi_socket_action(espota_multi *multi, int fd, int revents) ESPOTA_NONNULL(1);

/** The next finished transfer not read yet, or NULL. Each is returned once. */
ESPOTA_EXTERN(espota_transfer *) espota_multi_info_read(espota_multi *multi) ESPOTA_NONNULL(1);

/** Remove a transfer (stopping it if it runs) and free it. */
ESPOTA_EXTERN(int) espota_multi_remove(espota_multi *multi, espota_transfer *transfer) ESPOTA_NONNULL(1, 2);

/* ---- transfer results: read through accessors ----------------------------- */

/** 1 while running, then ESPOTA_OK or the negative error code. */
ESPOTA_EXTERN(int) espota_transfer_result(const espota_transfer *transfer);
/** One-line detail of a failure ("" on success or while running). Never NULL. */
ESPOTA_EXTERN(const char *) espota_transfer_error(const espota_transfer *transfer);
/** The device error the transfer decoded, or NULL if the device reported none. */
ESPOTA_EXTERN(const espota_device_error *) espota_transfer_device_error(const espota_transfer *transfer);
/** Statistics (so far, or final), filling at most `out->struct_size` bytes (upload.h). */
ESPOTA_EXTERN(int) espota_transfer_stats(const espota_transfer *transfer, espota_upload_stats *out)
	ESPOTA_NONNULL(1, 2);
/** What the transfer does: ESPOTA_KIND_UPLOAD, _BROWSE or _RESOLVE (0 for NULL). */
ESPOTA_EXTERN(espota_kind) espota_transfer_kind(const espota_transfer *transfer);
/** Browse: devices reported so far (or in all, once finished); others: 0. */
ESPOTA_EXTERN(size_t) espota_transfer_device_count(const espota_transfer *transfer);
/**
 * Browse: the i-th device reported (0-based), library-owned and valid
 * until the transfer is removed; NULL when i is out of range.
 */
ESPOTA_EXTERN(const espota_device_info *) espota_transfer_device_at(const espota_transfer *transfer, size_t i);
/**
 * Resolve: the numeric address found ("" before). Upload: the address the
 * host name was resolved to by mDNS when the system resolver did not know
 * a NAME.local (else ""). Never NULL.
 */
ESPOTA_EXTERN(const char *) espota_transfer_address(const espota_transfer *transfer);
/** Browse and resolve: mDNS packets sent so far; upload: 0. */
ESPOTA_EXTERN(size_t) espota_transfer_packets_sent(const espota_transfer *transfer);
/** Uploads tried for this device (1 + retries used; fleet). */
ESPOTA_EXTERN(unsigned int) espota_transfer_attempts(const espota_transfer *transfer);
/** The device address as given in the options (resolve: the full name; browse: ""). */
ESPOTA_EXTERN(const char *) espota_transfer_host(const espota_transfer *transfer);
/** Caller data attached to the transfer (NULL by default). */
ESPOTA_EXTERN(void) espota_transfer_set_user(espota_transfer *transfer, void *user);
ESPOTA_EXTERN(void *) espota_transfer_user(const espota_transfer *transfer);

ESPOTA_END_DECL

#endif
