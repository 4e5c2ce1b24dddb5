/*
 * ESP32 partition tables: CSV (gen_esp32part.py syntax), binary, and the
 * built-in arduino-esp32 schemes of flashfit.md section 4.4.
 */
#include "espota/errors.h"
#include "espota/flashfit.h"
#include "test.h"

/* A table as the tests read it, copied out of the library's object through
 * the counted accessors; `err` is the object's detail. */
typedef struct {
	char name[32];
	unsigned int count;
	espota_partition entries[96];
	char err[128];
} view;

static int take(view *v, espota_partition_table *t, int rc)
{
	size_t i;

	memset(v, 0, sizeof(*v));
	ASSERT(t != NULL);
	snprintf(v->name, sizeof(v->name), "%s", espota_partition_table_name(t));
	snprintf(v->err, sizeof(v->err), "%s", espota_partition_table_error(t));
	v->count = (unsigned int)espota_partition_table_count(t);
	ASSERT(v->count <= 96);
	for (i = 0; i < v->count; i++)
		v->entries[i] = *espota_partition_table_at(t, i);
	ASSERT(espota_partition_table_at(t, i) == NULL);
	/* An error leaves a detail and no partitions; a success no detail. */
	ASSERT((rc == ESPOTA_OK) == (v->err[0] == '\0'));
	if (rc != ESPOTA_OK)
		ASSERT_EQ(v->count, 0);
	espota_partition_table_free(t);
	return rc;
}

static int load_csv(view *v, const char *text, size_t len, char *err)
{
	espota_partition_table *t = NULL;
	int rc = espota_partition_table_parse_csv(&t, text, len);

	take(v, t, rc);
	snprintf(err, 128, "%s", v->err);
	return rc;
}

static int load_bin(view *v, const unsigned char *b, size_t len, char *err)
{
	espota_partition_table *t = NULL;
	int rc = espota_partition_table_parse_bin(&t, b, len);

	take(v, t, rc);
	snprintf(err, 128, "%s", v->err);
	return rc;
}

static int load_builtin(view *v, const char *name)
{
	espota_partition_table *t = NULL;
	int rc = espota_partition_table_builtin(&t, name);

	return take(v, t, rc);
}

static const char default_csv[] =
	"# Name,   Type, SubType, Offset,  Size, Flags\n"
	"nvs,      data, nvs,     0x9000,  0x5000,\n"
	"otadata,  data, ota,     0xe000,  0x2000,\n"
	"app0,     app,  ota_0,   0x10000, 0x140000,\n"
	"app1,     app,  ota_1,   0x150000,0x140000,\n"
	"spiffs,   data, spiffs,  0x290000,0x160000,\n"
	"coredump, data, coredump,0x3F0000,0x10000,\n";

static void test_csv_default(void)
{
	view t;
	char err[128];

	ASSERT_OK(load_csv(&t, default_csv, sizeof(default_csv) - 1, err));
	ASSERT_EQ(t.count, 6);
	ASSERT_STREQ(t.entries[2].label, "app0");
	ASSERT_EQ(t.entries[2].type, 0);
	ASSERT_EQ(t.entries[2].subtype, 0x10);
	ASSERT_EQ(t.entries[3].subtype, 0x11);
	ASSERT_EQ(t.entries[3].offset, 0x150000);
	ASSERT_EQ(t.entries[3].size, 1310720);
	ASSERT_EQ(t.entries[4].subtype, 0x82);
	ASSERT_EQ(t.entries[5].subtype, 0x03);
}

static void test_csv_syntax(void)
{
	/* Empty offsets follow on (apps 64 KiB aligned), K/M sizes, flags,
	 * comments, CRLF, blank lines, numeric types. */
	static const char csv[] =
		"\r\n# comment only\n"
		"nvs, data, nvs, , 20K\r\n"
		"phy_init, data, phy, , 4K, # trailing comment\n"
		"factory, app, factory, , 1M\n"
		"ota_0, app, ota_0, , 1M, readonly\n"
		"storage, 0x40, 0x01, , 64K, encrypted:readonly\n"
		"lfs, data, littlefs, , 0x10000\n";
	view t;
	char err[128];

	ASSERT_OK(load_csv(&t, csv, sizeof(csv) - 1, err));
	ASSERT_EQ(t.count, 6);
	ASSERT_EQ(t.entries[0].offset, 0x9000);
	ASSERT_EQ(t.entries[0].size, 0x5000);
	ASSERT_EQ(t.entries[1].offset, 0xE000);
	ASSERT_EQ(t.entries[2].offset, 0x10000);
	ASSERT_EQ(t.entries[2].size, 0x100000);
	ASSERT_EQ(t.entries[3].offset, 0x110000);
	ASSERT_EQ(t.entries[3].flags, 2);
	ASSERT_EQ(t.entries[4].type, 0x40);
	ASSERT_EQ(t.entries[4].flags, 3);
	ASSERT_EQ(t.entries[5].subtype, 0x83);
	ASSERT_EQ(t.entries[5].offset, 0x220000);
}

