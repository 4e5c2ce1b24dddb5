/*
 * espota - upload firmware or filesystem images to ArduinoOTA devices.
 *
 * A drop-in for espota.py (esp8266 and esp32 cores) on top of libespota's
 * public API: preflight fit check, progress, JSON events, clear errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "waitback.h"
#include "secret.h"

#define IMAGE_MAX ESPOTA_FILE_MAX
#define TTY_REDRAW_MS 100
#define JSON_PROGRESS_MS 250

/* ---- signals ------------------------------------------------------------- */

/* A host as the user gave it, fit to quote: printable ASCII only (others
 * as '?'), at most 48 characters and then "...". */
static const char *shown_host(char *dst, size_t dstlen, const char *host)
{
	size_t i, n = 0, max = dstlen > 4 ? dstlen - 4 : 0;

	for (i = 0; host[i] != '\0' && n < max && i < 48; i++)
		dst[n++] = (host[i] >= 0x20 && host[i] < 0x7F) ? host[i] : '?';
	if (host[i] != '\0' && dstlen >= 4) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	if (dstlen > 0)
		dst[n < dstlen ? n : dstlen - 1] = '\0';
	return dst;
}

static espota_session *volatile g_session;
static volatile sig_atomic_t g_cancelled;

static void on_signal(int sig)
{
	espota_session *s = g_session;

	cli_secret_restore_tty();
	if (g_cancelled) {
		/* Second interrupt: leave at once. */
		_exit(CLI_EXIT_CANCELLED);
	}
	g_cancelled = sig;
	/* Thread-safe and async-signal-safe; stops every device of a fleet. */
	if (s != NULL)
		espota_session_cancel(s);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a password prompt must wake up */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- small helpers --------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cli_exit_for(int rc)
{
	switch (rc) {
	case ESPOTA_OK: return CLI_EXIT_OK;
	case ESPOTA_EAUTH: return CLI_EXIT_AUTH;
	case ESPOTA_ETIMEOUT: return CLI_EXIT_TIMEOUT;
	case ESPOTA_EREFUSED: return CLI_EXIT_REFUSED;
	case ESPOTA_EIMAGE:
	case ESPOTA_ENOFIT: return CLI_EXIT_IMAGE;
	case ESPOTA_ECLOSED: return CLI_EXIT_CLOSED;
	case ESPOTA_ERESOLVE: return CLI_EXIT_RESOLVE;
	case ESPOTA_ECANCELLED: return CLI_EXIT_CANCELLED;
	case ESPOTA_EINVAL: return CLI_EXIT_USAGE;
	default: return CLI_EXIT_FAILED;
	}
}

static const char *platform_name(espota_platform p)
{
	switch (p) {
	case ESPOTA_PLATFORM_ESP8266: return "esp8266";
	case ESPOTA_PLATFORM_ESP32: return "esp32";
	default: return "unknown";
	}
}

static int is_app_kind(espota_image_kind k)
{
	return k == ESPOTA_IMAGE_ESP8266_ARDUINO || k == ESPOTA_IMAGE_ESP8266_BARE ||
		k == ESPOTA_IMAGE_ESP8266_V2 || k == ESPOTA_IMAGE_ESP32_APP;
}

/* ---- human output ------------------------------------------------------------ */

static int human(const struct app *a)
{
	return a->view != VIEW_JSON && a->view != VIEW_QUIET;
}

/* Erase the progress block so a message can be printed above it. */
static void block_erase(struct app *a)
{
	if (a->view == VIEW_TTY && a->block_lines > 0) {
		fprintf(stderr, "\033[%zuA\r\033[J", a->block_lines);
		a->block_lines = 0;
	}
}

static void block_draw(struct app *a, int force);

/* Print one message line on stderr, above the progress block. */
static void say(struct app *a, struct job *j, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct app *a, struct job *j, const char *fmt, ...)
{
	va_list ap;

	block_erase(a);
	if (a->view == VIEW_COMPAT)
		fputc('\n', stderr);
	if (a->multi && j != NULL)
		fprintf(stderr, "[%s] ", j->label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (a->view == VIEW_TTY && (a->multi || a->njobs == 0 || !a->jobs[0].finished))
		block_draw(a, 1);
	fflush(stderr);
}

static void emit_json(struct app *a, struct cli_json *j)
{
	size_t n = cli_json_end(j);

	(void)a;
	fwrite(j->buf, 1, n, stdout);
	fflush(stdout);
}

static void json_head(struct cli_json *j, char *buf, size_t cap, const char *event, const struct job *jb)
{
	cli_json_begin(j, buf, cap);
	cli_json_str(j, "event", event);
	cli_json_u64(j, "schema", CLI_JSON_SCHEMA);
	if (jb != NULL) {
		cli_json_u64(j, "index", jb->index);
		cli_json_str(j, "host", jb->host.host);
		cli_json_u64(j, "port", jb->port);
	}
}

static double rate_of(const struct job *j)
{
	uint64_t ms;

	if (j->transfer_start_ms == 0 || j->elapsed_ms <= j->transfer_start_ms)
		return 0.0;
	ms = j->elapsed_ms - j->transfer_start_ms;
	return ms > 0 ? (double)j->acked * 1000.0 / (double)ms : 0.0;
}

/* One line of the TTY block for a job. */
static void job_line(char *out, size_t n, const struct app *a, const struct job *j)
{
	char bar[64], done[32], total[32], rate[32], eta[32], status[48];
	unsigned pct = j->total ? (unsigned)(j->acked * 100 / j->total) : 0;
	double r = rate_of(j);
	int w = a->multi ? 24 : 30;

	cli_fmt_bar(bar, sizeof(bar), j->acked, j->total ? j->total : 1, (unsigned)w);
	cli_fmt_bytes(done, sizeof(done), (double)j->acked);
	cli_fmt_bytes(total, sizeof(total), (double)j->total);
	if (r > 0) {
		cli_fmt_bytes(rate, sizeof(rate), r);
		strncat(rate, "/s", sizeof(rate) - strlen(rate) - 1);
	} else {
		snprintf(rate, sizeof(rate), "-");
	}
	if (r > 0 && j->total > j->acked)
		cli_fmt_duration(eta, sizeof(eta), (uint64_t)((double)(j->total - j->acked) / r + 0.5));
	else
		snprintf(eta, sizeof(eta), "-");
	if (j->finished)
		snprintf(status, sizeof(status), "%s", j->exit_code == 0 ? "done" : "FAILED");
	else if (!j->started)
		snprintf(status, sizeof(status), "queued");
	else
		snprintf(status, sizeof(status), "%s", espota_phase_name(j->phase));
	if (a->multi)
		snprintf(out, n, "%-22.22s [%s] %3u%% %10s %12s ETA %-6s %s", j->label, bar, pct,
			done, rate, eta, status);
	else
		snprintf(out, n, "[%s] %3u%%  %s / %s  %s  ETA %s  %s", bar, pct, done, total, rate, eta,
			status);
}

/* Terminal height, for the compact fleet display. */
static size_t term_rows(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		return ws.ws_row;
	return 24;
}

/* The last line of the fleet display: counts and the aggregate rate. */
static void totals_line(char *out, size_t n, const struct app *a)
{
	size_t i, ok = 0, failed = 0, running = 0, queued = 0;
	double rate = 0;
	char r[32];

	for (i = 0; i < a->njobs; i++) {
		const struct job *j = &a->jobs[i];

		if (j->finished)
			(j->exit_code == 0 ? ok++ : failed++);
		else if (j->started)
			running++, rate += rate_of(j);
		else
			queued++;
	}
	cli_fmt_bytes(r, sizeof(r), rate);
	snprintf(out, n, "%zu devices: %zu ok, %zu failed, %zu running, %zu queued  %s/s", a->njobs, ok,
		failed, running, queued, r);
}

/*
 * Draw the progress block. One device: its bar. Several: one line per device
 * and a totals line; when they do not fit on the terminal, only the devices
 * in flight are listed (the totals line counts the rest).
 */
static void block_draw(struct app *a, int force)
{
	uint64_t t = now_ms();
	size_t i, lines = 0, room;
	char line[256];
	int all;

	if (a->view != VIEW_TTY)
		return;
	if (!force && a->block_lines > 0 && t - a->block_drawn_ms < TTY_REDRAW_MS)
		return;
	if (!a->multi && (a->njobs == 0 || a->jobs[0].phase < ESPOTA_PHASE_TRANSFER))
		return;
	if (a->block_lines > 0)
		fprintf(stderr, "\033[%zuA", a->block_lines);
	room = term_rows();
	room = room > 4 ? room - 2 : 2;
	all = !a->multi || a->njobs + 1 <= room;
	for (i = 0; i < a->njobs && lines + (a->multi ? 1 : 0) < room; i++) {
		const struct job *j = &a->jobs[i];

		if (!all && (!j->started || j->finished))
			continue;
		job_line(line, sizeof(line), a, j);
		fprintf(stderr, "\r\033[K%s\n", line);
		lines++;
	}
	if (a->multi) {
		totals_line(line, sizeof(line), a);
		fprintf(stderr, "\r\033[K%s\n", line);
		lines++;
	}
	fprintf(stderr, "\033[J");
	a->block_lines = lines;
	a->block_drawn_ms = t;
	fflush(stderr);
}

/* ---- library callbacks --------------------------------------------------------- */

static const char *level_name(espota_log_level l)
{
	switch (l) {
	case ESPOTA_LOG_ERROR: return "error";
	case ESPOTA_LOG_WARN: return "warning";
	case ESPOTA_LOG_INFO: return "info";
	default: return "debug";
	}
}

/*
 * The device a log line is about: the fleet driver prefixes its lines with
 * "[<index> <host>:<port>] ", the index being the job's position.
 */
static struct job *job_for_log(struct app *a, const char **message)
{
	const char *m = *message, *end;
	char *num_end;
	unsigned long idx;

	if (!a->multi)
		return a->njobs > 0 ? &a->jobs[0] : NULL;
	if (m[0] != '[' || (end = strstr(m, "] ")) == NULL)
		return NULL;
	idx = strtoul(m + 1, &num_end, 10);
	if (num_end == m + 1 || *num_end != ' ' || idx >= a->njobs)
		return NULL;
	*message = end + 2;
	return &a->jobs[idx];
}

static void on_log(espota_log_level level, const char *message, void *payload)
{
	struct app *a = payload;
	struct job *j = job_for_log(a, &message);
	char reboot[512];

	/* The CLI prints its own preflight report. */
	if (!a->cli.debug && strncmp(message, "preflight", 9) == 0)
		return;
	/* Failures are reported once, from espota_session_last_error(). */
	if (!a->cli.debug && level == ESPOTA_LOG_ERROR)
		return;
	/* Retrying a device that took an update a moment ago: say why it is
	 * silent (recent.c). */
	if (j != NULL && j->since_success_ms > 0 && strncmp(message, "no answer to invitation", 23) == 0) {
		snprintf(reboot, sizeof(reboot), "%s (it confirmed an update %" PRIu64 " s ago and is "
			"probably still rebooting)", message, (j->since_success_ms + 999) / 1000);
		message = reboot;
	}
	if (a->view == VIEW_JSON) {
		char buf[2048];
		struct cli_json js;

		json_head(&js, buf, sizeof(buf), "log", j);
		cli_json_str(&js, "level", level_name(level));
		cli_json_str(&js, "message", message);
		emit_json(a, &js);
		return;
	}
	if (a->view == VIEW_QUIET && level > ESPOTA_LOG_ERROR)
		return;
	say(a, j, "%s: %s", level_name(level), message);
}

static void phase_message(struct app *a, struct job *j, espota_phase p)
{
	switch (p) {
	case ESPOTA_PHASE_INVITE:
		say(a, j, "Sending invitation to %s port %u", j->host.host, (unsigned)j->port);
		break;
	case ESPOTA_PHASE_AUTH:
		say(a, j, "Authenticating...");
		break;
	case ESPOTA_PHASE_CONNECT:
		say(a, j, "Waiting for the device to connect back...");
		break;
	case ESPOTA_PHASE_TRANSFER:
		say(a, j, "Uploading %" PRIu64 " bytes", j->total);
		break;
	case ESPOTA_PHASE_RESULT:
		if (a->view != VIEW_TTY)
			say(a, j, "Waiting for the result...");
		break;
	default:
		break;
	}
}

static void compat_bar(struct app *a, struct job *j, unsigned pct)
{
	char bar[61];
	unsigned fill = pct * 60 / 100, i;

	(void)a;
	for (i = 0; i < 60; i++)
		bar[i] = i < fill ? '=' : ' ';
	bar[60] = '\0';
	fprintf(stderr, "\rUploading: [%s] %u%% %s", bar, pct, pct >= 100 ? "Done...\r\n" : "");
	fflush(stderr);
	(void)j;
}

static int on_progress_job(const espota_progress *p, struct job *j)
{
	struct app *a = j->app;
	int phase_changed = p->phase != j->phase;
	uint64_t t = now_ms();
	unsigned pct;

	j->phase = p->phase;
	j->sent = p->sent;
	j->acked = p->acked;
	j->total = p->total;
	j->elapsed_ms = p->elapsed_ms;
	if (p->phase == ESPOTA_PHASE_TRANSFER && j->transfer_start_ms == 0)
		j->transfer_start_ms = p->elapsed_ms ? p->elapsed_ms : 1;
	pct = p->total ? (unsigned)(p->acked * 100 / p->total) : 0;

	switch (a->view) {
	case VIEW_JSON:
		if (phase_changed) {
			char buf[512];
			struct cli_json js;

			json_head(&js, buf, sizeof(buf), "phase", j);
			cli_json_str(&js, "phase", espota_phase_name(p->phase));
			cli_json_u64(&js, "attempt", p->attempt);
			cli_json_u64(&js, "elapsed_ms", p->elapsed_ms);
			emit_json(a, &js);
		}
		if (p->phase >= ESPOTA_PHASE_TRANSFER &&
			(t - j->last_emit_ms >= JSON_PROGRESS_MS || p->acked == p->total || phase_changed)) {
			char buf[512];
			struct cli_json js;

			j->last_emit_ms = t;
			json_head(&js, buf, sizeof(buf), "progress", j);
			cli_json_u64(&js, "sent", p->sent);
			cli_json_u64(&js, "acked", p->acked);
			cli_json_u64(&js, "total", p->total);
			cli_json_u64(&js, "percent", pct);
			cli_json_u64(&js, "elapsed_ms", p->elapsed_ms);
			cli_json_u64(&js, "bytes_per_second", (uint64_t)rate_of(j));
			emit_json(a, &js);
		}
		break;
	case VIEW_QUIET:
		break;
	case VIEW_PLAIN:
		if (phase_changed && !a->multi)
			phase_message(a, j, p->phase);
		if (p->phase >= ESPOTA_PHASE_TRANSFER) {
			int dec = (int)(pct / 10);

			if (dec > j->last_decile) {
				j->last_decile = dec;
				say(a, j, "%3u%% (%" PRIu64 " of %" PRIu64 " bytes)", pct, p->acked, p->total);
			}
		}
		break;
	case VIEW_COMPAT:
		if (phase_changed && !a->multi && p->phase < ESPOTA_PHASE_TRANSFER)
			phase_message(a, j, p->phase);
		if (p->phase >= ESPOTA_PHASE_TRANSFER && (int)pct != j->last_pct) {
			j->last_pct = (int)pct;
			compat_bar(a, j, pct);
		}
		break;
	case VIEW_TTY:
		if (phase_changed && !a->multi && p->phase != ESPOTA_PHASE_TRANSFER)
			phase_message(a, j, p->phase);
		block_draw(a, phase_changed || p->acked == p->total);
		break;
	}
	return 0;
}

static int on_progress(const espota_progress *p, void *payload)
{
	struct app *a = payload;

	return on_progress_job(p, &a->jobs[0]);
}

/* The job an auth request is for: the fleet hands back the host pointer of
 * our device array (jobs[i].host.host); match it, then by name. */
static struct job *job_for_host(struct app *a, const char *host)
{
	size_t i;

	for (i = 0; i < a->njobs; i++)
		if (a->jobs[i].host.host == host)
			return &a->jobs[i];
	for (i = 0; i < a->njobs; i++)
		if (host != NULL && strcmp(a->jobs[i].host.host, host) == 0)
			return &a->jobs[i];
	return NULL;
}

static int on_auth(espota_auth_request *req, const char *host, espota_auth_scheme scheme, void *payload)
{
	struct app *a = payload;
	struct job *j = job_for_host(a, host);
	struct job dummy;
	char prompt[CLI_HOST_MAX + 64];
	int rc;

	(void)scheme;
	if (j == NULL) {
		memset(&dummy, 0, sizeof(dummy));
		j = &dummy;
	}
	j->auth_asked = 1;
	if (a->cli.no_prompt || !isatty(STDIN_FILENO) || a->view == VIEW_JSON) {
		j->auth_none = 1;
		return 1;
	}
	if (a->prompted == NULL && !a->prompt_failed) {
		block_erase(a);
		fflush(stderr);
		snprintf(prompt, sizeof(prompt), "%s for %s: ", "OTA password", a->multi ? "all devices" : host);
		rc = cli_secret_prompt(prompt, &a->prompted);
		if (rc != 0)
			a->prompt_failed = rc < 0 ? -1 : 1;
	}
	if (a->prompted != NULL) {
		rc = espota_auth_request_set_password(req, a->prompted);
		j->password_from_prompt = 1;
	} else {
		rc = a->prompt_failed < 0 ? ESPOTA_ECANCELLED : 1;
		if (rc > 0)
			j->auth_none = 1;
	}
	return rc;
}

/* ---- results -------------------------------------------------------------------- */

/* The advice comes from the library (espota_hint), worded for the CLI. */
static void explain_failure(struct app *a, struct job *j)
{
	espota_hint_input in;

	espota_hint_input_init(&in, ESPOTA_HINT_INPUT_VERSION);
	in.code = j->rc;
	in.stats = &j->stats;
	in.device_error = j->have_device_error ? &j->device_error : NULL;
	in.report = a->have_fit ? &a->report : NULL;
	in.target = a->cli.spiffs ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP;
	in.platform = a->platform;
	in.host = j->host.host;
	in.port = j->port;
	in.password_given = !j->auth_none;
	in.bind_given = a->cli.host_ip != NULL || a->cli.host_port != 0;
	in.since_success_ms = j->since_success_ms;
	in.flags = ESPOTA_HINT_CLI;
	j->hint[0] = '\0';
	if (j->rc != ESPOTA_OK && j->rc != ESPOTA_ECANCELLED)
		espota_hint(j->hint, sizeof(j->hint), &in);
}

/* Advice with the CLI's wording, for an error outside any upload. */
static const char *cli_hint(char *buf, size_t n, int code)
{
	espota_hint_input in;

	espota_hint_input_init(&in, ESPOTA_HINT_INPUT_VERSION);
	in.code = code;
	in.flags = ESPOTA_HINT_CLI;
	espota_hint(buf, n, &in);
	return buf;
}

/* Each advice line as "hint: ...". */
static void say_hint(struct app *a, struct job *j, const char *text)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, '\n');
		int len = e ? (int)(e - p) : (int)strlen(p);

		if (len > 0)
			say(a, j, "hint: %.*s", len, p);
		p = e ? e + 1 : NULL;
	}
}

