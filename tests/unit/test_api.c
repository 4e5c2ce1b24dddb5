/* Public API basics: INIT macros match init functions, errors, versions. */
#include "test.h"
#include <espota.h>

#define CHECK_MACRO_FUNC_INIT_EQUAL(type, macro, fn, version) do { \
	type m_ = macro, f_; \
	memset(&f_, 0xAB, sizeof(f_)); \
	ASSERT_OK(fn(&f_, version)); \
	ASSERT_MEMEQ(&m_, &f_, sizeof(type)); \
	ASSERT_EQ(fn(&f_, 0), ESPOTA_EINVAL); \
	ASSERT_EQ(fn(&f_, (version) + 1), ESPOTA_EINVAL); \
} while (0)

static void test_structinit(void)
{
	CHECK_MACRO_FUNC_INIT_EQUAL(espota_upload_options, ESPOTA_UPLOAD_OPTIONS_INIT,
		espota_upload_options_init, ESPOTA_UPLOAD_OPTIONS_VERSION);
	CHECK_MACRO_FUNC_INIT_EQUAL(espota_session_options, ESPOTA_SESSION_OPTIONS_INIT,
		espota_session_options_init, ESPOTA_SESSION_OPTIONS_VERSION);
	CHECK_MACRO_FUNC_INIT_EQUAL(espota_fit_device, ESPOTA_FIT_DEVICE_INIT,
		espota_fit_device_init, ESPOTA_FIT_DEVICE_VERSION);
}

static void test_errors(void)
{
	int c;
	for (c = ESPOTA_ECLOSED; c <= 0; c++) {
		ASSERT(espota_strerror(c) != NULL);
		ASSERT(strcmp(espota_error_name(c), "ESPOTA_UNKNOWN") != 0);
	}
	ASSERT_STREQ(espota_strerror(-999), "unknown error");
	ASSERT_STREQ(espota_error_name(ESPOTA_ETIMEOUT), "ESPOTA_ETIMEOUT");
	/* what the fleet retries: the network or the device gave out, nothing else */
	for (c = ESPOTA_ECLOSED - 1; c <= 1; c++)
		ASSERT_EQ(espota_error_retryable(c),
			c == ESPOTA_ETIMEOUT || c == ESPOTA_ECLOSED || c == ESPOTA_EIO);
}

static void test_version(void)
{
	int a = -1, b = -1, c = -1;
	espota_version(&a, &b, &c);
	ASSERT_EQ(a, ESPOTA_VERSION_MAJOR);
	ASSERT_EQ(b, ESPOTA_VERSION_MINOR);
	ASSERT_EQ(c, ESPOTA_VERSION_PATCH);
	ASSERT_STREQ(espota_version_string(), ESPOTA_VERSION_STRING);
}

static void test_device_errors(void)
{
	espota_device_error de;
	const char t8[] = "ERR: ERROR[8]: Flash config wrong: real: 1048576, SDK: 4194304\n";
	const char t7[] = "MD5 Check Failed\r\n";

	ASSERT_OK(espota_device_error_parse(&de, ESPOTA_PLATFORM_UNKNOWN, t8, sizeof(t8) - 1));
	ASSERT_EQ(de.platform, ESPOTA_PLATFORM_ESP8266);
	ASSERT_EQ(de.code, 8);
	ASSERT_STREQ(de.name, "FLASH_CONFIG");
	ASSERT_CONTAINS(de.explanation, "shrinking the image will not help");
	ASSERT_CONTAINS(de.explanation, "serial");
	ASSERT_STREQ(de.raw, "ERR: ERROR[8]: Flash config wrong: real: 1048576, SDK: 4194304");

	ASSERT_OK(espota_device_error_parse(&de, ESPOTA_PLATFORM_UNKNOWN, t7, sizeof(t7) - 1));
	ASSERT_EQ(de.platform, ESPOTA_PLATFORM_ESP32);
	ASSERT_EQ(de.code, 7);
	ASSERT_STREQ(de.name, "MD5");

	ASSERT_OK(espota_device_error_parse(&de, ESPOTA_PLATFORM_ESP8266, "ERROR[4]: Not Enough Space", 26));
	ASSERT_EQ(de.code, 4);
	ASSERT_STREQ(de.text, "Not Enough Space");
	/* unknown numbers still decode */
	ASSERT_OK(espota_device_error_parse(&de, ESPOTA_PLATFORM_ESP8266, "ERROR[99]: ???", 14));
	ASSERT_EQ(de.code, 99);
	ASSERT_STREQ(de.name, "UNKNOWN");
	ASSERT_EQ(espota_device_error_parse(&de, ESPOTA_PLATFORM_ESP8266, "ERROR[x]", 8), ESPOTA_EINVAL);
	/* control bytes never reach raw */
	ASSERT_OK(espota_device_error_parse(&de, ESPOTA_PLATFORM_ESP32, "bad\x1b[31m", 9));
	ASSERT(strchr(de.raw, 0x1b) == NULL);
}

static void test_session(void)
{
	espota_session *s = NULL;
	espota_session_options so = ESPOTA_SESSION_OPTIONS_INIT;
	espota_upload_options o = ESPOTA_UPLOAD_OPTIONS_INIT;
	unsigned char img[4] = { 0xE9, 0, 0, 0 };

	so.version = 99;
	ASSERT_EQ(espota_session_new(&s, &so), ESPOTA_EINVAL);
	ASSERT(s == NULL);
	ASSERT_OK(espota_session_new(&s, NULL));
	ASSERT_STREQ(espota_session_last_error(s), "");
	ASSERT(espota_session_device_error(s) == NULL);
	/* no host */
	ASSERT_EQ(espota_upload(s, img, sizeof(img), &o), ESPOTA_EINVAL);
	ASSERT_CONTAINS(espota_session_last_error(s), "no device address");
	o.host = "127.0.0.1";
	o.version = 7;
	ASSERT_EQ(espota_upload(s, img, sizeof(img), &o), ESPOTA_EINVAL);
	ASSERT_CONTAINS(espota_session_last_error(s), "invalid version 7");
	o.version = ESPOTA_UPLOAD_OPTIONS_VERSION;
	ASSERT_EQ(espota_upload(s, img, 0, &o), ESPOTA_EINVAL);
	o.host = "no-such-host.invalid";
	ASSERT_EQ(espota_upload(s, img, sizeof(img), &o), ESPOTA_ERESOLVE);
	ASSERT_EQ(espota_upload_file(s, "/nonexistent/file.bin", &o), ESPOTA_EIO);
	ASSERT_OK(espota_session_cancel(s));
	espota_session_free(s);
	espota_session_free(NULL);
}

TEST_LIST_BEGIN
TEST_ENTRY(test_structinit)
TEST_ENTRY(test_errors)
TEST_ENTRY(test_version)
TEST_ENTRY(test_device_errors)
TEST_ENTRY(test_session)
TEST_LIST_END
