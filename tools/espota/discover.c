/*
 * espota CLI - `espota discover [--timeout S] [--json] [--interface IF]`:
 * browse _arduino._tcp over mDNS and list what answered; and the lookup
 * behind `--board auto`.
 */
#include "discover.h"

#include <espota.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "output.h"

static const char discover_usage[] =
"usage: espota discover [--timeout S] [--json] [--interface IF] [-4|-6] [--debug]\n"
"Find ArduinoOTA devices (_arduino._tcp) by mDNS on the local link.\n"
"  --timeout S       total browse time in seconds (default 2)\n"
"  --json            one JSON object per device (JSON Lines), as they answer\n"
"  --interface IF    only this interface (default: every up multicast interface)\n"
"  -4, -6            IPv4 or IPv6 only\n"
"Exit status: 0 when a device answered, 9 when none did, 2 on a bad command line.\n"
"Test only: ESPOTA_MDNS_UNICAST=ADDR:PORT sends the queries there, unicast.\n";

struct found {
	char name[260], host[260], addr[64], board[64];
	unsigned port;
	int auth;
	espota_platform platform;
};

struct run {
	int json;
	struct found *rows;
	size_t n, cap;
};

static espota_discover *volatile running_handle;

static void on_sigint(int sig)
{
	(void)sig;
	if (running_handle != NULL)
		espota_discover_cancel(running_handle);
}

static const char *platform_name(espota_platform p)
{
	return p == ESPOTA_PLATFORM_ESP8266 ? "esp8266" : p == ESPOTA_PLATFORM_ESP32 ? "esp32" : "unknown";
}

/* The first address as a usable -i value: a link-local IPv6 address needs
 * its interface ("fe80::1%wlan0"). */
static const char *first_address(char *out, size_t len, const espota_device_info *d)
{
	if (d->naddrs == 0)
		return NULL;
	if (strncasecmp(d->addrs[0].address, "fe80:", 5) == 0 && d->addrs[0].interface[0])
		snprintf(out, len, "%s%%%s", d->addrs[0].address, d->addrs[0].interface);
	else
		snprintf(out, len, "%s", d->addrs[0].address);
	return out;
}

static void print_json(const espota_device_info *d)
{
	char buf[8192], addr[80];
	struct cli_json j;

	cli_json_begin(&j, buf, sizeof(buf));
	cli_json_str(&j, "name", d->instance);
	cli_json_str(&j, "hostname", d->hostname);
	cli_json_str(&j, "address", first_address(addr, sizeof(addr), d));
	cli_json_u64(&j, "port", d->port);
	cli_json_str(&j, "board", d->board);
	if (d->auth_upload < 0)
		cli_json_null(&j, "password");
	else
		cli_json_bool(&j, "password", d->auth_upload);
	cli_json_str(&j, "platform", platform_name(d->platform));
	cli_json_arr(&j, "addresses");
	for (size_t i = 0; i < d->naddrs; i++) {
		cli_json_item(&j);
		cli_json_str(&j, "address", d->addrs[i].address);
		cli_json_str(&j, "interface", d->addrs[i].interface);
		cli_json_close(&j);
	}
	cli_json_close(&j);
	cli_json_obj(&j, "txt");
	for (size_t i = 0; i < d->ntxt; i++)
		cli_json_str(&j, d->txt[i].key, d->txt[i].value);
	cli_json_close(&j);
	cli_json_u64(&j, "elapsed_ms", d->elapsed_ms);
	cli_json_end(&j);
	fputs(buf, stdout);
	fflush(stdout);
}

static int on_device(const espota_device_info *d, void *payload)
{
	struct run *r = payload;
	struct found *f;

	if (r->json) {
		print_json(d);
		return 0;
	}
	if (r->rows == NULL || r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		struct found *nr = realloc(r->rows, cap * sizeof(*nr));
		if (nr == NULL)
			return -1;
		r->rows = nr;
		r->cap = cap;
	}
	f = &r->rows[r->n++];
	snprintf(f->name, sizeof(f->name), "%s", d->instance);
	snprintf(f->host, sizeof(f->host), "%s", d->hostname);
	if (first_address(f->addr, sizeof(f->addr), d) == NULL)
		snprintf(f->addr, sizeof(f->addr), "-");
	snprintf(f->board, sizeof(f->board), "%s", d->board ? d->board : "-");
	f->port = d->port;
	f->auth = d->auth_upload;
	f->platform = d->platform;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcasecmp(((const struct found *)a)->name, ((const struct found *)b)->name);
}

static void log_stderr(espota_log_level level, const char *msg, void *payload)
{
	(void)payload;
	fprintf(stderr, "espota: %s%s\n", level <= ESPOTA_LOG_WARN ? "warning: " : "", msg);
}

