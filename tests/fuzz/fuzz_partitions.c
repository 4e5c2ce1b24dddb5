/*
 * ESP32 partition tables: the CSV parser (gen_esp32part.py syntax) and the
 * binary parser (0x50AA entries, MD5 entry) on the same bytes, then the
 * flash-fit check of an ESP32 app against whatever table came out.
 */
#include "fuzz.h"

#include "espota/errors.h"
#include "espota/flashfit.h"
#include "analysis/image_internal.h"

static void check_table(const espota_partition_table *t, int rc, const char *err, size_t errlen)
{
	unsigned int i;

	FUZZ_ASSERT(memchr(err, '\0', errlen) != NULL);
	FUZZ_TERMINATED(t->name);
	FUZZ_ASSERT(t->count <= ESPOTA__PARTITIONS_MAX);
	for (i = 0; i < t->count; i++) {
		const espota_partition *p = &t->entries[i];
		FUZZ_TERMINATED(p->label);
		/* Accepted tables have no partition beyond 4 GiB. */
		if (rc == ESPOTA_OK)
			FUZZ_ASSERT((uint64_t)p->offset + p->size <= UINT32_MAX + (uint64_t)1);
	}
}

static void fit(const espota_partition_table *t, uint64_t size)
{
	espota_image_info img;
	espota_fit_device dev;
	espota_fit_report r = ESPOTA_FIT_REPORT_INIT;
	char text[4096];
	int target;

	memset(&img, 0, sizeof(img));
	img.struct_size = sizeof(img);
	img.kind = ESPOTA_IMAGE_ESP32_APP;
	img.platform = ESPOTA_PLATFORM_ESP32;
	img.file_size = img.inner_size = size;
	img.magic = 0xE9;
	img.app_end = size;
	img.checksum_ok = 1;
	for (target = 0; target < 2; target++) {
		espota_fit_device_init(&dev, ESPOTA_FIT_DEVICE_VERSION);
		dev.platform = ESPOTA_PLATFORM_ESP32;
		dev.partitions = t;
		dev.target = target ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP;
		FUZZ_ASSERT(espota_fit_check(&r, &img, &dev) == ESPOTA_OK);
		FUZZ_TERMINATED(r.summary);
		FUZZ_TERMINATED(r.advice);
		FUZZ_ASSERT(espota_fit_report_format(text, sizeof(text), &img, &dev, &r) >= 0);
		FUZZ_ASSERT(strlen(text) < sizeof(text));
	}
	(void)espota__partitions_flash_size(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	espota_partition_table t;
	char err[128];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = espota__partitions_parse_csv(&t, (const char *)data, size, err, sizeof(err));
	FUZZ_ASSERT(rc == ESPOTA_OK || rc < 0);
	check_table(&t, rc, err, sizeof(err));
	if (rc == ESPOTA_OK)
		fit(&t, 1000000 + size);

	memset(err, 'x', sizeof(err));
	rc = espota__partitions_parse_bin(&t, data, size, err, sizeof(err));
	FUZZ_ASSERT(rc == ESPOTA_OK || rc < 0);
	check_table(&t, rc, err, sizeof(err));
	if (rc == ESPOTA_OK)
		fit(&t, 1500000);

	/* The public object: the same verdict, the detail on the object. */
	{
		espota_partition_table *pt = NULL;
		int prc = espota_partition_table_parse_csv(&pt, (const char *)data, size);
		FUZZ_ASSERT(pt != NULL || prc == ESPOTA_ENOMEM);
		if (pt != NULL) {
			FUZZ_ASSERT((prc == ESPOTA_OK) == (espota_partition_table_error(pt)[0] == '\0'));
			FUZZ_ASSERT(espota_partition_table_at(pt, espota_partition_table_count(pt)) == NULL);
		}
		espota_partition_table_free(pt);
	}

	/* A 1-byte error buffer must still be terminated. */
	rc = espota__partitions_parse_csv(&t, (const char *)data, size, err, 1);
	FUZZ_ASSERT(err[0] == '\0');
	(void)rc;
	return 0;
}
