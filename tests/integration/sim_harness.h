/*
 * sim_harness: start espota-sim as a child process for C integration tests.
 * No libespota dependency. The binary is $ESPOTA_SIM, else the compile
 * definition ESPOTA_SIM_PATH, else "espota-sim" on PATH.
 *
 *   sim_harness h;
 *   const char *args[] = {"--platform", "esp8266", "--fast", "--port", "0", NULL};
 *   if (sim_start(&h, args) != 0) fail();
 *   ... upload to 127.0.0.1:h.ports[0] ...
 *   size_t n; unsigned char *img = sim_read_image(&h, 0, "app.bin", &n);
 *   char *log = sim_read_log(&h);
 *   sim_stop(&h);
 */
#ifndef SIM_HARNESS_H
#define SIM_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#define SIM_MAX_INSTANCES 256

typedef struct sim_harness {
	pid_t pid;
	char dir[256];                  /* fresh temp dir: ready, log.jsonl, out/ */
	int count;                      /* instances reported in the ready file */
	int ports[SIM_MAX_INSTANCES];
	char addrs[SIM_MAX_INSTANCES][64];
	int mdns_port;                  /* --mdns: the responder's UDP port, else 0 */
	int exit_status;                /* after sim_stop()/sim_wait(): waitpid status */
} sim_harness;

/* Start with extra args (NULL-terminated); waits up to 5 s for readiness.
 * Returns 0, or -1 (the child is reaped and the temp dir removed). */
int sim_start(sim_harness *h, const char *const *args);

/* Bytes of DIR/out/[devN/]NAME ("app.bin" or "fs.bin"); malloc'd, NULL if absent. */
unsigned char *sim_read_image(const sim_harness *h, int dev, const char *name, size_t *len);

/* The whole JSON-lines log, NUL-terminated, malloc'd (NULL if absent). */
char *sim_read_log(const sim_harness *h);

/* Count log lines containing every one of the given substrings (NULL-terminated). */
int sim_log_count(const sim_harness *h, const char *const *needles);

/* Wait (bounded, ms) for the child to exit by itself; 0 if it did. */
int sim_wait(sim_harness *h, int timeout_ms);

/* SIGTERM, bounded wait (3 s), then SIGKILL; removes the temp dir. */
void sim_stop(sim_harness *h);

#endif
