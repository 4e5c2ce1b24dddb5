/*
 * Challenge-response computations. All password-derived intermediates live
 * on the stack and are wiped with sodium_memzero before returning.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "proto/auth.h"

static void to_hex(char *out, const unsigned char *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int digest_hex(char *out, const EVP_MD *md, const void *data, size_t len)
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(data, len, buf, &n, md, NULL) != 1)
		return -1;
	to_hex(out, buf, n);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

int espota__md5_hex(char out[ESPOTA__MD5_HEX + 1], const void *data, size_t len)
{
	return digest_hex(out, EVP_md5(), data, len);
}

int espota__sha256_hex(char out[ESPOTA__SHA256_HEX + 1], const void *data, size_t len)
{
	return digest_hex(out, EVP_sha256(), data, len);
}

int espota__auth_response(char *out, size_t outlen, espota_auth_scheme scheme,
	const char *nonce, const char *cnonce, const char *password)
{
	/* Sized for the longest intermediate: 64 + 1 + 64 + 1 + 64 + NUL. */
	char pwhash[ESPOTA__SHA256_HEX + 1];
	char text[ESPOTA__SHA256_HEX * 3 + 3];
	char salt[ESPOTA__SHA256_HEX * 2 + 2];
	unsigned char dk[32];
	char dkhex[65];
	int rc = -1;

	if (scheme == ESPOTA_AUTH_MD5) {
		if (outlen < ESPOTA__MD5_HEX + 1)
			return -1;
		if (espota__md5_hex(pwhash, password, strlen(password)) < 0)
			goto done;
		if (snprintf(text, sizeof(text), "%s:%s:%s", pwhash, nonce, cnonce) >= (int)sizeof(text))
			goto done;
		rc = espota__md5_hex(out, text, strlen(text));
	} else if (scheme == ESPOTA_AUTH_PBKDF2_SHA256 || scheme == ESPOTA_AUTH_PBKDF2_MD5) {
		if (outlen < ESPOTA__SHA256_HEX + 1)
			return -1;
		/* The PBKDF2 password is the hex TEXT of the password hash. */
		rc = scheme == ESPOTA_AUTH_PBKDF2_SHA256 ?
			espota__sha256_hex(pwhash, password, strlen(password)) :
			espota__md5_hex(pwhash, password, strlen(password));
		if (rc < 0)
			goto done;
		rc = -1;
		if (snprintf(salt, sizeof(salt), "%s:%s", nonce, cnonce) >= (int)sizeof(salt))
			goto done;
		if (PKCS5_PBKDF2_HMAC(pwhash, (int)strlen(pwhash), (const unsigned char *)salt,
			(int)strlen(salt), 10000, EVP_sha256(), (int)sizeof(dk), dk) != 1)
			goto done;
		to_hex(dkhex, dk, sizeof(dk));
		if (snprintf(text, sizeof(text), "%s:%s:%s", dkhex, nonce, cnonce) >= (int)sizeof(text))
			goto done;
		rc = espota__sha256_hex(out, text, strlen(text));
	}
done:
	sodium_memzero(pwhash, sizeof(pwhash));
	sodium_memzero(text, sizeof(text));
	sodium_memzero(dk, sizeof(dk));
	sodium_memzero(dkhex, sizeof(dkhex));
	return rc;
}

int espota__auth_datagram(char *out, size_t outlen, espota_auth_scheme scheme,
	const char *nonce, const char *cnonce, const char *password)
{
	char response[ESPOTA__SHA256_HEX + 1];
	int n;

	if (espota__auth_response(response, sizeof(response), scheme, nonce, cnonce, password) < 0)
		return -1;
	n = snprintf(out, outlen, "200 %s %s\n", cnonce, response);
	sodium_memzero(response, sizeof(response));
	return (n < 0 || (size_t)n >= outlen) ? -1 : n;
}

int espota__cnonce_seeded(char *out, size_t outlen, espota_auth_scheme scheme,
	const char *filename, size_t size, const char *md5hex, const char *host)
{
	char seed[1024];
	int n = snprintf(seed, sizeof(seed), "%s%zu%s%s", filename, size, md5hex, host);

	if (n < 0 || (size_t)n >= sizeof(seed))
		return -1;
	if (scheme == ESPOTA_AUTH_MD5)
		return outlen > ESPOTA__MD5_HEX ? espota__md5_hex(out, seed, (size_t)n) : -1;
	return outlen > ESPOTA__SHA256_HEX ? espota__sha256_hex(out, seed, (size_t)n) : -1;
}

int espota__cnonce_random(char *out, size_t outlen, espota_auth_scheme scheme)
{
	unsigned char rnd[32];
	size_t n = scheme == ESPOTA_AUTH_MD5 ? 16 : 32;

	if (outlen < 2 * n + 1)
		return -1;
	randombytes_buf(rnd, n);
	to_hex(out, rnd, n);
	sodium_memzero(rnd, sizeof(rnd));
	return 0;
}
