/*
 * libespota - common macros: symbol export, attributes, C++ guards.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef INCLUDE_espota_common_h__
#define INCLUDE_espota_common_h__

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
# define ESPOTA_BEGIN_DECL extern "C" {
# define ESPOTA_END_DECL   }
#else
# define ESPOTA_BEGIN_DECL /* empty */
# define ESPOTA_END_DECL   /* empty */
#endif

/*
 * ESPOTA_EXTERN(type) declares an exported function. The library is built
 * with hidden visibility (ESPOTA_BUILDING defined), so only what is marked
 * here is visible in the shared object.
 */
#if defined(_WIN32)
# if defined(ESPOTA_BUILDING)
#  define ESPOTA_EXTERN(type) __declspec(dllexport) type
# else
#  define ESPOTA_EXTERN(type) __declspec(dllimport) type
# endif
#elif defined(__GNUC__) && __GNUC__ >= 4
# define ESPOTA_EXTERN(type) extern __attribute__((visibility("default"))) type
#else
# define ESPOTA_EXTERN(type) extern type
#endif

/*
 * GCC/Clang attributes; neutral for SWIG and other compilers. Inside the
 * library nonnull is off: its functions still check for NULL and return
 * ESPOTA_EINVAL, which the attribute would let the compiler delete.
 */
#if defined(__GNUC__) && !defined(SWIG)
# define ESPOTA_WARN_UNUSED __attribute__((warn_unused_result))
#else
# define ESPOTA_WARN_UNUSED
#endif
#if defined(__GNUC__) && !defined(SWIG) && !defined(ESPOTA_BUILDING)
# define ESPOTA_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#else
# define ESPOTA_NONNULL(...)
#endif

/** Default UDP port of ArduinoOTA on ESP8266. */
#define ESPOTA_PORT_ESP8266 8266
/** Default UDP port of ArduinoOTA on ESP32. */
#define ESPOTA_PORT_ESP32 3232

ESPOTA_BEGIN_DECL

/** Which device family a value refers to. */
typedef enum espota_platform {
	ESPOTA_PLATFORM_UNKNOWN = 0,
	ESPOTA_PLATFORM_ESP8266 = 1,
	ESPOTA_PLATFORM_ESP32 = 2
} espota_platform;

/** What the upload writes: the application (sketch) or the filesystem. */
typedef enum espota_target {
	ESPOTA_TARGET_APP = 0,  /**< invitation command 0 (U_FLASH) */
	ESPOTA_TARGET_FS = 100  /**< invitation command 100 (U_FS / U_SPIFFS, espota -s) */
} espota_target;

ESPOTA_END_DECL

#endif
