/*
 * Device policy (device.h): describe a device from what the user gave, and
 * the preflight decision that refuses only on facts.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espota/device.h"
#include "analysis/image_internal.h"

#define MB (1024u * 1024u)

int espota_device_spec_init(espota_device_spec *spec, unsigned int version)
{
	static const espota_device_spec init = ESPOTA_DEVICE_SPEC_INIT;
	if (espota__isnull(spec) || version != ESPOTA_DEVICE_SPEC_VERSION)
		return ESPOTA_EINVAL;
	*spec = init;
	return ESPOTA_OK;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ESPOTA_EINVAL;
}

/* Number of space-separated words in an "offered" list. */
static size_t words(const char *s)
{
	size_t n = 0;
	while (s != NULL && *s) {
		while (*s == ' ')
			s++;
		if (*s)
			n++;
		while (*s && *s != ' ')
			s++;
	}
	return n;
}

/* Word i of an "offered" list into buf. */
static const char *word(const char *s, size_t i, char *buf, size_t buflen)
{
	size_t n = 0;
	while (s != NULL && *s) {
		const char *w;
		while (*s == ' ')
			s++;
		w = s;
		while (*s && *s != ' ')
			s++;
		if (s > w && n++ == i) {
			size_t len = (size_t)(s - w);
			if (len >= buflen)
				len = buflen - 1;
			memcpy(buf, w, len);
			buf[len] = '\0';
			return buf;
		}
	}
	return NULL;
}

/* All layouts an ESP8266 board offers are of its flash size. */
static int one_flash_size(const espota_board *b)
{
	char name[40];
	size_t i, n = words(b->offered);
	for (i = 0; i < n; i++) {
		const espota_layout *l = espota_layout_find(word(b->offered, i, name, sizeof(name)));
		if (l == NULL || l->flash_size != b->flash_size)
			return 0;
	}
	return 1;
}

void espota_device_clear(espota_device *dev)
{
	if (dev == NULL)
		return;
	espota_partition_table_free(dev->parts);
	dev->parts = NULL;
	dev->fit.partitions = NULL;
}

int espota_device_describe(espota_device *out, const espota_device_spec *spec, char *err, size_t errlen)
{
	espota_fit_device *d;
	const espota_board *b = NULL;

	if (espota__isnull(out) || espota__isnull(spec) || spec->version != ESPOTA_DEVICE_SPEC_VERSION)
		return ESPOTA_EINVAL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(out, 0, sizeof(*out));
	d = &out->fit;
	espota_fit_device_init(d, ESPOTA_FIT_DEVICE_VERSION);
	d->target = spec->target;
	d->strict = spec->strict;
	out->given = spec->board != NULL || spec->layout != NULL || spec->scheme != NULL || spec->partitions != NULL;

	if (spec->board != NULL) {
		b = espota_board_find(spec->board);
		if (b == NULL) {
			const char *s = espota_board_suggest(spec->board);
			d->assumed |= ESPOTA_DEVICE_UNKNOWN_BOARD;
			snprintf(out->note, sizeof(out->note), "unknown board '%.64s'%s%s%s; checking with what the "
				"image tells (see 'espota boards')", spec->board, s ? " (did you mean " : "",
				s ? s : "", s ? "?)" : "");
		} else {
			d->board = b;
			d->platform = b->platform;
			d->chip_size = b->flash_size;
			d->assumed |= ESPOTA_DEVICE_ASSUMED_CHIP;
			if (b->platform == ESPOTA_PLATFORM_ESP8266 && spec->layout == NULL) {
				d->layout = espota_layout_find(b->layout);
				if (words(b->offered) > 1)
					d->assumed |= ESPOTA_DEVICE_ASSUMED_LAYOUT;
			} else if (b->platform == ESPOTA_PLATFORM_ESP32 && spec->scheme == NULL && spec->partitions == NULL) {
				/* The scheme is the board's default: PlatformIO's board_build.partitions
				 * and the IDE menu change it without the device saying so. */
				if (espota_partition_table_builtin(&out->parts, b->layout) == ESPOTA_OK)
					d->partitions = out->parts;
				else
					espota_device_clear(out);
				d->assumed |= ESPOTA_DEVICE_ASSUMED_SCHEME;
			}
		}
	}
	if (spec->layout != NULL) {
		d->layout = espota_layout_find(spec->layout);
		if (d->layout == NULL)
			return fail(err, errlen, "unknown layout '%.64s' (see 'espota boards')", spec->layout);
		d->platform = ESPOTA_PLATFORM_ESP8266;
		d->assumed &= ~ESPOTA_DEVICE_ASSUMED_LAYOUT;
	}
	if (spec->scheme != NULL) {
		espota_device_clear(out);
		if (espota_partition_table_builtin(&out->parts, spec->scheme) != ESPOTA_OK) {
			espota_device_clear(out);
			return fail(err, errlen, "unknown partition scheme '%.64s' (see 'espota boards')", spec->scheme);
		}
		d->partitions = out->parts;
		d->platform = ESPOTA_PLATFORM_ESP32;
		d->assumed &= ~ESPOTA_DEVICE_ASSUMED_SCHEME;
	}
	if (spec->partitions != NULL) {
		int rc;
		espota_device_clear(out);
		if (spec->partitions_len >= 2 && spec->partitions[0] == 0xAA && spec->partitions[1] == 0x50)
			rc = espota_partition_table_parse_bin(&out->parts, spec->partitions, spec->partitions_len);
		else
			rc = espota_partition_table_parse_csv(&out->parts, (const char *)spec->partitions,
				spec->partitions_len);
		if (rc != ESPOTA_OK) {
			rc = fail(err, errlen, "partition table: %s", out->parts != NULL ?
				espota_partition_table_error(out->parts) : espota_strerror(rc));
			espota_device_clear(out);
			return rc;
		}
		d->partitions = out->parts;
		d->platform = ESPOTA_PLATFORM_ESP32;
		d->assumed &= ~ESPOTA_DEVICE_ASSUMED_SCHEME;
	}
	if (spec->platform != ESPOTA_PLATFORM_UNKNOWN)
		d->platform = spec->platform;
	if (spec->chip_size) {
		d->chip_size = spec->chip_size;
		d->assumed &= ~ESPOTA_DEVICE_ASSUMED_CHIP;
	}
	if (b != NULL && b->platform == ESPOTA_PLATFORM_ESP8266 && (d->assumed & ESPOTA_DEVICE_ASSUMED_CHIP) &&
		one_flash_size(b)) {
		/* Every layout the board offers has its flash size: a fact. */
		d->assumed &= ~ESPOTA_DEVICE_ASSUMED_CHIP;
	}
	d->device_header_size = spec->device_header_size;
	d->running_size = spec->running_size;
	d->flash_map = spec->flash_map;
	d->gzip_support = spec->gzip_support;
	return ESPOTA_OK;
}

