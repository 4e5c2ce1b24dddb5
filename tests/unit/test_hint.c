/*
 * The advice table of docs/errors.md, row by row: each row names a
 * situation (built here under the row's id) and the phrases the advice must
 * and must not contain. The phrases are read from the document itself, so
 * the table cannot drift from the code, and every row must have a case here
 * (and every case a row).
 */
#include <espota.h>

#include "fit_builders.h"
#include "test.h"

#ifndef ESPOTA_DOCS
#define ESPOTA_DOCS ESPOTA_TEST_DATA "/../../docs"
#endif

typedef struct {
	const char *id;
	espota_hint_input in;
	espota_upload_stats st;
	espota_device_error de;
	espota_fit_report rep;
	int has_st, has_de, has_rep;
} hcase;

#define MAX_CASES 64
static hcase cases[MAX_CASES];
static size_t ncases;

static hcase *add(const char *id, int code, espota_phase phase)
{
	hcase *c = &cases[ncases++];

	ASSERT(ncases <= MAX_CASES);
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->st.struct_size = sizeof(c->st);
	c->rep.struct_size = sizeof(c->rep);
	ASSERT_OK(espota_hint_input_init(&c->in, ESPOTA_HINT_INPUT_VERSION));
	c->in.code = code;
	c->in.host = "192.168.4.20";
	c->in.port = 8266;
	c->in.password_given = 1;
	c->in.flags = ESPOTA_HINT_CLI;
	c->st.phase = phase;
	c->st.total = 2000;
	c->st.acked = 1000;
	c->st.local_port = 40000;
	c->has_st = 1;
	return c;
}

static hcase *device_error(const char *id, int n, espota_target target)
{
	hcase *c = add(id, ESPOTA_EREFUSED, ESPOTA_PHASE_INVITE);

	c->in.target = target;
	c->de.platform = ESPOTA_PLATFORM_ESP8266;
	c->st.platform = ESPOTA_PLATFORM_ESP8266;
	c->de.code = n;
	c->has_de = 1;
	return c;
}

static void build_cases(void)
{
	hcase *c;

	add("T1", ESPOTA_ETIMEOUT, ESPOTA_PHASE_INVITE);
	add("T2", ESPOTA_ETIMEOUT, ESPOTA_PHASE_INVITE)->in.since_success_ms = 5000;
	add("T3", ESPOTA_ETIMEOUT, ESPOTA_PHASE_INVITE)->in.since_success_ms = 70000;
	add("T4", ESPOTA_ETIMEOUT, ESPOTA_PHASE_AUTH);
	add("T5", ESPOTA_ETIMEOUT, ESPOTA_PHASE_CONNECT)->st.platform = ESPOTA_PLATFORM_ESP8266;
	add("T6", ESPOTA_ETIMEOUT, ESPOTA_PHASE_CONNECT)->st.platform = ESPOTA_PLATFORM_ESP32;
	add("T7", ESPOTA_ETIMEOUT, ESPOTA_PHASE_TRANSFER);
	add("T8", ESPOTA_ETIMEOUT, ESPOTA_PHASE_RESULT);
	add("A1", ESPOTA_EAUTH, ESPOTA_PHASE_AUTH)->in.password_given = 0;
	c = add("A2", ESPOTA_EAUTH, ESPOTA_PHASE_AUTH);
	c->in.password_given = 0;
	c->in.flags = 0;
	add("A3", ESPOTA_EAUTH, ESPOTA_PHASE_AUTH);
	add("C1", ESPOTA_ECLOSED, ESPOTA_PHASE_TRANSFER);
	c = add("R1", ESPOTA_ERESOLVE, ESPOTA_PHASE_RESOLVE);
	c->in.host = "nosuchhost.invalid";
	c = add("R2", ESPOTA_ERESOLVE, ESPOTA_PHASE_RESOLVE);
	c->in.host = "esp-kitchen.local";
	add("I1", ESPOTA_EIO, ESPOTA_PHASE_INVITE)->in.bind_given = 1;
	add("I2", ESPOTA_EIO, ESPOTA_PHASE_INVITE);
	add("I3", ESPOTA_EIO, ESPOTA_PHASE_INVITE)->in.since_success_ms = 3000;
	device_error("D1", 4, ESPOTA_TARGET_APP);
	device_error("D2", 4, ESPOTA_TARGET_FS);
	device_error("D3", 10, ESPOTA_TARGET_APP);
	device_error("D4", 8, ESPOTA_TARGET_APP);
	device_error("D5", 7, ESPOTA_TARGET_APP);
	device_error("D6", 4, ESPOTA_TARGET_APP)->de.platform = ESPOTA_PLATFORM_ESP32;
	device_error("D7", 8, ESPOTA_TARGET_APP)->de.platform = ESPOTA_PLATFORM_ESP32;
	device_error("D8", 10, ESPOTA_TARGET_APP)->de.platform = ESPOTA_PLATFORM_ESP32;
	device_error("D9", 5, ESPOTA_TARGET_APP)->de.platform = ESPOTA_PLATFORM_ESP32;
	c = add("P1", ESPOTA_ENOFIT, ESPOTA_PHASE_PREFLIGHT);
	c->rep.mistakes = ESPOTA_FIT_MISTAKE_TOO_BIG;
	c->rep.shrink_by = 100;
	c->rep.limit = 1000;
	c->has_rep = 1;
	c = add("P2", ESPOTA_ENOFIT, ESPOTA_PHASE_PREFLIGHT);
	c->rep.mistakes = ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS;
	c->has_rep = 1;
	c = add("P3", ESPOTA_ENOFIT, ESPOTA_PHASE_PREFLIGHT);
	c->rep.mistakes = ESPOTA_FIT_MISTAKE_TOO_BIG;
	c->rep.shrink_by = 100;
	c->rep.limit = 1000;
	c->has_rep = 1;
	c->in.flags = 0;
	add("M1", ESPOTA_EIMAGE, ESPOTA_PHASE_NONE);
	add("X1", ESPOTA_ECANCELLED, ESPOTA_PHASE_TRANSFER);
}

