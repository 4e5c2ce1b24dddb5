/* Internal: what the kernel knows about a TCP peer (tcpinfo.c). */
#ifndef ESPOTA_SRC_TCPINFO_H
#define ESPOTA_SRC_TCPINFO_H

#include <stdint.h>

/* The receive window the peer last announced, in bytes (0: unknown). */
uint32_t espota__tcp_peer_window(int fd);

#endif
