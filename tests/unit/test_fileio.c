/*
 * The one file reader (file.h): FIFOs, directories and devices are refused
 * before a byte is read, never waited on; the size cap; escaped paths in
 * messages; espota_upload_file() goes through it. alarm() bounds every test:
 * the old code blocked forever opening a FIFO.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "espota.h"
#include "posix/fileio.h"
#include "test.h"

static char dir[64];
static char fifo[128], sub[128], empty[128], big[128], regular[128], ctl[128];

static void setup(void)
{
	FILE *f;

	alarm(10);
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/espota-fileio-XXXXXX");
	ASSERT(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(sub, sizeof(sub), "%s/dir", dir);
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	snprintf(big, sizeof(big), "%s/big", dir);
	snprintf(regular, sizeof(regular), "%s/fw.bin", dir);
	snprintf(ctl, sizeof(ctl), "%s/a\033[2Jb\n", dir);
	ASSERT_OK(mkfifo(fifo, 0600));
	ASSERT_OK(mkdir(sub, 0700));
	f = fopen(empty, "wb");
	ASSERT(f != NULL);
	fclose(f);
	f = fopen(regular, "wb");
	ASSERT(f != NULL);
	fputs("hello", f);
	fclose(f);
	f = fopen(big, "wb");
	ASSERT(f != NULL);
	ASSERT_OK(fseek(f, (long)ESPOTA_FILE_MAX, SEEK_SET)); /* sparse: one byte over the cap */
	fputc('x', f);
	fclose(f);
	f = fopen(ctl, "wb");
	ASSERT(f != NULL);
	fclose(f);
}

static void teardown(void)
{
	unlink(fifo);
	rmdir(sub);
	unlink(empty);
	unlink(big);
	unlink(regular);
	unlink(ctl);
	rmdir(dir);
}

/* Read through the file object; its detail copied to `err` (256 bytes). */
static int read_into(const char *path, size_t max, char *err, size_t *len, char *data, size_t cap)
{
	espota_file *f = (espota_file *)1;
	const unsigned char *d;
	int rc = espota_file_read(&f, path, max);

	ASSERT(f != NULL && f != (espota_file *)1);
	snprintf(err, 256, "%s", espota_file_error(f));
	d = espota_file_data(f, len);
	ASSERT((rc == ESPOTA_OK) == (d != NULL));
	ASSERT((rc == ESPOTA_OK) == (err[0] == '\0'));
	if (d != NULL && data != NULL) {
		ASSERT(*len < cap);
		memcpy(data, d, *len + 1); /* NUL-terminated */
	}
	espota_file_free(f);
	return rc;
}

static void refused(const char *path, int code, const char *what)
{
	size_t len = 99;
	char err[256];

	ASSERT_EQ(read_into(path, 0, err, &len, NULL, 0), code);
	ASSERT_EQ(len, 0);
	ASSERT_CONTAINS(err, what);
}

static void test_refuses_non_regular(void)
{
	setup();
	refused(fifo, ESPOTA_EINVAL, "is a FIFO (named pipe), not a regular file");
	refused(fifo, ESPOTA_EINVAL, fifo);
	refused(sub, ESPOTA_EINVAL, "is a directory, not a regular file");
	refused("/dev/zero", ESPOTA_EINVAL, "/dev/zero is a character device, not a regular file");
	refused(empty, ESPOTA_EINVAL, "is an empty file");
	refused(big, ESPOTA_EINVAL, "is too large: 67108865 bytes, more than the limit of 67108864");
	refused("/nonexistent/fw.bin", ESPOTA_EIO, "cannot open /nonexistent/fw.bin: ");
	ASSERT_EQ(espota_file_read(NULL, fifo, 0), ESPOTA_EINVAL);
	{
		espota_file *f = (espota_file *)1;
		ASSERT_EQ(espota_file_read(&f, NULL, 0), ESPOTA_EINVAL);
		ASSERT(f == NULL);
	}
}

static void test_reads_and_caps(void)
{
	size_t len = 0;
	char err[256], data[16];

	setup();
	ASSERT_EQ(espota_file_max(), ESPOTA_FILE_MAX);
	ASSERT_OK(read_into(regular, 0, err, &len, data, sizeof(data)));
	ASSERT_EQ(len, 5);
	ASSERT_STREQ(data, "hello");
	ASSERT_EQ(read_into(regular, 4, err, &len, NULL, 0), ESPOTA_EINVAL);
	ASSERT_CONTAINS(err, "5 bytes, more than the limit of 4");
	espota_file_free(NULL);
}

static void test_escaped_paths(void)
{
	char long_path[2048], err[256], out[32];
	size_t len, i;

	setup();
	refused(ctl, ESPOTA_EINVAL, "/a\\x1b[2Jb\\x0a is an empty file");
	/* A long path is cut, the reason kept. */
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	ASSERT(read_into(long_path, 0, err, &len, NULL, 0) < 0);
	ASSERT_CONTAINS(err, "...: ");
	ASSERT(strlen(err) < 255);
	for (i = 0; err[i]; i++)
		ASSERT((unsigned char)err[i] >= 0x20);
	ASSERT_STREQ(espota__escape(out, sizeof(out), "a\\b\x7f", 0), "a\\\\b\\x7f");
	ASSERT_STREQ(espota__escape(out, 8, "abcdefghij", 0), "abcd...");
	ASSERT_STREQ(espota__escape(out, sizeof(out), "abcdef", 3), "abc...");
}

static void test_upload_file(void)
{
	espota_upload_options o;
	espota_session *s = NULL;

	setup();
	espota_upload_options_init(&o, ESPOTA_UPLOAD_OPTIONS_VERSION);
	o.host = "127.0.0.1";
	o.port = 9;
	ASSERT_OK(espota_session_new(&s, NULL));
	ASSERT_EQ(espota_upload_file(s, fifo, &o), ESPOTA_EINVAL);
	ASSERT_CONTAINS(espota_session_last_error(s), "is a FIFO (named pipe), not a regular file");
	ASSERT_EQ(espota_upload_file(s, sub, &o), ESPOTA_EINVAL);
	ASSERT_CONTAINS(espota_session_last_error(s), "is a directory");
	ASSERT_EQ(espota_upload_file(s, "/dev/zero", &o), ESPOTA_EINVAL);
	ASSERT_CONTAINS(espota_session_last_error(s), "/dev/zero is a character device");
	ASSERT_EQ(espota_upload_file(s, big, &o), ESPOTA_EINVAL);
	ASSERT_CONTAINS(espota_session_last_error(s), "too large");
	espota_session_free(s);
	teardown();
}

TEST_LIST_BEGIN
TEST_ENTRY(test_refuses_non_regular)
TEST_ENTRY(test_reads_and_caps)
TEST_ENTRY(test_escaped_paths)
TEST_ENTRY(test_upload_file)
TEST_LIST_END
