/*
 * One virtual device: the ArduinoOTA protocol (UDP handshake, connect-back,
 * data loop, result) as a state machine. Each state mirrors a stretch of
 * the sequential firmware code between two blocking points; see
 * protocol.md 2 and 5 and the upstream ArduinoOTA.cpp files.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include "sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MS(x) ((usec_t)((x) * 1000.0))

static const struct config *CFG(const struct device *d) { return &d->sim->cfg; }

/* a fixed firmware delay (delay(n) in the sketch); --fast drops them */
/* --fast: the pause an ESP8266 keeps between its last count and "OK" */
#define FAST_OK_PAUSE_MS 20

static usec_t fw_delay(const struct device *d, double ms)
{
	return CFG(d)->fast || CFG(d)->no_fw_delays ? 0 : MS(ms);
}

/* time until the sketch's next ArduinoOTA.handle() */
static usec_t loop_lat(const struct device *d)
{
	return CFG(d)->fast ? 0 : MS(CFG(d)->loop_ms);
}

void sockaddr_str(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		port = ntohs(a->sin_port);
		snprintf(out, outsz, "%s:%d", ip, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		port = ntohs(a->sin6_port);
		snprintf(out, outsz, "[%s]:%d", ip, port);
	} else {
		snprintf(out, outsz, "?");
	}
}

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int device_open(struct device *d)
{
	d->udp_fd = socket(d->local.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (d->udp_fd < 0)
		return -1;
	set_nonblock(d->udp_fd);
	if (bind(d->udp_fd, (struct sockaddr *)&d->local, d->locallen) < 0)
		return -1;
	socklen_t len = sizeof d->local;
	getsockname(d->udp_fd, (struct sockaddr *)&d->local, &len);
	d->port = d->local.ss_family == AF_INET
		? ntohs(((struct sockaddr_in *)&d->local)->sin_port)
		: ntohs(((struct sockaddr_in6 *)&d->local)->sin6_port);
	d->sketch_size = CFG(d)->sketch_size;
	d->header_flash_size = CFG(d)->header_flash_size;
	d->boot_t = now_us();
	d->sched_t = SIM_NEVER;
	return 0;
}

void device_close(struct device *d)
{
	if (d->udp_fd >= 0)
		close(d->udp_fd);
	d->udp_fd = -1;
	conn_free(d->c);
	conn_free(d->closing);
	d->c = d->closing = NULL;
	out_free_all(&d->uin_head, &d->uin_tail);
	out_free_all(&d->uout_head, &d->uout_tail);
}

int device_idle(const struct device *d)
{
	return !d->uout_head && !d->closing && !d->c && !d->attempt_open;
}

/* ------------------------------------------------------------------------- */
/* output                                                                      */

static void udp_reply(struct device *d, const struct sockaddr_storage *to, socklen_t tolen,
		      const char *text, size_t len, usec_t when, int invitation)
{
	char dst[80];
	sockaddr_str(to, dst, sizeof dst);
	const struct fault *f = fault_get(d, F_DROP_UDP_REPLY);
	if (f && d->udp_replies < f->value) {
		d->udp_replies++;
		jlog(d, "reply", (struct jlog_field[]){JS("proto", "udp"), JR("text", text, len),
			JS("to", dst), JB("dropped", 1), JEND});
		return;
	}
	d->udp_replies++;
	int n = invitation && fault_get(d, F_DOUBLE_INVITE_REPLY) ? 2 : 1;
	for (int i = 0; i < n; i++)
		out_push(&d->uout_head, &d->uout_tail, when + owd_us(CFG(d)), text, len, 0, to, tolen);
	jlog(d, "reply", (struct jlog_field[]){JS("proto", "udp"), JR("text", text, len),
		JS("to", dst), JI("copies", n), JEND});
}

static void tcp_send(struct device *d, const char *text, size_t len, usec_t now, int close_after)
{
	if (!d->c)
		return;
	out_push(&d->c->out_head, &d->c->out_tail, now + owd_us(CFG(d)), text, len, close_after, NULL, 0);
}

/* Hand the socket over to the closing slot: it is closed once its queued
 * output (the final text) has gone out. */
static void tcp_close(struct device *d, usec_t now)
{
	struct conn *c = d->c;
	if (!c)
		return;
	d->c = NULL;
	if (d->closing)
		conn_free(d->closing);
	/* a close marker after whatever is queued */
	out_push(&c->out_head, &c->out_tail, now + owd_us(CFG(d)), "", 0, 1, NULL, 0);
	d->closing = c;
}

static void send_ack(struct device *d, uint32_t n, usec_t now, int stale)
{
	char txt[32];
	int len = snprintf(txt, sizeof txt, "%u", n);
	d->acks++;
	jlog(d, "ack", (struct jlog_field[]){JI("count", n), JI("total", d->total),
		JB("stale", stale), JEND});
	if (fault_get(d, F_ACK_GARBAGE)) {
		tcp_send(d, "x?!", 3, now, 0); /* non-digit, non-status bytes */
		return;
	}
	if (fault_get(d, F_ACK_TRUNCATE) && len > 1)
		len--;  /* the count loses its last digit */
	tcp_send(d, txt, (size_t)len, now, 0);
	if (fault_get(d, F_ACK_DUP))
		tcp_send(d, txt, (size_t)len, now, 0);
}

/* ------------------------------------------------------------------------- */
/* upload attempts                                                             */

static void save_image(struct device *d, const unsigned char *data, size_t len)
{
	const struct config *cfg = CFG(d);
	if (!cfg->out_dir || len == 0)
		return;
	char dir[4096], path[4200], tmp[4300];
	if (d->sim->ndev > 1 || d->index > 0) {
		snprintf(dir, sizeof dir, "%s/dev%d", cfg->out_dir, d->index);
		mkdir(dir, 0777);
	} else {
		snprintf(dir, sizeof dir, "%s", cfg->out_dir);
	}
	snprintf(path, sizeof path, "%s/%s", dir, d->cmd == CMD_FS ? "fs.bin" : "app.bin");
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		fprintf(stderr, "espota-sim: cannot write %s\n", tmp);
		return;
	}
	size_t w = fwrite(data, 1, len, f);
	if (fclose(f) != 0 || w != len || rename(tmp, path) != 0)
		fprintf(stderr, "espota-sim: cannot write %s\n", path);
}

