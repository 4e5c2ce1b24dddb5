/*
 * The mDNS input path (libespota/src/proto/mdns.c over ldns): the input is a
 * series of datagrams, each prefixed by a 2-byte big-endian length, fed to
 * a browse and a resolve engine. Invariants: bounded state, terminated
 * strings, queries that fit their buffer.
 */
#include "fuzz.h"

#include "proto/mdns.h"

static void check_info(const espota_device_info *d)
{
	FUZZ_ASSERT(d->instance != NULL && d->hostname != NULL);
	FUZZ_ASSERT(strlen(d->instance) < 64 * 4 + 1);
	FUZZ_ASSERT(d->naddrs >= 1 && d->naddrs <= ESPOTA__MDNS_ADDRS);
	FUZZ_ASSERT(d->ntxt <= ESPOTA__MDNS_TXT_ITEMS);
	for (size_t i = 0; i < d->naddrs; i++) {
		FUZZ_TERMINATED(d->addrs[i].address);
		FUZZ_TERMINATED(d->addrs[i].interface);
	}
	for (size_t i = 0; i < d->ntxt; i++) {
		FUZZ_ASSERT(d->txt[i].key[0] != '\0');
		FUZZ_ASSERT(strlen(d->txt[i].value) == d->txt[i].value_len);
	}
	FUZZ_ASSERT(d->auth_upload >= -1 && d->auth_upload <= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	espota__mdns b, r;
	espota_device_info info;
	unsigned char q[ESPOTA__MDNS_QUERY_MAX];
	uint64_t now = 1000;
	size_t found = 0;

	FUZZ_ASSERT(espota__mdns_init(&b, ESPOTA__MDNS_BROWSE, "_arduino._tcp.local", 0, 16, now, 2000) == 0);
	FUZZ_ASSERT(espota__mdns_init(&r, ESPOTA__MDNS_RESOLVE, "esp8266-1a2b00.local", 0, 1, now, 2000) == 0);
	for (int pkt = 0; pkt < 32 && size >= 2; pkt++) {
		size_t len = (size_t)data[0] << 8 | data[1];
		int n;
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		espota__mdns_on_packet(&b, data, len, 1, "lo", now);
		espota__mdns_on_packet(&r, data, len, 1, "lo", now);
		data += len;
		size -= len;
		while (espota__mdns_take_ready(&b, &info, now) != NULL) {
			check_info(&info);
			found++;
		}
		FUZZ_ASSERT(b.ndevs <= 16 && found <= b.ndevs);
		now += 30;
		n = espota__mdns_build_query(&b, now, q, sizeof(q));
		FUZZ_ASSERT(n >= 0 && (size_t)n <= sizeof(q));
	}
	if (espota__mdns_resolved(&r))
		FUZZ_TERMINATED(r.result.address);
	espota__mdns_free(&b);
	espota__mdns_free(&r);
	return 0;
}
