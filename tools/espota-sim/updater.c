/*
 * The device's Updater: esp8266/Arduino cores/esp8266/Updater.cpp and
 * arduino-esp32 libraries/Update/src/Updater.cpp, reduced to their
 * observable rules (flashfit.md 2 and 4.3, protocol.md 6). Error numbers
 * and texts are byte-exact; flash work returns its modelled duration.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint32_t ceil4k(uint32_t x)
{
	return (uint32_t)(((uint64_t)x + 4095u) & ~(uint64_t)4095u);
}

/* Esp.cpp magicFlashChipSize(): header size code -> bytes; unknown -> 0 */
static uint32_t magic_flash_size(unsigned code)
{
	switch (code) {
	case 0x0: return 512u * 1024;
	case 0x1: return 256u * 1024;
	case 0x2: return 1u << 20;
	case 0x3: return 2u << 20;
	case 0x4: return 4u << 20;
	case 0x8: return 8u << 20;
	case 0x9: return 16u << 20;
	default: return 0;
	}
}

const char *esp8266_err_text(int n)
{
	static const char *const t[] = {
		"No Error", "Flash Write Failed", "Flash Erase Failed", "Flash Read Failed",
		"Not Enough Space", "Bad Size Given", "Stream Read Timeout",
		"MD5 verification failed", "Flash config wrong", "new Flash config wrong",
		"Magic byte is not 0xE9",
		"Invalid bootstrapping state, reset ESP8266 before updating",
		"Signature verification failed", "No data supplied", "Out of memory",
		"Update already running", "Unknown update command"};
	return n >= 0 && n < (int)(sizeof t / sizeof *t) ? t[n] : "UNKNOWN";
}

const char *esp32_err_text(int n)
{
	static const char *const t[] = {
		"No Error", "Flash Write Failed", "Flash Erase Failed", "Flash Read Failed",
		"Not Enough Space", "Bad Size Given", "Stream Read Timeout", "MD5 Check Failed",
		"Wrong Magic Byte", "Could Not Activate The Firmware",
		"Partition Could Not be Found", "Bad Argument", "Aborted", "Decryption error",
		"Signature Verification Failed"};
	return n >= 0 && n < (int)(sizeof t / sizeof *t) ? t[n] : "UNKNOWN";
}

/* _reset(): the update is over; _error survives (printError reads it). */
void updater_reset(struct device *d)
{
	d->up.running = 0;
	d->up.size = 0;
	d->up.flushed = 0;
	d->up.buf_len = 0;
	d->up.start = 0;
}

static void set_error(struct device *d, int err)
{
	d->up.error = err;
	d->up.error_set = 1;
	updater_reset(d); /* both cores: any error invalidates the update */
}

int updater_begin(struct device *d, uint32_t size, int cmd)
{
	const struct config *cfg = &d->sim->cfg;
	struct updater *u = &d->up;
	memset(u, 0, sizeof *u);
	u->cmd = cmd;
	u->part = -1;

	if (!IS_ESP32(cfg->platform)) {
		/* order: 15 (never: one update at a time), 11, 5, 8, then 4/16 */
		if (cfg->bootstrap)
			return set_error(d, 11), 11;
		if (size == 0)
			return set_error(d, 5), 5;
		uint32_t sdk = cfg->flash_map ? cfg->chip_size : d->header_flash_size;
		if (cfg->chip_size < sdk)
			return set_error(d, 8), 8;
		uint32_t sr = ceil4k(d->sketch_size), r = ceil4k(size);
		uint32_t start;
		if (cmd == CMD_FLASH) {
			start = cfg->fs_start > r ? cfg->fs_start - r : 0;
			if (start < sr)
				return set_error(d, 4), 4;
		} else if (cmd == CMD_FS) {
			if ((uint64_t)cfg->fs_start + r > cfg->fs_end)
				return set_error(d, 4), 4;
			if (cfg->atomic_fs) {
				start = cfg->fs_start > r ? cfg->fs_start - r : 0;
				if (start < sr)
					return set_error(d, 4), 4;
			} else {
				start = cfg->fs_start;
			}
		} else {
			return set_error(d, 16), 16;
		}
		u->start = start;
	} else {
		if (size == 0)
			return set_error(d, 5), 5;
		int p;
		if (cmd == CMD_FLASH) {
			p = partition_next_update(cfg);
			if (p < 0)
				return set_error(d, 10), 10;
			/* The newest Updater (arduino-esp32 PR #12264) refuses the
			 * running slot, which next_update returns for a table with
			 * one OTA slot; cores up to 3.3.0 accept it and write into
			 * the code they run from (see esp32_flush). */
			if (cfg->platform == PLAT_ESP32 && p == cfg->running)
				return set_error(d, 10), 10;
		} else if (cmd == CMD_FS) {
			p = partition_fs(cfg);
			if (p < 0)
				return set_error(d, 10), 10;
		} else {
			return set_error(d, 11), 11;
		}
		if (size > cfg->parts[p].size)
			return set_error(d, 5), 5;
		u->part = p;
		u->start = cfg->parts[p].offset;
	}
	u->running = 1;
	u->size = size;
	u->error = 0;
	u->error_set = 0;
	return 0;
}

