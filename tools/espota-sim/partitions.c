/*
 * ESP32 partition tables: the arduino-esp32 built-in CSVs (flashfit.md 4.4)
 * and a parser for the CSV format (gen_esp32part.py rules, reduced).
 */
#include "sim.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct builtin { const char *name; uint32_t chip; const char *csv; };

/* The library's table (generated from arduino-esp32 tools/partitions/ by
 * tools/gen-boards): the sim and the library cannot drift apart. */
static const struct builtin builtins[] = {
#define ESPOTA_SCHEME(name, chip, csv) { name, chip, csv },
#include "../../libespota/data/schemes.def"
#undef ESPOTA_SCHEME
};

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* "0x10000", "65536", "64K", "1M" */
static int parse_size(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	if (end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		v *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024, end++;
	if (*end || v > 0xFFFFFFFFull)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_subtype(int type, const char *s, int *out)
{
	static const struct { const char *n; int v; } data[] = {
		{"ota", 0}, {"phy", 1}, {"nvs", 2}, {"coredump", 3}, {"nvs_keys", 4},
		{"efuse", 5}, {"undefined", 6}, {"esphttpd", 0x80}, {"fat", 0x81},
		{"spiffs", 0x82}, {"littlefs", 0x83}};
	if (type == 0) {
		if (!strcasecmp(s, "factory")) { *out = 0; return 0; }
		if (!strcasecmp(s, "test")) { *out = 0x20; return 0; }
		if (!strncasecmp(s, "ota_", 4) && isdigit((unsigned char)s[4])) {
			char *end;
			long n = strtol(s + 4, &end, 10);
			if (*end != '\0' || n > 15)
				return -1;
			*out = 0x10 + n;
			return 0;
		}
	} else {
		for (size_t i = 0; i < sizeof data / sizeof *data; i++)
			if (!strcasecmp(s, data[i].n)) { *out = data[i].v; return 0; }
	}
	char *end;
	long v = strtol(s, &end, 0);
	if (end == s || *end || v < 0 || v > 255)
		return -1;
	*out = (int)v;
	return 0;
}

static int load_text(struct config *cfg, const char *text, char *err, size_t errsz)
{
	char *copy = strdup(text);
	if (!copy)
		return -1;
	cfg->nparts = 0;
	uint32_t next = 0x9000; /* first offset after the partition table */
	int lineno = 0, rc = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		if (!*trim(line))
			continue;
		char *f[6] = {0};
		int nf = 0;
		char *p = line;
		while (nf < 6) {
			char *c = strchr(p, ',');
			if (c)
				*c = '\0';
			f[nf++] = trim(p);
			if (!c)
				break;
			p = c + 1;
		}
		if (nf < 5) {
			snprintf(err, errsz, "line %d: expected name,type,subtype,offset,size", lineno);
			rc = -1;
			break;
		}
		if (cfg->nparts == MAX_PARTITIONS) {
			snprintf(err, errsz, "line %d: too many partitions", lineno);
			rc = -1;
			break;
		}
		struct partition *pt = &cfg->parts[cfg->nparts];
		memset(pt, 0, sizeof *pt);
		snprintf(pt->name, sizeof pt->name, "%s", f[0]);
		if (!strcasecmp(f[1], "app"))
			pt->type = 0;
		else if (!strcasecmp(f[1], "data"))
			pt->type = 1;
		else {
			char *end;
			long v = strtol(f[1], &end, 0);
			if (end == f[1] || *end) {
				snprintf(err, errsz, "line %d: bad type '%s'", lineno, f[1]);
				rc = -1;
				break;
			}
			pt->type = (int)v;
		}
		if (parse_subtype(pt->type, f[2], &pt->subtype)) {
			snprintf(err, errsz, "line %d: bad subtype '%s'", lineno, f[2]);
			rc = -1;
			break;
		}
		uint32_t align = pt->type == 0 ? 0x10000 : 0x1000;
		if (*f[3]) {
			if (parse_size(f[3], &pt->offset)) {
				snprintf(err, errsz, "line %d: bad offset '%s'", lineno, f[3]);
				rc = -1;
				break;
			}
		} else {
			pt->offset = (next + align - 1) & ~(align - 1);
		}
		if (parse_size(f[4], &pt->size) || pt->size == 0) {
			snprintf(err, errsz, "line %d: bad size '%s'", lineno, f[4]);
			rc = -1;
			break;
		}
		next = pt->offset + pt->size;
		cfg->nparts++;
	}
	free(copy);
	return rc;
}

void partitions_print_names(FILE *f)
{
	for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
		fprintf(f, "%s%s", i ? "|" : "", builtins[i].name);
}

int partitions_builtin(struct config *cfg, const char *name)
{
	char err[128];
	for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++) {
		if (!strcasecmp(name, builtins[i].name)) {
			cfg->scheme_name = builtins[i].name;
			if (!cfg->chip_size)
				cfg->chip_size = builtins[i].chip;
			return load_text(cfg, builtins[i].csv, err, sizeof err);
		}
	}
	return -1;
}

