/*
 * espota boards [--json] [--names] [PATTERN]: the board database, the ESP8266
 * layouts and the ESP32 partition schemes. Presentation only: the data and
 * the lookups are the library's (espota_board_*, espota_layout_*).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <espota.h>

#include "args.h"
#include "boards_cmd.h"
#include "cli.h"
#include "output.h"

static const char boards_usage[] =
"usage: espota boards [--json] [PATTERN]\n"
"       espota boards --names\n"
"\n"
"List the boards (Arduino IDE and PlatformIO ids) with their flash size and\n"
"default layout or partition scheme, then the ESP8266 layouts and the ESP32\n"
"schemes. PATTERN keeps the rows whose id, alias or description contains it\n"
"(case-insensitive; '*' and '?' match as in the shell).\n"
"  --json    one JSON object per board/layout/scheme, one per line\n"
"  --names   every board id and alias, one per line (for shell completion)\n";

/* Case-insensitive glob; a pattern without '*' or '?' matches as a substring. */
static int glob_ci(const char *p, const char *s)
{
	if (*p == '\0')
		return *s == '\0';
	if (*p == '*')
		return glob_ci(p + 1, s) || (*s != '\0' && glob_ci(p, s + 1));
	if (*s == '\0')
		return 0;
	if (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))
		return glob_ci(p + 1, s + 1);
	return 0;
}

static int match(const char *pattern, const char *s)
{
	char buf[160];
	if (pattern == NULL)
		return 1;
	if (s == NULL)
		return 0;
	if (strchr(pattern, '*') != NULL || strchr(pattern, '?') != NULL)
		return glob_ci(pattern, s);
	snprintf(buf, sizeof(buf), "*%s*", pattern);
	return glob_ci(buf, s);
}

/* Mark the boards an alias matching `pattern` names (one pass over the aliases). */
static void mark_alias_matches(unsigned char *hit, const char *pattern)
{
	const espota_board *first = espota_board_at(0);
	size_t i;
	for (i = 0; i < espota_board_alias_count(); i++) {
		const espota_board *t = NULL;
		const char *a = espota_board_alias_at(i, &t);
		if (t != NULL && match(pattern, a))
			hit[t - first] = 1;
	}
}

/* A JSON array of the words of `s` (space separated). */
static void json_words(struct cli_json *js, const char *key, const char *s)
{
	char w[128];
	cli_json_arr(js, key);
	while (s != NULL && *s) {
		size_t n = 0;
		while (*s == ' ')
			s++;
		while (*s && *s != ' ') {
			if (n + 1 < sizeof(w))
				w[n++] = *s;
			s++;
		}
		w[n] = '\0';
		if (n > 0)
			cli_json_elem_str(js, w);
	}
	cli_json_close(js);
}

/* One line of `espota boards --json`: an event of docs/events.schema.json. */
static void print_json(const char *event, const espota_board *b, const espota_layout *l,
	const char *scheme, uint64_t scheme_chip)
{
	char buf[4096];
	struct cli_json js;
	size_t i;

	cli_json_begin(&js, buf, sizeof(buf));
	cli_json_str(&js, "event", event);
	cli_json_u64(&js, "schema", CLI_JSON_SCHEMA);
	if (b != NULL) {
		cli_json_str(&js, "id", b->name);
		cli_json_str(&js, "description", b->description);
		cli_json_str(&js, "platform", espota_platform_name(b->platform));
		cli_json_str(&js, "chip", b->chip);
		cli_json_u64(&js, "flash_size", b->flash_size);
		cli_json_str(&js, b->platform == ESPOTA_PLATFORM_ESP32 ? "scheme" : "layout", b->layout);
		json_words(&js, "offered", b->offered);
		cli_json_str(&js, "origin", b->origin);
		cli_json_arr(&js, "aliases");
		for (i = 0; i < espota_board_alias_count(); i++) {
			const espota_board *t = NULL;
			const char *a = espota_board_alias_at(i, &t);
			if (t == b)
				cli_json_elem_str(&js, a);
		}
		cli_json_close(&js);
	} else if (l != NULL) {
		cli_json_str(&js, "name", l->name);
		cli_json_str(&js, "ld_script", l->ld_script);
		cli_json_u64(&js, "flash_size", l->flash_size);
		cli_json_u64(&js, "sketch_max", l->irom0_max);
		cli_json_u64(&js, "fs_start", l->fs_start);
		cli_json_u64(&js, "fs_size", l->fs_end - l->fs_start);
	} else {
		cli_json_str(&js, "name", scheme);
		cli_json_u64(&js, "flash_size", scheme_chip);
	}
	cli_json_end(&js);
	fputs(buf, stdout);
}

