/*
 * Board aliases: the flash size, layout (ESP8266) or partition scheme
 * (ESP32) and flash mode a board gets by default in PlatformIO or the
 * Arduino IDE. Sources per row; rows marked UNCONFIRMED follow the common
 * default but were not read from the board files (flashfit.md section 0
 * lists what was).
 */
#include "espota/flashfit.h"
#include "image_internal.h"
#include "util.h"

#define MB (1024u * 1024u)
#define QIO 0
#define DIO 2
#define DOUT 3

static const espota_board boards[] = {
	/* platform-espressif8266 boards/<name>.json (flashfit.md 3.4): ldscript,
	 * flash_mode. */
	{ "esp8285", "Generic ESP8285 Module (PlatformIO)", ESPOTA_PLATFORM_ESP8266, 1 * MB, "1M256", DOUT },
	{ "esp01_1m", "Espressif Generic ESP8266 ESP-01 1M (PlatformIO)", ESPOTA_PLATFORM_ESP8266, 1 * MB, "1M256", QIO },
	{ "sonoff_basic", "Sonoff Basic (PlatformIO)", ESPOTA_PLATFORM_ESP8266, 1 * MB, "1M256", DOUT },
	{ "nodemcuv2", "NodeMCU 1.0 (ESP-12E Module) (PlatformIO)", ESPOTA_PLATFORM_ESP8266, 4 * MB, "4M1M", DIO },
	{ "d1_mini", "WeMos D1 R2 and mini (PlatformIO)", ESPOTA_PLATFORM_ESP8266, 4 * MB, "4M1M", DIO },
	/* Arduino IDE boards.txt, first eesz menu entry (flashfit.md 3.2):
	 * generic ESP8285 and ITEAD Sonoff -> 1M64; NodeMCU 1.0 -> 4M2M.
	 * Flash modes: ESP8285 is DOUT by construction (flash in package);
	 * NodeMCU DIO. */
	{ "esp8285_ide", "Generic ESP8285 Module (Arduino IDE default)", ESPOTA_PLATFORM_ESP8266, 1 * MB, "1M64", DOUT },
	{ "sonoff", "ITEAD Sonoff (Arduino IDE default)", ESPOTA_PLATFORM_ESP8266, 1 * MB, "1M64", DOUT },
	{ "nodemcu", "NodeMCU 1.0 (ESP-12E Module) (Arduino IDE default)", ESPOTA_PLATFORM_ESP8266, 4 * MB, "4M2M", DIO },
	/* Generic ESP8266 Module, Arduino IDE: 1 MB with the 64 KB filesystem
	 * and DOUT are the first menu entries. UNCONFIRMED: not read from
	 * boards.txt for this board. */
	{ "generic", "Generic ESP8266 Module (Arduino IDE default, unconfirmed)", ESPOTA_PLATFORM_ESP8266, 1 * MB, "1M64", DOUT },
	/* platform-espressif32 / arduino-esp32: 4 MB boards use the default
	 * partition scheme (default.csv, flashfit.md 4.4), DIO. UNCONFIRMED:
	 * the board files were not read. */
	{ "esp32dev", "Espressif ESP32 Dev Module (PlatformIO, unconfirmed)", ESPOTA_PLATFORM_ESP32, 4 * MB, "default", DIO },
	{ "esp32", "ESP32 Dev Module (Arduino IDE default, unconfirmed)", ESPOTA_PLATFORM_ESP32, 4 * MB, "default", DIO },
	{ "nodemcu-32s", "NodeMCU-32S (PlatformIO, unconfirmed)", ESPOTA_PLATFORM_ESP32, 4 * MB, "default", DIO },
};

size_t espota_board_count(void)
{
	return sizeof(boards) / sizeof(boards[0]);
}

const espota_board *espota_board_at(size_t i)
{
	return i < espota_board_count() ? &boards[i] : NULL;
}

const espota_board *espota_board_find(const char *name)
{
	size_t i;
	if (name == NULL)
		return NULL;
	for (i = 0; i < espota_board_count(); i++)
		if (espota__strcaseeq(name, boards[i].name))
			return &boards[i];
	return NULL;
}
