/*
 * The CLI's argument parser (tools/espota/args.c): the input is split at
 * NUL bytes into argv[1..]. cli_parse is pure and must accept any argv.
 */
#include "fuzz.h"

#include "args.h"

#define MAX_ARGS 48

static int points_into(const char *p, char *const *argv, int argc)
{
	int i;
	if (p == NULL)
		return 1;
	for (i = 0; i < argc; i++)
		if (p >= argv[i] && p <= argv[i] + strlen(argv[i]))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *argv[MAX_ARGS + 2];
	struct cli c;
	char err[160];
	int argc = 1, rc;
	size_t i, start = 0;
	uint64_t v;

	/* One copy, NUL-terminated, each argument its own string. */
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = (char *)"espota";
	for (i = 0; i <= size && argc < MAX_ARGS + 1; i++) {
		if (buf[i] == '\0') {
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;

	memset(err, 'x', sizeof(err));
	rc = cli_parse(&c, argc, argv, err, sizeof(err));
	FUZZ_ASSERT(rc == 0 || rc == -1);
	FUZZ_TERMINATED(err);
	/* Every failure explains itself. */
	if (rc < 0)
		FUZZ_ASSERT(err[0] != '\0');
	FUZZ_ASSERT(c.nhosts <= CLI_MAX_HOSTS);
	for (i = 0; i < c.nhosts; i++)
		FUZZ_ASSERT(points_into(c.hosts[i], argv, argc));
	FUZZ_ASSERT(points_into(c.file, argv, argc));
	FUZZ_ASSERT(points_into(c.auth, argv, argc));
	FUZZ_ASSERT(points_into(c.hosts_file, argv, argc));
	if (rc == 0 && c.mode == CLI_MODE_UPLOAD) {
		FUZZ_ASSERT(c.file != NULL);
		FUZZ_ASSERT(c.nhosts > 0 || c.hosts_file != NULL);
		FUZZ_ASSERT(c.port == -1 || (c.port >= 1 && c.port <= 65535));
		FUZZ_ASSERT(c.host_port >= 0 && c.host_port <= 65535);
	}
	/* Without an error buffer. */
	(void)cli_parse(&c, argc, argv, NULL, 0);

	for (i = 1; i < (size_t)argc; i++)
		(void)cli_parse_size(argv[i], &v);
	free(buf);
	return 0;
}
