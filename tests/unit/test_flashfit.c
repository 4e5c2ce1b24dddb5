/*
 * Flash-fit, table-driven over flashfit.md: every layout row of section 3.2,
 * both tables of section 5.1 (the SONOFF case), the examples of 5.2 and
 * 5.3, plus golden reports under tests/data/fit/ (regenerate with
 * ESPOTA_UPDATE_GOLDEN=1).
 */
#include "espota/errors.h"
#include "espota/flashfit.h"
#include "espota/image.h"
#include "fit_builders.h"
#include "test.h"

#define KB 1024u
#define MB (1024u * 1024u)

/* Built-in schemes, each loaded once and freed at exit. */
static espota_partition_table *schemes[32];
static size_t nschemes;

static void free_schemes(void)
{
	while (nschemes > 0)
		espota_partition_table_free(schemes[--nschemes]);
}

static const espota_partition_table *scheme(const char *name)
{
	size_t i;
	for (i = 0; i < nschemes; i++)
		if (strcmp(espota_partition_table_name(schemes[i]), name) == 0)
			return schemes[i];
	if (nschemes == 0)
		atexit(free_schemes);
	ASSERT(nschemes < 32);
	ASSERT_OK(espota_partition_table_builtin(&schemes[nschemes], name));
	ASSERT_STREQ(espota_partition_table_name(schemes[nschemes]), name);
	ASSERT_STREQ(espota_partition_table_error(schemes[nschemes]), "");
	return schemes[nschemes++];
}

/* An image of `len` bytes: a parsed synthetic Arduino .bin. */
static void arduino_info(espota_image_info *in, size_t len, uint8_t size_code)
{
	unsigned char *b = build_arduino(len, size_code, 3, 0);
	ASSERT_OK(parse_info(in, b, len));
	ASSERT_EQ(in->kind, ESPOTA_IMAGE_ESP8266_ARDUINO);
	free(b);
}

/* A `len`-byte LittleFS image in `buf`, parsed. */
static void littlefs_info(espota_image_info *in, unsigned char *buf, size_t len)
{
	memset(buf, 0xFF, len);
	memcpy(buf + 8, "littlefs", 8);
	ASSERT_OK(parse_info(in, buf, len));
}

static espota_fit_device dev8266(const char *layout, espota_target target)
{
	espota_fit_device d = ESPOTA_FIT_DEVICE_INIT;
	d.platform = ESPOTA_PLATFORM_ESP8266;
	d.target = target;
	d.layout = layout ? espota_layout_find(layout) : NULL;
	if (layout)
		ASSERT(d.layout != NULL);
	return d;
}

static void check(espota_fit_report *r, const espota_image_info *in, const espota_fit_device *d)
{
	char text[4096];
	int n;
	ASSERT_OK(espota_fit_check(r, in, d));
	n = espota_fit_report_format(text, sizeof(text), in, d, r);
	ASSERT(n > 0 && (size_t)n < sizeof(text));
	ASSERT_EQ(strlen(text), (size_t)n);
}

/* ------------------------------------------------------------------ */
/* Section 3.2: every layout, against its FS bytes, same-size max and
 * "new max if S = 329 008" columns (0 = "*" without a number). */

