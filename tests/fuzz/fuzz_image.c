/*
 * espota_image_parse on arbitrary bytes (plain, gzip, signed, ESP32, v2,
 * partition tables, filesystems), then the flash-fit check of the result
 * against a few devices and the human-readable report.
 */
#include "fuzz.h"

#include "espota/flashfit.h"
#include "espota/image.h"
#include "espota/errors.h"

static void check_info(const espota_image *img, const espota_image_info *info, size_t size)
{
	const char *detail = espota_image_error(img);

	FUZZ_ASSERT(memchr(detail, '\0', 128) != NULL);
	FUZZ_ASSERT(espota_image_segment_count(img) == info->segment_count);
	FUZZ_ASSERT(info->segment_count <= 16);
	FUZZ_ASSERT(espota_image_segment_at(img, info->segment_count) == NULL);
	FUZZ_ASSERT(info->file_size == size);
	FUZZ_ASSERT(espota_image_kind_name(info->kind) != NULL);
	if (!info->gzip)
		FUZZ_ASSERT(info->inner_size == info->file_size);
	if (info->is_signed)
		FUZZ_ASSERT(info->signature_len > 0 && info->signature_len < size);
}

static char text[16384];

/* On a broken invariant, show the report the fuzzer found before aborting. */
#define REPORT_ASSERT(cond) do { \
	if (!(cond)) { \
		espota_fit_report_format(text, sizeof(text), info, dev, &r); \
		fprintf(stderr, "%s\n", text); \
		FUZZ_ASSERT(cond); \
	} \
} while (0)

static void check_report(const espota_image_info *info, const espota_fit_device *dev, int parsed)
{
	char small[40];
	espota_fit_report r;
	int n, m;

	memset(&r, 0xA5, sizeof(r)); /* the check must fill every field it reports */
	r.struct_size = sizeof(r);
	FUZZ_ASSERT(espota_fit_check(&r, info, dev) == ESPOTA_OK);
	FUZZ_ASSERT(r.verdict >= ESPOTA_FIT_OK && r.verdict <= ESPOTA_FIT_UNKNOWN);
	FUZZ_ASSERT(r.device_error_text != NULL);
	FUZZ_TERMINATED(r.summary);
	FUZZ_TERMINATED(r.advice);
	FUZZ_ASSERT(espota_fit_verdict_name(r.verdict) != NULL);
	/* "fits" predicts no device error. (A mistake may still be listed:
	 * e.g. an oversized header that a FLASH_MAP firmware does not check.) */
	if (parsed && r.verdict == ESPOTA_FIT_OK)
		REPORT_ASSERT(r.device_error == 0);
	if (parsed && r.device_error != 0)
		REPORT_ASSERT(r.verdict == ESPOTA_FIT_FAIL || r.verdict == ESPOTA_FIT_UNKNOWN ||
			r.verdict == ESPOTA_FIT_WARN);
	if (r.limit > 0 && r.verdict != ESPOTA_FIT_UNKNOWN && r.margin >= 0)
		REPORT_ASSERT(r.shrink_by == 0);

	n = espota_fit_report_format(text, sizeof(text), info, dev, &r);
	FUZZ_ASSERT(n >= 0);
	if ((size_t)n < sizeof(text))
		FUZZ_ASSERT(strlen(text) == (size_t)n);
	/* Truncation: snprintf-like, same length, always terminated. */
	m = espota_fit_report_format(small, sizeof(small), info, dev, &r);
	FUZZ_ASSERT(m == n);
	FUZZ_ASSERT(strlen(small) < sizeof(small));
	FUZZ_ASSERT(espota_fit_report_format(NULL, 0, info, dev, &r) == n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static espota_partition_table *tables[3];
	static int have_tables;
	static const char *const layouts[] = { "1M64", "4M2M", "512K32", "2M", "16M14M" };
	static const uint64_t chips[] = { 0, 1u << 20, 4u << 20, 512u << 10 };
	espota_image_info info = ESPOTA_IMAGE_INFO_INIT;
	espota_image *img = NULL;
	espota_fit_device dev;
	uint8_t knobs = 0;
	size_t i;
	int rc;

	if (!have_tables) {
		FUZZ_ASSERT(espota_partition_table_builtin(&tables[0], "default") == ESPOTA_OK);
		FUZZ_ASSERT(espota_partition_table_builtin(&tables[1], "min_spiffs") == ESPOTA_OK);
		FUZZ_ASSERT(espota_partition_table_builtin(&tables[2], "huge_app") == ESPOTA_OK);
		have_tables = 1;
	}

	rc = espota_image_parse(&img, data, size);
	FUZZ_ASSERT(rc == ESPOTA_OK || rc == ESPOTA_EIMAGE || (rc == ESPOTA_EINVAL && size == 0));
	if (rc == ESPOTA_EINVAL)
		return 0;
	FUZZ_ASSERT(img != NULL && espota_image_get_info(img, &info) == ESPOTA_OK);
	check_info(img, &info, size);
	espota_image_free(img);

	/* Device facts vary with the last byte so the fuzzer can steer them. */
	if (size > 0)
		knobs = data[size - 1];

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		espota_fit_device_init(&dev, ESPOTA_FIT_DEVICE_VERSION);
		dev.platform = ESPOTA_PLATFORM_ESP8266;
		dev.layout = espota_layout_find(layouts[i]);
		if (dev.layout == NULL)
			continue;
		dev.target = (knobs & 1) ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP;
		dev.chip_size = chips[(knobs >> 1) & 3];
		dev.device_header_size = (knobs & 8) ? 4u << 20 : 0;
		dev.running_size = (knobs & 16) ? 300000 : 0;
		dev.flash_map = (knobs >> 5) & 1;
		dev.signing_len = (knobs & 64) ? 256 : 0;
		dev.gzip_support = (knobs & 128) ? 0 : -1;
		check_report(&info, &dev, rc == ESPOTA_OK);
	}
	for (i = 0; i <= sizeof(tables) / sizeof(tables[0]); i++) {
		espota_fit_device_init(&dev, ESPOTA_FIT_DEVICE_VERSION);
		dev.platform = ESPOTA_PLATFORM_ESP32;
		dev.partitions = i < 3 ? tables[i] : NULL;
		dev.target = (knobs & 1) ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP;
		dev.chip_size = chips[(knobs >> 1) & 3];
		dev.running_size = (knobs & 16) ? 300000 : 0;
		check_report(&info, &dev, rc == ESPOTA_OK);
	}
	/* Nothing known: platform from the image. */
	espota_fit_device_init(&dev, ESPOTA_FIT_DEVICE_VERSION);
	dev.target = (knobs & 1) ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP;
	check_report(&info, &dev, rc == ESPOTA_OK);
	return 0;
}
