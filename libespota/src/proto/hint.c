/*
 * Advice for a failed upload (hint.h), and the names of the flash-fit
 * flags. The one place these texts live: the CLI, Python and Lua all ask
 * here, so the same situation gets the same words everywhere. Each case is
 * a row of the table in docs/errors.md and a check in tests/unit/test_hint.c.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "espota/errors.h"
#include "espota/hint.h"
#include "util/util.h"

int espota_hint_input_init(espota_hint_input *in, unsigned int version)
{
	if (in == NULL || version == 0 || version > ESPOTA_HINT_INPUT_VERSION)
		return ESPOTA_EINVAL;
	memset(in, 0, sizeof(*in));
	in->version = version;
	in->target = ESPOTA_TARGET_APP;
	in->platform = ESPOTA_PLATFORM_UNKNOWN;
	return ESPOTA_OK;
}

/* snprintf-like appender: counts what it could not store. */
typedef struct {
	char *buf;
	size_t cap, len;
} out;

static void line(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line(out *o, const char *fmt, ...)
{
	va_list ap;
	int n;
	size_t room = o->len < o->cap ? o->cap - o->len : 0;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->len += (size_t)n;
	room = o->len < o->cap ? o->cap - o->len : 0;
	if (room > 1) {
		o->buf[o->len++] = '\n';
		o->buf[o->len] = '\0';
	} else {
		if (o->cap > 0 && o->len >= o->cap - 1)
			o->buf[o->cap - 1] = '\0';
		o->len++;
	}
}

/* The option's name as the reader will type it. */
#define OPT(in, cli, api) (((in)->flags & ESPOTA_HINT_CLI) ? (cli) : (api))

static int is_mdns_name(const char *host)
{
	size_t n = host ? strlen(host) : 0;

	if (n > 0 && host[n - 1] == '.')
		n--;
	return n > 6 && strncasecmp(host + n - 6, ".local", 6) == 0;
}

static void rebooting(out *o, const espota_hint_input *in)
{
	if (in->since_success_ms == 0 || in->since_success_ms >= ESPOTA_HINT_REBOOT_MS)
		return;
	line(o, "This device confirmed an update %" PRIu64 " s ago and is probably still rebooting "
		"into it: wait until it is back on the network, then retry.",
		(in->since_success_ms + 999) / 1000);
}

static void device_error(out *o, const espota_hint_input *in)
{
	const espota_device_error *d = in->device_error;

	if (d == NULL)
		return;
	/* The numbers mean different things on the two cores (device_errors.c):
	 * 4 is "no room" only on ESP8266, the magic byte is 10 there and 8 (or
	 * 13, decrypt) on ESP32. */
	if (d->code == 4 && d->platform == ESPOTA_PLATFORM_ESP8266) {
		if (in->target == ESPOTA_TARGET_FS)
			line(o, "The filesystem image is larger than the filesystem area of the firmware "
				"running on the device. Build the image for that area (the board's flash "
				"size / filesystem menu option, mklittlefs -s), or first install a firmware "
				"whose layout has a larger filesystem; %s gives the exact size.",
				OPT(in, "'espota check -s --board/--layout'", "check(target=\"fs\")"));
		else
			line(o, "Shrink the image or compress it (%s), or first install a firmware whose "
				"layout leaves more room for updates (a smaller filesystem); %s gives the "
				"exact limit.", OPT(in, "--compress", "compress=True"),
				OPT(in, "'espota check --board/--layout'", "check()"));
	} else if (in->target == ESPOTA_TARGET_APP &&
		((d->code == 10 && d->platform == ESPOTA_PLATFORM_ESP8266) ||
		 ((d->code == 8 || d->code == 13) && d->platform == ESPOTA_PLATFORM_ESP32))) {
		line(o, "If this is a filesystem image, send it as one (%s).",
			OPT(in, "-s", "target=\"fs\""));
	}
}

int espota_hint(char *buf, size_t buflen, const espota_hint_input *in)
{
	const espota_upload_stats *st;
	espota_upload_stats none;
	espota_fit_report rep;
	const espota_fit_report *report = NULL;
	espota_platform plat;
	out o;

	if (in == NULL || in->version == 0 || in->version > ESPOTA_HINT_INPUT_VERSION ||
		(buf == NULL && buflen > 0))
		return ESPOTA_EINVAL;
	o.buf = buf;
	o.cap = buflen;
	o.len = 0;
	if (buflen > 0)
		buf[0] = '\0';
	/* The caller's structs may be older and smaller (docs/api.md): read
	 * them in this library's sizes, what they lack as zero/unknown. */
	memset(&none, 0, sizeof(none));
	none.struct_size = sizeof(none);
	if (in->stats != NULL)
		(void)espota__copy_sized(&none, sizeof(none), in->stats, in->stats->struct_size);
	st = &none;
	memset(&rep, 0, sizeof(rep));
	rep.struct_size = sizeof(rep);
	if (in->report != NULL && espota__copy_sized(&rep, sizeof(rep), in->report, in->report->struct_size) == 0)
		report = &rep;
	plat = st->platform != ESPOTA_PLATFORM_UNKNOWN ? st->platform : in->platform;

	switch (in->code) {
	case ESPOTA_ETIMEOUT:
		if (st->phase == ESPOTA_PHASE_CONNECT) {
			line(&o, "The device accepted the invitation but never connected back to this host "
				"on TCP port %u. The usual cause is a host firewall blocking incoming TCP, or "
				"a wrong local address on a host with several networks (VPN, containers, "
				"virtual adapters). Allow incoming TCP on port %u, or choose a fixed port "
				"with %s and open that one, and give this host's address on the device's "
				"network with %s.", (unsigned)st->local_port, (unsigned)st->local_port,
				OPT(in, "-P PORT", "bind_port"), OPT(in, "-I", "bind_address"));
			if (plat == ESPOTA_PLATFORM_ESP32)
				line(&o, "On ESP32 an image too big for the OTA partition looks the same (the "
					"device says OK, then fails in Update.begin()): run %s.",
					OPT(in, "'espota check' with --board or --scheme", "check() with its partition table"));
		} else if (st->phase <= ESPOTA_PHASE_INVITE) {
			rebooting(&o, in);
			line(&o, "No answer to the invitation from %s port %u. Check the address and the "
				"port (%s8266 on ESP8266, 3232 on ESP32), that the sketch is running and "
				"calls ArduinoOTA.handle() often, and that host and device are on the same "
				"network. A device still waiting for an earlier authentication ignores "
				"invitations for a while; wait and retry.", in->host ? in->host : "the device",
				(unsigned)in->port, OPT(in, "-p: ", ""));
		} else if (st->phase == ESPOTA_PHASE_AUTH) {
			line(&o, "The device did not answer the authentication. Retry; if it keeps "
				"happening, restart the device.");
		} else if (st->phase == ESPOTA_PHASE_TRANSFER) {
			line(&o, "The device stopped acknowledging data after %" PRIu64 " of %" PRIu64
				" bytes (weak Wi-Fi, or the sketch blocks). Retry closer to the access point; "
				"%s is gentler on slow devices.", st->acked, st->total,
				OPT(in, "--stop-and-wait", "transfer=\"stop-and-wait\""));
		} else if (st->phase == ESPOTA_PHASE_RESULT) {
			line(&o, "Every byte was acknowledged but no final result came. The update may or "
				"may not have been applied: check the device.");
		}
		break;
	case ESPOTA_EAUTH:
		if (!in->password_given)
			line(&o, "The device asks for a password and none was given. %s",
				OPT(in, "Use --auth-env VAR, --auth-file FILE or the ESPOTA_PASSWORD variable "
					"(or run on a terminal to be asked).",
					"Pass password=, or an auth callback that returns one."));
		else
			line(&o, "Wrong password. On ESP32 cores >= 3.3.1 a sketch that stores an MD5 "
				"password hash needs %s; a hash set with setPasswordHash() must be lowercase "
				"hex.", OPT(in, "-m/--md5-target", "auth_mode=\"md5\""));
		break;
	case ESPOTA_ECLOSED:
		line(&o, "The device closed the connection after %" PRIu64 " of %" PRIu64 " bytes without "
			"a result: it crashed, rebooted or lost Wi-Fi. Retry, and check its serial log.",
			st->acked, st->total);
		break;
	case ESPOTA_ERESOLVE:
		if (is_mdns_name(in->host))
			line(&o, "NAME.local names need mDNS: the system resolver (avahi-daemon and "
				"libnss-mdns, if installed) and espota's own mDNS query got no answer. The device "
				"must be on this link (not another subnet, no Wi-Fi client isolation) and announce "
				"itself (ArduinoOTA does, with MDNS); 'espota discover' lists what answers. Or use "
				"the device's IP address.");
		else
			line(&o, "Check the name, or use the device's IP address.");
		break;
	case ESPOTA_EIO:
		if (st->phase <= ESPOTA_PHASE_INVITE && in->bind_given)
			line(&o, "Check %s (must be an address of this host) and %s (must be free).",
				OPT(in, "-I", "bind_address"), OPT(in, "-P", "bind_port"));
		else if (st->phase == ESPOTA_PHASE_INVITE || st->phase == ESPOTA_PHASE_AUTH) {
			rebooting(&o, in);
			line(&o, "The host at %s is up but nothing listens on UDP port %u. Check the port "
				"(%s8266 on ESP8266, 3232 on ESP32) and that the sketch has called "
				"ArduinoOTA.begin().", in->host ? in->host : "the device's address",
				(unsigned)in->port, OPT(in, "-p: ", ""));
		}
		break;
	case ESPOTA_EREFUSED:
		device_error(&o, in);
		break;
	case ESPOTA_ENOFIT:
		if (report != NULL && (report->mistakes & ESPOTA_FIT_MISTAKE_TOO_BIG) &&
			report->limit > 0)
			line(&o, "Shrink the image by %" PRIu64 " bytes, to at most %" PRIu64 " bytes.",
				report->shrink_by, report->limit);
		line(&o, "Nothing was sent; %s sends it anyway.", OPT(in, "--force", "force=True"));
		break;
	case ESPOTA_EIMAGE:
		line(&o, "Upload the .bin the build produced (not the .elf); %s sends it anyway.",
			OPT(in, "--force", "force=True"));
		break;
	default:
		break;
	}
	return o.len > (size_t)INT32_MAX ? ESPOTA_EINVAL : (int)o.len;
}

/* ---- flash-fit flag names ------------------------------------------------ */

typedef struct {
	uint32_t bit;
	const char *name, *text;
} flag_row;

static const flag_row mistakes[] = {
	{ ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS, "FIRMWARE_AS_FS", "a firmware image sent as the filesystem" },
	{ ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE, "FS_AS_FIRMWARE", "data that is not firmware sent as firmware" },
	{ ESPOTA_FIT_MISTAKE_DEVICE_HEADER, "DEVICE_HEADER", "the device's header claims more flash than the chip (error 8)" },
	{ ESPOTA_FIT_MISTAKE_IMAGE_HEADER, "IMAGE_HEADER", "the new image claims more flash than the chip (error 9)" },
	{ ESPOTA_FIT_MISTAKE_WRONG_PLATFORM, "WRONG_PLATFORM", "an image for the other chip family" },
	{ ESPOTA_FIT_MISTAKE_TOO_BIG, "TOO_BIG", "larger than the space the Updater allows" },
	{ ESPOTA_FIT_MISTAKE_GZIP_UNSUPPORTED, "GZIP_UNSUPPORTED", "gzip image to a device without gzip support" },
	{ ESPOTA_FIT_MISTAKE_NOT_SIGNED, "NOT_SIGNED", "the device verifies signatures; the image has none" },
	{ ESPOTA_FIT_MISTAKE_NO_OTA_SLOT, "NO_OTA_SLOT", "the partition table has no second app slot" },
	{ ESPOTA_FIT_MISTAKE_LAYOUT_BEYOND_CHIP, "LAYOUT_BEYOND_CHIP", "the running layout addresses flash the chip does not have" },
	{ ESPOTA_FIT_MISTAKE_WRONG_FORMAT, "WRONG_FORMAT", "an app image format the Updater cannot take" },
};

static const flag_row assumptions[] = {
	{ ESPOTA_FIT_ASSUME_RUNNING_SIZE, "RUNNING_SIZE", "the running sketch is as large as the new image" },
	{ ESPOTA_FIT_ASSUME_CHIP_SIZE, "CHIP_SIZE", "the chip is as large as the layout says" },
	{ ESPOTA_FIT_ASSUME_DEVICE_HEADER, "DEVICE_HEADER", "the device's header is correct (no error 8)" },
	{ ESPOTA_FIT_ASSUME_LAYOUT, "LAYOUT", "the layout is unknown: size limits not checked" },
	{ ESPOTA_FIT_ASSUME_GZIP_SUPPORT, "GZIP_SUPPORT", "the device runs core 2.7 or later (gzip)" },
	{ ESPOTA_FIT_ASSUME_PLATFORM, "PLATFORM", "the platform is unknown: ESP8266 assumed" },
	{ ESPOTA_FIT_ASSUME_RUNNING_PARTITION, "RUNNING_PARTITION", "ESP32: running from the factory app" },
};

static const flag_row warnings[] = {
	{ ESPOTA_FIT_WARN_GZIP_LOCKOUT, "GZIP_LOCKOUT", "gzip image with a too-big header: later updates fail with error 8" },
	{ ESPOTA_FIT_WARN_GZIP_OVERLAP, "GZIP_OVERLAP", "the inflated image may overwrite its staged copy" },
	{ ESPOTA_FIT_WARN_IROM0, "IROM0", "the irom0 segment exceeds the layout's irom0 window" },
	{ ESPOTA_FIT_WARN_FIRMWARE_AS_FS, "FIRMWARE_AS_FS", "a firmware image overwrites the filesystem" },
	{ ESPOTA_FIT_WARN_LAST_OTA_SLOT, "LAST_OTA_SLOT", "ESP32: no further OTA update after this one" },
	{ ESPOTA_FIT_WARN_HEADER_SIZE_CODE, "HEADER_SIZE_CODE", "a flash size code the Updater does not understand" },
};

static const flag_row *flag_find(int kind, uint32_t bit)
{
	const flag_row *t;
	size_t i, n;

	switch (kind) {
	case 'm': t = mistakes; n = sizeof(mistakes) / sizeof(mistakes[0]); break;
	case 'a': t = assumptions; n = sizeof(assumptions) / sizeof(assumptions[0]); break;
	case 'w': t = warnings; n = sizeof(warnings) / sizeof(warnings[0]); break;
	default: return NULL;
	}
	for (i = 0; i < n; i++)
		if (t[i].bit == bit)
			return &t[i];
	return NULL;
}

const char *espota_fit_flag_name(int kind, uint32_t bit)
{
	const flag_row *r = flag_find(kind, bit);

	return r ? r->name : NULL;
}

const char *espota_fit_flag_text(int kind, uint32_t bit)
{
	const flag_row *r = flag_find(kind, bit);

	return r ? r->text : NULL;
}
