/*
 * espota-sim: a virtual ESP8266/ESP32 ArduinoOTA device.
 *
 * Shared types. The program is one event loop (struct sim) that owns N
 * device instances (struct device). Each device is a state machine that
 * mirrors the sequential firmware code (ArduinoOTA + Updater) step by step;
 * every blocking call of the firmware (delay(), flash work, waiting for
 * data) becomes a state with a wake-up time.
 *
 * Times are int64_t microseconds of CLOCK_MONOTONIC.
 */
#ifndef ESPOTA_SIM_H
#define ESPOTA_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define SIM_NEVER INT64_MAX

typedef int64_t usec_t;

enum platform {
	PLAT_ESP8266,
	PLAT_ESP32,        /* arduino-esp32 >= 3.3.1: 64-hex nonce, PBKDF2 (scheme B) */
	PLAT_ESP32_LEGACY  /* arduino-esp32 <= 3.3.0: 32-hex nonce, MD5 (scheme A) */
};

#define IS_ESP32(p) ((p) != PLAT_ESP8266)

/* Update commands on the wire (protocol.md 2.1). */
#define CMD_FLASH 0
#define CMD_FS    100
#define CMD_AUTH  200

/* ---- faults ------------------------------------------------------------ */
enum fault_kind {
	F_DROP_AFTER, F_STALL_AFTER, F_ACK_GARBAGE, F_ACK_TRUNCATE, F_ACK_DUP,
	F_NO_INVITE_REPLY, F_NO_CONNECT, F_NO_FINAL_OK, F_CONNECT_FROM,
	F_DOUBLE_INVITE_REPLY, F_DROP_UDP_REPLY
};

struct fault {
	enum fault_kind kind;
	long long value;             /* N for *-after and drop-udp-reply */
	struct sockaddr_storage addr;/* connect-from */
	socklen_t addrlen;
	int dev;                     /* -1: every instance */
	int times;                   /* upload attempts it applies to; -1 unlimited */
};

/* ---- ESP32 partitions ---------------------------------------------------- */
struct partition {
	char name[17];
	int type;     /* 0 app, 1 data */
	int subtype;  /* app: 0 factory, 0x10+n ota_n, 0x20 test; data: 0x82 spiffs ... */
	uint32_t offset;
	uint32_t size;
};

#define MAX_PARTITIONS 32

/* ---- configuration (shared by every instance) -------------------------- */
struct config {
	enum platform platform;
	char listen[64];
	int port;                 /* -1: platform default */
	int count;
	int have_addr_base;
	struct in_addr addr_base;

	char stored_pw[65];       /* what the device compares against; "" = no auth */

	uint32_t chip_size;       /* real (JEDEC) size */
	uint32_t header_flash_size;
	int header_set;
	/* ESP8266 running layout */
	const char *layout_name;
	uint32_t layout_flash, fs_start, fs_end;
	uint32_t sketch_size;
	int flash_map, atomic_fs, bootstrap, adopt;
	int no_decrypt;           /* ESP32: core without OTA decryption (error 8, not 13) */
	unsigned chip_id;         /* ESP32: esp_chip_id_t the image must carry (0 = ESP32) */
	long signing;             /* 0: no signing key */

	/* ESP32 */
	struct partition parts[MAX_PARTITIONS];
	int nparts;
	int running;              /* index of the running app partition */
	const char *scheme_name;

	const char *out_dir, *log_path, *ready_file;
	long max_uploads;
	double lifetime;          /* seconds, 0 = unlimited */
	int fast, verbose;
	int no_fw_delays;  /* --no-firmware-delays: the sketch's fixed delay()s off, link model kept */
	long long fixed_micros;   /* -1: use the clock */