static void report_json_result(struct app *a, struct job *j)
{
	char buf[8192];
	struct cli_json js;
	const espota_upload_stats *st = &j->stats;

	json_head(&js, buf, sizeof(buf), "result", j);
	cli_json_bool(&js, "ok", j->rc == ESPOTA_OK);
	cli_json_i64(&js, "exit_code", j->exit_code);
	cli_json_i64(&js, "code", j->rc);
	cli_json_str(&js, "error", j->rc ? espota_error_name(j->rc) : NULL);
	cli_json_str(&js, "message", j->rc ? j->message : "");
	cli_json_lines(&js, "advice", j->hint);
	cli_json_u64(&js, "attempts", j->attempts ? j->attempts : 1);
	if (j->have_device_error) {
		const espota_device_error *d = &j->device_error;

		cli_json_obj(&js, "device_error");
		cli_json_i64(&js, "code", d->code);
		cli_json_str(&js, "name", d->name);
		cli_json_str(&js, "text", d->text);
		cli_json_str(&js, "explanation", d->explanation);
		cli_json_str(&js, "raw", d->raw);
		cli_json_str(&js, "platform", platform_name(d->platform));
		cli_json_close(&js);
	} else {
		cli_json_null(&js, "device_error");
	}
	cli_json_obj(&js, "stats");
	cli_json_str(&js, "phase", espota_phase_name(st->phase));
	cli_json_str(&js, "platform", platform_name(st->platform));
	cli_json_u64(&js, "total", st->total);
	cli_json_u64(&js, "original_size", st->original_size);
	cli_json_u64(&js, "sent", st->sent);
	cli_json_u64(&js, "acked", st->acked);
	cli_json_u64(&js, "elapsed_ms", st->elapsed_ms);
	cli_json_u64(&js, "transfer_ms", st->transfer_ms);
	cli_json_u64(&js, "invitations", st->invitations);
	cli_json_u64(&js, "local_port", st->local_port);
	cli_json_u64(&js, "device_mss", st->device_mss);
	cli_json_str(&js, "ack_rule", st->ack_rule == ESPOTA_ACK_RULE_COUNTS ? "counts" :
		st->ack_rule == ESPOTA_ACK_RULE_DEVICE_OK ? "device_ok" : NULL);
	cli_json_close(&js);
	emit_json(a, &js);
}

