/* Hash helpers over OpenSSL EVP (device-side MD5, SHA-256, PBKDF2). */
#include "sim.h"

#include <openssl/evp.h>
#include <string.h>

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void digest_hex(const EVP_MD *md, const void *data, size_t len, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(data, len, d, &n, md, NULL))
		n = 0;
	to_hex(d, n, out);
}

void md5_hex(const void *data, size_t len, char out[33])
{
	digest_hex(EVP_md5(), data, len, out);
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	digest_hex(EVP_sha256(), data, len, out);
}

void sha256_bin(const void *data, size_t len, unsigned char out[32])
{
	unsigned int n = 0;
	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != 32)
		memset(out, 0, 32);
}

int pbkdf2_sha256_hex(const char *pw, size_t pwlen, const char *salt, size_t saltlen,
		      int iter, char out[65])
{
	unsigned char dk[32];
	if (!PKCS5_PBKDF2_HMAC(pw, (int)pwlen, (const unsigned char *)salt, (int)saltlen,
			       iter, EVP_sha256(), (int)sizeof dk, dk))
		return -1;
	to_hex(dk, sizeof dk, out);
	return 0;
}
