/*
 * Internal: the sans-I/O protocol engine (one upload to one device).
 *
 * The engine owns no sockets and never reads the clock. The driver feeds it
 * what happened (datagrams, the device's connect-back, TCP bytes, EOF, the
 * current time in milliseconds) and drains what it must do through
 * espota__engine_next_event() and espota__engine_tx(). The blocking upload
 * (upload.c), the multi-device driver and the fuzzers all sit on this.
 *
 * Driver contract:
 *  1. espota__engine_init(), then espota__engine_start(now).
 *  2. Loop: drain events (SEND_UDP: send ev.data to the device from the one
 *     UDP socket; NEED_PASSWORD: call espota__engine_set_password() or
 *     espota__engine_abort(); PROGRESS/LOG: report; DONE: stop). While the
 *     phase is TRANSFER, write what espota__engine_tx() offers and confirm
 *     with espota__engine_tx_done(). Wait for I/O until
 *     espota__engine_deadline(), then call espota__engine_tick(now).
 *  3. espota__engine_clear() wipes secrets.
 */
#ifndef ESPOTA_SRC_ENGINE_H
#define ESPOTA_SRC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "espota/errors.h"
#include "espota/upload.h"
#include "proto/acks.h"

#define ESPOTA__MSG_SIZE 256
#define ESPOTA__PASSWORD_MAX 256

typedef enum espota__event_type {
	ESPOTA__EV_NONE = 0,
	ESPOTA__EV_SEND_UDP,      /* data/len: a datagram for the device */
	ESPOTA__EV_NEED_PASSWORD, /* scheme: call set_password or abort */
	ESPOTA__EV_PROGRESS,      /* progress changed */
	ESPOTA__EV_LOG,           /* level, msg */
	ESPOTA__EV_DONE           /* result */
} espota__event_type;

typedef struct espota__event {
	espota__event_type type;
	const unsigned char *data;
	size_t len;
	espota_log_level level;
	const char *msg;
	espota_auth_scheme scheme;
	int result;
} espota__event;

typedef struct espota__engine_config {
	const unsigned char *image;
	size_t len;
	espota_target target;
	const char *host;          /* as given by the user: cnonce seed and auth callback */
	const char *filename;      /* cnonce seed */
	espota_auth_mode auth_mode;
	espota_platform platform;  /* UNKNOWN: guessed from port and replies */
	uint16_t device_port;
	uint16_t local_port;       /* the TCP port announced in the invitation */
	espota_timeouts timeouts;  /* resolved: no zeros */
	espota_transfer_mode transfer;
	uint32_t chunk;
	uint32_t window;
	uint32_t min_rate;         /* bytes/s for the data-phase bound; 0 = default; UINT32_MAX = none */
	int seeded_cnonce;         /* 1: espota's derivation (tests); 0: CSPRNG */
	const char *password;      /* optional; copied */
	const char *md5;           /* MD5 (32 hex digits) of image if already known, or NULL */
} espota__engine_config;

/* Initial capacity of the event queue; it grows, it never drops an event. */
#define ESPOTA__EVQ 16

typedef struct espota__engine {
	espota__engine_config cfg;
	char md5[33];
	espota_phase phase;
	int result;                 /* valid when phase == DONE or failed */
	int finished;
	uint64_t start_ms;
	uint64_t deadline;          /* absolute ms of the current phase deadline */

	/* handshake */
	unsigned int attempt;       /* invitations sent in this round */
	unsigned int invitations;   /* total */
	char invite[96];
	size_t invite_len;
	char authdg[160];
	size_t authdg_len;
	espota_auth_scheme scheme;
	int fell_back;              /* scheme B: MD5 fallback already tried */
	int waiting_password;
	int have_password;
	char password[ESPOTA__PASSWORD_MAX];
	char nonce[72];
	espota_platform platform;

	/* transfer */
	uint64_t sent;
	uint64_t acked;             /* stats and messages: provisional, or what the end decided */
	uint64_t transfer_start;
	uint64_t transfer_ms;
	/* the running figure (acks.c espota__acks_running): what the device
	 * has acknowledged for now; monotone, never above sent */
	uint64_t provisional;
	uint64_t quiet_at;          /* blocked, the figure behind: ask again then (0: no) */
	uint64_t quiet_seen;        /* rule.digits when a quiet reading last failed */
	unsigned quiet_ms;          /* current quiet delay (doubles after each failure) */
	uint32_t device_mss;        /* the device's TCP MSS when the driver knows it (0: no) */
	/* adaptive block pacing (engine.c, "Adaptive pacing") */
	uint32_t peer_window;       /* the device's TCP receive window from the driver (0: unknown) */
	int peer_unacked_known;     /* the driver reports the bytes the device's TCP has not acknowledged */
	uint64_t peer_unacked;      /* sent bytes its TCP had not acknowledged at the last report */
	int pace_state;             /* ESPOTA__PACE_* */
	uint32_t pace_window;       /* learnt device window: largest drain after a flush */
	uint64_t pace_seen;         /* provisional offset the learner has looked at */
	unsigned int pace_drains;   /* acknowledgement steps seen while learning */
	unsigned int pace_partial;  /* of which not a whole number of flash blocks */
	uint32_t pace_pre;          /* most a drain took before its first flush */
	uint32_t pace_step;         /* the last step before the first flush, if whole segments */
	uint64_t pace_step_at;      /* when it came (ms) */
	uint64_t pace_first_at;     /* when the first step came (ms): a round trip and more */
	unsigned int acks;          /* counts in the reading behind the figure */
	espota__acks rule;          /* the acknowledgement rule: what the counts can total */
	int ack_decided;            /* ESPOTA__ACKS_DECIDED_*: what proved the success */
	int ok_pending;             /* the device said OK; waiting for the end of stream */
	char status[ESPOTA_DEVICE_ERROR_RAW_SIZE];
	size_t nstatus;
	int device_error_set;
	espota_device_error device_error;

	/* outputs */
	espota__event *evq;         /* ring of evcap events, grown on demand (engine_clear frees) */
	char (*evmsg)[ESPOTA__MSG_SIZE];
	unsigned int evhead, evcount, evcap;
	int ev_lost;                /* the queue could not grow: DONE (ENOMEM) follows the queued events */
	char evout[ESPOTA__MSG_SIZE]; /* the message of the event last returned */
	int progress_pending;
	espota_progress progress;
	char error[ESPOTA__MSG_SIZE];
} espota__engine;

