/*
 * Device error texts: espota_device_error_parse (what the device sends after
 * "ERR: " over UDP or at the end of the TCP stream) and the internal
 * classifier the engine uses on the status text.
 */
#include "fuzz.h"

#include "espota/errors.h"
#include "analysis/device_errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	espota_device_error de;
	espota_platform platform;
	const char *text;
	size_t len, i;
	int rc, c;

	if (size == 0)
		return 0;
	platform = (espota_platform)(data[0] % 3);
	text = (const char *)data + 1;
	len = size - 1;

	memset(&de, 0x5A, sizeof(de));
	rc = espota_device_error_parse(&de, platform, text, len);
	FUZZ_ASSERT(rc == ESPOTA_OK || rc == ESPOTA_EINVAL);
	FUZZ_TERMINATED(de.raw);
	if (rc == ESPOTA_OK) {
		FUZZ_ASSERT(de.name != NULL && de.text != NULL && de.explanation != NULL);
		FUZZ_ASSERT(de.platform == ESPOTA_PLATFORM_ESP8266 || de.platform == ESPOTA_PLATFORM_ESP32);
		FUZZ_ASSERT(de.code >= -1);
		/* Safe to print: printable ASCII only. */
		for (i = 0; de.raw[i] != '\0'; i++)
			FUZZ_ASSERT(de.raw[i] >= 0x20 && de.raw[i] < 0x7f);
		FUZZ_ASSERT(espota_device_error_explain(de.platform, de.code) != NULL);
	}

	c = espota__status_classify(text, len);
	FUZZ_ASSERT(c >= 0 && c <= 3);
	/* Note: a "complete" line (c == 3) need not decode ("ERROR[x]\n");
	 * the engine then fails with ESPOTA_EPROTO, which engine fuzzers cover. */
	(void)espota__updater_error_text(platform, (int)(int8_t)data[0]);
	(void)espota__updater_error_name(platform, (int)(int8_t)data[0]);
	return 0;
}
