/*
 * espota CLI - hosts file parsing.
 */
#include "hosts.h"
#include "args.h"

#include <stdio.h>
#include <string.h>


static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int host_char_ok(char c)
{
	/* Names, IPv4/IPv6 literals and zone ids; no spaces or controls. */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '-' || c == '_' || c == ':' || c == '%';
}

static int parse_port(const char *s, size_t len, long *out)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = v;
	return 0;
}

int cli_host_parse(struct cli_host *out, const char *spec, size_t len, char *err, size_t errlen)
{
	const char *host = spec;
	size_t hlen = len, i, colons = 0;
	long port = -1;

	if (out == NULL || spec == NULL)
		return cli_fail(err, errlen, "no host");
	memset(out, 0, sizeof(*out));
	out->port = -1;
	if (len == 0)
		return cli_fail(err, errlen, "empty host");
	if (spec[0] == '[') {
		const char *close = memchr(spec, ']', len);

		if (close == NULL)
			return cli_fail(err, errlen, "'%.*s': missing ']'", (int)(len > 64 ? 64 : len), spec);
		host = spec + 1;
		hlen = (size_t)(close - host);
		i = (size_t)(close - spec) + 1;
		if (i < len) {
			if (spec[i] != ':' || parse_port(spec + i + 1, len - i - 1, &port) < 0)
				return cli_fail(err, errlen, "'%.*s': bad port after ']'", (int)(len > 64 ? 64 : len), spec);
		}
	} else {
		for (i = 0; i < len; i++)
			if (spec[i] == ':')
				colons++;
		if (colons == 1) {
			const char *c = memchr(spec, ':', len);

			hlen = (size_t)(c - spec);
			if (parse_port(c + 1, len - hlen - 1, &port) < 0)
				return cli_fail(err, errlen, "'%.*s': bad port (1-65535)", (int)(len > 64 ? 64 : len), spec);
		}
	}
	if (hlen == 0)
		return cli_fail(err, errlen, "empty host");
	if (hlen >= sizeof(out->host))
		return cli_fail(err, errlen, "host name too long (%zu characters)", hlen);
	for (i = 0; i < hlen; i++)
		if (!host_char_ok(host[i]))
			return cli_fail(err, errlen, "invalid character 0x%02X at position %zu of the host",
				(unsigned)(unsigned char)host[i], i + 1);
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = port;
	return 0;
}

size_t cli_hosts_max_entries(const char *text, size_t len)
{
	size_t n = 1, i;

	if (text == NULL)
		return 0;
	for (i = 0; i < len; i++)
		if (text[i] == '\n')
			n++;
	return n;
}

int cli_hosts_parse(const char *text, size_t len, struct cli_host *out, size_t max,
	size_t *count, char *err, size_t errlen)
{
	size_t pos = 0, n = 0;
	unsigned int line = 0;
	char sub[160];

	if (count != NULL)
		*count = 0;
	if (text == NULL || count == NULL || (out == NULL && max > 0))
		return cli_fail(err, errlen, "invalid arguments");
	while (pos < len) {
		const char *l = text + pos, *nl, *f[3];
		size_t llen, flen[3], nf = 0, i;

		line++;
		nl = memchr(l, '\n', len - pos);
		llen = nl != NULL ? (size_t)(nl - l) : len - pos;
		pos += llen + (nl != NULL ? 1 : 0);
		/* Strip the comment. */
		for (i = 0; i < llen; i++)
			if (l[i] == '#')
				break;
		llen = i;
		for (i = 0; i < llen; i++) {
			if (l[i] == '\0')
				return cli_fail(err, errlen, "line %u: NUL byte", line);
		}
		/* Split into at most 3 fields (the third is an error). */
		i = 0;
		while (i < llen && nf < 3) {
			while (i < llen && is_space(l[i]))
				i++;
			if (i >= llen)
				break;
			f[nf] = l + i;
			while (i < llen && !is_space(l[i]))
				i++;
			flen[nf] = (size_t)(l + i - f[nf]);
			nf++;
		}
		if (nf == 0)
			continue;
		if (nf > 2)
			return cli_fail(err, errlen, "line %u: expected 'host[:port] [PASSWORD_ENV_VAR]'", line);
		if (n >= max)
			return cli_fail(err, errlen, "line %u: too many hosts (at most %zu)", line, max);
		if (cli_host_parse(&out[n], f[0], flen[0], sub, sizeof(sub)) < 0)
			return cli_fail(err, errlen, "line %u: %s", line, sub);
		if (nf == 2) {
			if (flen[1] >= sizeof(out[n].password_env))
				return cli_fail(err, errlen, "line %u: variable name too long", line);
			for (i = 0; i < flen[1]; i++) {
				char c = f[1][i];

				if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
					(i > 0 && c >= '0' && c <= '9')))
					return cli_fail(err, errlen,
						"line %u: '%.*s' is not an environment variable name "
						"(the second field names the variable holding the password)",
						line, (int)(flen[1] > 64 ? 64 : flen[1]), f[1]);
			}
			memcpy(out[n].password_env, f[1], flen[1]);
			out[n].password_env[flen[1]] = '\0';
		}
		out[n].line = line;
		n++;
	}
	*count = n;
	return 0;
}
