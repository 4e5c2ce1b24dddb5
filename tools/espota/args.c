/*
 * espota CLI - command-line parsing (argparse-compatible forms).
 */
#include "args.h"

#include <espota.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The device facts of the fit check: in the tool's help and in check's. */
#define FIT_OPTIONS_HELP \
	"      --board NAME        IDE or PlatformIO board id or mDNS board value\n" \
	"                          (d1_mini, esp12e, esp32dev, ...: espota boards);\n" \
	"                          auto: the board the device advertises over mDNS\n" \
	"      --layout NAME       ESP8266 flash layout of the running firmware (1M64, 4M2M, ...)\n" \
	"      --scheme NAME       ESP32 built-in partition scheme (default, min_spiffs, ...)\n" \
	"      --partitions CSV    ESP32 partition table (gen_esp32part.py CSV)\n" \
	"      --chip-size SIZE    real flash chip size (e.g. 1M, 4M)\n" \
	"      --device-header-size SIZE  flash size in the header of the running firmware\n" \
	"      --running-size SIZE size of the running sketch\n" \
	"      --flash-map         running firmware built with FLASH_MAP_SUPPORT\n"

const char cli_usage_text[] =
"usage: espota -i HOST -f FILE [options]\n"
"       espota check FILE [--board B | --layout L] [-s] [fit options]\n"
"       espota discover [--timeout S] [--json] [--interface IF]   (mDNS; --help)\n"
"\n"
"Upload a firmware or filesystem image to an ESP8266/ESP32 running ArduinoOTA.\n"
"Drop-in compatible with espota.py of the esp8266 and esp32 Arduino cores.\n"
"\n"
"Destination (espota.py):\n"
"  -i, --ip HOST           device address; repeat for several devices\n"
"  -I, --host_ip ADDR      local address to listen on and send from (default: any)\n"
"  -p, --port PORT         device OTA port (default 8266; 3232 for ESP32, see below)\n"
"  -P, --host_port PORT    local TCP port the device connects back to (default: any\n"
"                          free port; set it to open exactly one port in a firewall)\n"
"      --hosts FILE        devices, one per line: host[:port] [PASSWORD_ENV_VAR]\n"
"      --platform P        esp8266 or esp32 (default: from --board or the image)\n"
"      --parallel N        devices uploaded at once (default 16; one thread for all)\n"
"      --retries N         per device: retry N times after a timeout, I/O error or\n"
"                          lost connection (default 0)\n"
"      --device-timeout SEC  per device: give up after SEC seconds, retries included\n"
"      --min-rate B        give up when the data phase takes longer than 60 s plus\n"
"                          1 s per B bytes (default 1000; 0: no such bound)\n"
"\n"
"Authentication:\n"
"  -a, --auth PASSWORD     password (visible to other users in ps; prefer below)\n"
"      --auth-env VAR      read the password from environment variable VAR\n"
"      --auth-file FILE    read the password from the first line of FILE\n"
"                          (default: $ESPOTA_PASSWORD, then a prompt on a terminal)\n"
"      --no-prompt         never prompt for a password\n"
"  -m, --md5-target        ESP32 >= 3.3.1: use the MD5 password hash only\n"
"      --sha256-only       ESP32 >= 3.3.1: no MD5 fallback\n"
"\n"
"Image (espota.py):\n"
"  -f, --file FILE         image to upload\n"
"  -s, --spiffs            filesystem image (SPIFFS/LittleFS), not firmware\n"
"      --compress          gzip the image before sending (ESP8266, core >= 2.7)\n"
"      --force             send even when the preflight check refuses the image\n"
"      --strict            refuse when the check rests on an assumption (CI)\n"
"\n"
"Preflight fit check (refuses an image the facts say the device would reject;\n"
"what rests on an assumption is a warning):\n"
FIT_OPTIONS_HELP
"      --list-boards       list known boards and layouts (espota boards)\n"
"\n"
"Transfer:\n"
"  -t, --timeout SEC       wait per invitation attempt (espota.py -t)\n"
"      --attempts N        invitation attempts (default 5)\n"
"      --stop-and-wait     one chunk per acknowledgement, like espota.py\n"
"      --stream            pipelined, but never paced to the device's flash blocks\n"
"      --window BYTES      unacknowledged bytes in flight (default 65536)\n"
"      --chunk BYTES       bytes per write (default 1460)\n"
"      --wait-back SEC     after OK, wait until the device answers again (one device)\n"
"\n"
"Output:\n"
"  -d, --debug             library debug log on stderr\n"
"  -r, --progress          espota.py-style progress bar\n"
"      --json              one JSON event per line on stdout\n"
"  -q, --quiet             errors only\n"
"  -h, --help              this help\n"
"  -V, --version           version\n"
"\n"
"Exit status:\n"
"  0 success (the device confirmed it)   1 upload failed (other)\n"
"  2 usage error                         3 authentication failed\n"
"  4 timeout / no answer                 5 device refused (Updater error)\n"
"  6 bad image or preflight refused      7 connection closed without result\n"
"  8 host name not resolved              130 interrupted\n"
"\n"
"The default device port is 3232 when the platform is ESP32 (--platform esp32,\n"
"an ESP32 --board, -m, or an ESP32 application image), 8266 otherwise.\n"
"\n"
"Subcommands (espota SUBCOMMAND --help for one of them):\n"
"  check                   fit report only; sends nothing\n";