uint32_t updater_remaining(const struct device *d)
{
	return d->up.size - d->up.flushed;
}

int updater_finished(const struct device *d)
{
	return d->up.flushed == d->up.size;
}

static usec_t program_cost(const struct config *cfg, uint32_t len)
{
	return (usec_t)(((len + 255u) / 256u) * cfg->program_us);
}

/*
 * ESP8266 _writeBuffer(): erase the 4 KiB sector, program it. Writes beyond
 * the physical chip are assumed to fail in the SDK erase (flashfit.md 2.5,
 * UNCONFIRMED) -> error 2. Returns 0 on success.
 */
int updater_flush(struct device *d, usec_t *cost)
{
	const struct config *cfg = &d->sim->cfg;
	struct updater *u = &d->up;
	uint32_t addr = u->start + u->flushed;
	*cost = cfg->fast ? 0 : (usec_t)(cfg->erase_ms * 1000.0) + program_cost(cfg, u->buf_len);
	if ((uint64_t)addr + 4096u > cfg->chip_size) {
		set_error(d, 2);
		return -1;
	}
	u->flushed += u->buf_len;
	u->buf_len = 0;
	return 0;
}

/* ESP32 _writeBuffer() with the stream bytes of the buffer at `blk`. */
static int esp32_flush(struct device *d, const unsigned char *blk, usec_t *cost)
{
	const struct config *cfg = &d->sim->cfg;
	struct updater *u = &d->up;
	if (u->flushed == 0 && u->cmd == CMD_FLASH && blk[0] != 0xE9) {
		/* _writeBuffer() at progress 0: with the default U_AES_DECRYPT_AUTO
		 * (cores since PR #5807) a first block not starting with 0xE9 is
		 * taken as encrypted, and decrypting without a key fails (13);
		 * without decryption support the magic check fails (8) */
		set_error(d, cfg->no_decrypt ? 8 : 13);
		return -1;
	}
	if (u->cmd == CMD_FLASH && u->part == cfg->running) {
		/* the first erase hits the running app partition: the device
		 * crashes (PR #12264: "causes an immediate crash") */
		u->crashed = 1;
		return -1;
	}
	if (!cfg->fast) {
		uint64_t addr = u->start, pos = addr + u->flushed;
		const uint64_t blk64 = 65536;
		int block_erase = (u->size - u->flushed >= blk64) && pos % blk64 == 0;
		int head = addr % blk64 && pos < (addr / blk64 + 1) * blk64;
		int tail = (addr + u->size) / blk64 == pos / blk64;
		if (block_erase)
			*cost += (usec_t)(cfg->block_erase_ms * 1000.0);
		else if (head || tail)
			*cost += (usec_t)(cfg->erase_ms * 1000.0);
		/* empty (all 0xFF) blocks are skipped on unencrypted partitions */
		int empty = 1;
		for (uint32_t i = 0; i < u->buf_len; i++) {
			if (blk[i] != 0xFF) {
				empty = 0;
				break;
			}
		}
		if (!empty)
			*cost += program_cost(cfg, u->buf_len);
	}
	u->flushed += u->buf_len;
	u->buf_len = 0;
	return 0;
}

/*
 * ESP32 UpdateClass::write(buf, len). `data` points into the stream buffer,
 * so the 4 KiB device buffer is always the stream bytes just before it.
 * Note that remaining() ignores buffered bytes (upstream quirk, kept).
 */
