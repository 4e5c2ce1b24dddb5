/*
 * The board database: every ESP8266/ESP32 board id of the Arduino IDE and
 * of PlatformIO with the flash size, layout or partition scheme and flash
 * mode it builds with by default. The rows are generated from the upstream
 * board files by tools/gen-boards (boards.def names the revisions).
 */
#include <ctype.h>
#include <string.h>

#include "espota/flashfit.h"
#include "analysis/image_internal.h"
#include "util/util.h"

static const espota_board boards[] = {
#define ESPOTA_BOARD(id, desc, plat, chip, flash, layout, mode, origin, offered) \
	{ id, desc, plat, flash, layout, mode, chip, origin, offered },
#define ESPOTA_ALIAS(alias, id)
#include "data/boards.def"
#undef ESPOTA_BOARD
#undef ESPOTA_ALIAS
};

static const struct alias { const char *alias, *id; } aliases[] = {
#define ESPOTA_BOARD(id, desc, plat, chip, flash, layout, mode, origin, offered)
#define ESPOTA_ALIAS(alias, id) { alias, id },
#include "data/boards.def"
#undef ESPOTA_BOARD
#undef ESPOTA_ALIAS
};

#define NBOARDS (sizeof(boards) / sizeof(boards[0]))
#define NALIASES (sizeof(aliases) / sizeof(aliases[0]))

size_t espota_board_count(void)
{
	return NBOARDS;
}

const espota_board *espota_board_at(size_t i)
{
	return i < NBOARDS ? &boards[i] : NULL;
}

static const espota_board *find_id(const char *name)
{
	size_t i;
	for (i = 0; i < NBOARDS; i++)
		if (espota__strcaseeq(name, boards[i].name))
			return &boards[i];
	return NULL;
}

const espota_board *espota_board_find(const char *name)
{
	const espota_board *b;
	size_t i;

	if (name == NULL)
		return NULL;
	if ((b = find_id(name)) != NULL)
		return b;
	for (i = 0; i < NALIASES; i++)
		if (espota__strcaseeq(name, aliases[i].alias))
			return find_id(aliases[i].id);
	/* The Arduino IDE defines ARDUINO_<build.board>; users copy the macro. */
	if (strncmp(name, "ARDUINO_", 8) == 0 || strncmp(name, "arduino_", 8) == 0)
		return espota_board_find(name + 8);
	return NULL;
}

size_t espota_board_alias_count(void)
{
	return NALIASES;
}

const char *espota_board_alias_at(size_t i, const espota_board **board)
{
	if (i >= NALIASES)
		return NULL;
	if (board != NULL)
		*board = find_id(aliases[i].id);
	return aliases[i].alias;
}

/* Case-insensitive edit distance (insert, delete, substitute, swap of two
 * neighbours), capped: names are short and the table is a few hundred rows. */
#define SUGGEST_MAXLEN 48
static unsigned distance(const char *a, const char *b)
{
	unsigned d[SUGGEST_MAXLEN + 1][SUGGEST_MAXLEN + 1];
	size_t n = strlen(a), m = strlen(b), i, j;

	if (n > SUGGEST_MAXLEN || m > SUGGEST_MAXLEN)
		return ~0u;
	for (i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (i = 1; i <= n; i++) {
		for (j = 1; j <= m; j++) {
			unsigned cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			unsigned v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
				tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[n][m];
}

const char *espota_board_suggest(const char *name)
{
	const char *best = NULL;
	unsigned best_d = ~0u, limit;
	size_t i, n;

	if (name == NULL || (n = strlen(name)) == 0)
		return NULL;
	/* One edit for short names, up to three for long ones. */
	limit = n <= 4 ? 1 : n <= 8 ? 2 : 3;
	for (i = 0; i < NBOARDS + NALIASES; i++) {
		const char *cand = i < NBOARDS ? boards[i].name : aliases[i - NBOARDS].alias;
		unsigned d;
		if (strchr(cand, '@') != NULL)
			continue; /* "<id>@ide": the plain id is the better answer */
		d = distance(name, cand);
		if (d < best_d) {
			best_d = d;
			best = cand;
		}
	}
	return best_d <= limit ? best : NULL;
}
