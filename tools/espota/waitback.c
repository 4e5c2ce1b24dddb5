/*
 * --wait-back SEC: after a successful upload, wait until the device answers
 * on its OTA port again (it reboots into the new firmware; an ESP8266 first
 * has eboot copy the staged image, about 56 ms per 4 KiB).
 *
 * The probe is an invitation for 0 bytes, which cannot start an update: the
 * ESP8266 Updater refuses size 0 in begin() and answers "ERR: Bad Size
 * Given"; an ESP32 answers OK, then begin() fails and it never connects
 * (protocol.md, Updater error 5). A device with a password answers AUTH
 * first; the probe is then sent once more, which a device waiting for
 * authentication swallows and returns to idle, so the next upload's
 * invitation is not eaten. While an update runs and while it reboots, a
 * device answers nothing, so an answer means the new firmware runs.
 */
#include "waitback.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <espota.h>

#define PROBE "0 9 0 00000000000000000000000000000000\n"
#define PROBE_EVERY_MS 250

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int same_peer(const struct sockaddr_storage *a, socklen_t al, const struct addrinfo *b)
{
	return al == b->ai_addrlen && memcmp(a, b->ai_addr, al) == 0;
}

int cli_wait_back(const char *host, uint16_t port, double limit_s, double *back_s,
	char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	char portstr[8];
	int fd, rc, answered = 0;
	double t0 = mono_s(), next = t0;

	*back_s = 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	if ((rc = getaddrinfo(host, portstr, &hints, &ai)) != 0 || ai == NULL) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	for (;;) {
		double now = mono_s();
		struct pollfd p = { fd, POLLIN, 0 };
		int ms;

		if (now - t0 >= limit_s)
			break;
		if (now >= next) {
			/* a send error (no route yet while it rejoins) is just a miss */
			(void)sendto(fd, PROBE, sizeof(PROBE) - 1, 0, ai->ai_addr, ai->ai_addrlen);
			next = now + PROBE_EVERY_MS / 1000.0;
		}
		ms = (int)((next - now) * 1000.0) + 1;
		if (poll(&p, 1, ms) > 0 && (p.revents & POLLIN)) {
			char buf[128];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
			if (n <= 0 || !same_peer(&from, fl, ai))
				continue; /* not the device's OTA port */
			buf[n] = '\0';
			*back_s = mono_s() - t0;
			answered = 1;
			if (strncmp(buf, "AUTH ", 5) == 0) /* leave it idle, not waiting for us */
				(void)sendto(fd, PROBE, sizeof(PROBE) - 1, 0, ai->ai_addr, ai->ai_addrlen);
			break;
		}
	}
	close(fd);
	freeaddrinfo(ai);
	if (!answered) {
		snprintf(err, errlen, "the device did not answer on its OTA port within %.0f s after the "
			"update (still rebooting, on another address, or the new firmware has no OTA)",
			limit_s);
		return 1;
	}
	return 0;
}