static void finish_attempt(struct device *d, const char *result, int err, const char *text)
{
	if (!d->attempt_open)
		return;
	d->attempt_open = 0;
	uint64_t received = 0;
	if (d->c)
		received = IS_ESP32(CFG(d)->platform) ? d->total : d->c->consumed;
	else
		received = d->total;
	jlog(d, "upload", (struct jlog_field[]){JI("attempt", d->attempt), JI("cmd", d->cmd),
		JI("size", d->size), JI("received", received), JS("result", result),
		JI("error", err), JS("text", text), JEND});
	d->sim->uploads_done++;
}

static void go_idle(struct device *d, usec_t now)
{
	d->fw = FW_IDLE;
	d->ota = OTA_IDLE;
	d->until = SIM_NEVER;
	d->udp_busy_until = now + loop_lat(d);
}

/* Update.end() and what the firmware does with its result. */
static void do_end(struct device *d, usec_t now)
{
	const struct config *cfg = CFG(d);
	int esp32 = IS_ESP32(cfg->platform);
	const unsigned char *img = d->c ? d->c->buf : NULL;
	size_t len = d->c ? (size_t)(esp32 ? d->total : d->c->consumed) : 0;
	if (esp32 && !d->verified && !cfg->fast && cfg->verify_ms_per_mb > 0 && len > 0 &&
		updater_finished(d)) {
		/* esp_ota_end() and esp_ota_set_boot_partition() read the whole
		 * image back from flash and hash it before the result is known */
		d->verified = 1;
		d->fw = FW_VERIFY32;
		d->until = now + (usec_t)((double)len / 1048576.0 * cfg->verify_ms_per_mb * 1000.0);
		return;
	}
	d->verified = 0;
	if (!esp32)
		d->total = (uint32_t)len;
	uint32_t declared = d->up.size;
	d->end_ok = updater_end(d, img ? img : (const unsigned char *)"", len);
	save_image(d, img, len > declared && declared ? declared : len);
	if (esp32 && d->up.why[0])
		jlog(d, "image_check", (struct jlog_field[]){JB("ok", 0), JS("reason", d->up.why), JEND});
	jlog(d, "end", (struct jlog_field[]){JI("received", len), JS("md5_expected", d->md5),
		JS("md5_calculated", d->up.calc_md5), JB("ok", d->end_ok), JEND});

	if (d->end_ok) {
		if (fault_get(d, F_NO_FINAL_OK)) {
			jlog(d, "fault", (struct jlog_field[]){JS("fault", "no-final-ok"), JEND});
			tcp_close(d, now);
			finish_attempt(d, "ok-no-final-ok", 0, "");
			d->fw = FW_PRE_REBOOT;
			d->until = now + fw_delay(d, 100);
			return;
		}
		if (!esp32) {
			/* flush; delay(1000); print("OK"); flush; delay(1000); stop().
			 * --fast keeps a short pause: the delay exists so that the
			 * last count and "OK" are separate segments, and the stock
			 * espota.py (which reads them separately) fails without it. */
			d->fw = FW_FINISH_1;
			d->until = now + (cfg->fast || cfg->no_fw_delays ? MS(FAST_OK_PAUSE_MS) : MS(1000));
		} else {
			/* print("OK"); stop(); delay(10); onEnd; delay(100); restart */
			tcp_send(d, "OK", 2, now, 0);
			tcp_close(d, now);
			finish_attempt(d, "ok", 0, "");
			d->fw = FW_POST;
			d->until = now + fw_delay(d, 10);
		}
		return;
	}
	char wire[256];
	updater_error_wire(d, wire, sizeof wire);
	jlog(d, "error", (struct jlog_field[]){JS("phase", "end"), JI("error", d->up.error),
		JS("wire", wire), JEND});
	tcp_send(d, wire, strlen(wire), now, 0);
	tcp_close(d, now);
	size_t tl = strcspn(wire, "\r\n");
	wire[tl] = '\0';
	finish_attempt(d, "error", d->up.error, wire);
	if (esp32) {
		d->fw = FW_POST;
		d->until = now + fw_delay(d, 10);
	} else {
		go_idle(d, now);
	}
}