static const struct {
	const char *name;
	uint32_t flash, fs_start, fs_end, fs_bytes, irom0, same, newmax;
} layout_rows[] = {
	{ "512K", 512 * KB, 0x7B000, 0x7B000, 0, 499696, 249856, 172032 },
	{ "512K32", 512 * KB, 0x73000, 0x7B000, 32768, 466928, 233472, 139264 },
	{ "512K64", 512 * KB, 0x6B000, 0x7B000, 65536, 434160, 217088, 106496 },
	{ "512K128", 512 * KB, 0x5B000, 0x7B000, 131072, 368624, 184320, 40960 },
	{ "1M", 1 * MB, 0xFB000, 0xFB000, 0, 1023984, 512000, 696320 },
	{ "1M64", 1 * MB, 0xEB000, 0xFB000, 65536, 958448, 479232, 630784 },
	{ "1M128", 1 * MB, 0xDB000, 0xFB000, 131072, 892912, 446464, 565248 },
	{ "1M144", 1 * MB, 0xD7000, 0xFB000, 147456, 876528, 438272, 548864 },
	{ "1M160", 1 * MB, 0xD3000, 0xFB000, 163840, 860144, 430080, 532480 },
	{ "1M192", 1 * MB, 0xCB000, 0xFB000, 196608, 827376, 413696, 499712 },
	{ "1M256", 1 * MB, 0xBB000, 0xFB000, 262144, 761840, 380928, 434176 },
	{ "1M512", 1 * MB, 0x7B000, 0xFB000, 524288, 499696, 249856, 172032 },
	{ "2M", 2 * MB, 0x1FB000, 0x1FB000, 0, 1044464, 1036288, 1744896 },
	{ "2M64", 2 * MB, 0x1F0000, 0x1FB000, 45056, 1044464, 1015808, 1699840 },
	{ "2M128", 2 * MB, 0x1E0000, 0x1FB000, 110592, 1044464, 983040, 1634304 },
	{ "2M256", 2 * MB, 0x1C0000, 0x1FB000, 241664, 1044464, 917504, 1503232 },
	{ "2M512", 2 * MB, 0x180000, 0x1FA000, 499712, 1044464, 786432, 1241088 },
	{ "2M1M", 2 * MB, 0x100000, 0x1FA000, 1024000, 1044464, 524288, 716800 },
	{ "4M", 4 * MB, 0x3FB000, 0x3FB000, 0, 1044464, 0, 0 },
	{ "4M1M", 4 * MB, 0x300000, 0x3FA000, 1024000, 1044464, 0, 0 },
	{ "4M2M", 4 * MB, 0x200000, 0x3FA000, 2072576, 1044464, 1048576, 0 },
	{ "4M3M", 4 * MB, 0x100000, 0x3FA000, 3121152, 1044464, 524288, 716800 },
	{ "8M", 8 * MB, 0x7FB000, 0x7FB000, 0, 1044464, 0, 0 }, /* no shipped script: from boards.txt */
	{ "8M6M", 8 * MB, 0x200000, 0x7FA000, 6266880, 1044464, 1048576, 0 },
	{ "8M7M", 8 * MB, 0x100000, 0x7FA000, 7315456, 1044464, 524288, 716800 },
	{ "16M", 16 * MB, 0xFFB000, 0xFFB000, 0, 1044464, 0, 0 },
	{ "16M14M", 16 * MB, 0x200000, 0xFFA000, 14655488, 1044464, 1048576, 0 },
	{ "16M15M", 16 * MB, 0x100000, 0xFFA000, 15704064, 1044464, 524288, 716800 },
};

static void test_layout_table(void)
{
	espota_image_info in;
	size_t i;

	arduino_info(&in, 329008, 2);
	ASSERT_EQ(espota_layout_count(), sizeof(layout_rows) / sizeof(layout_rows[0]));
	for (i = 0; i < sizeof(layout_rows) / sizeof(layout_rows[0]); i++) {
		const espota_layout *l = espota_layout_at(i);
		espota_fit_device d;
		espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

		ASSERT_STREQ(l->name, layout_rows[i].name);
		ASSERT_EQ(l->flash_size, layout_rows[i].flash);
		ASSERT_EQ(l->fs_start, layout_rows[i].fs_start);
		ASSERT_EQ(l->fs_end, layout_rows[i].fs_end);
		ASSERT_EQ(l->fs_end - l->fs_start, layout_rows[i].fs_bytes);
		ASSERT_EQ(l->irom0_max, layout_rows[i].irom0);

		/* App with a running sketch of 329 008 bytes. The chip is the
		 * layout's size so nothing but the size rule applies. */
		d = dev8266(layout_rows[i].name, ESPOTA_TARGET_APP);
		d.chip_size = l->flash_size;
		d.device_header_size = l->flash_size;
		d.running_size = 329008;
		check(&r, &in, &d);
		ASSERT_EQ(r.same_size_limit, (uint64_t)(l->fs_start / 8192) * 4096);
		if (layout_rows[i].same)
			ASSERT_EQ(r.same_size_limit, layout_rows[i].same);
		ASSERT_EQ(r.limit, l->fs_start - 331776u);
		if (layout_rows[i].newmax)
			ASSERT_EQ(r.limit, layout_rows[i].newmax);
		if (r.limit >= 329008) {
			ASSERT_EQ(r.margin, (int64_t)r.limit - 329008);
			ASSERT_EQ(r.device_error, 0);
		} else {
			ASSERT_EQ(r.device_error, 4);
			ASSERT_EQ(r.shrink_by, 329008 - r.limit);
		}

		/* Filesystem upload: the area is the limit. */
		d.target = ESPOTA_TARGET_FS;
		check(&r, &in, &d);
		ASSERT_EQ(r.limit, layout_rows[i].fs_bytes);
		ASSERT_EQ(r.device_error, layout_rows[i].fs_bytes >= 331776 ? 0 : 4);
		ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS);
	}
}

