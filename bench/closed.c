/*
 * espota-closed: a closed-form lower bound on the time of one ArduinoOTA
 * upload, from the device's documented behaviour alone (bench/RESULTS.md,
 * "An independent limit", has the derivation). It shares no code and no
 * constant table with tools/espota-sim or bench/limit.c: every figure below
 * is restated from its source, and the formula is not a simulation.
 *
 *   espota-closed --platform esp8266|esp32 --rtt MS --window BYTES --image FILE
 *                 [--bandwidth B/s]
 *
 * Prints "closed size=N total=S data=S flash=S rounds=K" (seconds).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Winbond W25Q32JV datasheet, typical: sector erase tSE, page program tPP,
 * 64 KiB block erase tBE2. */
#define T_SE 0.045
#define T_PP 0.0007
#define T_BE 0.150
#define SECTOR 4096.0
#define PAGE 256.0
#define BLOCK64 65536.0
/* ArduinoOTA (ESP8266): delay(100) between the UDP OK and the connect;
 * success: wait 1000 ms, OK, wait 1000 ms, close (our protocol spec, 11;
 * see RESULTS.md for what the upstream source shows). */
#define ESP8266_PRE_CONNECT 0.100
#define ESP8266_END 2.000

struct in {
	int esp32;
	double rtt, bandwidth;
	double window;
	const unsigned char *img;
	size_t n;
};

static int all_ff(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0xFF)
			return 0;
	return 1;
}

/* Round trips a device with window w needs, after a stall that left it
 * holding at most w unread bytes, until it holds `need` bytes: each further
 * w needs a window update to reach the host and data to come back. */
static double rounds(double need, double w)
{
	double k = ceil(need / w) - 1;
	return k > 0 ? k : 0;
}

int main(int argc, char **argv)
{
	struct in x;
	const char *path = NULL;
	memset(&x, 0, sizeof x);
	x.rtt = -1;
	x.bandwidth = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--platform") == 0) x.esp32 = strncmp(argv[i + 1], "esp32", 5) == 0;
		else if (strcmp(argv[i], "--rtt") == 0) x.rtt = atof(argv[i + 1]) / 1000.0;
		else if (strcmp(argv[i], "--window") == 0) x.window = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--bandwidth") == 0) x.bandwidth = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--image") == 0) path = argv[i + 1];
		else if (strcmp(argv[i], "--mss") == 0) continue; /* not part of the bound */
		else {
			fprintf(stderr, "espota-closed: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (x.rtt < 0 || x.window <= 0 || !path) {
		fprintf(stderr, "usage: espota-closed --platform P --rtt MS --window B --image F\n");
		return 2;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	unsigned char *img = NULL;
	size_t cap = 0, n = 0, r;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			unsigned char *q = realloc(img, cap);
			if (!q) {
				fclose(f);
				free(img);
				return 1;
			}
			img = q;
		}
		r = fread(img + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	if (n == 0)
		return 1;

	double R = x.rtt, d = R / 2, N = (double)n;
	double nb = ceil(N / SECTOR), last = N - SECTOR * (nb - 1);
	double flash = 0, k, klast, first, end;

	/* 1. Before the first byte: the invitation reaches the device (d); the
	 * device's SYN reaches the host d after it connects, the SYN-ACK goes
	 * back and the host accepts on the ACK (R); the first byte takes d. */
	if (x.esp32)
		first = d + d + R + d; /* ESP32 connects in the next handle(): >= 0 later */
	else
		first = d + ESP8266_PRE_CONNECT + d + R + d;

	/* 2. Flash, a serial resource: nothing is read while it works. */
	for (double b = 0; b < nb; b++) {
		size_t off = (size_t)(b * SECTOR), len = (size_t)(b == nb - 1 ? last : SECTOR);
		if (!x.esp32) {
			flash += T_SE + ceil((double)len / PAGE) * T_PP;
		} else {
			/* the ESP32 Updater erases 64 KiB blocks where one fits, and
			 * skips programming a block that is all 0xFF */
			if (!all_ff(img + off, len))
				flash += ceil((double)len / PAGE) * T_PP;
		}
	}
	if (x.esp32) {
		double full = floor(N / BLOCK64), tail = N - full * BLOCK64;
		flash += full * T_BE;
		if (tail > 0)
			flash += fmin(T_BE, ceil(tail / SECTOR) * T_SE);
	}

	/* 3. Between flushes the device must gather the next buffer. After a
	 * flush it holds at most `window` unread bytes (its receive window),
	 * and each further window costs a round trip. ESP8266 flushes a full
	 * 4 KiB buffer lazily, on the first byte of the next block (4097 bytes
	 * needed); ESP32 flushes as the buffer fills (4096). The last buffer
	 * is flushed at the exact end. */
	double need = x.esp32 ? SECTOR : SECTOR + 1;
	k = rounds(need, x.window);
	klast = rounds(last, x.window);
	double data = flash + (nb > 1 ? (nb - 1) * k * R : 0) + klast * R;
	/* 3b. The window alone: byte i can arrive only a round trip after
	 * byte i - window was read, so the last byte comes no sooner than
	 * (ceil(N / window) - 1) round trips after the first. */
	double wr = (ceil(N / x.window) - 1) * R;
	if (wr > data)
		data = wr;
	if (x.bandwidth > 0 && N / x.bandwidth > data)
		data = N / x.bandwidth;

	/* 4. After the last flush: ESP8266 waits, says OK, waits and closes;
	 * ESP32 says OK and closes at once. The end of stream takes d. */
	end = (x.esp32 ? 0 : ESP8266_END) + d;

	printf("closed size=%zu total=%.4f data=%.4f flash=%.4f rounds=%.0f first=%.4f\n", n,
		first + data + end, data, flash, (nb > 1 ? (nb - 1) * k : 0) + klast, first);
	free(img);
	return 0;
}