	/* timing model */
	double rtt_ms, loop_ms, bandwidth, erase_ms, program_us, block_erase_ms, pbkdf2_ms;
	double boot_ms, connect_timeout_ms;
	double verify_ms_per_mb;  /* ESP32: image read-back and SHA-256 at end() */
	int mss, window;
	double airtime;           /* bytes/s of one medium all instances share; 0 = none */
	double loss;              /* probability that a data segment is lost (every instance) */
	struct { int dev; double p; } loss_dev[32]; /* --loss P@DEV overrides */
	int nloss_dev;

	struct fault faults[32];
	int nfaults;

	/* mDNS responder (mdns.c) */
	int mdns;
	char mdns_hostname[64];   /* "": platform default per instance */
	char mdns_board[64];      /* "": generic / esp32 */
	int mdns_port;
	char mdns_listen[64];     /* loopback unicast mode: bind address */
	char mdns_multicast[16];  /* interface to join 224.0.0.251 on; "" = loopback mode */
};

/* ---- link model (tcp receive path) -------------------------------------- */
struct segment {
	uint64_t start, end; /* stream offsets [start, end) */
	usec_t read_t;    /* when the sim read it from the kernel (host send time) */
	usec_t avail_t;   /* when the device can see it; SIM_NEVER = not yet known */
};

struct consume_mark { uint64_t off; usec_t t; };

struct outmsg {
	usec_t when;
	size_t len, sent;
	int close_after;  /* close the socket once this is written */
	struct sockaddr_storage to;  /* udp only */
	socklen_t tolen;
	struct outmsg *next;
	unsigned char data[];
};

struct conn {
	int fd;
	int connecting;
	usec_t connect_started;
	usec_t connected_t;        /* SIM_NEVER until the handshake is done (device view) */
	/* stream bytes read from the kernel; image = first `accepted` of them */
	unsigned char *buf;
	size_t cap;
	uint64_t read_off;         /* bytes read from the kernel */
	uint64_t consumed;         /* bytes taken by the firmware */
	uint64_t read_limit;       /* never read more than this from the kernel */
	struct segment *segs;
	size_t nsegs, seg_head, seg_cap;
	usec_t link_free;          /* bandwidth model: when the air is free */
	struct consume_mark *marks;
	size_t nmarks, mark_head, mark_cap;
	int eof;                   /* peer closed (read 0 / error) */
	usec_t eof_t;
	struct outmsg *out_head, *out_tail;
	int blocked;               /* last send hit EAGAIN: wait for POLLOUT */
	int stalled;               /* fault stall-after: never read again */
	int dev;                   /* instance index (loss pattern) */
	double loss;               /* this device's segment loss probability */
	uint64_t lost;             /* segments lost (and resent) so far */
};

/* ---- device --------------------------------------------------------------- */
enum ota_state { OTA_IDLE, OTA_WAITAUTH, OTA_RUNUPDATE };

enum fw_state {
	FW_IDLE,          /* handle() loop; UDP served */
	FW_RUN_PENDING,   /* _runUpdate() at `until` (next handle()) */
	FW_AFTER_ERR,     /* ESP8266: delay(100) after ERR: */
	FW_PRE_CONNECT,   /* ESP8266: delay(100) after OK; ESP32: SYN in flight */
	FW_CONNECTING,
	FW_DATA,
	FW_VERIFY32,      /* ESP32: Update.end() reads the image back (esp_image_verify) */
	FW_FINISH_1,      /* ESP8266: delay(1000) before OK */
	FW_FINISH_2,      /* ESP8266: delay(1000) before close */
	FW_POST,          /* ESP32 delay(10) / ESP8266 delay(10) before onEnd */
	FW_PRE_REBOOT,    /* delay(100) then ESP.restart() */
	FW_REBOOTING,
	FW_STALLED,       /* fault stall-after: hung until the peer goes away */
	FW_NOCONNECT,     /* fault no-connect: pretend, then give up */
	FW_DEAD           /* crashed with no bootable app: never answers again */
};

