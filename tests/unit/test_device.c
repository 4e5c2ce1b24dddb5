/*
 * Device policy (device.h): board lookup by alias, near misses, describe,
 * the preflight that refuses only on facts, sizes and names.
 */
#include <stdlib.h>
#include <string.h>

#include "espota/device.h"
#include "espota/errors.h"
#include "fit_builders.h"
#include "test.h"

#define KB 1024u
#define MB (1024u * 1024u)

static void arduino_info(espota_image_info *in, size_t len)
{
	unsigned char *b = build_arduino(len, 2, 3, 0);
	ASSERT_OK(parse_info(in, b, len));
	free(b);
}

/* `d` starts zeroed (DEVICE_ZERO); each describe releases the previous table. */
#define DEVICE_ZERO(d) memset(&(d), 0, sizeof(d))

static void describe(espota_device *d, const char *board, const char *layout, uint64_t running)
{
	espota_device_spec s = ESPOTA_DEVICE_SPEC_INIT;
	char err[256];

	espota_device_clear(d);
	s.board = board;
	s.layout = layout;
	s.running_size = running;
	ASSERT_OK(espota_device_describe(d, &s, err, sizeof(err)));
}

static void test_lookup(void)
{
	const espota_board *b = espota_board_find("d1_mini");
	ASSERT(b != NULL && strcmp(b->origin, "pio:d1_mini") == 0);
	ASSERT(espota_board_find("D1_MINI") == b);
	ASSERT(espota_board_find("PLATFORMIO_D1_MINI") == b);
	ASSERT_STREQ(espota_board_find("ESP8266_WEMOS_D1MINI")->name, "d1_mini@ide");
	ASSERT_STREQ(espota_board_find("ARDUINO_ESP8266_WEMOS_D1MINI")->name, "d1_mini@ide");
	ASSERT_STREQ(espota_board_find("esp32_dev")->name, "esp32");
	/* ESP32 devices announce their variant (ESPmDNS: STR(ARDUINO_VARIANT)) */
	ASSERT_STREQ(espota_board_find("doitESP32devkitV1")->name, "esp32doit-devkit-v1@ide");
	/* the IDE ids of arduino-esp32's boards.txt */
	ASSERT_STREQ(espota_board_find("d1_mini32")->origin, "ide");
	ASSERT_STREQ(espota_board_find("esp32s3")->layout, "default");
	ASSERT_STREQ(espota_board_find("esp32s3")->chip, "esp32s3");
	/* a shared build.board names the first board of boards.txt with it */
	ASSERT_STREQ(espota_board_find("ESP32_DEV")->name, "esp32");
	ASSERT(espota_board_find("no_such_board") == NULL);
	ASSERT(espota_board_count() > 300);
	ASSERT(espota_board_alias_count() > 100);
	ASSERT(espota_board_alias_at(espota_board_alias_count(), NULL) == NULL);
	ASSERT_STREQ(espota_board_suggest("d1_mini_pr"), "d1_mini_pro");
	ASSERT_STREQ(espota_board_suggest("nodemcu_v2"), "nodemcuv2");
	ASSERT_STREQ(espota_board_suggest("esp32doit-devkit-v2"), "esp32doit-devkit-v1");
	ASSERT(espota_board_suggest("completely-unrelated-name") == NULL);
	ASSERT(espota_board_suggest("") == NULL);
}

/* The one scheme table (schemes.def) has arduino-esp32's min_spiffs: spiffs
 * 0x20000 then the 64 KiB coredump partition. */
static void test_min_spiffs(void)
{
	espota_partition_table *t = NULL;
	ASSERT_OK(espota_partition_table_builtin(&t, "min_spiffs"));
	ASSERT_EQ(espota_partition_table_count(t), 6u);
	ASSERT_STREQ(espota_partition_table_at(t, 4)->label, "spiffs");
	ASSERT_EQ(espota_partition_table_at(t, 4)->offset, 0x3D0000u);
	ASSERT_EQ(espota_partition_table_at(t, 4)->size, 0x20000u);
	ASSERT_STREQ(espota_partition_table_at(t, 5)->label, "coredump");
	ASSERT_EQ(espota_partition_table_at(t, 5)->offset, 0x3F0000u);
	espota_partition_table_free(t);
	ASSERT_STREQ(espota_partition_scheme_at(0), "app3M_fat9M_16MB");
}

