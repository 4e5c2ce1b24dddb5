/*
 * espota-bench: the measuring half of bench/run.sh (public API only).
 *
 *   espota-bench limit  --platform esp8266|esp32 --rtt MS --mss N [--window W] --size N [--image F]
 *   espota-bench upload --ready FILE --image F [--platform P] [--saw|--stream] [--chunk N] [--window N]
 *                       [--compress] [--fs]
 *   espota-bench fleet  --ready FILE --image F [--max-concurrent N]
 *   espota-bench cpu    --ready FILE --image F --repeat K [--fs]
 *
 * --ready is espota-sim's --ready-file ("<index> <address> <port>" lines).
 * `upload` uploads once to every instance in turn (one fresh device per
 * repetition, so no run waits for the previous device's reboot) and prints
 * one line per run. Output lines are "key=value" words for bench/report.py.
 */
#include <espota/fleet.h>
#include <espota/session.h>
#include <espota/upload.h>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "limit.h"

struct dev { char addr[64]; unsigned port; };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "espota-bench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
	if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "espota-bench: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

static struct dev *read_ready(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "espota-bench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	size_t cap = 16, k = 0;
	struct dev *d = malloc(cap * sizeof *d);
	unsigned idx, port;
	char addr[64];
	while (fscanf(f, "%u %63s %u", &idx, addr, &port) == 3) {
		if (k == cap)
			d = realloc(d, (cap *= 2) * sizeof *d);
		snprintf(d[k].addr, sizeof d[k].addr, "%s", addr);
		d[k].port = port;
		k++;
	}
	fclose(f);
	*n = k;
	return d;
}

struct args {
	const char *ready, *image, *platform;
	int saw, stream, paced, compress, fs;
	unsigned chunk, window, repeat, max_conc;
	double rtt, bw, erase_ms, program_us, block_erase_ms, loop_ms;
	uint64_t mss, wnd, size, seg;
};

static void usage(void)
{
	fprintf(stderr, "usage: espota-bench limit|upload|fleet|cpu [options] (see the source)\n");
	exit(2);
}

static void parse(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof *a);
	a->platform = "esp8266";
	a->rtt = -1; a->bw = -1; a->erase_ms = -1; a->program_us = -1; a->block_erase_ms = -1;
	a->loop_ms = -1;
	a->repeat = 1;
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(o, name) == 0 && v && ++i)
		if (ARG("--ready")) a->ready = v;
		else if (ARG("--image")) a->image = v;
		else if (ARG("--platform")) a->platform = v;
		else if (ARG("--chunk")) a->chunk = (unsigned)strtoul(v, NULL, 0);
		else if (ARG("--window")) { a->window = (unsigned)strtoul(v, NULL, 0); a->wnd = a->window; }
		else if (ARG("--repeat")) a->repeat = (unsigned)strtoul(v, NULL, 0);
		else if (ARG("--max-concurrent")) a->max_conc = (unsigned)strtoul(v, NULL, 0);
		else if (ARG("--rtt")) a->rtt = atof(v);
		else if (ARG("--mss")) a->mss = strtoull(v, NULL, 0);
		else if (ARG("--bandwidth")) a->bw = atof(v);
		else if (ARG("--erase-ms")) a->erase_ms = atof(v);
		else if (ARG("--program-us")) a->program_us = atof(v);
		else if (ARG("--block-erase-ms")) a->block_erase_ms = atof(v);
		else if (ARG("--loop-latency")) a->loop_ms = atof(v);
		else if (ARG("--size")) a->size = strtoull(v, NULL, 0);
		else if (ARG("--seg")) a->seg = strtoull(v, NULL, 0);
		else if (strcmp(o, "--saw") == 0) a->saw = 1;
		else if (strcmp(o, "--stream") == 0) a->stream = 1;
		else if (strcmp(o, "--paced") == 0) a->paced = 1;
		else if (strcmp(o, "--compress") == 0) a->compress = 1;
		else if (strcmp(o, "--fs") == 0) a->fs = 1;
		else usage();
