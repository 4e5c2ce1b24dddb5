/*
 * The library against the virtual device (espota-sim --fast): every upload
 * runs the real code path, sockets and all, and the device's own view
 * (received bytes, decisions) is checked too.
 */
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

#include "test.h"
#include "it_common.h"
#include "sim_harness.h"
#include "fit_builders.h"
#include <espota.h>

static unsigned char *make_image(size_t len, unsigned char size_code)
{
	unsigned char *img = malloc(len);
	size_t i;
	ASSERT(img != NULL);
	for (i = 0; i < len; i++)
		img[i] = (unsigned char)((i * 7 + (i >> 9)) % 251);
	img[0] = 0xE9;
	img[1] = 2;
	img[2] = 3;
	img[3] = (unsigned char)(size_code << 4);
	return img;
}

static void start(sim_harness *h, const char *const *args)
{
	ASSERT_OK(sim_start(h, args));
}

static espota_upload_options opts_for(const sim_harness *h, int dev)
{
	espota_upload_options o = ESPOTA_UPLOAD_OPTIONS_INIT;
	o.host = h->addrs[dev][0] ? h->addrs[dev] : "127.0.0.1";
	o.port = (uint16_t)h->ports[dev];
	o.timeouts.invite_ms = 500;
	o.timeouts.invite_attempts = 3;
	o.timeouts.connect_ms = 2000;
	o.timeouts.stall_ms = 3000;
	o.timeouts.result_ms = 3000;
	o.timeouts.auth_ms = 3000;
	return o;
}

static void assert_received(const sim_harness *h, int dev, const char *name,
	const unsigned char *img, size_t len)
{
	size_t n = 0;
	unsigned char *got = sim_read_image(h, dev, name, &n);
	ASSERT(got != NULL);
	ASSERT_EQ(n, len);
	ASSERT_MEMEQ(got, img, len);
	free(got);
}

static int upload(espota_session *s, const unsigned char *img, size_t len, const espota_upload_options *o)
{
	int rc = espota_upload(s, img, len, o);
	if (rc != ESPOTA_OK)
		fprintf(stderr, "   upload: %s: %s\n", espota_error_name(rc), espota_session_last_error(s));
	return rc;
}

