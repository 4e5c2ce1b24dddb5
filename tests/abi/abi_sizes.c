/*
 * A program built against the 1.0 headers (C99, pedantic) that checks the
 * ABI rule of docs/api.md: a struct the library fills carries its size, and
 * the library writes only within the size the caller passed, whether the
 * caller's struct is older (smaller) or newer (larger) than the library's.
 * Every byte past the size must come back as the canary the caller put there.
 */
#include <espota.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CANARY 0xA5
#define SLACK 64

static int failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		failures++; \
	} \
} while (0)

/* A buffer of `size` + SLACK canary bytes whose first field is the size. */
static unsigned char *sized(size_t size)
{
	unsigned char *b = malloc(size + SLACK);
	if (b == NULL)
		exit(2);
	memset(b, CANARY, size + SLACK);
	memcpy(b, &size, sizeof(size));
	return b;
}

/* Bytes [from, to) still hold the canary. */
static int untouched(const unsigned char *b, size_t from, size_t to)
{
	size_t i;
	for (i = from; i < to; i++)
		if (b[i] != CANARY)
			return 0;
	return 1;
}

/* Some byte in [from, to) was written. */
static int written(const unsigned char *b, size_t from, size_t to)
{
	return !untouched(b, from, to);
}

static void stats_sizes(espota_session *s)
{
	const size_t full = sizeof(espota_upload_stats);
	const size_t old = offsetof(espota_upload_stats, sent); /* an older, smaller struct */
	unsigned char *b;

	b = sized(old);
	CHECK(espota_session_stats(s, (espota_upload_stats *)(void *)b) == ESPOTA_OK);
	CHECK(written(b, sizeof(size_t), old));
	CHECK(untouched(b, old, old + SLACK));
	free(b);

	b = sized(full + SLACK / 2); /* a newer, larger struct */
	CHECK(espota_session_stats(s, (espota_upload_stats *)(void *)b) == ESPOTA_OK);
	CHECK(untouched(b, full, full + SLACK)); /* the library knows only `full` bytes */
	free(b);

	b = sized(sizeof(size_t)); /* nothing fits */
	CHECK(espota_session_stats(s, (espota_upload_stats *)(void *)b) == ESPOTA_EINVAL);
	CHECK(untouched(b, sizeof(size_t), sizeof(size_t) + SLACK));
	free(b);
}

static void image_and_fit_sizes(void)
{
	unsigned char fs[4096];
	espota_image *img = NULL;
	espota_image_info info = ESPOTA_IMAGE_INFO_INIT;
	espota_fit_device dev = ESPOTA_FIT_DEVICE_INIT;
	espota_fit_report *rep;
	const size_t old_info = offsetof(espota_image_info, magic);
	const size_t old_rep = offsetof(espota_fit_report, summary);
	unsigned char *b;
	char text[4096];

	memset(fs, 0xFF, sizeof(fs));
	memcpy(fs + 8, "littlefs", 8);
	CHECK(espota_image_parse(&img, fs, sizeof(fs)) == ESPOTA_OK);
	if (img == NULL)
		return;
	CHECK(espota_image_get_info(img, &info) == ESPOTA_OK);
	CHECK(info.kind == ESPOTA_IMAGE_LITTLEFS && info.file_size == sizeof(fs));
	CHECK(espota_image_segment_count(img) == 0 && espota_image_segment_at(img, 0) == NULL);

	b = sized(old_info);
	CHECK(espota_image_get_info(img, (espota_image_info *)(void *)b) == ESPOTA_OK);
	CHECK(((espota_image_info *)(void *)b)->kind == ESPOTA_IMAGE_LITTLEFS);
	CHECK(untouched(b, old_info, old_info + SLACK));
	free(b);

	/* The fit check reads an older image struct only within its size and
	 * fills an older report only within its size. */
	dev.platform = ESPOTA_PLATFORM_ESP8266;
	dev.target = ESPOTA_TARGET_FS;
	dev.layout = espota_layout_find("1M64");
	b = sized(old_info);
	memcpy(b + sizeof(size_t), (const unsigned char *)&info + sizeof(size_t), old_info - sizeof(size_t));
	rep = (espota_fit_report *)(void *)sized(old_rep);
	CHECK(espota_fit_check(rep, (const espota_image_info *)(void *)b, &dev) == ESPOTA_OK);
	CHECK(rep->verdict == ESPOTA_FIT_OK && rep->limit == 65536 - 0 && rep->size == sizeof(fs));
	CHECK(untouched((const unsigned char *)rep, old_rep, old_rep + SLACK));
	CHECK(untouched(b, old_info, old_info + SLACK));
	/* Formatting such a report does not read past its size either. */
	CHECK(espota_fit_report_format(text, sizeof(text), (const espota_image_info *)(void *)b, &dev, rep) > 0);
	CHECK(strstr(text, "Verdict:   fits") != NULL);
	free(rep);
	free(b);

	b = sized(sizeof(size_t));
	CHECK(espota_fit_check((espota_fit_report *)(void *)b, &info, &dev) == ESPOTA_EINVAL);
	CHECK(untouched(b, sizeof(size_t), sizeof(size_t) + SLACK));
	free(b);
	espota_image_free(img);
}

/* A transfer that cannot start is finished at once; its stats obey the same rule. */
static void transfer_sizes(espota_session *s)
{
	static const unsigned char image[16] = { 1 };
	espota_upload_options o = ESPOTA_UPLOAD_OPTIONS_INIT;
	espota_multi *m = NULL;
	espota_transfer *t = NULL;
	const size_t old = offsetof(espota_upload_stats, total);
	unsigned char *b;

	o.host = "127.0.0.1";
	o.target = (espota_target)7; /* invalid: the transfer fails before any I/O */
	CHECK(espota_multi_new(&m, s) == ESPOTA_OK);
	CHECK(espota_multi_add_upload(m, &t, image, sizeof(image), &o) == ESPOTA_OK);
	CHECK(t != NULL && espota_multi_running(m) == 0);
	CHECK(espota_multi_info_read(m) == t && espota_multi_info_read(m) == NULL);
	CHECK(espota_transfer_result(t) == ESPOTA_EINVAL);
	CHECK(strstr(espota_transfer_error(t), "invalid target") != NULL);
	b = sized(old);
	CHECK(espota_transfer_stats(t, (espota_upload_stats *)(void *)b) == ESPOTA_OK);
	CHECK(((espota_upload_stats *)(void *)b)->phase == ESPOTA_PHASE_PREFLIGHT);
	CHECK(untouched(b, old, old + SLACK));
	free(b);
	espota_multi_free(m);
}

int main(void)
{
	espota_session *s = NULL;

	if (espota_session_new(&s, NULL) != ESPOTA_OK)
		return 2;
	stats_sizes(s);
	image_and_fit_sizes();
	transfer_sizes(s);
	espota_session_free(s);
	if (failures == 0)
		printf("abi_sizes: every result filled within the size passed\n");
	return failures == 0 ? 0 : 1;
}