static void report_result(struct app *a, struct job *j)
{
	const espota_upload_stats *st = &j->stats;

	if (a->view == VIEW_JSON) {
		report_json_result(a, j);
		return;
	}
	if (j->rc == ESPOTA_OK) {
		if (a->view != VIEW_QUIET) {
			char sz[32], rate[32];
			double secs = (double)st->elapsed_ms / 1000.0;
			double r = st->transfer_ms ? (double)st->total * 1000.0 / (double)st->transfer_ms : 0;

			cli_fmt_bytes(sz, sizeof(sz), (double)st->total);
			cli_fmt_bytes(rate, sizeof(rate), r);
			say(a, j, "Success: %" PRIu64 " bytes (%s) in %.1f s, %s/s; the device confirmed the update.",
				st->total, sz, secs, rate);
		}
		return;
	}
	say(a, j, "error: %s", j->message);
	if (j->have_device_error) {
		const espota_device_error *d = &j->device_error;

		if (strstr(j->message, d->raw) == NULL)
			say(a, j, "device said: %s", d->raw);
		if (d->explanation != NULL && d->explanation[0] != '\0')
			say(a, j, "meaning: %s", d->explanation);
	}
	say_hint(a, j, j->hint);
}

/* ---- one device -------------------------------------------------------------------- */

