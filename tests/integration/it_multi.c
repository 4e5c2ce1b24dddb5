/*
 * The multi interface against the virtual device: the same upload through
 * the blocking call, through a hand-written poll() loop over
 * espota_multi_fds/timeout/perform, and through per-descriptor
 * espota_multi_socket_action calls (the shape of an asyncio or libuv
 * driver), all byte-exact; many transfers in one loop; cancel; remove;
 * re-entry from a callback refused; mDNS browses and resolves (against
 * espota-sim --mdns in the loopback test mode: no multicast) as transfers
 * of the same handle as an upload.
 */
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "it_common.h"
#include "sim_harness.h"
#include <espota.h>

#define LOOP_MAX 200000       /* iterations: every loop here is bounded */
#define LOOP_MS 30000         /* and bounded in time */

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static unsigned char *make_image(size_t len)
{
	unsigned char *img = malloc(len);
	size_t i;
	ASSERT(img != NULL);
	for (i = 0; i < len; i++)
		img[i] = (unsigned char)((i * 13 + (i >> 7)) % 253);
	img[0] = 0xE9;
	img[1] = 2;
	img[2] = 3;
	img[3] = 0x40;
	return img;
}

static espota_upload_options opts_for(const sim_harness *h, int dev)
{
	espota_upload_options o = ESPOTA_UPLOAD_OPTIONS_INIT;
	o.host = h->addrs[dev][0] ? h->addrs[dev] : "127.0.0.1";
	o.port = (uint16_t)h->ports[dev];
	o.timeouts.invite_ms = 500;
	o.timeouts.invite_attempts = 4;
	o.timeouts.connect_ms = 3000;
	o.timeouts.stall_ms = 5000;
	o.timeouts.result_ms = 5000;
	return o;
}

static void assert_received(const sim_harness *h, int dev, const unsigned char *img, size_t len)
{
	size_t n = 0;
	unsigned char *got = sim_read_image(h, dev, "app.bin", &n);
	ASSERT(got != NULL);
	ASSERT_EQ(n, len);
	ASSERT_MEMEQ(got, img, len);
	free(got);
}

static void to_poll(struct pollfd *p, const espota_waitfd *w, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		p[i].fd = w[i].fd;
		p[i].events = (short)(((w[i].events & ESPOTA_WAIT_READ) ? POLLIN : 0) |
			((w[i].events & ESPOTA_WAIT_WRITE) ? POLLOUT : 0));
		p[i].revents = 0;
	}
}

static int from_poll(short revents)
{
	return ((revents & POLLIN) ? ESPOTA_WAIT_READ : 0) | ((revents & POLLOUT) ? ESPOTA_WAIT_WRITE : 0) |
		((revents & (POLLERR | POLLHUP)) ? ESPOTA_WAIT_ERROR : 0);
}

/* The loop a program with its own poll() writes. */
static void poll_loop(espota_multi *m)
{
	espota_waitfd w[64];
	struct pollfd p[64];
	uint64_t start = ms_now();
	int rounds = 0;

	while (espota_multi_running(m) > 0) {
		size_t n = 0, i;
		long ms = -1;

		ASSERT(++rounds < LOOP_MAX && ms_now() - start < LOOP_MS);
		ASSERT_OK(espota_multi_fds(m, w, 64, &n));
		ASSERT(n <= 64);
		ASSERT_OK(espota_multi_timeout(m, &ms));
		ASSERT(ms >= 0 && ms <= 1000);
		for (i = 0; i < n; i++)
			ASSERT(w[i].fd >= 0 && (w[i].serial != 0 || i == 0)); /* 0: the session's pipe, first */
		to_poll(p, w, n);
		ASSERT(poll(p, (nfds_t)n, (int)ms) >= 0);
		for (i = 0; i < n; i++)
			w[i].revents = (short)from_poll(p[i].revents);
		ASSERT_OK(espota_multi_perform(m, w, n));
	}
}