int espota__engine_init(espota__engine *e, const espota__engine_config *cfg);
void espota__engine_start(espota__engine *e, uint64_t now);
void espota__engine_on_udp(espota__engine *e, uint64_t now, const void *data, size_t len);
/* A datagram of real bytes of which the driver kept only the first kept
 * (its buffer holds any valid reply): longer ones are a protocol error. */
void espota__engine_on_udp_cut(espota__engine *e, uint64_t now, const void *data, size_t kept,
	size_t real);
/* The device connected back. Returns 0 to accept, -1 when the engine does
 * not expect a connection (the driver closes it). */
int espota__engine_on_connect(espota__engine *e, uint64_t now);
void espota__engine_on_tcp_data(espota__engine *e, uint64_t now, const void *data, size_t len);
/* The device's own address answered an invitation or auth datagram with
 * ICMP "port unreachable": nothing listens on its OTA port. */
void espota__engine_on_udp_unreachable(espota__engine *e, uint64_t now);
/* EOF (err == 0) or a socket error (errno value) on the data connection. */
void espota__engine_on_tcp_closed(espota__engine *e, uint64_t now, int err);
/* No password will come (none given, the callback declined or failed):
 * answer the challenge with the empty password so the device is ready for
 * the next invitation, then fail with `code`. */
void espota__engine_decline_password(espota__engine *e, uint64_t now, int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

/* The TCP MSS the device announced, once connected (0: unknown). */
void espota__engine_set_device_mss(espota__engine *e, uint32_t mss);
/* The receive window the device's TCP announced (TCP_INFO), once connected
 * (0: unknown). Trusted for pacing only when below a flash block plus one
 * segment; a larger figure is as likely a host kernel or proxy. */
void espota__engine_set_peer_window(espota__engine *e, uint32_t window);
/* How many of the bytes written to the connection the device's TCP has not
 * acknowledged yet (the kernel's send queue: SIOCOUTQ), read after the data
 * about to be passed to espota__engine_on_tcp_data() was received. A
 * segment's acknowledgement is processed before its data can be read, so an
 * honest device's OK always arrives with this at 0; a device that says OK
 * while the host still holds bytes it never took has lied. Optional: a
 * driver that cannot tell never calls it. */
void espota__engine_set_peer_unacked(espota__engine *e, uint64_t bytes);

/* Adaptive pacing states (pace_state). */
enum {
	ESPOTA__PACE_LEARN = 0,  /* streaming the first blocks, measuring the device */
	ESPOTA__PACE_BLOCKS,     /* paced: one learnt window past the next flash block */
	ESPOTA__PACE_STREAM,     /* the window covers a block: no pacing pays */
	ESPOTA__PACE_BLOCK_SAW   /* acknowledges whole blocks only: one block at a time */
};
/* Bytes the driver may write now; *ptr points into the image. */
size_t espota__engine_tx(espota__engine *e, const unsigned char **ptr);
void espota__engine_tx_done(espota__engine *e, uint64_t now, size_t n);
void espota__engine_tick(espota__engine *e, uint64_t now);
uint64_t espota__engine_deadline(const espota__engine *e);
int espota__engine_set_password(espota__engine *e, uint64_t now, const char *password);
void espota__engine_abort(espota__engine *e, uint64_t now, int code, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;
/* The next queued event, in order; 0 when none. Events are never dropped.
 * A LOG event's msg stays valid until the next call. */
int espota__engine_next_event(espota__engine *e, espota__event *out);
/* Wipe secrets. */
void espota__engine_clear(espota__engine *e);

/* Resolve zeros in `in` to the documented defaults. */
void espota__timeouts_resolve(espota_timeouts *out, const espota_timeouts *in);

#endif