uint32_t updater32_write(struct device *d, const unsigned char *data, uint32_t len, usec_t *cost)
{
	struct updater *u = &d->up;
	*cost = 0;
	if (u->error || !u->running)
		return 0;
	if (len > u->size - u->flushed) {
		set_error(d, 4);
		return 0;
	}
	uint32_t left = len;
	while (u->buf_len + left > 4096) {
		uint32_t to = 4096 - u->buf_len;
		u->buf_len += to;
		const unsigned char *blk = data + (len - left) + to - 4096;
		if (esp32_flush(d, blk, cost))
			return len - left;
		left -= to;
	}
	u->buf_len += left;
	if (u->buf_len == u->size - u->flushed) {
		if (esp32_flush(d, data + len - u->buf_len, cost))
			return len - left;
	}
	return len;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Update.end(). `image` holds the bytes written so far. Returns 1 on success. */
int updater_end(struct device *d, const unsigned char *image, size_t len)
{
	const struct config *cfg = &d->sim->cfg;
	struct updater *u = &d->up;
	/* the MD5 covers what was flushed; on a finished update that is `size`
	 * bytes even if an ESP32 read swallowed bytes beyond it */
	md5_hex(image, len < u->size ? len : u->size, u->calc_md5);

	if (!IS_ESP32(cfg->platform)) {
		if (u->size == 0) {
			updater_reset(d);
			return 0;
		}
		if (!u->flushed) {
			u->error = 13;
			u->error_set = 1;
		}
		if (u->error || !updater_finished(d)) {
			updater_reset(d);
			return 0;
		}
		uint32_t size = u->size;
		if (cfg->signing > 0) {
			/* a signing build verifies every command (U_FS too) and
			 * then skips the MD5 */
			/* The sim cannot verify RSA: accept iff the trailer matches. */
			uint32_t sig = size >= 4 ? le32(image + size - 4) : 0;
			if (size < 4 || sig != (uint32_t)cfg->signing ||
			    (int64_t)size - (int64_t)sig - 4 < 0) {
				set_error(d, 12);
				return 0;
			}
			size = size - sig - 4;
		} else if (u->target_md5[0]) {
			if (strcasecmp(u->target_md5, u->calc_md5) != 0) {
				set_error(d, 7);
				return 0;
			}
		}
		if (u->cmd == CMD_FLASH) {
			if (len >= 2 && image[0] == 0x1F && image[1] == 0x8B) {
				/* gzip: accepted without the flash-size check */
			} else if (len < 1 || image[0] != 0xE9) {
				set_error(d, 10);
				return 0;
			} else if (!cfg->flash_map && len >= 4 &&
				   magic_flash_size(image[3] >> 4) > cfg->chip_size) {
				set_error(d, 9);
				return 0;
			}
			if (cfg->adopt && image[0] == 0xE9) {
				d->sketch_size = size;
				if (!cfg->flash_map && len >= 4)
					d->header_flash_size = magic_flash_size(image[3] >> 4);
			}
		}
		updater_reset(d);
		return 1;
	}

	/* ESP32 */
	if (u->error || u->size == 0)
		return 0;
	if (!updater_finished(d)) {
		set_error(d, 12);
		return 0;
	}
	if (u->target_md5[0]) {
		char want[33];
		for (int i = 0; i < 33; i++)
			want[i] = (char)((u->target_md5[i] >= 'A' && u->target_md5[i] <= 'Z')
						 ? u->target_md5[i] + 32 : u->target_md5[i]);
		if (strcmp(want, u->calc_md5) != 0) {
			set_error(d, 7);
			return 0;
		}
	}
	if (u->cmd == CMD_FLASH) {
		/* _verifyEnd(): esp_ota_set_boot_partition() checks the image,
		 * then records the slot in otadata; either failing is 9 */
		const struct partition *p = &cfg->parts[u->part];
		if (esp32_image_verify(image, len < u->size ? len : u->size, p->size, cfg->chip_id,
				       u->why, sizeof u->why)) {
			set_error(d, 9);
			return 0;
		}
		if (!partition_otadata_ok(cfg, u->part)) {
			snprintf(u->why, sizeof u->why, "no otadata partition, or %s is not a usable OTA slot",
				 p->name);
			set_error(d, 9);
			return 0;
		}
	}
	updater_reset(d);
	return 1;
}

/* The text the firmware prints on the TCP connection after end() failed. */
void updater_error_wire(const struct device *d, char *out, size_t outsz)
{
	const struct config *cfg = &d->sim->cfg;
	const struct updater *u = &d->up;
	if (IS_ESP32(cfg->platform)) {
		snprintf(out, outsz, "%s\r\n", esp32_err_text(u->error));
		return;
	}
	switch (u->error) {
	case 7:
		snprintf(out, outsz, "ERROR[7]: MD5 verification failed: expected: %s, calculated: %s\n",
			 u->target_md5, u->calc_md5);
		break;
	case 8:
		snprintf(out, outsz, "ERROR[8]: Flash config wrong: real: %u, SDK: %u\n",
			 cfg->chip_size, cfg->flash_map ? cfg->chip_size : d->header_flash_size);
		break;
	case 9:
		snprintf(out, outsz, "ERROR[9]: new Flash config wrong, real size: %u\n", cfg->chip_size);
		break;
	default:
		snprintf(out, outsz, "ERROR[%d]: %s\n", u->error, esp8266_err_text(u->error));
	}
}