#undef ARG
	}
}

static int is_esp32(const struct args *a) { return strncmp(a->platform, "esp32", 5) == 0; }

/* ---- limit ---------------------------------------------------------------- */

static int cmd_limit(const struct args *a)
{
	struct limit_model m;
	int e32 = is_esp32(a);
	size_t ilen = 0;
	unsigned char *img = a->image ? read_all(a->image, &ilen) : NULL;
	memset(&m, 0, sizeof m);
	m.esp32 = e32;
	m.size = a->size ? a->size : ilen;
	m.image = img && ilen >= m.size ? img : NULL;
	/* the sim's documented defaults (docs/simulator.md, timing model) */
	m.rtt_ms = a->rtt >= 0 ? a->rtt : 10;
	m.mss = a->mss ? a->mss : (e32 ? 1440 : 536);
	m.window = a->wnd ? a->wnd : 4 * m.mss;
	m.bandwidth = a->bw >= 0 ? a->bw : (e32 ? 2500000 : 1000000);
	m.erase_ms = a->erase_ms >= 0 ? a->erase_ms : 45;
	m.program_us = a->program_us >= 0 ? a->program_us : 700;
	m.block_erase_ms = a->block_erase_ms >= 0 ? a->block_erase_ms : 150;
	m.loop_ms = a->loop_ms >= 0 ? a->loop_ms : 1;
	m.seg = a->seg;
	m.partition_addr = 0x150000; /* app1 of the default scheme (ota_0 runs) */
	if (m.size == 0)
		usage();
	struct limit_result r;
	if (limit_compute(&m, &r) != 0) {
		fprintf(stderr, "espota-bench: limit computation failed\n");
		return 1;
	}
	printf("limit size=%llu total=%.4f connect=%.4f first=%.4f end=%.4f flash=%.4f\n",
		(unsigned long long)m.size, r.total_ns / 1e9, r.connect_ns / 1e9, r.first_byte_ns / 1e9,
		r.end_ns / 1e9, r.flash_ns / 1e9);
	free(img);
	return 0;
}

/* ---- upload --------------------------------------------------------------- */

static void base_opts(const struct args *a, espota_upload_options *o)
{
	espota_upload_options_init(o, ESPOTA_UPLOAD_OPTIONS_VERSION);
	o->platform = is_esp32(a) ? ESPOTA_PLATFORM_ESP32 : ESPOTA_PLATFORM_ESP8266;
	o->transfer = a->saw ? ESPOTA_TRANSFER_STOP_AND_WAIT :
		a->stream ? ESPOTA_TRANSFER_STREAM : a->paced ? ESPOTA_TRANSFER_PACED : ESPOTA_TRANSFER_PIPELINED;
	o->chunk_size = a->chunk;   /* 0 = library default */
	o->window = a->window;      /* 0 = library default */
	o->compress = a->compress;
	o->target = a->fs ? ESPOTA_TARGET_FS : ESPOTA_TARGET_APP;
	o->bind_address = "127.0.0.1";
}

/* The engine's pacing decision ("pacing: device window N bytes ..."). */
struct pace_seen { char what[32]; };

static void pace_log(espota_log_level level, const char *msg, void *payload)
{
	struct pace_seen *p = payload;
	unsigned long w;
	(void)level;
	if (sscanf(msg, "pacing: device window %lu", &w) == 1)
		snprintf(p->what, sizeof p->what, "%lu", w);
	else if (strncmp(msg, "pacing: ", 8) == 0)
		snprintf(p->what, sizeof p->what, "blocks");
}

