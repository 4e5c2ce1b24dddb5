/*
 * Flash-fit: predict what the device's Updater does with an image
 * (flashfit.md sections 2, 3.3, 4.3 and the algorithm of section 6).
 *
 * The checks are evaluated in the order the device performs them and the
 * earliest failure is the predicted device error: ESP8266 begin() checks
 * the device header (8) and then the size (4) before any data; end() checks
 * the signature (12), the magic byte (10) and the new header (9) after the
 * whole upload. Everything else found on the way is recorded as mistakes,
 * warnings and advice, so one report answers "why, and what do I do".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "analysis/device_errors.h"
#include "espota/errors.h"
#include "espota/flashfit.h"
#include "analysis/image_internal.h"
#include "util/util.h"

#if defined(__GNUC__)
# define FORMAT(a, b) __attribute__((format(printf, a, b)))
#else
# define FORMAT(a, b)
#endif

/* ------------------------------------------------------------------ */
/* Text helpers                                                        */

typedef struct {
	char *buf;
	size_t cap;
	size_t len; /* what the text needs, even past cap (snprintf-like) */
} sb;

static void sb_init(sb *b, char *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	if (buf != NULL && cap > 0)
		buf[0] = '\0';
}

FORMAT(2, 3)
static void sb_addf(sb *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->buf != NULL && b->len < b->cap ? b->cap - b->len : 0;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
}

/* 329008 -> "329,008" (the and the docs' notation). */
typedef struct {
	char s[40];
} num;

static num fmt_u(uint64_t v)
{
	num r;
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v), i, o = 0;
	for (i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			r.s[o++] = ',';
		r.s[o++] = tmp[i];
	}
	r.s[o] = '\0';
	return r;
}

/* 1048576 -> "1 MB", 65536 -> "64 KB", else bytes with separators. */
static num fmt_size(uint64_t v)
{
	num r;
	if (v >= (1u << 20) && v % (1u << 20) == 0)
		snprintf(r.s, sizeof(r.s), "%llu MB", (unsigned long long)(v >> 20));
	else if (v >= 1024 && v % 1024 == 0)
		snprintf(r.s, sizeof(r.s), "%llu KB", (unsigned long long)(v >> 10));
	else {
		r = fmt_u(v); /* at most 26 characters */
		memcpy(r.s + strlen(r.s), " bytes", 7);
	}
	return r;
}

/* esptool's --flash_size spelling: "1MB", "512KB". */
static num fmt_esptool(uint64_t v)
{
	num r;
	if (v >= (1u << 20))
		snprintf(r.s, sizeof(r.s), "%lluMB", (unsigned long long)(v >> 20));
	else
		snprintf(r.s, sizeof(r.s), "%lluKB", (unsigned long long)(v >> 10));
	return r;
}

#define U(v) (fmt_u(v).s)
#define SZ(v) (fmt_size(v).s)

/* ------------------------------------------------------------------ */
/* Check context                                                       */

typedef struct {
	espota_fit_report *r;
	const espota_image_info *img;
	const espota_fit_device *dev;
	espota_platform platform;
	int size_known;     /* a layout / partition table was given */
	const char *fail;   /* reason for a FAIL without a device error */
	char reason[200];   /* why the predicted device error happens */
	sb advice;
} ctx;

static int when_rank(espota_fit_when w)
{
	switch (w) {
	case ESPOTA_FIT_WHEN_BEFORE_DATA: return 1;
	case ESPOTA_FIT_WHEN_FIRST_BLOCK: return 2;
	case ESPOTA_FIT_WHEN_DURING_UPLOAD: return 3;
	case ESPOTA_FIT_WHEN_AFTER_UPLOAD: return 4;
	default: return 5;
	}
}

