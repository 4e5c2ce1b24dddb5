/*
 * libespota - host-side library for the Arduino OTA ("espota") protocol
 * used by ESP8266 and ESP32 boards.
 *
 * libespota has no global or static mutable state and needs no
 * initialisation. A session may be used by one thread at a time; distinct
 * sessions may run concurrently. espota_image_*, espota_fit_*,
 * espota_layout_*, espota_board_*, espota_strerror and the version functions
 * are pure and thread-safe. See docs/threading.md.
 */
#ifndef INCLUDE_espota_h__
#define INCLUDE_espota_h__

#include "espota/common.h"
#include "espota/version.h"
#include "espota/errors.h"
#include "espota/session.h"
#include "espota/upload.h"
#include "espota/image.h"
#include "espota/flashfit.h"
#include "espota/device.h"
#include "espota/multi.h"
#include "espota/fleet.h"
#include "espota/file.h"
#include "espota/discover.h"
#include "espota/hint.h"

#endif
