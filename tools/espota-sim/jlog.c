/* JSON-lines log: one object per device decision, flushed per line. */
#include "sim.h"

#include <inttypes.h>
#include <string.h>

static void put_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c); /* bytes, not UTF-8: keep it lossless */
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void emit(FILE *f, struct device *d, const char *event, const struct jlog_field *fl)
{
	double t = (double)(now_us() - d->sim->t0) / 1000.0;
	fprintf(f, "{\"t\":%.3f,\"dev\":%d,\"event\":\"%s\"", t, d->index, event);
	for (; fl && fl->key; fl++) {
		fprintf(f, ",\"%s\":", fl->key);
		switch (fl->type) {
		case 'i': fprintf(f, "%lld", fl->i); break;
		case 'b': fputs(fl->i ? "true" : "false", f); break;
		case 'f': fprintf(f, "%.3f", fl->f); break;
		case 's':
			if (fl->s)
				put_str(f, fl->s, strlen(fl->s));
			else
				fputs("null", f);
			break;
		case 'r': put_str(f, fl->s, fl->n); break;
		default: fputs("null", f);
		}
	}
	fputs("}\n", f);
	fflush(f);
}

void jlog(struct device *d, const char *event, const struct jlog_field *f)
{
	if (d->sim->log)
		emit(d->sim->log, d, event, f);
	if (d->sim->cfg.verbose)
		emit(stderr, d, event, f);
}