/* boards.txt.py flash_map() (flashfit.md 3.1) reproduces the table. */
static void test_layout_formulas(void)
{
	size_t i;
	for (i = 0; i < espota_layout_count(); i++) {
		const espota_layout *l = espota_layout_at(i);
		uint64_t flash_kb = l->flash_size / KB, fs_kb = 0, fs_end0, fs_start, block, fs_end, max_upload;
		const char *p = strchr(l->name, 'K') ? strchr(l->name, 'K') + 1 : strchr(l->name, 'M') + 1;

		if (*p != '\0') {
			fs_kb = (uint64_t)strtoul(p, NULL, 10);
			if (p[strlen(p) - 1] == 'M')
				fs_kb *= 1024;
		}
		fs_end0 = (flash_kb - 20) * KB;
		if (flash_kb <= 1024) {
			fs_start = fs_end0 - fs_kb * KB;
			max_upload = (flash_kb - fs_kb - 20) * KB - 4112;
		} else {
			fs_start = fs_kb ? (flash_kb - fs_kb) * KB : fs_end0;
			max_upload = 1044464;
		}
		block = fs_kb < 512 ? 4096 : 8192;
		fs_end = fs_kb ? fs_start + (fs_end0 - fs_start) / block * block : fs_start;
		ASSERT_EQ(l->fs_start, fs_start);
		ASSERT_EQ(l->fs_end, fs_end);
		ASSERT_EQ(l->irom0_max, max_upload);
		ASSERT_EQ(l->fs_block, fs_kb ? block : 0);
	}
	ASSERT(espota_layout_find("1m64") == espota_layout_at(5));
	ASSERT(espota_layout_find("eagle.flash.1m256.ld") == espota_layout_find("1M256"));
	ASSERT(espota_layout_find("eagle.flash.4m1m") == espota_layout_find("4M1M"));
	ASSERT(espota_layout_find("3M") == NULL);
	ASSERT(espota_layout_at(espota_layout_count()) == NULL);
}

static void test_boards(void)
{
	static const struct { const char *name, *layout; uint32_t flash; uint8_t mode; } rows[] = {
		{ "esp8285", "1M256", 1 * MB, 3 },
		{ "esp01_1m", "1M256", 1 * MB, 0 },
		{ "sonoff_basic", "1M256", 1 * MB, 3 },
		{ "nodemcuv2", "4M1M", 4 * MB, 2 },
		{ "d1_mini", "4M1M", 4 * MB, 2 },
		{ "esp8285@ide", "1M64", 1 * MB, 3 },
		{ "sonoff", "1M64", 1 * MB, 3 },
		{ "nodemcuv2@ide", "4M2M", 4 * MB, 2 },
		{ "nodemcu@ide", "4M2M", 4 * MB, 0 },
		{ "esp32dev", "default", 4 * MB, 2 },
	};
	size_t i;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const espota_board *b = espota_board_find(rows[i].name);
		ASSERT(b != NULL);
		ASSERT_STREQ(b->layout, rows[i].layout);
		ASSERT_EQ(b->flash_size, rows[i].flash);
		ASSERT_EQ(b->flash_mode, rows[i].mode);
		if (b->platform == ESPOTA_PLATFORM_ESP8266) {
			ASSERT(espota_layout_find(b->layout) != NULL);
			ASSERT_EQ(espota_layout_find(b->layout)->flash_size, b->flash_size);
		} else {
			ASSERT(scheme(b->layout) != NULL);
		}
	}
	for (i = 0; i < espota_board_count(); i++)
		ASSERT(espota_board_find(espota_board_at(i)->name) == espota_board_at(i));
	ASSERT(espota_board_find("ESP8285") != NULL);
	ASSERT(espota_board_find("nope") == NULL);
}

/* ------------------------------------------------------------------ */
/* Section 5.1, first table: what each attempt would have tripped. */