static int cmd_upload(const struct args *a)
{
	size_t len, ndev;
	unsigned char *img = read_all(a->image, &len);
	struct dev *devs = read_ready(a->ready, &ndev);
	espota_session *s;
	struct pace_seen pace;
	espota_session_options so;
	espota_session_options_init(&so, ESPOTA_SESSION_OPTIONS_VERSION);
	so.log_level = ESPOTA_LOG_INFO; /* the pacing decision; debug lines would cost CPU */
	so.log = pace_log;
	so.log_payload = &pace;
	if (espota_session_new(&s, &so) != ESPOTA_OK)
		return 1;
	int fails = 0;
	for (size_t i = 0; i < ndev; i++) {
		espota_upload_options o;
		base_opts(a, &o);
		o.host = devs[i].addr;
		o.port = (uint16_t)devs[i].port;
		snprintf(pace.what, sizeof pace.what, "-");
		double t0 = now_s(), c0 = cpu_s();
		int rc = espota_upload(s, img, len, &o);
		double t1 = now_s(), c1 = cpu_s();
		espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;
		espota_session_stats(s, &st);
		if (rc != ESPOTA_OK) {
			fails++;
			printf("run i=%zu ok=0 error=\"%s\"\n", i, espota_session_last_error(s));
		} else {
			printf("run i=%zu ok=1 time=%.4f sent=%llu orig=%llu transfer=%.4f acks=%u cpu=%.4f mss=%u win=%s\n",
				i, t1 - t0, (unsigned long long)st.total, (unsigned long long)st.original_size,
				st.transfer_ms / 1e3, st.acks, c1 - c0, (unsigned)st.device_mss, pace.what);
		}
		fflush(stdout);
	}
	espota_session_free(s);
	free(img);
	free(devs);
	return fails ? 1 : 0;
}

/* ---- fleet ---------------------------------------------------------------- */

/* What the done callback read, and how many uploads ran at once (the
 * concurrency the fleet chose): the peak, and the time-weighted mean while
 * the first half of the devices ran (before the tail, where fewer are left
 * than the fleet would run). */
struct fleet_seen {
	int code;
	double elapsed_s;
	char error[256];
};
struct conc {
	size_t n, *started, ndone;
	long active, peak;
	struct fleet_seen *res;
	double t_last, area, t_half;
};

static void conc_tick(struct conc *c)
{
	double t = now_s();
	if (c->t_last > 0 && c->ndone * 2 < c->n) {
		c->area += (double)c->active * (t - c->t_last);
		c->t_half = t;
	}
	c->t_last = t;
}

static int conc_progress(size_t index, const espota_progress *p, void *payload)
{
	struct conc *c = payload;
	if (index < c->n && !c->started[index] && p->phase >= ESPOTA_PHASE_INVITE) {
		conc_tick(c);
		c->started[index] = 1;
		if (++c->active > c->peak)
			c->peak = c->active;
	}
	return 0;
}

static void conc_done(size_t index, const espota_transfer *t, void *payload)
{
	struct conc *c = payload;
	espota_upload_stats st = ESPOTA_UPLOAD_STATS_INIT;

	if (index >= c->n)
		return;
	c->res[index].code = espota_transfer_result(t);
	espota_transfer_stats(t, &st);
	c->res[index].elapsed_s = st.elapsed_ms / 1e3;
	snprintf(c->res[index].error, sizeof(c->res[index].error), "%s", espota_transfer_error(t));
	if (c->started[index] == 1) {
		conc_tick(c);
		c->started[index] = 2;
		c->active--;
		c->ndone++;
	}
}