static void test_describe(void)
{
	espota_device d;
	espota_device_spec s = ESPOTA_DEVICE_SPEC_INIT;
	char err[256];

	DEVICE_ZERO(d);
	describe(&d, "sonoff", NULL, 0);
	ASSERT_STREQ(d.fit.layout->name, "1M64");
	ASSERT(d.fit.assumed & ESPOTA_DEVICE_ASSUMED_LAYOUT);
	/* every layout it offers is 1 MB: the chip size is a fact */
	ASSERT(!(d.fit.assumed & ESPOTA_DEVICE_ASSUMED_CHIP));
	describe(&d, "generic", NULL, 0);
	ASSERT(d.fit.assumed & ESPOTA_DEVICE_ASSUMED_CHIP);
	describe(&d, "sonoff", "1M512", 0);
	ASSERT_STREQ(d.fit.layout->name, "1M512");
	ASSERT(!(d.fit.assumed & ESPOTA_DEVICE_ASSUMED_LAYOUT));
	describe(&d, "d1_mini_pr", NULL, 0);
	ASSERT(d.fit.assumed & ESPOTA_DEVICE_UNKNOWN_BOARD);
	ASSERT_CONTAINS(d.note, "did you mean d1_mini_pro?");
	describe(&d, "esp32-s3-devkitc-1", NULL, 0);
	ASSERT_STREQ(espota_partition_table_name(d.parts), "default_8MB");
	ASSERT(d.fit.partitions == d.parts && d.fit.platform == ESPOTA_PLATFORM_ESP32);
	ASSERT(d.fit.assumed & ESPOTA_DEVICE_ASSUMED_SCHEME);

	s.layout = "3M";
	espota_device_clear(&d);
	ASSERT_EQ(espota_device_describe(&d, &s, err, sizeof(err)), ESPOTA_EINVAL);
	ASSERT_CONTAINS(err, "unknown layout '3M'");
	s.layout = NULL;
	s.partitions = (const unsigned char *)"nvs,data,nvs,0x9000\n";
	s.partitions_len = strlen((const char *)s.partitions);
	espota_device_clear(&d);
	ASSERT_EQ(espota_device_describe(&d, &s, err, sizeof(err)), ESPOTA_EINVAL);
	ASSERT_CONTAINS(err, "partition table");
	ASSERT_EQ(espota_device_spec_init(&s, 99), ESPOTA_EINVAL);
	espota_device_clear(&d);
}

/* The case: layout 1M64, 300,000-byte sketch running, a 500 KiB
 * image: the running size is assumed, so it is a warning with the figure
 * (the same check with the fact given fits; strict refuses). */
static void test_preflight_assumption(void)
{
	espota_image_info in;
	espota_device d;
	espota_preflight p;

	DEVICE_ZERO(d);
	arduino_info(&in, 512000);
	describe(&d, "sonoff", NULL, 0);
	ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
	ASSERT_EQ(p.report.verdict, ESPOTA_FIT_FAIL);
	ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_WARN);
	/* 1M64: FS at 0xEB000; next to a sketch of S the image needs
	 * 0xEB000 - ceil4k(S) >= 512000, so S <= 450560. */
	ASSERT_EQ(p.running_size_max, 450560u);
	ASSERT_CONTAINS(p.warnings, "(512000 bytes)");
	ASSERT_CONTAINS(p.warnings, "at most 450560 bytes");

	describe(&d, "sonoff", NULL, 300000);
	ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
	ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_SEND);

	d.fit.running_size = 0;
	d.fit.strict = 1;
	ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
	ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_REFUSE);
	ASSERT_EQ(p.on_facts, 0);
	espota_device_clear(&d);
}

/* Facts refuse: the SONOFF seed (1M512, running 329,008, image 329,008)
 * keeps its verdict and figures; a firmware image sent as the filesystem;
 * an image too big for every layout the board offers. */
