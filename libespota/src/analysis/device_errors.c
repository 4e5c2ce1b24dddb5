/*
 * Device Updater errors: the tables of both cores, decoding of the texts the
 * device sends, and plain-language explanations.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "analysis/device_errors.h"

typedef struct {
	int code;
	const char *name;
	const char *text;
	const char *explain;
} error_row;

/* cores/esp8266/Updater.h / Updater.cpp getErrorString(), 3.x wording. */
static const error_row esp8266_errors[] = {
	{ 0, "OK", "No Error",
	  "The device reported no error code but the update did not complete: the connection "
	  "ended early (the host stopped sending or the link dropped). Retry the upload." },
	{ 1, "WRITE", "Flash Write Failed",
	  "Writing to flash failed during the transfer. Retry; if it persists the flash may be "
	  "worn or the image may extend beyond the physical chip." },
	{ 2, "ERASE", "Flash Erase Failed",
	  "Erasing flash failed during the transfer. Retry; if it persists check that the layout "
	  "of the running firmware matches the chip's real size." },
	{ 3, "READ", "Flash Read Failed",
	  "The device could not read back the staged image header at the end. Retry." },
	{ 4, "SPACE", "Not Enough Space",
	  "The image is larger than the space the running firmware's layout leaves for an update "
	  "(the limit is a property of the firmware now on the device, not of the new image): "
	  "for firmware, the room left beside the running sketch; for a filesystem image, the "
	  "size of the filesystem area." },
	{ 5, "SIZE", "Bad Size Given",
	  "The invitation announced a size of 0 bytes. Check the image file." },
	{ 6, "STREAM", "Stream Read Timeout",
	  "The device timed out reading the stream. Retry on a better link." },
	{ 7, "MD5", "MD5 verification failed",
	  "The received image does not match the MD5 the host announced: bytes were lost or "
	  "changed in transit. Retry; nothing was installed." },
	{ 8, "FLASH_CONFIG", "Flash config wrong",
	  "The firmware running on the device was flashed with a header that claims more flash "
	  "than the chip has. Every OTA update fails before any data, whatever its size: "
	  "shrinking the image will not help. Re-flash over serial with the correct flash size "
	  "(esptool write_flash -fs 1MB or -fs detect, or a build for the right board)." },
	{ 9, "NEW_FLASH_CONFIG", "new Flash config wrong",
	  "The new image's header claims more flash than the chip has (for example a 4 MB "
	  "NodeMCU/D1 mini build sent to a 1 MB ESP8285). Rebuild for the right board or flash "
	  "size; nothing was installed." },
	{ 10, "MAGIC_BYTE", "Magic byte is not 0xE9",
	  "The uploaded data is not an ESP8266 application image (it does not start with 0xE9 or "
	  "a gzip header). Upload the firmware .bin, or use the filesystem target (-s) for a "
	  "filesystem image." },
	{ 11, "BOOTSTRAP", "Invalid bootstrapping state, reset ESP8266 before updating",
	  "The device is still in the boot mode left by a serial flash. Reset or power-cycle it "
	  "once, then retry." },
	{ 12, "SIGN", "Signature verification failed",
	  "The running firmware only accepts images signed with its key. Sign the image with the "
	  "matching private key (the .bin.signed file)." },
	{ 13, "NO_DATA", "No data supplied",
	  "The update ended before any data was written: the transfer was interrupted or the "
	  "host closed the connection early. Retry." },
	{ 14, "OOM", "Out of memory",
	  "The device ran out of memory for the update buffer. Free heap in the running sketch "
	  "or reboot the device, then retry." },
	{ 15, "RUNNING_ALREADY", "Update already running",
	  "Another update is already in progress on the device. Wait for it to finish or reboot "
	  "the device." },
	{ 16, "UNKNOWN_COMMAND", "Unknown update command",
	  "The device does not support this update command." },
};