/* Record a device error unless an earlier one already stops the upload. */
FORMAT(4, 5)
static void predict(ctx *c, int code, espota_fit_when when, const char *fmt, ...)
{
	va_list ap;

	if (c->r->device_error != 0 && when_rank(c->r->when) <= when_rank(when))
		return;
	c->r->device_error = code;
	c->r->device_error_text = espota__updater_error_text(c->platform, code);
	c->r->when = when;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

#define advise(c, ...) sb_addf(&(c)->advice, "- " __VA_ARGS__)

static int is_esp8266_app_kind(espota_image_kind k)
{
	return k == ESPOTA_IMAGE_ESP8266_ARDUINO || k == ESPOTA_IMAGE_ESP8266_BARE;
}

static int is_app_kind(espota_image_kind k)
{
	return is_esp8266_app_kind(k) || k == ESPOTA_IMAGE_ESP8266_V2 || k == ESPOTA_IMAGE_ESP32_APP;
}

static const char *kind_phrase(espota_image_kind k)
{
	switch (k) {
	case ESPOTA_IMAGE_LITTLEFS: return "a LittleFS filesystem image";
	case ESPOTA_IMAGE_SPIFFS: return "a SPIFFS filesystem image";
	case ESPOTA_IMAGE_ESP32_PARTITIONS: return "an ESP32 partition table";
	case ESPOTA_IMAGE_ESP32_APP: return "an ESP32 application image";
	case ESPOTA_IMAGE_ESP8266_V2: return "an ESP8266 SDK/rboot v2 (0xEA) image";
	default: return "not an application image";
	}
}

/* "1M, 1M64, 1M128" : named layouts of `flash` bytes for which `ok` holds. */
static void list_layouts(sb *b, uint64_t flash, uint64_t n, uint64_t s, int fs)
{
	size_t i;
	int first = 1;
	for (i = 0; i < espota_layout_count(); i++) {
		const espota_layout *l = espota_layout_at(i);
		uint64_t lim;
		if (l->flash_size != flash)
			continue;
		if (fs)
			lim = l->fs_end - l->fs_start;
		else
			lim = l->fs_start > espota__ceil4k(s) ? espota__floor4k(l->fs_start - espota__ceil4k(s)) : 0;
		if (espota__ceil4k(n) > lim)
			continue;
		sb_addf(b, "%s%s", first ? "" : ", ", l->name);
		first = 0;
	}
	if (first)
		sb_addf(b, "none");
}

/* ------------------------------------------------------------------ */
/* ESP8266                                                             */

static void esp8266_size_app(ctx *c, const espota_layout *l, uint64_t chip)
{
	espota_fit_report *r = c->r;
	const espota_image_info *img = c->img;
	uint64_t n = r->size, s = c->dev->running_size, cs, lim;

	if (s == 0) {
		s = n;
		r->assumptions |= ESPOTA_FIT_ASSUME_RUNNING_SIZE;
	}
	cs = espota__ceil4k(s);
	/* begin(): accept iff ceil4k(N) <= FS_start - ceil4k(S); the image is
	 * staged right below the filesystem. */
	lim = l->fs_start > cs ? espota__floor4k(l->fs_start - cs) : 0;
	r->limit = lim;
	r->same_size_limit = (uint64_t)(l->fs_start / 8192u) * 4096u;
	r->same_size_margin = (int64_t)r->same_size_limit - (int64_t)n;
	r->margin = (int64_t)lim - (int64_t)n;
	if (espota__ceil4k(n) > lim) {
		r->shrink_by = n - lim;
		r->mistakes |= ESPOTA_FIT_MISTAKE_TOO_BIG;
		predict(c, 4, ESPOTA_FIT_WHEN_BEFORE_DATA,
			"%s bytes do not fit: at most %s bytes next to a running sketch of %s bytes "
			"(over by %s)", U(n), U(lim), U(s), U(r->shrink_by));
		/* An image for the other chip is not to be shrunk but rebuilt
		 * (advised already): the size advice would mislead. */
		if (r->mistakes & ESPOTA_FIT_MISTAKE_WRONG_PLATFORM)
			return;
		advise(c, "shrink the image by %s bytes, to at most %s bytes\n", U(r->shrink_by), U(lim));
		if (r->same_size_limit > 0)
			sb_addf(&c->advice, "  (for a same-size update on layout %s: at most %s bytes)\n",
				l->name, U(r->same_size_limit));
		advise(c, "or pick a smaller filesystem option; layouts of %s that fit: ", SZ(l->flash_size));
		list_layouts(&c->advice, l->flash_size, n, s, 0);
		sb_addf(&c->advice, "\n");
		if (!img->gzip)
			advise(c, "or compress the image with gzip (PlatformIO board_build.gzip_fw, elf2bin --gzip): "
				"needs core 2.7 or later on the RUNNING firmware; the space check uses the "
				"compressed size\n");
	} else if (chip != 0 && l->fs_start > chip) {
		/* Fits on paper, but the staging area lies beyond the chip. */
		r->mistakes |= ESPOTA_FIT_MISTAKE_LAYOUT_BEYOND_CHIP;
		predict(c, 2, ESPOTA_FIT_WHEN_DURING_UPLOAD,
			"the running layout %s stages the image at 0x%llX, beyond the %s chip",
			l->name, (unsigned long long)(l->fs_start - espota__ceil4k(n)), SZ(chip));
		advise(c, "the running firmware was built for %s but the chip has %s: re-flash over serial "
			"with a build for the right flash size\n", SZ(l->flash_size), SZ(chip));
	}
	if (img->irom0_len > l->irom0_max) {
		r->warnings |= ESPOTA_FIT_WARN_IROM0;
		advise(c, "the image's irom0 segment (%s bytes) exceeds the irom0 window of layout %s "
			"(%s bytes): it was not linked for this layout\n", U(img->irom0_len), l->name,
			U(l->irom0_max));
	}
	if (img->gzip && is_esp8266_app_kind(img->kind)) {
		/* flashfit.md 1.5, derived: inflation writes from 0 upward while
		 * reading the staged copy at FS_start - ceil4k(N). */
		uint64_t room = l->fs_start > espota__ceil4k(n) ? l->fs_start - espota__ceil4k(n) : 0;
		if (img->inner_size > room) {
			r->warnings |= ESPOTA_FIT_WARN_GZIP_OVERLAP;
			advise(c, "the image inflates to %s bytes, more than the %s bytes below the staged copy: "
				"eboot may overwrite compressed data it has not read yet (derived rule, the "
				"device does not check it)\n", U(img->inner_size), U(room));
		}
	}
}

static void esp8266_size_fs(ctx *c, const espota_layout *l, uint64_t chip)
{
	espota_fit_report *r = c->r;
	uint64_t n = r->size, area = l->fs_end - l->fs_start, lim = espota__floor4k(area);

	r->limit = lim;
	r->margin = (int64_t)lim - (int64_t)n;
	if (espota__ceil4k(n) > lim) {
		r->shrink_by = n - lim;
		r->mistakes |= ESPOTA_FIT_MISTAKE_TOO_BIG;
		if (area == 0)
			predict(c, 4, ESPOTA_FIT_WHEN_BEFORE_DATA,
				"the running layout %s has no filesystem area", l->name);
		else
			predict(c, 4, ESPOTA_FIT_WHEN_BEFORE_DATA,
				"%s bytes do not fit the filesystem area of %s bytes (over by %s)",
				U(n), U(area), U(r->shrink_by));
		if (!(r->mistakes & ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS)) {
			advise(c, "shrink the filesystem image by %s bytes, to at most %s bytes\n",
				U(r->shrink_by), U(lim));
			advise(c, "or pick a larger filesystem option; layouts of %s that fit: ", SZ(l->flash_size));
			list_layouts(&c->advice, l->flash_size, n, 0, 1);
			sb_addf(&c->advice, "\n");
		}
	}
	if (c->dev->atomic_fs) {
		/* ATOMIC_FS_UPDATE stages the filesystem below FS_start too. */
		uint64_t s = c->dev->running_size, cs, lim2;
		if (s == 0) {
			s = n;
			r->assumptions |= ESPOTA_FIT_ASSUME_RUNNING_SIZE;
		}
		cs = espota__ceil4k(s);
		lim2 = l->fs_start > cs ? espota__floor4k(l->fs_start - cs) : 0;
		if (lim2 < r->limit) {
			r->limit = lim2;
			r->margin = (int64_t)lim2 - (int64_t)n;
		}
		if (espota__ceil4k(n) > lim2) {
			r->shrink_by = n > r->limit ? n - r->limit : 0;
			r->mistakes |= ESPOTA_FIT_MISTAKE_TOO_BIG;
			predict(c, 4, ESPOTA_FIT_WHEN_BEFORE_DATA,
				"ATOMIC_FS_UPDATE stages the image below the filesystem: at most %s bytes "
				"next to a running sketch of %s bytes", U(lim2), U(s));
		}
	}
	if (chip != 0 && l->fs_end > chip && area > 0 && espota__ceil4k(n) <= lim) {
		r->mistakes |= ESPOTA_FIT_MISTAKE_LAYOUT_BEYOND_CHIP;
		predict(c, 2, ESPOTA_FIT_WHEN_DURING_UPLOAD,
			"the running layout %s puts the filesystem at 0x%lX-0x%lX, beyond the %s chip",
			l->name, (unsigned long)l->fs_start, (unsigned long)l->fs_end, SZ(chip));
		advise(c, "the running firmware was built for %s but the chip has %s: re-flash over serial "
			"with a build for the right flash size\n", SZ(l->flash_size), SZ(chip));
	}
}

/*
 * end() with a signing build verifies the trailer before anything else it
 * checks (magic byte 10, new header 9), and does so for every command,
 * filesystem uploads included; the MD5 is then not compared at all.
 */
static void esp8266_signing(ctx *c)
{
	espota_fit_report *r = c->r;
	const espota_image_info *img = c->img;
	const espota_fit_device *dev = c->dev;

	if (dev->signing_len != 0) {
		if (!img->is_signed || img->signature_len != dev->signing_len) {
			r->mistakes |= ESPOTA_FIT_MISTAKE_NOT_SIGNED;
			predict(c, 12, ESPOTA_FIT_WHEN_AFTER_UPLOAD,
				"the running firmware verifies %lu-byte signatures on every upload and the %s %s",
				(unsigned long)dev->signing_len,
				dev->target == ESPOTA_TARGET_FS ? "filesystem image" : "image",
				img->is_signed ? "has a trailer of another length" : "is not signed");
			advise(c, "sign the %s with the device's key (signing.py; the .bin.signed file)\n",
				dev->target == ESPOTA_TARGET_FS ? "filesystem image too" : "image");
		}
	} else if (img->is_signed) {
		advise(c, "the image carries a %lu-byte signature the device does not check; it is "
			"uploaded as %lu extra bytes\n", (unsigned long)img->signature_len,
			(unsigned long)img->signature_len + 4);
	}
}

static void check_esp8266(ctx *c)
{
	espota_fit_report *r = c->r;
	const espota_image_info *img = c->img;
	const espota_fit_device *dev = c->dev;
	const espota_layout *l = dev->layout;
	uint64_t chip = dev->chip_size;
	int app_inside = is_esp8266_app_kind(img->kind);

	if (chip == 0 && l != NULL) {
		chip = l->flash_size;
		r->assumptions |= ESPOTA_FIT_ASSUME_CHIP_SIZE;
	} else if (chip == 0) {
		r->assumptions |= ESPOTA_FIT_ASSUME_CHIP_SIZE; /* unknown: 8 and 9 not checked */
	}

	/* begin() step 4: checkFlashConfig, before the command is looked at.
	 * A FLASH_MAP build compares the chip with itself (getFlashChipSize()
	 * returns the real size), so it never raises 8. */
	if (dev->flash_map) {
		/* nothing to check */
	} else if (dev->device_header_size == 0) {
		r->assumptions |= ESPOTA_FIT_ASSUME_DEVICE_HEADER;
	} else if (chip != 0 && dev->device_header_size > chip) {
		r->mistakes |= ESPOTA_FIT_MISTAKE_DEVICE_HEADER;
		predict(c, 8, ESPOTA_FIT_WHEN_BEFORE_DATA,
			"the device's flash header says %s but the chip has %s; shrinking will not help",
			SZ(dev->device_header_size), SZ(chip));
		advise(c, "error 8 cannot be fixed over the air: re-flash over serial with the right flash "
			"size (esptool write_flash -fs %s, or -fs detect) and a build for this board; "
			"then OTA works again\n", fmt_esptool(chip).s);
	}

	if (dev->target == ESPOTA_TARGET_FS) {
		if (is_app_kind(img->kind)) {
			r->mistakes |= ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS;
			r->warnings |= ESPOTA_FIT_WARN_FIRMWARE_AS_FS;
			advise(c, "the file looks like firmware: a filesystem upload (-s) would overwrite the "
				"filesystem with it and not update the firmware; upload firmware without -s\n");
		}
		if (l != NULL)
			esp8266_size_fs(c, l, chip);
		esp8266_signing(c);
		return;
	}

	/* end(): the signature first ... */
	esp8266_signing(c);

	/* U_FLASH: what end() will think of the data. */
	if (img->kind == ESPOTA_IMAGE_ESP32_APP) {
		r->mistakes |= ESPOTA_FIT_MISTAKE_WRONG_PLATFORM;
		/* _verifyEnd() only looks for 0xE9 and reads the ESP32 size code
		 * with the ESP8266 table, so the device usually takes it. */
		c->fail = "this is an ESP32 image: the ESP8266 Updater would accept it (it only checks "
			"the 0xE9 magic byte) and the board would then not boot until re-flashed over serial";
		advise(c, "build the firmware for the ESP8266 board\n");
	} else if (img->gzip) {
		if (dev->gzip_support == 0) {
			r->mistakes |= ESPOTA_FIT_MISTAKE_GZIP_UNSUPPORTED;
			predict(c, 10, ESPOTA_FIT_WHEN_AFTER_UPLOAD,
				"the running firmware (core older than 2.7) does not accept gzip images");
			advise(c, "upload the uncompressed .bin (once it runs core 2.7 or later, compressed "
				"images work)\n");
		} else if (dev->gzip_support < 0) {
			r->assumptions |= ESPOTA_FIT_ASSUME_GZIP_SUPPORT;
		}
		if (!app_inside && dev->gzip_support != 0) {
			r->mistakes |= ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE;
			c->fail = "the gzip file does not hold an ESP8266 application image; the Updater takes "
				"any gzip data without checks and the device would not boot";
			advise(c, "send only compressed firmware .bin files as firmware\n");
		}
	} else if (img->kind == ESPOTA_IMAGE_ESP8266_V2) {
		r->mistakes |= ESPOTA_FIT_MISTAKE_WRONG_FORMAT;
		predict(c, 10, ESPOTA_FIT_WHEN_AFTER_UPLOAD,
			"the file is an SDK/rboot v2 (0xEA) image; the Updater needs 0xE9 or gzip");
		advise(c, "upload the Arduino .bin (elf2bin output) instead\n");
	} else if (!app_inside) {
		r->mistakes |= ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE;
		predict(c, 10, ESPOTA_FIT_WHEN_AFTER_UPLOAD,
			"the file is %s, not firmware (first byte 0x%02X, not 0xE9)", kind_phrase(img->kind), img->magic);
		advise(c, "for a filesystem image use the filesystem target (-s)\n");
	}

	/* ... then the new header's flash size (skipped for gzip and FLASH_MAP). */
	if (app_inside && chip != 0) {
		uint64_t hs = img->header_flash_size;
		if (hs == 0) {
			r->warnings |= ESPOTA_FIT_WARN_HEADER_SIZE_CODE;
			advise(c, "the image's flash size code 0x%X is not understood by the Updater (size checks "
				"pass vacuously)\n", img->flash_size_code);
		} else if (hs > chip) {
			r->mistakes |= ESPOTA_FIT_MISTAKE_IMAGE_HEADER;
			if (img->gzip) {
				r->warnings |= ESPOTA_FIT_WARN_GZIP_LOCKOUT;
				advise(c, "the compressed image's header says %s on a %s chip: the Updater skips the "
					"check for gzip, so it is accepted, but every later OTA then fails with "
					"error 8 until the device is re-flashed over serial; rebuild for %s\n",
					SZ(hs), SZ(chip), SZ(chip));
			} else if (dev->flash_map) {
				advise(c, "the image's header says %s on a %s chip; the running FLASH_MAP firmware "
					"skips that check\n", SZ(hs), SZ(chip));
			} else {
				predict(c, 9, ESPOTA_FIT_WHEN_AFTER_UPLOAD,
					"the image's header says %s but the chip has %s", SZ(hs), SZ(chip));
				advise(c, "rebuild for a %s board or layout (the header must not claim more flash "
					"than the chip has)\n", SZ(chip));
			}
		}
	}

	if (l != NULL)
		esp8266_size_app(c, l, chip);
}

/* ------------------------------------------------------------------ */
/* ESP32                                                               */

static const char esp32_silent[] =
	"; ESP32 reports this silently: the device answers OK and never connects back";

static void esp32_advise_schemes(ctx *c, const espota_partition_table *t, uint64_t n)
{
	uint64_t flash = espota__partitions_flash_size(t);
	size_t i;
	int first = 1;
	const char *name;

	advise(c, "or choose a partition scheme with larger OTA app slots (%s flash): ", SZ(flash));
	for (i = 0; (name = espota__partitions_builtin_name(i)) != NULL; i++) {
		struct espota_partition_table b;
		unsigned int k, ota = 0;
		uint64_t slot = UINT64_MAX;
		if (espota__partitions_builtin(&b, name) != ESPOTA_OK || espota__partitions_flash_size(&b) != flash)
			continue;
		for (k = 0; k < b.count; k++)
			if (b.entries[k].type == 0 && b.entries[k].subtype >= 0x10 && b.entries[k].subtype < 0x20) {
				ota++;
				if (b.entries[k].size < slot)
					slot = b.entries[k].size;
			}
		if (ota >= 2 && slot >= n) {
			sb_addf(&c->advice, "%s%s (%s bytes)", first ? "" : ", ", name, U(slot));
			first = 0;
		}
	}
	sb_addf(&c->advice, "%s\n", first ? "none" : "");
}

static void check_esp32(ctx *c)
{
	espota_fit_report *r = c->r;
	const espota_image_info *img = c->img;
	const espota_partition_table *t = c->dev->partitions;
	uint64_t n = r->size;
	unsigned int i;

	if (c->dev->target == ESPOTA_TARGET_FS) {
		const espota_partition *fs = NULL;
		static const uint8_t order[] = { 0x82, 0x81, 0x83 }; /* U_FLASHFS: spiffs, fat, littlefs */
		size_t k;

		if (is_app_kind(img->kind)) {
			r->mistakes |= ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS;
			r->warnings |= ESPOTA_FIT_WARN_FIRMWARE_AS_FS;
			advise(c, "the file looks like firmware: a filesystem upload would overwrite the "
				"filesystem with it and not update the firmware; upload firmware as firmware\n");
		}
		if (t == NULL)
			return;
		for (k = 0; k < sizeof(order) && fs == NULL; k++)
			for (i = 0; i < t->count; i++)
				if (t->entries[i].type == 1 && t->entries[i].subtype == order[k]) {
					fs = &t->entries[i];
					break;
				}
		if (fs == NULL) {
			predict(c, 10, ESPOTA_FIT_WHEN_BEFORE_DATA,
				"the partition table has no spiffs, fat or littlefs partition%s", esp32_silent);
			advise(c, "choose a partition scheme with a filesystem partition\n");
			return;
		}
		r->limit = fs->size;
		r->margin = (int64_t)fs->size - (int64_t)n;
		if (n > fs->size) {
			r->shrink_by = n - fs->size;
			r->mistakes |= ESPOTA_FIT_MISTAKE_TOO_BIG;
			predict(c, 5, ESPOTA_FIT_WHEN_BEFORE_DATA,
				"%s bytes > filesystem partition '%s' of %s bytes (over by %s)%s",
				U(n), fs->label, U(fs->size), U(r->shrink_by), esp32_silent);
			advise(c, "shrink the filesystem image by %s bytes, to at most %s bytes\n",
				U(r->shrink_by), U(fs->size));
		}
		return;
	}

	if (is_esp8266_app_kind(img->kind) || img->kind == ESPOTA_IMAGE_ESP8266_V2) {
		r->mistakes |= ESPOTA_FIT_MISTAKE_WRONG_PLATFORM;
		predict(c, 9, ESPOTA_FIT_WHEN_AFTER_UPLOAD,
			"this is an ESP8266 image; the ESP32 rejects it when it verifies the new partition");
		advise(c, "build the firmware for the ESP32 board\n");
	} else if (img->kind != ESPOTA_IMAGE_ESP32_APP) {
		if (!img->gzip)
			r->mistakes |= ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE;
		predict(c, 13, ESPOTA_FIT_WHEN_FIRST_BLOCK,
			"the data does not start with 0xE9 (%s): cores with OTA decryption treat it as "
			"encrypted and fail (error 8 \"Wrong Magic Byte\" on older cores)",
			img->gzip ? "gzip; arduino-esp32 does not inflate" : kind_phrase(img->kind));
		advise(c, "%s\n", img->gzip ? "upload the uncompressed .bin" :
			"for a filesystem image use the filesystem target");
	}

	if (t != NULL) {
		unsigned int ota = 0, factory = 0;
		const espota_partition *slot = NULL;
		int differ = 0;

		for (i = 0; i < t->count; i++) {
			const espota_partition *p = &t->entries[i];
			if (p->type != 0)
				continue;
			if (p->subtype == 0x00)
				factory++;
			if (p->subtype >= 0x10 && p->subtype < 0x20) {
				ota++;
				if (slot != NULL && p->size != slot->size)
					differ = 1;
				if (slot == NULL || p->size < slot->size)
					slot = p;
			}
		}
		if (ota == 0 || (ota == 1 && factory == 0)) {
			r->mistakes |= ESPOTA_FIT_MISTAKE_NO_OTA_SLOT;
			predict(c, 10, ESPOTA_FIT_WHEN_BEFORE_DATA, "%s%s",
				ota == 0 ? "the partition table has no OTA app partition" :
				"the only OTA app partition is the running one", esp32_silent);
			advise(c, "OTA needs two app slots: choose a scheme with OTA (default, min_spiffs, "
				"default_8MB, ...) and flash it over serial\n");
			return;
		}
		if (ota == 1) {
			r->assumptions |= ESPOTA_FIT_ASSUME_RUNNING_PARTITION;
			r->warnings |= ESPOTA_FIT_WARN_LAST_OTA_SLOT;
			advise(c, "the table has a factory app and one OTA slot: after this update the device "
				"runs from '%s' and the next OTA fails with error 10\n", slot->label);
		}
		if (differ)
			advise(c, "the OTA slots differ in size; the smaller one ('%s') is used\n", slot->label);
		r->limit = slot->size;
		r->margin = (int64_t)slot->size - (int64_t)n;
		r->same_size_limit = slot->size;
		r->same_size_margin = r->margin;
		if (n > slot->size) {
			/* Update.begin(): size > partition->size -> 5; byte-exact. */
			r->shrink_by = n - slot->size;
			r->mistakes |= ESPOTA_FIT_MISTAKE_TOO_BIG;
			predict(c, 5, ESPOTA_FIT_WHEN_BEFORE_DATA,
				"%s bytes > app partition '%s' of %s bytes (over by %s)%s",
				U(n), slot->label, U(slot->size), U(r->shrink_by), esp32_silent);
			advise(c, "shrink the image by %s bytes, to at most %s bytes\n", U(r->shrink_by),
				U(slot->size));
			esp32_advise_schemes(c, t, n);
		}
	}
	if (c->dev->signing_len != 0)
		advise(c, "UPDATE_SIGN firmware expects a 512-byte signature block appended to the image "
			"(error 14 otherwise); this is not checked here\n");
}

/* ------------------------------------------------------------------ */

int espota_fit_device_init(espota_fit_device *dev, unsigned int version)
{
	static const espota_fit_device init = ESPOTA_FIT_DEVICE_INIT;
	/* The one version rule of every options struct (docs/api.md). */
	if (espota__isnull(dev) || version == 0 || version > ESPOTA_FIT_DEVICE_VERSION)
		return ESPOTA_EINVAL;
	/* A version 1 struct ends before the preflight fields. */
	memcpy(dev, &init, version == 1 ? offsetof(espota_fit_device, assumed) : sizeof(*dev));
	dev->version = version;
	return ESPOTA_OK;
}

void espota__fit_device_copy(espota_fit_device *dst, const espota_fit_device *src)
{
	static const espota_fit_device init = ESPOTA_FIT_DEVICE_INIT;
	*dst = init;
	memcpy(dst, src, src->version == 1 ? offsetof(espota_fit_device, assumed) : sizeof(*dst));
	dst->version = ESPOTA_FIT_DEVICE_VERSION;
}

const char *espota_fit_verdict_name(espota_fit_verdict v)
{
	switch (v) {
	case ESPOTA_FIT_OK: return "fits";
	case ESPOTA_FIT_WARN: return "warning";
	case ESPOTA_FIT_FAIL: return "refused";
	case ESPOTA_FIT_UNKNOWN: return "unknown";
	}
	return "unknown";
}

static const char *when_text(espota_fit_when w)
{
	switch (w) {
	case ESPOTA_FIT_WHEN_BEFORE_DATA: return "before any data is sent";
	case ESPOTA_FIT_WHEN_FIRST_BLOCK: return "at the first 4 KiB block";
	case ESPOTA_FIT_WHEN_AFTER_UPLOAD: return "after the whole upload";
	case ESPOTA_FIT_WHEN_DURING_UPLOAD: return "during the upload (likely; not confirmed from source)";
	default: return "";
	}
}

static void summarise(ctx *c)
{
	espota_fit_report *r = c->r;
	const char *what = c->dev->target == ESPOTA_TARGET_FS ? "filesystem" : "firmware";
	sb s;

	sb_init(&s, r->summary, sizeof(r->summary));
	if (r->device_error != 0) {
		r->verdict = ESPOTA_FIT_FAIL;
		sb_addf(&s, "%s upload refused with error %d (%s) %s: %s", what, r->device_error,
			r->device_error_text, when_text(r->when), c->reason);
		if (r->mistakes & ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS)
			sb_addf(&s, "; the file looks like firmware");
		return;
	}
	if (c->fail != NULL) {
		r->verdict = ESPOTA_FIT_FAIL;
		sb_addf(&s, "%s upload blocked: %s", what, c->fail);
		return;
	}
	if (!c->size_known) {
		r->verdict = ESPOTA_FIT_UNKNOWN;
		sb_addf(&s, "%s upload of %s bytes: size limit unknown (no %s given); no error predicted "
			"from the known facts", what, U(r->size),
			c->platform == ESPOTA_PLATFORM_ESP32 ? "partition table" : "running layout");
	} else {
		r->verdict = r->warnings ? ESPOTA_FIT_WARN : ESPOTA_FIT_OK;
		sb_addf(&s, "%s upload fits: %s of at most %s bytes (%s to spare)", what, U(r->size),
			U(r->limit), U((uint64_t)r->margin));
		if (c->platform == ESPOTA_PLATFORM_ESP8266 && c->dev->target == ESPOTA_TARGET_APP) {
			if (r->same_size_margin >= 0)
				sb_addf(&s, "; %s bytes to spare for a same-size running sketch",
					U((uint64_t)r->same_size_margin));
			else
				sb_addf(&s, "; a same-size update would not fit (limit %s)", U(r->same_size_limit));
		}
	}
	if (r->warnings & ESPOTA_FIT_WARN_FIRMWARE_AS_FS)
		sb_addf(&s, "; but the file looks like firmware");
	else if (r->warnings & ESPOTA_FIT_WARN_GZIP_LOCKOUT)
		sb_addf(&s, "; but later OTAs will fail with error 8");
	else if (r->warnings)
		sb_addf(&s, "; see warnings");
}

/* The caller's image facts, in a struct of this library's size (the
 * fields an older caller does not have read as zero). */
static int image_in(espota_image_info *full, const espota_image_info *img)
{
	memset(full, 0, sizeof(*full));
	full->struct_size = sizeof(*full);
	full->checksum_ok = -1;
	return espota__copy_sized(full, sizeof(*full), img, img->struct_size);
}

static int fit_check(espota_fit_report *out, const espota_image_info *img, const espota_fit_device *dev);

int espota_fit_check(espota_fit_report *out, const espota_image_info *img, const espota_fit_device *dev)
{
	espota_image_info full;
	espota_fit_report rep;
	int rc;

	if (espota__isnull(out) || espota__isnull(img) || espota__isnull(dev))
		return ESPOTA_EINVAL;
	if (out->struct_size < sizeof(size_t) + sizeof(int) || image_in(&full, img) < 0)
		return ESPOTA_EINVAL;
	rc = fit_check(&rep, &full, dev);
	espota__copy_sized(out, out->struct_size, &rep, sizeof(rep));
	return rc;
}

static int fit_check(espota_fit_report *out, const espota_image_info *img, const espota_fit_device *dev)
{
	ctx c;

	memset(out, 0, sizeof(*out));
	out->struct_size = sizeof(*out);
	out->device_error_text = "";
	if (dev->version == 0 || dev->version > ESPOTA_FIT_DEVICE_VERSION)
		return ESPOTA_EINVAL;

	memset(&c, 0, sizeof(c));
	c.r = out;
	c.img = img;
	c.dev = dev;
	sb_init(&c.advice, out->advice, sizeof(out->advice));
	out->size = img->file_size;

	c.platform = dev->platform;
	if (c.platform == ESPOTA_PLATFORM_UNKNOWN) {
		if (dev->partitions != NULL && dev->layout == NULL)
			c.platform = ESPOTA_PLATFORM_ESP32;
		else if (dev->layout != NULL)
			c.platform = ESPOTA_PLATFORM_ESP8266;
		else if (img->platform != ESPOTA_PLATFORM_UNKNOWN)
			c.platform = img->platform;
		else {
			c.platform = ESPOTA_PLATFORM_ESP8266;
			out->assumptions |= ESPOTA_FIT_ASSUME_PLATFORM;
		}
	}
	if (c.platform == ESPOTA_PLATFORM_ESP32) {
		c.size_known = dev->partitions != NULL;
		check_esp32(&c);
	} else {
		c.size_known = dev->layout != NULL;
		check_esp8266(&c);
	}
	if (!c.size_known)
		out->assumptions |= ESPOTA_FIT_ASSUME_LAYOUT;
	summarise(&c);
	return ESPOTA_OK;
}

/* ------------------------------------------------------------------ */
/* Human-readable report                                               */

static const char *mode_name(unsigned int m)
{
	static const char *const names[] = { "QIO", "QOUT", "DIO", "DOUT" };
	return m < 4 ? names[m] : "unknown";
}

static const char *freq_name(unsigned int f)
{
	switch (f) {
	case 0x0: return "40 MHz";
	case 0x1: return "26 MHz";
	case 0x2: return "20 MHz";
	case 0xF: return "80 MHz";
	default: return "unknown";
	}
}

static void format_image(sb *b, const espota_image_info *img)
{
	sb_addf(b, "Image:     %s, %s bytes", espota_image_kind_name(img->kind), U(img->file_size));
	if (img->gzip)
		sb_addf(b, " (gzip; inflates to %s bytes)", U(img->inner_size));
	sb_addf(b, "\n");
	if (is_app_kind(img->kind)) {
		sb_addf(b, "Header:    flash size %s (code 0x%X), %s, %s", img->header_flash_size ?
			SZ(img->header_flash_size) : "not understood", img->flash_size_code,
			mode_name(img->flash_mode), img->kind == ESPOTA_IMAGE_ESP32_APP ? "" :
			freq_name(img->flash_freq_code));
		if (img->kind == ESPOTA_IMAGE_ESP32_APP)
			sb_addf(b, "chip id %u%s", img->chip_id, img->hash_appended ? ", SHA-256 appended" : "");
		sb_addf(b, "\n");
		sb_addf(b, "App:       at 0x%lX, %u segments, ends at %s, checksum %s", (unsigned long)img->app_offset,
			img->segment_count, U(img->app_end),
			img->checksum_ok == 1 ? "ok" : img->checksum_ok == 0 ? "BAD" : "not checked");
		if (img->irom0_len)
			sb_addf(b, ", irom0 %s bytes", U(img->irom0_len));
		sb_addf(b, "\n");
	}
	if (img->is_signed)
		sb_addf(b, "Signed:    %lu-byte signature trailer\n", (unsigned long)img->signature_len);
}

static void format_device(sb *b, const espota_fit_device *dev, const espota_fit_report *r,
	espota_platform p)
{
	sb_addf(b, "Target:    %s upload (command %d) to %s\n",
		dev->target == ESPOTA_TARGET_FS ? "filesystem" : "firmware", (int)dev->target,
		p == ESPOTA_PLATFORM_ESP32 ? "ESP32" : "ESP8266");
	if (p == ESPOTA_PLATFORM_ESP32) {
		if (dev->partitions != NULL)
			sb_addf(b, "Device:    partition table %s (%u partitions)\n", dev->partitions->name,
				dev->partitions->count);
	} else {
		if (dev->layout != NULL)
			sb_addf(b, "Device:    running layout %s (%s, %s flash): filesystem 0x%lX-0x%lX\n",
				dev->layout->name, dev->layout->ld_script, SZ(dev->layout->flash_size),
				(unsigned long)dev->layout->fs_start, (unsigned long)dev->layout->fs_end);
		if (dev->chip_size)
			sb_addf(b, "           chip %s\n", SZ(dev->chip_size));
		if (dev->device_header_size)
			sb_addf(b, "           flash size in the device's header %s\n", SZ(dev->device_header_size));
		if (dev->running_size)
			sb_addf(b, "           running sketch %s bytes\n", U(dev->running_size));
	}
	if (r->assumptions) {
		sb_addf(b, "Assumed:\n");
		if (r->assumptions & ESPOTA_FIT_ASSUME_PLATFORM)
			sb_addf(b, "  - platform unknown: ESP8266 assumed\n");
		if (r->assumptions & ESPOTA_FIT_ASSUME_LAYOUT)
			sb_addf(b, "  - %s unknown: size limits not checked\n",
				p == ESPOTA_PLATFORM_ESP32 ? "partition table" :
				"layout of the running firmware");
		if (r->assumptions & ESPOTA_FIT_ASSUME_CHIP_SIZE) {
			if (dev->layout != NULL)
				sb_addf(b, "  - real flash size unknown: assumed %s, the layout's\n",
					SZ(dev->layout->flash_size));
			else
				sb_addf(b, "  - real flash size unknown: errors 8 and 9 not checked\n");
		}
		if (r->assumptions & ESPOTA_FIT_ASSUME_DEVICE_HEADER)
			sb_addf(b, "  - flash size in the device's header unknown: assumed correct (error 8 not checked)\n");
		if (r->assumptions & ESPOTA_FIT_ASSUME_RUNNING_SIZE)
			sb_addf(b, "  - running sketch size unknown: assumed as large as the new image (%s bytes)\n",
				U(r->size));
		if (r->assumptions & ESPOTA_FIT_ASSUME_GZIP_SUPPORT)
			sb_addf(b, "  - gzip support assumed (core 2.7 or later on the running firmware)\n");
		if (r->assumptions & ESPOTA_FIT_ASSUME_RUNNING_PARTITION)
			sb_addf(b, "  - device assumed to run from the factory app partition\n");
	}
}

static const struct { uint32_t bit; const char *name; } mistake_names[] = {
	{ ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS, "firmware sent as filesystem" },
	{ ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE, "non-firmware data sent as firmware" },
	{ ESPOTA_FIT_MISTAKE_DEVICE_HEADER, "device header claims more flash than the chip" },
	{ ESPOTA_FIT_MISTAKE_IMAGE_HEADER, "image header claims more flash than the chip" },
	{ ESPOTA_FIT_MISTAKE_WRONG_PLATFORM, "image for the other platform" },
	{ ESPOTA_FIT_MISTAKE_TOO_BIG, "too big" },
	{ ESPOTA_FIT_MISTAKE_GZIP_UNSUPPORTED, "gzip not supported by the device" },
	{ ESPOTA_FIT_MISTAKE_NOT_SIGNED, "not signed for the device" },
	{ ESPOTA_FIT_MISTAKE_NO_OTA_SLOT, "no OTA slot" },
	{ ESPOTA_FIT_MISTAKE_LAYOUT_BEYOND_CHIP, "running layout larger than the chip" },
	{ ESPOTA_FIT_MISTAKE_WRONG_FORMAT, "image format the Updater rejects" },
};

static int report_format(char *buf, size_t buflen, const espota_image_info *img,
	const espota_fit_device *dev, const espota_fit_report *r);

int espota_fit_report_format(char *buf, size_t buflen, const espota_image_info *img,
	const espota_fit_device *dev, const espota_fit_report *r)
{
	espota_image_info full;
	espota_fit_report rep;

	if (espota__isnull(img) || espota__isnull(dev) || espota__isnull(r) || (buf == NULL && buflen > 0))
		return ESPOTA_EINVAL;
	/* Both come from the caller: read them in this library's sizes. */
	memset(&rep, 0, sizeof(rep));
	rep.struct_size = sizeof(rep);
	rep.device_error_text = "";
	if (image_in(&full, img) < 0 || espota__copy_sized(&rep, sizeof(rep), r, r->struct_size) < 0)
		return ESPOTA_EINVAL;
	if (rep.device_error_text == NULL)
		rep.device_error_text = "";
	rep.summary[sizeof(rep.summary) - 1] = '\0';
	rep.advice[sizeof(rep.advice) - 1] = '\0';
	return report_format(buf, buflen, &full, dev, &rep);
}

static int report_format(char *buf, size_t buflen, const espota_image_info *img,
	const espota_fit_device *dev, const espota_fit_report *r)
{
	sb b;
	espota_platform p;
	size_t i;
	int first = 1;

	sb_init(&b, buf, buflen);
	/* The platform the check used: ESP32 exactly when it reported on a
	 * partition table or an ESP32 device. */
	p = dev->platform;
	if (p == ESPOTA_PLATFORM_UNKNOWN) {
		if (dev->partitions != NULL && dev->layout == NULL)
			p = ESPOTA_PLATFORM_ESP32;
		else if (dev->layout == NULL && img->platform == ESPOTA_PLATFORM_ESP32)
			p = ESPOTA_PLATFORM_ESP32;
		else
			p = ESPOTA_PLATFORM_ESP8266;
	}
	format_image(&b, img);
	format_device(&b, dev, r, p);
	sb_addf(&b, "Verdict:   %s\n", espota_fit_verdict_name(r->verdict));
	sb_addf(&b, "           %s\n", r->summary);
	if (r->device_error != 0)
		sb_addf(&b, "Error:     %d %s \"%s\", %s\n", r->device_error,
			espota__updater_error_name(p, r->device_error), r->device_error_text,
			when_text(r->when));
	if (r->limit != 0 || r->shrink_by != 0) {
		sb_addf(&b, "Limit:     %s bytes, ", U(r->limit));
		if (r->margin >= 0)
			sb_addf(&b, "margin %s bytes\n", U((uint64_t)r->margin));
		else
			sb_addf(&b, "over by %s bytes\n", U(r->shrink_by));
	}
	if (r->same_size_limit != 0 && p == ESPOTA_PLATFORM_ESP8266) {
		sb_addf(&b, "Same-size: %s bytes (", U(r->same_size_limit));
		if (r->same_size_margin >= 0)
			sb_addf(&b, "%s bytes to spare for a same-size running sketch)\n",
				U((uint64_t)r->same_size_margin));
		else
			sb_addf(&b, "a same-size update is %s bytes too big)\n", U((uint64_t)-r->same_size_margin));
	}
	if (r->mistakes) {
		sb_addf(&b, "Mistakes:  ");
		for (i = 0; i < sizeof(mistake_names) / sizeof(mistake_names[0]); i++)
			if (r->mistakes & mistake_names[i].bit) {
				sb_addf(&b, "%s%s", first ? "" : "; ", mistake_names[i].name);
				first = 0;
			}
		sb_addf(&b, "\n");
	}
	if (r->advice[0] != '\0')
		sb_addf(&b, "Advice:\n%s", r->advice);
	return b.len > (size_t)INT32_MAX ? ESPOTA_ERROR : (int)b.len;
}