static const char check_help_text[] =
"usage: espota check FILE [--board B | --layout L] [-s] [fit options] [--json]\n"
"\n"
"Print the flash-fit report for FILE: the image facts, the assumptions made,\n"
"the verdict and the advice. Nothing is sent to any device.\n"
"\n"
"Options:\n"
"  -s, --spiffs            FILE is a filesystem image (SPIFFS/LittleFS)\n"
"      --platform P        esp8266 or esp32 (default: from --board or the image)\n"
FIT_OPTIONS_HELP
"      --compress          the upload would gzip the image (ESP8266)\n"
"      --json              one `check` JSON event on stdout instead of the report\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0 the image fits (or too few facts to decide), 6 the device\n"
"would refuse it or the image is unreadable, 2 usage error.\n";

/* Help per subcommand; a new subcommand adds its row. */
static const struct {
	const char *name;
	const char *text;
} sub_help[] = {
	{ "check", check_help_text },
};

const char *cli_help_text(const struct cli *c)
{
	size_t i;

	if (c != NULL && c->subcommand != NULL)
		for (i = 0; i < sizeof(sub_help) / sizeof(sub_help[0]); i++)
			if (strcmp(c->subcommand, sub_help[i].name) == 0)
				return sub_help[i].text;
	return cli_usage_text;
}

enum opt_id {
	O_IP, O_HOST_IP, O_PORT, O_HOST_PORT, O_HOSTS, O_PLATFORM, O_PARALLEL, O_RETRIES, O_DEVTIMEOUT, O_MINRATE,
	O_AUTH, O_AUTH_ENV, O_AUTH_FILE, O_NO_PROMPT, O_MD5, O_SHA256,
	O_FILE, O_SPIFFS, O_COMPRESS, O_FORCE, O_STRICT,
	O_BOARD, O_LAYOUT, O_SCHEME, O_PARTITIONS, O_CHIP, O_DEVHDR, O_RUNNING, O_FLASHMAP, O_LIST,
	O_TIMEOUT, O_ATTEMPTS, O_SAW, O_STREAM, O_WINDOW, O_CHUNK, O_WAIT_BACK,
	O_DEBUG, O_PROGRESS, O_JSON, O_QUIET, O_HELP, O_VERSION
};

struct opt {
	const char *lng;  /* without "--" */
	char shrt;        /* 0 = none */
	int has_arg;
	enum opt_id id;
};

