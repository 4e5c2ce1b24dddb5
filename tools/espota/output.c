/*
 * espota CLI - text and JSON formatting helpers.
 */
#include "output.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Append raw text; on overflow stop writing and remember it. */
static void put(struct cli_json *j, const char *s, size_t n)
{
	/* Keep room for closing braces and the newline. */
	size_t reserve = (size_t)j->depth + 4;

	if (j->overflow || j->len + n + reserve > j->cap) {
		j->overflow = 1;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void puts_(struct cli_json *j, const char *s)
{
	put(j, s, strlen(s));
}

static void put_escaped(struct cli_json *j, const char *s)
{
	char tmp[8];
	const unsigned char *p = (const unsigned char *)s;

	put(j, "\"", 1);
	for (; *p != '\0'; p++) {
		switch (*p) {
		case '"': put(j, "\\\"", 2); break;
		case '\\': put(j, "\\\\", 2); break;
		case '\n': put(j, "\\n", 2); break;
		case '\r': put(j, "\\r", 2); break;
		case '\t': put(j, "\\t", 2); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
				put(j, tmp, 6);
			} else {
				put(j, (const char *)p, 1);
			}
		}
	}
	put(j, "\"", 1);
}

static void key(struct cli_json *j, const char *k)
{
	if (j->need_comma)
		put(j, ",", 1);
	put_escaped(j, k);
	put(j, ":", 1);
	j->need_comma = 1;
}

void cli_json_begin(struct cli_json *j, char *buf, size_t cap)
{
	memset(j, 0, sizeof(*j));
	j->buf = buf;
	j->cap = cap;
	if (cap > 0)
		buf[0] = '\0';
	j->depth = 1;
	put(j, "{", 1);
}

/* Members are written whole or not at all, so the object stays valid. */
struct mark { size_t len; int comma; };

static struct mark mark(const struct cli_json *j)
{
	struct mark m = { j->len, j->need_comma };
	return m;
}

static int rollback(struct cli_json *j, struct mark m)
{
	if (!j->overflow)
		return 0;
	j->len = m.len;
	if (j->cap > 0)
		j->buf[m.len] = '\0';
	j->need_comma = m.comma;
	return 1;
}

void cli_json_str(struct cli_json *j, const char *k, const char *v)
{
	struct mark m = mark(j);

	key(j, k);
	if (v == NULL)
		puts_(j, "null");
	else
		put_escaped(j, v);
	rollback(j, m);
}

void cli_json_u64(struct cli_json *j, const char *k, uint64_t v)
{
	struct mark m = mark(j);
	char tmp[32];

	key(j, k);
	snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	puts_(j, tmp);
	rollback(j, m);
}

void cli_json_i64(struct cli_json *j, const char *k, int64_t v)
{
	struct mark m = mark(j);
	char tmp[32];

	key(j, k);
	snprintf(tmp, sizeof(tmp), "%" PRId64, v);
	puts_(j, tmp);
	rollback(j, m);
}

void cli_json_bool(struct cli_json *j, const char *k, int v)
{
	struct mark m = mark(j);

	key(j, k);
	puts_(j, v ? "true" : "false");
	rollback(j, m);
}

void cli_json_null(struct cli_json *j, const char *k)
{
	struct mark m = mark(j);

	key(j, k);
	puts_(j, "null");
	rollback(j, m);
}

static void open_level(struct cli_json *j, const char *k, char open, char close)
{
	struct mark m = mark(j);

	if (j->depth >= (int)sizeof(j->closers)) {
		j->skipped++;
		return;
	}
	if (k != NULL) {
		key(j, k);
	} else {
		if (j->need_comma)
			put(j, ",", 1);
		j->need_comma = 1;
	}
	put(j, &open, 1);
	if (rollback(j, m)) {
		j->skipped++;
		return;
	}
	j->closers[j->depth] = close;
	j->depth++;
	j->need_comma = 0;
}

void cli_json_obj(struct cli_json *j, const char *k)
{
	open_level(j, k, '{', '}');
}

void cli_json_arr(struct cli_json *j, const char *k)
{
	open_level(j, k, '[', ']');
}

void cli_json_item(struct cli_json *j)
{
	open_level(j, NULL, '{', '}');
}

void cli_json_close(struct cli_json *j)
{
	if (j->skipped > 0) {
		j->skipped--;
		return;
	}
	if (j->depth > 1) {
		j->depth--;
		/* Reserved space guarantees this fits. */
		j->buf[j->len++] = j->closers[j->depth];
		j->buf[j->len] = '\0';
		j->need_comma = 1;
	}
}

size_t cli_json_end(struct cli_json *j)
{
	while (j->depth > 0) {
		j->depth--;
		j->buf[j->len++] = j->depth > 0 ? j->closers[j->depth] : '}';
	}
	j->buf[j->len++] = '\n';
	j->buf[j->len] = '\0';
	return j->len;
}

void cli_fmt_bytes(char *out, size_t n, double v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB" };
	unsigned u = 0;

	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%.0f %s", v, unit[u]);
	else
		snprintf(out, n, "%.1f %s", v, unit[u]);
}

void cli_fmt_duration(char *out, size_t n, uint64_t s)
{
	if (s < 60)
		snprintf(out, n, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(out, n, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(out, n, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s % 3600) / 60);
}

void cli_fmt_bar(char *out, size_t n, uint64_t done, uint64_t total, unsigned width)
{
	unsigned fill, i;

	if (n == 0)
		return;
	if (width + 1 > n)
		width = (unsigned)(n - 1);
	if (total == 0)
		total = 1;
	if (done > total)
		done = total;
	fill = (unsigned)((done * width) / total);
	for (i = 0; i < width; i++) {
		if (i < fill)
			out[i] = '=';
		else if (i == fill && done < total)
			out[i] = '>';
		else
			out[i] = ' ';
	}
	out[width] = '\0';
}

void cli_json_elem_str(struct cli_json *j, const char *v)
{
	struct mark m = mark(j);

	if (j->need_comma)
		put(j, ",", 1);
	j->need_comma = 1;
	put_escaped(j, v);
	rollback(j, m);
}

/* Advice text as an array of lines: "- " bullets lose their dash, an
 * indented line continues the item above it, empty lines go. */
void cli_json_lines(struct cli_json *j, const char *k, const char *text)
{
	char item[2048];
	size_t n = 0;
	const char *p = text ? text : "";

	cli_json_arr(j, k);
	while (*p != '\0') {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		int cont = len > 0 && (p[0] == ' ' || p[0] == '\t');

		if (!cont && n > 0) {
			item[n] = '\0';
			cli_json_elem_str(j, item);
			n = 0;
		}
		while (len > 0 && (*p == ' ' || *p == '\t'))
			p++, len--;
		if (!cont && len >= 2 && p[0] == '-' && p[1] == ' ')
			p += 2, len -= 2;
		if (len > 0) {
			if (n > 0 && n < sizeof(item) - 1)
				item[n++] = ' ';
			if (len > sizeof(item) - 1 - n)
				len = sizeof(item) - 1 - n;
			memcpy(item + n, p, len);
			n += len;
		}
		p = e ? e + 1 : p + strlen(p);
	}
	if (n > 0) {
		item[n] = '\0';
		cli_json_elem_str(j, item);
	}
	cli_json_close(j);
}