static void test_sonoff_attempts(void)
{
	espota_image_info nodemcu, esp8285;
	espota_fit_device d;
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

	arduino_info(&nodemcu, 329008, 4); /* 4 MB header (nodemcuv2 build) */
	arduino_info(&esp8285, 329008, 2); /* 1 MB header (esp8285 build) */

	/* 1. sketch, nodemcuv2 image, device running esp8285 (1m256). */
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	d.chip_size = 1 * MB;
	d.device_header_size = 1 * MB;
	d.running_size = 329008;
	check(&r, &nodemcu, &d);
	ASSERT_EQ(r.limit, 434176);
	ASSERT_EQ(r.margin, 434176 - 329008);
	ASSERT_EQ(r.device_error, 9);
	ASSERT_EQ(r.when, ESPOTA_FIT_WHEN_AFTER_UPLOAD);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_FAIL);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_IMAGE_HEADER);
	ASSERT_CONTAINS(r.summary, "4 MB");

	/* 2. sketch, esp8285 image, device running esp8285 build. */
	check(&r, &esp8285, &d);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_OK);
	ASSERT_EQ(r.device_error, 0);
	ASSERT_EQ(r.limit, 434176);
	ASSERT_EQ(r.mistakes, 0);

	/* 3. -s with the firmware, device running esp8285 build. */
	d.target = ESPOTA_TARGET_FS;
	check(&r, &esp8285, &d);
	ASSERT_EQ(r.device_error, 4);
	ASSERT_EQ(r.when, ESPOTA_FIT_WHEN_BEFORE_DATA);
	ASSERT_EQ(r.limit, 262144);
	ASSERT_EQ(r.shrink_by, 66864);  /* over by 66 864 raw */
	ASSERT_EQ((329008 + 4095) / 4096 * 4096 - 262144, 69632); /* 69 632 rounded */
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_TOO_BIG);
	ASSERT_CONTAINS(r.summary, "filesystem upload refused with error 4");
	ASSERT_CONTAINS(r.summary, "262,144");
	ASSERT_CONTAINS(r.summary, "looks like firmware");

	/* 4. -s, device running the nodemcuv2 (4m1m) build with a corrected
	 * 1 MB header: fits on paper, beyond the chip (UNCONFIRMED error 2). */
	d = dev8266("4M1M", ESPOTA_TARGET_FS);
	d.chip_size = 1 * MB;
	d.device_header_size = 1 * MB;
	d.running_size = 329008;
	check(&r, &esp8285, &d);
	ASSERT_EQ(r.limit, 1024000);
	ASSERT(r.margin >= 0);
	ASSERT_EQ(r.device_error, 2);
	ASSERT_EQ(r.when, ESPOTA_FIT_WHEN_DURING_UPLOAD);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_LAYOUT_BEYOND_CHIP);
	ASSERT_CONTAINS(r.summary, "not confirmed");

	/* 5. sketch, same situation: staging at 0x2AF000, beyond the chip. */
	d.target = ESPOTA_TARGET_APP;
	check(&r, &esp8285, &d);
	ASSERT_EQ(r.limit, 0x300000 - 331776);
	ASSERT_EQ(r.device_error, 2);
	ASSERT_CONTAINS(r.summary, "0x2AF000");
}

/* Section 5.1: the actual failure. A 4 MB header on a 1 MB chip fails with
 * error 8 before any data, for both targets, whatever the size. */
static void test_sonoff_error8(void)
{
	static const size_t sizes[] = { 0x1000 + 8192, 329008, 900000 };
	static const char *const layouts[] = { "1M256", "4M1M", NULL };
	size_t i, j;
	int t;

	for (i = 0; i < 3; i++) {
		espota_image_info in;
		arduino_info(&in, sizes[i], i == 1 ? 4 : 2);
		for (j = 0; j < 3; j++)
			for (t = 0; t < 2; t++) {
				espota_fit_device d = dev8266(layouts[j], t ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP);
				espota_fit_report r = ESPOTA_FIT_REPORT_INIT;
				d.chip_size = 1 * MB;
				d.device_header_size = 4 * MB;
				check(&r, &in, &d);
				ASSERT_EQ(r.device_error, 8);
				ASSERT_EQ(r.when, ESPOTA_FIT_WHEN_BEFORE_DATA);
				ASSERT_EQ(r.verdict, ESPOTA_FIT_FAIL);
				ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_DEVICE_HEADER);
				ASSERT_CONTAINS(r.summary, "shrinking will not help");
				ASSERT_CONTAINS(r.advice, "serial");
				ASSERT_STREQ(r.device_error_text, "Flash config wrong");
			}
	}
}

