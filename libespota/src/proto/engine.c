/*
 * The sans-I/O ArduinoOTA protocol engine (protocol.md sections 2-5).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/auth.h"
#include "analysis/device_errors.h"
#include "proto/engine.h"

#define NO_DEADLINE UINT64_MAX

/* The data phase may take at most DATA_BASE_MS plus one second per
 * min_rate bytes (DATA_MIN_RATE unless configured), so a device that drips one digit every few seconds
 * cannot hold an upload forever (a real device writes 20-100 KiB/s). */
#define DATA_BASE_MS 60000u
#define DATA_MIN_RATE 1000u /* bytes per s */
/* How long to wait for the end of stream after a device's OK. */
#define OK_CLOSE_MS 1500u

void espota__timeouts_resolve(espota_timeouts *out, const espota_timeouts *in)
{
	espota_timeouts t = *in;

	if (t.invite_ms == 0) t.invite_ms = 2000;
	if (t.invite_attempts == 0) t.invite_attempts = 5;
	if (t.auth_ms == 0) t.auth_ms = 10000;
	if (t.connect_ms == 0) t.connect_ms = 10000;
	if (t.stall_ms == 0) t.stall_ms = 10000;
	if (t.result_ms == 0) t.result_ms = 10000;
	*out = t;
}

/* ---- outputs ------------------------------------------------------------ */

/* Double the ring, keeping the order of what is queued. */
static int ev_grow(espota__engine *e)
{
	unsigned int cap = e->evcap ? e->evcap * 2 : ESPOTA__EVQ, i;
	espota__event *q;
	char (*m)[ESPOTA__MSG_SIZE];

	if (cap > (1u << 20))
		return -1; /* a runaway producer, not a real exchange */
	q = malloc(cap * sizeof(*q));
	m = malloc(cap * sizeof(*m));
	if (q == NULL || m == NULL) {
		free(q);
		free(m);
		return -1;
	}
	for (i = 0; i < e->evcount; i++) {
		unsigned int from = (e->evhead + i) % e->evcap;
		q[i] = e->evq[from];
		memcpy(m[i], e->evmsg[from], ESPOTA__MSG_SIZE);
	}
	free(e->evq);
	free(e->evmsg);
	e->evq = q;
	e->evmsg = m;
	e->evcap = cap;
	e->evhead = 0;
	return 0;
}

static espota__event *ev_push(espota__engine *e, espota__event_type type)
{
	unsigned int slot;

	/* Every event is kept: the queue grows instead. If it cannot, the
	 * engine stops with ENOMEM and next_event ends with that DONE. */
	if (e->ev_lost)
		return NULL;
	if (e->evcount == e->evcap && ev_grow(e) < 0) {
		e->ev_lost = 1;
		if (!e->finished) {
			e->finished = 1;
			e->result = ESPOTA_ENOMEM;
			e->deadline = NO_DEADLINE;
			snprintf(e->error, sizeof(e->error), "out of memory for the engine's events");
		}
		return NULL;
	}
	slot = (e->evhead + e->evcount) % e->evcap;
	e->evcount++;
	memset(&e->evq[slot], 0, sizeof(e->evq[slot]));
	e->evq[slot].type = type;
	e->evmsg[slot][0] = '\0';
	return &e->evq[slot];
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 0)))
#endif
static void vlog(espota__engine *e, espota_log_level level, const char *fmt, va_list ap)
{
	espota__event *ev = ev_push(e, ESPOTA__EV_LOG);
	if (ev == NULL)
		return;
	ev->level = level;
	vsnprintf(e->evmsg[ev - e->evq], ESPOTA__MSG_SIZE, fmt, ap);
	ev->msg = e->evmsg[ev - e->evq];
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void elog(espota__engine *e, espota_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(e, level, fmt, ap);
	va_end(ap);
}

static void progress(espota__engine *e)
{
	/* Coalesce: one pending PROGRESS event reports the latest state. */
	if (e->progress_pending)
		return;
	if (ev_push(e, ESPOTA__EV_PROGRESS) != NULL)
		e->progress_pending = 1;
}

static void set_phase(espota__engine *e, espota_phase phase)
{
	if (e->phase == phase)
		return;
	e->phase = phase;
	progress(e);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 0)))