/* An event loop that calls back once per ready descriptor, then for the timer. */
static void action_loop(espota_multi *m)
{
	espota_waitfd w[64];
	struct pollfd p[64];
	uint64_t start = ms_now();
	int rounds = 0;

	while (espota_multi_running(m) > 0) {
		size_t n = 0, i;
		long ms = -1;
		int ready;

		ASSERT(++rounds < LOOP_MAX && ms_now() - start < LOOP_MS);
		ASSERT_OK(espota_multi_fds(m, w, 64, &n));
		ASSERT_OK(espota_multi_timeout(m, &ms));
		to_poll(p, w, n);
		ready = poll(p, (nfds_t)n, (int)ms);
		ASSERT(ready >= 0);
		for (i = 0; i < n; i++)
			if (p[i].revents)
				ASSERT_OK(espota_multi_socket_action(m, p[i].fd, from_poll(p[i].revents)));
		if (ready == 0)
			ASSERT_OK(espota_multi_socket_action(m, -1, 0));
	}
}

static void check_done(espota_multi *m, espota_transfer *t, size_t len)
{
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;

	ASSERT(espota_multi_info_read(m) == t);
	ASSERT(espota_multi_info_read(m) == NULL);
	if (espota_transfer_result(t) != ESPOTA_OK)
		fprintf(stderr, "   transfer: %s: %s\n", espota_error_name(espota_transfer_result(t)),
			espota_transfer_error(t));
	ASSERT_EQ(espota_transfer_result(t), ESPOTA_OK);
	ASSERT_STREQ(espota_transfer_error(t), "");
	ASSERT_OK(espota_transfer_stats(t, &st));
	ASSERT_EQ(st.phase, ESPOTA_PHASE_DONE);
	ASSERT(st.ack_rule == ESPOTA_ACK_RULE_COUNTS || st.ack_rule == ESPOTA_ACK_RULE_DEVICE_OK);
	ASSERT_EQ(st.acked, len);
	ASSERT_EQ(st.total, len);
	ASSERT_EQ(espota_transfer_attempts(t), 1);
}

