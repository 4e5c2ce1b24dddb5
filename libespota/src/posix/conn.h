/*
 * Internal: one device connection driven over the sans-I/O engine. The
 * blocking upload runs one; the fleet driver runs many in one poll() loop.
 */
#ifndef ESPOTA_SRC_CONN_H
#define ESPOTA_SRC_CONN_H

#include <poll.h>

#include "posix/session_internal.h"

struct espota_auth_request {
	char password[ESPOTA__PASSWORD_MAX];
	int set;
};

typedef struct espota__conn espota__conn;

struct espota__conn {
	espota_session *s;                 /* logging, in_callback, cancel */
	const espota_upload_options *opts; /* host, ports, callbacks (per device) */
	espota__engine e;
	struct sockaddr_storage dev;
	socklen_t devlen;
	int udp, lsn, tcp;
	uint16_t local_port;
	uint64_t start;
	uint64_t last_progress;
	int open;
	/* Hooks: report progress / get a password. Return as the public
	 * callbacks do. */
	int (*on_progress)(espota__conn *c, const espota_progress *p);
	int (*on_auth)(espota__conn *c, espota_auth_request *req, espota_auth_scheme scheme);
	void *user;
	size_t index;
	char prefix[80];                   /* log prefix, "" for a single upload */
	int pfd_first, pfd_count;          /* slots in the caller's pollfd array */
	const char *md5;                   /* MD5 (hex) of the data when the caller has it, or NULL */
	uint64_t udp_ignored;              /* datagrams not from the device's address and port */
	uint64_t udp_ignored_logged;       /* when the last summary of them was logged */
};

/* Resolve (the options' host, or `addr` when not NULL: a numeric address
 * found for it), open sockets and start the engine. On failure returns a
 * code and writes the reason to `err`; the connection is closed. A
 * NAME.local the system resolver does not know gives ESPOTA_ERESOLVE:
 * multi.c then asks mDNS (mdns_fallback.h) and starts again with `addr`. */
int espota__conn_start(espota__conn *c, const unsigned char *data, size_t len, const char *addr,
	char *err, size_t errlen);

/* Process queued engine events and write what may be written. */
void espota__conn_service(espota__conn *c);

/* Append this connection's descriptors; returns how many were added. */
int espota__conn_pollfds(espota__conn *c, struct pollfd *pfd, int first);

/* React to poll() results for this connection's descriptors. */
void espota__conn_handle(espota__conn *c, const struct pollfd *pfd, uint64_t now);

/* Time-driven work: deadlines and the once-a-second idle progress. */
void espota__conn_tick(espota__conn *c, uint64_t now);

/* Next absolute deadline in ms (idle progress included). */
uint64_t espota__conn_deadline(const espota__conn *c);

/* Fill what the connection's exchange taught into `st` (phase, scheme,
 * platform, byte counts, invitations, acks, transfer time, local port);
 * totals and elapsed time are the caller's. */
void espota__conn_stats(const espota__conn *c, espota_upload_stats *st);

/* React to readiness of one descriptor (POLLIN/POLLOUT/POLLERR/POLLHUP in
 * `revents`); a descriptor that is not this connection's is ignored.
 * Returns 1 when the descriptor was this connection's. */
int espota__conn_ready(espota__conn *c, int fd, short revents, uint64_t now);

/* The outcome, read from the engine: finished (0/1), result code, detail,
 * decoded device error (NULL: none). */
int espota__conn_finished(const espota__conn *c);
uint64_t espota__conn_acked(const espota__conn *c); /* acknowledged so far (best reading) */
int espota__conn_result(const espota__conn *c);
const char *espota__conn_error(const espota__conn *c);
const espota_device_error *espota__conn_device_error(const espota__conn *c);
/* Stop the connection with `code` (cancel, a driver's deadline). */
void espota__conn_abort(espota__conn *c, uint64_t now, int code, const char *msg);

/* Close every socket and wipe secrets. Safe to call twice. */
void espota__conn_close(espota__conn *c);

#endif
