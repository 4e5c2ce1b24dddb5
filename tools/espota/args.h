/*
 * espota CLI - command-line parsing.
 *
 * cli_parse() is pure: no I/O, no allocation, no global state. The parsed
 * structure points into argv, so argv must outlive it. A fuzzer can call it
 * with any argv.
 */
#ifndef ESPOTA_CLI_ARGS_H
#define ESPOTA_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes (documented in docs/cli.md and --help). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,     /* upload failed for another reason (espota.py's only code) */
	CLI_EXIT_USAGE = 2,      /* bad command line */
	CLI_EXIT_AUTH = 3,       /* authentication failed or no password */
	CLI_EXIT_TIMEOUT = 4,    /* no answer: invitation, auth, connect-back, stall or result */
	CLI_EXIT_REFUSED = 5,    /* the device reported an Updater error */
	CLI_EXIT_IMAGE = 6,      /* unreadable or malformed image, or the preflight refused it */
	CLI_EXIT_CLOSED = 7,     /* the device closed the connection without a result */
	CLI_EXIT_RESOLVE = 8,    /* the device name could not be resolved */
	CLI_EXIT_CANCELLED = 130 /* interrupted (SIGINT) */
};

enum cli_mode {
	CLI_MODE_UPLOAD = 0,
	CLI_MODE_CHECK = 1,      /* espota check FILE: fit report only */
	CLI_MODE_HELP = 2,
	CLI_MODE_VERSION = 3,
	CLI_MODE_LIST = 4        /* --list-boards: boards and layouts */
};

enum cli_platform {
	CLI_PLATFORM_AUTO = 0,
	CLI_PLATFORM_ESP8266 = 1,
	CLI_PLATFORM_ESP32 = 2
};

#define CLI_MAX_HOSTS 64

struct cli {
	enum cli_mode mode;
	const char *subcommand;           /* "check", ...: the subcommand named first; NULL = upload */

	/* Destination (espota.py) */
	const char *hosts[CLI_MAX_HOSTS]; /* -i/--ip, repeatable */
	size_t nhosts;
	const char *hosts_file;           /* --hosts FILE */
	const char *host_ip;              /* -I/--host_ip; NULL = any */
	long port;                        /* -p/--port; -1 = choose (8266, or 3232 for ESP32) */
	long host_port;                   /* -P/--host_port; 0 = any free port */
	enum cli_platform platform;       /* --platform */

	/* Authentication */
	const char *auth;                 /* -a/--auth (visible in ps!) */
	const char *auth_env;             /* --auth-env VAR */
	const char *auth_file;            /* --auth-file FILE */
	int md5_target;                   /* -m/--md5-target */
	int sha256_only;                  /* --sha256-only */
	int no_prompt;                    /* --no-prompt */

	/* Image */
	const char *file;                 /* -f/--file, or the operand of `check` */
	int spiffs;                       /* -s/--spiffs: filesystem upload */
	int compress;                     /* --compress */
	int force;                        /* --force */
	int strict;                       /* --strict: refuse when the check rests on assumptions */

	/* Fit check */
	const char *board;                /* --board */
	const char *layout;               /* --layout */
	const char *scheme;               /* --scheme (ESP32 built-in partition scheme) */
	const char *partitions;           /* --partitions CSV file */
	uint64_t chip_size;               /* --chip-size; 0 = unknown */
	uint64_t device_header_size;      /* --device-header-size; 0 = unknown */
	uint64_t running_size;            /* --running-size; 0 = unknown */
	int flash_map;                    /* --flash-map */

	/* Transfer */
	int stop_and_wait;                /* --stop-and-wait */
	int stream;                       /* --stream */
	uint32_t window;                  /* --window N; 0 = library default */
	uint32_t chunk;                   /* --chunk N; 0 = library default */
	long timeout_s;                   /* -t/--timeout: seconds per invitation attempt; 0 = default */
	long attempts;                    /* --attempts N; 0 = default */
	long parallel;                    /* --parallel N: uploads in flight at once; default 16 */
	long retries;                     /* --retries N: extra attempts per device; default 0 */
	long device_timeout_s;            /* --device-timeout SEC: budget per device; 0 = none */
	long wait_back_s;                 /* --wait-back SEC: wait for the device after OK; 0 = no */
	long min_rate;                    /* --min-rate B: data-phase bound in bytes/s; 0 = none */
	int min_rate_set;

	/* Output */
	int debug;                        /* -d/--debug */
	int progress;                     /* -r/--progress: espota.py-style bar */
	int json;                         /* --json */
	int quiet;                        /* -q/--quiet */
	int no_color;                     /* reserved */

	/* Compatibility notes for the caller to report at debug level. */
	int ignored_script;               /* an "espota.py" path was given (IDE pattern) and ignored */
};

/* Set the defaults (as if no option was given). */
void cli_defaults(struct cli *out);

/*
 * Parse argv (argv[0] is the program name and is skipped). On error returns
 * -1 with a one-line message in `err`; returns 0 otherwise. Long options may
 * be abbreviated to a unique prefix; `--opt value`, `--opt=value`, `-ovalue`,
 * `-o value`, `-o=value` and clustered flags (`-sdr`) are accepted, as with
 * Python's argparse. `--` ends the options.
 */
int cli_parse(struct cli *out, int argc, char **argv, char *err, size_t errlen);

/* Write a formatted message to err (when there is room) and return -1. */
int cli_fail(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

/*
 * Parse a size: decimal or 0x hex bytes, optionally followed by K, M or G
 * (binary multiples, optional trailing "B"/"iB"). Returns 0 or -1.
 */
int cli_parse_size(const char *s, uint64_t *out);

/* The text printed by --help (the whole tool's). */
extern const char cli_usage_text[];

/* The --help text for c: its subcommand's when it names one, else cli_usage_text. */
const char *cli_help_text(const struct cli *c);

#endif
