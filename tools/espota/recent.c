/*
 * espota CLI - which devices took an update a moment ago.
 *
 * A device reboots into its new firmware right after it confirms an
 * update; an upload started in the next seconds gets no answer and would
 * only say "no answer ... retrying". The CLI is one process per upload, so
 * an in-process record would never see the earlier success: the record is
 * a small file, $XDG_CACHE_HOME/espota/recent (else ~/.cache/espota/recent),
 * one "<unix time> <port> <host>" line per device, the newest 32 kept.
 * Only host, port and time: no secret, nothing about the image. A missing
 * or unwritable file only costs the "probably rebooting" remark.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define RECENT_MAX 32
#define RECENT_LINE (CLI_HOST_MAX + 64)

static int recent_path(char *out, size_t n, int create)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char dir[4096];

	if (xdg != NULL && xdg[0] == '/')
		snprintf(dir, sizeof(dir), "%s/espota", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(dir, sizeof(dir), "%s/.cache/espota", home);
	else
		return -1;
	if (create) {
		char parent[4096];
		char *slash;

		snprintf(parent, sizeof(parent), "%s", dir);
		slash = strrchr(parent, '/');
		if (slash != NULL && slash != parent) {
			*slash = '\0';
			if (mkdir(parent, 0700) < 0 && errno != EEXIST)
				return -1;
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	if ((size_t)snprintf(out, n, "%s/recent", dir) >= n)
		return -1;
	return 0;
}

/* One "<time> <port> <host>" line (newline stripped): 1 when it parses and
 * names host:port, 0 when it parses and names another device, -1 else. */
static int parse_line(char *line, const char *host, uint16_t port, long long *t)
{
	unsigned p;
	int off = 0;

	line[strcspn(line, "\n")] = '\0';
	if (sscanf(line, "%lld %u %n", t, &p, &off) < 2 || off == 0)
		return -1;
	return p == port && strcmp(line + off, host) == 0;
}

uint64_t cli_recent_success_ms(const char *host, uint16_t port)
{
	char path[4200], line[RECENT_LINE];
	uint64_t best = 0;
	time_t now = time(NULL);
	FILE *f;

	if (host == NULL || recent_path(path, sizeof(path), 0) < 0 || (f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		long long t;

		if (parse_line(line, host, port, &t) == 1 && t <= (long long)now && t > 0)
			best = (uint64_t)t;
	}
	fclose(f);
	if (best == 0)
		return 0;
	/* Whole seconds: at least 1 ms so that "just now" is not "never". */
	return (uint64_t)(now - (time_t)best) * 1000u + 1u;
}

void cli_recent_success_record(const char *host, uint16_t port)
{
	char path[4200], tmp[4300], lines[RECENT_MAX][RECENT_LINE];
	size_t n = 0, i;
	FILE *f;
	int fd;

	if (host == NULL || strchr(host, '\n') != NULL || recent_path(path, sizeof(path), 1) < 0)
		return;
	if ((f = fopen(path, "r")) != NULL) {
		char line[RECENT_LINE];

		while (fgets(line, sizeof(line), f) != NULL) {
			long long t;

			/* a bad line goes; this device's is replaced by the new one */
			if (parse_line(line, host, port, &t) != 0)
				continue;
			if (n == RECENT_MAX) {
				memmove(lines[0], lines[1], sizeof(lines[0]) * (RECENT_MAX - 1));
				n--;
			}
			snprintf(lines[n++], RECENT_LINE, "%s", line);
		}
		fclose(f);
	}
	if (n == RECENT_MAX) {
		memmove(lines[0], lines[1], sizeof(lines[0]) * (RECENT_MAX - 1));
		n--;
	}
	snprintf(lines[n++], RECENT_LINE, "%lld %u %s", (long long)time(NULL), (unsigned)port, host);
	/* Written whole, then renamed: a reader never sees half a file. */
	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		unlink(tmp);
}
