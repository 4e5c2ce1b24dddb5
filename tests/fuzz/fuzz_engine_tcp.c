/*
 * The engine's data phase: the image is offered by espota__engine_tx() and
 * written in fuzz-chosen pieces, while the "device" answers with arbitrary
 * TCP bytes (acknowledgement digits split anywhere, "OK", error texts,
 * junk), EOF, socket errors and time passing.
 *
 * Invariants (besides those of engine_common.h):
 *  - success only with acked == sent == len, and only after the device's OK;
 *  - acked never exceeds what was written;
 *  - tx() offers the next unsent bytes of the image, never past its end;
 *  - EOF, an error or a passed deadline always ends the upload.
 *
 * Input: flags, image length (2 bytes), chunk, window, then operations.
 * Flags: 1 stop-and-wait, 2-4 device port, 8 chunk, 16 window, 32 short
 * timeouts, 64 the device announced MSS 536 (block pacing), 128 stream mode
 * (when not stop-and-wait). Operations:
 *   0: write part   [amount]   write 1 + amount*23 bytes of what tx() offers
 *   1: write all               write everything tx() offers
 *   2-3: device bytes [len][bytes]   (len % 64)
 *   4: time         [step]     step * 61 ms, then tick
 *   5: close        [err]      EOF (even) or ECONNRESET (odd)
 *   6: honest ack   [amount]   the device acknowledges up to 1 + amount*11 of
 *                              what it received, as decimal digits, possibly
 *                              split into two segments
 *   7: honest OK               the device prints "OK"
 */
#include <errno.h>
#include <inttypes.h>

#include "engine_common.h"