enum data_sub {
	D_TOP, D_WAIT, D_ITER, D_AFTER_FLUSH, D_AFTER_ITER, D_DELAY, /* ESP8266 */
	D32_AFTER_WRITE                                       /* ESP32 */
};

struct updater {
	int running;
	int cmd;
	uint32_t size;        /* 0 after reset */
	uint32_t start;       /* flash offset (ESP8266 staging / FS; ESP32 partition) */
	uint32_t buf_len;     /* bytes in the 4 KiB buffer */
	uint32_t flushed;     /* progress: bytes written to flash */
	int error;
	int error_set;        /* an error code was set (for ESP8266 'ERROR[0]') */
	char target_md5[33];
	char calc_md5[33];
	int part;             /* ESP32 partition index */
	int finished_flag;    /* isFinished() */
	int crashed;          /* ESP32 legacy: erased the running app partition */
	char why[160];        /* why the ESP32 image check failed (log only) */
};

struct sim;

struct device {
	struct sim *sim;
	int index;
	int udp_fd;
	struct sockaddr_storage local;
	socklen_t locallen;
	char addr_str[64];
	int port;
	usec_t boot_t;        /* for micros() */

	enum ota_state ota;
	enum fw_state fw;
	usec_t until;         /* wake time of the current fw state */

	/* handshake */
	int cmd;
	uint32_t size;
	int host_port;
	char md5[33];
	char nonce[65];
	struct sockaddr_storage inv_src;   /* ESP8266: reply/connect target */
	socklen_t inv_srclen;
	struct sockaddr_storage ota_ip;    /* connect-back target */
	socklen_t ota_iplen;
	usec_t udp_busy_until;             /* ESP32: next handle() for datagrams */

	/* udp queues */
	struct outmsg *uin_head, *uin_tail;   /* received datagrams (to = source) */
	struct outmsg *uout_head, *uout_tail;
	long udp_replies;                     /* for drop-udp-reply */

	/* data phase */
	struct conn *c;
	struct conn *closing;                 /* draining its out queue, then closed */
	struct updater up;
	enum data_sub ds;
	uint32_t written;        /* ESP8266: drain total; ESP32: last write result */
	uint32_t total;
	int tried;               /* ESP32 stale-ack retries */
	usec_t wait_deadline;    /* ESP32 receive timeout */
	uint32_t pending_w;      /* ESP32 write result awaiting its ack */
	int attempt_open;        /* an upload attempt is in progress */
	int end_ok;              /* result of the last Update.end() */
	int verified;            /* ESP32: the end() read-back time has passed */
	long attempt;            /* upload attempts on this device */
	long acks;

	/* the running firmware (mutable with --adopt) */
	uint32_t sketch_size;
	uint32_t header_flash_size;

	/* timer heap bookkeeping */
	usec_t sched_t;
	uint64_t sched_gen;
};

struct timer_ent { usec_t t; uint64_t gen; int dev; };

struct sim {
	struct config cfg;
	struct device *devs;
	int ndev;
	usec_t t0;
	FILE *log;
	long uploads_done;
	struct timer_ent *heap;
	size_t nheap, heap_cap;
	int stopping;
	int mdns_bound_port;
};

/* ---- evloop.c --- */
usec_t now_us(void);
void sim_schedule(struct sim *s, struct device *d, usec_t t);
int sim_run(struct sim *s);

/* ---- device.c --- */
int device_open(struct device *d);
void device_close(struct device *d);
void device_run(struct device *d, usec_t now);
usec_t device_next_wake(struct device *d, usec_t now);
void device_on_udp_readable(struct device *d, usec_t now);
void device_on_tcp_event(struct device *d, struct conn *c, short revents, usec_t now);
short device_tcp_events(struct device *d, struct conn *c);
int device_idle(const struct device *d);

