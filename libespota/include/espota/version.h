/*
 * libespota - version information, as macros and as functions (for
 * bindings and for checking the library actually loaded at run time).
 */
#ifndef INCLUDE_espota_version_h__
#define INCLUDE_espota_version_h__

#include "common.h"

/* The SONAME is libespota.so.<MAJOR> (docs/api.md, "ABI and SONAME"). */
#define ESPOTA_VERSION_MAJOR 1
#define ESPOTA_VERSION_MINOR 0
#define ESPOTA_VERSION_PATCH 0
#define ESPOTA_VERSION_STRING "1.0.0"

ESPOTA_BEGIN_DECL

/** Version of the loaded library, e.g. "1.0.0". Thread-safe. */
ESPOTA_EXTERN(const char *) espota_version_string(void);

/** Version numbers of the loaded library; any pointer may be NULL. */
ESPOTA_EXTERN(void) espota_version(int *major, int *minor, int *patch);

ESPOTA_END_DECL

#endif