static const struct opt opts[] = {
	{ "ip", 'i', 1, O_IP },
	{ "host_ip", 'I', 1, O_HOST_IP },
	{ "host-ip", 0, 1, O_HOST_IP },
	{ "port", 'p', 1, O_PORT },
	{ "host_port", 'P', 1, O_HOST_PORT },
	{ "host-port", 0, 1, O_HOST_PORT },
	{ "hosts", 0, 1, O_HOSTS },
	{ "platform", 0, 1, O_PLATFORM },
	{ "parallel", 0, 1, O_PARALLEL },
	{ "retries", 0, 1, O_RETRIES },
	{ "device-timeout", 0, 1, O_DEVTIMEOUT },
	{ "min-rate", 0, 1, O_MINRATE },
	{ "auth", 'a', 1, O_AUTH },
	{ "auth-env", 0, 1, O_AUTH_ENV },
	{ "auth-file", 0, 1, O_AUTH_FILE },
	{ "no-prompt", 0, 0, O_NO_PROMPT },
	{ "md5-target", 'm', 0, O_MD5 },
	{ "sha256-only", 0, 0, O_SHA256 },
	{ "file", 'f', 1, O_FILE },
	{ "spiffs", 's', 0, O_SPIFFS },
	{ "compress", 0, 0, O_COMPRESS },
	{ "force", 0, 0, O_FORCE },
	{ "strict", 0, 0, O_STRICT },
	{ "board", 0, 1, O_BOARD },
	{ "layout", 0, 1, O_LAYOUT },
	{ "scheme", 0, 1, O_SCHEME },
	{ "partitions", 0, 1, O_PARTITIONS },
	{ "chip-size", 0, 1, O_CHIP },
	{ "device-header-size", 0, 1, O_DEVHDR },
	{ "running-size", 0, 1, O_RUNNING },
	{ "flash-map", 0, 0, O_FLASHMAP },
	{ "list-boards", 0, 0, O_LIST },
	{ "timeout", 't', 1, O_TIMEOUT },
	{ "attempts", 0, 1, O_ATTEMPTS },
	{ "stop-and-wait", 0, 0, O_SAW },
	{ "stream", 0, 0, O_STREAM },
	{ "window", 0, 1, O_WINDOW },
	{ "chunk", 0, 1, O_CHUNK },
	{ "wait-back", 0, 1, O_WAIT_BACK },
	{ "debug", 'd', 0, O_DEBUG },
	{ "progress", 'r', 0, O_PROGRESS },
	{ "json", 0, 0, O_JSON },
	{ "quiet", 'q', 0, O_QUIET },
	{ "help", 'h', 0, O_HELP },
	{ "version", 'V', 0, O_VERSION },
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

int cli_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void cli_defaults(struct cli *out)
{
	memset(out, 0, sizeof(*out));
	out->mode = CLI_MODE_UPLOAD;
	out->port = -1;
	out->host_port = 0;
	out->parallel = 16;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	/* The library's rule (device.h), shared with the bindings. */
	return espota_size_parse(s, out) == ESPOTA_OK ? 0 : -1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The long options of the stock espota.py (both cores). */
static int is_stock(const char *lng)
{
	static const char *const stock[] = { "ip", "host_ip", "port", "host_port", "auth", "file",
		"spiffs", "debug", "progress", "timeout", "md5-target" };
	size_t i;

	for (i = 0; i < sizeof(stock) / sizeof(stock[0]); i++)
		if (strcmp(lng, stock[i]) == 0)
			return 1;
	return 0;
}

/* Find a long option by exact name or unique prefix (argparse allow_abbrev). */
static const struct opt *find_long(const char *name, size_t len, char *err, size_t errlen)
{
	const struct opt *hit = NULL;
	size_t i;
	int ambiguous = 0;

	if (len == 0) {
		cli_fail(err, errlen, "unrecognized option: --");
		return NULL;
	}
	for (i = 0; i < NOPTS; i++) {
		if (strncmp(opts[i].lng, name, len) != 0)
			continue;
		if (opts[i].lng[len] == '\0')
			return &opts[i];
		if (hit != NULL && hit->id != opts[i].id)
			ambiguous = 1;
		if (hit == NULL)
			hit = &opts[i];
	}
	if (ambiguous) {
		/* espota.py (argparse) knows fewer options, so a prefix that is
		 * unique among its own (--au, --s, --d, --f) means that one. */
		const struct opt *stock = NULL;
		int nstock = 0;
		for (i = 0; i < NOPTS; i++)
			if (is_stock(opts[i].lng) && strncmp(opts[i].lng, name, len) == 0) {
				stock = &opts[i];
				nstock++;
			}
		if (nstock == 1)
			return stock;
		cli_fail(err, errlen, "ambiguous option: --%.*s", (int)len, name);
		return NULL;
	}
	if (hit == NULL)
		cli_fail(err, errlen, "unrecognized option: --%.*s", (int)len, name);
	return hit;
}

static const struct opt *find_short(char c)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].shrt == c)
			return &opts[i];
	return NULL;
}