/* ---- link.c --- */
usec_t owd_us(const struct config *cfg);
struct conn *conn_new(int fd, uint64_t read_limit);
void conn_free(struct conn *c);
int conn_read_kernel(struct conn *c, const struct config *cfg, usec_t now);
uint64_t conn_available(struct conn *c, const struct config *cfg, usec_t t);
usec_t conn_next_avail(struct conn *c, const struct config *cfg);
const unsigned char *conn_take(struct conn *c, size_t n, usec_t t);
int conn_peer_gone(const struct conn *c, const struct config *cfg, usec_t t);
double link_loss_for(const struct config *cfg, int dev);
void out_push(struct outmsg **head, struct outmsg **tail, usec_t when,
	      const void *data, size_t len, int close_after,
	      const struct sockaddr_storage *to, socklen_t tolen);
void out_free_all(struct outmsg **head, struct outmsg **tail);
int conn_flush_out(struct conn *c, usec_t now);

/* ---- updater.c --- */
const char *esp8266_err_text(int n);
const char *esp32_err_text(int n);
int updater_begin(struct device *d, uint32_t size, int cmd);
/* ESP8266 buffer+flush primitives; return flash time in us through *cost */
int updater_flush(struct device *d, usec_t *cost);
uint32_t updater_remaining(const struct device *d);
int updater_finished(const struct device *d);
uint32_t updater32_write(struct device *d, const unsigned char *data, uint32_t len, usec_t *cost);
int updater_end(struct device *d, const unsigned char *image, size_t len);
void updater_error_wire(const struct device *d, char *out, size_t outsz);
void updater_reset(struct device *d);

/* ---- faults.c --- */
int fault_parse(struct config *cfg, const char *spec, char *err, size_t errsz);
const struct fault *fault_get(const struct device *d, enum fault_kind k);

/* ---- jlog.c --- */
struct jlog_field {
	const char *key;
	int type; /* 'i' int64, 's' string, 'b' bool, 'f' double, 'r' raw bytes (s + n) */
	long long i;
	const char *s;
	size_t n;
	double f;
};
#define JI(k, v) {(k), 'i', (long long)(v), NULL, 0, 0}
#define JS(k, v) {(k), 's', 0, (v), 0, 0}
#define JB(k, v) {(k), 'b', (v) ? 1 : 0, NULL, 0, 0}
#define JR(k, p, len) {(k), 'r', 0, (const char *)(p), (len), 0}
#define JEND {NULL, 0, 0, NULL, 0, 0}
void jlog(struct device *d, const char *event, const struct jlog_field *f);

/* ---- crypto.c --- */
void md5_hex(const void *data, size_t len, char out[33]);
void sha256_hex(const void *data, size_t len, char out[65]);
void sha256_bin(const void *data, size_t len, unsigned char out[32]);
int pbkdf2_sha256_hex(const char *pw, size_t pwlen, const char *salt, size_t saltlen,
		      int iter, char out[65]);

/* ---- esp32img.c --- */
/* esp_image_verify() of an app image: 0 if valid, else -1 and a reason */
int esp32_image_verify(const unsigned char *img, size_t len, uint32_t part_size,
		       unsigned chip_id, char *why, size_t whysz);

/* ---- partitions.c --- */
int partitions_builtin(struct config *cfg, const char *name);
/* The built-in scheme names, separated by '|'. */
void partitions_print_names(FILE *f);
int partitions_load_csv(struct config *cfg, const char *path, char *err, size_t errsz);
int partition_next_update(const struct config *cfg);
int partition_fs(const struct config *cfg);
int partition_otadata_ok(const struct config *cfg, int part);

/* ---- mdns.c --- */
int mdns_open(struct sim *s);     /* 0 (also when --mdns is off) or -1 with errno */
int mdns_fds(int out[2]);         /* the responder's sockets: 0 when off, 1 or 2 */
void mdns_on_readable(struct sim *s, int fd);
void mdns_close(void);

/* ---- misc --- */
void sockaddr_str(const struct sockaddr_storage *ss, char *out, size_t outsz);

#endif
