/*
 * espota CLI - shared state of one run.
 */
#ifndef ESPOTA_CLI_H
#define ESPOTA_CLI_H

#include <stdint.h>

#include <espota.h>

#include "args.h"
#include "hosts.h"

struct app;

/* One device upload. Everything runs on the main thread: the single-device
 * path calls espota_upload(), several devices (or --retries /
 * --device-timeout) go through espota_fleet_upload() on one session. */
struct job {
	struct app *app;
	size_t index;
	struct cli_host host;
	char label[CLI_HOST_MAX + 16]; /* "host" or "host:port" for messages */
	uint16_t port;
	char *password;            /* owned, wiped */
	int password_from_prompt;
	int auth_asked;            /* the auth callback ran */
	int auth_none;             /* ... and had no password to give */

	/* progress */
	espota_phase phase;
	uint64_t sent, acked, total, elapsed_ms;
	uint64_t transfer_start_ms;
	uint64_t last_emit_ms;     /* last rate-limited draw/event */
	int last_decile;
	int last_pct;
	int started, finished;
	unsigned int attempts;     /* fleet: uploads tried so far (1 + retries used) */

	/* result */
	int rc;
	int exit_code;
	espota_upload_stats stats;
	int have_device_error;
	espota_device_error device_error;
	char message[512];
	char hint[1024];
	uint64_t since_success_ms;  /* this device confirmed an update this long ago (0: not recently) */
};

enum cli_view {
	VIEW_QUIET,    /* errors only */
	VIEW_PLAIN,    /* lines; progress every 10% */
	VIEW_COMPAT,   /* espota.py -r bar */
	VIEW_TTY,      /* redrawn bar(s) */
	VIEW_JSON      /* JSON events on stdout */
};

struct app {
	struct cli cli;
	enum cli_view view;
	int multi;                  /* more than one device */

	const char *file;
	unsigned char *image;
	size_t image_len;
	espota_image_info info;
	char image_note[128];          /* the image object's detail */
	int info_ok;

	espota_platform platform;   /* decided platform, or UNKNOWN */
	int have_fit;
	espota_device dev;          /* what is known about the device (library: device.h); owns its table */
	espota_preflight pre;       /* the preflight decision and its fit report */
	int preflight_printed;

	char *password;             /* global static password, owned */

	struct job *jobs;
	size_t njobs;
	int fleet;                  /* uploads run through espota_fleet_upload() */
	espota_session *session;    /* the one session (single thread, one poll() loop) */

	char *prompted;             /* password typed at the prompt, shared by all devices */
	int prompt_failed;

	/* tty block */
	size_t block_lines;
	uint64_t block_drawn_ms;
};

/* Map a library code to an exit code. */
int cli_exit_for(int rc);

/* Version of the JSON event schema (docs/events.schema.json). */
#define CLI_JSON_SCHEMA 1

/* recent.c: ms since host:port last confirmed an update (0: not known),
 * and recording a new success. */
uint64_t cli_recent_success_ms(const char *host, uint16_t port);
void cli_recent_success_record(const char *host, uint16_t port);

#endif