/* Section 5.1, second table: limits on a 1 MB ESP8285 for S = N = 329 008. */
static void test_sonoff_limits(void)
{
	static const struct {
		const char *layout;
		uint32_t same, nmax, fsmax, shrink;
	} rows[] = {
		{ "1M", 512000, 696320, 0, 0 },
		{ "1M64", 479232, 630784, 65536, 0 },
		{ "1M128", 446464, 565248, 131072, 0 },
		{ "1M144", 438272, 548864, 147456, 0 },
		{ "1M160", 430080, 532480, 163840, 0 },
		{ "1M192", 413696, 499712, 196608, 0 },
		{ "1M256", 380928, 434176, 262144, 0 },
		{ "1M512", 249856, 172032, 524288, 156976 },
	};
	espota_image_info in;
	size_t i;

	arduino_info(&in, 329008, 2);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		espota_fit_device d = dev8266(rows[i].layout, ESPOTA_TARGET_APP);
		espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

		d.chip_size = 1 * MB;
		d.running_size = 329008;
		check(&r, &in, &d);
		ASSERT_EQ(r.same_size_limit, rows[i].same);
		ASSERT_EQ(r.same_size_margin, (int64_t)rows[i].same - 329008);
		ASSERT_EQ(r.limit, rows[i].nmax);
		ASSERT_EQ(r.shrink_by, rows[i].shrink);
		ASSERT_EQ(r.device_error, rows[i].shrink ? 4 : 0);
		if (rows[i].shrink) {
			ASSERT_CONTAINS(r.advice, "shrink the image by 156,976 bytes, to at most 172,032 bytes");
			/* every other 1 MB layout would fit */
			ASSERT_CONTAINS(r.advice, "1M, 1M64, 1M128, 1M144, 1M160, 1M192, 1M256");
			ASSERT_CONTAINS(r.advice, "gzip");
		}

		d.target = ESPOTA_TARGET_FS;
		check(&r, &in, &d);
		ASSERT_EQ(r.limit, rows[i].fsmax);
		/* 329 008 fits the 524 288-byte FS of 1M512 only, and is firmware. */
		ASSERT_EQ(r.device_error, rows[i].fsmax >= 331776 ? 0 : 4);
		ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS);
		if (r.device_error == 0) {
			ASSERT_EQ(r.verdict, ESPOTA_FIT_WARN);
			ASSERT_CONTAINS(r.summary, "looks like firmware");
		}
	}
	/* "with the PIO default (1m256) there are 51 920 bytes of headroom for
	 * same-size updates", with the running size unknown. */
	{
		espota_fit_device d = dev8266("1M256", ESPOTA_TARGET_APP);
		espota_fit_report r = ESPOTA_FIT_REPORT_INIT;
		check(&r, &in, &d);
		ASSERT_EQ(r.verdict, ESPOTA_FIT_OK);
		ASSERT_EQ(r.same_size_margin, 51920);
		ASSERT(r.assumptions & ESPOTA_FIT_ASSUME_RUNNING_SIZE);
		ASSERT(r.assumptions & ESPOTA_FIT_ASSUME_CHIP_SIZE);
		ASSERT(r.assumptions & ESPOTA_FIT_ASSUME_DEVICE_HEADER);
		ASSERT_CONTAINS(r.summary, "51,920 bytes to spare for a same-size running sketch");
	}
}

/* ------------------------------------------------------------------ */
/* Section 5.2 */

static void test_d1_mini_4m2m(void)
{
	espota_image_info in;
	espota_fit_device d = dev8266("4M2M", ESPOTA_TARGET_APP);
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

	d.chip_size = 4 * MB;
	d.device_header_size = 4 * MB;
	d.running_size = 500000;
	arduino_info(&in, 1000000, 4);
	check(&r, &in, &d);
	ASSERT_EQ(r.limit, 2097152 - 503808);
	ASSERT_EQ(r.limit, 1593344);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_OK);
	/* The Updater would take 1.2 MB, but irom0 cannot exceed the window. */
	arduino_info(&in, 1200000, 4);
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 0);
	ASSERT(r.warnings & ESPOTA_FIT_WARN_IROM0);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_WARN);
	ASSERT_CONTAINS(r.advice, "irom0");
}

static void test_512k32(void)
{
	espota_image_info in;
	espota_fit_device d = dev8266("512K32", ESPOTA_TARGET_APP);
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

	d.chip_size = 512 * KB;
	d.running_size = 300000;
	arduino_info(&in, 300000, 0);
	check(&r, &in, &d);
	ASSERT_EQ(r.limit, 167936);
	ASSERT_EQ(r.same_size_limit, 233472);
	ASSERT(r.same_size_margin < 0); /* a same-size update is impossible */
	ASSERT_EQ(r.device_error, 4);
	ASSERT_EQ(r.shrink_by, 300000 - 167936);
	ASSERT_CONTAINS(r.advice, "shrink the image by 132,064 bytes, to at most 167,936 bytes");
}

static void test_autoflash_header(void)
{
	espota_image_info in;
	espota_fit_device d = dev8266("1M64", ESPOTA_TARGET_APP);
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

	arduino_info(&in, 329008, 9); /* header 16 MB */
	d.chip_size = 1 * MB;
	d.device_header_size = 1 * MB;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 9);
	ASSERT_EQ(r.when, ESPOTA_FIT_WHEN_AFTER_UPLOAD);
	ASSERT_CONTAINS(r.summary, "16 MB");
	d.flash_map = 1; /* a FLASH_MAP running firmware skips check 9 */
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 0);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_OK);
	/* ... and 8: its getFlashChipSize() is the chip's real size, and
	 * autoflash builds always carry a 16 MB header. */
	d.device_header_size = 16 * MB;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 0);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_OK);
	ASSERT(!(r.mistakes & ESPOTA_FIT_MISTAKE_DEVICE_HEADER));
	d.flash_map = 0;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 8);
}