static const hcase *find(const char *id)
{
	size_t i;

	for (i = 0; i < ncases; i++)
		if (strcmp(cases[i].id, id) == 0)
			return &cases[i];
	return NULL;
}

/* The advice of a case; device error rows also get the device's explanation
 * (what the CLI prints as "meaning:"), so the doc can state both. */
static void advice_for(const hcase *c0, char *buf, size_t n)
{
	hcase c = *c0;
	int len;

	c.in.stats = c.has_st ? &c.st : NULL;
	if (c.has_de) {
		c.de.explanation = espota_device_error_explain(c.de.platform, c.de.code);
		c.in.device_error = &c.de;
	}
	c.in.report = c.has_rep ? &c.rep : NULL;
	len = espota_hint(buf, n, &c.in);
	ASSERT(len >= 0 && (size_t)len < n);
	if (c.has_de && c.de.explanation != NULL) {
		strncat(buf, "meaning: ", n - strlen(buf) - 1);
		strncat(buf, c.de.explanation, n - strlen(buf) - 1);
	}
}

/* Every `phrase` in one table cell, checked present (want) or absent. */
static void check_cell(const char *id, const char *cell, size_t len, const char *advice, int want, int *count)
{
	const char *p = cell, *end = cell + len;

	while (p < end) {
		const char *a = memchr(p, '`', (size_t)(end - p)), *b;
		char phrase[256];

		if (a == NULL)
			break;
		b = memchr(a + 1, '`', (size_t)(end - a - 1));
		ASSERT(b != NULL);
		ASSERT((size_t)(b - a - 1) < sizeof(phrase));
		memcpy(phrase, a + 1, (size_t)(b - a - 1));
		phrase[b - a - 1] = '\0';
		if (want && strstr(advice, phrase) == NULL)
			TEST_FAIL_("row %s: the advice lacks \"%s\":\n%s", id, phrase, advice);
		if (!want && strstr(advice, phrase) != NULL)
			TEST_FAIL_("row %s: the advice must not say \"%s\":\n%s", id, phrase, advice);
		(*count)++;
		p = b + 1;
	}
}