static void test_same_upload_three_ways(void)
{
	const char *a[] = { "--platform", "esp8266", "--fast", "--port", "0", "--count", "3", NULL };
	const size_t len = 200000;
	unsigned char *img = make_image(len);
	espota_upload_options o;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
	espota_session *s;
	espota_multi *m;
	espota_transfer *t;
	sim_harness h;
	int fds;

	ASSERT_OK(sim_start(&h, a));
	ASSERT_OK(espota_session_new(&s, NULL));
	fds = count_fds();

	/* 1. the blocking call */
	o = opts_for(&h, 0);
	ASSERT_OK(espota_upload(s, img, len, &o));
	ASSERT_OK(espota_session_stats(s, &st));
	ASSERT_EQ(st.acked, len);
	assert_received(&h, 0, img, len);

	/* 2. a hand-written poll() loop */
	ASSERT_OK(espota_multi_new(&m, s));
	o = opts_for(&h, 1);
	ASSERT_OK(espota_multi_add_upload(m, &t, img, len, &o));
	ASSERT_STREQ(espota_transfer_host(t), o.host);
	ASSERT_EQ(espota_transfer_result(t), 1); /* running */
	poll_loop(m);
	check_done(m, t, len);
	assert_received(&h, 1, img, len);

	/* 3. one callback per ready descriptor (asyncio/libuv shape), same handle */
	o = opts_for(&h, 2);
	ASSERT_OK(espota_multi_add_upload(m, &t, img, len, &o));
	action_loop(m);
	check_done(m, t, len);
	assert_received(&h, 2, img, len);
	espota_multi_free(m);

	ASSERT_EQ(count_fds(), fds);
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

static int progress_calls;
static espota_multi *reentry_multi;

static int on_progress(const espota_progress *p, void *payload)
{
	espota_waitfd w[8];
	size_t n;
	(void)payload;
	progress_calls++;
	ASSERT(p->tries == 1);
	/* The handle is busy inside its own callbacks. */
	ASSERT_EQ(espota_multi_perform(reentry_multi, NULL, 0), ESPOTA_EINVAL);
	ASSERT_EQ(espota_multi_socket_action(reentry_multi, -1, 0), ESPOTA_EINVAL);
	ASSERT_OK(espota_multi_fds(reentry_multi, w, 8, &n));
	return 0;
}

/* Twenty devices in one loop, one host that cannot resolve, callbacks. */
static void test_many_in_one_loop(void)
{
	const char *a[] = { "--platform", "esp8266", "--fast", "--port", "0", "--count", "20", NULL };
	const size_t len = 30000;
	unsigned char *img = make_image(len);
	espota_transfer *t[21], *f;
	espota_session *s;
	espota_multi *m;
	sim_harness h;
	int i, seen[21] = { 0 }, fds;

	ASSERT_OK(sim_start(&h, a));
	ASSERT_OK(espota_session_new(&s, NULL));
	fds = count_fds();
	ASSERT_OK(espota_multi_new(&m, s));
	reentry_multi = m;
	for (i = 0; i < 20; i++) {
		espota_upload_options o = opts_for(&h, i);
		o.progress = on_progress;
		ASSERT_OK(espota_multi_add_upload(m, &t[i], img, len, &o));
		espota_transfer_set_user(t[i], &seen[i]);
	}
	{
		espota_upload_options o = opts_for(&h, 0);
		o.host = "no-such-host.invalid";
		ASSERT_OK(espota_multi_add_upload(m, &t[20], img, len, &o));
		espota_transfer_set_user(t[20], &seen[20]);
		ASSERT_EQ(espota_transfer_result(t[20]), ESPOTA_ERESOLVE);
	}
	ASSERT_EQ(espota_multi_running(m), 20);
	poll_loop(m);
	while ((f = espota_multi_info_read(m)) != NULL)
		(*(int *)espota_transfer_user(f))++;
	for (i = 0; i < 21; i++)
		ASSERT_EQ(seen[i], 1);
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(espota_transfer_result(t[i]), ESPOTA_OK);
		assert_received(&h, i, img, len);
	}
	ASSERT(progress_calls >= 20 * 3);
	ASSERT_CONTAINS(espota_transfer_error(t[20]), "cannot resolve");
	espota_multi_free(m);
	ASSERT_EQ(count_fds(), fds);
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

static int cancel_after_progress(const espota_progress *p, void *payload)
{
	if (p->phase == ESPOTA_PHASE_TRANSFER && p->acked > 0)
		espota_session_cancel((espota_session *)payload);
	return 0;
}

/* A cancel on the session stops every transfer; remove closes one early. */
static void test_cancel_and_remove(void)
{
	const char *a[] = { "--platform", "esp8266", "--port", "0", "--count", "3", NULL };
	const size_t len = 400000;
	unsigned char *img = make_image(len);
	espota_transfer *t[3], *f;
	espota_session *s;
	espota_multi *m;
	sim_harness h;
	int i, n = 0, fds;

	ASSERT_OK(sim_start(&h, a)); /* not --fast: the transfer takes long enough to cancel */
	ASSERT_OK(espota_session_new(&s, NULL));
	fds = count_fds();
	ASSERT_OK(espota_multi_new(&m, s));
	for (i = 0; i < 3; i++) {
		espota_upload_options o = opts_for(&h, i);
		o.progress = cancel_after_progress;
		o.payload = s;
		ASSERT_OK(espota_multi_add_upload(m, &t[i], img, len, &o));
	}
	ASSERT_OK(espota_multi_remove(m, t[2]));
	ASSERT_EQ(espota_multi_running(m), 2);
	poll_loop(m);
	while ((f = espota_multi_info_read(m)) != NULL) {
		ASSERT_EQ(espota_transfer_result(f), ESPOTA_ECANCELLED);
		n++;
	}
	ASSERT_EQ(n, 2);
	espota_multi_free(m);
	ASSERT_EQ(count_fds(), fds);
	/* A new handle starts clean: the cancel was for the old one. */
	ASSERT_OK(espota_multi_new(&m, s));
	{
		espota_upload_options o = opts_for(&h, 2);
		ASSERT_OK(espota_multi_add_upload(m, &f, img, 20000, &o));
	}
	poll_loop(m);
	ASSERT_EQ(espota_transfer_result(f), ESPOTA_OK);
	espota_multi_free(m);
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

static int browse_seen;

static int stop_at_three(const espota_device_info *dev, void *payload)
{
	(void)payload;
	ASSERT(dev->struct_size == sizeof(*dev) && dev->naddrs >= 1);
	/* The handle is busy inside its own callbacks. */
	ASSERT_EQ(espota_multi_socket_action(reentry_multi, -1, 0), ESPOTA_EINVAL);
	return ++browse_seen == 3 ? 1 : 0;
}

static int port_of_sim(const sim_harness *h, unsigned int port)
{
	for (int i = 0; i < h->count; i++)
		if ((unsigned int)h->ports[i] == port)
			return 1;
	return 0;
}

/* A browse and an upload in one hand-written poll() loop, then a resolve
 * of what the browse found (per-descriptor loop), a cancel through the
 * discover handle, a name nobody answers. */
static void test_discovery_on_the_multi(void)
{
	const char *a[] = { "--platform", "esp8266", "--fast", "--port", "0", "--count", "3",
		"--mdns", "--mdns-port", "0", "--hostname", "itmulti", NULL };
	const size_t len = 60000;
	unsigned char *img = make_image(len);
	espota_discover_options dop = ESPOTA_DISCOVER_OPTIONS_INIT;
	espota_transfer *b, *u, *r, *f;
	espota_upload_options o;
	espota_discover *d;
	espota_session *s;
	espota_multi *m;
	sim_harness h;
	char uni[64], host[256];
	uint64_t t0;
	int fds, seen = 0;

	ASSERT_OK(sim_start(&h, a));
	ASSERT(h.mdns_port > 0);
	snprintf(uni, sizeof(uni), "127.0.0.1:%d", h.mdns_port);
	dop.unicast = uni;
	dop.timeout_ms = 5000;
	ASSERT_OK(espota_session_new(&s, NULL));
	fds = count_fds();
	ASSERT_OK(espota_discover_new(&d, &dop));
	ASSERT_OK(espota_multi_new(&m, s));
	reentry_multi = m;

	ASSERT_OK(espota_multi_add_browse(m, &b, d, stop_at_three, NULL));
	ASSERT_EQ(espota_transfer_kind(b), ESPOTA_KIND_BROWSE);
	ASSERT_EQ(espota_transfer_result(b), 1);
	/* one browse or resolve per discover handle at a time */
	ASSERT_EQ(espota_multi_add_resolve(m, &f, d, "x.local"), ESPOTA_EINVAL);
	ASSERT(f == NULL);
	o = opts_for(&h, 0);
	ASSERT_OK(espota_multi_add_upload(m, &u, img, len, &o));
	ASSERT_EQ(espota_transfer_kind(u), ESPOTA_KIND_UPLOAD);
	ASSERT_EQ(espota_multi_running(m), 2);
	t0 = ms_now();
	poll_loop(m);
	ASSERT(ms_now() - t0 < 4000); /* the callback ended the browse, not its timeout */
	while ((f = espota_multi_info_read(m)) != NULL) {
		ASSERT(f == b || f == u);
		seen++;
	}
	ASSERT_EQ(seen, 2);
	ASSERT_EQ(espota_transfer_result(b), ESPOTA_OK);
	ASSERT_EQ(browse_seen, 3);
	ASSERT_EQ(espota_transfer_device_count(b), 3);
	ASSERT_EQ(espota_discover_found(d), 3);
	ASSERT(espota_transfer_packets_sent(b) >= 1);
	ASSERT_EQ(espota_discover_packets_sent(d), espota_transfer_packets_sent(b));
	for (size_t i = 0; i < 3; i++) {
		const espota_device_info *dev = espota_transfer_device_at(b, i);
		ASSERT(dev != NULL);
		ASSERT(port_of_sim(&h, dev->port));
		ASSERT_STREQ(dev->addrs[0].address, "127.0.0.1");
		ASSERT_CONTAINS(dev->hostname, ".local");
	}
	ASSERT(espota_transfer_device_at(b, 3) == NULL);
	ASSERT_EQ(espota_transfer_device_count(u), 0);
	ASSERT_EQ(espota_transfer_result(u), ESPOTA_OK);
	assert_received(&h, 0, img, len);
	snprintf(host, sizeof(host), "%s", espota_transfer_device_at(b, 1)->hostname);
	ASSERT_OK(espota_multi_remove(m, b));
	ASSERT_OK(espota_multi_remove(m, u));

	/* resolve what the browse found, one callback per ready descriptor */
	ASSERT_OK(espota_multi_add_resolve(m, &r, d, host));
	ASSERT_EQ(espota_transfer_kind(r), ESPOTA_KIND_RESOLVE);
	ASSERT_STREQ(espota_transfer_host(r), host);
	ASSERT_STREQ(espota_transfer_address(r), "");
	action_loop(m);
	ASSERT(espota_multi_info_read(m) == r);
	ASSERT_EQ(espota_transfer_result(r), ESPOTA_OK);
	ASSERT_STREQ(espota_transfer_address(r), "127.0.0.1");
	ASSERT_OK(espota_multi_remove(m, r));

	/* espota_discover_cancel() reaches a browse on another session's handle */
	ASSERT_OK(espota_multi_add_browse(m, &b, d, NULL, NULL));
	t0 = ms_now();
	{
		espota_waitfd w[8];
		size_t n = 0;
		ASSERT_OK(espota_multi_fds(m, w, 8, &n));
		ASSERT(n >= 3); /* the session's pipe, the mDNS socket, the discover handle's pipe */
		ASSERT_OK(espota_multi_perform(m, w, 0));
	}
	ASSERT_OK(espota_discover_cancel(d));
	poll_loop(m);
	ASSERT(ms_now() - t0 < 2000);
	ASSERT_EQ(espota_transfer_result(b), ESPOTA_ECANCELLED);
	ASSERT_STREQ(espota_discover_last_error(d), "cancelled");
	ASSERT_OK(espota_multi_remove(m, b));
	espota_discover_free(d);

	/* nobody answers: ERESOLVE at the handle's timeout, with the name */
	dop.timeout_ms = 300;
	ASSERT_OK(espota_discover_new(&d, &dop));
	ASSERT_OK(espota_multi_add_resolve(m, &r, d, "nobody"));
	t0 = ms_now();
	poll_loop(m);
	ASSERT(ms_now() - t0 >= 250 && ms_now() - t0 < 2000);
	ASSERT_EQ(espota_transfer_result(r), ESPOTA_ERESOLVE);
	ASSERT_CONTAINS(espota_transfer_error(r), "nobody.local");
	ASSERT_CONTAINS(espota_discover_last_error(d), "nobody.local");
	/* freed with its handle, before the discover handle */
	espota_multi_free(m);
	espota_discover_free(d);
	ASSERT_EQ(count_fds(), fds);
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

static void test_arguments(void)
{
	espota_session *s;
	espota_multi *m;
	espota_transfer *t = (espota_transfer *)1;
	espota_upload_options o = ESPOTA_UPLOAD_OPTIONS_INIT;
	espota_waitfd w[2];
	size_t n = 99;
	long ms = 0;
	static const unsigned char img[4] = { 1, 2, 3, 4 };

	ASSERT_OK(espota_session_new(&s, NULL));
	ASSERT_OK(espota_multi_new(&m, s));
	ASSERT_OK(espota_multi_fds(m, w, 2, &n));
	ASSERT_EQ(n, 0); /* nothing running: nothing to watch */
	ASSERT_OK(espota_multi_timeout(m, &ms));
	ASSERT_EQ(ms, -1);
	ASSERT_OK(espota_multi_perform(m, NULL, 0));
	ASSERT(espota_multi_info_read(m) == NULL);
	o.version = 99;
	o.host = "127.0.0.1";
	ASSERT_OK(espota_multi_add_upload(m, &t, img, sizeof(img), &o));
	ASSERT_EQ(espota_transfer_result(t), ESPOTA_EINVAL);
	ASSERT_CONTAINS(espota_transfer_error(t), "invalid version 99");
	ASSERT(espota_multi_info_read(m) == t);
	ASSERT_OK(espota_multi_remove(m, t));
	ASSERT_EQ(espota_transfer_result(NULL), ESPOTA_EINVAL);
	ASSERT_STREQ(espota_transfer_error(NULL), "invalid transfer");
	espota_multi_free(m);
	espota_session_free(s);
}

TEST_LIST_BEGIN
TEST_ENTRY(test_arguments)
TEST_ENTRY(test_same_upload_three_ways)
TEST_ENTRY(test_many_in_one_loop)
TEST_ENTRY(test_cancel_and_remove)
TEST_ENTRY(test_discovery_on_the_multi)
TEST_LIST_END
