/*
 * Internal: an mDNS browse or resolve as the socket driver (mdns_sock.c)
 * runs it for a multi handle (multi.c): a discover transfer, and the
 * NAME.local fallback of an upload whose host the system resolver does not
 * know (no nss-mdns / Avahi). The run owns its sockets and the sans-I/O
 * querier (mdns.c); multi.c asks it for descriptors and deadlines like a
 * connection (conn.h) and polls nothing else.
 */
#ifndef ESPOTA_SRC_MDNS_FALLBACK_H
#define ESPOTA_SRC_MDNS_FALLBACK_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "espota/discover.h"

typedef struct espota__mdns_run espota__mdns_run;

/* Descriptors a run watches at most: one socket per family and a cancel pipe. */
#define ESPOTA__MDNS_RUN_FDS 3

/* The session a discover handle runs on (its cancel pipe and log). */
espota_session *espota__discover_session(const espota_discover *d);

/* 1 when `host` names NAME.local (trailing dots ignored). */
int espota__mdns_is_local(const char *host);

/* Start a browse (`resolve` NULL) or a resolve of `resolve` with the
 * options of `d`, or with the defaults when `d` is NULL (an upload's
 * fallback, logged through `log` with `prefix`). With `d`, the run logs
 * through d's callback, and `watch_cancel` adds d's cancel pipe to its
 * descriptors (for a multi handle on another session). A run that cannot
 * start (no socket, bad name, bad test target) is made finished with its
 * code and detail: *out is set whenever ESPOTA_OK is returned.
 * Returns ESPOTA_OK, ESPOTA_EINVAL (`d` runs already) or ESPOTA_ENOMEM. */
int espota__mdns_run_new(espota__mdns_run **out, espota_session *log, const char *prefix,
	espota_discover *d, int watch_cancel, const char *resolve, espota_discover_cb cb, void *payload);
/* Close, leave the outcome on the handle (if still running) and free. NULL is ignored. */
void espota__mdns_run_free(espota__mdns_run *r);

/* Descriptors to watch (at most ESPOTA__MDNS_RUN_FDS); 0 once finished. */
int espota__mdns_run_pollfds(espota__mdns_run *r, struct pollfd *p);
/* Absolute ms of the next send or the end (0: now). */
uint64_t espota__mdns_run_deadline(const espota__mdns_run *r);
/* Read what `fd` has; 1 when it is one of the run's descriptors. */
int espota__mdns_run_ready(espota__mdns_run *r, int fd, short revents, uint64_t now);
/* Its handle's cancel pipe (watch_cancel) was written. */
int espota__mdns_run_cancelled(const espota__mdns_run *r);
/* Send what is due, report devices that became complete (the callback runs
 * here), end on an answer, the timeout or the callback's word. Returns 1
 * while running, else the final code (detail: espota__mdns_run_error()). */
int espota__mdns_run_service(espota__mdns_run *r, uint64_t now);
/* End now with `code` and `msg` (cancel, a driver's deadline). */
void espota__mdns_run_stop(espota__mdns_run *r, int code, const char *msg);

int espota__mdns_run_finished(const espota__mdns_run *r);
const char *espota__mdns_run_error(const espota__mdns_run *r);
const char *espota__mdns_run_address(const espota__mdns_run *r); /* a resolve's answer, else "" */
const char *espota__mdns_run_name(const espota__mdns_run *r);    /* the full name resolved, else "" */
size_t espota__mdns_run_sent(const espota__mdns_run *r);
size_t espota__mdns_run_count(const espota__mdns_run *r);
/* The i-th device reported; valid until the run is freed. */
const espota_device_info *espota__mdns_run_device(const espota__mdns_run *r, size_t i);

#endif