/* The rows of the table under "## <section>" in docs/errors.md: each
 * "| `id` | ... |" line, split into `ncols` cells (cols[i] points after the
 * i-th '|'; a cell ends at the next one). Calls fn for each; returns the
 * row count. */
typedef void (*row_fn)(const char *id, const char *const *cols, void *ctx);

static int table_rows(const char *section, size_t ncols, row_fn fn, void *ctx)
{
	FILE *f = fopen(ESPOTA_DOCS "/errors.md", "r");
	char line[2048];
	size_t seclen = strlen(section);
	int in_table = 0, rows = 0;

	ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *cols[8], *p, *idend;
		size_t ncol = 0;
		char id[16];

		if (strncmp(line, "## ", 3) == 0) {
			if (in_table)
				break;
			in_table = strncmp(line + 3, section, seclen) == 0 && line[3 + seclen] == '\n';
			continue;
		}
		if (!in_table || strncmp(line, "| `", 3) != 0)
			continue;
		idend = strchr(line + 3, '`');
		ASSERT(idend != NULL && (size_t)(idend - line - 3) < sizeof(id));
		memcpy(id, line + 3, (size_t)(idend - line - 3));
		id[idend - line - 3] = '\0';
		for (p = line; *p != '\0' && ncol < ncols && ncol < 8; p++)
			if (*p == '|')
				cols[ncol++] = p + 1;
		if (ncol != ncols)
			TEST_FAIL_("docs/errors.md row %s: %zu cells, expected %zu", id, ncol, ncols);
		fn(id, cols, ctx);
		rows++;
	}
	fclose(f);
	return rows;
}

#define CELL(cols, i) (cols)[i], (size_t)((cols)[(i) + 1] - (cols)[i] - 1)

/* | id | situation | advice says | never says | */
static void advice_row(const char *id, const char *const *cols, void *ctx)
{
	int *seen = ctx, must = 0, mustnot = 0;
	const hcase *c = find(id);
	char advice[4096];

	if (c == NULL)
		TEST_FAIL_("docs/errors.md row %s has no case in test_hint.c", id);
	seen[c - cases] = 1;
	advice_for(c, advice, sizeof(advice));
	check_cell(id, CELL(cols, 2), advice, 1, &must);
	check_cell(id, CELL(cols, 3), advice, 0, &mustnot);
	if (must == 0 && advice[0] != '\0')
		TEST_FAIL_("row %s expects no advice, got:\n%s", id, advice);
}

static void test_advice_table(void)
{
	int seen[MAX_CASES] = { 0 };
	size_t i;

	build_cases();
	ASSERT(table_rows("Advice", 5, advice_row, seen) > 0);
	for (i = 0; i < ncases; i++)
		if (!seen[i])
			TEST_FAIL_("case %s is not a row of the advice table in docs/errors.md", cases[i].id);
}

static void test_truncation_and_args(void)
{
	espota_hint_input in;
	char small[16];
	int need;

	ASSERT_EQ(espota_hint_input_init(&in, 0), ESPOTA_EINVAL);
	ASSERT_EQ(espota_hint_input_init(&in, ESPOTA_HINT_INPUT_VERSION + 1), ESPOTA_EINVAL);
	ASSERT_OK(espota_hint_input_init(&in, ESPOTA_HINT_INPUT_VERSION));
	in.code = ESPOTA_EIMAGE;
	need = espota_hint(NULL, 0, &in);
	ASSERT(need > (int)sizeof(small));
	ASSERT_EQ(espota_hint(small, sizeof(small), &in), need);
	ASSERT_EQ(strlen(small), sizeof(small) - 1);
	ASSERT_EQ(espota_hint(NULL, 5, &in), ESPOTA_EINVAL);
	in.version = 0;
	ASSERT_EQ(espota_hint(small, sizeof(small), &in), ESPOTA_EINVAL);
}

