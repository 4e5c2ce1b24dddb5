/* Internal: what the kernel knows about a TCP peer (tcpinfo.c). */
#ifndef ESPOTA_SRC_TCPINFO_H
#define ESPOTA_SRC_TCPINFO_H

#include <stdint.h>

/* The receive window the peer last announced, in bytes (0: unknown). */
uint32_t espota__tcp_peer_window(int fd);
/* Bytes written to the connection that the peer's TCP has not acknowledged
 * (SIOCOUTQ: unsent plus unacknowledged). 0 on success, -1 if not known. */
int espota__tcp_unacked(int fd, uint64_t *bytes);

#endif
