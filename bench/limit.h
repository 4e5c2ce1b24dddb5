/* The physical limit of an upload against espota-sim's device model (limit.c). */
#ifndef BENCH_LIMIT_H
#define BENCH_LIMIT_H

#include <stdint.h>

struct limit_model {
	int esp32;                /* 0 = ESP8266 */
	uint64_t size;            /* bytes sent (after compression) */
	const unsigned char *image; /* ESP32: content, for the all-0xFF rule (NULL = never 0xFF) */
	double rtt_ms;
	uint64_t mss;
	uint64_t window;          /* device receive window W */
	double bandwidth;         /* bytes/s, 0 = unlimited */
	double erase_ms;          /* 4 KiB sector erase */
	double program_us;        /* 256-byte page program */
	double block_erase_ms;    /* ESP32 64 KiB block erase */
	double loop_ms;           /* loop latency L */
	uint64_t partition_addr;  /* ESP32 update partition offset */
	uint64_t seg;             /* sender's segment size: 0 = 1 byte (fluid), else <= mss */
};

struct limit_result { /* nanoseconds */
	uint64_t connect_ns;      /* host accepts the connect-back */
	uint64_t first_byte_ns;   /* firmware takes the first byte */
	uint64_t end_ns;          /* last byte flushed */
	uint64_t flash_ns;        /* total flash busy time */
	uint64_t total_ns;        /* host has the final OK */
};

int limit_compute(const struct limit_model *m, struct limit_result *out);

#endif
