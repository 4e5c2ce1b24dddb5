/*
 * The engine's UDP handshake: invitation, the device's replies ("OK",
 * "AUTH <nonce>", "Authentication Failed", "ERR: ERROR[n]: ..." and junk),
 * the password request, retries and deadlines, with and without a
 * configured password. No TCP data is ever fed, so the engine must never
 * report success; it must always end (deadlines), and the password must
 * never appear in a log line or a datagram.
 *
 * Input: one flags byte, then operations:
 *   0-2: datagram   [len][bytes]      (len % 128)
 *   3:   time       [step]            (step * 37 ms, then tick)
 *   4:   connect-back
 *   5:   password   [how]             (answer a NEED_PASSWORD: set / empty / abort)
 */
#include "engine_common.h"

static unsigned char image[3000];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static espota__engine e;
	espota__engine_config c;
	fuzz_driver d;
	fuzz_in in = { data, size };
	uint8_t flags = fuzz_u8(&in);
	unsigned int ops = 0, i;

	if (image[0] == 0) {
		for (i = 0; i < sizeof(image); i++)
			image[i] = (unsigned char)(i * 7 + 1);
		image[0] = 0xE9;
	}
	memset(&c, 0, sizeof(c));
	c.image = image;
	c.len = sizeof(image);
	c.host = "192.168.4.1";
	c.filename = "fuzz.bin";
	c.local_port = 40000;
	c.password = (flags & 1) ? FUZZ_PASSWORD : NULL;
	c.auth_mode = (espota_auth_mode)(((flags >> 1) & 3) % 3);
	switch ((flags >> 3) & 3) {
	case 0: c.device_port = ESPOTA_PORT_ESP8266; break;
	case 1: c.device_port = ESPOTA_PORT_ESP32; break;
	case 2: c.device_port = 5000; break;
	default: c.device_port = 5000; c.platform = ESPOTA_PLATFORM_ESP32; break;
	}
	c.target = (flags & 32) ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP;
	c.seeded_cnonce = (flags >> 6) & 1;
	if (flags & 128) {
		c.timeouts.invite_ms = 100;
		c.timeouts.invite_attempts = 2;
		c.timeouts.auth_ms = 300;
		c.timeouts.connect_ms = 200;
	}
	FUZZ_ASSERT(espota__engine_init(&e, &c) == ESPOTA_OK);

	memset(&d, 0, sizeof(d));
	d.e = &e;
	d.echo = fuzz_contains(data, size, FUZZ_PASSWORD);
	d.now = 1000;
	espota__engine_start(&e, d.now);
	fuzz_drain(&d);
	FUZZ_ASSERT(d.udp_sent == 1 && e.phase == ESPOTA_PHASE_INVITE);

	while (in.n > 0 && ops++ < 64) {
		uint8_t op = fuzz_u8(&in) % 6;
		size_t len;
		const uint8_t *p;

		switch (op) {
		case 0: case 1: case 2:
			p = fuzz_take(&in, fuzz_u8(&in) % 128, &len);
			espota__engine_on_udp(&e, d.now, p, len);
			break;
		case 3:
			fuzz_tick(&d, (uint64_t)fuzz_u8(&in) * 37);
			break;
		case 4:
			if (espota__engine_on_connect(&e, d.now) == 0)
				FUZZ_ASSERT(e.phase == ESPOTA_PHASE_TRANSFER && !e.waiting_password);
			break;
		default: {
			uint8_t how = fuzz_u8(&in) % 3;
			int rc;
			if (!e.waiting_password || e.finished) {
				FUZZ_ASSERT(espota__engine_set_password(&e, d.now, FUZZ_PASSWORD) == ESPOTA_EINVAL);
				break;
			}
			if (how == 2) {
				espota__engine_abort(&e, d.now, ESPOTA_EAUTH, "no password");
				break;
			}
			rc = espota__engine_set_password(&e, d.now, how == 0 ? FUZZ_PASSWORD : "");
			FUZZ_ASSERT(rc == (how == 0 ? ESPOTA_OK : ESPOTA_EAUTH));
			break;
		}
		}
		fuzz_drain(&d);
	}

	/* Let time run out: the engine must end within its deadlines. */
	for (i = 0; i < 64 && !e.finished; i++) {
		if (e.waiting_password) {
			espota__engine_abort(&e, d.now, ESPOTA_EAUTH, "no password");
			fuzz_drain(&d);
			continue;
		}
		fuzz_tick(&d, espota__engine_deadline(&e) - d.now);
	}
	FUZZ_ASSERT(e.finished && d.dones == 1);
	/* No data was ever acknowledged: success is impossible. */
	FUZZ_ASSERT(d.result != ESPOTA_OK && e.result != ESPOTA_OK);
	fuzz_clear_check(&e);
	return 0;
}
