/*
 * Helpers shared by the C integration tests (header-only, static).
 */
#ifndef ESPOTA_IT_COMMON_H
#define ESPOTA_IT_COMMON_H

#include <dirent.h>

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

#endif