static int resolve_job_password(struct app *a, struct job *j)
{
	if (j->host.password_env[0] != '\0') {
		const char *v = getenv(j->host.password_env);

		if (v != NULL && v[0] != '\0') {
			j->password = cli_secret_dup(v);
			return j->password != NULL ? 0 : -1;
		}
		say(a, j, "warning: %s (hosts file line %u) is not set; using the default password",
			j->host.password_env, j->host.line);
	}
	if (a->password != NULL) {
		j->password = cli_secret_dup(a->password);
		return j->password != NULL ? 0 : -1;
	}
	return 0;
}

/* The options every upload shares (host, port and password are per device). */
static void base_options(struct app *a, espota_upload_options *o)
{
	espota_upload_options_init(o, ESPOTA_UPLOAD_OPTIONS_VERSION);
	o->bind_address = a->cli.host_ip;
	o->bind_port = (uint16_t)a->cli.host_port;
	o->target = a->cli.spiffs ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP;
	o->auth_mode = a->cli.md5_target ? ESPOTA_AUTH_MODE_MD5 :
		a->cli.sha256_only ? ESPOTA_AUTH_MODE_SHA256 : ESPOTA_AUTH_MODE_AUTO;
	o->filename = a->file;
	if (a->cli.timeout_s > 0)
		o->timeouts.invite_ms = (unsigned int)a->cli.timeout_s * 1000u;
	if (a->cli.attempts > 0)
		o->timeouts.invite_attempts = (unsigned int)a->cli.attempts;
	o->transfer = a->cli.stop_and_wait ? ESPOTA_TRANSFER_STOP_AND_WAIT :
		a->cli.stream ? ESPOTA_TRANSFER_STREAM : ESPOTA_TRANSFER_PIPELINED;
	o->chunk_size = a->cli.chunk;
	o->window = a->cli.window;
	if (a->cli.min_rate_set)
		o->min_rate = a->cli.min_rate ? (uint32_t)a->cli.min_rate : ESPOTA_MIN_RATE_OFF;
	o->compress = a->cli.compress;
	o->fit = a->have_fit ? &a->fit : NULL;
	o->force = a->cli.force;
	o->platform = a->platform;
	o->auth = on_auth;
	o->payload = a;
}

/* Record a device's outcome, redraw and report it. */
static void finish_job(struct app *a, struct job *j, int rc, const espota_upload_stats *st,
	const char *message, const espota_device_error *de)
{
	if (j->finished)
		return;
	j->rc = rc;
	if (st != NULL)
		j->stats = *st;
	/* The fleet reports the sent size; the CLI shows the file's size. */
	j->stats.original_size = a->image_len;
	snprintf(j->message, sizeof(j->message), "%s", message != NULL ? message : "");
	if (j->message[0] == '\0' && j->rc != ESPOTA_OK)
		snprintf(j->message, sizeof(j->message), "%s", espota_strerror(j->rc));
	if (de != NULL) {
		j->device_error = *de;
		j->have_device_error = 1;
	}
	if (g_cancelled && j->rc != ESPOTA_OK)
		j->rc = ESPOTA_ECANCELLED;
	j->exit_code = cli_exit_for(j->rc);
	if (j->rc == ESPOTA_OK)
		cli_recent_success_record(j->host.host, j->port);
	explain_failure(a, j);
	j->finished = 1;
	if (a->view == VIEW_TTY)
		block_draw(a, 1);
	report_result(a, j);
}

/* One device: espota_upload() on the session, as espota.py would. */
static void run_single(struct app *a, struct job *j)
{
	espota_upload_options o;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
	int rc;

	base_options(a, &o);
	o.host = j->host.host;
	o.port = j->port;
	o.progress = on_progress;
	o.payload = a;
	j->started = 1;
	j->attempts = 1;
	if (resolve_job_password(a, j) < 0) {
		rc = ESPOTA_ENOMEM;
	} else {
		o.password = j->password;
		rc = g_cancelled ? ESPOTA_ECANCELLED : espota_upload(a->session, a->image, a->image_len, &o);
	}
	cli_secret_free(j->password);
	j->password = NULL;
	espota_session_stats(a->session, &st);
	finish_job(a, j, rc, &st, espota_session_last_error(a->session), espota_session_device_error(a->session));
}

/* --wait-back (waitback.c): the device answering again after its OK. */
static void wait_back(struct app *a, struct job *j)
{
	uint16_t port = j->port ? j->port : (j->stats.platform == ESPOTA_PLATFORM_ESP32 ?
		ESPOTA_PORT_ESP32 : ESPOTA_PORT_ESP8266);
	char err[256] = "", buf[1024];
	double back = 0;
	int r = cli_wait_back(j->host.host, port, (double)a->cli.wait_back_s, &back, err, sizeof(err));

	if (a->view == VIEW_JSON) {
		struct cli_json js;
		json_head(&js, buf, sizeof(buf), "back", j);
		cli_json_bool(&js, "back", r == 0);
		cli_json_u64(&js, "ms", r == 0 ? (uint64_t)(back * 1000.0) : 0);
		cli_json_str(&js, "error", r == 0 ? NULL : err);
		emit_json(a, &js);
	} else if (r == 0) {
		if (a->view != VIEW_QUIET)
			say(a, j, "%s: back after %.1f s", j->label, back);
	} else {
		say(a, j, "%s: %s", j->label, err);
	}
	if (r != 0)
		j->exit_code = r > 0 ? CLI_EXIT_TIMEOUT : CLI_EXIT_FAILED;
}

/* ---- several devices: one espota_fleet_upload() ------------------------------------ */

static int on_fleet_progress(size_t index, const espota_progress *p, void *payload)
{
	struct app *a = payload;
	struct job *j;
	unsigned int attempt;

	if (index >= a->njobs)
		return 0;
	j = &a->jobs[index];
	attempt = p->tries ? p->tries : 1;
	if (j->started && attempt != j->attempts) {
		/* A retry: the progress of the earlier attempt no longer counts. */
		j->transfer_start_ms = 0;
		j->last_decile = 0;
		j->last_pct = -1;
		j->phase = ESPOTA_PHASE_NONE;
		if (a->view == VIEW_JSON) {
			char buf[1024];
			struct cli_json js;

			json_head(&js, buf, sizeof(buf), "retry", j);
			cli_json_u64(&js, "attempt", attempt);
			emit_json(a, &js);
		}
	}
	j->attempts = attempt;
	j->started = 1;
	return on_progress_job(p, j);
}

static void on_fleet_done(size_t index, const espota_transfer *r, void *payload)
{
	struct app *a = payload;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
	struct job *j;

	if (index >= a->njobs)
		return;
	j = &a->jobs[index];
	j->attempts = espota_transfer_attempts(r);
	espota_transfer_stats(r, &st);
	finish_job(a, j, espota_transfer_result(r), &st, espota_transfer_error(r),
		espota_transfer_device_error(r));
}