int cli_boards_main(int argc, char **argv)
{
	const char *pattern = NULL;
	unsigned char *hit;
	int json = 0, names = 0, i;
	size_t k, n;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--names") == 0)
			names = 1;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(boards_usage, stdout);
			return CLI_EXIT_OK;
		} else if (argv[i][0] == '-' || pattern != NULL) {
			fprintf(stderr, "espota: error: boards: unexpected argument '%s'\n%s", argv[i], boards_usage);
			return CLI_EXIT_USAGE;
		} else
			pattern = argv[i];
	}
	if (names) {
		for (k = 0; k < espota_board_count(); k++)
			puts(espota_board_at(k)->name);
		for (k = 0; k < espota_board_alias_count(); k++)
			puts(espota_board_alias_at(k, NULL));
		return CLI_EXIT_OK;
	}

	hit = calloc(espota_board_count() + 1, 1);
	if (hit == NULL) {
		fprintf(stderr, "espota: error: out of memory\n");
		return CLI_EXIT_FAILED;
	}
	if (pattern != NULL)
		mark_alias_matches(hit, pattern);
	n = 0;
	if (!json)
		printf("Boards (--board; IDE and PlatformIO ids, mDNS board values):\n");
	for (k = 0; k < espota_board_count(); k++) {
		const espota_board *b = espota_board_at(k);
		if (!hit[k] && !match(pattern, b->name) && !match(pattern, b->description))
			continue;
		n++;
		if (json)
			print_json("board", b, NULL, NULL, 0);
		else
			printf("  %-28s %-8s %-8s %6u KiB  %-12s %s\n", b->name, espota_platform_name(b->platform),
				b->chip, (unsigned)(b->flash_size / 1024), b->layout, b->description);
	}
	if (!json)
		printf("ESP8266 layouts (--layout):\n");
	for (k = 0; k < espota_layout_count(); k++) {
		const espota_layout *l = espota_layout_at(k);
		if (!match(pattern, l->name) && !match(pattern, l->ld_script))
			continue;
		n++;
		if (json)
			print_json("layout", NULL, l, NULL, 0);
		else
			printf("  %-8s %-24s flash %5u KiB, sketch max %u bytes, filesystem %u KiB\n",
				l->name, l->ld_script, (unsigned)(l->flash_size / 1024), (unsigned)l->irom0_max,
				(unsigned)((l->fs_end - l->fs_start) / 1024));
	}
	if (!json)
		printf("ESP32 partition schemes (--scheme):\n");
	for (k = 0; espota_partition_scheme_at(k) != NULL; k++) {
		const char *s = espota_partition_scheme_at(k);
		espota_partition_table *t = NULL;
		uint64_t chip = 0;
		size_t j, cnt;

		if (!match(pattern, s))
			continue;
		n++;
		if (espota_partition_table_builtin(&t, s) != ESPOTA_OK) {
			espota_partition_table_free(t);
			t = NULL;
		}
		cnt = espota_partition_table_count(t);
		for (j = 0; j < cnt; j++) {
			const espota_partition *p = espota_partition_table_at(t, j);
			if ((uint64_t)p->offset + p->size > chip)
				chip = (uint64_t)p->offset + p->size;
		}
		if (json) {
			print_json("scheme", NULL, NULL, s, chip);
		} else {
			printf("  %-18s ends at %#" PRIx64 ":", s, chip);
			for (j = 0; j < cnt; j++)
				printf(" %s %u KiB", espota_partition_table_at(t, j)->label,
					(unsigned)(espota_partition_table_at(t, j)->size / 1024));
			printf("\n");
		}
		espota_partition_table_free(t);
	}
	free(hit);
	if (n == 0 && pattern != NULL) {
		const char *s = espota_board_suggest(pattern);
		fprintf(stderr, "espota: no board, layout or scheme matches '%s'%s%s%s\n", pattern,
			s ? " (did you mean " : "", s ? s : "", s ? "?)" : "");
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}
