/*
 * Internal: the session object and the helpers drivers share.
 */
#ifndef ESPOTA_SRC_SESSION_INTERNAL_H
#define ESPOTA_SRC_SESSION_INTERNAL_H

#include <stdatomic.h>
#include <sys/socket.h>

#include "espota/session.h"
#include "espota/upload.h"
#include "proto/engine.h"
#include "espota/flashfit.h"

struct espota_session {
	espota_session_options opts;
	int wake[2];                 /* self-pipe: cancel() writes, the driver polls */
	atomic_int cancelled;
	int in_callback;             /* refuse re-entry from callbacks */
	int running;
	char error[ESPOTA__MSG_SIZE];
	int device_error_set;
	espota_device_error device_error;
	espota_upload_stats stats;
	int fit_report_set;
	espota_fit_report fit_report;  /* the last preflight's report */
	struct espota_multi *multi;    /* espota_upload()'s handle, kept between uploads */
};

/* Monotonic milliseconds. */
uint64_t espota__now_ms(void);

/* Set the session's detail message (printf-style). */
void espota__session_error(espota_session *s, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* Log through the session's callback, if its level allows. */
void espota__session_log(espota_session *s, espota_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

/* Validate an upload options struct (version rule, host, target, sizes);
 * the reason becomes the session's last error. */
int espota__check_upload_options(espota_session *s, const espota_upload_options *opts);

/* Drain the wake pipe and clear a pending cancel. */
void espota__session_reset_cancel(espota_session *s);

/* Resolve `host`:`port` for UDP; `out` receives the first address. */
int espota__resolve(struct sockaddr_storage *out, socklen_t *outlen, const char *host,
	uint16_t port, char *err, size_t errlen);

/* Same IP address (port ignored), treating v4-mapped IPv6 as IPv4. */
int espota__same_ip(const struct sockaddr *a, const struct sockaddr *b);

/* Numeric text of an address. */
void espota__addr_str(char *out, size_t outlen, const struct sockaddr *sa);

struct espota__conn;
/* The device port: as given, else the platform's default (8266 unless ESP32). */
static inline uint16_t espota__default_port(const espota_upload_options *o)
{
	if (o->port)
		return o->port;
	return o->platform == ESPOTA_PLATFORM_ESP32 ? ESPOTA_PORT_ESP32 : ESPOTA_PORT_ESP8266;
}

/* Entry checks common to every upload function. */
int espota__begin(espota_session *s, const unsigned char *image, size_t len,
	const espota_upload_options *o);

/* gzip `in` into a malloc'd buffer (zlib, level 9). */
int espota__gzip(unsigned char **out, size_t *outlen, const unsigned char *in, size_t len);

#endif
