/*
 * The one file reader: open without blocking, refuse what is not a regular
 * file before reading, cap the size (file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "espota/file.h"
#include "posix/fileio.h"

/* Paths in messages are cut here, so the reason after them always fits. */
#define PATH_SHOWN 160

char *espota__escape(char *dst, size_t dstlen, const char *src, size_t limit)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	if (dstlen == 0)
		return dst;
	for (i = 0; src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];
		char tmp[4];
		size_t n;

		if (limit != 0 && i >= limit)
			break;
		if (c < 0x20 || c == 0x7f) {
			tmp[0] = '\\';
			tmp[1] = 'x';
			tmp[2] = hex[c >> 4];
			tmp[3] = hex[c & 15];
			n = 4;
		} else if (c == '\\') {
			tmp[0] = tmp[1] = '\\';
			n = 2;
		} else {
			tmp[0] = (char)c;
			n = 1;
		}
		if (o + n + 4 > dstlen) /* room for "..." and the NUL */
			break;
		memcpy(dst + o, tmp, n);
		o += n;
	}
	if (src[i] != '\0' && o + 4 <= dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

static const char *kind_of(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory, not a regular file";
	if (S_ISFIFO(m))
		return "a FIFO (named pipe), not a regular file";
	if (S_ISCHR(m))
		return "a character device, not a regular file";
	if (S_ISBLK(m))
		return "a block device, not a regular file";
	if (S_ISSOCK(m))
		return "a socket, not a regular file";
	return "not a regular file";
}

/* err = before + path (escaped, cut) + after + what. */
static int fail(char *err, size_t errlen, int code, const char *before, const char *path, const char *after,
	const char *what)
{
	char shown[PATH_SHOWN * 4 + 8];

	if (err != NULL && errlen > 0) {
		espota__escape(shown, sizeof(shown), path, PATH_SHOWN);
		/* cut to errlen on purpose; the check tells gcc it is seen */
		if (snprintf(err, errlen, "%s%s%s%s", before, shown, after, what) < 0)
			err[0] = '\0';
	}
	return code;
}

size_t espota_file_max(void)
{
	return ESPOTA_FILE_MAX;
}

struct espota_file {
	unsigned char *data;
	size_t len;
	char detail[512];
};

/* The reader: into *out and *len, the reason into `err`. */
static int read_regular(unsigned char **out, size_t *len, const char *path, size_t max, char *err, size_t errlen)
{
	char what[64];
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	int fd, e;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	if (out == NULL || len == NULL || path == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "no file given");
		return ESPOTA_EINVAL;
	}
	if (max == 0 || max > ESPOTA_FILE_MAX)
		max = ESPOTA_FILE_MAX;
	/* O_NONBLOCK: opening a FIFO with no writer must not wait for one. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, ESPOTA_EIO, "cannot open ", path, ": ", strerror(errno));
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		return fail(err, errlen, ESPOTA_EIO, "cannot stat ", path, ": ", strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, ESPOTA_EINVAL, "", path, " is ", kind_of(st.st_mode));
	}
	if (st.st_size <= 0) {
		close(fd);
		return fail(err, errlen, ESPOTA_EINVAL, "", path, " is an empty file", "");
	}
	if ((uint64_t)st.st_size > (uint64_t)max) {
		close(fd);
		snprintf(what, sizeof(what), "%lld bytes, more than the limit of %zu", (long long)st.st_size, max);
		return fail(err, errlen, ESPOTA_EINVAL, "", path, " is too large: ", what);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return fail(err, errlen, ESPOTA_ENOMEM, "out of memory reading ", path, "", "");
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			free(buf);
			return fail(err, errlen, ESPOTA_EIO, "cannot read ", path, ": ", strerror(e));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(buf);
		snprintf(what, sizeof(what), "%zu of %lld bytes", got, (long long)st.st_size);
		return fail(err, errlen, ESPOTA_EIO, "short read on ", path, ": ", what);
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return ESPOTA_OK;
}

int espota_file_read(espota_file **out, const char *path, size_t max)
{
	espota_file *f;
	int rc;

	if (out == NULL)
		return ESPOTA_EINVAL;
	*out = NULL;
	if (path == NULL)
		return ESPOTA_EINVAL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return ESPOTA_ENOMEM;
	rc = read_regular(&f->data, &f->len, path, max, f->detail, sizeof(f->detail));
	if (rc == ESPOTA_ENOMEM) {
		free(f);
		return rc;
	}
	*out = f;
	return rc;
}

const unsigned char *espota_file_data(const espota_file *f, size_t *len)
{
	if (len != NULL)
		*len = f != NULL ? f->len : 0;
	return f != NULL ? f->data : NULL;
}

const char *espota_file_error(const espota_file *f)
{
	return f != NULL ? f->detail : "invalid file object";
}

void espota_file_free(espota_file *f)
{
	if (f == NULL)
		return;
	if (f->data != NULL) {
		sodium_memzero(f->data, f->len);
		free(f->data);
	}
	free(f);
}