static void test_csv_errors(void)
{
	static const char *const bad[] = {
		"app0, app, ota_0, 0x10000, 0x140000\napp1, app, ota_1, 0x100000, 0x140000\n", /* overlap */
		"app0, app, ota_0, 0x11000, 0x1000\n",   /* app not 64K aligned */
		"x, bogus, 0, 0x9000, 0x1000\n",          /* type */
		"x, app, ota_16, 0x10000, 0x1000\n",      /* subtype */
		"x, data, nvs, 0x9000\n",                 /* missing size */
		"x, data, nvs, 0x9000, 0\n",              /* zero size */
		"x, data, nvs, 0x9000, 12Q\n",            /* bad number */
		"a_name_longer_than_16, data, nvs, 0x9000, 4K\n",
		"x, data, nvs, 0x9000, 4K, sparkly\n",    /* flag */
		"x, data, nvs, 0xFFFFF000, 8K\n",         /* beyond 4 GiB */
		"# nothing\n",
	};
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		view t;
		char err[128] = "";
		ASSERT_EQ(load_csv(&t, bad[i], strlen(bad[i]), err), ESPOTA_EIMAGE);
		ASSERT(err[0] != '\0');
	}
}

static size_t to_bin(const view *t, unsigned char *b, int md5)
{
	unsigned int i;
	size_t o = 0;
	memset(b, 0xFF, 0xC00);
	for (i = 0; i < t->count; i++, o += 32) {
		const espota_partition *p = &t->entries[i];
		b[o] = 0xAA; b[o + 1] = 0x50; b[o + 2] = p->type; b[o + 3] = p->subtype;
		memcpy(b + o + 4, &p->offset, 4); /* little-endian host */
		memcpy(b + o + 8, &p->size, 4);
		memset(b + o + 12, 0, 16);
		memcpy(b + o + 12, p->label, strlen(p->label));
		memcpy(b + o + 28, &p->flags, 4);
	}
	if (md5) {
		b[o] = 0xEB; b[o + 1] = 0xEB;
		memset(b + o + 16, 0x11, 16);
		o += 32;
	}
	return 0xC00;
}

static void test_bin_roundtrip(void)
{
	view t, u;
	unsigned char b[0xC00];
	char err[128];
	unsigned int i;

	ASSERT_OK(load_builtin(&t, "default"));
	to_bin(&t, b, 1);
	ASSERT_OK(load_bin(&u, b, sizeof(b), err));
	ASSERT_EQ(u.count, t.count);
	for (i = 0; i < t.count; i++) {
		ASSERT_STREQ(u.entries[i].label, t.entries[i].label);
		ASSERT_EQ(u.entries[i].offset, t.entries[i].offset);
		ASSERT_EQ(u.entries[i].size, t.entries[i].size);
		ASSERT_EQ(u.entries[i].subtype, t.entries[i].subtype);
	}
	/* Truncated inside an entry: the complete entries still parse. */
	ASSERT_OK(load_bin(&u, b, 32 * 2 + 5, err));
	ASSERT_EQ(u.count, 2);
	/* Bad magic, half an end marker, nothing at all. */
	b[32] = 0x12;
	ASSERT_EQ(load_bin(&u, b, sizeof(b), err), ESPOTA_EIMAGE);
	ASSERT_CONTAINS(err, "magic");
	memset(b + 32, 0xFF, 32);
	b[32 + 20] = 0;
	ASSERT_EQ(load_bin(&u, b, sizeof(b), err), ESPOTA_EIMAGE);
	memset(b, 0xFF, 32);
	ASSERT_EQ(load_bin(&u, b, sizeof(b), err), ESPOTA_EIMAGE);
	ASSERT_EQ(load_bin(&u, b, 0, err), ESPOTA_EIMAGE);
}

/* flashfit.md 4.4: app slot sizes, OTA or not, FS size. */
static void test_builtin_schemes(void)
{
	static const struct {
		const char *name;
		unsigned ota, factory;
		uint32_t app, fs;
	} rows[] = {
		{ "default", 2, 0, 0x140000, 0x160000 },
		{ "default_ffat", 2, 0, 0x140000, 0x160000 },
		{ "min_spiffs", 2, 0, 0x1E0000, 0x20000 }, /* arduino-esp32 3.x: + coredump */
		{ "huge_app", 1, 0, 0x300000, 0xE0000 },
		{ "no_ota", 1, 0, 0x200000, 0x1E0000 },
		{ "noota_3g", 1, 0, 0x100000, 0x2E0000 },
		{ "minimal", 1, 0, 0x140000, 0xA0000 },
		{ "max_app_4MB", 0, 1, 0x3E0000, 0 },
		{ "default_8MB", 2, 0, 0x330000, 0x180000 },
		{ "default_16MB", 2, 0, 0x640000, 0x360000 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		view t;
		unsigned int k, ota = 0, factory = 0;
		uint32_t fs = 0;
		ASSERT_OK(load_builtin(&t, rows[i].name));
		ASSERT_STREQ(t.name, rows[i].name);
		for (k = 0; k < t.count; k++) {
			const espota_partition *p = &t.entries[k];
			if (p->type == 0) {
				ASSERT_EQ(p->size, rows[i].app);
				if (p->subtype == 0)
					factory++;
				else
					ota++;
			}
			if (p->type == 1 && (p->subtype == 0x81 || p->subtype == 0x82 || p->subtype == 0x83))
				fs = p->size;
		}
		ASSERT_EQ(ota, rows[i].ota);
		ASSERT_EQ(factory, rows[i].factory);
		ASSERT_EQ(fs, rows[i].fs);
	}
	{
		view t;
		ASSERT_EQ(load_builtin(&t, "nonexistent"), ESPOTA_EINVAL);
		ASSERT_OK(load_builtin(&t, "MIN_SPIFFS"));
	}
}

TEST_LIST_BEGIN
	TEST_ENTRY(test_csv_default)
	TEST_ENTRY(test_csv_syntax)
	TEST_ENTRY(test_csv_errors)
	TEST_ENTRY(test_bin_roundtrip)
	TEST_ENTRY(test_builtin_schemes)
TEST_LIST_END
