/*
 * Helpers shared by the C integration tests (header-only, static).
 */
#ifndef ESPOTA_IT_COMMON_H
#define ESPOTA_IT_COMMON_H

#include <dirent.h>
#include <string.h>

#include <espota.h>
#include "test.h"

/*
 * Turn `img` (len % 16 == 0, len >= 48, img[0] == 0xE9) into a minimal ESP32
 * app image that the device's esp_image_verify() accepts at the end of the
 * upload: extended header for chip id 0 without an appended SHA-256, one
 * DRAM segment holding bytes 32.., zero padding and the XOR checksum.
 */
static inline void it_esp32_app_layout(unsigned char *img, size_t len)
{
	size_t seg = len - 24 - 8 - 4, i;
	unsigned char x = 0xEF;

	ASSERT(len >= 48 && len % 16 == 0);
	img[1] = 1;             /* one segment */
	memset(img + 4, 0, 20); /* entry 0; extended header: chip id 0, no hash */
	img[8] = 0xEE;          /* wp pin, as esptool writes it */
	img[24] = 0x00; img[25] = 0x00; img[26] = 0xFB; img[27] = 0x3F; /* load 0x3FFB0000 */
	img[28] = (unsigned char)seg; img[29] = (unsigned char)(seg >> 8);
	img[30] = (unsigned char)(seg >> 16); img[31] = (unsigned char)(seg >> 24);
	img[len - 4] = img[len - 3] = img[len - 2] = 0;
	for (i = 32; i < 32 + seg; i++)
		x ^= img[i];
	img[len - 1] = x;
}

/* Open file descriptors of this process: leaks show up as a difference. */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;
	ASSERT(d != NULL);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* One upload on its own session, for a thread. */
typedef struct it_job {
	espota_upload_options opts;
	const unsigned char *img;
	size_t len;
	int rc;
} it_job;

static inline void *it_upload_thread(void *arg)
{
	it_job *j = arg;
	espota_session *s;

	j->rc = espota_session_new(&s, NULL);
	if (j->rc == ESPOTA_OK) {
		j->rc = espota_upload(s, j->img, j->len, &j->opts);
		espota_session_free(s);
	}
	return NULL;
}

#endif
