/*
 * libespota - finding devices: mDNS / DNS-SD browsing of _arduino._tcp and
 * resolution of NAME.local (RFC 6762 one-shot queries, RFC 6763 browsing).
 *
 * A browse sends PTR queries for _arduino._tcp.local from an ephemeral
 * port to 224.0.0.251 and ff02::fb on every up, multicast-capable
 * interface (or the one named), follows the SRV/TXT/A/AAAA records the
 * devices put in their answers, asks for what is missing, retransmits
 * (0, 0.25, 1 s, then doubling, with known-answer suppression) and stops at
 * the total timeout. Each device is reported once, as soon as its SRV, TXT
 * and at least one address are known.
 *
 * Threads: a discover handle is used by one thread at a time;
 * espota_discover_cancel() may be called from any thread (and from a
 * signal handler). Handles are independent.
 */
#ifndef INCLUDE_espota_discover_h__
#define INCLUDE_espota_discover_h__

#include "common.h"
#include "errors.h"
#include "session.h"

ESPOTA_BEGIN_DECL

typedef struct espota_discover espota_discover;

/** One TXT item: "key=value" (`value` is "" and has_value 0 for a bare "key"). */
typedef struct espota_txt_item {
	const char *key;     /**< NUL-terminated; printable ASCII (other bytes are replaced by '?') */
	const char *value;   /**< NUL-terminated copy of the value, same replacement */
	size_t value_len;    /**< length of the value as received */
	int has_value;       /**< 1 when the item had a '=' */
} espota_txt_item;

/** One address of a device and the interface the answer carrying it came on. */
typedef struct espota_discover_addr {
	int family;          /**< AF_INET or AF_INET6 */
	char address[46];    /**< numeric text, e.g. "192.168.1.20" or "fe80::1" */
	char interface[16];  /**< interface name, "" if unknown */
	unsigned int ifindex;/**< interface index, 0 if unknown */
} espota_discover_addr;

/** What a device told about itself. Valid only during the callback. */
typedef struct espota_device_info {
	size_t struct_size;          /**< sizeof(espota_device_info) of the library; fields may be appended */
	const char *instance;        /**< service instance label, e.g. "esp8266-1a2b3c" */
	const char *hostname;        /**< SRV target, e.g. "esp8266-1a2b3c.local" (no trailing dot) */
	uint16_t port;               /**< OTA UDP port from the SRV record */
	size_t naddrs;
	const espota_discover_addr *addrs;
	size_t ntxt;
	const espota_txt_item *txt;  /**< in the order received */
	const char *board;           /**< TXT board value, or NULL if absent */
	int auth_upload;             /**< 1 "yes", 0 "no", -1 absent or another value */
	espota_platform platform;    /**< guessed from board and port; UNKNOWN if neither tells */
	uint64_t elapsed_ms;         /**< from the start of the browse to this report */
} espota_device_info;

/**
 * Called once per device. Return 0 to go on, a positive value to stop the
 * browse with ESPOTA_OK, a negative value to stop it with ESPOTA_EUSER.
 */
typedef int (*espota_discover_cb)(const espota_device_info *dev, void *payload);

typedef struct espota_discover_options {
	unsigned int version;        /**< ESPOTA_DISCOVER_OPTIONS_VERSION */
	unsigned int timeout_ms;     /**< total time of a browse or a resolve; 0: 2000 */
	const char *interface;       /**< NULL: every up multicast interface; else its name */
	int family;                  /**< 0 both, 4 IPv4 only, 6 IPv6 only */
	/**
	 * Test only: send the queries unicast to these responders,
	 * "ADDR:PORT[,ADDR:PORT...]" of one family (e.g. "127.0.0.1:15353",
	 * "[::1]:15353"; at most 16, 399 characters), instead of multicast,
	 * and accept answers only from them. NULL: the environment variable
	 * ESPOTA_MDNS_UNICAST if set, else multicast.
	 */
	const char *unicast;
	unsigned int max_devices;    /**< devices tracked at most; 0: 1024 */
	espota_log_level log_level;
	espota_log_cb log;
	void *log_payload;
} espota_discover_options;

#define ESPOTA_DISCOVER_OPTIONS_VERSION 1
#define ESPOTA_DISCOVER_OPTIONS_INIT { ESPOTA_DISCOVER_OPTIONS_VERSION, 0, NULL, 0, NULL, 0, ESPOTA_LOG_WARN, NULL, NULL }

/** Initialise `opts` with defaults, as ESPOTA_DISCOVER_OPTIONS_INIT does. */
ESPOTA_EXTERN(int) espota_discover_options_init(espota_discover_options *opts, unsigned int version);

/**
 * Create a discover handle (it holds the cancel channel and the last
 * error). `opts` may be NULL for defaults; it is copied (strings too).
 * @return ESPOTA_OK, ESPOTA_EINVAL, ESPOTA_ENOMEM or ESPOTA_EIO.
 */
ESPOTA_EXTERN(int) espota_discover_new(espota_discover **out, const espota_discover_options *opts) ESPOTA_NONNULL(1);

/** Free a handle; NULL is ignored. Not while a browse runs. */
ESPOTA_EXTERN(void) espota_discover_free(espota_discover *d);

/**
 * Browse for _arduino._tcp devices until the timeout, cancel or the
 * callback asks to stop. `cb` may be NULL (then only the count is kept).
 * @return ESPOTA_OK (also when nothing answered: see
 * espota_discover_found()), ESPOTA_ECANCELLED, ESPOTA_EUSER, ESPOTA_EIO
 * (no socket or no usable interface), ESPOTA_EINVAL.
 */
ESPOTA_EXTERN(int) espota_discover_browse(espota_discover *d, espota_discover_cb cb, void *payload) ESPOTA_NONNULL(1);

/**
 * Resolve a .local name ("dev.local" or "dev") to one address by mDNS A
 * and AAAA queries. `out` gets the numeric address text (size >= 46).
 * @return ESPOTA_OK, ESPOTA_ERESOLVE (no answer before the timeout),
 * ESPOTA_ECANCELLED, ESPOTA_EIO, ESPOTA_EINVAL.
 */
ESPOTA_EXTERN(int) espota_discover_resolve(espota_discover *d, const char *name,
	char *out, size_t outlen) ESPOTA_NONNULL(1, 2, 3);

/** Stop a running browse or resolve; thread-safe and async-signal-safe. */
ESPOTA_EXTERN(int) espota_discover_cancel(espota_discover *d);

/** Devices reported by the last browse. */
ESPOTA_EXTERN(size_t) espota_discover_found(const espota_discover *d);

/** mDNS packets sent by the last browse or resolve (all interfaces). */
ESPOTA_EXTERN(size_t) espota_discover_packets_sent(const espota_discover *d);

/** One-line detail of the last failure ("" after success). Never NULL. */
ESPOTA_EXTERN(const char *) espota_discover_last_error(const espota_discover *d);

/**
 * Guess the platform from a TXT board value and the OTA port: the board
 * database first, then the port (8266 / 3232). Pure.
 */
ESPOTA_EXTERN(espota_platform) espota_discover_guess_platform(const char *board, uint16_t port);

ESPOTA_END_DECL

#endif
