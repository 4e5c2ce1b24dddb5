/*
 * ESP32 partition tables: gen_esp32part.py CSV, the binary form at 0x8000,
 * and the arduino-esp32 schemes of flashfit.md section 4.4.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espota/errors.h"
#include "espota/flashfit.h"
#include "analysis/image_internal.h"
#include "util/util.h"

/* gen_esp32part.py: the table lives at 0x8000 and is one sector long, so
 * the first free offset is 0x9000; app partitions align to 64 KiB, data
 * partitions to 4 KiB. */
#define FIRST_OFFSET 0x9000u
#define APP_ALIGN 0x10000u
#define DATA_ALIGN 0x1000u
#define BIN_ENTRY 32u
#define BIN_MAX 0xC00u



#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ESPOTA_EIMAGE;
}

static void clear(espota_partition_table *out, const char *name, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
}

/* Overlaps make a table invalid for gen_esp32part.py as well. */
static int check_overlaps(const espota_partition_table *t, char *err, size_t errlen)
{
	unsigned int i, j;
	for (i = 0; i < t->count; i++) {
		const espota_partition *a = &t->entries[i];
		if ((uint64_t)a->offset + a->size > 0x100000000ULL)
			return seterr(err, errlen, "partition '%s' ends beyond 4 GiB", a->label);
		for (j = i + 1; j < t->count; j++) {
			const espota_partition *b = &t->entries[j];
			if ((uint64_t)a->offset < (uint64_t)b->offset + b->size &&
				(uint64_t)b->offset < (uint64_t)a->offset + a->size)
				return seterr(err, errlen, "partitions '%s' and '%s' overlap", a->label, b->label);
		}
	}
	return ESPOTA_OK;
}

/* ------------------------------------------------------------------ */
/* Binary                                                              */

int espota__partitions_parse_bin(struct espota_partition_table *out, const unsigned char *buf,
	size_t len, char *err, size_t errlen)
{
	size_t off;

	if (espota__isnull(out) || espota__isnull(buf))
		return ESPOTA_EINVAL;
	clear(out, "custom", err, errlen);
	for (off = 0; off + BIN_ENTRY <= len && off < BIN_MAX; off += BIN_ENTRY) {
		const unsigned char *e = buf + off;
		espota_partition *p;
		size_t k;

		if (e[0] == 0xFF && e[1] == 0xFF) {
			for (k = 2; k < BIN_ENTRY && e[k] == 0xFF; k++)
				;
			if (k != BIN_ENTRY)
				return seterr(err, errlen, "bad end marker at offset %zu", off);
			return out->count ? check_overlaps(out, err, errlen) :
				seterr(err, errlen, "empty partition table");
		}
		if (e[0] == 0xEB && e[1] == 0xEB) {
			/* MD5 entry (gen_esp32part --md5): 14 x 0xFF then the MD5 of
			 * the preceding entries. Recognised, not verified: this module
			 * stays free of crypto and allocation. */
			continue;
		}
		if (e[0] != 0xAA || e[1] != 0x50)
			return seterr(err, errlen, "bad entry magic 0x%02X%02X at offset %zu", e[1], e[0], off);
		if (out->count >= ESPOTA__PARTITIONS_MAX)
			return seterr(err, errlen, "more than %u partitions", ESPOTA__PARTITIONS_MAX);
		p = &out->entries[out->count++];
		p->type = e[2];
		p->subtype = e[3];
		p->offset = espota__le32(e + 4);
		p->size = espota__le32(e + 8);
		memcpy(p->label, e + 12, 16);
		p->label[16] = '\0';
		for (k = 0; k < 16; k++) /* labels are printable ASCII */
			if (p->label[k] != '\0' && (p->label[k] < 0x20 || p->label[k] > 0x7e))
				p->label[k] = '?';
		p->flags = espota__le32(e + 28);
	}
	if (out->count == 0)
		return seterr(err, errlen, "no partition entries");
	/* A table that fills the 0xC00 bytes or the buffer without an end
	 * marker is still usable. */
	return check_overlaps(out, err, errlen);
}