static void test_gzip_4mb_onto_1mb(void)
{
	unsigned char *b = build_arduino(329008, 4, 2, 1);
	size_t zn;
	unsigned char *z = gzip_buf(b, 329008, 0, &zn);
	espota_image_info in;
	espota_fit_device d = dev8266("1M256", ESPOTA_TARGET_APP);
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

	ASSERT_OK(parse_info(&in, z, zn));
	d.chip_size = 1 * MB;
	d.device_header_size = 1 * MB;
	check(&r, &in, &d);
	ASSERT_EQ(r.size, zn); /* the compressed size is what is staged */
	ASSERT_EQ(r.device_error, 0);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_WARN);
	ASSERT(r.warnings & ESPOTA_FIT_WARN_GZIP_LOCKOUT);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_IMAGE_HEADER);
	ASSERT(r.assumptions & ESPOTA_FIT_ASSUME_GZIP_SUPPORT);
	ASSERT_CONTAINS(r.advice, "error 8");
	/* A device without gzip support rejects it at the end. */
	d.gzip_support = 0;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 10);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_GZIP_UNSUPPORTED);
	free(z);
	free(b);

	/* Derived inflation rule: ISIZE > FS_start - ceil4k(C) warns. */
	b = build_arduino(800000, 2, 3, 1);
	z = gzip_buf(b, 800000, 0, &zn);
	ASSERT_OK(parse_info(&in, z, zn));
	d.gzip_support = 1;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 0);
	ASSERT(r.warnings & ESPOTA_FIT_WARN_GZIP_OVERLAP);
	free(z);
	free(b);
}

/* ------------------------------------------------------------------ */
/* Section 5.3: ESP32 */

static void test_esp32_default(void)
{
	unsigned char *b = build_esp32(1318256, 2, 0, 1);
	espota_image_info in;
	const espota_partition_table *t;
	espota_fit_device d = ESPOTA_FIT_DEVICE_INIT;
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

	ASSERT_OK(parse_info(&in, b, 1318256));
	t = scheme("default");
	d.partitions = t;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 5);
	ASSERT_EQ(r.when, ESPOTA_FIT_WHEN_BEFORE_DATA);
	ASSERT_EQ(r.limit, 1310720);
	ASSERT_EQ(r.shrink_by, 7536);
	ASSERT_STREQ(r.device_error_text, "Bad Size Given");
	ASSERT_CONTAINS(r.summary, "never connects back");
	ASSERT_CONTAINS(r.advice, "min_spiffs (1,966,080 bytes)");

	t = scheme("min_spiffs");
	d.partitions = t;
	check(&r, &in, &d);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_OK);
	ASSERT_EQ(r.margin, 1966080 - 1318256);

	t = scheme("huge_app");
	d.partitions = t;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 10);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_NO_OTA_SLOT);
	ASSERT_CONTAINS(r.summary, "never connects back");

	t = scheme("max_app_4MB");
	d.partitions = t;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 10);

	/* Filesystem target: the spiffs partition. */
	t = scheme("default");
	d.partitions = t;
	d.target = ESPOTA_TARGET_FS;
	check(&r, &in, &d);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS);
	ASSERT_EQ(r.limit, 0x160000);
	t = scheme("max_app_4MB");
	d.partitions = t;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 10);
	free(b);

	/* An ESP8266 image to an ESP32, and data that is not an app. */
	arduino_info(&in, 329008, 2);
	t = scheme("default");
	d.partitions = t;
	d.target = ESPOTA_TARGET_APP;
	d.platform = ESPOTA_PLATFORM_ESP32;
	check(&r, &in, &d);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_WRONG_PLATFORM);
	{
		unsigned char fs[8192];
		memset(fs, 0xFF, sizeof(fs));
		memcpy(fs + 8, "littlefs", 8);
		ASSERT_OK(parse_info(&in, fs, sizeof(fs)));
		check(&r, &in, &d);
		ASSERT_EQ(r.device_error, 13);
		ASSERT_EQ(r.when, ESPOTA_FIT_WHEN_FIRST_BLOCK);
		ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE);
	}
}

/* ------------------------------------------------------------------ */
/* Other rules of section 6 */

