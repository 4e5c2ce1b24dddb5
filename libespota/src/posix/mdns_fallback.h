/*
 * Internal: resolve NAME.local by our own mDNS query when the system
 * resolver could not (no nss-mdns / Avahi on the host).
 */
#ifndef ESPOTA_SRC_MDNS_FALLBACK_H
#define ESPOTA_SRC_MDNS_FALLBACK_H

#include <stddef.h>

/* `host` must end in ".local"; else ESPOTA_ERESOLVE at once. On success
 * `out` holds the numeric address. */
int espota__mdns_fallback(const char *host, char *out, size_t outlen, char *err, size_t errlen);

#endif