/* ------------------------------------------------------------------ */
/* Preflight policy */

const char *espota_preflight_decision_name(espota_preflight_decision d)
{
	switch (d) {
	case ESPOTA_PREFLIGHT_SEND: return "send";
	case ESPOTA_PREFLIGHT_WARN: return "warn";
	case ESPOTA_PREFLIGHT_REFUSE: return "refuse";
	}
	return "unknown";
}

static void addf(espota_preflight *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(espota_preflight *p, const char *fmt, ...)
{
	size_t n = strlen(p->warnings);
	va_list ap;
	if (n + 1 >= sizeof(p->warnings))
		return;
	va_start(ap, fmt);
	vsnprintf(p->warnings + n, sizeof(p->warnings) - n, fmt, ap);
	va_end(ap);
	n = strlen(p->warnings);
	if (n + 1 < sizeof(p->warnings) && (n == 0 || p->warnings[n - 1] != '\n')) {
		p->warnings[n] = '\n';
		p->warnings[n + 1] = '\0';
	}
}

static int fits(const espota_image_info *img, const espota_fit_device *d)
{
	espota_fit_report r;
	r.struct_size = sizeof(r);
	return espota_fit_check(&r, img, d) == ESPOTA_OK && r.verdict != ESPOTA_FIT_FAIL;
}

/*
 * The favourable variants of the assumed facts: each offered layout or
 * scheme (the board's default first), a running sketch of one byte, and
 * for an assumed chip size the largest chip. Sets *which to the layout or
 * scheme it first fits with. Returns 1 if any variant fits.
 */
static int fits_somehow(const espota_image_info *img, const espota_fit_device *dev, uint32_t assumptions,
	const char **which)
{
	espota_fit_device d = *dev;
	const espota_board *b = dev->board;
	struct espota_partition_table t;
	char name[40];
	size_t i, n;

	*which = NULL;
	if (assumptions & ESPOTA_FIT_ASSUME_RUNNING_SIZE)
		d.running_size = 1;
	if (dev->assumed & ESPOTA_DEVICE_ASSUMED_CHIP)
		d.chip_size = 16u * MB;
	if (fits(img, &d))
		return 1;
	if (b == NULL || !(dev->assumed & (ESPOTA_DEVICE_ASSUMED_LAYOUT | ESPOTA_DEVICE_ASSUMED_SCHEME)))
		return 0;
	n = words(b->offered);
	for (i = 0; i < n; i++) {
		if (word(b->offered, i, name, sizeof(name)) == NULL)
			break;
		if (dev->assumed & ESPOTA_DEVICE_ASSUMED_LAYOUT) {
			d.layout = espota_layout_find(name);
			if (d.layout == NULL)
				continue;
		} else {
			if (espota__partitions_builtin(&t, name) != ESPOTA_OK)
				continue;
			d.partitions = &t;
		}
		if (fits(img, &d)) {
			*which = dev->assumed & ESPOTA_DEVICE_ASSUMED_LAYOUT ? d.layout->name :
				espota__partitions_builtin_name_of(name);
			return 1;
		}
	}
	return 0;
}

/* Largest running sketch size with which the image fits (the rest as
 * given), 0 if none: the fit is monotone in the running size. */
static uint64_t running_max(const espota_image_info *img, const espota_fit_device *dev, uint64_t hi)
{
	espota_fit_device d = *dev;
	uint64_t lo = 1;

	d.running_size = lo;
	if (!fits(img, &d))
		return 0;
	d.running_size = hi;
	if (fits(img, &d))
		return hi;
	while (hi - lo > 1) { /* at most 64 rounds */
		uint64_t mid = lo + (hi - lo) / 2;
		d.running_size = mid;
		if (fits(img, &d))
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

#define U(v) ((uintmax_t)(v))

int espota_preflight_run(espota_preflight *out, const espota_image_info *img, const espota_fit_device *user)
{
	espota_fit_device full;
	const espota_fit_device *dev = &full;
	espota_fit_report *r;
	int rc;

	if (espota__isnull(out) || espota__isnull(img) || espota__isnull(user))
		return ESPOTA_EINVAL;
	if (user->version == 0 || user->version > ESPOTA_FIT_DEVICE_VERSION)
		return ESPOTA_EINVAL;
	espota__fit_device_copy(&full, user); /* a version 1 caller has no policy fields */
	memset(out, 0, sizeof(*out));
	r = &out->report;
	r->struct_size = sizeof(*r);
	rc = espota_fit_check(r, img, dev);
	if (rc != ESPOTA_OK)
		return rc;
	out->decision = ESPOTA_PREFLIGHT_SEND;
	if (dev->assumed & ESPOTA_DEVICE_UNKNOWN_BOARD) {
		addf(out, "board unknown: the flash size, layout and partitions are not checked");
		out->decision = ESPOTA_PREFLIGHT_WARN;
	}
	if (r->verdict == ESPOTA_FIT_WARN)
		out->decision = ESPOTA_PREFLIGHT_WARN;
	/* What the image itself says decides: an app image as the filesystem,
	 * filesystem data as the firmware, the other platform's image. */
	if ((r->mistakes & (ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS | ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE |
		ESPOTA_FIT_MISTAKE_WRONG_PLATFORM | ESPOTA_FIT_MISTAKE_WRONG_FORMAT)) ||
		(r->warnings & ESPOTA_FIT_WARN_FIRMWARE_AS_FS)) {
		out->decision = ESPOTA_PREFLIGHT_REFUSE;
		out->on_facts = 1;
		return ESPOTA_OK;
	}
	if (r->verdict == ESPOTA_FIT_FAIL) {
		const char *which = NULL;
		if (!fits_somehow(img, dev, r->assumptions, &which)) {
			out->decision = ESPOTA_PREFLIGHT_REFUSE;
			out->on_facts = 1;
			return ESPOTA_OK;
		}
		out->decision = ESPOTA_PREFLIGHT_WARN;
		out->fits_with = which;
		addf(out, "the device may refuse it: %s", r->summary);
		if (r->assumptions & ESPOTA_FIT_ASSUME_RUNNING_SIZE) {
			out->running_size_max = running_max(img, dev, r->size);
			if (out->running_size_max > 0)
				addf(out, "assumed: the running sketch is as large as the new image (%ju bytes); "
					"it fits if the running sketch is at most %ju bytes (--running-size)",
					U(r->size), U(out->running_size_max));
			else
				addf(out, "assumed: the running sketch is as large as the new image (%ju bytes)", U(r->size));
		}
		if (dev->assumed & ESPOTA_DEVICE_ASSUMED_LAYOUT && dev->layout != NULL)
			addf(out, "assumed: layout %s, the default of board %s, which offers %s%s%s (--layout)",
				dev->layout->name, dev->board->name, dev->board->offered,
				which ? "; it fits with " : "", which ? which : "");
		if (dev->assumed & ESPOTA_DEVICE_ASSUMED_SCHEME)
			addf(out, "assumed: partition scheme %s, the default of board %s%s%s (--scheme or --partitions)",
				dev->board ? dev->board->layout : "?", dev->board ? dev->board->name : "?",
				which ? "; it fits with " : "", which ? which : "");
		if (dev->assumed & ESPOTA_DEVICE_ASSUMED_CHIP)
			addf(out, "assumed: a %ju KiB flash chip, the board's (--chip-size)", U(dev->chip_size / 1024));
	}
	if (dev->strict && out->decision == ESPOTA_PREFLIGHT_WARN && out->warnings[0] != '\0') {
		out->decision = ESPOTA_PREFLIGHT_REFUSE;
		out->on_facts = 0;
	}
	return ESPOTA_OK;
}

/* ------------------------------------------------------------------ */
/* Names and sizes */

int espota_size_parse(const char *s, uint64_t *out)
{
	unsigned long long v = 0, mul = 1, frac = 0, fdiv = 1;
	const char *p = s;
	int digits = 0, hex = 0;

	if (espota__isnull(out) || s == NULL)
		return ESPOTA_EINVAL;
	while (isspace((unsigned char)*p))
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		hex = 1;
		p += 2;
		for (; isxdigit((unsigned char)*p); p++, digits++) {
			unsigned d = isdigit((unsigned char)*p) ? (unsigned)(*p - '0') : (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
			if (v > (UINT64_MAX - d) / 16)
				return ESPOTA_EINVAL;
			v = v * 16 + d;
		}
	} else {
		for (; isdigit((unsigned char)*p); p++, digits++) {
			if (v > (UINT64_MAX - (unsigned)(*p - '0')) / 10)
				return ESPOTA_EINVAL;
			v = v * 10 + (unsigned)(*p - '0');
		}
		if (*p == '.' && digits) {
			for (p++; isdigit((unsigned char)*p); p++)
				if (fdiv < 1000000000ULL) {
					frac = frac * 10 + (unsigned)(*p - '0');
					fdiv *= 10;
				}
		}
	}
	if (!digits)
		return ESPOTA_EINVAL;
	while (*p == ' ')
		p++;
	switch (*p) {
	case 'k': case 'K': mul = 1024ULL; p++; break;
	case 'm': case 'M': mul = 1024ULL * 1024; p++; break;
	case 'g': case 'G': mul = 1024ULL * 1024 * 1024; p++; break;
	default: break;
	}
	if (mul != 1 && *p == 'i')
		p++;
	if (*p == 'B' || *p == 'b')
		p++;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0' || (fdiv > 1 && (mul == 1 || hex)))
		return ESPOTA_EINVAL; /* a fraction needs a unit */
	if (v > UINT64_MAX / mul)
		return ESPOTA_EINVAL;
	*out = (uint64_t)(v * mul + frac * mul / fdiv);
	return ESPOTA_OK;
}

const char *espota_partition_scheme_at(size_t i)
{
	return espota__partitions_builtin_name(i);
}

const char *espota_platform_name(espota_platform p)
{
	switch (p) {
	case ESPOTA_PLATFORM_ESP8266: return "esp8266";
	case ESPOTA_PLATFORM_ESP32: return "esp32";
	default: return "unknown";
	}
}

int espota_platform_parse(const char *name, espota_platform *out)
{
	if (espota__isnull(out) || name == NULL)
		return ESPOTA_EINVAL;
	if (espota__strcaseeq(name, "esp8266") || espota__strcaseeq(name, "esp8285")) {
		*out = ESPOTA_PLATFORM_ESP8266;
		return ESPOTA_OK;
	}
	if (strncmp(name, "esp32", 5) == 0 || strncmp(name, "ESP32", 5) == 0) {
		*out = ESPOTA_PLATFORM_ESP32;
		return ESPOTA_OK;
	}
	return ESPOTA_EINVAL;
}

espota_platform espota_image_platform(const espota_image_info *img)
{
	if (img == NULL)
		return ESPOTA_PLATFORM_UNKNOWN;
	switch (img->kind) {
	case ESPOTA_IMAGE_ESP8266_ARDUINO:
	case ESPOTA_IMAGE_ESP8266_BARE:
	case ESPOTA_IMAGE_ESP8266_V2:
	case ESPOTA_IMAGE_ESP32_APP:
		return img->platform;
	default:
		return ESPOTA_PLATFORM_UNKNOWN;
	}
}

const char *espota_auth_scheme_name(espota_auth_scheme s)
{
	switch (s) {
	case ESPOTA_AUTH_NONE: return "none";
	case ESPOTA_AUTH_MD5: return "md5";
	case ESPOTA_AUTH_PBKDF2_SHA256: return "pbkdf2-sha256";
	case ESPOTA_AUTH_PBKDF2_MD5: return "pbkdf2-md5";
	}
	return "unknown";
}
