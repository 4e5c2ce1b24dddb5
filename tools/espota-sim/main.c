/*
 * espota-sim: command line, device set-up, ready file, main loop.
 * See docs/simulator.md for the full description of every option.
 */
#include "sim.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct layout { const char *name, *ld; uint32_t flash, fs_start, fs_end, fs_block, irom0; };

static const struct layout layouts[] = {
#define ESPOTA_LAYOUT(name, ld, flash, fss, fse, blk, irom) {name, ld, flash, fss, fse, blk, irom},
#include "../../libespota/data/layouts.def"
#undef ESPOTA_LAYOUT
};

static void usage(FILE *f)
{
	fputs(
"usage: espota-sim [options]\n"
"A virtual ESP8266/ESP32 running ArduinoOTA, for tests and demos.\n"
"\n"
"Device:\n"
"  --platform esp8266|esp32|esp32-legacy   (default esp8266)\n"
"  --listen ADDR            UDP bind address (default 127.0.0.1; ::1 for IPv6)\n"
"  --port N                 UDP port, 0 = any free port (default 8266 / 3232)\n"
"  --count N                N device instances in one process (instance i: port+i)\n"
"  --addr-base A            instance i listens on A+i (127.0.0.0/8), same port\n"
"  --password PW            setPassword(PW)\n"
"  --mdns                   answer mDNS for _arduino._tcp like LEAmDNS / ESP-IDF mdns\n"
"                           (every instance; loopback unicast unless --mdns-multicast)\n"
"  --hostname NAME          mDNS host and instance name (instance i of --count: NAME-i)\n"
"  --board-id ID            TXT board= value (default generic / esp32)\n"
"  --mdns-port N            responder UDP port (default 5353; 0 = any free)\n"
"  --mdns-listen ADDR       responder bind address in loopback mode (default 127.0.0.1)\n"
"  --mdns-multicast IF      join 224.0.0.251 on IF (only inside a test network namespace)\n"
"  --password-hash H        setPasswordHash(H): stored verbatim, case-sensitive\n"
"  --password-file F        read PW from the first line of F\n"
"  --chip-size SIZE         real (JEDEC) flash size, a power of two: 512K, 1M, 4M, 16M, bytes\n"
"  --header-flash-size S    ESP8266: flash size in the running image's header (256K, 512K,\n"
"                           1M, 2M, 4M, 8M or 16M; default chip size)\n"
"  --layout NAME            ESP8266 running layout (4M2M, 1M64, eagle.flash.1m64.ld, ...)\n"
"  --sketch-size BYTES      running sketch size (default 300000)\n"
"  --flash-map              running firmware built with FLASH_MAP_SUPPORT\n"
"  --atomic-fs              running firmware built with ATOMIC_FS_UPDATE\n"
"  --signing SIGLEN         running firmware has a SIGLEN-byte signing key (ESP8266)\n"
"  --bootstrap              still in UART boot mode since a serial flash (error 11)\n"
"  --no-decrypt             ESP32 core without OTA decryption (UPDATE_NOCRYPT, or before\n"
"                           PR #5807): a non-E9 app image fails with 8, not 13\n"
"  --decrypt                accepted for compatibility: the default (AUTO decryption)\n"
"  --chip-id N              ESP32 esp_chip_id_t the app image must carry (default 0 = ESP32)\n"
"  --partitions FILE.csv    ESP32 partition table\n"
	, f);
	/* The library's scheme table (schemes.def), a|b|c as completion reads it. */
	fputs("  --scheme NAME            ", f);
	partitions_print_names(f);
	fputs("\n                           built-in ESP32 partition table (default: default)\n"
"  --running LABEL          ESP32 running app partition (default: first app slot)\n"
"  --adopt                  after a successful app update run the new image\n"
"  --fixed-micros N         micros() value used for nonces (reproducible AUTH)\n"
"Output:\n"
"  --out-dir DIR            write received images to DIR/app.bin, DIR/fs.bin\n"
"  --log FILE               JSON lines, one per device decision\n"
"  --ready-file FILE        '<index> <address> <port>' per instance once bound\n"
"  --max-uploads N          exit after N finished upload attempts\n"
"  --lifetime SEC           exit after SEC seconds\n"
"Timing model (defaults: see docs/simulator.md):\n"
"  --fast                   no delays at all\n"
"  --no-firmware-delays     only the sketch's fixed delay()s off (the link model stays)\n"
"  --rtt MS  --loop-latency MS  --bandwidth BYTES_PER_S  --mss N  --window BYTES\n"
"  --erase-ms MS  --program-us US  --block-erase-ms MS  --pbkdf2-ms MS\n"
"  --boot-ms MS  --connect-timeout-ms MS  --verify-ms-per-mb MS (ESP32 end())\n"
"  --airtime BYTES_PER_S     one medium shared by every instance (an access point)\n"
"  --loss P[@DEV]            data segment loss probability (repeatable per device)\n"
"Faults (repeatable): --fault NAME[=VALUE][@DEV][*TIMES]\n"
"  drop-after=N stall-after=N ack-garbage ack-truncate ack-dup no-invite-reply\n"
"  no-connect no-final-ok connect-from=ADDR double-invite-reply drop-udp-reply=N\n"
"  -v, --verbose            log events to stderr too\n"
"  -h, --help\n", f);
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* report a usage error; exit status 2 */
static int die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("espota-sim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n", stderr);
	va_end(ap);
	return 2;
}

