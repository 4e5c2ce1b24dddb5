/*
 * espota-discovery: an arduino-cli pluggable discovery (protocol version
 * 1, arduino-cli docs/pluggable-discovery-specification.md) for ArduinoOTA
 * devices, over libespota's mDNS browse.
 *
 * Commands on stdin, one per line: HELLO <version> "<agent>", START, STOP,
 * LIST, START_SYNC, QUIT. Replies and add/remove events are JSON objects
 * on stdout, one per line. Ports: protocol "network", address = IP,
 * properties hostname, port, every TXT item (board, auth_upload, ...) and
 * "." = board, as arduino/mdns-discovery sends them.
 *
 * A worker thread browses in rounds (ESPOTA_DISCOVERY_INTERVAL seconds,
 * default 3); a device missing from two rounds in a row is removed.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <espota.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

#define MAX_PORTS 1024

struct port {
	char address[64];
	unsigned port;     /* with the address, the key: sims share 127.0.0.1 */
	char json[4096];   /* the port object, for list/add */
	int seen_round;    /* last round that saw it */
	int live;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct port ports[MAX_PORTS];
static size_t nports;
static int sync_mode, started, hello_done, round_no;
static pthread_t worker;
static int worker_running;
static volatile int worker_stop;
static espota_discover *disc;
static unsigned int interval_ms = 3000;

/* stdout is shared by the command loop and the worker */
static void emit(const char *line)
{
	fputs(line, stdout);
	fflush(stdout);
}

static void reply(const char *event, const char *error_msg)
{
	char buf[512];
	struct cli_json j;
	cli_json_begin(&j, buf, sizeof(buf));
	cli_json_str(&j, "eventType", event);
	if (error_msg) {
		cli_json_bool(&j, "error", 1);
		cli_json_str(&j, "message", error_msg);
	} else {
		cli_json_str(&j, "message", "OK");
	}
	cli_json_end(&j);
	pthread_mutex_lock(&lock);
	emit(buf);
	pthread_mutex_unlock(&lock);
}

static void port_json(char *out, size_t cap, const espota_device_info *d)
{
	struct cli_json j;
	char num[16], label[400];
	snprintf(label, sizeof(label), "%s at %s", d->instance, d->addrs[0].address);
	snprintf(num, sizeof(num), "%u", d->port);
	cli_json_begin(&j, out, cap);
	cli_json_str(&j, "address", d->addrs[0].address);
	cli_json_str(&j, "label", label);
	cli_json_str(&j, "protocol", "network");
	cli_json_str(&j, "protocolLabel", "Network Port");
	cli_json_obj(&j, "properties");
	cli_json_str(&j, "hostname", d->hostname);
	cli_json_str(&j, "port", num);
	for (size_t i = 0; i < d->ntxt; i++)
		if (strcmp(d->txt[i].key, "hostname") != 0 && strcmp(d->txt[i].key, "port") != 0 &&
		    strcmp(d->txt[i].key, ".") != 0)
			cli_json_str(&j, d->txt[i].key, d->txt[i].value);
	/* arduino's mdns-discovery repeats board as "." for older boards.txt */
	if (d->board != NULL)
		cli_json_str(&j, ".", d->board);
	cli_json_close(&j);
	/* the object without a trailing newline: it is embedded */
	out[cli_json_end(&j) - 1] = '\0';
}

static void event_port(const char *type, const char *port_obj)
{
	char buf[4200];
	snprintf(buf, sizeof(buf), "{\"eventType\":\"%s\",\"port\":%s}\n", type, port_obj);
	emit(buf);
}

