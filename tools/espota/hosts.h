/*
 * espota CLI - hosts file and host[:port] parsing.
 *
 * Pure functions: no I/O, no allocation, no global state.
 *
 * Hosts file syntax, one device per line:
 *
 *     # comment
 *     192.168.1.20
 *     kitchen.local:3232      KITCHEN_OTA_PASSWORD
 *     [fe80::1%eth0]:8266
 *     fe80::2                 # a bare IPv6 literal takes no port
 *
 * The optional second field names an environment variable holding that
 * device's password. Anything after '#' is a comment.
 */
#ifndef ESPOTA_CLI_HOSTS_H
#define ESPOTA_CLI_HOSTS_H

#include <stddef.h>

#define CLI_HOST_MAX 256
#define CLI_ENV_MAX 128

struct cli_host {
	char host[CLI_HOST_MAX];   /* without brackets */
	long port;                 /* -1 = not given */
	char password_env[CLI_ENV_MAX]; /* "" = none */
	unsigned int line;         /* 1-based line in the file, 0 for -i */
};

/*
 * Split "host", "host:port", "[v6]" or "[v6]:port" into `out` (password_env
 * cleared). Returns 0, or -1 with a message in err.
 */
int cli_host_parse(struct cli_host *out, const char *spec, size_t len, char *err, size_t errlen);

/*
 * Parse a hosts file held in memory. Fills at most `max` entries and stores
 * the number of entries in *count. Returns 0, or -1 with a message naming
 * the line in err (also when there are more than `max` entries).
 */
int cli_hosts_parse(const char *text, size_t len, struct cli_host *out, size_t max,
	size_t *count, char *err, size_t errlen);

/* Upper bound on the entries of a hosts file: its number of lines. */
size_t cli_hosts_max_entries(const char *text, size_t len);

#endif