static void test_flag_names(void)
{
	uint32_t bit;
	int kinds[3] = { 'm', 'a', 'w' }, k, named = 0;

	ASSERT_STREQ(espota_fit_flag_name('m', ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS), "FIRMWARE_AS_FS");
	ASSERT_STREQ(espota_fit_flag_name('a', ESPOTA_FIT_ASSUME_RUNNING_SIZE), "RUNNING_SIZE");
	ASSERT_STREQ(espota_fit_flag_name('w', ESPOTA_FIT_WARN_GZIP_LOCKOUT), "GZIP_LOCKOUT");
	ASSERT(espota_fit_flag_name('m', 1u << 31) == NULL);
	ASSERT(espota_fit_flag_name('x', 1) == NULL);
	for (k = 0; k < 3; k++)
		for (bit = 1; bit != 0; bit <<= 1)
			if (espota_fit_flag_name(kinds[k], bit) != NULL) {
				ASSERT(espota_fit_flag_text(kinds[k], bit) != NULL);
				named++;
			}
	ASSERT_EQ(named, 11 + 7 + 6);
}

/* ---- preflight: one row per flash-fit mistake --------------------------- */

#define MB (1024u * 1024u)

typedef struct {
	const char *id;
	uint32_t mistake;
	espota_fit_report r;
} pcase;

static espota_fit_device dev8266(const char *layout, espota_target target)
{
	espota_fit_device d = ESPOTA_FIT_DEVICE_INIT;

	d.platform = ESPOTA_PLATFORM_ESP8266;
	d.target = target;
	d.layout = espota_layout_find(layout);
	ASSERT(d.layout != NULL);
	return d;
}

static void fit(pcase *c, const char *id, uint32_t mistake, const unsigned char *img, size_t len,
	const espota_fit_device *d)
{
	espota_image *obj = NULL;
	espota_image_info in = ESPOTA_IMAGE_INFO_INIT;
	int rc = espota_image_parse(&obj, img, len);

	ASSERT(obj != NULL);
	ASSERT_OK(espota_image_get_info(obj, &in));
	espota_image_free(obj);
	ASSERT(rc == ESPOTA_OK || in.kind == ESPOTA_IMAGE_ESP8266_V2);
	c->id = id;
	c->mistake = mistake;
	c->r.struct_size = sizeof(c->r);
	ASSERT_OK(espota_fit_check(&c->r, &in, d));
	if (!(c->r.mistakes & mistake))
		TEST_FAIL_("row %s: the situation does not give mistake 0x%x (got 0x%x): %s", id,
			(unsigned)mistake, (unsigned)c->r.mistakes, c->r.summary);
}

