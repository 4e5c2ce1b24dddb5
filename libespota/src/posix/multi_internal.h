/*
 * Internal: the multi handle's transfers, and what the blocking upload and
 * the fleet (the two drivers over it) may ask of them.
 */
#ifndef ESPOTA_SRC_MULTI_INTERNAL_H
#define ESPOTA_SRC_MULTI_INTERNAL_H

#include "espota/multi.h"
#include "posix/conn.h"
#include "posix/mdns_fallback.h"

/* How a driver inside the library customises a transfer. */
typedef struct espota__transfer_hooks {
	/* Progress instead of opts->progress (the fleet's per-device callback). */
	int (*progress)(espota_transfer *t, const espota_progress *p, void *payload);
	void *payload;
	void *user;                /* espota_transfer_user() from the start */
	const char *prefix;        /* log prefix, or NULL */
	const char *md5;           /* MD5 (hex) of the data when known, or NULL */
	unsigned int attempts;     /* attempts so far including this one (retries) */
	uint64_t origin_ms;        /* elapsed_ms counts from here (0: from the start) */
	size_t original_size;      /* size before compression (0: the data's size) */
	int prepared;              /* 1: data is already compressed and preflighted */
} espota__transfer_hooks;

struct espota_transfer {
	espota_multi *m;
	espota_kind kind;
	espota_transfer *prev, *next;   /* every transfer of the handle */
	espota_transfer *done_next;     /* finished, not read yet */
	espota__conn c;
	espota__mdns_run *mdns;         /* browse/resolve; an upload's NAME.local lookup while it runs */
	const unsigned char *data;      /* what an upload sends (the image or `packed`) */
	size_t dlen;
	char address[80];               /* resolve: the answer; upload: what mDNS resolved the host to */
	char resolve_error[ESPOTA__MSG_SIZE]; /* upload: the system resolver's word, kept for mDNS */
	espota_upload_options opts;     /* copy; strings borrowed */
	espota__transfer_hooks hooks;
	char prefix[80];
	unsigned char *packed;          /* compressed copy of the image, owned */
	size_t original_size;
	int running;
	int never_started;              /* made finished (a fleet device cancelled before it ran) */
	int queued;                     /* on the finished list */
	int code;                       /* 1 while running */
	char error[ESPOTA__MSG_SIZE];
	int device_error_set;
	espota_device_error device_error;
	espota_upload_stats stats;
	espota_fit_report *fit_report;  /* the preflight's report, when one ran */
	uint64_t start;
	void *user;
	int wait_first, wait_count;     /* slots in the last espota_multi_fds() answer */
	int slot_fd[3];                 /* udp, listener, tcp as last reported */
	unsigned int slot_serial[3];    /* their serials (espota_waitfd.serial) */
};

struct espota_multi {
	espota_session *s;
	espota_transfer *head, *tail;
	espota_transfer *done_head, *done_tail;
	size_t running;
	unsigned int serial;            /* last socket serial handed out */
	int in_call;                    /* refuse re-entry from callbacks */
	espota_transfer *spare;         /* a freed transfer kept for the next (zeroed) */
	espota_waitfd *wbuf;            /* espota__multi_poll()'s arrays */
	struct pollfd *pbuf;
	size_t cap;
};

/* A handle for the library's own drivers (no cancel reset). */
espota_multi *espota__multi_new(espota_session *s);

/* The one poll loop: wait for the handle's descriptors for at most its
 * timeout (and at most `max_ms` when >= 0), then perform. */
int espota__multi_poll(espota_multi *m, long max_ms);

/* Add a transfer with the library's own hooks (NULL: none). */
int espota__multi_add(espota_multi *m, espota_transfer **out, const unsigned char *image, size_t len,
	const espota_upload_options *o, const espota__transfer_hooks *hooks);

/* Add a transfer that is already finished with `code` and `msg`. */
espota_transfer *espota__multi_add_failed(espota_multi *m, const espota_upload_options *o, int code,
	const char *msg);

/* Bytes the device acknowledged so far (the best reading), for the fleet's policy. */
uint64_t espota__transfer_acked(const espota_transfer *t);

/* Stop a running transfer with `code` and `msg` (a driver's deadline). */
void espota__transfer_abort(espota_transfer *t, int code, const char *msg);

/* Compress and preflight as the options ask; *packed owns compressed data.
 * On failure `err` holds the detail; `rep` (may be NULL) receives the fit
 * report and *rep_set says whether one was made. */
int espota__prepare(espota_session *s, const espota_upload_options *o, const unsigned char *image,
	size_t len, const unsigned char **data, size_t *dlen, unsigned char **packed,
	char *err, size_t errlen, espota_fit_report *rep, int *rep_set);

/* Validate options; the reason goes to `err`. */
int espota__check_options(const espota_upload_options *opts, char *err, size_t errlen);

#endif