/* libraries/Update/src/Updater.cpp (arduino-esp32), _err2str. */
static const error_row esp32_errors[] = {
	{ 0, "OK", "No Error", "No error." },
	{ 1, "WRITE", "Flash Write Failed", "Writing to flash failed during the transfer. Retry." },
	{ 2, "ERASE", "Flash Erase Failed", "Erasing flash failed during the transfer. Retry." },
	{ 3, "READ", "Flash Read Failed",
	  "At the end of the update the device could not write back or read back the first "
	  "bytes of the new image (a flash fault). Retry; if it repeats, the flash may be worn." },
	{ 4, "SPACE", "Not Enough Space",
	  "The device received more data than the invitation announced. Check that nothing else "
	  "wrote to the connection; retry." },
	{ 5, "SIZE", "Bad Size Given",
	  "The image is larger than the OTA app partition (ESP32 reports this silently: the "
	  "device answers OK and never connects back). Shrink the image or choose a partition "
	  "scheme with larger app slots; run 'espota check'." },
	{ 6, "STREAM", "Stream Read Timeout", "The device timed out reading the stream. Retry." },
	{ 7, "MD5", "MD5 Check Failed",
	  "The received image does not match the announced MD5: bytes were lost or changed in "
	  "transit. Retry; nothing was installed." },
	{ 8, "MAGIC_BYTE", "Wrong Magic Byte",
	  "The uploaded data is not an ESP32 application image (first byte is not 0xE9). Upload "
	  "the firmware .bin, or use the filesystem target for a filesystem image." },
	{ 9, "ACTIVATE", "Could Not Activate The Firmware",
	  "The device verified the new image and rejected it (bad header, wrong chip, bad "
	  "checksum or SHA-256, or image larger than the partition). Rebuild for this chip." },
	{ 10, "NO_PARTITION", "Partition Could Not be Found",
	  "The partition table has no partition for this update (no second OTA app slot, or no "
	  "filesystem partition). Choose a partition scheme with OTA support." },
	{ 11, "BAD_ARGUMENT", "Bad Argument", "The device rejected the update arguments." },
	{ 12, "ABORT", "Aborted",
	  "The update ended before every announced byte had arrived (the connection closed "
	  "early). A stalled transfer is aborted without any text. Retry on a better link." },
	{ 13, "DECRYPT", "Decryption error",
	  "The device treated the image as encrypted and could not decrypt it: the image does "
	  "not start with 0xE9 (not an app image) or the encryption key does not match." },
	{ 14, "SIGN", "Signature Verification Failed",
	  "The running firmware only accepts images signed with its key. Sign the image." },
};

static const error_row *find_row(espota_platform platform, int code)
{
	const error_row *tab = platform == ESPOTA_PLATFORM_ESP32 ? esp32_errors : esp8266_errors;
	size_t n = platform == ESPOTA_PLATFORM_ESP32 ?
		sizeof(esp32_errors) / sizeof(esp32_errors[0]) :
		sizeof(esp8266_errors) / sizeof(esp8266_errors[0]);
	size_t i;

	for (i = 0; i < n; i++)
		if (tab[i].code == code)
			return &tab[i];
	return NULL;
}

const char *espota__updater_error_text(espota_platform platform, int code)
{
	const error_row *r = find_row(platform, code);
	return r ? r->text : "UNKNOWN";
}

const char *espota__updater_error_name(espota_platform platform, int code)
{
	const error_row *r = find_row(platform, code);
	return r ? r->name : "UNKNOWN";
}

const char *espota_device_error_explain(espota_platform platform, int code)
{
	const error_row *r = find_row(platform, code);
	return r ? r->explain :
		"The device reported an error this library does not know; see the raw text.";
}

