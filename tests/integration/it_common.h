/*
 * Helpers shared by the C integration tests (header-only, static).
 */
#ifndef ESPOTA_IT_COMMON_H
#define ESPOTA_IT_COMMON_H

#include <dirent.h>

#include <espota.h>
#include "test.h"

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
