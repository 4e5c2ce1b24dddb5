/*
 * The acknowledgement rule (docs/protocol.md, "The acknowledgement rule").
 *
 * A device answers the data it reads with bare decimal counts and no
 * separator, then a status text. Where counts merge ("10721072") the digits
 * can be read several ways. This module keeps, digit by digit, the set of
 * totals the digits can mean for the device's platform, never more than was
 * sent when each digit arrived. It is pure: no I/O, no clock. It keeps a
 * log of the digits (heap, bounded) for an exact decision at the end.
 *
 * The engine uses it twice: while data flows, for the running figure (what
 * the device has acknowledged for now: the window, pacing, the stall timer
 * and progress; espota__acks_running), and at the end to decide: an OK
 * counts only when the image length is one of the totals.
 */
#ifndef ESPOTA_SRC_ACKS_H
#define ESPOTA_SRC_ACKS_H

#include <stddef.h>
#include <stdint.h>

#include "espota/upload.h"

/* Readings kept at most; past it, the least plausible go: the most counts
 * printed or read across reads, then the lowest totals (a real device
 * prints one count per read, and reads close behind the sender). */
#define ESPOTA__ACKS_STATES 64

/* What decided a success: the counts add up to the image, or (readings
 * dropped at the cap) the device's OK after its own MD5 check. */
#define ESPOTA__ACKS_DECIDED_COUNTS 1
#define ESPOTA__ACKS_DECIDED_DEVICE_OK 2

typedef struct espota__acks_state {
	uint64_t sum;   /* counts closed so far */
	uint32_t open;  /* the count being read (0: none) */
	uint32_t last;  /* the last closed count (ESP32 repeats it) */
	uint8_t reps;   /* repeats of last in a row */
	uint32_t pen;   /* counts read across a read boundary (unlikely, kept) */
	uint32_t prints; /* counts printed, repeats included (the open one too) */
	uint32_t nrep;  /* of which repeats of the count before */
} espota__acks_state;

/* The readings of one core's limits. */
typedef struct espota__acks_set {
	espota__acks_state st[ESPOTA__ACKS_STATES];      /* the readings */
	espota__acks_state next[3 * ESPOTA__ACKS_STATES]; /* each has 3 successors at most */
	size_t n;            /* states in st */
	uint64_t maxcount;   /* the largest single count the core prints */
	unsigned maxreps;    /* repeats of the last count allowed in a row */
	int dropped;         /* 1: readings were dropped at the cap */
	uint64_t dead_at;    /* digits fed when no reading was left (0: never) */
	uint64_t best;       /* highest total of the last live reading set */
} espota__acks_set;

typedef struct espota__acks {
	espota__acks_set set[2]; /* one core's readings; both for an unknown platform */
	unsigned nsets;
	uint64_t digits;     /* digits fed */
	uint64_t sent;       /* bytes sent when the last digit came */
	int dropped;         /* 1: some set dropped readings at the cap */
	int at_boundary;     /* a read ended after the last digit */
	/* Every digit as it came, with what had been sent then, for the exact
	 * decision at the end (espota__acks_exact). At most log_max digits:
	 * an honest device prints a few digits per segment it reads. */
	unsigned char *log_d;
	uint64_t *log_sent;
	size_t log_n, log_cap, log_max;
	int log_full;        /* 1: the log overflowed or could not grow */
	espota_platform platform;
	/* The running figure (espota__acks_running): monotone, never above
	 * what was sent. */
	uint64_t running;
	uint32_t running_counts; /* counts (not repeats) of the reading behind it */
	/* The last anchor: after anchor_digit logged digits the counts could
	 * add up to exactly anchor_total, everything sent then. */
	size_t anchor_digit;
	uint64_t anchor_total;
} espota__acks;

void espota__acks_init(espota__acks *a, espota_platform platform, uint64_t len);
/* Frees the digit log (idempotent; init again to reuse). */
void espota__acks_free(espota__acks *a);
/* One digit of the device's stream, and what had been sent when it came. */
void espota__acks_digit(espota__acks *a, char d, uint64_t sent);
/* A read of the device's stream ended here. A device prints each count in
 * one write, and segments arrive whole, so a count rarely spans two reads:
 * readings that say so are kept but ranked last at the cap. */
void espota__acks_boundary(espota__acks *a);
/* The current count is complete (a status byte, or the end of stream). */
void espota__acks_close(espota__acks *a);
/* 1 when the digits so far can add up to total. */
int espota__acks_can_total(const espota__acks *a, uint64_t total);
/* The exact decision, over every reading of the logged digits (no cap):
 * 1 when they can add up to total under the platform's rules (either
 * core's for an unknown platform), 0 when they cannot, -1 when undecided
 * (the log overflowed or memory ran out: the reading set above decides). */
int espota__acks_exact(const espota__acks *a, uint64_t total);
/* As espota__acks_exact, and *best: the highest total up to `total` that
 * some reading of all the digits reaches (for the failure message). */
int espota__acks_exact_best(const espota__acks *a, uint64_t total, uint64_t *best);
/* 1 when no reading is left of any set, and none was ever dropped: the
 * device surely acknowledged more than was sent. */
int espota__acks_surely_dead(const espota__acks *a);
/* 1 when no reading is left: the digits cannot be counts of what was sent. */
int espota__acks_dead(const espota__acks *a);
/* The highest total the digits can mean (at the point they died, if so). */
uint64_t espota__acks_best(const espota__acks *a);
/*
 * The running figure, after the digits so far with `sent` bytes sent (the
 * rule is in docs/protocol.md, "The running figure"):
 *  - `sent`, when a kept reading adds up to exactly that (the device has
 *    caught up: an anchor), or when no reading is left (the end decides);
 *  - otherwise the total of the most plausible kept reading: the fewest
 *    counts printed plus counts read across reads, then the fewest
 *    repeats, then the smallest total (where readings tie, the
 *    conservative one: an overestimate would let the window and the
 *    pacing run ahead of the device).
 * Never below an earlier figure, never above `sent`.
 */
uint64_t espota__acks_running(espota__acks *a, uint64_t sent);
/* The sender is blocked and the device has gone quiet: 1 when the digits
 * since the last anchor can add up, exactly, to everything sent since
 * (over every reading of them, not only the kept ones); then the running
 * figure is `sent`. Costs a bitset pass over those digits. */
int espota__acks_caught_up(espota__acks *a, uint64_t sent);

#endif