static int on_device(const espota_device_info *d, void *payload)
{
	char obj[4096];
	(void)payload;
	if (d->naddrs == 0)
		return 0;
	port_json(obj, sizeof(obj), d);
	pthread_mutex_lock(&lock);
	size_t i;
	for (i = 0; i < nports; i++)
		if (strcmp(ports[i].address, d->addrs[0].address) == 0 && ports[i].port == d->port)
			break;
	if (i == nports && nports < MAX_PORTS)
		memset(&ports[nports++], 0, sizeof(ports[0]));
	if (i < nports) {
		int changed = !ports[i].live || strcmp(ports[i].json, obj) != 0;
		snprintf(ports[i].address, sizeof(ports[i].address), "%s", d->addrs[0].address);
		ports[i].port = d->port;
		snprintf(ports[i].json, sizeof(ports[i].json), "%s", obj);
		ports[i].seen_round = round_no;
		ports[i].live = 1;
		/* a changed port is sent again as "add" (the spec allows it) */
		if (sync_mode && changed)
			event_port("add", obj);
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

static void *run_worker(void *arg)
{
	(void)arg;
	while (!worker_stop) {
		int rc = espota_discover_browse(disc, on_device, NULL);
		if (getenv("ESPOTA_DISCOVERY_DEBUG"))
			fprintf(stderr, "espota-discovery: round %d: %s (%zu found) %s\n", round_no,
				espota_strerror(rc), espota_discover_found(disc), espota_discover_last_error(disc));
		pthread_mutex_lock(&lock);
		if (rc == ESPOTA_OK) {
			for (size_t i = 0; i < nports; i++)
				if (ports[i].live && round_no - ports[i].seen_round >= 2) {
					char obj[200];
					ports[i].live = 0;
					if (sync_mode) {
						snprintf(obj, sizeof(obj), "{\"address\":\"%.63s\",\"protocol\":\"network\"}",
							ports[i].address);
						event_port("remove", obj);
					}
				}
			round_no++;
		}
		pthread_mutex_unlock(&lock);
		if (rc == ESPOTA_ECANCELLED || rc == ESPOTA_EIO || rc == ESPOTA_EINVAL)
			break;
	}
	return NULL;
}

static int start_worker(char *err, size_t errlen)
{
	espota_discover_options o;
	if (worker_running)
		return 0;
	espota_discover_options_init(&o, ESPOTA_DISCOVER_OPTIONS_VERSION);
	o.timeout_ms = interval_ms;
	o.interface = getenv("ESPOTA_DISCOVERY_INTERFACE");
	if (espota_discover_new(&disc, &o) != ESPOTA_OK) {
		snprintf(err, errlen, "cannot start mDNS discovery");
		return -1;
	}
	worker_stop = 0;
	if (pthread_create(&worker, NULL, run_worker, NULL) != 0) {
		espota_discover_free(disc);
		disc = NULL;
		snprintf(err, errlen, "cannot start the discovery thread");
		return -1;
	}
	worker_running = 1;
	return 0;
}

static void stop_worker(void)
{
	if (!worker_running)
		return;
	worker_stop = 1;
	espota_discover_cancel(disc);
	pthread_join(worker, NULL);
	espota_discover_free(disc);
	disc = NULL;
	worker_running = 0;
	pthread_mutex_lock(&lock);
	nports = 0;
	sync_mode = 0;
	pthread_mutex_unlock(&lock);
}

static void do_list(void)
{
	static char buf[MAX_PORTS * 1024];
	size_t k = 0;
	pthread_mutex_lock(&lock);
	k += (size_t)snprintf(buf + k, sizeof(buf) - k, "{\"eventType\":\"list\",\"ports\":[");
	int first = 1;
	for (size_t i = 0; i < nports && k + 4200 < sizeof(buf); i++) {
		if (!ports[i].live)
			continue;
		k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s%s", first ? "" : ",", ports[i].json);
		first = 0;
	}
	snprintf(buf + k, sizeof(buf) - k, "]}\n");
	emit(buf);
	pthread_mutex_unlock(&lock);
}

int main(void)
{
	char line[1024];
	const char *iv = getenv("ESPOTA_DISCOVERY_INTERVAL");

	if (iv != NULL) {
		char *end;
		double v = strtod(iv, &end);
		if (*end == '\0' && v > 0 && v <= 3600)
			interval_ms = (unsigned int)(v * 1000);
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char cmd[32], err[200];
		size_t n = 0;
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		while (*p && !isspace((unsigned char)*p) && n + 1 < sizeof(cmd))
			cmd[n++] = (char)toupper((unsigned char)*p++);
		cmd[n] = '\0';
		if (n == 0)
			continue;
		if (strcmp(cmd, "HELLO") == 0) {
			/* HELLO <version> "<user agent>" */
			char *end;
			long ver = strtol(p, &end, 10);
			while (*end == ' ' || *end == '\t')
				end++;
			if (end == p || ver < 1 || *end != '"' || strchr(end + 1, '"') == NULL) {
				reply("command_error", "Invalid HELLO command");
				continue;
			}
			hello_done = 1;
			pthread_mutex_lock(&lock);
			emit("{\"eventType\":\"hello\",\"protocolVersion\":1,\"message\":\"OK\"}\n");
			pthread_mutex_unlock(&lock);
		} else if (strcmp(cmd, "QUIT") == 0) {
			stop_worker();
			reply("quit", NULL);
			return 0;
		} else if (!hello_done) {
			reply("command_error", "First command must be HELLO");
		} else if (strcmp(cmd, "START") == 0) {
			if (start_worker(err, sizeof(err)) < 0)
				reply("start", err);
			else {
				started = 1;
				reply("start", NULL);
			}
		} else if (strcmp(cmd, "STOP") == 0) {
			stop_worker();
			started = 0;
			reply("stop", NULL);
		} else if (strcmp(cmd, "LIST") == 0) {
			if (!worker_running)
				reply("list", "Discovery not STARTed");
			else
				do_list();
		} else if (strcmp(cmd, "START_SYNC") == 0) {
			if (start_worker(err, sizeof(err)) < 0) {
				reply("start_sync", err);
				continue;
			}
			pthread_mutex_lock(&lock);
			emit("{\"eventType\":\"start_sync\",\"message\":\"OK\"}\n");
			sync_mode = 1;
			/* the initial burst: what is known already */
			for (size_t i = 0; i < nports; i++)
				if (ports[i].live)
					event_port("add", ports[i].json);
			pthread_mutex_unlock(&lock);
		} else {
			char msg[80];
			snprintf(msg, sizeof(msg), "Command %.32s not supported", cmd);
			reply("command_error", msg);
		}
	}
	stop_worker();
	return 0;
}