static void run_fleet(struct app *a)
{
	espota_upload_options base;
	espota_fleet_options fo;
	espota_fleet_device *devs;
	size_t i;
	int rc;

	devs = calloc(a->njobs, sizeof(*devs));
	if (devs == NULL) {
		for (i = 0; i < a->njobs; i++)
			finish_job(a, &a->jobs[i], ESPOTA_ENOMEM, NULL, "out of memory", NULL);
		free(devs);
		return;
	}
	base_options(a, &base);
	for (i = 0; i < a->njobs; i++) {
		struct job *j = &a->jobs[i];

		if (resolve_job_password(a, j) < 0) {
			finish_job(a, j, ESPOTA_ENOMEM, NULL, "out of memory", NULL);
			goto out;
		}
		devs[i].host = j->host.host;
		devs[i].port = j->port;
		devs[i].password = j->password; /* this device's, or the global one, or NULL: ask */
	}
	espota_fleet_options_init(&fo, ESPOTA_FLEET_OPTIONS_VERSION);
	fo.max_concurrent = (unsigned int)a->cli.parallel;
	fo.retries = (unsigned int)a->cli.retries;
	fo.device_deadline_ms = (unsigned int)a->cli.device_timeout_s * 1000u;
	fo.progress = on_fleet_progress;
	fo.done = on_fleet_done;
	fo.payload = a;

	rc = g_cancelled ? ESPOTA_ECANCELLED :
		espota_fleet_upload(a->session, a->image, a->image_len, &base, devs, a->njobs, &fo);

	/* Devices the fleet never finished: nothing could start (rc is the
	 * reason), or a cancel came first. */
	for (i = 0; i < a->njobs; i++) {
		struct job *j = &a->jobs[i];

		if (j->finished)
			continue;
		if (rc != ESPOTA_OK && rc != ESPOTA_ERROR && rc != ESPOTA_ECANCELLED)
			finish_job(a, j, rc, NULL, espota_session_last_error(a->session), NULL);
		else
			finish_job(a, j, rc == ESPOTA_OK ? ESPOTA_OK : ESPOTA_ECANCELLED, NULL, NULL, NULL);
	}
out:
	for (i = 0; i < a->njobs; i++) {
		cli_secret_free(a->jobs[i].password);
		a->jobs[i].password = NULL;
	}
	free(devs);
}

/* ---- preparation ---------------------------------------------------------------- */

/* Every file the CLI reads goes through the library's reader: FIFOs,
 * directories and devices are refused before a byte is read (file.h). */
