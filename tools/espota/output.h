/*
 * espota CLI - text and JSON formatting helpers (pure).
 */
#ifndef ESPOTA_CLI_OUTPUT_H
#define ESPOTA_CLI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

/* A JSON object written into a fixed buffer; truncation keeps it valid. */
struct cli_json {
	char *buf;
	size_t cap, len;
	int depth;
	int need_comma;
	int overflow;
	int skipped;     /* nested objects dropped on overflow */
	char closers[16];/* closing character of each open level (1..depth-1) */
};

void cli_json_begin(struct cli_json *j, char *buf, size_t cap);
void cli_json_str(struct cli_json *j, const char *key, const char *val); /* NULL -> null */
void cli_json_u64(struct cli_json *j, const char *key, uint64_t v);
void cli_json_i64(struct cli_json *j, const char *key, int64_t v);
void cli_json_bool(struct cli_json *j, const char *key, int v);
void cli_json_null(struct cli_json *j, const char *key);
void cli_json_obj(struct cli_json *j, const char *key);  /* open a nested object */
void cli_json_arr(struct cli_json *j, const char *key);  /* open a nested array */
void cli_json_item(struct cli_json *j);                  /* open an object inside an array */
void cli_json_close(struct cli_json *j);
void cli_json_elem_str(struct cli_json *j, const char *val); /* a string inside an array */
/* `text` ("- a\n  more\n- b\n") as the array ["a more", "b"] */
void cli_json_lines(struct cli_json *j, const char *key, const char *text);                 /* close the nested object or array */
/* Close every open object and append "\n"; returns the line length. */
size_t cli_json_end(struct cli_json *j);

/* "612.0 KiB", "1.2 MiB", "980 B" */
void cli_fmt_bytes(char *out, size_t n, double v);
/* "7s", "1m05s", "2h03m" */
void cli_fmt_duration(char *out, size_t n, uint64_t seconds);
/* A bar of `width` cells: "=====>    " */
void cli_fmt_bar(char *out, size_t n, uint64_t done, uint64_t total, unsigned width);

#endif