static int apply(struct cli *c, const struct opt *o, const char *val, char *err, size_t errlen)
{
	long n;
	uint64_t sz;
	char name[32];

	if (o->shrt != 0 && o->lng[0] == '\0')
		snprintf(name, sizeof(name), "-%c", o->shrt);
	else
		snprintf(name, sizeof(name), "--%s", o->lng);

	switch (o->id) {
	case O_IP:
		if (*val == '\0')
			return cli_fail(err, errlen, "%s: empty host", name);
		if (c->nhosts >= CLI_MAX_HOSTS)
			return cli_fail(err, errlen, "too many -i options (at most %d; use --hosts FILE)", CLI_MAX_HOSTS);
		c->hosts[c->nhosts++] = val;
		break;
	case O_HOST_IP:
		/* The esp8266 Arduino IDE pattern passes `-I path/espota.py` to
		 * python (its isolated-mode flag): ignore a script path here. */
		if (ends_with(val, ".py")) {
			c->ignored_script = 1;
			break;
		}
		c->host_ip = (*val == '\0' || strcmp(val, "0.0.0.0") == 0) ? NULL : val;
		break;
	case O_PORT:
		if (parse_long(val, 1, 65535, &n) < 0)
			return cli_fail(err, errlen, "%s: invalid port '%s' (1-65535)", name, val);
		c->port = n;
		break;
	case O_HOST_PORT:
		if (parse_long(val, 0, 65535, &n) < 0)
			return cli_fail(err, errlen, "%s: invalid port '%s' (0-65535)", name, val);
		c->host_port = n;
		break;
	case O_HOSTS: c->hosts_file = val; break;
	case O_PLATFORM:
		if (strcmp(val, "esp8266") == 0)
			c->platform = CLI_PLATFORM_ESP8266;
		else if (strcmp(val, "esp32") == 0)
			c->platform = CLI_PLATFORM_ESP32;
		else if (strcmp(val, "auto") == 0)
			c->platform = CLI_PLATFORM_AUTO;
		else
			return cli_fail(err, errlen, "%s: expected esp8266, esp32 or auto, not '%s'", name, val);
		break;
	case O_PARALLEL:
		if (parse_long(val, 1, 256, &n) < 0)
			return cli_fail(err, errlen, "%s: invalid count '%s' (1-256)", name, val);
		c->parallel = n;
		break;
	case O_RETRIES:
		if (parse_long(val, 0, 100, &n) < 0)
			return cli_fail(err, errlen, "%s: invalid count '%s' (0-100)", name, val);
		c->retries = n;
		break;
	case O_DEVTIMEOUT:
		if (parse_long(val, 1, 86400, &n) < 0)
			return cli_fail(err, errlen, "%s: invalid seconds '%s' (1-86400)", name, val);
		c->device_timeout_s = n;
		break;
	case O_MINRATE:
		if (parse_long(val, 0, 100000000, &n) < 0)
			return cli_fail(err, errlen, "%s: invalid rate '%s' (bytes per second, "
				"0-100000000; 0: no bound)", name, val);
		c->min_rate = n;
		c->min_rate_set = 1;
		break;
	case O_AUTH: c->auth = val; break;
	case O_AUTH_ENV:
		if (*val == '\0')
			return cli_fail(err, errlen, "%s: empty variable name", name);
		c->auth_env = val;
		break;
	case O_AUTH_FILE: c->auth_file = val; break;
	case O_NO_PROMPT: c->no_prompt = 1; break;
	case O_MD5: c->md5_target = 1; break;
	case O_SHA256: c->sha256_only = 1; break;
	case O_FILE: c->file = val; break;
	case O_SPIFFS: c->spiffs = 1; break;
	case O_COMPRESS: c->compress = 1; break;
	case O_FORCE: c->force = 1; break;
	case O_STRICT: c->strict = 1; break;
	case O_BOARD: c->board = val; break;
	case O_LAYOUT: c->layout = val; break;
	case O_SCHEME: c->scheme = val; break;
	case O_PARTITIONS: c->partitions = val; break;
	case O_CHIP:
	case O_DEVHDR:
	case O_RUNNING:
		if (cli_parse_size(val, &sz) < 0 || sz == 0 || sz > (uint64_t)1 << 32)
			return cli_fail(err, errlen, "%s: invalid size '%s' (bytes, or with K/M suffix)", name, val);
		if (o->id == O_CHIP)
			c->chip_size = sz;
		else if (o->id == O_DEVHDR)
			c->device_header_size = sz;
		else
			c->running_size = sz;
		break;
	case O_FLASHMAP: c->flash_map = 1; break;
	case O_LIST: c->mode = CLI_MODE_LIST; break;
	case O_TIMEOUT:
		if (parse_long(val, 1, 3600, &n) < 0)
			return cli_fail(err, errlen, "%s: invalid seconds '%s' (1-3600)", name, val);
		c->timeout_s = n;
		break;
	case O_ATTEMPTS:
		if (parse_long(val, 1, 100, &n) < 0)
			return cli_fail(err, errlen, "%s: invalid count '%s' (1-100)", name, val);
		c->attempts = n;
		break;
	case O_WAIT_BACK:
		if (parse_long(val, 1, 3600, &n) < 0)
			return cli_fail(err, errlen, "%s: invalid seconds '%s' (1-3600)", name, val);
		c->wait_back_s = n;
		break;
	case O_SAW: c->stop_and_wait = 1; break;
	case O_STREAM: c->stream = 1; break;
	case O_WINDOW:
	case O_CHUNK:
		if (cli_parse_size(val, &sz) < 0 || sz == 0 || sz > 16 * 1024 * 1024)
			return cli_fail(err, errlen, "%s: invalid byte count '%s'", name, val);
		if (o->id == O_WINDOW)
			c->window = (uint32_t)sz;
		else
			c->chunk = (uint32_t)sz;
		break;
	case O_DEBUG: c->debug = 1; break;
	case O_PROGRESS: c->progress = 1; break;
	case O_JSON: c->json = 1; break;
	case O_QUIET: c->quiet = 1; break;
	case O_HELP: c->mode = CLI_MODE_HELP; break;
	case O_VERSION: c->mode = CLI_MODE_VERSION; break;
	}
	return 0;
}