static int read_file(const char *path, unsigned char **out, size_t *len, size_t max, char *err, size_t errlen)
{
	espota_file *f = NULL;
	const unsigned char *data;
	int rc = espota_file_read(&f, path, max);

	*out = NULL;
	*len = 0;
	if (rc < 0) {
		snprintf(err, errlen, "%s", f != NULL ? espota_file_error(f) : espota_strerror(rc));
		espota_file_free(f);
		return -1;
	}
	/* A copy the CLI owns (and frees with free()), NUL-terminated. */
	data = espota_file_data(f, len);
	if ((*out = malloc(*len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory reading %s", path);
		espota_file_free(f);
		return -1;
	}
	memcpy(*out, data, *len);
	(*out)[*len] = '\0';
	espota_file_free(f);
	return 0;
}

/* Errors before any upload: printed plainly, or as a JSON "error" event. */
static int early_error(struct app *a, int code, const char *name, const char *msg, const char *hint)
{
	if (a->view == VIEW_JSON) {
		char buf[4096];
		struct cli_json js;

		json_head(&js, buf, sizeof(buf), "result", NULL);
		cli_json_bool(&js, "ok", 0);
		cli_json_i64(&js, "exit_code", code);
		cli_json_str(&js, "error", name);
		cli_json_str(&js, "message", msg);
		cli_json_lines(&js, "advice", hint);
		emit_json(a, &js);
	}
	fprintf(stderr, "espota: error: %s\n", msg);
	if (hint != NULL && a->view != VIEW_JSON)
		say_hint(a, NULL, hint);
	return code;
}

/* Build the fit device from --board/--layout/--scheme/--partitions. */
static int build_fit(struct app *a, char *err, size_t errlen)
{
	const struct cli *c = &a->cli;
	const espota_board *b = NULL;

	espota_fit_device_init(&a->fit, ESPOTA_FIT_DEVICE_VERSION);
	a->fit.target = c->spiffs ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP;
	if (c->board == NULL && c->layout == NULL && c->scheme == NULL && c->partitions == NULL)
		return 0;
	if (c->board != NULL) {
		b = espota_board_find(c->board);
		if (b == NULL) {
			snprintf(err, errlen, "unknown board '%s' (see --list-boards)", c->board);
			return -1;
		}
		a->fit.platform = b->platform;
		a->fit.chip_size = b->flash_size;
		if (b->platform == ESPOTA_PLATFORM_ESP8266) {
			a->fit.layout = espota_layout_find(b->layout);
		} else if (b->platform == ESPOTA_PLATFORM_ESP32 && c->scheme == NULL && c->partitions == NULL) {
			espota_partition_table_free(a->parts);
			if (espota_partition_table_builtin(&a->parts, b->layout) == ESPOTA_OK)
				a->fit.partitions = a->parts;
		}
	}
	if (c->layout != NULL) {
		a->fit.layout = espota_layout_find(c->layout);
		if (a->fit.layout == NULL) {
			snprintf(err, errlen, "unknown layout '%s' (see --list-boards)", c->layout);
			return -1;
		}
		a->fit.platform = ESPOTA_PLATFORM_ESP8266;
	}
	if (c->scheme != NULL) {
		espota_partition_table_free(a->parts);
		if (espota_partition_table_builtin(&a->parts, c->scheme) != ESPOTA_OK) {
			snprintf(err, errlen, "unknown partition scheme '%s'", c->scheme);
			return -1;
		}
		a->fit.partitions = a->parts;
		a->fit.platform = ESPOTA_PLATFORM_ESP32;
	}
	if (c->partitions != NULL) {
		unsigned char *csv;
		size_t len;

		if (read_file(c->partitions, &csv, &len, 1024 * 1024, err, errlen) < 0)
			return -1;
		espota_partition_table_free(a->parts);
		if (espota_partition_table_parse_csv(&a->parts, (const char *)csv, len) != ESPOTA_OK) {
			snprintf(err, errlen, "%s: %s", c->partitions, a->parts != NULL ?
				espota_partition_table_error(a->parts) : "out of memory");
			free(csv);
			return -1;
		}
		free(csv);
		a->fit.partitions = a->parts;
		a->fit.platform = ESPOTA_PLATFORM_ESP32;
	}
	if (c->platform == CLI_PLATFORM_ESP8266)
		a->fit.platform = ESPOTA_PLATFORM_ESP8266;
	else if (c->platform == CLI_PLATFORM_ESP32)
		a->fit.platform = ESPOTA_PLATFORM_ESP32;
	if (c->chip_size)
		a->fit.chip_size = c->chip_size;
	a->fit.device_header_size = c->device_header_size;
	a->fit.running_size = c->running_size;
	a->fit.flash_map = c->flash_map;
	if (c->compress)
		a->fit.gzip_support = -1;
	a->have_fit = 1;
	return 0;
}

static void decide_platform(struct app *a)
{
	const struct cli *c = &a->cli;

	if (c->platform == CLI_PLATFORM_ESP8266)
		a->platform = ESPOTA_PLATFORM_ESP8266;
	else if (c->platform == CLI_PLATFORM_ESP32)
		a->platform = ESPOTA_PLATFORM_ESP32;
	else if (a->have_fit && a->fit.platform != ESPOTA_PLATFORM_UNKNOWN)
		a->platform = a->fit.platform;
	else if (c->md5_target || c->sha256_only)
		a->platform = ESPOTA_PLATFORM_ESP32;
	else if (a->info_ok && is_app_kind(a->info.kind))
		a->platform = a->info.platform;
	else
		a->platform = ESPOTA_PLATFORM_UNKNOWN;
}

static const char *fit_when_name(espota_fit_when w)
{
	switch (w) {
	case ESPOTA_FIT_WHEN_BEFORE_DATA: return "before-data";
	case ESPOTA_FIT_WHEN_FIRST_BLOCK: return "first-block";
	case ESPOTA_FIT_WHEN_AFTER_UPLOAD: return "after-upload";
	case ESPOTA_FIT_WHEN_DURING_UPLOAD: return "during-upload";
	default: return NULL;
	}
}

/* Flash-fit flags by name (as Python and Lua give them); with `texts`,
 * as {"name", "text"} objects. */
static void json_flags(struct cli_json *js, const char *key, int kind, uint32_t bits, int texts)
{
	uint32_t bit;

	cli_json_arr(js, key);
	for (bit = 1; bit != 0; bit <<= 1) {
		const char *name;

		if (!(bits & bit) || (name = espota_fit_flag_name(kind, bit)) == NULL)
			continue;
		if (texts) {
			cli_json_item(js);
			cli_json_str(js, "name", name);
			cli_json_str(js, "text", espota_fit_flag_text(kind, bit));
			cli_json_close(js);
		} else {
			cli_json_elem_str(js, name);
		}
	}
	cli_json_close(js);
}

static void json_preflight(struct app *a, const char *event)
{
	char buf[8192];
	struct cli_json js;
	const espota_fit_report *r = &a->report;

	json_head(&js, buf, sizeof(buf), event, NULL);
	cli_json_str(&js, "file", a->file);
	cli_json_obj(&js, "image");
	if (a->info_ok) {
		cli_json_str(&js, "kind", espota_image_kind_name(a->info.kind));
		cli_json_str(&js, "platform", platform_name(a->info.platform));
		cli_json_u64(&js, "size", a->info.file_size);
		cli_json_bool(&js, "gzip", a->info.gzip);
		cli_json_u64(&js, "header_flash_size", a->info.header_flash_size);
	}
	cli_json_close(&js);
	if (a->have_fit) {
		cli_json_str(&js, "verdict", espota_fit_verdict_name(r->verdict));
		cli_json_bool(&js, "fits", r->verdict != ESPOTA_FIT_FAIL);
		cli_json_i64(&js, "device_error", r->device_error);
		cli_json_str(&js, "device_error_text", r->device_error_text);
		cli_json_u64(&js, "size", r->size);
		cli_json_u64(&js, "limit", r->limit);
		cli_json_i64(&js, "margin", r->margin);
		cli_json_u64(&js, "shrink_by", r->shrink_by);
		cli_json_str(&js, "when", fit_when_name(r->when));
		json_flags(&js, "mistakes", 'm', r->mistakes, 0);
		json_flags(&js, "assumptions", 'a', r->assumptions, 1);
		json_flags(&js, "warnings", 'w', r->warnings, 1);
		cli_json_str(&js, "summary", r->summary);
		cli_json_lines(&js, "advice", r->advice);
	} else {
		cli_json_null(&js, "verdict");
	}
	emit_json(a, &js);
}

/* Parse the image and run the fit check. Returns an exit code or -1 to go on. */
static int preflight(struct app *a)
{
	const struct cli *c = &a->cli;
	char err[512];
	int rc;

	if (read_file(a->file, &a->image, &a->image_len, IMAGE_MAX, err, sizeof(err)) < 0)
		return early_error(a, CLI_EXIT_IMAGE, "ESPOTA_EIMAGE", err, NULL);
	{
		espota_image *img = NULL;

		memset(&a->info, 0, sizeof(a->info));
		a->info.struct_size = sizeof(a->info);
		rc = espota_image_parse(&img, a->image, a->image_len);
		if (img != NULL) {
			espota_image_get_info(img, &a->info);
			snprintf(a->image_note, sizeof(a->image_note), "%s", espota_image_error(img));
			espota_image_free(img);
		}
	}
	a->info_ok = rc == ESPOTA_OK;
	if (rc != ESPOTA_OK) {
		snprintf(err, sizeof(err), "%s: malformed image: %s", a->file,
			a->image_note[0] ? a->image_note : espota_strerror(rc));
		if (!c->force || c->mode == CLI_MODE_CHECK) {
			char hint[256];

			return early_error(a, CLI_EXIT_IMAGE, "ESPOTA_EIMAGE", err,
				cli_hint(hint, sizeof(hint), ESPOTA_EIMAGE));
		}
		if (human(a))
			fprintf(stderr, "warning: %s; sending anyway (--force)\n", err);
		a->have_fit = 0; /* the library's preflight would refuse it */
		return -1;
	}
	if (build_fit(a, err, sizeof(err)) < 0)
		return early_error(a, CLI_EXIT_USAGE, "ESPOTA_EINVAL", err, NULL);
	if (!a->have_fit && c->mode == CLI_MODE_CHECK) {
		/* check without a board: everything about the device is unknown. */
		a->have_fit = 1;
		if (c->platform == CLI_PLATFORM_ESP8266)
			a->fit.platform = ESPOTA_PLATFORM_ESP8266;
		else if (c->platform == CLI_PLATFORM_ESP32)
			a->fit.platform = ESPOTA_PLATFORM_ESP32;
		a->fit.chip_size = c->chip_size;
		a->fit.device_header_size = c->device_header_size;
		a->fit.running_size = c->running_size;
		a->fit.flash_map = c->flash_map;
	}
	decide_platform(a);

	if (!a->have_fit) {
		/* No board: warn on the two classic mistakes, from the image kind. */
		if (human(a) || a->view == VIEW_QUIET) {
			if (c->spiffs && is_app_kind(a->info.kind) && human(a))
				fprintf(stderr, "warning: %s is a firmware image (%s) but -s sends it as the "
					"filesystem: the device would overwrite its filesystem with it. "
					"Drop -s to update the firmware.\n", a->file,
					espota_image_kind_name(a->info.kind));
			else if (!c->spiffs && !is_app_kind(a->info.kind) && human(a))
				fprintf(stderr, "warning: %s is not a firmware image (%s); the device will "
					"reject it at the end of the upload. Add -s for a filesystem image.\n",
					a->file, espota_image_kind_name(a->info.kind));
			else if (!c->spiffs && a->info.kind == ESPOTA_IMAGE_ESP8266_V2 && human(a))
				fprintf(stderr, "warning: %s is an SDK (0xEA) image; ArduinoOTA rejects it "
					"(error 10).\n", a->file);
		}
		return -1;
	}

	a->report.struct_size = sizeof(a->report);
	rc = espota_fit_check(&a->report, &a->info, &a->fit);
	if (rc != ESPOTA_OK) {
		snprintf(err, sizeof(err), "fit check failed: %s", espota_strerror(rc));
		return early_error(a, CLI_EXIT_FAILED, espota_error_name(rc), err, NULL);
	}
	if (c->mode == CLI_MODE_CHECK) {
		if (a->view == VIEW_JSON) {
			json_preflight(a, "check");
		} else {
			int need = espota_fit_report_format(NULL, 0, &a->info, &a->fit, &a->report);
			char *text;

			if (need < 0)
				return early_error(a, CLI_EXIT_FAILED, espota_error_name(need), "cannot format the report", NULL);
			text = malloc((size_t)need + 1);
			if (text == NULL)
				return early_error(a, CLI_EXIT_FAILED, "ESPOTA_ENOMEM", "out of memory", NULL);
			espota_fit_report_format(text, (size_t)need + 1, &a->info, &a->fit, &a->report);
			fputs(text, stdout);
			if (need > 0 && text[need - 1] != '\n')
				fputc('\n', stdout);
			if (a->image_note[0] != '\0')
				printf("Note:      %s\n", a->image_note);
			free(text);
		}
		return a->report.verdict == ESPOTA_FIT_FAIL ? CLI_EXIT_IMAGE : CLI_EXIT_OK;
	}

	if (a->view == VIEW_JSON)
		json_preflight(a, "preflight");
	if (a->report.verdict == ESPOTA_FIT_FAIL || a->report.verdict == ESPOTA_FIT_WARN) {
		if (human(a) || (a->view == VIEW_QUIET && a->report.verdict == ESPOTA_FIT_FAIL)) {
			int need = espota_fit_report_format(NULL, 0, &a->info, &a->fit, &a->report);
			char *text = need > 0 ? malloc((size_t)need + 1) : NULL;

			if (text != NULL) {
				espota_fit_report_format(text, (size_t)need + 1, &a->info, &a->fit, &a->report);
				fputs(text, stderr);
				if (text[need - 1] != '\n')
					fputc('\n', stderr);
				free(text);
			} else {
				fprintf(stderr, "preflight: %s\n%s\n", a->report.summary, a->report.advice);
			}
		}
		a->preflight_printed = 1;
	}
	if (a->report.verdict == ESPOTA_FIT_FAIL) {
		char msg[512], hint[256];

		if (c->force) {
			if (human(a))
				fprintf(stderr, "warning: the preflight check refuses this image; sending anyway (--force)\n");
			return -1;
		}
		espota_hint_input in;

		snprintf(msg, sizeof(msg), "preflight: %s", a->report.summary);
		espota_hint_input_init(&in, ESPOTA_HINT_INPUT_VERSION);
		in.code = ESPOTA_ENOFIT;
		in.report = &a->report;
		in.flags = ESPOTA_HINT_CLI;
		espota_hint(hint, sizeof(hint), &in);
		if (a->view == VIEW_JSON)
			return early_error(a, CLI_EXIT_IMAGE, "ESPOTA_ENOFIT", msg, hint);
		fprintf(stderr, "espota: refused: %s\n%s", a->report.summary, hint);
		return CLI_EXIT_IMAGE;
	}
	return -1;
}

/* Returns an exit code on failure, -1 to go on. */
static int load_password(struct app *a)
{
	const struct cli *c = &a->cli;
	char err[512];
	const char *v;

	if (c->auth != NULL && c->auth[0] != '\0') {
		a->password = cli_secret_dup(c->auth);
		/* Hide it from ps as far as possible (the kernel copy of argv is
		 * what /proc/PID/cmdline shows). */
		cli_wipe((void *)(uintptr_t)c->auth, strlen(c->auth));
		return a->password != NULL ? -1 : early_error(a, CLI_EXIT_FAILED, "ESPOTA_ENOMEM", "out of memory", NULL);
	}
	if (c->auth_file != NULL) {
		int insecure = 0;

		if (cli_secret_read_file(c->auth_file, &a->password, &insecure, err, sizeof(err)) < 0)
			return early_error(a, CLI_EXIT_USAGE, "ESPOTA_EINVAL", err, NULL);
		if (insecure && human(a))
			fprintf(stderr, "warning: %s is readable by other users (chmod 600 it)\n", c->auth_file);
		return -1;
	}
	if (c->auth_env != NULL) {
		v = getenv(c->auth_env);
		if (v == NULL) {
			snprintf(err, sizeof(err), "--auth-env: environment variable %s is not set", c->auth_env);
			return early_error(a, CLI_EXIT_USAGE, "ESPOTA_EINVAL", err, NULL);
		}
		a->password = cli_secret_dup(v);
		return -1;
	}
	v = getenv("ESPOTA_PASSWORD");
	if (v != NULL && v[0] != '\0')
		a->password = cli_secret_dup(v);
	return -1;
}

static int load_hosts(struct app *a)
{
	const struct cli *c = &a->cli;
	struct cli_host *list = NULL;
	size_t n = 0, cap, i, count = 0;
	char err[512];

	cap = c->nhosts;
	if (c->hosts_file != NULL) {
		unsigned char *text;
		size_t len;

		if (read_file(c->hosts_file, &text, &len, 4 * 1024 * 1024, err, sizeof(err)) < 0)
			return early_error(a, CLI_EXIT_USAGE, "ESPOTA_EINVAL", err, NULL);
		cap += cli_hosts_max_entries((const char *)text, len);
		list = calloc(cap ? cap : 1, sizeof(*list));
		if (list == NULL) {
			free(text);
			return early_error(a, CLI_EXIT_FAILED, "ESPOTA_ENOMEM", "out of memory", NULL);
		}
		if (cli_hosts_parse((const char *)text, len, list, cap, &count, err, sizeof(err)) < 0) {
			char msg[700];

			free(text);
			free(list);
			snprintf(msg, sizeof(msg), "%s: %s", c->hosts_file, err);
			return early_error(a, CLI_EXIT_USAGE, "ESPOTA_EINVAL", msg, NULL);
		}
		free(text);
		n = count;
	} else {
		list = calloc(cap ? cap : 1, sizeof(*list));
		if (list == NULL)
			return early_error(a, CLI_EXIT_FAILED, "ESPOTA_ENOMEM", "out of memory", NULL);
	}
	for (i = 0; i < c->nhosts; i++) {
		if (cli_host_parse(&list[n], c->hosts[i], strlen(c->hosts[i]), err, sizeof(err)) < 0) {
			char msg[700];

			free(list);
			char shown[80];

			/* the reason stays whole; the host is cut and never raw */
			snprintf(msg, sizeof(msg), "-i %s: %s", shown_host(shown, sizeof(shown),
				c->hosts[i]), err);
			return early_error(a, CLI_EXIT_USAGE, "ESPOTA_EINVAL", msg, NULL);
		}
		n++;
	}
	if (n == 0) {
		free(list);
		return early_error(a, CLI_EXIT_USAGE, "ESPOTA_EINVAL", "no devices in the hosts file", NULL);
	}
	a->jobs = calloc(n, sizeof(*a->jobs));
	if (a->jobs == NULL) {
		free(list);
		return early_error(a, CLI_EXIT_FAILED, "ESPOTA_ENOMEM", "out of memory", NULL);
	}
	a->njobs = n;
	for (i = 0; i < n; i++) {
		struct job *j = &a->jobs[i];
		long port = list[i].port >= 0 ? list[i].port : c->port;

		j->app = a;
		j->index = i;
		j->host = list[i];
		if (port < 0)
			port = a->platform == ESPOTA_PLATFORM_ESP32 ? ESPOTA_PORT_ESP32 : ESPOTA_PORT_ESP8266;
		j->port = (uint16_t)port;
		if (strchr(j->host.host, ':') != NULL)
			snprintf(j->label, sizeof(j->label), "[%s]:%u", j->host.host, (unsigned)j->port);
		else
			snprintf(j->label, sizeof(j->label), "%s:%u", j->host.host, (unsigned)j->port);
		j->last_pct = -1;
		j->since_success_ms = cli_recent_success_ms(j->host.host, j->port);
		if (j->since_success_ms >= ESPOTA_HINT_REBOOT_MS)
			j->since_success_ms = 0;
	}
	free(list);
	a->multi = n > 1;
	return -1;
}

static int summary(struct app *a)
{
	size_t i, ok = 0;
	int code = -1, mixed = 0;

	for (i = 0; i < a->njobs; i++) {
		const struct job *j = &a->jobs[i];

		if (j->exit_code == 0) {
			ok++;
			continue;
		}
		if (code < 0)
			code = j->exit_code;
		else if (code != j->exit_code)
			mixed = 1;
	}
	if (code < 0)
		code = 0;
	else if (mixed)
		code = g_cancelled ? CLI_EXIT_CANCELLED : CLI_EXIT_FAILED;
	if (!a->multi)
		return code;

	if (a->view == VIEW_JSON) {
		size_t cap = 512 + a->njobs * (CLI_HOST_MAX + 1024);
		char *buf = malloc(cap);
		struct cli_json js;

		if (buf == NULL)
			return code;
		json_head(&js, buf, cap, "summary", NULL);
		cli_json_u64(&js, "devices", a->njobs);
		cli_json_u64(&js, "ok", ok);
		cli_json_u64(&js, "failed", a->njobs - ok);
		cli_json_i64(&js, "exit_code", code);
		cli_json_arr(&js, "results");
		for (i = 0; i < a->njobs; i++) {
			const struct job *j = &a->jobs[i];

			cli_json_item(&js);
			cli_json_u64(&js, "index", j->index);
			cli_json_str(&js, "host", j->host.host);
			cli_json_u64(&js, "port", j->port);
			cli_json_bool(&js, "ok", j->rc == ESPOTA_OK);
			cli_json_i64(&js, "exit_code", j->exit_code);
			cli_json_str(&js, "error", j->rc ? espota_error_name(j->rc) : NULL);
			cli_json_str(&js, "message", j->rc ? j->message : "");
			cli_json_u64(&js, "attempts", j->attempts);
			cli_json_str(&js, "phase", espota_phase_name(j->stats.phase));
			cli_json_u64(&js, "acked", j->stats.acked);
			cli_json_u64(&js, "elapsed_ms", j->stats.elapsed_ms);
			cli_json_close(&js);
		}
		cli_json_close(&js);
		emit_json(a, &js);
		free(buf);
		return code;
	}
	block_erase(a);
	fprintf(stderr, "\n%-28s %-8s %5s %5s %8s  %s\n", "DEVICE", "RESULT", "EXIT", "TRIES", "TIME", "DETAIL");
	for (i = 0; i < a->njobs; i++) {
		const struct job *j = &a->jobs[i];

		fprintf(stderr, "%-28.28s %-8s %5d %5u %7.1fs  %s\n", j->label,
			j->exit_code == 0 ? "ok" : (j->started ? "FAILED" : "skipped"), j->exit_code,
			j->attempts, (double)j->stats.elapsed_ms / 1000.0,
			j->exit_code == 0 ? "confirmed by the device" :
			(j->have_device_error && j->device_error.code >= 0 ? j->device_error.text : j->message));
	}
	fprintf(stderr, "%zu of %zu devices updated.\n", ok, a->njobs);
	return code;
}

static void list_boards(void)
{
	size_t i, n;

	printf("Boards (--board):\n");
	n = espota_board_count();
	for (i = 0; i < n; i++) {
		const espota_board *b = espota_board_at(i);

		if (b != NULL)
			printf("  %-16s %-8s %5u KiB  %-12s %s\n", b->name, platform_name(b->platform),
				(unsigned)(b->flash_size / 1024), b->layout ? b->layout : "-",
				b->description ? b->description : "");
	}
	printf("ESP8266 layouts (--layout):\n");
	n = espota_layout_count();
	for (i = 0; i < n; i++) {
		const espota_layout *l = espota_layout_at(i);

		if (l != NULL)
			printf("  %-10s %-26s flash %5u KiB, sketch max %u bytes, filesystem %u KiB\n",
				l->name, l->ld_script, (unsigned)(l->flash_size / 1024), (unsigned)l->irom0_max,
				(unsigned)((l->fs_end - l->fs_start) / 1024));
	}
}

static void log_fn_stderr(espota_log_level level, const char *message, void *payload)
{
	on_log(level, message, payload);
}

int main(int argc, char **argv)
{
	static struct app app;
	struct app *a = &app;
	char err[512];
	int code, isterm;

	if (cli_parse(&a->cli, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "espota: error: %s\nTry 'espota --help'.\n", err);
		return CLI_EXIT_USAGE;
	}
	switch (a->cli.mode) {
	case CLI_MODE_HELP:
		fputs(cli_help_text(&a->cli), stdout);
		return CLI_EXIT_OK;
	case CLI_MODE_VERSION:
		printf("espota %s (libespota %s)\n", ESPOTA_VERSION_STRING, espota_version_string());
		return CLI_EXIT_OK;
	case CLI_MODE_LIST:
		list_boards();
		return CLI_EXIT_OK;
	default:
		break;
	}

	isterm = isatty(STDERR_FILENO);
	if (a->cli.json)
		a->view = VIEW_JSON;
	else if (a->cli.quiet)
		a->view = VIEW_QUIET;
	else if (a->cli.progress)
		a->view = VIEW_COMPAT;
	else if (isterm && getenv("TERM") != NULL && strcmp(getenv("TERM"), "dumb") != 0)
		a->view = VIEW_TTY;
	else
		a->view = VIEW_PLAIN;
	a->file = a->cli.file;

	if (a->cli.ignored_script && a->cli.debug)
		fprintf(stderr, "espota: ignoring the espota.py path on the command line (IDE pattern)\n");

	code = preflight(a);
	if (code >= 0 || a->cli.mode == CLI_MODE_CHECK)
		goto out;
	decide_platform(a);
	if ((code = load_hosts(a)) >= 0)
		goto out;
	if (a->multi && a->view == VIEW_COMPAT)
		a->view = isterm ? VIEW_TTY : VIEW_PLAIN;
	if ((code = load_password(a)) >= 0)
		goto out;

	{
		espota_session_options so;
		int rc;

		espota_session_options_init(&so, ESPOTA_SESSION_OPTIONS_VERSION);
		so.log = log_fn_stderr;
		so.log_level = a->cli.debug ? ESPOTA_LOG_DEBUG : ESPOTA_LOG_WARN;
		so.log_payload = a;
		rc = espota_session_new(&a->session, &so);
		if (rc != ESPOTA_OK) {
			code = early_error(a, CLI_EXIT_FAILED, espota_error_name(rc), "cannot create a session", NULL);
			goto out;
		}
		g_session = a->session;
	}
	install_signals();
	/* Several devices, or per-device retries/deadline: the fleet driver. */
	a->fleet = a->multi || a->cli.retries > 0 || a->cli.device_timeout_s > 0;

	if (a->view == VIEW_JSON) {
		char buf[1024];
		struct cli_json js;

		json_head(&js, buf, sizeof(buf), "start", NULL);
		cli_json_str(&js, "file", a->file);
		cli_json_u64(&js, "size", a->image_len);
		cli_json_str(&js, "target", a->cli.spiffs ? "filesystem" : "app");
		cli_json_str(&js, "platform", platform_name(a->platform));
		cli_json_u64(&js, "devices", a->njobs);
		if (a->fleet) {
			cli_json_u64(&js, "parallel", (uint64_t)a->cli.parallel);
			cli_json_u64(&js, "retries", (uint64_t)a->cli.retries);
			cli_json_u64(&js, "device_timeout_ms", (uint64_t)a->cli.device_timeout_s * 1000u);
		}
		emit_json(a, &js);
	}

	if (a->fleet)
		run_fleet(a);
	else
		run_single(a, &a->jobs[0]);
	if (!a->fleet && a->cli.wait_back_s > 0 && a->jobs[0].exit_code == 0)
		wait_back(a, &a->jobs[0]);
	code = summary(a);

out:
	fflush(stdout);
	fflush(stderr);
	g_session = NULL;
	espota_session_free(a->session);
	a->session = NULL;
	free(a->jobs);
	espota_partition_table_free(a->parts);
	cli_secret_free(a->password);
	cli_secret_free(a->prompted);
	if (a->image != NULL) {
		free(a->image);
	}
	if (g_cancelled && code != 0)
		code = CLI_EXIT_CANCELLED;
	return code;
}