#endif
static void vfail(espota__engine *e, int code, const char *fmt, va_list ap)
{
	espota__event *ev;

	if (e->finished)
		return;
	vsnprintf(e->error, sizeof(e->error), fmt, ap);
	e->finished = 1;
	e->result = code;
	e->deadline = NO_DEADLINE;
	/* The caller gets this as the last error; log it only for tracing. */
	elog(e, ESPOTA_LOG_DEBUG, "failed: %s", e->error);
	ev = ev_push(e, ESPOTA__EV_DONE);
	if (ev != NULL)
		ev->result = code;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void fail(espota__engine *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(e, code, fmt, ap);
	va_end(ap);
}

void espota__engine_abort(espota__engine *e, uint64_t now, int code, const char *fmt, ...)
{
	va_list ap;
	(void)now;
	va_start(ap, fmt);
	vfail(e, code, fmt, ap);
	va_end(ap);
}

static void succeed(espota__engine *e, uint64_t now)
{
	espota__event *ev;

	e->finished = 1;
	e->result = ESPOTA_OK;
	e->error[0] = '\0';
	e->deadline = NO_DEADLINE;
	/* the last count may have come with the OK itself */
	if (e->transfer_ms == 0 && e->transfer_start != 0)
		e->transfer_ms = now - e->transfer_start;
	set_phase(e, ESPOTA_PHASE_DONE);
	elog(e, ESPOTA_LOG_INFO, "device confirmed the update (%" PRIu64 " bytes)", e->acked);
	ev = ev_push(e, ESPOTA__EV_DONE);
	if (ev != NULL)
		ev->result = ESPOTA_OK;
}

int espota__engine_next_event(espota__engine *e, espota__event *out)
{
	while (e->evcount > 0) {
		unsigned int slot = e->evhead;
		espota__event *ev = &e->evq[slot];
		e->evhead = (e->evhead + 1) % e->evcap;
		e->evcount--;
		if (ev->type == ESPOTA__EV_NONE)
			continue;
		*out = *ev;
		/* A copy: the slot may be reused (or the ring moved) by what the
		 * driver does in response. */
		memcpy(e->evout, e->evmsg[slot], ESPOTA__MSG_SIZE);
		out->msg = e->evout;
		if (ev->type == ESPOTA__EV_PROGRESS) {
			e->progress_pending = 0;
			e->progress.phase = e->phase;
			e->progress.sent = e->sent;
			e->progress.acked = e->provisional;
			e->progress.total = e->cfg.len;
			e->progress.attempt = e->attempt;
		}
		return 1;
	}
	if (e->ev_lost == 1) {
		/* The queue could not grow: what was queued went out in order,
		 * then the end the engine came to. */
		e->ev_lost = 2;
		memset(out, 0, sizeof(*out));
		out->type = ESPOTA__EV_DONE;
		out->result = e->result;
		e->evout[0] = '\0';
		out->msg = e->evout;
		return 1;
	}
	return 0;
}

/* ---- handshake ------------------------------------------------------------ */

int espota__engine_init(espota__engine *e, const espota__engine_config *cfg)
{
	memset(e, 0, sizeof(*e));
	if (cfg->image == NULL || cfg->len == 0 || cfg->host == NULL ||
		(unsigned)cfg->transfer > ESPOTA_TRANSFER_PACED)
		return ESPOTA_EINVAL;
	e->cfg = *cfg;
	espota__timeouts_resolve(&e->cfg.timeouts, &cfg->timeouts);
	if (e->cfg.chunk == 0)
		e->cfg.chunk = 1460;
	if (e->cfg.window == 0)
		e->cfg.window = 65536; /* bench/RESULTS.md: below this, MSS-1460 devices wait on us */
	if (e->cfg.window < e->cfg.chunk)
		e->cfg.window = e->cfg.chunk;
	if (e->cfg.filename == NULL)
		e->cfg.filename = "firmware.bin";
	e->cfg.password = NULL;
	if (cfg->password != NULL) {
		size_t n = strlen(cfg->password);
		if (n >= sizeof(e->password))
			return ESPOTA_EINVAL;
		memcpy(e->password, cfg->password, n + 1);
		e->have_password = 1;
	}
	/* A fleet sends one image to many devices: it hashes it once. */
	if (cfg->md5 != NULL && strlen(cfg->md5) == ESPOTA__MD5_HEX)
		memcpy(e->md5, cfg->md5, ESPOTA__MD5_HEX + 1);
	else if (espota__md5_hex(e->md5, cfg->image, cfg->len) < 0)
		return ESPOTA_ERROR;
	e->platform = cfg->platform;
	if (e->platform == ESPOTA_PLATFORM_UNKNOWN) {
		if (cfg->device_port == ESPOTA_PORT_ESP32)
			e->platform = ESPOTA_PLATFORM_ESP32;
		else if (cfg->device_port == ESPOTA_PORT_ESP8266)
			e->platform = ESPOTA_PLATFORM_ESP8266;
	}
	e->deadline = NO_DEADLINE;
	e->phase = ESPOTA_PHASE_NONE;
	return ESPOTA_OK;
}

/* The stall deadline, bounded by the data phase's (below). */
static void arm_stall(espota__engine *e, uint64_t now);

void espota__engine_clear(espota__engine *e)
{
	espota__acks_free(&e->rule);
	free(e->evq);
	free(e->evmsg);
	e->evq = NULL;
	e->evmsg = NULL;
	e->evcap = e->evcount = e->evhead = 0;
	sodium_memzero(e->password, sizeof(e->password));
	sodium_memzero(e->authdg, sizeof(e->authdg));
	e->have_password = 0;
}

static void send_invitation(espota__engine *e, uint64_t now)
{
	espota__event *ev;
	int n;

	n = snprintf(e->invite, sizeof(e->invite), "%d %u %zu %s\n", (int)e->cfg.target,
		(unsigned)e->cfg.local_port, e->cfg.len, e->md5);
	e->invite_len = (size_t)n;
	e->attempt++;
	e->invitations++;
	e->deadline = now + e->cfg.timeouts.invite_ms;
	set_phase(e, ESPOTA_PHASE_INVITE);
	elog(e, ESPOTA_LOG_INFO, "sending invitation %u/%u: %s %u %zu %s", e->attempt,
		e->cfg.timeouts.invite_attempts, e->cfg.target == ESPOTA_TARGET_FS ? "100" : "0",
		(unsigned)e->cfg.local_port, e->cfg.len, e->md5);
	ev = ev_push(e, ESPOTA__EV_SEND_UDP);
	if (ev != NULL) {
		ev->data = (const unsigned char *)e->invite;
		ev->len = e->invite_len;
	}
	progress(e);
}

void espota__engine_start(espota__engine *e, uint64_t now)
{
	e->start_ms = now;
	e->attempt = 0;
	send_invitation(e, now);
}

static void send_auth(espota__engine *e, uint64_t now)
{
	char cnonce[ESPOTA__SHA256_HEX + 1];
	espota__event *ev;
	int n, rc;

	rc = e->cfg.seeded_cnonce ?
		espota__cnonce_seeded(cnonce, sizeof(cnonce), e->scheme, e->cfg.filename,
			e->cfg.len, e->md5, e->cfg.host) :
		espota__cnonce_random(cnonce, sizeof(cnonce), e->scheme);
	if (rc < 0) {
		fail(e, ESPOTA_ERROR, "could not compute the client nonce");
		return;
	}
	n = espota__auth_datagram(e->authdg, sizeof(e->authdg), e->scheme, e->nonce, cnonce, e->password);
	if (n < 0) {
		fail(e, ESPOTA_ERROR, "could not compute the authentication response");
		return;
	}
	e->authdg_len = (size_t)n;
	e->deadline = now + e->cfg.timeouts.auth_ms;
	set_phase(e, ESPOTA_PHASE_AUTH);
	elog(e, ESPOTA_LOG_INFO, "authenticating (%s)",
		e->scheme == ESPOTA_AUTH_MD5 ? "MD5 challenge" :
		e->scheme == ESPOTA_AUTH_PBKDF2_SHA256 ? "PBKDF2-HMAC-SHA256, SHA-256 password hash" :
		"PBKDF2-HMAC-SHA256, MD5 password hash");
	ev = ev_push(e, ESPOTA__EV_SEND_UDP);
	if (ev != NULL) {
		ev->data = (const unsigned char *)e->authdg;
		ev->len = e->authdg_len;
	}
}

void espota__engine_decline_password(espota__engine *e, uint64_t now, int code, const char *fmt, ...)
{
	va_list ap;

	/* espota.py answers with the empty password's hash; without an answer
	 * the device keeps waiting for one, and an ESP8266 then takes the next
	 * invitation for it, which costs the next upload an invitation timeout. */
	if (e->waiting_password && !e->finished) {
		sodium_memzero(e->password, sizeof(e->password));
		send_auth(e, now);
	}
	va_start(ap, fmt);
	vfail(e, code, fmt, ap);
	va_end(ap);
}

int espota__engine_set_password(espota__engine *e, uint64_t now, const char *password)
{
	size_t n;

	if (!e->waiting_password || e->finished)
		return ESPOTA_EINVAL;
	n = password ? strlen(password) : 0;
	if (n == 0 || n >= sizeof(e->password)) {
		espota__engine_decline_password(e, now, ESPOTA_EAUTH, "%s", n == 0 ?
			"the device requires a password and none was given" : "password too long");
		return ESPOTA_EAUTH;
	}
	memcpy(e->password, password, n + 1);
	e->have_password = 1;
	e->waiting_password = 0;
	send_auth(e, now);
	return ESPOTA_OK;
}

/* Retry scheme B with the MD5 password hash (espota 2025-10, section 4.4):
 * the device went back to IDLE, so a new invitation fetches a new nonce. */
static int try_md5_fallback(espota__engine *e, uint64_t now, const char *why)
{
	if (e->scheme != ESPOTA_AUTH_PBKDF2_SHA256 || e->cfg.auth_mode != ESPOTA_AUTH_MODE_AUTO ||
		e->fell_back)
		return 0;
	e->fell_back = 1;
	elog(e, ESPOTA_LOG_INFO, "%s; retrying with the MD5 password hash", why);
	e->attempt = 0;
	send_invitation(e, now);
	return 1;
}

static int is_hex_lower(const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
			(s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static void printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t i, o = 0;
	for (i = 0; i < n && o + 1 < dstlen; i++)
		dst[o++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[o] = '\0';
}

static void on_auth_challenge(espota__engine *e, uint64_t now, const char *nonce, size_t n)
{
	if (n != 32 && n != 64) {
		fail(e, ESPOTA_EPROTO, "invalid nonce length: %zu (expected 32 or 64)", n);
		return;
	}
	if (!is_hex_lower(nonce, n)) {
		fail(e, ESPOTA_EPROTO, "the device's nonce is not hexadecimal");
		return;
	}
	if (n == 32 && e->cfg.auth_mode == ESPOTA_AUTH_MODE_SHA256) {
		/* Refuse the downgrade: an MD5 answer can be cracked offline. */
		fail(e, ESPOTA_EAUTH, "the device offered only the MD5 challenge, but SHA-256 "
			"authentication was required");
		return;
	}
	memcpy(e->nonce, nonce, n);
	e->nonce[n] = '\0';
	if (n == 32) {
		e->scheme = ESPOTA_AUTH_MD5;
	} else {
		/* Only arduino-esp32 >= 3.3.1 sends 64-character nonces. */
		e->platform = ESPOTA_PLATFORM_ESP32;
		e->scheme = (e->cfg.auth_mode == ESPOTA_AUTH_MODE_MD5 || e->fell_back) ?
			ESPOTA_AUTH_PBKDF2_MD5 : ESPOTA_AUTH_PBKDF2_SHA256;
	}
	if (e->have_password) {
		send_auth(e, now);
		return;
	}
	e->waiting_password = 1;
	e->deadline = NO_DEADLINE;
	set_phase(e, ESPOTA_PHASE_AUTH);
	{
		espota__event *ev = ev_push(e, ESPOTA__EV_NEED_PASSWORD);
		if (ev != NULL)
			ev->scheme = e->scheme;
	}
}

static void device_refused(espota__engine *e, const char *text, size_t n)
{
	espota_device_error *de = &e->device_error;

	if (espota_device_error_parse(de, e->platform, text, n) != ESPOTA_OK) {
		char shown[96];
		printable(shown, sizeof(shown), text, n);
		fail(e, ESPOTA_EPROTO, "unexpected reply from the device: \"%s\"", shown);
		return;
	}
	e->device_error_set = 1;
	if (de->platform != ESPOTA_PLATFORM_UNKNOWN)
		e->platform = de->platform;
	if (de->code == 4 && de->platform == ESPOTA_PLATFORM_ESP8266)
		/* The device does not say how much room it has; give what we know. */
		fail(e, ESPOTA_EREFUSED, "device error 4 (SPACE): %s: the %zu-byte image does not fit the "
			"space the running firmware leaves for a %s update (run a fit check with the "
			"device's layout for the limit)", de->raw, e->cfg.len,
			e->cfg.target == ESPOTA_TARGET_FS ? "filesystem" : "firmware");
	else if (de->code >= 0)
		fail(e, ESPOTA_EREFUSED, "device error %d (%s): %s", de->code, de->name, de->raw);
	else
		fail(e, ESPOTA_EREFUSED, "device error: %s", de->raw);
}

void espota__engine_on_udp_unreachable(espota__engine *e, uint64_t now)
{
	(void)now;
	/* Only while a datagram of ours is unanswered; later the answer has
	 * come and a stray error means nothing. */
	if (e->finished || (e->phase != ESPOTA_PHASE_INVITE && e->phase != ESPOTA_PHASE_AUTH))
		return;
	fail(e, ESPOTA_EIO, "nothing listens on UDP port %u of the device (its address answered "
		"ICMP port unreachable)", (unsigned)e->cfg.device_port);
}

void espota__engine_on_udp(espota__engine *e, uint64_t now, const void *data, size_t len)
{
	const char *s = data;
	size_t n = len;
	char shown[96];

	if (e->finished)
		return;
	/* Replies carry no terminator except ERR lines; ignore trailing junk. */
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\0' || s[n - 1] == ' '))
		n--;
	printable(shown, sizeof(shown), s, n);

	if (e->phase != ESPOTA_PHASE_INVITE && e->phase != ESPOTA_PHASE_AUTH) {
		elog(e, ESPOTA_LOG_DEBUG, "ignoring late datagram from the device: \"%s\"", shown);
		return;
	}
	if (n == 2 && memcmp(s, "OK", 2) == 0) {
		if (e->waiting_password)
			return;
		elog(e, ESPOTA_LOG_INFO, "device accepted the invitation");
		e->deadline = now + e->cfg.timeouts.connect_ms;
		set_phase(e, ESPOTA_PHASE_CONNECT);
		return;
	}
	if (n > 5 && memcmp(s, "AUTH ", 5) == 0) {
		if (e->phase == ESPOTA_PHASE_AUTH) {
			/* A duplicated challenge while ours is in flight. */
			elog(e, ESPOTA_LOG_DEBUG, "ignoring a second challenge");
			return;
		}
		on_auth_challenge(e, now, s + 5, n - 5);
		return;
	}
	if (n >= 21 && memcmp(s, "Authentication Failed", 21) == 0) {
		if (e->phase != ESPOTA_PHASE_AUTH || e->waiting_password) {
			elog(e, ESPOTA_LOG_DEBUG, "ignoring a stale authentication reply");
			return;
		}
		if (try_md5_fallback(e, now, "authentication with the SHA-256 password hash failed"))
			return;
		fail(e, ESPOTA_EAUTH, "authentication failed: wrong password");
		return;
	}
	if (n > 5 && memcmp(s, "ERR: ", 5) == 0) {
		e->platform = ESPOTA_PLATFORM_ESP8266;
		device_refused(e, s, n);
		return;
	}
	fail(e, ESPOTA_EPROTO, "unexpected reply from the device: \"%s\"", shown);
}

void espota__engine_on_udp_cut(espota__engine *e, uint64_t now, const void *data, size_t kept,
	size_t real)
{
	char shown[48];

	if (real <= kept) {
		espota__engine_on_udp(e, now, data, real);
		return;
	}
	if (e->finished || (e->phase != ESPOTA_PHASE_INVITE && e->phase != ESPOTA_PHASE_AUTH))
		return;
	printable(shown, sizeof(shown), data, kept < 40 ? kept : 40);
	fail(e, ESPOTA_EPROTO, "the device sent a %zu-byte reply (\"%s...\"), longer than any reply "
		"of the protocol (a challenge is \"AUTH \" and 32 or 64 characters)", real, shown);
}

int espota__engine_on_connect(espota__engine *e, uint64_t now)
{
	if (e->finished)
		return -1;
	switch (e->phase) {
	case ESPOTA_PHASE_INVITE:
	case ESPOTA_PHASE_AUTH:
		/* Without a password the device connects even when its OK was
		 * lost; with one it cannot connect before accepting our answer. */
		if (e->waiting_password || (e->phase == ESPOTA_PHASE_INVITE && e->nonce[0] != '\0'))
			return -1;
		elog(e, ESPOTA_LOG_INFO, "device connected before its OK arrived (reply lost?)");
		break;
	case ESPOTA_PHASE_CONNECT:
		break;
	default:
		return -1;
	}
	e->transfer_start = now;
	espota__acks_free(&e->rule); /* a second connection starts over */
	espota__acks_init(&e->rule, e->platform, e->cfg.len);
	arm_stall(e, now);
	set_phase(e, ESPOTA_PHASE_TRANSFER);
	elog(e, ESPOTA_LOG_INFO, "device connected; sending %zu bytes", e->cfg.len);
	return 0;
}

/* ---- transfer ------------------------------------------------------------- */

static void arm_quiet(espota__engine *e, uint64_t now);
static int pace_adaptive(const espota__engine *e);
static void pace_learn(espota__engine *e, uint64_t now);

/*
 * Block pacing for ESP8266 devices whose receive window is smaller than a
 * flash sector (lwIP keeps 4 x MSS by default: 2144 bytes with MSS 536).
 *
 * The Updater fills a 4 KiB buffer and flushes it once the first byte of
 * the next block is there; while it flashes it reads nothing and the one
 * window's worth of data it let in waits in lwIP. A sender that streams
 * far ahead cuts its data into MSS segments wherever its writes happen to
 * start, so the segment holding the first byte of the next block often
 * does not fit the window when the device reaches it, and the flush waits
 * a whole round trip for it. Writing up to exactly one window past the
 * next block boundary puts every write boundary one window past a block
 * boundary: each segment then fits the window the moment the device can
 * take it, as if the window were kept full byte by byte.
 *
 * Adaptive pacing (the pipelined default). That only works with the
 * device's real window W, and builds differ (lwIP variants, ESP-IDF
 * CONFIG_LWIP_TCP_WND_DEFAULT, custom options): pacing with 4 x MSS loses
 * to plain streaming on a 2 x or 6 x MSS device (bench/RESULTS.md). So the
 * engine learns W from the acknowledgements. An ESP8266 prints one count per
 * drain of everything visible, and the part of a drain after a block
 * boundary is what arrived while that block was flashing: a whole window
 * when the sender was far enough ahead, since a flush (45 ms and more)
 * outlasts a LAN round trip. While it sends the first PACE_LEARN_BLOCKS
 * blocks far enough ahead (pace_learn_lead), the largest such part is W
 * (decided earlier once no window that large can pay, or once two equal
 * steps before the first flush show the window itself). Then:
 *  - where the windows that refill a block end within one segment past it
 *    (pace_pays), the cut of the segments decides whether the flush waits
 *    another round trip: pace with W;
 *  - otherwise any cut fits, and pacing only delays writes until an
 *    acknowledgement: stream. So too when one drain takes two blocks or a
 *    whole block before its flush (a window of a block or more), or more
 *    than a window before a flush (a round trip shorter than the drain
 *    loop, where a misplaced segment costs less than pacing's waits);
 *  - a device whose counts are only ever whole blocks shows no window:
 *    send one block at a time (stop-and-wait in blocks).
 * A receive window the driver read from TCP_INFO decides at once when it is
 * in the pacing range (lwIP announces its whole TCP_WND in its SYN).
 */
#define FLASH_BLOCK 4096u
#define PACE_LEARN_BLOCKS 3

static uint32_t pace_mss(const espota__engine *e)
{
	return e->device_mss;
}

/*
 * Does pacing pay with a window of w bytes? After a flush the device has w
 * bytes, and each round trip brings w more, so the first byte of the next
 * block comes with the m-th window, m = ceil(4097 / w). With m windows
 * reaching at least one segment past that byte, any cut of the segments
 * fits and streaming is as good (it never waits for an acknowledgement
 * to write); within one segment, the cut decides.
 */
static int pace_pays(const espota__engine *e, uint64_t w)
{
	uint64_t m;

	/* From a block up, a drain runs across flushes and the learnt part
	 * after the last one is only a lower bound: stream. */
	if (w == 0 || w >= FLASH_BLOCK)
		return 0;
	m = (FLASH_BLOCK + 1 + w - 1) / w;
	return m * w < FLASH_BLOCK + pace_mss(e);
}

/* Can pacing pay with any window of whole segments from w up? (lwIP
 * windows are k x MSS.) Once the learnt lower bound is past the last such
 * window the answer is known: stream at once, without waiting for the
 * learning blocks. */
static int pace_may_pay_from(const espota__engine *e, uint64_t w)
{
	uint64_t m = pace_mss(e), k;

	for (k = (w + m - 1) / m; k > 0 && k * m < FLASH_BLOCK; k++)
		if (pace_pays(e, k * m))
			return 1;
	return 0;
}

/*
 * How far ahead to send while learning (beyond the next block boundary), or
 * 0 for no limit. A bounded lead starves a device whose drain runs on (it
 * prints no count until it has taken everything sent) for one round trip,
 * which streaming does not pay. Where lwIP's default window (4 x MSS) is a
 * block or more, the common device streams: learn while streaming, and the
 * rare window that pays (1 x MSS 1460) starts pacing after the data already
 * queued. Otherwise the common window (4 x 536) paces, and learning paces
 * as if the device had it: any other lead puts the segment cut wrong at
 * each learning block of that device (a round trip each: 0.035 s on 7.4 s
 * at RTT 20 with a lead of a block and two segments, bench/RESULTS.md).
 * The lead caps what a part can show at 4 x MSS, the largest window that
 * pays; a larger window shows in the first step, taken while the host is a
 * block and the lead ahead (and no window that large pays: stream).
 */
static uint64_t pace_learn_lead(const espota__engine *e)
{
	uint64_t m = pace_mss(e);

	return 4 * m >= FLASH_BLOCK ? 0 : 4 * m;
}

static void pace_decide(espota__engine *e, uint64_t w, const char *why)
{
	if (e->pace_partial == 0 && e->pace_drains >= PACE_LEARN_BLOCKS && w == 0) {
		e->pace_state = ESPOTA__PACE_BLOCK_SAW;
		elog(e, ESPOTA_LOG_INFO, "pacing: the device acknowledges whole flash blocks only: "
			"one block at a time");
		return;
	}
	e->pace_window = (uint32_t)w;
	e->pace_state = pace_pays(e, w) ? ESPOTA__PACE_BLOCKS : ESPOTA__PACE_STREAM;
	if (e->pace_state == ESPOTA__PACE_BLOCKS && e->pace_pre > w) {
		/* A drain took more than a window before its flush: data kept
		 * coming within the drain, so the round trip is shorter than a
		 * few ms, where a misplaced segment costs less than pacing's
		 * waits for acknowledgements (bench/RESULTS.md, RTT 1 ms). */
		e->pace_state = ESPOTA__PACE_STREAM;
		why = "drains run on: a round trip of a few ms";
	}
	elog(e, ESPOTA_LOG_INFO, "pacing: device window %" PRIu64 " bytes (%s, MSS %u, at most %u "
		"before a flush): %s", w, why, (unsigned)pace_mss(e), e->pace_pre,
		e->pace_state == ESPOTA__PACE_BLOCKS ? "paced to the flash blocks" : "streaming");
}

/* Look at the acknowledgement steps since the last call (one per drain,
 * mostly: the device prints one count per drain and the host reads them
 * apart) and decide once the first blocks are through. */
#define PACE_NO_TIME UINT64_MAX
#define PACE_STEP_MIN_MS 3

static void pace_learn(espota__engine *e, uint64_t now)
{
	uint64_t p = e->provisional, a = e->pace_seen, b, part;

	if (e->pace_state != ESPOTA__PACE_LEARN || p <= a)
		return;
	e->pace_seen = p;
	e->pace_drains++;
	if ((p - a) % FLASH_BLOCK != 0)
		e->pace_partial++;
	if (a == 0 && now != PACE_NO_TIME)
		e->pace_first_at = now;
	if (now != PACE_NO_TIME && p <= FLASH_BLOCK && (p - a) % pace_mss(e) == 0 &&
		e->sent - a > p - a) {
		/* Before the first flush, with more sent than the step, the
		 * device takes one window per round trip: two equal steps of
		 * whole segments a round trip apart are the window. (Steps much
		 * closer are the segments of one window read one by one; the
		 * first step came a round trip and more after the connection. A
		 * round trip of a few ms is left to the parts: a clock tick is
		 * then as long as the gap, and the drains run on.)
		 * Deciding here saves the learning blocks, and later steps are
		 * less clean (counts the host reads together look like one drain). */
		if (p - a == e->pace_step && now >= e->pace_step_at + PACE_STEP_MIN_MS &&
			2 * (now - e->pace_step_at) >= e->pace_first_at - e->transfer_start) {
			pace_decide(e, p - a, "two equal steps a round trip apart before the first flush");
			return;
		}
		e->pace_step = (uint32_t)(p - a);
		e->pace_step_at = now;
	} else {
		e->pace_step = 0;
	}
	if (p - a >= 2 * (uint64_t)FLASH_BLOCK || (a % FLASH_BLOCK == 0 && p > a + FLASH_BLOCK)) {
		/* one drain took two blocks (more than a block and a sub-block
		 * window can hold without a round trip), or a whole block before
		 * flushing it: the window is a block or more (or the round trip
		 * tiny), and pacing cannot pay. A device that acknowledges whole
		 * blocks prints one count per block, so this is not one of those. */
		pace_decide(e, p - a, "one drain of more than a block at once");
		return;
	}
	b = (p - 1) / FLASH_BLOCK * FLASH_BLOCK; /* the last boundary below p */
	if (b > a) {
		/* what it took before the first flush of the drain */
		uint64_t pre = (a / FLASH_BLOCK + 1) * FLASH_BLOCK - a;
		if (pre > e->pace_pre)
			e->pace_pre = (uint32_t)pre;
		/* the drain crossed a boundary, so it flushed there; a drain that
		 * ends on a boundary is only whole blocks (w stays 0 for them) */
		part = p - b;
		if (part % FLASH_BLOCK != 0 && part > e->pace_window)
			e->pace_window = (uint32_t)(part < UINT32_MAX ? part : UINT32_MAX);
	} else if ((p - a) % FLASH_BLOCK != 0 && p - a > e->pace_window) {
		e->pace_window = (uint32_t)(p - a);
	}
	if (e->pace_window > 0 && !pace_may_pay_from(e, e->pace_window)) {
		uint64_t w = e->pace_window, m = pace_mss(e);
		pace_decide(e, (w + m - 1) / m * m, "no window this large or larger pays");
		return;
	}
	if (p >= (uint64_t)PACE_LEARN_BLOCKS * FLASH_BLOCK) {
		/* A part is a lower bound (with a round trip longer than the
		 * flush, some of the window is still on its way), and lwIP
		 * windows are whole segments (TCP_WND = k x TCP_MSS): round up. */
		uint64_t w = e->pace_window, m = pace_mss(e);
		pace_decide(e, (w + m - 1) / m * m, "learnt from the acknowledgements");
	}
}

/* Does the adaptive learner run on this upload? */
static int pace_adaptive(const espota__engine *e)
{
	/* see paced_end; without the MSS segments cannot be reasoned about */
	return e->platform != ESPOTA_PLATFORM_ESP32 && e->cfg.transfer == ESPOTA_TRANSFER_PIPELINED &&
		e->device_mss != 0;
}

/* Returns the stream offset to send up to, or 0 for no pacing. */
static uint64_t paced_end(espota__engine *e)
{
	uint64_t w, next = (e->provisional / FLASH_BLOCK + 1) * FLASH_BLOCK;

	/* ESP32 reads at most 1460 bytes a loop and keeps no 4 KiB drain;
	 * an unknown device on a custom port is most likely an ESP8266. */
	if (e->platform == ESPOTA_PLATFORM_ESP32)
		return 0;
	if (e->cfg.transfer == ESPOTA_TRANSFER_PACED) {
		w = 4 * (uint64_t)e->device_mss;
		return (w == 0 || w >= FLASH_BLOCK) ? 0 : next + w;
	}
	if (!pace_adaptive(e))
		return 0;
	pace_learn(e, PACE_NO_TIME); /* steps the reads have not shown */
	switch (e->pace_state) {
	case ESPOTA__PACE_LEARN:
		w = pace_learn_lead(e);
		return w ? next + w : 0;
	case ESPOTA__PACE_BLOCKS:
		return next + e->pace_window;
	case ESPOTA__PACE_BLOCK_SAW:
		return next;
	default:
		return 0;
	}
}

void espota__engine_set_device_mss(espota__engine *e, uint32_t mss)
{
	e->device_mss = mss;
}

void espota__engine_set_peer_unacked(espota__engine *e, uint64_t bytes)
{
	e->peer_unacked_known = 1;
	e->peer_unacked = bytes;
}

void espota__engine_set_peer_window(espota__engine *e, uint32_t window)
{
	e->peer_window = window;
	if (e->pace_state == ESPOTA__PACE_LEARN && e->device_mss != 0 && window >= pace_mss(e) &&
		window < FLASH_BLOCK + 2 * (uint64_t)pace_mss(e))
		pace_decide(e, window, "announced by its TCP");
}

size_t espota__engine_tx(espota__engine *e, const unsigned char **ptr)
{
	uint64_t inflight, n;

	if (e->finished || e->phase != ESPOTA_PHASE_TRANSFER || e->sent >= e->cfg.len ||
		e->nstatus > 0)
		return 0;
	inflight = e->sent - e->provisional;
	if (e->cfg.transfer == ESPOTA_TRANSFER_STOP_AND_WAIT) {
		if (inflight > 0)
			return 0;
		n = e->cfg.chunk;
	} else {
		uint64_t end = e->provisional + e->cfg.window, paced = paced_end(e);
		if (paced != 0 && paced < end)
			end = paced;
		if (end <= e->sent)
			return 0;
		n = end - e->sent;
		/* No silly windows: wait until a whole chunk fits, except the tail. */
		if (n < e->cfg.chunk && n < e->cfg.len - e->sent)
			return 0;
	}
	if (n > e->cfg.len - e->sent)
		n = e->cfg.len - e->sent;
	*ptr = e->cfg.image + e->sent;
	return (size_t)n;
}

void espota__engine_tx_done(espota__engine *e, uint64_t now, size_t n)
{
	if (n > e->cfg.len - e->sent)
		n = (size_t)(e->cfg.len - e->sent);
	e->sent += n;
	arm_quiet(e, now);
}

/*
 * Acknowledgement accounting (protocol.md 5.3). The device prints each
 * count as bare decimal digits; they coalesce ("10241024"), split across
 * reads ("14" | "60"), and the status may stick to the last ("304OK").
 * acks.c keeps the readings they can mean and gives the running figure
 * (e->provisional: the window, the pacing, the stall timer and progress)
 * and, at the end, the decision.
 */
/* How long a blocked sender waits for more digits before it asks whether
 * the digits since the last anchor add up to everything sent (the device
 * has caught up and went quiet, but the kept readings missed it); each
 * miss doubles it (on a slow link the device pauses between most counts
 * without having caught up), a hit resets it. */
#define ACK_QUIET_MS 100
#define ACK_QUIET_MAX_MS 1600

/* Blocked with digits the running figure may not have read right: look
 * again once the device is quiet. */
static void arm_quiet(espota__engine *e, uint64_t now)
{
	const unsigned char *ptr;

	/* The same digits never add up later: the device has to say more. */
	e->quiet_at = (e->provisional < e->sent && e->sent < e->cfg.len &&
		e->quiet_seen != e->rule.digits && espota__engine_tx(e, &ptr) == 0) ?
		now + (e->quiet_ms ? e->quiet_ms : ACK_QUIET_MS) : 0;
}

static uint32_t min_rate(const espota__engine *e)
{
	return e->cfg.min_rate ? e->cfg.min_rate : DATA_MIN_RATE;
}

static uint64_t data_deadline(const espota__engine *e)
{
	if (min_rate(e) == UINT32_MAX)
		return UINT64_MAX;
	return e->transfer_start + DATA_BASE_MS + (uint64_t)e->cfg.len * 1000 / min_rate(e);
}

/* The stall deadline, never past the bound on the whole data phase. */
static void arm_stall(espota__engine *e, uint64_t now)
{
	uint64_t d = now + e->cfg.timeouts.stall_ms, dd = data_deadline(e);

	e->deadline = d < dd ? d : dd;
}

/* The running figure moved from `before`: the stall timer restarts, and
 * once it reaches the image the result is next. */
static void ack_moved(espota__engine *e, uint64_t now, uint64_t before)
{
	e->acked = e->provisional;
	e->acks = e->rule.running_counts;
	if (e->provisional == before)
		return;
	arm_stall(e, now);
	progress(e);
	if (e->provisional == e->cfg.len && e->phase == ESPOTA_PHASE_TRANSFER) {
		e->transfer_ms = now - e->transfer_start;
		e->deadline = now + e->cfg.timeouts.result_ms;
		set_phase(e, ESPOTA_PHASE_RESULT);
	}
}

/* A refused acknowledgement stream: the figure in the message and the
 * stats is what the counts can mean; progress (e->provisional) may only
 * move up to it, never back (a running pick can exceed what a full
 * reading reaches). */
static void failure_figure(espota__engine *e, uint64_t acked)
{
	e->acked = acked;
	if (acked > e->provisional)
		e->provisional = acked;
}

static void ack_update(espota__engine *e, uint64_t now, int final)
{
	uint64_t before = e->provisional;

	/* monotone and never above e->sent (acks.c) */
	e->provisional = espota__acks_running(&e->rule, e->sent);
	/* the learner sees each step when it comes, with its time */
	if (e->phase == ESPOTA_PHASE_TRANSFER && pace_adaptive(e))
		pace_learn(e, now);
	ack_moved(e, now, before);
	if (!final)
		arm_quiet(e, now);
}

/* The device's whole success text: "OK" (current cores), or "OK" and a line
 * end (older cores use println). 2: complete, 1: may still complete, 0: not
 * a success text (something follows the OK). */
static int ok_text(const char *s, size_t n)
{
	if (n == 2 || (n == 4 && memcmp(s, "OK\r\n", 4) == 0) || (n == 3 && s[2] == '\n'))
		return 2;
	if (n == 3 && s[2] == '\r')
		return 1;
	return 0;
}

/* An OK while the driver reports bytes the device's TCP never acknowledged
 * (facts from the kernel, not counts): the device cannot have checked the
 * image it calls good. Fails the upload and returns 1. */
static int refuse_unarrived(espota__engine *e)
{
	if (!e->peer_unacked_known || e->peer_unacked == 0 || e->peer_unacked > e->sent)
		return 0;
	failure_figure(e, e->sent - e->peer_unacked);
	fail(e, ESPOTA_EPROTO, "the device reported OK while %" PRIu64 " of the %zu bytes "
		"sent had not reached the device (its TCP had not acknowledged them): the "
		"update may or may not have been applied", e->peer_unacked, e->cfg.len);
	return 1;
}

/* The device said OK (docs/protocol.md, "The acknowledgement rule"): it
 * counts only after every byte was sent, when its counts can add up to the
 * image, and when nothing but the end of stream follows. */
static void finish_ok(espota__engine *e, uint64_t now, int at_eof)
{
	int t = ok_text(e->status, e->nstatus);

	if (t == 0) {
		char shown[96];
		printable(shown, sizeof(shown), e->status, e->nstatus);
		fail(e, ESPOTA_EPROTO, "the device sent a contradictory result \"%s\" (more after its "
			"OK): the update may or may not have been applied", shown);
		return;
	}
	if (e->sent != e->cfg.len) {
		fail(e, ESPOTA_EPROTO, "the device reported OK after only %" PRIu64 " of %zu bytes "
			"were sent", e->sent, e->cfg.len);
		return;
	}
	if (refuse_unarrived(e))
		return;
	if (!e->ok_pending) {
		/* A kept reading that adds up is a proof (each is a reading
		 * under one core's limits): the usual case, and free. Otherwise
		 * exact over every reading of the logged digits; undecided only
		 * when the device printed far more digits than any honest one. */
		int kept = espota__acks_can_total(&e->rule, e->cfg.len);
		int x = kept ? 1 : espota__acks_exact(&e->rule, e->cfg.len);

		if (x == 1 || (x < 0 && kept)) {
			e->ack_decided = ESPOTA__ACKS_DECIDED_COUNTS;
		} else if (x < 0 && e->rule.dropped) {
			/* Too many digits to log and too many readings to keep: the
			 * device's OK, given after its own MD5 check of every byte,
			 * decides. */
			e->ack_decided = ESPOTA__ACKS_DECIDED_DEVICE_OK;
			elog(e, ESPOTA_LOG_INFO, "acknowledgement counts too long to check; the "
				"device's OK (after its MD5 check of the whole image) decides");
		} else {
			uint64_t best = 0;
			if (espota__acks_exact_best(&e->rule, e->cfg.len, &best) < 0)
				best = espota__acks_best(&e->rule);
			failure_figure(e, best < e->cfg.len ? best : e->cfg.len - 1);
			fail(e, ESPOTA_EPROTO, "the device reported OK, but no reading of its "
				"acknowledgements adds up to the %zu bytes sent (at most %" PRIu64 " of them "
				"can be read as acknowledged): the update may or may not have been applied",
				e->cfg.len, e->acked);
			return;
		}
		e->ok_pending = 1;
		if (e->transfer_ms == 0 && e->transfer_start != 0)
			e->transfer_ms = now - e->transfer_start;
		set_phase(e, ESPOTA_PHASE_RESULT);
		/* Cores close right after OK (the ESP8266 after a 1 s pause). */
		e->deadline = now + (e->cfg.timeouts.result_ms < OK_CLOSE_MS ?
			e->cfg.timeouts.result_ms : OK_CLOSE_MS);
	}
	if (at_eof && t == 2) {
		e->acked = e->provisional = e->cfg.len;
		succeed(e, now);
	} else if (at_eof) {
		fail(e, ESPOTA_EPROTO, "the device closed the connection in the middle of its OK");
	}
}

static void finish_status(espota__engine *e, uint64_t now, int at_eof)
{
	int c = espota__status_classify(e->status, e->nstatus);

	if (c == 2) {
		finish_ok(e, now, at_eof);
		return;
	}
	if (c == 3 || (at_eof && c == 1 && e->nstatus > 1)) {
		device_refused(e, e->status, e->nstatus);
		return;
	}
	if (c == 0) {
		char shown[96];
		printable(shown, sizeof(shown), e->status, e->nstatus);
		fail(e, ESPOTA_EPROTO, "unexpected data from the device after %" PRIu64
			" acknowledged bytes: \"%s\"", e->acked, shown);
		return;
	}
	if (at_eof) {
		fail(e, ESPOTA_ECLOSED, "the device closed the connection in the middle of its result"
			" (%" PRIu64 " of %zu bytes acknowledged)", e->acked, e->cfg.len);
	}
}

void espota__engine_on_tcp_data(espota__engine *e, uint64_t now, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;
	int counted = 0;

	if (e->finished || (e->phase != ESPOTA_PHASE_TRANSFER && e->phase != ESPOTA_PHASE_RESULT))
		return;
	for (i = 0; i < len && !e->finished; i++) {
		unsigned char c = p[i];

		if (e->nstatus == 0 && c >= '0' && c <= '9') {
			counted = 1;
			espota__acks_digit(&e->rule, (char)c, e->sent);
			if (espota__acks_surely_dead(&e->rule)) {
				failure_figure(e, espota__acks_best(&e->rule));
				fail(e, ESPOTA_EPROTO, "the device acknowledged more than was sent: its "
					"counts cannot add up to %" PRIu64 " bytes or fewer (read as at most %"
					PRIu64 " before this digit)", e->sent, e->acked);
				return;
			}
			continue;
		}
		if (e->nstatus == 0) {
			/* The status text starts: every pending count is complete. */
			espota__acks_close(&e->rule);
			ack_update(e, now, 1);
			if (e->finished)
				return;
		}
		if (e->nstatus < sizeof(e->status) - 1)
			e->status[e->nstatus++] = (char)c;
		e->status[e->nstatus] = '\0';
	}
	if (e->finished)
		return;
	if (e->nstatus == 0) {
		espota__acks_boundary(&e->rule);
		if (counted)
			ack_update(e, now, 0);
	}
	if (!e->finished && e->nstatus > 0)
		finish_status(e, now, e->nstatus >= sizeof(e->status) - 1);
}

void espota__engine_on_tcp_closed(espota__engine *e, uint64_t now, int err)
{
	if (e->finished)
		return;
	if (e->nstatus == 0)
		espota__acks_close(&e->rule);
	ack_update(e, now, 1);
	if (e->finished)
		return;
	if (e->nstatus > 0) {
		finish_status(e, now, 1);
		return;
	}
	if (err != 0) {
		fail(e, ESPOTA_ECLOSED, "the connection to the device failed (%s) after %" PRIu64
			" of %zu bytes acknowledged", strerror(err), e->acked, e->cfg.len);
		return;
	}
	if (e->acked == e->cfg.len)
		fail(e, ESPOTA_ECLOSED, "the device closed the connection without a result after "
			"receiving all %zu bytes (it may have rebooted; the update may or may not be applied)",
			e->cfg.len);
	else
		fail(e, ESPOTA_ECLOSED, "the device closed the connection after %" PRIu64
			" of %zu bytes acknowledged", e->acked, e->cfg.len);
}

/* ---- time ------------------------------------------------------------------ */

uint64_t espota__engine_deadline(const espota__engine *e)
{
	if (e->finished)
		return NO_DEADLINE;
	return (e->quiet_at != 0 && e->quiet_at < e->deadline) ? e->quiet_at : e->deadline;
}

void espota__engine_tick(espota__engine *e, uint64_t now)
{
	if (!e->finished && e->quiet_at != 0 && now >= e->quiet_at) {
		uint64_t before = e->provisional;
		e->quiet_at = 0;
		if (e->phase == ESPOTA_PHASE_TRANSFER && before < e->sent &&
			espota__acks_caught_up(&e->rule, e->sent)) {
			elog(e, ESPOTA_LOG_DEBUG, "device quiet: its counts add up to the %" PRIu64
				" bytes sent", e->sent);
			e->provisional = e->sent;
			e->quiet_ms = ACK_QUIET_MS;
			ack_moved(e, now, before);
			return;
		}
		e->quiet_seen = e->rule.digits;
		if (e->quiet_ms < ACK_QUIET_MAX_MS)
			e->quiet_ms = e->quiet_ms ? e->quiet_ms * 2 : 2 * ACK_QUIET_MS;
	}
	if (e->finished || e->deadline == NO_DEADLINE || now < e->deadline)
		return;
	switch (e->phase) {
	case ESPOTA_PHASE_INVITE:
		if (e->attempt < e->cfg.timeouts.invite_attempts) {
			elog(e, ESPOTA_LOG_WARN, "no answer to invitation %u; retrying", e->attempt);
			send_invitation(e, now);
			return;
		}
		fail(e, ESPOTA_ETIMEOUT, "no answer from the device to %u invitations (%u ms each): "
			"check the address and port, and that the sketch calls ArduinoOTA.handle()",
			e->attempt, e->cfg.timeouts.invite_ms);
		return;
	case ESPOTA_PHASE_AUTH:
		if (try_md5_fallback(e, now, "no answer to authentication with the SHA-256 password hash"))
			return;
		fail(e, ESPOTA_ETIMEOUT, "no answer to our authentication within %u ms",
			e->cfg.timeouts.auth_ms);
		return;
	case ESPOTA_PHASE_CONNECT:
		fail(e, ESPOTA_ETIMEOUT, "the device did not connect back to TCP port %u within %u ms: "
			"usually a host firewall blocking inbound TCP on that port, a wrong host address "
			"(-I), NAT between host and device, or (ESP32) an image the device refused silently",
			(unsigned)e->cfg.local_port, e->cfg.timeouts.connect_ms);
		return;
	case ESPOTA_PHASE_TRANSFER:
		if (now >= data_deadline(e)) {
			e->acked = e->provisional;
			fail(e, ESPOTA_ETIMEOUT, "the device took more than %" PRIu64 " s for %zu bytes "
				"(at %" PRIu64 "; under %" PRIu32 " bytes/s): giving up", (data_deadline(e) -
				e->transfer_start) / 1000, e->cfg.len, e->provisional, min_rate(e));
			return;
		}
		e->acked = e->provisional; /* the figure in the message is the one in the stats */
		fail(e, ESPOTA_ETIMEOUT, "the device stopped acknowledging for %u ms at %" PRIu64
			" of %zu bytes", e->cfg.timeouts.stall_ms, e->provisional, e->cfg.len);
		return;
	case ESPOTA_PHASE_RESULT:
		if (e->ok_pending && ok_text(e->status, e->nstatus) == 2) {
			if (refuse_unarrived(e))
				return;
			elog(e, ESPOTA_LOG_INFO, "the device kept the connection open after its OK");
			e->acked = e->provisional = e->cfg.len;
			succeed(e, now);
			return;
		}
		fail(e, ESPOTA_ETIMEOUT, "no result from the device within %u ms after all %zu bytes "
			"were acknowledged (it may have rebooted; the update may or may not be applied)",
			e->cfg.timeouts.result_ms, e->cfg.len);
		return;
	default:
		return;
	}
}