static unsigned char image[8192];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static espota__engine e;
	espota__engine_config c;
	fuzz_driver d;
	fuzz_in in = { data, size };
	uint8_t flags = fuzz_u8(&in);
	uint64_t written = 0, dev_acked = 0, unacked = 0;
	unsigned int ops = 0, i;
	int saw_ok_text = 0, reported = 0;

	if (image[1] == 0) {
		for (i = 0; i < sizeof(image); i++)
			image[i] = (unsigned char)(i * 13 + 5);
		image[0] = 0xE9;
	}
	memset(&c, 0, sizeof(c));
	c.image = image;
	c.len = 1 + fuzz_u16(&in) % sizeof(image);
	c.host = "10.0.0.9";
	c.local_port = 41000;
	c.seeded_cnonce = 1;
	c.transfer = (flags & 1) ? ESPOTA_TRANSFER_STOP_AND_WAIT :
		(flags & 128) ? ESPOTA_TRANSFER_STREAM : ESPOTA_TRANSFER_PIPELINED;
	switch ((flags >> 1) & 3) {
	case 0: c.device_port = ESPOTA_PORT_ESP8266; break;
	case 1: c.device_port = ESPOTA_PORT_ESP32; break;
	default: c.device_port = 5000; break;
	}
	c.chunk = (flags & 8) ? 1 + (uint32_t)fuzz_u8(&in) * 16 : 0;
	c.window = (flags & 16) ? (uint32_t)fuzz_u8(&in) * 64 : 0;
	if (flags & 32) {
		c.timeouts.stall_ms = 500;
		c.timeouts.result_ms = 700;
	}
	FUZZ_ASSERT(espota__engine_init(&e, &c) == ESPOTA_OK);

	memset(&d, 0, sizeof(d));
	d.e = &e;
	d.echo = fuzz_contains(data, size, FUZZ_PASSWORD);
	d.now = 5000;
	espota__engine_start(&e, d.now);
	fuzz_drain(&d);
	espota__engine_on_udp(&e, d.now, "OK", 2);
	fuzz_drain(&d);
	FUZZ_ASSERT(e.phase == ESPOTA_PHASE_CONNECT);
	FUZZ_ASSERT(espota__engine_on_connect(&e, d.now) == 0);
	espota__engine_set_device_mss(&e, (flags & 64) ? 536 : 0);
	fuzz_drain(&d);
	FUZZ_ASSERT(e.phase == ESPOTA_PHASE_TRANSFER);
	/* A second connection is refused. */
	FUZZ_ASSERT(espota__engine_on_connect(&e, d.now) == -1);

	while (in.n > 0 && ops++ < 256 && !e.finished) {
		uint8_t op = fuzz_u8(&in) % 9;
		const unsigned char *p = NULL;
		size_t n, len;
		const uint8_t *bytes;

		switch (op) {
		case 0: case 1:
			do {
				uint64_t before = e.sent;
				n = espota__engine_tx(&e, &p);
				if (n == 0)
					break;
				FUZZ_ASSERT(p == image + before);
				FUZZ_ASSERT(n <= c.len - before);
				if (op == 0) {
					size_t k = 1 + (size_t)fuzz_u8(&in) * 23;
					if (k < n)
						n = k;
				}
				espota__engine_tx_done(&e, d.now, n);
				written += n;
				FUZZ_ASSERT(e.sent == written);
			} while (op == 1);
			break;
		case 2: case 3:
			bytes = fuzz_take(&in, fuzz_u8(&in) % 64, &len);
			if (memchr(bytes, 'K', len) != NULL)
				saw_ok_text = 1;
			espota__engine_on_tcp_data(&e, d.now, bytes, len);
			break;
		case 4:
			fuzz_tick(&d, (uint64_t)fuzz_u8(&in) * 61);
			break;
		case 5:
			espota__engine_on_tcp_closed(&e, d.now, (fuzz_u8(&in) & 1) ? ECONNRESET : 0);
			fuzz_drain(&d);
			FUZZ_ASSERT(e.finished);
			break;
		case 6: {
			uint8_t a = fuzz_u8(&in);
			uint64_t k = 1 + (uint64_t)(a >> 1) * 11;
			char txt[24];
			int tl;
			if (k > written - dev_acked)
				k = written - dev_acked;
			if (k == 0)
				break;
			dev_acked += k;
			tl = snprintf(txt, sizeof(txt), "%" PRIu64, k);
			if ((a & 1) && tl > 1) {
				espota__engine_on_tcp_data(&e, d.now, txt, 1);
				fuzz_drain(&d);
				espota__engine_on_tcp_data(&e, d.now, txt + 1, (size_t)tl - 1);
			} else {
				espota__engine_on_tcp_data(&e, d.now, txt, (size_t)tl);
			}
			break;
		}
		case 7:
			/* the driver's SIOCOUTQ: 0, or the bytes the device has not
			 * taken (written, not counted) */
			unacked = (fuzz_u8(&in) & 1) ? 0 : written - dev_acked;
			espota__engine_set_peer_unacked(&e, unacked);
			reported = 1;
			break;
		default:
			saw_ok_text = 1;
			espota__engine_on_tcp_data(&e, d.now, "OK", 2);
			break;
		}
		fuzz_drain(&d);
	}

	if (!e.finished) {
		if (flags & 64) {
			/* The device goes quiet: deadlines must end the upload. */
			for (i = 0; i < 8 && !e.finished; i++)
				fuzz_tick(&d, espota__engine_deadline(&e) - d.now);
		} else {
			espota__engine_on_tcp_closed(&e, d.now, 0);
			fuzz_drain(&d);
		}
	}
	FUZZ_ASSERT(e.finished && d.dones == 1);
	if (d.result == ESPOTA_OK) {
		FUZZ_ASSERT(e.acked == c.len && e.sent == c.len && written == c.len);
		FUZZ_ASSERT(e.phase == ESPOTA_PHASE_DONE);
		FUZZ_ASSERT(saw_ok_text);
		/* never an OK over bytes the device's TCP had not acknowledged */
		FUZZ_ASSERT(!reported || unacked == 0);
		/* the acknowledgement rule decided: on counts that add up (a kept
		 * reading, or the exact pass over the digit log), or on the
		 * device's OK only where the log overflowed and readings were cut */
		if (e.ack_decided == ESPOTA__ACKS_DECIDED_DEVICE_OK)
			FUZZ_ASSERT(e.rule.dropped && e.rule.log_full);
		else
			FUZZ_ASSERT(e.ack_decided == ESPOTA__ACKS_DECIDED_COUNTS &&
				(espota__acks_can_total(&e.rule, c.len) ||
				 espota__acks_exact(&e.rule, c.len) == 1));
		FUZZ_ASSERT(e.status[0] == 'O' && e.status[1] == 'K' && e.nstatus <= 4);
	} else {
		FUZZ_ASSERT(e.phase != ESPOTA_PHASE_DONE);
	}
	if (getenv("ESPOTA_FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "result %d acked %llu sent %llu len %zu: %s\n", d.result,
			(unsigned long long)e.acked, (unsigned long long)e.sent, c.len, e.error);
	fuzz_clear_check(&e);
	return 0;
}