/* the device gave up on the connection without a result (fault / timeout) */
static void abandon(struct device *d, usec_t now, const char *result, int err, const char *text)
{
	const unsigned char *img = d->c ? d->c->buf : NULL;
	size_t len = d->c ? (size_t)(IS_ESP32(CFG(d)->platform) ? d->total : d->c->consumed) : 0;
	save_image(d, img, len);
	finish_attempt(d, result, err, text);
	updater_reset(d);
	tcp_close(d, now);
	go_idle(d, now);
}

/*
 * The device reset in the middle of the data phase (it erased the app it
 * runs from) and has no bootable app afterwards. Nothing more is sent: no
 * text, no FIN (counts printed before the crash still arrive). The socket
 * stays open, unread, until the host gives up (as with a device that lost
 * power), and the instance never answers again.
 */
static void crash(struct device *d, usec_t now)
{
	const unsigned char *img = d->c ? d->c->buf : NULL;
	jlog(d, "crash", (struct jlog_field[]){JS("reason", "erased the running app partition"),
		JS("partition", CFG(d)->parts[d->up.part].name), JI("received", d->total), JEND});
	save_image(d, img, d->total);
	finish_attempt(d, "crashed", 0, "");
	updater_reset(d);
	if (d->c)
		d->c->stalled = 1;
	d->fw = FW_DEAD;
	d->until = SIM_NEVER;
	(void)now;
}

static void connect_failed(struct device *d, usec_t now, const char *why)
{
	jlog(d, "connect", (struct jlog_field[]){JB("ok", 0), JS("reason", why), JEND});
	conn_free(d->c);
	d->c = NULL;
	/* the firmware still runs Update.end(): ESP8266 -> 13, ESP32 -> 12;
	 * the text goes to an unconnected client, i.e. nowhere */
	int esp32 = IS_ESP32(CFG(d)->platform);
	updater_end(d, (const unsigned char *)"", 0);
	finish_attempt(d, "connect-failed", d->up.error, esp32 ? esp32_err_text(d->up.error)
							: esp8266_err_text(d->up.error));
	if (esp32) {
		d->fw = FW_POST;
		d->end_ok = 0;
		d->until = now + fw_delay(d, 10);
	} else {
		go_idle(d, now);
	}
}

/* ------------------------------------------------------------------------- */
/* UDP handshake (protocol.md 2.2)                                             */

struct rd { const unsigned char *p, *end; };

static int rd_peek(const struct rd *r) { return r->p < r->end ? *r->p : -1; }
static void rd_skip(struct rd *r) { if (r->p < r->end) r->p++; }

/* atoi() of newlib: strtol() saturating at the 32-bit LONG_MAX */
static int atoi32(const char *s)
{
	long long v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > INT_MAX)
			return INT_MAX;
	}
	return (int)v;
}

/* ArduinoOTAClass::parseInt(): spaces skipped, then digits into a 16-byte
 * buffer. ESP8266 fills up to 16 digits, ESP32 15; a full buffer yields 0
 * (so at most 15 / 14 digits parse). The digits read stay consumed. */
static int parse_int(struct rd *r, int esp32)
{
	char data[16];
	int lim = esp32 ? 15 : 16;
	while (rd_peek(r) == ' ')
		r->p++;
	for (int i = 0; i < lim; i++) {
		int v = rd_peek(r);
		if (v < '0' || v > '9') {
			data[i] = '\0';
			return atoi32(data);
		}
		data[i] = (char)*r->p++;
	}
	return 0;
}

