/* Auth schemes against the protocol spec's test vectors (protocol.md 10). */
#include "test.h"
#include "proto/auth.h"

#define SEED_FILE "firmware.bin"
#define SEED_SIZE 329008
#define IMG_MD5 "4a818557f9d99eb7ff46fdb089d7619b"
#define SEED_HOST "192.168.1.50"

static void test_primitives(void)
{
	char h[65];
	ASSERT_OK(espota__md5_hex(h, "admin", 5));
	ASSERT_STREQ(h, "21232f297a57a5a743894a0e4a801fc3");
	ASSERT_OK(espota__sha256_hex(h, "admin", 5));
	ASSERT_STREQ(h, "8c6976e5b5410415bde908bd4dee15dfb167a9c873fc4bb8a81f6f2ab448a918");
	ASSERT_OK(espota__md5_hex(h, "s3cret", 6));
	ASSERT_STREQ(h, "33e1b232a4e6fa0028a6670753749a17");
	ASSERT_OK(espota__sha256_hex(h, "s3cret", 6));
	ASSERT_STREQ(h, "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0");
}

static void test_image_md5(void)
{
	static unsigned char img[SEED_SIZE];
	char h[33];
	size_t i;

	img[0] = 0xE9;
	for (i = 1; i < sizeof(img); i++)
		img[i] = (unsigned char)(i % 251);
	ASSERT_OK(espota__md5_hex(h, img, sizeof(img)));
	ASSERT_STREQ(h, IMG_MD5);
}

static void test_scheme_a(void)
{
	char cnonce[65], dg[160];
	int n;

	ASSERT_OK(espota__cnonce_seeded(cnonce, sizeof(cnonce), ESPOTA_AUTH_MD5, SEED_FILE, SEED_SIZE,
		IMG_MD5, SEED_HOST));
	ASSERT_STREQ(cnonce, "ed02630052c950ce0d4ebc9d868f2579");
	n = espota__auth_datagram(dg, sizeof(dg), ESPOTA_AUTH_MD5, "25d55ad283aa400af464c76d713c07ad",
		cnonce, "s3cret");
	ASSERT_EQ(n, 70);
	ASSERT_STREQ(dg, "200 ed02630052c950ce0d4ebc9d868f2579 c6b77130ec11a6ef1e975068488d5784\n");
}

#define NONCE_B "ef797c8118f02dfb649607dd5d3f8c7623048c9c063d532cc95c5ed7a898a64f"
#define CNONCE_B "045a397056e172bb3ba83fe358d03c94c38afa5c0f170010a689a5b453a4587c"

static void test_scheme_b_sha256(void)
{
	char cnonce[65], dg[160];
	int n;

	ASSERT_OK(espota__cnonce_seeded(cnonce, sizeof(cnonce), ESPOTA_AUTH_PBKDF2_SHA256, SEED_FILE,
		SEED_SIZE, IMG_MD5, SEED_HOST));
	ASSERT_STREQ(cnonce, CNONCE_B);
	n = espota__auth_datagram(dg, sizeof(dg), ESPOTA_AUTH_PBKDF2_SHA256, NONCE_B, cnonce, "s3cret");
	ASSERT_EQ(n, 134);
	ASSERT_STREQ(dg, "200 " CNONCE_B
		" 63ba01ce20357493e3c9896a3301be64b9fdf2e12f8c3b35fc996366036f003e\n");
}

static void test_scheme_b_md5(void)
{
	char resp[65];
	ASSERT_OK(espota__auth_response(resp, sizeof(resp), ESPOTA_AUTH_PBKDF2_MD5, NONCE_B, CNONCE_B,
		"s3cret"));
	ASSERT_STREQ(resp, "d87eecf8ed3a079867f593841c2b98befcd2c5e9f0f8a73190146441d6631e2e");
}

static void test_random_cnonce(void)
{
	char a[65], b[65];
	ASSERT_OK(espota__cnonce_random(a, sizeof(a), ESPOTA_AUTH_MD5));
	ASSERT_OK(espota__cnonce_random(b, sizeof(b), ESPOTA_AUTH_MD5));
	ASSERT_EQ(strlen(a), 32);
	ASSERT(strcmp(a, b) != 0);
	ASSERT_OK(espota__cnonce_random(a, sizeof(a), ESPOTA_AUTH_PBKDF2_SHA256));
	ASSERT_EQ(strlen(a), 64);
	ASSERT(espota__cnonce_random(a, 10, ESPOTA_AUTH_MD5) < 0);
}

TEST_LIST_BEGIN
TEST_ENTRY(test_primitives)
TEST_ENTRY(test_image_md5)
TEST_ENTRY(test_scheme_a)
TEST_ENTRY(test_scheme_b_sha256)
TEST_ENTRY(test_scheme_b_md5)
TEST_ENTRY(test_random_cnonce)
TEST_LIST_END
