/*
 * The peer's advertised TCP receive window (TCP_INFO tcpi_snd_wnd, Linux
 * 5.4 and later). Kept apart from conn.c: glibc's <netinet/tcp.h> has an
 * older struct tcp_info without the field, and it cannot be mixed with
 * <linux/tcp.h> in one file. SIOCOUTQ lives here for the same reason:
 * what the kernel knows about the peer, in one place.
 */
#include "posix/tcpinfo.h"

#if defined(__linux__)
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stddef.h>
#include <linux/sockios.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

uint32_t espota__tcp_peer_window(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
		len < offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof(ti.tcpi_snd_wnd))
		return 0; /* an older kernel: not known */
	return ti.tcpi_snd_wnd;
}

int espota__tcp_unacked(int fd, uint64_t *bytes)
{
	int n = 0;

	if (ioctl(fd, SIOCOUTQ, &n) != 0 || n < 0)
		return -1;
	*bytes = (uint64_t)n;
	return 0;
}
#else
uint32_t espota__tcp_peer_window(int fd)
{
	(void)fd;
	return 0;
}

int espota__tcp_unacked(int fd, uint64_t *bytes)
{
	(void)fd;
	(void)bytes;
	return -1;
}
#endif
