/*
 * espota-upload: the smallest useful libespota program.
 *
 *   espota-upload HOST PORT FILE [LAYOUT]
 *
 * Checks that FILE fits the device (when LAYOUT, e.g. 1M64, is given), then
 * uploads it with a progress bar. The password, if the device needs one,
 * comes from the ESPOTA_PASSWORD environment variable. The same program
 * exists in Python (examples/python) and Lua (examples/lua).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <espota.h>

static int on_progress(const espota_progress *p, void *payload)
{
	int width = 40, filled = (int)(p->total ? p->acked * (uint64_t)width / p->total : 0);
	(void)payload;
	fprintf(stderr, "\r%-12s [%.*s%*s] %3d%%", espota_phase_name(p->phase), filled,
		"========================================", width - filled, "",
		(int)(p->total ? p->acked * 100 / p->total : 0));
	if (p->phase == ESPOTA_PHASE_DONE)
		fputc('\n', stderr);
	return 0;
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
		(buf = malloc((size_t)n)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	*len = buf ? (size_t)n : 0;
	return buf;
}

int main(int argc, char **argv)
{
	espota_upload_options opts = ESPOTA_UPLOAD_OPTIONS_INIT;
	espota_fit_device dev = ESPOTA_FIT_DEVICE_INIT;
	espota_session *session = NULL;
	unsigned char *image;
	size_t len;
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: %s HOST PORT FILE [LAYOUT]\n", argv[0]);
		return 2;
	}
	if ((image = read_file(argv[3], &len)) == NULL) {
		fprintf(stderr, "cannot read %s\n", argv[3]);
		return 1;
	}

	/* 1. Fit check: will the device's Updater accept this image? */
	if (argc > 4) {
		espota_image *img = NULL;
		espota_image_info info = ESPOTA_IMAGE_INFO_INIT;
		espota_fit_report report = ESPOTA_FIT_REPORT_INIT;
		char text[4096];

		dev.layout = espota_layout_find(argv[4]);
		if (dev.layout == NULL) {
			fprintf(stderr, "unknown layout %s\n", argv[4]);
			free(image);
			return 2;
		}
		rc = espota_image_parse(&img, image, len);
		if (rc < 0 || espota_image_get_info(img, &info) < 0 || espota_fit_check(&report, &info, &dev) < 0) {
			fprintf(stderr, "cannot inspect %s: %s\n", argv[3],
				img != NULL ? espota_image_error(img) : espota_strerror(rc));
			espota_image_free(img);
			free(image);
			return 1;
		}
		espota_image_free(img);
		espota_fit_report_format(text, sizeof(text), &info, &dev, &report);
		fputs(text, stdout);
		if (report.verdict == ESPOTA_FIT_FAIL) {
			free(image);
			return 1;
		}
		opts.fit = &dev; /* the library repeats the check as its preflight */
	}

	/* 2. Upload. */
	if ((rc = espota_session_new(&session, NULL)) < 0) {
		fprintf(stderr, "%s\n", espota_strerror(rc));
		free(image);
		return 1;
	}
	opts.host = argv[1];
	opts.port = (uint16_t)atoi(argv[2]);
	opts.password = getenv("ESPOTA_PASSWORD");
	opts.filename = argv[3];
	opts.progress = on_progress;
	rc = espota_upload(session, image, len, &opts);
	if (rc == ESPOTA_OK) {
		printf("upload complete\n");
	} else {
		const espota_device_error *de = espota_session_device_error(session);
		fprintf(stderr, "\nupload failed: %s (%s)\n", espota_session_last_error(session),
			espota_error_name(rc));
		if (de != NULL)
			fprintf(stderr, "%s\n", de->explanation);
	}
	espota_session_free(session);
	free(image);
	return rc == ESPOTA_OK ? 0 : 1;
}