static void test_non_app_and_unknowns(void)
{
	unsigned char fs[65536];
	espota_image_info in;
	espota_fit_device d;
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

	littlefs_info(&in, fs, sizeof(fs));

	/* Filesystem image as firmware: error 10 after the upload. */
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 10);
	ASSERT_EQ(r.when, ESPOTA_FIT_WHEN_AFTER_UPLOAD);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE);
	ASSERT_CONTAINS(r.advice, "-s");
	/* As a filesystem it fits. */
	d.target = ESPOTA_TARGET_FS;
	check(&r, &in, &d);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_OK);
	ASSERT_EQ(r.margin, 262144 - 65536);
	/* No FS area at all. */
	d = dev8266("1M", ESPOTA_TARGET_FS);
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 4);
	ASSERT_CONTAINS(r.summary, "no filesystem area");
	/* No layout: size unknown, but error 8/10 are still reported. */
	d = dev8266(NULL, ESPOTA_TARGET_FS);
	check(&r, &in, &d);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_UNKNOWN);
	ASSERT(r.assumptions & ESPOTA_FIT_ASSUME_LAYOUT);
	d.target = ESPOTA_TARGET_APP;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 10);
	arduino_info(&in, 329008, 4);
	d.chip_size = 1 * MB;
	d.device_header_size = 4 * MB;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 8);
	d.device_header_size = 1 * MB;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 9);
	d.chip_size = 4 * MB;
	check(&r, &in, &d);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_UNKNOWN);
	/* ESP32 image to an ESP8266. */
	{
		unsigned char *b = build_esp32(65536, 2, 0, 0);
		ASSERT_OK(parse_info(&in, b, 65536));
		d = dev8266("4M2M", ESPOTA_TARGET_APP);
		check(&r, &in, &d);
		ASSERT_EQ(r.verdict, ESPOTA_FIT_FAIL);
		ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_WRONG_PLATFORM);
		/* the ESP8266 Updater takes any 0xE9 image: no device error,
		 * and the report says what would really happen */
		ASSERT_EQ(r.device_error, 0);
		ASSERT_CONTAINS(r.summary, "blocked");
		ASSERT_CONTAINS(r.summary, "would accept it");
		free(b);
	}
}

static void test_signing(void)
{
	unsigned char *b = build_arduino(329008, 2, 3, 0);
	size_t n;
	espota_image_info in;
	espota_fit_device d = dev8266("1M256", ESPOTA_TARGET_APP);
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

	d.signing_len = 256;
	ASSERT_OK(parse_info(&in, b, 329008));
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 12);
	ASSERT_EQ(r.when, ESPOTA_FIT_WHEN_AFTER_UPLOAD);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_NOT_SIGNED);
	n = add_signature(b, 329008, 256);
	ASSERT_OK(parse_info(&in, b, n));
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 0);
	ASSERT_EQ(r.size, 329268); /* the space check counts the signature */
	d.signing_len = 512;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 12);
	d.signing_len = 0;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 0);
	ASSERT_CONTAINS(r.advice, "does not check");
	free(b);
}

/* end() verifies the signature before the magic byte and for every
 * command (esp8266 Updater.cpp, UpdaterClass::end()). */
static void test_signing_order_and_fs(void)
{
	unsigned char fs[65536];
	espota_image_info in;
	espota_fit_device d = dev8266("1M256", ESPOTA_TARGET_APP);
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

	littlefs_info(&in, fs, sizeof(fs));
	d.signing_len = 256;
	/* a filesystem image sent as firmware: 12 comes before 10 */
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 12);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_NOT_SIGNED);
	/* an unsigned filesystem upload to a signing device is refused too */
	d.target = ESPOTA_TARGET_FS;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 12);
	ASSERT_EQ(r.when, ESPOTA_FIT_WHEN_AFTER_UPLOAD);
	ASSERT_CONTAINS(r.summary, "filesystem image is not signed");
	/* ... but a size refusal before any data still comes first */
	d = dev8266("1M", ESPOTA_TARGET_FS);
	d.signing_len = 256;
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 4);
}

static void test_atomic_fs_and_v2(void)
{
	unsigned char fs[400 * 1024];
	espota_image_info in;
	espota_fit_device d = dev8266("1M512", ESPOTA_TARGET_FS);
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;

	littlefs_info(&in, fs, sizeof(fs));
	d.running_size = 329008;
	check(&r, &in, &d);
	ASSERT_EQ(r.verdict, ESPOTA_FIT_OK);
	d.atomic_fs = 1; /* staged below FS_start as well: 172 032 max */
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 4);
	ASSERT_EQ(r.limit, 172032);

	/* v2 (0xEA) image as firmware: error 10 at the end. */
	memset(fs, 0, 64);
	fs[0] = 0xEA;
	fs[1] = 4;
	ASSERT_EQ(parse_info(&in, fs, 64), ESPOTA_EIMAGE);
	ASSERT_EQ(in.kind, ESPOTA_IMAGE_ESP8266_V2);
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	check(&r, &in, &d);
	ASSERT_EQ(r.device_error, 10);
	ASSERT(r.mistakes & ESPOTA_FIT_MISTAKE_WRONG_FORMAT);
}