static size_t build_preflight(pcase *pc)
{
	size_t n = 0, zn;
	unsigned char *app = build_arduino(329008, 2, 3, 0), *big4m = build_arduino(329008, 4, 3, 0);
	unsigned char *e32 = build_esp32(1318256, 2, 0, 1), *z;
	static unsigned char fs[65536], v2[64];
	espota_partition_table *t = NULL;
	espota_fit_device d;

	memset(fs, 0xFF, sizeof(fs));
	memcpy(fs + 8, "littlefs", 8);
	memset(v2, 0, sizeof(v2));
	v2[0] = 0xEA;
	v2[1] = 4;

	d = dev8266("1M256", ESPOTA_TARGET_FS);
	fit(&pc[n++], "F1", ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS, app, 329008, &d);
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	fit(&pc[n++], "F2", ESPOTA_FIT_MISTAKE_FS_AS_FIRMWARE, fs, sizeof(fs), &d);
	d = dev8266("1M64", ESPOTA_TARGET_APP);
	d.chip_size = 1 * MB;
	d.device_header_size = 4 * MB;
	fit(&pc[n++], "F3", ESPOTA_FIT_MISTAKE_DEVICE_HEADER, app, 329008, &d);
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	d.chip_size = 1 * MB;
	d.device_header_size = 1 * MB;
	d.running_size = 329008;
	fit(&pc[n++], "F4", ESPOTA_FIT_MISTAKE_IMAGE_HEADER, big4m, 329008, &d);
	d = dev8266("4M2M", ESPOTA_TARGET_APP);
	fit(&pc[n++], "F5", ESPOTA_FIT_MISTAKE_WRONG_PLATFORM, e32, 1318256, &d);
	d = dev8266("1M64", ESPOTA_TARGET_APP);
	d.running_size = 700000;
	fit(&pc[n++], "F6", ESPOTA_FIT_MISTAKE_TOO_BIG, app, 329008, &d);
	z = gzip_buf(app, 329008, 0, &zn);
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	d.gzip_support = 0;
	fit(&pc[n++], "F7", ESPOTA_FIT_MISTAKE_GZIP_UNSUPPORTED, z, zn, &d);
	free(z);
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	d.signing_len = 256;
	fit(&pc[n++], "F8", ESPOTA_FIT_MISTAKE_NOT_SIGNED, app, 329008, &d);
	d = (espota_fit_device)ESPOTA_FIT_DEVICE_INIT;
	ASSERT_OK(espota_partition_table_builtin(&t, "huge_app"));
	d.partitions = t;
	fit(&pc[n++], "F9", ESPOTA_FIT_MISTAKE_NO_OTA_SLOT, e32, 1318256, &d);
	espota_partition_table_free(t);
	d = dev8266("4M1M", ESPOTA_TARGET_FS);
	d.chip_size = 1 * MB;
	d.device_header_size = 1 * MB;
	d.running_size = 329008;
	fit(&pc[n++], "F10", ESPOTA_FIT_MISTAKE_LAYOUT_BEYOND_CHIP, app, 329008, &d);
	d = dev8266("1M256", ESPOTA_TARGET_APP);
	fit(&pc[n++], "F11", ESPOTA_FIT_MISTAKE_WRONG_FORMAT, v2, sizeof(v2), &d);
	free(app);
	free(big4m);
	free(e32);
	return n;
}

/* "## Preflight advice": | row | situation | mistake | advice says | never
 * says |, checked against the report's summary and advice. */
typedef struct {
	pcase *pc;
	size_t n;
	int seen[16];
} ptable;

static void preflight_row(const char *id, const char *const *cols, void *ctx)
{
	ptable *t = ctx;
	const pcase *c = NULL;
	char text[4096];
	int must = 0, mustnot = 0;
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->pc[i].id, id) == 0)
			c = &t->pc[i];
	if (c == NULL)
		TEST_FAIL_("docs/errors.md preflight row %s has no case in test_hint.c", id);
	t->seen[c - t->pc] = 1;
	/* the mistake column names the flag the situation raises */
	snprintf(text, sizeof(text), "`%s`", espota_fit_flag_name('m', c->mistake));
	if (strstr(cols[2], text) == NULL || strstr(cols[2], text) > cols[3])
		TEST_FAIL_("row %s: the mistake column does not name %s", id, text);
	snprintf(text, sizeof(text), "%s\n%s", c->r.summary, c->r.advice);
	check_cell(id, CELL(cols, 3), text, 1, &must);
	check_cell(id, CELL(cols, 4), text, 0, &mustnot);
	ASSERT(must > 0);
}

static void test_preflight_table(void)
{
	pcase pc[16];
	ptable t;
	size_t i;

	memset(&t, 0, sizeof(t));
	t.pc = pc;
	t.n = build_preflight(pc);
	if (getenv("ESPOTA_HINT_PRINT"))
		for (i = 0; i < t.n; i++)
			fprintf(stderr, "%s: %s\n%s\n", pc[i].id, pc[i].r.summary, pc[i].r.advice);
	ASSERT_EQ(table_rows("Preflight advice", 6, preflight_row, &t), (int)t.n);
	for (i = 0; i < t.n; i++)
		if (!t.seen[i])
			TEST_FAIL_("case %s is not a row of the preflight table in docs/errors.md", pc[i].id);
	/* one row per mistake the fit check knows */
	ASSERT_EQ(t.n, 11);
}

TEST_LIST_BEGIN
	TEST_ENTRY(test_advice_table)
	TEST_ENTRY(test_preflight_table)
	TEST_ENTRY(test_truncation_and_args)
	TEST_ENTRY(test_flag_names)
TEST_LIST_END
