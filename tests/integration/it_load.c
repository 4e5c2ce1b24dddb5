/*
 * Load: 500 uploads in a row on one session, 50 devices at once with the
 * fleet API, and 50 threads with their own sessions, against --fast
 * espota-sim devices. File descriptors must stay exactly flat and the
 * resident set may not grow by more than 2 MiB between the end of a warm-up
 * and the end of the run (allocator caches and thread stacks settle during the
 * warm-up).
 */
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

#include "test.h"
#include "it_common.h"
#include "sim_harness.h"
#include <espota.h>

#define RSS_SLACK (2L * 1024 * 1024)

/* Under a sanitizer (quarantine, shadow memory) or valgrind the resident set
 * says nothing about the library: report it, assert only the descriptors.
 * Leaks are what those tools check themselves. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
# define INSTRUMENTED 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#  define INSTRUMENTED 1
# endif
#endif
#ifndef INSTRUMENTED
# define INSTRUMENTED 0
#endif

static int rss_meaningful(void)
{
	const char *v = getenv("ESPOTA_TEST_UNDER_VALGRIND");
	return !INSTRUMENTED && !(v != NULL && v[0] != '\0' && strcmp(v, "0") != 0);
}
#define NDEV 50

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, resident = 0;
	ASSERT(f != NULL);
	ASSERT_EQ(fscanf(f, "%ld %ld", &size, &resident), 2);
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

static unsigned char *make_image(size_t len, unsigned int seed)
{
	unsigned char *img = malloc(len);
	size_t i;
	ASSERT(img != NULL);
	for (i = 0; i < len; i++)
		img[i] = (unsigned char)((i * 7 + seed + (i >> 9)) % 251);
	img[0] = 0xE9;
	img[1] = 2;
	img[2] = 3;
	img[3] = 4 << 4;
	return img;
}

static espota_upload_options opts_for(const sim_harness *h, int dev)
{
	espota_upload_options o = ESPOTA_UPLOAD_OPTIONS_INIT;
	o.host = h->addrs[dev][0] ? h->addrs[dev] : "127.0.0.1";
	o.port = (uint16_t)h->ports[dev];
	o.platform = ESPOTA_PLATFORM_ESP8266;
	o.timeouts.invite_ms = 300;
	o.timeouts.invite_attempts = 5;
	o.timeouts.connect_ms = 3000;
	o.timeouts.stall_ms = 5000;
	o.timeouts.result_ms = 5000;
	return o;
}

static void report(const char *what, long rss0, long rss1, int fds0, int fds1)
{
	fprintf(stderr, "   %s: rss %ld -> %ld KiB (%+ld KiB), fds %d -> %d\n", what, rss0 / 1024,
		rss1 / 1024, (rss1 - rss0) / 1024, fds0, fds1);
}

static void test_500_in_a_row(void)
{
	const char *a[] = { "--platform", "esp8266", "--fast", "--port", "0", NULL };
	const size_t len = 8192;
	unsigned char *img = make_image(len, 1);
	espota_session *s;
	espota_upload_options o;
	sim_harness h;
	long rss0 = 0;
	int i, fds0 = 0;

	ASSERT_OK(sim_start(&h, a));
	ASSERT_OK(espota_session_new(&s, NULL));
	o = opts_for(&h, 0);
	for (i = 0; i < 500; i++) {
		int rc = espota_upload(s, img, len, &o);
		if (rc != ESPOTA_OK)
			fprintf(stderr, "   upload %d: %s: %s\n", i, espota_error_name(rc),
				espota_session_last_error(s));
		ASSERT_EQ(rc, ESPOTA_OK);
		if (i == 49) {
			fds0 = count_fds();
			rss0 = rss_bytes();
		}
	}
	report("500 uploads", rss0, rss_bytes(), fds0, count_fds());
	ASSERT_EQ(count_fds(), fds0);
	ASSERT(!rss_meaningful() || rss_bytes() - rss0 < RSS_SLACK);
	{
		size_t n = 0;
		unsigned char *got = sim_read_image(&h, 0, "app.bin", &n);
		ASSERT(got != NULL && n == len && memcmp(got, img, len) == 0);
		free(got);
	}
	{
		const char *ok[] = { "\"event\":\"upload\"", "\"result\":\"ok\"", NULL };
		ASSERT_EQ(sim_log_count(&h, ok), 500);
	}
	espota_session_free(s);
	sim_stop(&h);
	free(img);
}

typedef struct {
	int code;
	uint64_t acked;
} fleet_seen;

static void fleet_done(size_t index, const espota_transfer *r, void *payload)
{
	fleet_seen *seen = payload;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;

	seen[index].code = espota_transfer_result(r);
	espota_transfer_stats(r, &st);
	seen[index].acked = st.acked;
}

static void test_fleet_50_at_once(void)
{
	const char *a[] = { "--platform", "esp8266", "--fast", "--port", "0", "--count", "50", NULL };
	const size_t len = 20000;
	unsigned char *img = make_image(len, 2);
	espota_fleet_device dev[NDEV];
	fleet_seen *res = calloc(NDEV, sizeof(*res));
	espota_fleet_options fo = ESPOTA_FLEET_OPTIONS_INIT;
	espota_upload_options base;
	espota_session *s;
	sim_harness h;
	long rss0 = 0;
	int i, round, fds0 = 0;

	ASSERT(res != NULL);
	ASSERT_OK(sim_start(&h, a));
	ASSERT_EQ(h.count, NDEV);
	ASSERT_OK(espota_session_new(&s, NULL));
	base = opts_for(&h, 0);
	for (i = 0; i < NDEV; i++) {
		dev[i].host = h.addrs[i][0] ? h.addrs[i] : "127.0.0.1";
		dev[i].port = (uint16_t)h.ports[i];
		dev[i].password = NULL;
	}
	fo.max_concurrent = NDEV;
	fo.done = fleet_done;
	fo.payload = res;
	for (round = 0; round < 6; round++) {
		int rc = espota_fleet_upload(s, img, len, &base, dev, NDEV, &fo);
		if (rc != ESPOTA_OK)
			fprintf(stderr, "   fleet round %d: %s: %s\n", round, espota_error_name(rc),
				espota_session_last_error(s));
		ASSERT_EQ(rc, ESPOTA_OK);
		for (i = 0; i < NDEV; i++) {
			ASSERT_EQ(res[i].code, ESPOTA_OK);
			ASSERT_EQ(res[i].acked, len);
		}
		if (round == 1) {
			fds0 = count_fds();
			rss0 = rss_bytes();
		}
	}
	report("fleet of 50 x 6", rss0, rss_bytes(), fds0, count_fds());
	ASSERT_EQ(count_fds(), fds0);
	ASSERT(!rss_meaningful() || rss_bytes() - rss0 < RSS_SLACK);
	for (i = 0; i < NDEV; i++) {
		size_t n = 0;
		unsigned char *got = sim_read_image(&h, i, "app.bin", &n);
		ASSERT(got != NULL && n == len && memcmp(got, img, len) == 0);
		free(got);
	}
	espota_session_free(s);
	sim_stop(&h);
	free(res);
	free(img);
}

static void test_50_threads(void)
{
	const char *a[] = { "--platform", "esp8266", "--fast", "--port", "0", "--count", "50", NULL };
	const size_t len = 20000;
	unsigned char *img = make_image(len, 3);
	pthread_t t[NDEV];
	it_job j[NDEV];
	sim_harness h;
	long rss0 = 0;
	int i, round, fds0 = 0;

	ASSERT_OK(sim_start(&h, a));
	ASSERT_EQ(h.count, NDEV);
	for (round = 0; round < 4; round++) {
		for (i = 0; i < NDEV; i++) {
			j[i].opts = opts_for(&h, i);
			j[i].img = img;
			j[i].len = len;
			j[i].rc = -99;
			ASSERT_OK(pthread_create(&t[i], NULL, it_upload_thread, &j[i]));
		}
		for (i = 0; i < NDEV; i++) {
			ASSERT_OK(pthread_join(t[i], NULL));
			ASSERT_EQ(j[i].rc, ESPOTA_OK);
		}
		if (round == 1) {
			fds0 = count_fds();
			rss0 = rss_bytes();
		}
	}
	report("50 threads x 4", rss0, rss_bytes(), fds0, count_fds());
	ASSERT_EQ(count_fds(), fds0);
	ASSERT(!rss_meaningful() || rss_bytes() - rss0 < RSS_SLACK);
	for (i = 0; i < NDEV; i++) {
		size_t n = 0;
		unsigned char *got = sim_read_image(&h, i, "app.bin", &n);
		ASSERT(got != NULL && n == len && memcmp(got, img, len) == 0);
		free(got);
	}
	sim_stop(&h);
	free(img);
}

TEST_LIST_BEGIN
TEST_ENTRY(test_500_in_a_row)
TEST_ENTRY(test_fleet_50_at_once)
TEST_ENTRY(test_50_threads)
TEST_LIST_END