/* Copy printable ASCII, trimmed, so device text is safe to log and print. */
static void copy_raw(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t i, o = 0;

	while (len > 0 && isspace((unsigned char)src[len - 1]))
		len--;
	for (i = 0; i < len && isspace((unsigned char)src[i]); i++)
		;
	for (; i < len && o + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
}

static int starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

static void fill(espota_device_error *out, espota_platform platform, int code)
{
	const error_row *r = code >= 0 ? find_row(platform, code) : NULL;

	out->platform = platform;
	out->code = r ? code : (code >= 0 ? code : -1);
	out->name = r ? r->name : "UNKNOWN";
	out->text = r ? r->text : "UNKNOWN";
	out->explanation = espota_device_error_explain(platform, r ? code : -1);
}

int espota_device_error_parse(espota_device_error *out, espota_platform platform,
	const char *text, size_t len)
{
	const char *p;
	size_t i, rest;
	char body[ESPOTA_DEVICE_ERROR_RAW_SIZE];

	if (out == NULL || text == NULL)
		return ESPOTA_EINVAL;
	memset(out, 0, sizeof(*out));
	copy_raw(out->raw, sizeof(out->raw), text, len);
	copy_raw(body, sizeof(body), text, len);
	p = body;
	rest = strlen(body);

	if (starts_with(p, rest, "ERR: ")) {
		p += 5;
		rest -= 5;
	}
	/* ESP8266: "ERROR[<n>]: <text>" */
	if (starts_with(p, rest, "ERROR[")) {
		long code = 0;
		int digits = 0;

		for (i = 6; i < rest && isdigit((unsigned char)p[i]) && digits < 6; i++, digits++)
			code = code * 10 + (p[i] - '0');
		if (digits == 0 || i >= rest || p[i] != ']')
			return ESPOTA_EINVAL;
		fill(out, ESPOTA_PLATFORM_ESP8266, (int)code);
		return ESPOTA_OK;
	}
	/* ESP32: the bare text. Match against the table; the ESP8266 platform
	 * hint cannot produce bare texts, so it is ignored here. */
	{
		size_t k, n = sizeof(esp32_errors) / sizeof(esp32_errors[0]);
		for (k = 1; k < n; k++) {
			if (strcmp(p, esp32_errors[k].text) == 0) {
				fill(out, ESPOTA_PLATFORM_ESP32, esp32_errors[k].code);
				return ESPOTA_OK;
			}
		}
	}
	if (rest == 0)
		return ESPOTA_EINVAL;
	(void)platform;
	fill(out, platform == ESPOTA_PLATFORM_UNKNOWN ? ESPOTA_PLATFORM_ESP32 : platform, -1);
	return ESPOTA_OK;
}

int espota__status_classify(const char *s, size_t n)
{
	size_t k, nrows = sizeof(esp32_errors) / sizeof(esp32_errors[0]);

	if (n == 0)
		return 1;
	if (n >= 2 && s[0] == 'O' && s[1] == 'K')
		return 2;
	if (n == 1 && s[0] == 'O')
		return 1;
	/* ESP8266: "ERROR[<n>]: <text>\n" */
	if (n <= 6 ? memcmp(s, "ERROR[", n) == 0 : memcmp(s, "ERROR[", 6) == 0) {
		if (memchr(s, '\n', n) != NULL)
			return 3;
		return 1;
	}
	/* ESP32: "<text>\r\n" from the table (code 0 is never sent), or the
	 * Updater's "UNKNOWN" for codes outside it. */
	for (k = 1; k <= nrows; k++) {
		const char *t = k < nrows ? esp32_errors[k].text : "UNKNOWN";
		size_t tl = strlen(t);

		if (n <= tl) {
			if (memcmp(s, t, n) == 0)
				return 1;
		} else if (memcmp(s, t, tl) == 0) {
			/* Complete once the line ends; tolerate a missing CR. */
			if (s[tl] == '\r' || s[tl] == '\n')
				return memchr(s + tl, '\n', n - tl) != NULL ? 3 : 1;
		}
	}
	return 0;
}
