/*
 * Sessions: creation, cancel, error detail, statistics, address helpers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "posix/session_internal.h"
#include "posix/fileio.h"
#include "util/util.h"
#include "espota/multi.h"

uint64_t espota__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int espota_session_options_init(espota_session_options *opts, unsigned int version)
{
	static const espota_session_options init = ESPOTA_SESSION_OPTIONS_INIT;

	if (opts == NULL || version == 0 || version > ESPOTA_SESSION_OPTIONS_VERSION)
		return ESPOTA_EINVAL;
	*opts = init;
	return ESPOTA_OK;
}

int espota_session_new(espota_session **out, const espota_session_options *opts)
{
	espota_session *s;
	int i;

	if (out == NULL)
		return ESPOTA_EINVAL;
	*out = NULL;
	if (opts != NULL && (opts->version == 0 || opts->version > ESPOTA_SESSION_OPTIONS_VERSION))
		return ESPOTA_EINVAL;
	/* sodium_init() is idempotent and thread-safe; the CSPRNG needs it. */
	if (sodium_init() < 0)
		return ESPOTA_ERROR;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ESPOTA_ENOMEM;
	if (opts != NULL)
		s->opts = *opts;
	else
		espota_session_options_init(&s->opts, ESPOTA_SESSION_OPTIONS_VERSION);
	if (pipe(s->wake) != 0) {
		free(s);
		return ESPOTA_EIO;
	}
	for (i = 0; i < 2; i++) {
		fcntl(s->wake[i], F_SETFL, fcntl(s->wake[i], F_GETFL) | O_NONBLOCK);
		fcntl(s->wake[i], F_SETFD, FD_CLOEXEC);
	}
	atomic_init(&s->cancelled, 0);
	*out = s;
	return ESPOTA_OK;
}

void espota_session_free(espota_session *s)
{
	if (s == NULL)
		return;
	espota_multi_free(s->multi);
	close(s->wake[0]);
	close(s->wake[1]);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

int espota_session_cancel(espota_session *s)
{
	static const char b = 'c';
	ssize_t rc;

	if (s == NULL)
		return ESPOTA_EINVAL;
	/* Async-signal-safe: an atomic store and a write(). */
	atomic_store(&s->cancelled, 1);
	rc = write(s->wake[1], &b, 1);
	(void)rc; /* a full pipe already wakes the driver */
	return ESPOTA_OK;
}

void espota__session_reset_cancel(espota_session *s)
{
	char buf[64];

	while (read(s->wake[0], buf, sizeof(buf)) > 0)
		;
	atomic_store(&s->cancelled, 0);
}

const char *espota_session_last_error(const espota_session *s)
{
	return s ? s->error : "invalid session";
}

const espota_device_error *espota_session_device_error(const espota_session *s)
{
	return (s && s->device_error_set) ? &s->device_error : NULL;
}

const espota_fit_report *espota_session_fit_report(const espota_session *s)
{
	return (s && s->fit_report_set) ? &s->fit_report : NULL;
}

int espota_session_stats(const espota_session *s, espota_upload_stats *out)
{
	if (s == NULL || out == NULL)
		return ESPOTA_EINVAL;
	return espota__copy_sized(out, out->struct_size, &s->stats, sizeof(s->stats));
}

void espota__session_error(espota_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
}

void espota__session_log(espota_session *s, espota_log_level level, const char *fmt, ...)
{
	char msg[ESPOTA__MSG_SIZE];
	va_list ap;

	if (s->opts.log == NULL || level > s->opts.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->in_callback++;
	s->opts.log(level, msg, s->opts.log_payload);
	s->in_callback--;
}

int espota__resolve(struct sockaddr_storage *out, socklen_t *outlen, const char *host,
	uint16_t port, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char portstr[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0 || res == NULL) {
		char shown[200];
		/* the reason first: a long host name must not push it out */
		snprintf(err, errlen, "cannot resolve the host name (%s): \"%s\"", gai_strerror(rc),
			espota__escape(shown, sizeof(shown), host, 64));
		return ESPOTA_ERESOLVE;
	}
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*outlen = res->ai_addrlen;
	freeaddrinfo(res);
	return ESPOTA_OK;
}

/* Extract the IPv4 address of a v4 or v4-mapped v6 sockaddr; 0 if none. */
static int ipv4_of(const struct sockaddr *sa, struct in_addr *out)
{
	if (sa->sa_family == AF_INET) {
		*out = ((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(out, &a->s6_addr[12], 4);
			return 1;
		}
	}
	return 0;
}

int espota__same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	struct in_addr a4 = { 0 }, b4 = { 0 };
	int ha = ipv4_of(a, &a4), hb = ipv4_of(b, &b4);

	if (ha || hb)
		return ha && hb && a4.s_addr == b4.s_addr;
	if (a->sa_family == AF_INET6 && b->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
			&((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, 16) == 0;
	return 0;
}

void espota__addr_str(char *out, size_t outlen, const struct sockaddr *sa)
{
	const void *src = sa->sa_family == AF_INET6 ?
		(const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr :
		(const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	if (inet_ntop(sa->sa_family, src, out, (socklen_t)outlen) == NULL)
		snprintf(out, outlen, "?");
}

int espota__gzip(unsigned char **out, size_t *outlen, const unsigned char *in, size_t len)
{
	z_stream zs;
	unsigned char *buf;
	size_t cap;
	int rc;

	if (len > UINT32_MAX)
		return ESPOTA_EINVAL;
	memset(&zs, 0, sizeof(zs));
	/* 31 = 15-bit window + gzip wrapper, as elf2bin --gzip / gzip -9. */
	if (deflateInit2(&zs, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return ESPOTA_ENOMEM;
	cap = deflateBound(&zs, (uLong)len) + 32;
	buf = malloc(cap);
	if (buf == NULL) {
		deflateEnd(&zs);
		return ESPOTA_ENOMEM;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	rc = deflate(&zs, Z_FINISH);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(buf);
		return ESPOTA_ERROR;
	}
	*out = buf;
	return ESPOTA_OK;
}