static void test_api_misc(void)
{
	espota_fit_device d, init = ESPOTA_FIT_DEVICE_INIT;
	espota_image_info in;
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;
	char small[16];
	int need;

	ASSERT_OK(espota_fit_device_init(&d, ESPOTA_FIT_DEVICE_VERSION));
	ASSERT_MEMEQ(&d, &init, sizeof(d));
	ASSERT_EQ(espota_fit_device_init(&d, 99), ESPOTA_EINVAL);
	ASSERT_STREQ(espota_fit_verdict_name(ESPOTA_FIT_OK), "fits");
	ASSERT_STREQ(espota_fit_verdict_name(ESPOTA_FIT_WARN), "warning");
	ASSERT_STREQ(espota_fit_verdict_name(ESPOTA_FIT_FAIL), "refused");
	ASSERT_STREQ(espota_fit_verdict_name(ESPOTA_FIT_UNKNOWN), "unknown");
	arduino_info(&in, 329008, 2);
	d.version = 7;
	ASSERT_EQ(espota_fit_check(&r, &in, &d), ESPOTA_EINVAL);
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	ASSERT_OK(espota_fit_check(&r, &in, &d));
	/* snprintf-like: truncated output, full length returned. */
	need = espota_fit_report_format(small, sizeof(small), &in, &d, &r);
	ASSERT(need > (int)sizeof(small));
	ASSERT_EQ(strlen(small), sizeof(small) - 1);
	ASSERT_EQ(espota_fit_report_format(NULL, 0, &in, &d, &r), need);
}

/* ------------------------------------------------------------------ */
/* Golden reports */

static void golden(const char *name, const espota_image_info *in, const espota_fit_device *d)
{
	char path[512], text[4096], want[4096];
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;
	FILE *f;
	size_t n;
	const char *update = getenv("ESPOTA_UPDATE_GOLDEN");

	ASSERT_OK(espota_fit_check(&r, in, d));
	ASSERT(espota_fit_report_format(text, sizeof(text), in, d, &r) < (int)sizeof(text));
	snprintf(path, sizeof(path), "%s/fit/%s.txt", ESPOTA_TEST_DATA, name);
	if (update != NULL && strcmp(update, "1") == 0) {
		f = fopen(path, "wb");
		ASSERT(f != NULL);
		fputs(text, f);
		fclose(f);
		return;
	}
	f = fopen(path, "rb");
	if (f == NULL)
		TEST_FAIL_("missing %s (run with ESPOTA_UPDATE_GOLDEN=1)", path);
	n = fread(want, 1, sizeof(want) - 1, f);
	fclose(f);
	want[n] = '\0';
	if (strcmp(text, want) != 0)
		TEST_FAIL_("%s differs:\n--- got\n%s--- want\n%s", path, text, want);
}

static void test_golden(void)
{
	espota_image_info img, img4;
	espota_fit_device d;

	arduino_info(&img, 329008, 2);
	arduino_info(&img4, 329008, 4);

	d = dev8266("1M256", ESPOTA_TARGET_FS);
	golden("sonoff_fs_1m256", &img, &d);
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	golden("sonoff_app_1m256", &img, &d);
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	d.chip_size = 1 * MB;
	d.device_header_size = 4 * MB;
	golden("sonoff_error8", &img4, &d);
	d = dev8266("1M512", ESPOTA_TARGET_APP);
	d.chip_size = 1 * MB;
	d.device_header_size = 1 * MB;
	d.running_size = 329008;
	golden("sonoff_1m512_too_big", &img, &d);
	d = dev8266(NULL, ESPOTA_TARGET_APP);
	golden("no_layout", &img, &d);
	{
		unsigned char *b = build_esp32(1318256, 2, 0, 1);
		espota_image_info e;
		const espota_partition_table *t;
		espota_fit_device d32 = ESPOTA_FIT_DEVICE_INIT;
		ASSERT_OK(parse_info(&e, b, 1318256));
		t = scheme("default");
		d32.partitions = t;
		golden("esp32_default_too_big", &e, &d32);
		free(b);
	}
}

TEST_LIST_BEGIN
	TEST_ENTRY(test_layout_table)
	TEST_ENTRY(test_layout_formulas)
	TEST_ENTRY(test_boards)
	TEST_ENTRY(test_sonoff_attempts)
	TEST_ENTRY(test_sonoff_error8)
	TEST_ENTRY(test_sonoff_limits)
	TEST_ENTRY(test_d1_mini_4m2m)
	TEST_ENTRY(test_512k32)
	TEST_ENTRY(test_autoflash_header)
	TEST_ENTRY(test_gzip_4mb_onto_1mb)
	TEST_ENTRY(test_esp32_default)
	TEST_ENTRY(test_non_app_and_unknowns)
	TEST_ENTRY(test_signing)
	TEST_ENTRY(test_signing_order_and_fs)
	TEST_ENTRY(test_atomic_fs_and_v2)
	TEST_ENTRY(test_api_misc)
	TEST_ENTRY(test_golden)
TEST_LIST_END
