/*
 * Internal: the device Updater's error tables (protocol.md section 6).
 */
#ifndef ESPOTA_SRC_DEVICE_ERRORS_H
#define ESPOTA_SRC_DEVICE_ERRORS_H

#include "espota/errors.h"

/* Canonical text of Updater error `code` on `platform`; "UNKNOWN" if none.
 * ESP8266 codes 7, 8 and 9 carry numbers on the wire; this is the text
 * before them ("MD5 verification failed", "Flash config wrong", ...). */
const char *espota__updater_error_text(espota_platform platform, int code);

/* Symbolic name ("SPACE"), "UNKNOWN" if none. */
const char *espota__updater_error_name(espota_platform platform, int code);

#endif

/*
 * How far the device's status text (everything after the acknowledgement
 * digits) is from a valid one: 0 = cannot become valid, 1 = valid prefix,
 * wait for more, 2 = complete "OK", 3 = complete error line.
 */
int espota__status_classify(const char *s, size_t n);