int cli_discover_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' }, { "json", no_argument, NULL, 'j' },
		{ "interface", required_argument, NULL, 'I' }, { "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	espota_discover_options o;
	espota_discover *d = NULL;
	struct run r;
	int c, rc, debug = 0;

	memset(&r, 0, sizeof(r));
	espota_discover_options_init(&o, ESPOTA_DISCOVER_OPTIONS_VERSION);
	optind = 1;
	while ((c = getopt_long(argc, argv, "46h", opts, NULL)) != -1) {
		char *end;
		double s;
		switch (c) {
		case 't':
			s = strtod(optarg, &end);
			if (*end != '\0' || !(s > 0 && s <= 3600)) {
				fprintf(stderr, "espota: error: --timeout: expected seconds in (0, 3600], got '%s'\n", optarg);
				return CLI_EXIT_USAGE;
			}
			o.timeout_ms = (unsigned int)(s * 1000 + 0.5);
			if (o.timeout_ms == 0)
				o.timeout_ms = 1;
			break;
		case 'j': r.json = 1; break;
		case 'I': o.interface = optarg; break;
		case '4': o.family = 4; break;
		case '6': o.family = 6; break;
		case 'd': debug = 1; break;
		case 'h': fputs(discover_usage, stdout); return CLI_EXIT_OK;
		default: fputs(discover_usage, stderr); return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "espota: error: discover takes no argument '%s'\n", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	o.log = log_stderr;
	o.log_level = debug ? ESPOTA_LOG_DEBUG : ESPOTA_LOG_WARN;
	if ((rc = espota_discover_new(&d, &o)) < 0) {
		fprintf(stderr, "espota: error: %s\n", espota_strerror(rc));
		return CLI_EXIT_USAGE;
	}
	running_handle = d;
	{
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigint;  /* espota_discover_cancel() is async-signal-safe */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	rc = espota_discover_browse(d, on_device, &r);
	running_handle = NULL;
	if (rc < 0 && rc != ESPOTA_ECANCELLED) {
		fprintf(stderr, "espota: error: %s: %s\n", espota_strerror(rc), espota_discover_last_error(d));
		espota_discover_free(d);
		free(r.rows);
		return CLI_EXIT_FAILED;
	}
	if (!r.json && r.n > 0) {
		qsort(r.rows, r.n, sizeof(*r.rows), by_name);
		printf("%-24s %-39s %5s  %-16s %-8s %s\n", "NAME", "ADDRESS", "PORT", "BOARD", "PASSWORD", "PLATFORM");
		for (size_t i = 0; i < r.n; i++)
			printf("%-24s %-39s %5u  %-16s %-8s %s\n", r.rows[i].name, r.rows[i].addr, r.rows[i].port,
				r.rows[i].board, r.rows[i].auth > 0 ? "yes" : r.rows[i].auth == 0 ? "no" : "?",
				platform_name(r.rows[i].platform));
	}
	if (debug)
		fprintf(stderr, "espota: %zu device(s), %zu mDNS packet(s) sent\n",
			espota_discover_found(d), espota_discover_packets_sent(d));
	c = espota_discover_found(d) > 0 ? CLI_EXIT_OK : CLI_EXIT_NONE_FOUND;
	if (c == CLI_EXIT_NONE_FOUND && !r.json)
		fprintf(stderr, "espota: no device answered within %.1f s (see docs/discovery.md: routed "
			"subnets and Wi-Fi client isolation hide devices)\n", (o.timeout_ms ? o.timeout_ms : 2000) / 1000.0);
	espota_discover_free(d);
	free(r.rows);
	return rc == ESPOTA_ECANCELLED ? CLI_EXIT_CANCELLED : c;
}

struct board_q {
	const char *host;
	char *board;
	size_t len;
	int found;
};

static int name_match(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	while (la && a[la - 1] == '.')
		la--;
	if (la == lb && strncasecmp(a, b, la) == 0)
		return 1;
	/* "dev" against "dev.local" */
	return lb == la + 6 && strncasecmp(a, b, la) == 0 && strcasecmp(b + la, ".local") == 0;
}

static int on_board(const espota_device_info *d, void *payload)
{
	struct board_q *q = payload;
	int hit = name_match(q->host, d->hostname) || name_match(q->host, d->instance);
	for (size_t i = 0; i < d->naddrs && !hit; i++)
		hit = strcmp(q->host, d->addrs[i].address) == 0;
	if (!hit || d->board == NULL)
		return 0;
	snprintf(q->board, q->len, "%s", d->board);
	q->found = 1;
	return 1; /* stop the browse */
}

int cli_discover_board(const char *host, char *board, size_t boardlen, char *err, size_t errlen)
{
	espota_discover *d = NULL;
	struct board_q q = { host, board, boardlen, 0 };
	int rc;

	if (espota_discover_new(&d, NULL) < 0) {
		snprintf(err, errlen, "--board auto: cannot start mDNS discovery");
		return -1;
	}
	rc = espota_discover_browse(d, on_board, &q);
	if (rc < 0)
		snprintf(err, errlen, "--board auto: mDNS discovery failed: %s", espota_discover_last_error(d));
	else if (!q.found)
		snprintf(err, errlen, "--board auto: no device '%s' with a board in its TXT record answered "
			"mDNS within 2 s; give --board NAME", host);
	espota_discover_free(d);
	return q.found ? 0 : -1;
}