static void test_app_and_fs_byte_exact(void)
{
	const char *args[] = { "--platform", "esp8266", "--fast", "--port", "0", "--layout", "4M2M", NULL };
	size_t len = 300000;
	unsigned char *img = make_image(len, 4);
	espota_session *s;
	espota_upload_options o;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
	sim_harness h;
	int modes[2] = { ESPOTA_TRANSFER_PIPELINED, ESPOTA_TRANSFER_STOP_AND_WAIT }, m;

	start(&h, args);
	ASSERT_OK(espota_session_new(&s, NULL));
	for (m = 0; m < 2; m++) {
		o = opts_for(&h, 0);
		o.transfer = modes[m];
		ASSERT_OK(upload(s, img, len, &o));
		assert_received(&h, 0, "app.bin", img, len);
		ASSERT_STREQ(espota_session_last_error(s), "");
		ASSERT_OK(espota_session_stats(s, &st));
		ASSERT_EQ(st.phase, ESPOTA_PHASE_DONE);
		ASSERT_EQ(st.acked, len);
		ASSERT_EQ(st.sent, len);
	}
	/* a filesystem image (not an app image: byte 0 is not 0xE9) */
	img[0] = 0x00;
	o = opts_for(&h, 0);
	o.target = ESPOTA_TARGET_FS;
	ASSERT_OK(upload(s, img, 100000, &o));
	assert_received(&h, 0, "fs.bin", img, 100000);
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

static void test_ipv6(void)
{
	const char *args[] = { "--fast", "--port", "0", "--listen", "::1", NULL };
	unsigned char *img = make_image(50000, 4);
	espota_session *s;
	espota_upload_options o;
	sim_harness h;

	start(&h, args);
	ASSERT_OK(espota_session_new(&s, NULL));
	o = opts_for(&h, 0);
	o.host = "::1";
	ASSERT_OK(upload(s, img, 50000, &o));
	assert_received(&h, 0, "app.bin", img, 50000);
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

typedef struct {
	int calls;
	espota_auth_scheme scheme;
	char host[64];
	const char *password;
} auth_ctx;

static int auth_cb(espota_auth_request *req, const char *host, espota_auth_scheme scheme, void *payload)
{
	auth_ctx *a = payload;
	a->calls++;
	a->scheme = scheme;
	snprintf(a->host, sizeof(a->host), "%s", host);
	if (a->password == NULL)
		return 1;
	return espota_auth_request_set_password(req, a->password);
}

static void auth_case(const char *platform, const char *pwarg, const char *pw,
	espota_auth_scheme want_scheme, int want_rc, int use_cb)
{
	const char *args[] = { "--platform", platform, "--fast", "--port", "0", pwarg, "s3cret", NULL };
	unsigned char *img = make_image(40000, 4);
	espota_session *s;
	espota_upload_options o;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
	auth_ctx a = { 0 };
	sim_harness h;
	int rc;

	if (strncmp(platform, "esp32", 5) == 0)
		it_esp32_app_layout(img, 40000);
	start(&h, args);
	ASSERT_OK(espota_session_new(&s, NULL));
	o = opts_for(&h, 0);
	if (use_cb) {
		a.password = pw;
		o.auth = auth_cb;
		o.payload = &a;
	} else {
		o.password = pw;
	}
	rc = upload(s, img, 40000, &o);
	ASSERT_EQ(rc, want_rc);
	espota_session_stats(s, &st);
	if (rc == ESPOTA_OK) {
		ASSERT_EQ(st.scheme, want_scheme);
		assert_received(&h, 0, "app.bin", img, 40000);
	} else {
		ASSERT_CONTAINS(espota_session_last_error(s), "authentication failed");
	}
	if (use_cb) {
		ASSERT_EQ(a.calls, 1); /* the MD5 fallback reuses the answer */
		ASSERT_STREQ(a.host, "127.0.0.1");
	}
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

static void test_auth_schemes(void)
{
	auth_case("esp8266", "--password", "s3cret", ESPOTA_AUTH_MD5, ESPOTA_OK, 0);
	auth_case("esp32-legacy", "--password", "s3cret", ESPOTA_AUTH_MD5, ESPOTA_OK, 1);
	auth_case("esp32", "--password", "s3cret", ESPOTA_AUTH_PBKDF2_SHA256, ESPOTA_OK, 1);
	/* a sketch that still uses setPasswordHash(<md5>): the MD5 fallback */
	auth_case("esp32", "--password-hash", "s3cret", ESPOTA_AUTH_PBKDF2_MD5, ESPOTA_EAUTH, 0);
	auth_case("esp8266", "--password", "wrong", ESPOTA_AUTH_MD5, ESPOTA_EAUTH, 0);
	auth_case("esp32", "--password", "wrong", ESPOTA_AUTH_PBKDF2_SHA256, ESPOTA_EAUTH, 1);
}

/* An upload without the password still answers the challenge, so the
 * device takes the next invitation at once (an ESP8266 left waiting for an
 * answer would take that invitation for it). */
static void test_no_password_leaves_device_ready(void)
{
	const char *args[] = { "--platform", "esp8266", "--fast", "--port", "0", "--password", "s3cret", NULL };
	unsigned char *img = make_image(40000, 4);
	espota_upload_options o;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
	espota_session *s;
	sim_harness h;

	start(&h, args);
	ASSERT_OK(espota_session_new(&s, NULL));
	o = opts_for(&h, 0);
	ASSERT_EQ(upload(s, img, 40000, &o), ESPOTA_EAUTH);
	ASSERT_CONTAINS(espota_session_last_error(s), "none was given");
	o.password = "s3cret";
	ASSERT_OK(upload(s, img, 40000, &o));
	ASSERT_OK(espota_session_stats(s, &st));
	ASSERT_EQ(st.invitations, 1);
	assert_received(&h, 0, "app.bin", img, 40000);
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

static void test_md5_fallback(void)
{
	/* setPasswordHash(MD5("s3cret")) on a >= 3.3.1 device */
	const char *args[] = { "--platform", "esp32", "--fast", "--port", "0", "--password-hash",
		"33e1b232a4e6fa0028a6670753749a17", NULL };
	unsigned char *img = make_image(40000, 4);
	it_esp32_app_layout(img, 40000);
	espota_session *s;
	espota_upload_options o;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
	sim_harness h;

	start(&h, args);
	ASSERT_OK(espota_session_new(&s, NULL));
	o = opts_for(&h, 0);
	o.password = "s3cret";
	ASSERT_OK(upload(s, img, 40000, &o));
	espota_session_stats(s, &st);
	ASSERT_EQ(st.scheme, ESPOTA_AUTH_PBKDF2_MD5);
	ASSERT_EQ(st.invitations, 2);
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

static void test_device_errors(void)
{
	/* 1M256, running 329,008 bytes: a 300,000-byte filesystem image is too
	 * big for the 262,144-byte area (error 4 before any data). */
	const char *a4[] = { "--fast", "--port", "0", "--layout", "1M256", "--sketch-size", "329008", NULL };
	const char *a8[] = { "--fast", "--port", "0", "--layout", "1M256", "--chip-size", "1M",
		"--header-flash-size", "4M", NULL };
	const char *a9[] = { "--fast", "--port", "0", "--layout", "1M256", "--chip-size", "1M", NULL };
	const char *a32[] = { "--platform", "esp32", "--fast", "--port", "0", NULL };
	unsigned char *img = make_image(300000, 4);
	const espota_device_error *de;
	espota_session *s;
	espota_upload_options o;
	sim_harness h;

	ASSERT_OK(espota_session_new(&s, NULL));
	start(&h, a4);
	o = opts_for(&h, 0);
	o.target = ESPOTA_TARGET_FS;
	ASSERT_EQ(upload(s, img, 300000, &o), ESPOTA_EREFUSED);
	de = espota_session_device_error(s);
	ASSERT(de != NULL);
	ASSERT_EQ(de->code, 4);
	ASSERT_STREQ(de->text, "Not Enough Space");
	ASSERT_CONTAINS(espota_session_last_error(s), "ERROR[4]");
	ASSERT_CONTAINS(espota_session_last_error(s), "the 300000-byte image does not fit");
	sim_stop(&h);

	start(&h, a8);
	o = opts_for(&h, 0);
	ASSERT_EQ(upload(s, img, 300000, &o), ESPOTA_EREFUSED);
	de = espota_session_device_error(s);
	ASSERT_EQ(de->code, 8);
	ASSERT_CONTAINS(de->raw, "real: 1048576, SDK: 4194304");
	ASSERT_CONTAINS(de->explanation, "shrinking the image will not help");
	sim_stop(&h);

	/* a 4 MB-header image onto a 1 MB chip: error 9 after the whole upload */
	start(&h, a9);
	o = opts_for(&h, 0);
	ASSERT_EQ(upload(s, img, 300000, &o), ESPOTA_EREFUSED);
	de = espota_session_device_error(s);
	ASSERT_EQ(de->code, 9);
	{
		espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
		espota_session_stats(s, &st);
		ASSERT_EQ(st.acked, 300000);
	}
	sim_stop(&h);

	/* ESP32: not an app image; refused at the first 4 KiB */
	start(&h, a32);
	img[0] = 0;
	o = opts_for(&h, 0);
	{
		/* The device prints its error and closes with our data still
		 * unread, which makes its TCP send a reset; under load Nagle can
		 * hold the text back until then and the reset discards it. */
		int rc = upload(s, img, 300000, &o);
		ASSERT(rc == ESPOTA_EREFUSED || rc == ESPOTA_ECLOSED);
		if (rc == ESPOTA_EREFUSED) {
			de = espota_session_device_error(s);
			ASSERT_EQ(de->platform, ESPOTA_PLATFORM_ESP32);
			ASSERT(de->code == 8 || de->code == 13);
		}
	}
	sim_stop(&h);

	espota_session_free(s);
	free(img);
}

static void test_faults(void)
{
	unsigned char *img = make_image(200000, 4);
	espota_session *s;
	espota_upload_options o;
	sim_harness h;
	uint64_t t0;
	int fds;

	ASSERT_OK(espota_session_new(&s, NULL));
	fds = count_fds();
	{
		const char *a[] = { "--fast", "--port", "0", "--fault", "drop-after=50000", NULL };
		start(&h, a);
		o = opts_for(&h, 0);
		ASSERT_EQ(upload(s, img, 200000, &o), ESPOTA_ECLOSED);
		sim_stop(&h);
	}
	{
		const char *a[] = { "--fast", "--port", "0", "--fault", "no-invite-reply", NULL };
		start(&h, a);
		o = opts_for(&h, 0);
		o.timeouts.invite_ms = 300;
		o.timeouts.invite_attempts = 2;
		t0 = (uint64_t)time(NULL);
		ASSERT_EQ(upload(s, img, 200000, &o), ESPOTA_ETIMEOUT);
		ASSERT((uint64_t)time(NULL) - t0 <= 2);
		ASSERT_CONTAINS(espota_session_last_error(s), "no answer from the device to 2 invitations");
		sim_stop(&h);
	}
	{
		const char *a[] = { "--fast", "--port", "0", "--fault", "no-connect", NULL };
		start(&h, a);
		o = opts_for(&h, 0);
		o.timeouts.connect_ms = 500;
		ASSERT_EQ(upload(s, img, 200000, &o), ESPOTA_ETIMEOUT);
		ASSERT_CONTAINS(espota_session_last_error(s), "firewall");
		sim_stop(&h);
	}
	{
		const char *a[] = { "--fast", "--port", "0", "--fault", "no-final-ok", NULL };
		start(&h, a);
		o = opts_for(&h, 0);
		ASSERT_EQ(upload(s, img, 200000, &o), ESPOTA_ECLOSED);
		ASSERT_CONTAINS(espota_session_last_error(s), "without a result");
		sim_stop(&h);
	}
	{
		const char *a[] = { "--fast", "--port", "0", "--fault", "stall-after=30000", NULL };
		start(&h, a);
		o = opts_for(&h, 0);
		o.timeouts.stall_ms = 500;
		ASSERT_EQ(upload(s, img, 200000, &o), ESPOTA_ETIMEOUT);
		ASSERT_CONTAINS(espota_session_last_error(s), "stopped acknowledging");
		sim_stop(&h);
	}
	{
		/* another address connects back: refused, never fed into the upload */
		const char *a[] = { "--fast", "--port", "0", "--fault", "connect-from=127.0.0.2", NULL };
		start(&h, a);
		o = opts_for(&h, 0);
		o.timeouts.connect_ms = 700;
		ASSERT_EQ(upload(s, img, 200000, &o), ESPOTA_ETIMEOUT);
		sim_stop(&h);
	}
	{
		const char *a[] = { "--fast", "--port", "0", "--fault", "ack-garbage", NULL };
		start(&h, a);
		o = opts_for(&h, 0);
		ASSERT(upload(s, img, 200000, &o) < 0);
		sim_stop(&h);
	}
	{
		const char *a[] = { "--fast", "--port", "0", "--fault", "double-invite-reply", NULL };
		start(&h, a);
		o = opts_for(&h, 0);
		ASSERT_OK(upload(s, img, 200000, &o));
		sim_stop(&h);
	}
	/* the session still works after all that, and nothing leaked */
	{
		const char *a[] = { "--fast", "--port", "0", NULL };
		start(&h, a);
		o = opts_for(&h, 0);
		ASSERT_OK(upload(s, img, 200000, &o));
		sim_stop(&h);
	}
	ASSERT_EQ(count_fds(), fds);
	espota_session_free(s);
	free(img);
}

static int cancel_at_half(const espota_progress *p, void *payload)
{
	(void)payload;
	return p->acked >= p->total / 2 ? 1 : 0;
}

typedef struct {
	espota_session *s;
	int delay_ms;
} canceller;

static void *cancel_thread(void *arg)
{
	canceller *c = arg;
	usleep((useconds_t)c->delay_ms * 1000);
	espota_session_cancel(c->s);
	return NULL;
}

/* Real timing: the library learns the MSS the device announced and the
 * window from its drains, and paces ESP8266 uploads where that pays (the
 * sim's 4 x MSS 536 window). */
static void mss_case(const char *mss, uint32_t want, int paced)
{
	const char *a[] = { "--port", "0", "--rtt", "10", "--mss", mss, NULL };
	size_t len = 64 * 1024;
	unsigned char *img = make_image(len, 4);
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
	espota_upload_options o;
	espota_session *s;
	sim_harness h;

	ASSERT_OK(espota_session_new(&s, NULL));
	start(&h, a);
	o = opts_for(&h, 0);
	ASSERT_EQ(upload(s, img, len, &o), ESPOTA_OK);
	ASSERT_OK(espota_session_stats(s, &st));
	ASSERT_EQ(st.device_mss, want);
	/* one drain per flash block, give or take the first and last, once the
	 * first three blocks have shown the window (up to two drains each) */
	if (paced)
		ASSERT(st.acks >= len / 4096 - 1 && st.acks <= len / 4096 + 2 + 3);
	assert_received(&h, 0, "app.bin", img, len);
	sim_stop(&h);
	espota_session_free(s);
	free(img);
}

static void test_device_mss(void)
{
	mss_case("536", 536, 1);
	mss_case("1460", 1460, 0);
}

static void test_cancel(void)
{
	const char *a[] = { "--port", "0", "--rtt", "5", NULL }; /* real timing: slow enough */
	const char *nc[] = { "--fast", "--port", "0", "--fault", "no-connect", NULL };
	unsigned char *img = make_image(300000, 4);
	espota_session *s;
	espota_upload_options o;
	sim_harness h;
	pthread_t t;
	canceller c;
	int fds = count_fds();
	time_t t0;

	ASSERT_OK(espota_session_new(&s, NULL));
	start(&h, a);
	o = opts_for(&h, 0);
	o.progress = cancel_at_half;
	ASSERT_EQ(upload(s, img, 300000, &o), ESPOTA_EUSER);
	ASSERT_CONTAINS(espota_session_last_error(s), "progress callback returned 1");
	sim_stop(&h);

	/* from another thread, while the upload waits for the connect-back */
	start(&h, nc);
	o = opts_for(&h, 0);
	o.timeouts.connect_ms = 20000;
	c.s = s;
	c.delay_ms = 300;
	pthread_create(&t, NULL, cancel_thread, &c);
	t0 = time(NULL);
	ASSERT_EQ(upload(s, img, 300000, &o), ESPOTA_ECANCELLED);
	ASSERT(time(NULL) - t0 <= 2);
	pthread_join(t, NULL);
	sim_stop(&h);
	espota_session_free(s);
	ASSERT_EQ(count_fds(), fds);
	free(img);
}

static void test_eight_threads(void)
{
	const char *a[] = { "--fast", "--port", "0", "--count", "8", NULL };
	unsigned char *img = make_image(150000, 4);
	pthread_t t[8];
	it_job j[8];
	sim_harness h;
	int i;

	start(&h, a);
	ASSERT_EQ(h.count, 8);
	for (i = 0; i < 8; i++) {
		j[i].opts = opts_for(&h, i);
		j[i].img = img;
		j[i].len = 150000;
		j[i].rc = -99;
		pthread_create(&t[i], NULL, it_upload_thread, &j[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ASSERT_EQ(j[i].rc, ESPOTA_OK);
		assert_received(&h, i, "app.bin", img, 150000);
	}
	sim_stop(&h);
	free(img);
}

/* What the done callback read through the transfer accessors. */
typedef struct {
	int done, code;
	unsigned int attempts;
	uint64_t acked;
} fleet_seen;

static void fleet_done(size_t index, const espota_transfer *r, void *payload)
{
	fleet_seen *seen = payload;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;

	seen[index].done++;
	seen[index].code = espota_transfer_result(r);
	seen[index].attempts = espota_transfer_attempts(r);
	ASSERT_OK(espota_transfer_stats(r, &st));
	seen[index].acked = st.acked;
}

static void test_fleet(void)
{
	const char *a[] = { "--fast", "--port", "0", "--count", "12", NULL };
	unsigned char *img = make_image(120000, 4);
	espota_fleet_device dev[13];
	fleet_seen res[13];
	espota_fleet_options fo = ESPOTA_FLEET_OPTIONS_INIT;
	espota_upload_options base = ESPOTA_UPLOAD_OPTIONS_INIT;
	espota_session *s;
	sim_harness h;
	int i, fds = count_fds();

	start(&h, a);
	ASSERT_OK(espota_session_new(&s, NULL));
	for (i = 0; i < 12; i++) {
		dev[i].host = "127.0.0.1";
		dev[i].port = (uint16_t)h.ports[i];
		dev[i].password = NULL;
	}
	/* a 13th device that never answers must not disturb the others */
	dev[12].host = "127.0.0.1";
	dev[12].port = 9; /* discard: nothing listens */
	dev[12].password = NULL;
	base.timeouts.invite_ms = 300;
	base.timeouts.invite_attempts = 2;
	fo.max_concurrent = 5;
	fo.retries = 1;
	fo.done = fleet_done;
	fo.payload = res;
	memset(res, 0, sizeof(res));
	ASSERT_EQ(espota_fleet_upload(s, img, 120000, &base, dev, 13, &fo), ESPOTA_ERROR);
	ASSERT_CONTAINS(espota_session_last_error(s), "1 of 13 devices failed");
	for (i = 0; i < 12; i++) {
		ASSERT_EQ(res[i].code, ESPOTA_OK);
		ASSERT_EQ(res[i].attempts, 1);
		ASSERT_EQ(res[i].done, 1);
		ASSERT_EQ(res[i].acked, 120000);
		assert_received(&h, i, "app.bin", img, 120000);
	}
	/* port 9 on loopback answers ICMP port unreachable: an I/O error at
	 * once (retried like one), not a timeout */
	ASSERT_EQ(res[12].code, ESPOTA_EIO);
	ASSERT_EQ(res[12].attempts, 2);
	ASSERT_EQ(res[12].done, 1);
	espota_session_free(s);
	sim_stop(&h);
	ASSERT_EQ(count_fds(), fds);
	free(img);
}

static void test_preflight_and_compress(void)
{
	const char *a[] = { "--fast", "--port", "0", "--layout", "1M256", "--chip-size", "1M", NULL };
	unsigned char *img = build_arduino(329008, 2, 3, 1);
	espota_fit_device dev = ESPOTA_FIT_DEVICE_INIT;
	espota_session *s;
	espota_upload_options o;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
	sim_harness h;

	start(&h, a);
	ASSERT_OK(espota_session_new(&s, NULL));
	dev.layout = espota_layout_find("1M256");
	o = opts_for(&h, 0);
	o.target = ESPOTA_TARGET_FS;
	o.fit = &dev;
	ASSERT_EQ(upload(s, img, 329008, &o), ESPOTA_ENOFIT);
	{
		const espota_fit_report *r = espota_session_fit_report(s);
		ASSERT(r != NULL);
		ASSERT_EQ(r->device_error, 4);
		ASSERT_EQ(r->verdict, ESPOTA_FIT_FAIL);
		ASSERT(r->mistakes & ESPOTA_FIT_MISTAKE_FIRMWARE_AS_FS);
	}
	/* nothing was sent: the device saw no invitation */
	{
		const char *needles[] = { "invitation", NULL };
		ASSERT_EQ(sim_log_count(&h, needles), 0);
	}
	/* gzip: the device stages the compressed bytes */
	o = opts_for(&h, 0);
	o.compress = 1;
	ASSERT_OK(upload(s, img, 329008, &o));
	espota_session_stats(s, &st);
	ASSERT(st.total < 329008);
	ASSERT_EQ(st.original_size, 329008);
	{
		size_t n;
		unsigned char *got = sim_read_image(&h, 0, "app.bin", &n);
		ASSERT(got != NULL && n == st.total && got[0] == 0x1f && got[1] == 0x8b);
		free(got);
	}
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

TEST_LIST_BEGIN
TEST_ENTRY(test_app_and_fs_byte_exact)
TEST_ENTRY(test_ipv6)
TEST_ENTRY(test_auth_schemes)
TEST_ENTRY(test_no_password_leaves_device_ready)
TEST_ENTRY(test_md5_fallback)
TEST_ENTRY(test_device_errors)
TEST_ENTRY(test_faults)
TEST_ENTRY(test_device_mss)
TEST_ENTRY(test_cancel)
TEST_ENTRY(test_eight_threads)
TEST_ENTRY(test_fleet)
TEST_ENTRY(test_preflight_and_compress)
TEST_LIST_END