int partitions_load_csv(struct config *cfg, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errsz, "cannot open %s", path);
		return -1;
	}
	char *text = malloc(65536);
	size_t n = text ? fread(text, 1, 65535, f) : 0;
	fclose(f);
	if (!text)
		return -1;
	text[n] = '\0';
	int rc = load_text(cfg, text, err, errsz);
	free(text);
	cfg->scheme_name = path;
	return rc;
}

/* esp_ota_get_next_update_partition(NULL): the OTA slot after the running
 * one (in ota_n order, wrapping), or the first OTA slot when running from
 * factory/test. -1 when the table has no OTA slot. */
int partition_next_update(const struct config *cfg)
{
	int order[16], n = 0;
	for (int sub = 0x10; sub < 0x20; sub++)
		for (int i = 0; i < cfg->nparts; i++)
			if (cfg->parts[i].type == 0 && cfg->parts[i].subtype == sub)
				order[n++] = i;
	if (n == 0)
		return -1;
	for (int k = 0; k < n; k++)
		if (order[k] == cfg->running)
			return order[(k + 1) % n];
	return order[0];
}

/*
 * cmd 100. Newest Updater (U_FLASHFS = 100): the first spiffs, else fat,
 * else littlefs partition. 3.x cores up to 3.3.0 (cmd 100 = U_SPIFFS, the
 * Updater of arduino-esp32 commit 0166ae3): spiffs, else fat; no littlefs.
 */
int partition_fs(const struct config *cfg)
{
	static const int subs[] = {0x82, 0x81, 0x83};
	size_t n = cfg->platform == PLAT_ESP32_LEGACY ? 2 : 3;
	for (size_t s = 0; s < n; s++)
		for (int i = 0; i < cfg->nparts; i++)
			if (cfg->parts[i].type == 1 && cfg->parts[i].subtype == subs[s])
				return i;
	return -1;
}

/*
 * The part of esp_ota_set_boot_partition() after the image check for an
 * OTA slot (esp_rewrite_ota_data): it needs an otadata partition, and the
 * slot's number must be below the count of consecutive slots from ota_0.
 */
int partition_otadata_ok(const struct config *cfg, int part)
{
	int have_otadata = 0, count = 0;
	for (int i = 0; i < cfg->nparts; i++)
		if (cfg->parts[i].type == 1 && cfg->parts[i].subtype == 0)
			have_otadata = 1;
	if (!have_otadata)
		return 0;
	for (int found = 1; found && count < 16;) {
		found = 0;
		for (int i = 0; i < cfg->nparts; i++)
			if (cfg->parts[i].type == 0 && cfg->parts[i].subtype == 0x10 + count)
				found = 1;
		if (found)
			count++;
	}
	int sub = cfg->parts[part].subtype;
	return sub >= 0x10 && sub < 0x20 && sub - 0x10 < count;
}
