/*
 * Internal: the mDNS / DNS-SD querier, sans-I/O. It builds query packets
 * and digests response packets (DNS wire format through ldns); the socket
 * driver (mdns_sock.c) moves the bytes and the clock. No socket header.
 *
 * Bounds (hostile input): at most `max_devices` devices, ESPOTA__MDNS_ADDRS
 * addresses and ESPOTA__MDNS_TXT_MAX bytes / ESPOTA__MDNS_TXT_ITEMS items of
 * TXT per device; packets over ESPOTA__MDNS_PKT_MAX bytes are dropped; name
 * compression is resolved by ldns (bounded pointer chains, 255-byte names).
 */
#ifndef ESPOTA_SRC_MDNS_H
#define ESPOTA_SRC_MDNS_H

#include <stddef.h>
#include <stdint.h>

#include "espota/discover.h"

#define ESPOTA__MDNS_PORT 5353
#define ESPOTA__MDNS_PKT_MAX 9000      /* RFC 6762 17: at most 9000 bytes */
#define ESPOTA__MDNS_QUERY_MAX 1400    /* our queries stay below one Ethernet MTU */
#define ESPOTA__MDNS_ADDRS 8
#define ESPOTA__MDNS_TXT_MAX 1300
#define ESPOTA__MDNS_TXT_ITEMS 64
#define ESPOTA__MDNS_NAME_MAX 256      /* wire form incl. the root label */

enum { ESPOTA__MDNS_BROWSE = 1, ESPOTA__MDNS_RESOLVE = 2 };

typedef struct espota__mdns_dev {
	unsigned char inst[ESPOTA__MDNS_NAME_MAX]; /* instance name, wire form, lower case */
	size_t inst_len;
	unsigned char host[ESPOTA__MDNS_NAME_MAX]; /* SRV target, wire form, lower case */
	size_t host_len;
	uint16_t port;
	uint32_t ptr_ttl;
	int have_srv, have_txt, reported;
	int followups;                             /* follow-up questions asked */
	size_t naddrs;
	espota_discover_addr addrs[ESPOTA__MDNS_ADDRS];
	unsigned char addr_bin[ESPOTA__MDNS_ADDRS][16];
	/* presentation, built when the records arrive */
	char inst_str[64 * 4 + 1];
	char host_str[ESPOTA__MDNS_NAME_MAX];
	size_t ntxt;
	espota_txt_item txt[ESPOTA__MDNS_TXT_ITEMS];
	char txt_str[ESPOTA__MDNS_TXT_MAX * 2 + ESPOTA__MDNS_TXT_ITEMS * 2];
} espota__mdns_dev;

typedef struct espota__mdns {
	int mode;
	int family;                    /* 0 both, 4, 6 */
	unsigned char target[ESPOTA__MDNS_NAME_MAX]; /* service (browse) or host (resolve), lower case */
	size_t target_len;
	uint64_t start, deadline;
	uint64_t next_send;            /* UINT64_MAX: nothing scheduled */
	uint64_t followup_at;          /* UINT64_MAX: none */
	unsigned int sends;            /* scheduled (not follow-up) queries built */
	size_t max_devices;
	espota__mdns_dev **devs;
	size_t ndevs, devs_cap;
	size_t scan;                   /* take_ready resumes here */
	/* resolve result */
	int resolved;
	espota_discover_addr result;
	/* counters */
	size_t packets_in, packets_bad, records_in;
} espota__mdns;

/* Start a browse for `service` ("_arduino._tcp.local") or a resolve of
 * `host` ("name.local"). Returns ESPOTA_OK or ESPOTA_EINVAL (bad name). */
int espota__mdns_init(espota__mdns *m, int mode, const char *name, int family,
	size_t max_devices, uint64_t now, unsigned int timeout_ms);
void espota__mdns_free(espota__mdns *m);

/* When the engine next wants to send (absolute ms), or UINT64_MAX. */
uint64_t espota__mdns_next_send(const espota__mdns *m);

/* Build the query due at `now` into buf (cap >= ESPOTA__MDNS_QUERY_MAX).
 * Returns its length, 0 if nothing is due, or a negative error code. */
int espota__mdns_build_query(espota__mdns *m, uint64_t now, unsigned char *buf, size_t cap);

/* Digest one received datagram. `ifname`/`ifindex` tell where it came in.
 * Returns 1 if it was a valid DNS response, 0 if it was ignored. */
int espota__mdns_on_packet(espota__mdns *m, const unsigned char *data, size_t len,
	unsigned int ifindex, const char *ifname, uint64_t now);

/* The next device that became complete and was not reported yet, or NULL.
 * Marks it reported and fills `info` (valid while the engine lives). */
const espota__mdns_dev *espota__mdns_take_ready(espota__mdns *m, espota_device_info *info,
	uint64_t now);

/* True when a resolve has its answer. */
int espota__mdns_resolved(const espota__mdns *m);

#endif
