/*
 * The CLI's hosts-file and host[:port] parsers (tools/espota/hosts.c).
 */
#include "fuzz.h"

#include "hosts.h"

static int host_ok(const char *h)
{
	size_t i, n = strlen(h);
	if (n == 0 || n >= CLI_HOST_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)h[i] <= ' ' || (unsigned char)h[i] >= 0x7f)
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct cli_host *hosts, one;
	size_t max, count = 12345, i, cap;
	char err[200];
	int rc;

	max = cli_hosts_max_entries(text, size);
	FUZZ_ASSERT(max >= 1);
	/* Also exercise the "too many hosts" path: sometimes give fewer slots. */
	cap = (size > 0 && (data[0] & 1)) ? max / 2 : max;
	hosts = malloc((cap ? cap : 1) * sizeof(*hosts));
	if (hosts == NULL)
		return 0;
	memset(err, 'x', sizeof(err));
	rc = cli_hosts_parse(text, size, hosts, cap, &count, err, sizeof(err));
	FUZZ_ASSERT(rc == 0 || rc == -1);
	if (rc == 0) {
		FUZZ_ASSERT(count <= cap);
		for (i = 0; i < count; i++) {
			FUZZ_TERMINATED(hosts[i].host);
			FUZZ_TERMINATED(hosts[i].password_env);
			FUZZ_ASSERT(host_ok(hosts[i].host));
			FUZZ_ASSERT(hosts[i].port == -1 || (hosts[i].port >= 1 && hosts[i].port <= 65535));
			FUZZ_ASSERT(hosts[i].line >= 1);
			if (i > 0)
				FUZZ_ASSERT(hosts[i].line > hosts[i - 1].line);
		}
	} else {
		FUZZ_TERMINATED(err);
		FUZZ_ASSERT(err[0] != '\0');
	}
	free(hosts);

	/* The whole input as one -i argument. */
	memset(err, 'x', sizeof(err));
	rc = cli_host_parse(&one, text, size, err, sizeof(err));
	if (rc == 0) {
		FUZZ_ASSERT(host_ok(one.host));
		FUZZ_ASSERT(one.port == -1 || (one.port >= 1 && one.port <= 65535));
	} else {
		FUZZ_ASSERT(rc == -1);
		FUZZ_TERMINATED(err);
	}
	return 0;
}