/* readStringUntil(): stops at end of datagram, NUL or `end` (consumed) */
static size_t read_until(struct rd *r, int end, char *out, size_t outsz)
{
	size_t n = 0;
	for (;;) {
		int v = r->p < r->end ? *r->p++ : -1;
		if (v <= 0 || v == end)
			break;
		if (n + 1 < outsz)
			out[n] = (char)v;
		n++;
	}
	out[n < outsz ? n : outsz - 1] = '\0';
	return n; /* true length, even when truncated in `out` */
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void make_nonce(struct device *d, usec_t now)
{
	const struct config *cfg = CFG(d);
	char txt[32];
	uint32_t micros = cfg->fixed_micros >= 0 ? (uint32_t)cfg->fixed_micros
						 : (uint32_t)(now - d->boot_t);
	snprintf(txt, sizeof txt, "%u", micros);
	if (cfg->platform == PLAT_ESP32)
		sha256_hex(txt, strlen(txt), d->nonce);  /* 3.3.1+: 64 hex (generation unconfirmed) */
	else
		md5_hex(txt, strlen(txt), d->nonce);     /* MD5 of micros() text, as upstream */
}

static void process_datagram(struct device *d, struct outmsg *m, usec_t now)
{
	const struct config *cfg = CFG(d);
	int esp32 = IS_ESP32(cfg->platform);
	struct rd r = {m->data, m->data + m->len};
	char from[80];
	sockaddr_str(&m->to, from, sizeof from);

	if (d->ota == OTA_IDLE) {
		int cmd = parse_int(&r, esp32);
		if (cmd != CMD_FLASH && cmd != CMD_FS) {
			jlog(d, "ignored", (struct jlog_field[]){JS("reason", "bad_cmd"), JI("cmd", cmd),
				JR("datagram", m->data, m->len), JS("from", from), JEND});
			return;
		}
		if (!esp32) {
			/* ESP8266 remembers the invitation's source before the md5 check */
			d->inv_src = m->to;
			d->inv_srclen = m->tolen;
		}
		int host_port = parse_int(&r, esp32);
		int size = parse_int(&r, esp32);
		rd_skip(&r);
		char md5[128];
		size_t n = read_until(&r, '\n', md5, sizeof md5);
		if (n >= sizeof md5) {
			jlog(d, "ignored", (struct jlog_field[]){JS("reason", "bad_md5_length"),
				JR("datagram", m->data, m->len), JS("from", from), JEND});
			return;
		}
		char *s = md5;
		while (*s && is_space(*s))
			s++;
		n = strlen(s);
		while (n && is_space(s[n - 1]))
			s[--n] = '\0';
		if (n != 32) {
			jlog(d, "ignored", (struct jlog_field[]){JS("reason", "bad_md5_length"),
				JI("md5_length", n), JR("datagram", m->data, m->len), JS("from", from), JEND});
			return;
		}
		if (fault_get(d, F_NO_INVITE_REPLY)) {
			jlog(d, "fault", (struct jlog_field[]){JS("fault", "no-invite-reply"),
				JS("from", from), JEND});
			return;
		}
		d->cmd = cmd;
		d->host_port = host_port;
		d->size = (uint32_t)size;
		memcpy(d->md5, s, 33);
		jlog(d, "invitation", (struct jlog_field[]){JI("cmd", cmd), JI("port", host_port),
			JI("size", size), JS("md5", s), JS("from", from),
			JB("auth", cfg->stored_pw[0] != 0), JEND});
		const struct sockaddr_storage *to = esp32 ? &m->to : &d->inv_src;
		socklen_t tolen = esp32 ? m->tolen : d->inv_srclen;
		if (cfg->stored_pw[0]) {
			make_nonce(d, now);
			char auth[80];
			int l = snprintf(auth, sizeof auth, "AUTH %s", d->nonce);
			udp_reply(d, to, tolen, auth, (size_t)l, now, 1);
			d->ota = OTA_WAITAUTH;
			return;
		}
		if (esp32) {
			udp_reply(d, to, tolen, "OK", 2, now, 1);
			d->ota_ip = m->to;
			d->ota_iplen = m->tolen;
		} else {
			d->ota_ip = d->inv_src;
			d->ota_iplen = d->inv_srclen;
		}
		d->ota = OTA_RUNUPDATE;
		d->fw = FW_RUN_PENDING;
		d->until = now + loop_lat(d);
		return;
	}

	if (d->ota != OTA_WAITAUTH)
		return;
	int cmd = parse_int(&r, esp32);
	if (cmd != CMD_AUTH) {
		/* swallowed: back to IDLE with no reply (a fresh invitation too) */
		jlog(d, "auth", (struct jlog_field[]){JS("result", "not_auth"), JI("cmd", cmd),
			JR("datagram", m->data, m->len), JS("from", from), JEND});
		d->ota = OTA_IDLE;
		return;
	}
	rd_skip(&r);
	char cnonce[256], resp[256];
	size_t cl = read_until(&r, ' ', cnonce, sizeof cnonce);
	size_t rl = read_until(&r, '\n', resp, sizeof resp);
	size_t want = cfg->platform == PLAT_ESP32 ? 64 : 32;
	if (cl != want || rl != want) {
		jlog(d, "auth", (struct jlog_field[]){JS("result", "bad_length"), JI("cnonce_length", cl),
			JI("response_length", rl), JS("from", from), JEND});
		d->ota = OTA_IDLE;
		return;
	}
	char expect[65];
	usec_t proc = 0;
	char buf[512];
	if (cfg->platform == PLAT_ESP32) {
		/* scheme B (protocol.md 4.3) */
		char salt[160], dk[65];
		int sl = snprintf(salt, sizeof salt, "%s:%s", d->nonce, cnonce);
		pbkdf2_sha256_hex(cfg->stored_pw, strlen(cfg->stored_pw), salt, (size_t)sl, 10000, dk);
		int bl = snprintf(buf, sizeof buf, "%s:%s:%s", dk, d->nonce, cnonce);
		sha256_hex(buf, (size_t)bl, expect);
		proc = cfg->fast ? 0 : MS(cfg->pbkdf2_ms);
	} else {
		int bl = snprintf(buf, sizeof buf, "%s:%s:%s", cfg->stored_pw, d->nonce, cnonce);
		md5_hex(buf, (size_t)bl, expect);
	}
	int ok = memcmp(expect, resp, want) == 0; /* case-sensitive, both cores */
	jlog(d, "auth", (struct jlog_field[]){JS("result", ok ? "ok" : "fail"),
		JS("scheme", cfg->platform == PLAT_ESP32 ? "pbkdf2" : "md5"), JS("nonce", d->nonce),
		JS("cnonce", cnonce), JS("response", resp), JS("from", from), JEND});
	const struct sockaddr_storage *to = esp32 ? &m->to : &d->inv_src;
	socklen_t tolen = esp32 ? m->tolen : d->inv_srclen;
	if (!ok) {
		udp_reply(d, to, tolen, "Authentication Failed", 21, now + proc, 0);
		d->ota = OTA_IDLE;
		d->udp_busy_until = now + proc + loop_lat(d);
		return;
	}
	if (esp32) {
		udp_reply(d, to, tolen, "OK", 2, now + proc, 0);
		d->ota_ip = m->to;
		d->ota_iplen = m->tolen;
	} else {
		d->ota_ip = d->inv_src;
		d->ota_iplen = d->inv_srclen;
	}
	d->ota = OTA_RUNUPDATE;
	d->fw = FW_RUN_PENDING;
	d->until = now + proc + loop_lat(d);
}

/* when the head datagram is handled; SIM_NEVER if it must wait for idle */
static usec_t datagram_due(const struct device *d, const struct outmsg *m)
{
	usec_t t = m->when + owd_us(CFG(d));
	if (d->fw == FW_REBOOTING || d->fw == FW_DEAD)
		return t; /* dropped */
	if (!IS_ESP32(CFG(d)->platform))
		return t; /* receive callback: at once, or discarded while busy */
	if (d->fw != FW_IDLE)
		return SIM_NEVER; /* queued in the socket until handle() runs again */
	/* ESP32 polls one datagram per handle() */
	t += loop_lat(d);
	return t > d->udp_busy_until ? t : d->udp_busy_until;
}

void device_on_udp_readable(struct device *d, usec_t now)
{
	for (int count = 0;; count++) {
		unsigned char buf[2048];
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(d->udp_fd, buf, sizeof buf, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		size_t queued = 0;
		for (const struct outmsg *q = d->uin_head; q; q = q->next)
			queued++;
		if (queued >= 64 || count >= 64)
			continue; /* a flood: the stack's queue is full, drop */
		out_push(&d->uin_head, &d->uin_tail, now, buf, (size_t)n, 0, &from, fl);
	}
}

static void process_udp_queue(struct device *d, usec_t now)
{
	while (d->uin_head) {
		struct outmsg *m = d->uin_head;
		usec_t due = datagram_due(d, m);
		if (due > now)
			return;
		d->uin_head = m->next;
		if (!d->uin_head)
			d->uin_tail = NULL;
		char from[80];
		sockaddr_str(&m->to, from, sizeof from);
		if (d->fw == FW_REBOOTING || d->fw == FW_DEAD ||
		    (d->fw != FW_IDLE && !IS_ESP32(CFG(d)->platform))) {
			jlog(d, "ignored", (struct jlog_field[]){
				JS("reason", d->fw == FW_REBOOTING ? "rebooting"
					     : d->fw == FW_DEAD ? "crashed" : "busy"),
				JR("datagram", m->data, m->len), JS("from", from), JEND});
		} else {
			if (IS_ESP32(CFG(d)->platform))
				d->udp_busy_until = now + loop_lat(d);
			process_datagram(d, m, now);
		}
		free(m);
	}
}

/* ------------------------------------------------------------------------- */
/* connect-back                                                                */

static void start_connect(struct device *d, usec_t now)
{
	const struct config *cfg = CFG(d);
	struct sockaddr_storage dst = d->ota_ip;
	set_port(&dst, d->host_port);
	char to[80];
	sockaddr_str(&dst, to, sizeof to);
	int fd = socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		connect_failed(d, now, "socket");
		return;
	}
	set_nonblock(fd);
	if (!IS_ESP32(cfg->platform)) {
		int one = 1; /* ArduinoOTA (ESP8266) sets TCP_NODELAY on the client */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	if (!cfg->fast) {
		/* lwIP announces its TCP_MSS in the SYN; so does the sim, so the
		 * host sees the MSS a real device of this build would show. */
		int mss = cfg->mss;
		setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
	}
	uint64_t limit = d->size;
	if (IS_ESP32(cfg->platform))
		limit += 1460; /* ESP32 reads past the declared size (then error 4) */
	const struct fault *st = fault_get(d, F_STALL_AFTER);
	if (st && (uint64_t)st->value < limit)
		limit = (uint64_t)st->value;
	d->c = conn_new(fd, limit);
	if (d->c) {
		d->c->dev = d->index;
		d->c->loss = CFG(d)->fast ? 0 : link_loss_for(CFG(d), d->index);
	}
	if (!d->c) {
		close(fd);
		connect_failed(d, now, "out of memory");
		return;
	}
	const struct fault *cf = fault_get(d, F_CONNECT_FROM);
	if (cf) {
		if (bind(fd, (const struct sockaddr *)&cf->addr, cf->addrlen) < 0) {
			connect_failed(d, now, "bind (connect-from) failed");
			return;
		}
	}
	jlog(d, "connect", (struct jlog_field[]){JS("to", to), JS("state", "started"), JEND});
	d->c->connect_started = now;
	if (connect(fd, (struct sockaddr *)&dst,
		    dst.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) < 0 &&
	    errno != EINPROGRESS) {
		connect_failed(d, now, strerror(errno));
		return;
	}
	d->c->connecting = 1;
	d->fw = FW_CONNECTING;
	d->until = now + MS(cfg->connect_timeout_ms);
}

/* ------------------------------------------------------------------------- */
/* data phase                                                                  */

static int check_take_faults(struct device *d, usec_t now)
{
	const struct fault *f = fault_get(d, F_DROP_AFTER);
	if (f && d->c->consumed >= (uint64_t)f->value) {
		jlog(d, "fault", (struct jlog_field[]){JS("fault", "drop-after"),
			JI("received", d->c->consumed), JEND});
		/* the connection dies: close at once, nothing more is sent */
		struct conn *c = d->c;
		out_free_all(&c->out_head, &c->out_tail);
		abandon(d, now, "dropped", 0, "");
		return 1;
	}
	f = fault_get(d, F_STALL_AFTER);
	if (f && d->c->consumed >= (uint64_t)f->value) {
		jlog(d, "fault", (struct jlog_field[]){JS("fault", "stall-after"),
			JI("received", d->c->consumed), JEND});
		d->c->stalled = 1;
		d->fw = FW_STALLED;
		d->until = SIM_NEVER;
		return 1;
	}
	return 0;
}

/* ESP8266: while (!Update.isFinished() && client.connected()) { wait; n = Update.write(client); print(n) } */
static void data_step8(struct device *d, usec_t now)
{
	const struct config *cfg = CFG(d);
	struct conn *c = d->c;
	for (;;) {
		switch (d->ds) {
		case D_TOP:
			if (updater_finished(d) || conn_peer_gone(c, cfg, now)) {
				do_end(d, now);
				return;
			}
			d->ds = D_WAIT;
			d->wait_deadline = now + MS(1000); /* 1000 x delay(1), then write() anyway */
			/* fall through */
		case D_WAIT:
			if (conn_available(c, cfg, now) > 0) {
				d->written = 0;
				d->ds = D_ITER;
				continue;
			}
			if (now >= d->wait_deadline) {
				d->ds = D_TOP; /* write() returned 0; loop re-checks connected() */
				continue;
			}
			d->until = d->wait_deadline;
			return;
		case D_ITER: {
			/* one pass of the Update.write(client) template */
			uint64_t avail = conn_available(c, cfg, now);
			if (avail == 0) {
				if (d->written > 0)
					send_ack(d, d->written, now, 0);
				d->ds = D_TOP;
				continue;
			}
			uint32_t rem = updater_remaining(d);
			if (d->up.buf_len + avail > rem)
				avail = rem - d->up.buf_len;
			usec_t cost = 0;
			int flushed = 0, fail = 0;
			if (d->up.buf_len + avail > 4096) {
				uint32_t to = 4096 - d->up.buf_len;
				conn_take(c, to, now);
				d->up.buf_len += to;
				d->total += to;
				fail = updater_flush(d, &cost);
				if (!fail)
					d->written += to;
				flushed = 1;
			} else {
				conn_take(c, (size_t)avail, now);
				d->up.buf_len += (uint32_t)avail;
				d->total += (uint32_t)avail;
				d->written += (uint32_t)avail;
				if (d->up.buf_len == updater_remaining(d)) {
					fail = updater_flush(d, &cost);
					flushed = 1;
				}
			}
			if (fail) {
				jlog(d, "error", (struct jlog_field[]){JS("phase", "write"),
					JI("error", d->up.error), JS("text", esp8266_err_text(d->up.error)), JEND});
				if (d->written > 0)
					send_ack(d, d->written, now, 0);
				d->ds = D_TOP;
				continue;
			}
			if (check_take_faults(d, now))
				return;
			if (flushed) {
				d->ds = D_AFTER_FLUSH;
				d->until = now + cost;
				continue;
			}
			d->ds = D_AFTER_ITER;
			continue;
		}
		case D_AFTER_FLUSH:
			if (now < d->until)
				return;
			d->ds = D_AFTER_ITER;
			/* fall through */
		case D_AFTER_ITER:
			if (updater_remaining(d) == 0) {
				send_ack(d, d->written, now, 0);
				d->ds = D_TOP;
				continue;
			}
			d->ds = D_DELAY; /* delay(1) before looking at available() again */
			d->until = now + (cfg->fast ? 0 : MS(1));
			/* fall through */
		case D_DELAY:
			if (now < d->until)
				return;
			d->ds = D_ITER;
			continue;
		default:
			return;
		}
	}
}

/* ESP32: wait <= _ota_timeout for data; read <= 1460; Update.write(); print(written) */
static void data_step32(struct device *d, usec_t now)
{
	const struct config *cfg = CFG(d);
	struct conn *c = d->c;
	const usec_t timeout = MS(1000); /* _ota_timeout: protocol behaviour, kept with --fast */
	for (;;) {
		switch (d->ds) {
		case D_TOP:
			if (updater_finished(d) || conn_peer_gone(c, cfg, now)) {
				do_end(d, now);
				return;
			}
			d->ds = D_WAIT;
			d->wait_deadline = now + timeout;
			/* fall through */
		case D_WAIT: {
			uint64_t avail = conn_available(c, cfg, now);
			if (avail > 0) {
				d->tried = 0;
				uint32_t r = avail > 1460 ? 1460 : (uint32_t)avail;
				const unsigned char *p = conn_take(c, r, now);
				usec_t cost = 0;
				uint32_t w = updater32_write(d, p, r, &cost);
				d->written = w;
				d->pending_w = w;
				d->total += w;
				if (d->up.crashed) {
					crash(d, now);
					return;
				}
				if (w == 0 || d->up.error) {
					jlog(d, "error", (struct jlog_field[]){JS("phase", "write"),
						JI("error", d->up.error), JS("text", esp32_err_text(d->up.error)), JEND});
				}
				if (check_take_faults(d, now))
					return;
				d->ds = D32_AFTER_WRITE;
				d->until = now + cost;
				continue;
			}
			if (now < d->wait_deadline) {
				d->until = d->wait_deadline;
				return;
			}
			if (d->written && d->tried++ < 3) {
				send_ack(d, d->written, now, 1); /* stale ack */
				d->ds = D_TOP;
				continue;
			}
			/* Receive Failed: Update.abort(), return; the client closes, no text */
			jlog(d, "error", (struct jlog_field[]){JS("phase", "receive"), JI("error", 12),
				JS("text", "Receive Failed (timeout)"), JEND});
			abandon(d, now, "timeout", 12, "Receive Failed");
			return;
		}
		case D32_AFTER_WRITE:
			if (now < d->until)
				return;
			if (d->pending_w > 0)
				send_ack(d, d->pending_w, now, 0);
			d->ds = D_TOP;
			continue;
		default:
			return;
		}
	}
}

/* ------------------------------------------------------------------------- */
/* firmware main line                                                          */

static usec_t reboot_time(const struct device *d)
{
	const struct config *cfg = CFG(d);
	if (cfg->fast)
		return 0;
	usec_t t = MS(cfg->boot_ms);
	/* ESP8266: eboot copies the staged image to 0 before the sketch runs */
	if (!IS_ESP32(cfg->platform) && d->cmd == CMD_FLASH) {
		uint64_t sectors = ((uint64_t)d->total + 4095) / 4096;
		t += (usec_t)sectors * (MS(cfg->erase_ms) + (usec_t)(16 * cfg->program_us));
	}
	return t;
}

static void fw_step(struct device *d, usec_t now)
{
	const struct config *cfg = CFG(d);
	int esp32 = IS_ESP32(cfg->platform);
	for (int guard = 0; guard < 64; guard++) {
		enum fw_state before = d->fw;
		switch (d->fw) {
		case FW_IDLE:
			return;
		case FW_RUN_PENDING: {
			if (now < d->until)
				return;
			/* _runUpdate() */
			d->attempt++;
			d->attempt_open = 1;
			d->total = 0;
			d->written = 0;
			d->acks = 0;
			int err = updater_begin(d, d->size, d->cmd);
			jlog(d, "begin", (struct jlog_field[]){JI("attempt", d->attempt), JI("cmd", d->cmd),
				JI("size", d->size), JB("ok", err == 0), JI("error", err),
				JS("text", err ? (esp32 ? esp32_err_text(err) : esp8266_err_text(err)) : ""),
				JI("address", d->up.start), JEND});
			if (err) {
				if (!esp32) {
					char wire[256], msg[300];
					updater_error_wire(d, wire, sizeof wire);
					int l = snprintf(msg, sizeof msg, "ERR: %s", wire);
					udp_reply(d, &d->inv_src, d->inv_srclen, msg, (size_t)l, now, 1);
					wire[strcspn(wire, "\n")] = '\0';
					finish_attempt(d, "error", err, wire);
					d->fw = FW_AFTER_ERR; /* delay(100), listen again, IDLE */
					d->until = now + fw_delay(d, 100);
				} else {
					/* OK was already sent; the device just never connects */
					finish_attempt(d, "error", err, esp32_err_text(err));
					go_idle(d, now);
				}
				break;
			}
			memcpy(d->up.target_md5, d->md5, sizeof d->up.target_md5);
			if (!esp32)
				udp_reply(d, &d->inv_src, d->inv_srclen, "OK", 2, now, 1);
			if (fault_get(d, F_NO_CONNECT)) {
				jlog(d, "fault", (struct jlog_field[]){JS("fault", "no-connect"), JEND});
				d->fw = FW_NOCONNECT;
				d->until = now + MS(cfg->connect_timeout_ms);
				break;
			}
			/* ESP8266: delay(100) before connecting; SYN then needs one-way delay */
			d->fw = FW_PRE_CONNECT;
			d->until = now + (esp32 ? 0 : fw_delay(d, 100)) + owd_us(cfg);
			break;
		}
		case FW_AFTER_ERR:
			if (now < d->until)
				return;
			go_idle(d, now);
			break;
		case FW_PRE_CONNECT:
			if (now < d->until)
				return;
			start_connect(d, now);
			break;
		case FW_CONNECTING:
			if (now < d->until)
				return;
			connect_failed(d, now, "timeout");
			break;
		case FW_DATA:
			if (now < d->c->connected_t) {
				d->until = d->c->connected_t;
				return;
			}
			if (esp32)
				data_step32(d, now);
			else
				data_step8(d, now);
			if (d->fw == FW_DATA)
				return;
			break;
		case FW_VERIFY32:
			if (now < d->until)
				return;
			d->fw = FW_DATA;
			do_end(d, now);
			break;
		case FW_FINISH_1:
			if (now < d->until)
				return;
			tcp_send(d, "OK", 2, now, 0);
			d->fw = FW_FINISH_2;
			d->until = now + fw_delay(d, 1000);
			break;
		case FW_FINISH_2:
			if (now < d->until)
				return;
			tcp_close(d, now);
			finish_attempt(d, "ok", 0, "");
			d->fw = FW_PRE_REBOOT;
			d->until = now + fw_delay(d, 100);
			break;
		case FW_POST:
			if (now < d->until)
				return;
			if (d->end_ok) {
				d->fw = FW_PRE_REBOOT;
				d->until = now + fw_delay(d, 100);
			} else {
				go_idle(d, now);
			}
			break;
		case FW_PRE_REBOOT:
			if (now < d->until)
				return;
			d->fw = FW_REBOOTING;
			d->until = now + reboot_time(d);
			jlog(d, "reboot", (struct jlog_field[]){JI("boot_ms", (d->until - now) / 1000), JEND});
			break;
		case FW_REBOOTING:
			if (now < d->until)
				return;
			d->boot_t = now;
			d->end_ok = 0;
			go_idle(d, now);
			jlog(d, "rebooted", (struct jlog_field[]){JEND});
			break;
		case FW_STALLED:
			if (d->c && !d->c->eof)
				return;
			abandon(d, now, "stalled", 0, "");
			break;
		case FW_NOCONNECT:
			if (now < d->until)
				return;
			updater_reset(d);
			finish_attempt(d, "no-connect", 0, "");
			go_idle(d, now);
			break;
		case FW_DEAD:
			/* the host closed the dead connection: drop the socket */
			if (d->c && d->c->eof) {
				conn_free(d->c);
				d->c = NULL;
			}
			return;
		}
		if (d->fw == before && d->fw != FW_DATA)
			return;
	}
}

static void flush_udp(struct device *d, usec_t now)
{
	while (d->uout_head && d->uout_head->when <= now) {
		struct outmsg *m = d->uout_head;
		sendto(d->udp_fd, m->data, m->len, MSG_DONTWAIT, (struct sockaddr *)&m->to, m->tolen);
		d->uout_head = m->next;
		if (!d->uout_head)
			d->uout_tail = NULL;
		free(m);
	}
}

static void flush_tcp(struct device *d, usec_t now)
{
	if (d->c && !d->c->connecting && conn_flush_out(d->c, now)) {
		/* only close markers close; they are queued through tcp_close() */
	}
	if (d->closing) {
		int done = conn_flush_out(d->closing, now);
		if (done || (!d->closing->out_head && d->closing->fd < 0)) {
			conn_free(d->closing);
			d->closing = NULL;
		}
	}
}

void device_run(struct device *d, usec_t now)
{
	process_udp_queue(d, now);
	fw_step(d, now);
	/* the state machine may have become idle: serve queued datagrams */
	process_udp_queue(d, now);
	fw_step(d, now);
	flush_udp(d, now);
	flush_tcp(d, now);
}

static usec_t min_t(usec_t a, usec_t b) { return a < b ? a : b; }

usec_t device_next_wake(struct device *d, usec_t now)
{
	const struct config *cfg = CFG(d);
	usec_t t = SIM_NEVER;
	if (d->uin_head)
		t = min_t(t, datagram_due(d, d->uin_head));
	if (d->uout_head)
		t = min_t(t, d->uout_head->when);
	if (d->c && d->c->out_head && !d->c->blocked && !d->c->connecting)
		t = min_t(t, d->c->out_head->when);
	if (d->closing && d->closing->out_head && !d->closing->blocked)
		t = min_t(t, d->closing->out_head->when);
	switch (d->fw) {
	case FW_IDLE:
	case FW_STALLED:
	case FW_DEAD:
		break;
	case FW_DATA:
		/* the firmware polls available() only; a FIN is noticed at the
		 * next connected() check, which `until` already covers */
		if (d->c && now >= d->c->connected_t && d->ds == D_WAIT)
			t = min_t(t, conn_next_avail(d->c, cfg));
		t = min_t(t, d->until);
		break;
	default:
		t = min_t(t, d->until);
	}
	return t < now ? now : t;
}

short device_tcp_events(struct device *d, struct conn *c)
{
	if (c->connecting)
		return POLLOUT;
	short ev = 0;
	if (c == d->c && !c->stalled && !c->eof && c->read_off < c->read_limit)
		ev |= POLLIN;
	if (c == d->c && c->stalled && !c->eof)
		ev |= POLLRDHUP;
	if (c->blocked)
		ev |= POLLOUT;
	return ev;
}

void device_on_tcp_event(struct device *d, struct conn *c, short rev, usec_t now)
{
	const struct config *cfg = CFG(d);
	if (c->connecting) {
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			connect_failed(d, now, strerror(err));
			return;
		}
		if (!(rev & POLLOUT))
			return;
		c->connecting = 0;
		c->connected_t = now + owd_us(cfg); /* SYN-ACK back to the device */
		jlog(d, "connect", (struct jlog_field[]){JB("ok", 1), JEND});
		d->fw = FW_DATA;
		d->ds = D_TOP;
		d->until = c->connected_t;
		return;
	}
	if (rev & POLLOUT)
		c->blocked = 0;
	if (c == d->c) {
		if (c->stalled) {
			if (rev & (POLLRDHUP | POLLHUP | POLLERR)) {
				c->eof = 1;
				c->eof_t = now;
			}
		} else if (rev & (POLLIN | POLLHUP | POLLERR | POLLRDHUP)) {
			if (conn_read_kernel(c, cfg, now) < 0 ||
			    ((rev & (POLLHUP | POLLERR)) && c->read_off >= c->read_limit)) {
				/* out of memory, or reset while we no longer read:
				 * the device sees the connection drop */
				c->eof = 1;
				c->eof_t = now;
			}
		}
	} else if (rev & (POLLHUP | POLLERR)) {
		/* closing socket reset by the peer: nothing more can be sent */
		out_free_all(&c->out_head, &c->out_tail);
		out_push(&c->out_head, &c->out_tail, now, "", 0, 1, NULL, 0);
	}
}