static void test_preflight_facts(void)
{
	espota_image_info in;
	espota_device d;
	espota_preflight p;

	DEVICE_ZERO(d);
	arduino_info(&in, 329008);
	describe(&d, NULL, "1M512", 329008);
	d.fit.chip_size = 1 * MB;
	d.fit.device_header_size = 1 * MB;
	ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
	ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_REFUSE);
	ASSERT_EQ(p.on_facts, 1);
	ASSERT_EQ(p.report.device_error, 4);
	ASSERT_EQ(p.report.limit, 172032u);
	ASSERT_EQ(p.report.shrink_by, 156976u);

	describe(&d, NULL, "1M512", 0);
	d.fit.target = ESPOTA_TARGET_FS;
	ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
	ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_REFUSE);

	arduino_info(&in, 1100 * KB);
	describe(&d, "sonoff", NULL, 0);
	ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
	ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_REFUSE);
	ASSERT_EQ(p.on_facts, 1);

	/* a header claiming 4 MB for a board that only comes with 1 MB: a fact */
	{
		unsigned char *b = build_arduino(300000, 4, 3, 0);
		ASSERT_OK(parse_info(&in, b, 300000));
		free(b);
		describe(&d, "sonoff", NULL, 0);
		ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
		ASSERT(p.report.mistakes & ESPOTA_FIT_MISTAKE_IMAGE_HEADER);
		ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_REFUSE);
		ASSERT_EQ(p.on_facts, 1);
		/* "generic" comes with 512 KB to 16 MB: the chip is assumed, a warning */
		describe(&d, "generic", NULL, 0);
		ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
		ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_WARN);
		ASSERT_CONTAINS(p.warnings, "assumed: a 1024 KiB flash chip");
	}

	/* unknown board: a warning, strict refuses */
	arduino_info(&in, 300000);
	describe(&d, "nope-board", NULL, 0);
	ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
	ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_WARN);
	d.fit.strict = 1;
	ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
	ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_REFUSE);
	ASSERT_STREQ(espota_preflight_decision_name(ESPOTA_PREFLIGHT_WARN), "warn");
	espota_device_clear(&d);
}

/* ESP32 board without --scheme: the default scheme is an assumption. An
 * image too big for default's 0x140000 slots fits min_spiffs (0x1E0000):
 * a warning naming it; with the scheme given, a refusal. */
static void test_preflight_esp32_scheme(void)
{
	espota_image_info in;
	espota_device d;
	espota_preflight p;
	espota_device_spec s = ESPOTA_DEVICE_SPEC_INIT;
	unsigned char *b = build_esp32(0x180000, 0x2, 0, 1);

	DEVICE_ZERO(d);
	ASSERT_OK(parse_info(&in, b, 0x180000));
	free(b);
	describe(&d, "esp32dev", NULL, 0);
	ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
	ASSERT_EQ(p.report.verdict, ESPOTA_FIT_FAIL);
	ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_WARN);
	ASSERT_STREQ(p.fits_with, "min_spiffs");
	ASSERT_CONTAINS(p.warnings, "partition scheme default, the default of board esp32dev; it fits with min_spiffs");

	s.board = "esp32dev";
	s.scheme = "default";
	espota_device_clear(&d);
	ASSERT_OK(espota_device_describe(&d, &s, NULL, 0));
	ASSERT_OK(espota_preflight_run(&p, &in, &d.fit));
	ASSERT_EQ(p.decision, ESPOTA_PREFLIGHT_REFUSE);
	ASSERT_EQ(p.on_facts, 1);
	espota_device_clear(&d);
}

static void test_sizes_and_names(void)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "4194304", 4194304 }, { "0x100000", 0x100000 }, { "1M", MB }, { "4MB", 4 * MB },
		{ "512K", 512 * KB }, { "512KiB", 512 * KB }, { " 1.5M ", MB + MB / 2 }, { "1G", 1024u * MB },
		{ "64 KB", 64 * KB },
	};
	static const char *const bad[] = { "", "M", "-1", "1.5", "0x1.8M", "12Q", "1MM",
		"99999999999999999999", "18446744073709551615K" };
	uint64_t v;
	size_t i;
	espota_platform p;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ASSERT_OK(espota_size_parse(ok[i].s, &v));
		ASSERT_EQ(v, ok[i].v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(espota_size_parse(bad[i], &v), ESPOTA_EINVAL);
	ASSERT_STREQ(espota_platform_name(ESPOTA_PLATFORM_ESP32), "esp32");
	ASSERT_STREQ(espota_platform_name(ESPOTA_PLATFORM_UNKNOWN), "unknown");
	ASSERT_OK(espota_platform_parse("ESP32S3", &p));
	ASSERT_EQ(p, ESPOTA_PLATFORM_ESP32);
	ASSERT_OK(espota_platform_parse("esp8285", &p));
	ASSERT_EQ(p, ESPOTA_PLATFORM_ESP8266);
	ASSERT_EQ(espota_platform_parse("avr", &p), ESPOTA_EINVAL);
	ASSERT_STREQ(espota_auth_scheme_name(ESPOTA_AUTH_PBKDF2_SHA256), "pbkdf2-sha256");
}

TEST_LIST_BEGIN
	TEST_ENTRY(test_lookup)
	TEST_ENTRY(test_min_spiffs)
	TEST_ENTRY(test_describe)
	TEST_ENTRY(test_preflight_assumption)
	TEST_ENTRY(test_preflight_facts)
	TEST_ENTRY(test_preflight_esp32_scheme)
	TEST_ENTRY(test_sizes_and_names)
TEST_LIST_END