static int cmd_fleet(const struct args *a)
{
	size_t len, ndev;
	unsigned char *img = read_all(a->image, &len);
	struct dev *devs = read_ready(a->ready, &ndev);
	espota_fleet_device *fd = calloc(ndev, sizeof *fd);
	struct fleet_seen *res = calloc(ndev, sizeof *res);
	for (size_t i = 0; i < ndev; i++) {
		fd[i].host = devs[i].addr;
		fd[i].port = (uint16_t)devs[i].port;
	}
	espota_session *s;
	if (espota_session_new(&s, NULL) != ESPOTA_OK)
		return 1;
	espota_upload_options o;
	base_opts(a, &o);
	espota_fleet_options fo;
	espota_fleet_options_init(&fo, ESPOTA_FLEET_OPTIONS_VERSION);
	fo.max_concurrent = a->max_conc; /* 0 = library default */
	struct conc cc = { ndev, calloc(ndev, sizeof(size_t)), 0, 0, 0, res, 0, 0, 0 };
	fo.progress = conc_progress;
	fo.done = conc_done;
	fo.payload = &cc;
	long rss0 = maxrss_kb();
	double t0 = now_s(), c0 = cpu_s();
	cc.t_last = cc.t_half = t0;
	int rc = espota_fleet_upload(s, img, len, &o, fd, ndev, &fo);
	double t1 = now_s(), c1 = cpu_s();
	size_t ok = 0;
	double slowest = 0;
	for (size_t i = 0; i < ndev; i++) {
		if (res[i].code == ESPOTA_OK)
			ok++;
		else if (ok + 3 > i) /* show a few failures */
			fprintf(stderr, "device %zu: %s\n", i, res[i].error);
		if (res[i].elapsed_s > slowest)
			slowest = res[i].elapsed_s;
	}
	printf("fleet n=%zu ok=%zu rc=%d wall=%.4f slowest=%.4f cpu=%.4f maxrss_kb=%ld rss_before_kb=%ld peak=%ld mean_conc=%.1f\n",
		ndev, ok, rc, t1 - t0, slowest, c1 - c0, maxrss_kb(), rss0, cc.peak,
		cc.t_half > t0 ? cc.area / (cc.t_half - t0) : 0.0);
	free(cc.started);
	espota_session_free(s);
	free(fd);
	free(res);
	free(img);
	free(devs);
	return ok == ndev ? 0 : 1;
}

/* ---- cpu ------------------------------------------------------------------ */

static int cmd_cpu(const struct args *a)
{
	size_t len, ndev;
	unsigned char *img = read_all(a->image, &len);
	struct dev *devs = read_ready(a->ready, &ndev);
	espota_session *s;
	if (espota_session_new(&s, NULL) != ESPOTA_OK)
		return 1;
	double cpu = 0, wall = 0;
	uint64_t bytes = 0;
	for (unsigned r = 0; r < a->repeat; r++) {
		espota_upload_options o;
		base_opts(a, &o);
		o.host = devs[r % ndev].addr;
		o.port = (uint16_t)devs[r % ndev].port;
		double t0 = now_s(), c0 = cpu_s();
		int rc = espota_upload(s, img, len, &o);
		double t1 = now_s(), c1 = cpu_s();
		if (rc != ESPOTA_OK) {
			printf("cpu error=\"%s\"\n", espota_session_last_error(s));
			return 1;
		}
		cpu += c1 - c0;
		wall += t1 - t0;
		bytes += len;
	}
	/* reference: what the MD5 of the same bytes costs (the invitation needs it) */
	unsigned char md[16];
	double m0 = cpu_s();
	for (unsigned r = 0; r < a->repeat; r++)
		MD5(img, len, md);
	double md5 = cpu_s() - m0;
	printf("cpu uploads=%u bytes=%llu cpu=%.4f wall=%.4f s_per_gb=%.4f md5_cpu=%.4f md5_s_per_gb=%.4f maxrss_kb=%ld\n",
		a->repeat, (unsigned long long)bytes, cpu, wall, cpu / (bytes / 1e9), md5,
		md5 / (bytes / 1e9), maxrss_kb());
	espota_session_free(s);
	free(img);
	free(devs);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	if (argc < 2)
		usage();
	parse(argc, argv, &a);
	if (strcmp(argv[1], "limit") == 0)
		return cmd_limit(&a);
	if (!a.ready || !a.image)
		usage();
	if (strcmp(argv[1], "upload") == 0)
		return cmd_upload(&a);
	if (strcmp(argv[1], "fleet") == 0)
		return cmd_fleet(&a);
	if (strcmp(argv[1], "cpu") == 0)
		return cmd_cpu(&a);
	usage();
	return 2;
}