/* ------------------------------------------------------------------ */
/* CSV                                                                 */

typedef struct {
	const char *s;
	size_t n;
} field;

static field trim(const char *s, size_t n)
{
	field f;
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	f.s = s;
	f.n = n;
	return f;
}

static int field_eq(field f, const char *lit)
{
	size_t i, n = strlen(lit);
	if (f.n != n)
		return 0;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)f.s[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != lit[i])
			return 0;
	}
	return 1;
}

/* Integers as gen_esp32part.py's parse_int: decimal or 0x hex, with an
 * optional K or M suffix. */
static int parse_num(field f, uint64_t *out)
{
	uint64_t v = 0, mul = 1;
	size_t i = 0, n = f.n;
	int base = 10, digits = 0;

	if (n > 0 && (f.s[n - 1] == 'K' || f.s[n - 1] == 'k')) {
		mul = 1024;
		n--;
	} else if (n > 0 && (f.s[n - 1] == 'M' || f.s[n - 1] == 'm')) {
		mul = (uint64_t)1024 * 1024;
		n--;
	}
	if (n > 2 && f.s[0] == '0' && (f.s[1] == 'x' || f.s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	for (; i < n; i++) {
		int c = (unsigned char)f.s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * (uint64_t)base + (uint64_t)d;
		if (v > 0xFFFFFFFFull)
			return -1;
		digits++;
	}
	if (digits == 0)
		return -1;
	v *= mul;
	if (v > 0xFFFFFFFFull)
		return -1;
	*out = v;
	return 0;
}

static const struct { const char *name; uint8_t v; } data_subtypes[] = {
	{ "ota", 0x00 }, { "phy", 0x01 }, { "nvs", 0x02 }, { "coredump", 0x03 },
	{ "nvs_keys", 0x04 }, { "efuse", 0x05 }, { "undefined", 0x06 },
	{ "esphttpd", 0x80 }, { "fat", 0x81 }, { "spiffs", 0x82 }, { "littlefs", 0x83 },
};

static int parse_subtype(field f, uint8_t type, uint8_t *out)
{
	uint64_t v;
	size_t i;

	if (type == 0) {
		if (field_eq(f, "factory")) {
			*out = 0x00;
			return 0;
		}
		if (field_eq(f, "test")) {
			*out = 0x20;
			return 0;
		}
		if (f.n >= 5 && f.n <= 6 && field_eq((field){ f.s, 4 }, "ota_")) {
			field num = { f.s + 4, f.n - 4 };
			if (parse_num(num, &v) == 0 && v < 16) {
				*out = (uint8_t)(0x10 + v);
				return 0;
			}
			return -1;
		}
	} else if (type == 1) {
		for (i = 0; i < sizeof(data_subtypes) / sizeof(data_subtypes[0]); i++)
			if (field_eq(f, data_subtypes[i].name)) {
				*out = data_subtypes[i].v;
				return 0;
			}
	}
	if (parse_num(f, &v) == 0 && v <= 0xFF) {
		*out = (uint8_t)v;
		return 0;
	}
	return -1;
}

static int parse_flags(field f, uint32_t *out)
{
	size_t i = 0;
	*out = 0;
	while (i < f.n) {
		size_t j = i;
		field w;
		while (j < f.n && f.s[j] != ':' && f.s[j] != ' ')
			j++;
		w = trim(f.s + i, j - i);
		if (w.n == 0)
			;
		else if (field_eq(w, "encrypted"))
			*out |= 1u;
		else if (field_eq(w, "readonly"))
			*out |= 2u;
		else
			return -1;
		i = j + 1;
	}
	return 0;
}

int espota__partitions_parse_csv(struct espota_partition_table *out, const char *text, size_t len,
	char *err, size_t errlen)
{
	size_t pos = 0;
	unsigned int line = 0;
	uint64_t next = FIRST_OFFSET;

	if (espota__isnull(out) || espota__isnull(text))
		return ESPOTA_EINVAL;
	clear(out, "custom", err, errlen);
	while (pos < len) {
		size_t eol = pos, n, nf = 0, i, start;
		field f[6];
		espota_partition *p;
		uint64_t off, size, align;
		uint8_t type;

		while (eol < len && text[eol] != '\n')
			eol++;
		line++;
		n = eol - pos;
		for (i = 0; i < n; i++) /* '#' starts a comment */
			if (text[pos + i] == '#')
				break;
		n = i;
		if (trim(text + pos, n).n == 0) {
			pos = eol + 1;
			continue;
		}
		for (start = 0, i = 0; i <= n; i++) {
			if (i == n || text[pos + i] == ',') {
				if (nf == 6)
					return seterr(err, errlen, "line %u: more than 6 fields", line);
				f[nf++] = trim(text + pos + start, i - start);
				start = i + 1;
			}
		}
		while (nf > 5 && f[nf - 1].n == 0)
			nf--;
		if (nf < 5)
			return seterr(err, errlen, "line %u: expected name,type,subtype,offset,size[,flags]", line);
		if (out->count >= ESPOTA__PARTITIONS_MAX)
			return seterr(err, errlen, "line %u: more than %u partitions", line, ESPOTA__PARTITIONS_MAX);
		p = &out->entries[out->count];
		memset(p, 0, sizeof(*p));
		if (f[0].n == 0 || f[0].n > 16)
			return seterr(err, errlen, "line %u: name must be 1..16 characters", line);
		memcpy(p->label, f[0].s, f[0].n);
		if (field_eq(f[1], "app"))
			type = 0;
		else if (field_eq(f[1], "data"))
			type = 1;
		else {
			uint64_t v;
			if (parse_num(f[1], &v) != 0 || v > 0xFE)
				return seterr(err, errlen, "line %u: unknown type", line);
			type = (uint8_t)v;
		}
		p->type = type;
		if (parse_subtype(f[2], type, &p->subtype) != 0)
			return seterr(err, errlen, "line %u: unknown subtype", line);
		align = type == 0 ? APP_ALIGN : DATA_ALIGN;
		if (f[3].n == 0) {
			off = (next + align - 1) / align * align;
		} else {
			if (parse_num(f[3], &off) != 0)
				return seterr(err, errlen, "line %u: bad offset", line);
			if (off % align != 0)
				return seterr(err, errlen, "line %u: offset 0x%llx not aligned to 0x%llx", line,
					(unsigned long long)off, (unsigned long long)align);
		}
		if (parse_num(f[4], &size) != 0 || size == 0)
			return seterr(err, errlen, "line %u: bad size", line);
		if (off + size > 0xFFFFFFFFull)
			return seterr(err, errlen, "line %u: partition ends beyond 4 GiB", line);
		if (nf == 6 && parse_flags(f[5], &p->flags) != 0)
			return seterr(err, errlen, "line %u: unknown flag", line);
		p->offset = (uint32_t)off;
		p->size = (uint32_t)size;
		next = off + size;
		out->count++;
		pos = eol + 1;
	}
	if (out->count == 0)
		return seterr(err, errlen, "no partitions");
	return check_overlaps(out, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Built-in schemes (arduino-esp32 tools/partitions/ CSVs; flashfit.md 4.4) */

typedef struct {
	const char *name;
	uint32_t chip;
	const char *csv;
} scheme;

/* Generated from arduino-esp32 tools/partitions/ (tools/gen-boards). */
static const scheme schemes[] = {
#define ESPOTA_SCHEME(name, chip, csv) { name, chip, csv },
#include "data/schemes.def"
#undef ESPOTA_SCHEME
};

const char *espota__partitions_builtin_name(size_t i)
{
	return i < sizeof(schemes) / sizeof(schemes[0]) ? schemes[i].name : NULL;
}

int espota__partitions_builtin(struct espota_partition_table *out, const char *name)
{
	size_t i;
	if (espota__isnull(out) || espota__isnull(name))
		return ESPOTA_EINVAL;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (espota__strcaseeq(name, schemes[i].name)) {
			int rc = espota__partitions_parse_csv(out, schemes[i].csv, strlen(schemes[i].csv), NULL, 0);
			if (rc == ESPOTA_OK)
				snprintf(out->name, sizeof(out->name), "%s", schemes[i].name);
			return rc;
		}
	}
	memset(out, 0, sizeof(*out));
	return ESPOTA_EINVAL;
}

uint64_t espota__partitions_flash_size(const espota_partition_table *t)
{
	uint64_t end = 0, size = 1u << 20;
	unsigned int i;
	for (i = 0; i < t->count; i++)
		if ((uint64_t)t->entries[i].offset + t->entries[i].size > end)
			end = (uint64_t)t->entries[i].offset + t->entries[i].size;
	while (size < end)
		size <<= 1;
	return size;
}

const char *espota__partitions_builtin_name_of(const char *name)
{
	size_t i;
	for (i = 0; name != NULL && i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (espota__strcaseeq(name, schemes[i].name))
			return schemes[i].name;
	return NULL;
}

/* ---- the public, library-owned table ---------------------------------------- */

static int new_table(espota_partition_table **out)
{
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? ESPOTA_OK : ESPOTA_ENOMEM;
}

/* An object comes back on a parse error too, holding only the reason. */
static int finish_table(espota_partition_table *t, int rc)
{
	if (rc != ESPOTA_OK) {
		t->count = 0;
		if (t->detail[0] == '\0')
			snprintf(t->detail, sizeof(t->detail), "%s", espota_strerror(rc));
	}
	return rc;
}

/* One entry for both forms: the table object comes back with the parse's
 * verdict and, after a failure, its reason. */
static int parse_table(espota_partition_table **out, const void *data, size_t len, int binary)
{
	char err[sizeof((*out)->detail)];
	int rc;

	if (espota__isnull(out))
		return ESPOTA_EINVAL;
	*out = NULL;
	if (espota__isnull(data))
		return ESPOTA_EINVAL;
	if ((rc = new_table(out)) < 0)
		return rc;
	err[0] = '\0';
	rc = binary ? espota__partitions_parse_bin(*out, data, len, err, sizeof(err)) :
		espota__partitions_parse_csv(*out, data, len, err, sizeof(err));
	snprintf((*out)->detail, sizeof((*out)->detail), "%s", rc == ESPOTA_OK ? "" : err);
	return finish_table(*out, rc);
}

int espota_partition_table_parse_csv(espota_partition_table **out, const char *text, size_t len)
{
	return parse_table(out, text, len, 0);
}

int espota_partition_table_parse_bin(espota_partition_table **out, const unsigned char *buf, size_t len)
{
	return parse_table(out, buf, len, 1);
}

int espota_partition_table_builtin(espota_partition_table **out, const char *name)
{
	int rc;

	if (espota__isnull(out))
		return ESPOTA_EINVAL;
	*out = NULL;
	if (espota__isnull(name))
		return ESPOTA_EINVAL;
	if ((rc = new_table(out)) < 0)
		return rc;
	rc = espota__partitions_builtin(*out, name);
	if (rc != ESPOTA_OK)
		snprintf((*out)->detail, sizeof((*out)->detail), "unknown partition scheme \"%.64s\"", name);
	return finish_table(*out, rc);
}

void espota_partition_table_free(espota_partition_table *t)
{
	free(t);
}

const char *espota_partition_table_error(const espota_partition_table *t)
{
	return t != NULL ? t->detail : "invalid partition table";
}

const char *espota_partition_table_name(const espota_partition_table *t)
{
	return t != NULL ? t->name : "";
}

size_t espota_partition_table_count(const espota_partition_table *t)
{
	return t != NULL ? t->count : 0;
}

const espota_partition *espota_partition_table_at(const espota_partition_table *t, size_t i)
{
	if (t == NULL || i >= t->count)
		return NULL;
	return &t->entries[i];
}