/* "4M", "512K", "1048576", "0x100000"; MB-style suffixes are binary */
static int parse_size(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (end == s || errno)
		return -1;
	if (!strcasecmp(end, "K") || !strcasecmp(end, "KB"))
		v *= 1024;
	else if (!strcasecmp(end, "M") || !strcasecmp(end, "MB"))
		v *= 1024 * 1024;
	else if (*end)
		return -1;
	if (v > 0xFFFFFFFFull)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* the sizes of Esp.cpp magicFlashChipSize(): a header can carry no other */
static int header_size_ok(uint32_t v)
{
	static const uint32_t ok[] = {256u << 10, 512u << 10, 1u << 20, 2u << 20, 4u << 20,
				      8u << 20, 16u << 20};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		if (v == ok[i])
			return 1;
	return 0;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static const struct layout *find_layout(const char *name)
{
	for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++)
		if (!strcasecmp(name, layouts[i].name) || !strcasecmp(name, layouts[i].ld))
			return &layouts[i];
	return NULL;
}

enum {
	O_PLATFORM = 256, O_LISTEN, O_PORT, O_COUNT, O_ADDR_BASE, O_PASSWORD, O_PASSWORD_HASH,
	O_PASSWORD_FILE, O_CHIP, O_HEADER, O_LAYOUT, O_PARTITIONS, O_SCHEME, O_SKETCH, O_FLASH_MAP,
	O_ATOMIC, O_SIGNING, O_BOOTSTRAP, O_DECRYPT, O_OUT, O_LOG, O_READY, O_MAX, O_LIFETIME,
	O_FAST, O_NOFWDELAY, O_RTT, O_LOOP, O_BW, O_MSS, O_WINDOW, O_ERASE, O_PROGRAM, O_BLOCK, O_PBKDF2,
	O_BOOT, O_CONNTO, O_FAULT, O_RUNNING, O_ADOPT, O_MICROS, O_NO_DECRYPT, O_CHIP_ID, O_VERIFY, O_AIRTIME,
	O_LOSS,
	O_MDNS, O_HOSTNAME, O_BOARD_ID, O_MDNS_PORT, O_MDNS_LISTEN, O_MDNS_MCAST
};

static const struct option longopts[] = {
	{"platform", 1, 0, O_PLATFORM}, {"listen", 1, 0, O_LISTEN}, {"port", 1, 0, O_PORT},
	{"count", 1, 0, O_COUNT}, {"addr-base", 1, 0, O_ADDR_BASE}, {"password", 1, 0, O_PASSWORD},
	{"password-hash", 1, 0, O_PASSWORD_HASH}, {"password-file", 1, 0, O_PASSWORD_FILE},
	{"chip-size", 1, 0, O_CHIP}, {"header-flash-size", 1, 0, O_HEADER}, {"layout", 1, 0, O_LAYOUT},
	{"partitions", 1, 0, O_PARTITIONS}, {"scheme", 1, 0, O_SCHEME}, {"sketch-size", 1, 0, O_SKETCH},
	{"flash-map", 0, 0, O_FLASH_MAP}, {"atomic-fs", 0, 0, O_ATOMIC}, {"signing", 1, 0, O_SIGNING},
	{"bootstrap", 0, 0, O_BOOTSTRAP}, {"decrypt", 0, 0, O_DECRYPT}, {"out-dir", 1, 0, O_OUT},
	{"log", 1, 0, O_LOG}, {"ready-file", 1, 0, O_READY}, {"max-uploads", 1, 0, O_MAX},
	{"lifetime", 1, 0, O_LIFETIME}, {"fast", 0, 0, O_FAST}, {"no-firmware-delays", 0, 0, O_NOFWDELAY}, {"rtt", 1, 0, O_RTT},
	{"loop-latency", 1, 0, O_LOOP}, {"bandwidth", 1, 0, O_BW}, {"mss", 1, 0, O_MSS},
	{"window", 1, 0, O_WINDOW}, {"erase-ms", 1, 0, O_ERASE}, {"program-us", 1, 0, O_PROGRAM},
	{"block-erase-ms", 1, 0, O_BLOCK}, {"pbkdf2-ms", 1, 0, O_PBKDF2}, {"boot-ms", 1, 0, O_BOOT},
	{"connect-timeout-ms", 1, 0, O_CONNTO}, {"fault", 1, 0, O_FAULT}, {"running", 1, 0, O_RUNNING},
	{"adopt", 0, 0, O_ADOPT}, {"fixed-micros", 1, 0, O_MICROS},
	{"no-decrypt", 0, 0, O_NO_DECRYPT}, {"chip-id", 1, 0, O_CHIP_ID},
	{"verify-ms-per-mb", 1, 0, O_VERIFY}, {"airtime", 1, 0, O_AIRTIME}, {"loss", 1, 0, O_LOSS},
	{"mdns", 0, 0, O_MDNS}, {"hostname", 1, 0, O_HOSTNAME}, {"board-id", 1, 0, O_BOARD_ID},
	{"mdns-port", 1, 0, O_MDNS_PORT}, {"mdns-listen", 1, 0, O_MDNS_LISTEN},
	{"mdns-multicast", 1, 0, O_MDNS_MCAST},
	{"verbose", 0, 0, 'v'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};

struct raw {
	const char *password, *password_hash, *password_file, *layout, *partitions, *scheme;
	const char *running;
	int have_chip, have_mss, have_window, have_bw, have_erase, have_rtt;
	double rtt, loop, bw, mss, window, erase, program, block, pbkdf2, verify;
	int have_loop, have_program, have_block, have_pbkdf2, have_verify;
	int decrypt, no_decrypt, have_chip_id;
};

static int parse_args(int argc, char **argv, struct config *cfg, struct raw *r)
{
	char err[256];
	int c;
	double v;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_PLATFORM:
			if (!strcmp(optarg, "esp8266"))
				cfg->platform = PLAT_ESP8266;
			else if (!strcmp(optarg, "esp32"))
				cfg->platform = PLAT_ESP32;
			else if (!strcmp(optarg, "esp32-legacy"))
				cfg->platform = PLAT_ESP32_LEGACY;
			else
				return die("--platform: expected esp8266, esp32 or esp32-legacy, got '%s'", optarg);
			break;
		case O_LISTEN: snprintf(cfg->listen, sizeof cfg->listen, "%s", optarg); break;
		case O_MDNS: cfg->mdns = 1; break;
		case O_HOSTNAME:
			/* one DNS label, leaving room for "-<instance>" */
			if (!*optarg || strlen(optarg) > 56 || strspn(optarg, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != strlen(optarg))
				return die("--hostname: expected 1..56 letters, digits or '-', got '%s'", optarg);
			snprintf(cfg->mdns_hostname, sizeof cfg->mdns_hostname, "%s", optarg);
			break;
		case O_BOARD_ID:
			if (!*optarg || strlen(optarg) > 60 || strchr(optarg, '='))
				return die("--board-id: expected 1..60 characters without '=', got '%s'", optarg);
			snprintf(cfg->mdns_board, sizeof cfg->mdns_board, "%s", optarg);
			break;
		case O_MDNS_PORT:
			if (parse_num(optarg, 0, 65535, &v)) return die("--mdns-port: bad port '%s'", optarg);
			cfg->mdns_port = (int)v;
			break;
		case O_MDNS_LISTEN: snprintf(cfg->mdns_listen, sizeof cfg->mdns_listen, "%s", optarg); break;
		case O_MDNS_MCAST: snprintf(cfg->mdns_multicast, sizeof cfg->mdns_multicast, "%s", optarg); break;
		case O_PORT:
			if (parse_num(optarg, 0, 65535, &v)) return die("--port: bad port '%s'", optarg);
			cfg->port = (int)v;
			break;
		case O_COUNT:
			if (parse_num(optarg, 1, 10000, &v)) return die("--count: expected 1..10000, got '%s'", optarg);
			cfg->count = (int)v;
			break;
		case O_ADDR_BASE:
			if (inet_pton(AF_INET, optarg, &cfg->addr_base) != 1)
				return die("--addr-base: not an IPv4 address: '%s'", optarg);
			cfg->have_addr_base = 1;
			break;
		case O_PASSWORD: r->password = optarg; break;
		case O_PASSWORD_HASH: r->password_hash = optarg; break;
		case O_PASSWORD_FILE: r->password_file = optarg; break;
		case O_CHIP:
			if (parse_size(optarg, &cfg->chip_size) || !cfg->chip_size)
				return die("--chip-size: bad size '%s'", optarg);
			if (cfg->chip_size & (cfg->chip_size - 1))
				return die("--chip-size: %u bytes is not a power of two (flash chips "
					   "are 256K, 512K, 1M, 2M, 4M, 8M, 16M, ...)", cfg->chip_size);
			r->have_chip = 1;
			break;
		case O_HEADER:
			if (parse_size(optarg, &cfg->header_flash_size))
				return die("--header-flash-size: bad size '%s'", optarg);
			if (!header_size_ok(cfg->header_flash_size))
				return die("--header-flash-size: %u bytes has no size code in an ESP8266 "
					   "image header (256K, 512K, 1M, 2M, 4M, 8M or 16M)",
					   cfg->header_flash_size);
			cfg->header_set = 1;
			break;
		case O_LAYOUT: r->layout = optarg; break;
		case O_PARTITIONS: r->partitions = optarg; break;
		case O_SCHEME: r->scheme = optarg; break;
		case O_RUNNING: r->running = optarg; break;
		case O_SKETCH:
			if (parse_size(optarg, &cfg->sketch_size)) return die("--sketch-size: bad size '%s'", optarg);
			break;
		case O_FLASH_MAP: cfg->flash_map = 1; break;
		case O_ATOMIC: cfg->atomic_fs = 1; break;
		case O_SIGNING:
			if (parse_num(optarg, 1, 65536, &v)) return die("--signing: bad length '%s'", optarg);
			cfg->signing = (long)v;
			break;
		case O_BOOTSTRAP: cfg->bootstrap = 1; break;
		case O_DECRYPT: r->decrypt = 1; break;
		case O_NO_DECRYPT: r->no_decrypt = 1; break;
		case O_CHIP_ID:
			if (parse_num(optarg, 0, 65535, &v) || v != (double)(unsigned)v)
				return die("--chip-id: expected 0..65535, got '%s'", optarg);
			cfg->chip_id = (unsigned)v;
			r->have_chip_id = 1;
			break;
		case O_ADOPT: cfg->adopt = 1; break;
		case O_MICROS:
			if (parse_num(optarg, 0, 4294967295.0, &v)) return die("--fixed-micros: bad value '%s'", optarg);
			cfg->fixed_micros = (long long)v;
			break;
		case O_OUT: cfg->out_dir = optarg; break;
		case O_LOG: cfg->log_path = optarg; break;
		case O_READY: cfg->ready_file = optarg; break;
		case O_MAX:
			if (parse_num(optarg, 1, 1e12, &v)) return die("--max-uploads: bad count '%s'", optarg);
			cfg->max_uploads = (long)v;
			break;
		case O_LIFETIME:
			if (parse_num(optarg, 0.001, 1e9, &v)) return die("--lifetime: bad seconds '%s'", optarg);
			cfg->lifetime = v;
			break;
		case O_FAST: cfg->fast = 1; break;
		case O_NOFWDELAY: cfg->no_fw_delays = 1; break;
		case O_RTT: if (parse_num(optarg, 0, 60000, &r->rtt)) return die("--rtt: bad value '%s'", optarg); r->have_rtt = 1; break;
		case O_LOOP: if (parse_num(optarg, 0, 60000, &r->loop)) return die("--loop-latency: bad value '%s'", optarg); r->have_loop = 1; break;
		case O_BW: if (parse_num(optarg, 0, 1e12, &r->bw)) return die("--bandwidth: bad value '%s'", optarg); r->have_bw = 1; break;
		case O_MSS: if (parse_num(optarg, 64, 65535, &r->mss)) return die("--mss: bad value '%s'", optarg); r->have_mss = 1; break;
		case O_WINDOW: if (parse_num(optarg, 64, 1e9, &r->window)) return die("--window: bad value '%s'", optarg); r->have_window = 1; break;
		case O_ERASE: if (parse_num(optarg, 0, 60000, &r->erase)) return die("--erase-ms: bad value '%s'", optarg); r->have_erase = 1; break;
		case O_PROGRAM: if (parse_num(optarg, 0, 1e7, &r->program)) return die("--program-us: bad value '%s'", optarg); r->have_program = 1; break;
		case O_BLOCK: if (parse_num(optarg, 0, 60000, &r->block)) return die("--block-erase-ms: bad value '%s'", optarg); r->have_block = 1; break;
		case O_PBKDF2: if (parse_num(optarg, 0, 60000, &r->pbkdf2)) return die("--pbkdf2-ms: bad value '%s'", optarg); r->have_pbkdf2 = 1; break;
		case O_BOOT: if (parse_num(optarg, 0, 600000, &cfg->boot_ms)) return die("--boot-ms: bad value '%s'", optarg); break;
		case O_AIRTIME: if (parse_num(optarg, 0, 1e10, &cfg->airtime)) return die("--airtime: bad value '%s'", optarg); break;
		case O_LOSS: {
			char buf[64], *at;
			double p;
			snprintf(buf, sizeof buf, "%s", optarg);
			at = strchr(buf, '@');
			if (at)
				*at++ = '\0';
			if (parse_num(buf, 0, 0.5, &p))
				return die("--loss: bad probability '%s' (0 to 0.5)", optarg);
			if (!at) {
				cfg->loss = p;
			} else {
				double dv;
				if (parse_num(at, 0, 1e6, &dv) || cfg->nloss_dev == 32)
					return die("--loss: bad device '%s'", optarg);
				cfg->loss_dev[cfg->nloss_dev].dev = (int)dv;
				cfg->loss_dev[cfg->nloss_dev].p = p;
				cfg->nloss_dev++;
			}
			break;
		}
		case O_VERIFY: if (parse_num(optarg, 0, 100000, &r->verify)) return die("--verify-ms-per-mb: bad value '%s'", optarg); r->have_verify = 1; break;
		case O_CONNTO: if (parse_num(optarg, 1, 600000, &cfg->connect_timeout_ms)) return die("--connect-timeout-ms: bad value '%s'", optarg); break;
		case O_FAULT:
			if (fault_parse(cfg, optarg, err, sizeof err))
				return die("%s", err);
			break;
		case 'v': cfg->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		return die("unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Platform defaults. Each figure's source is given in docs/simulator.md. */
static int finish_config(struct config *cfg, struct raw *r)
{
	char err[256];
	int esp32 = IS_ESP32(cfg->platform);
	if (cfg->port < 0)
		cfg->port = esp32 ? 3232 : 8266;
	cfg->rtt_ms = r->have_rtt ? r->rtt : 10.0;
	cfg->loop_ms = r->have_loop ? r->loop : 1.0;
	cfg->bandwidth = r->have_bw ? r->bw : (esp32 ? 2500000.0 : 1000000.0);
	cfg->mss = r->have_mss ? (int)r->mss : (esp32 ? 1440 : 536);
	cfg->window = r->have_window ? (int)r->window : 4 * cfg->mss;
	cfg->erase_ms = r->have_erase ? r->erase : 45.0;
	cfg->program_us = r->have_program ? r->program : 700.0;
	cfg->block_erase_ms = r->have_block ? r->block : 150.0;
	cfg->pbkdf2_ms = r->have_pbkdf2 ? r->pbkdf2 : 300.0;
	cfg->verify_ms_per_mb = r->have_verify ? r->verify : 50.0;
	if (cfg->connect_timeout_ms <= 0)
		cfg->connect_timeout_ms = esp32 ? 3000 : 5000;

	int npw = !!r->password + !!r->password_hash + !!r->password_file;
	if (npw > 1)
		return die("%s", "use only one of --password, --password-hash, --password-file");
	char pw[1024] = "";
	if (r->password_file) {
		FILE *f = fopen(r->password_file, "r");
		if (!f)
			return die("--password-file: cannot open '%s'", r->password_file);
		if (!fgets(pw, sizeof pw, f))
			pw[0] = '\0';
		fclose(f);
		pw[strcspn(pw, "\r\n")] = '\0';
	} else if (r->password) {
		snprintf(pw, sizeof pw, "%s", r->password);
	}
	if (pw[0]) {
		if (cfg->platform == PLAT_ESP32)
			sha256_hex(pw, strlen(pw), cfg->stored_pw);
		else
			md5_hex(pw, strlen(pw), cfg->stored_pw);
	} else if (r->password_hash) {
		if (strlen(r->password_hash) > 64)
			return die("--password-hash: longer than 64 characters: '%s'", r->password_hash);
		snprintf(cfg->stored_pw, sizeof cfg->stored_pw, "%s", r->password_hash);
	}

	if (!esp32) {
		if (r->partitions || r->scheme || r->running)
			return die("%s", "--partitions/--scheme/--running are for --platform esp32*");
		if (r->decrypt || r->no_decrypt || r->have_chip_id)
			return die("%s", "--decrypt/--no-decrypt/--chip-id are for --platform esp32*");
		if (r->have_chip && cfg->chip_size < (256u << 10))
			return die("--chip-size: %u bytes is smaller than any ESP8266 flash (256K)",
				   cfg->chip_size);
		if (r->have_chip && cfg->chip_size > (16u << 20))
			return die("--chip-size: %u bytes is more than an ESP8266 can address (16M)",
				   cfg->chip_size);
		const struct layout *l = find_layout(r->layout ? r->layout : "4M2M");
		if (!l)
			return die("--layout: unknown layout '%s' (see layouts in docs/simulator.md)", r->layout);
		cfg->layout_name = l->name;
		cfg->layout_flash = l->flash;
		cfg->fs_start = l->fs_start;
		cfg->fs_end = l->fs_end;
		if (!r->have_chip)
			cfg->chip_size = l->flash;
	} else {
		if (r->layout || cfg->flash_map || cfg->atomic_fs || cfg->bootstrap || cfg->signing ||
		    cfg->header_set)
			return die("%s", "--layout/--flash-map/--atomic-fs/--bootstrap/--signing/"
				   "--header-flash-size are for --platform esp8266");
		if (r->decrypt && r->no_decrypt)
			return die("%s", "use only one of --decrypt and --no-decrypt");
		cfg->no_decrypt = r->no_decrypt;
		if (r->have_chip && cfg->chip_size < (256u << 10))
			return die("--chip-size: %u bytes is smaller than any ESP32 flash (256K)",
				   cfg->chip_size);
		if (!r->have_chip)
			cfg->chip_size = 0;
		if (r->partitions && r->scheme)
			return die("%s", "use only one of --partitions and --scheme");
		if (r->partitions) {
			if (partitions_load_csv(cfg, r->partitions, err, sizeof err))
				return die("--partitions: %s", err);
			if (!cfg->chip_size)
				cfg->chip_size = 4u << 20;
		} else if (partitions_builtin(cfg, r->scheme ? r->scheme : "default")) {
			return die("--scheme: unknown scheme '%s'", r->scheme);
		}
		cfg->running = -1;
		for (int i = 0; i < cfg->nparts; i++) {
			if (cfg->parts[i].type != 0)
				continue;
			if (r->running ? !strcmp(cfg->parts[i].name, r->running) : cfg->running < 0)
				cfg->running = i;
		}
		if (r->running && cfg->running < 0)
			return die("--running: no app partition named '%s'", r->running);
		if (cfg->running < 0)
			return die("%s", "the partition table has no app partition");
	}
	if (!cfg->header_set)
		cfg->header_flash_size = cfg->chip_size;
	return 0;
}

static int write_ready(const struct sim *s)
{
	const char *path = s->cfg.ready_file;
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	for (int i = 0; i < s->ndev; i++)
		fprintf(f, "%d %s %d\n", i, s->devs[i].addr_str, s->devs[i].port);
	if (s->cfg.mdns) /* after the instances: older readers stop before it */
		fprintf(f, "-1 mdns %d\n", s->mdns_bound_port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static int setup_devices(struct sim *s)
{
	const struct config *cfg = &s->cfg;
	s->ndev = cfg->count;
	s->devs = calloc((size_t)s->ndev, sizeof *s->devs);
	if (!s->devs)
		return die("%s", "out of memory");
	for (int i = 0; i < s->ndev; i++)
		s->devs[i].udp_fd = -1;
	for (int i = 0; i < s->ndev; i++) {
		struct device *d = &s->devs[i];
		d->sim = s;
		d->index = i;
		int port = cfg->port;
		if (port != 0 && !cfg->have_addr_base)
			port += i;
		if (port == 0 && cfg->have_addr_base && i > 0)
			port = s->devs[0].port; /* --addr-base: one port for all */
		if (port > 65535)
			return die("%s", "--port + --count exceeds 65535");
		memset(&d->local, 0, sizeof d->local);
		if (cfg->have_addr_base) {
			struct sockaddr_in *a = (struct sockaddr_in *)&d->local;
			a->sin_family = AF_INET;
			a->sin_addr.s_addr = htonl(ntohl(cfg->addr_base.s_addr) + (uint32_t)i);
			a->sin_port = htons((uint16_t)port);
			d->locallen = sizeof *a;
			inet_ntop(AF_INET, &a->sin_addr, d->addr_str, sizeof d->addr_str);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&d->local;
			struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&d->local;
			if (inet_pton(AF_INET, cfg->listen, &a->sin_addr) == 1) {
				a->sin_family = AF_INET;
				a->sin_port = htons((uint16_t)port);
				d->locallen = sizeof *a;
			} else if (inet_pton(AF_INET6, cfg->listen, &a6->sin6_addr) == 1) {
				a6->sin6_family = AF_INET6;
				a6->sin6_port = htons((uint16_t)port);
				d->locallen = sizeof *a6;
			} else {
				return die("--listen: not an IP address: '%s'", cfg->listen);
			}
			snprintf(d->addr_str, sizeof d->addr_str, "%s", cfg->listen);
		}
		if (device_open(d)) {
			char msg[200];
			snprintf(msg, sizeof msg, "cannot bind udp %s:%d: %s", d->addr_str, port, strerror(errno));
			fprintf(stderr, "espota-sim: %s\n", msg);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct sim sim; /* the one event-loop context; zeroed */
	struct config *cfg = &sim.cfg;
	struct raw raw;
	memset(&raw, 0, sizeof raw);
	cfg->platform = PLAT_ESP8266;
	snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1");
	cfg->port = -1;
	cfg->count = 1;
	cfg->sketch_size = 300000;
	cfg->fixed_micros = -1;
	cfg->mdns_port = 5353;
	snprintf(cfg->mdns_listen, sizeof cfg->mdns_listen, "127.0.0.1");

	int rc = parse_args(argc, argv, cfg, &raw);
	if (rc)
		return rc;
	rc = finish_config(cfg, &raw);
	if (rc)
		return rc;

	sim.t0 = now_us();
	if (cfg->log_path) {
		sim.log = fopen(cfg->log_path, "a");
		if (!sim.log)
			return die("--log: cannot open '%s'", cfg->log_path);
	}
	rc = setup_devices(&sim);
	if (rc)
		goto out;

	if (mdns_open(&sim) != 0) {
		rc = die("--mdns: cannot open the responder on %s port %d: %s",
			 cfg->mdns_multicast[0] ? cfg->mdns_multicast : cfg->mdns_listen, cfg->mdns_port,
			 strerror(errno));
		goto out;
	}
	if (cfg->mdns)
		printf("espota-sim: mdns responder on udp %s:%d (%s)\n",
		       cfg->mdns_multicast[0] ? "0.0.0.0" : cfg->mdns_listen, sim.mdns_bound_port,
		       cfg->mdns_multicast[0] ? "multicast" : "loopback unicast");
	static const char *const pname[] = {"esp8266", "esp32", "esp32-legacy"};
	for (int i = 0; i < sim.ndev; i++) {
		struct device *d = &sim.devs[i];
		char where[160];
		if (IS_ESP32(cfg->platform))
			snprintf(where, sizeof where, "partitions %s, chip %u", cfg->scheme_name, cfg->chip_size);
		else
			snprintf(where, sizeof where, "layout %s, chip %u, header %u, sketch %u",
				 cfg->layout_name, cfg->chip_size, cfg->header_flash_size, cfg->sketch_size);
		printf("espota-sim: %s device %d listening on udp %s%s%s:%d (%s, auth %s%s)\n",
		       pname[cfg->platform], i, d->local.ss_family == AF_INET6 ? "[" : "", d->addr_str,
		       d->local.ss_family == AF_INET6 ? "]" : "", d->port, where,
		       cfg->stored_pw[0] ? "on" : "off", cfg->fast ? ", fast" : "");
		jlog(d, "start", (struct jlog_field[]){JS("platform", pname[cfg->platform]),
			JS("address", d->addr_str), JI("port", d->port), JB("auth", cfg->stored_pw[0] != 0),
			JB("fast", cfg->fast), JEND});
	}
	fflush(stdout);
	if (cfg->ready_file && write_ready(&sim)) {
		rc = die("--ready-file: cannot write '%s'", cfg->ready_file);
		goto out;
	}
	rc = sim_run(&sim);
out:
	mdns_close();
	for (int i = 0; i < sim.ndev; i++)
		device_close(&sim.devs[i]);
	free(sim.devs);
	free(sim.heap);
	if (sim.log)
		fclose(sim.log);
	return rc;
}