static int operand(struct cli *c, const char *arg, int *first, char *err, size_t errlen)
{
	if (*first && strcmp(arg, "check") == 0) {
		*first = 0;
		c->subcommand = "check";
		if (c->mode == CLI_MODE_UPLOAD)
			c->mode = CLI_MODE_CHECK;
		return 0;
	}
	*first = 0;
	if (ends_with(arg, "espota.py")) {
		/* espota.py on the command line of an IDE pattern. */
		c->ignored_script = 1;
		return 0;
	}
	if (c->mode == CLI_MODE_CHECK && c->file == NULL) {
		c->file = arg;
		return 0;
	}
	return cli_fail(err, errlen, "unexpected argument: '%s'", arg);
}

int cli_parse(struct cli *c, int argc, char **argv, char *err, size_t errlen)
{
	int i, first = 1, only_operands = 0;

	if (c == NULL)
		return -1;
	cli_defaults(c);
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (argv == NULL || argc < 1)
		return 0;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (arg == NULL)
			break;
		if (only_operands || arg[0] != '-' || arg[1] == '\0') {
			if (operand(c, arg, &first, err, errlen) < 0)
				return -1;
			continue;
		}
		first = 0;
		if (arg[1] == '-') {
			const char *name = arg + 2, *eq;
			const struct opt *o;
			size_t len;

			if (*name == '\0') {
				only_operands = 1;
				continue;
			}
			eq = strchr(name, '=');
			len = eq != NULL ? (size_t)(eq - name) : strlen(name);
			o = find_long(name, len, err, errlen);
			if (o == NULL)
				return -1;
			if (o->has_arg) {
				const char *val;

				if (eq != NULL) {
					val = eq + 1;
				} else if (i + 1 < argc && argv[i + 1] != NULL) {
					val = argv[++i];
				} else {
					return cli_fail(err, errlen, "--%s: expected one argument", o->lng);
				}
				if (apply(c, o, val, err, errlen) < 0)
					return -1;
			} else {
				if (eq != NULL)
					return cli_fail(err, errlen, "--%s: ignored explicit argument '%s'", o->lng, eq + 1);
				if (apply(c, o, NULL, err, errlen) < 0)
					return -1;
			}
			continue;
		}
		/* Short options: a cluster of flags, the last of which may take
		 * the rest of the word (or the next word) as its value. */
		{
			const char *p = arg + 1;

			while (*p != '\0') {
				const struct opt *o = find_short(*p);

				if (o == NULL)
					return cli_fail(err, errlen, "unrecognized option: -%c", *p);
				p++;
				if (!o->has_arg) {
					if (apply(c, o, NULL, err, errlen) < 0)
						return -1;
					if (*p == '=')
						return cli_fail(err, errlen, "-%c: ignored explicit argument '%s'", o->shrt, p + 1);
					continue;
				}
				if (*p == '=')
					p++;
				if (*p == '\0') {
					if (i + 1 >= argc || argv[i + 1] == NULL)
						return cli_fail(err, errlen, "-%c/--%s: expected one argument", o->shrt, o->lng);
					p = argv[++i];
				}
				if (apply(c, o, p, err, errlen) < 0)
					return -1;
				break;
			}
		}
	}

	if (c->mode == CLI_MODE_HELP || c->mode == CLI_MODE_VERSION || c->mode == CLI_MODE_LIST)
		return 0;
	if (c->md5_target && c->sha256_only)
		return cli_fail(err, errlen, "-m/--md5-target and --sha256-only exclude each other");
	if (c->board != NULL && c->layout != NULL)
		return cli_fail(err, errlen, "give --board or --layout, not both");
	if (c->scheme != NULL && c->partitions != NULL)
		return cli_fail(err, errlen, "give --scheme or --partitions, not both");
	if (c->mode == CLI_MODE_CHECK) {
		if (c->file == NULL)
			return cli_fail(err, errlen, "check: no image file given (espota check FILE)");
		return 0;
	}
	if (c->nhosts == 0 && c->hosts_file == NULL)
		return cli_fail(err, errlen, "no device given (-i HOST or --hosts FILE)");
	if (c->file == NULL)
		return cli_fail(err, errlen, "no image given (-f FILE)");
	return 0;
}
