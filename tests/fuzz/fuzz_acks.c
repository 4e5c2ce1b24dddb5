/*
 * The acknowledgement rule (acks.c) with the platform, the image length and
 * the sender's progress as inputs: never a total above what was sent, never
 * an out-of-bounds reading, and an honest reading of its own digits found.
 * Differential: where the online set kept every reading (no cap) and the
 * platform is known, the exact decision over the digit log agrees with it.
 *
 * The running figure (espota__acks_running, espota__acks_caught_up) never
 * goes back and never passes what was sent.
 *
 * Input: platform byte, 3 bytes of image length, then pairs (step, digit):
 * step advances what was sent, digit is fed ('x' closes the count).
 */
#include "fuzz.h"

#include "proto/acks.h"

static espota__acks a;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	espota_platform platform;
	uint64_t len, sent = 0, fig = 0;
	size_t i;
	int closed_mid = 0;

	if (size < 4)
		return 0;
	platform = (espota_platform)(data[0] % 3);
	len = 1 + ((uint64_t)data[1] << 16 | (uint64_t)data[2] << 8 | data[3]);
	espota__acks_free(&a);
	espota__acks_init(&a, platform, len);
	for (i = 4; i + 1 < size; i += 2) {
		sent += data[i] * 64u;
		if (sent > len)
			sent = len;
		if (data[i + 1] == 'x') {
			espota__acks_close(&a);
			closed_mid = 1; /* the engine closes only at the end: the log has no closes */
		}
		else
			espota__acks_digit(&a, (char)('0' + data[i + 1] % 10), sent);
		FUZZ_ASSERT(a.set[0].n <= ESPOTA__ACKS_STATES && a.set[1].n <= ESPOTA__ACKS_STATES);
		FUZZ_ASSERT(espota__acks_best(&a) <= sent);
		if (data[i] & 1) { /* a read ends here: the engine's figure */
			uint64_t f;
			espota__acks_boundary(&a);
			f = espota__acks_running(&a, sent);
			FUZZ_ASSERT(f >= fig && f <= sent);
			fig = f;
			if (sent <= 65536 && (data[i] & 2) && espota__acks_caught_up(&a, sent)) {
				FUZZ_ASSERT(a.running == sent);
				fig = sent;
			}
			FUZZ_ASSERT(a.running == fig);
		}
	}
	espota__acks_close(&a);
	FUZZ_ASSERT(espota__acks_best(&a) <= len);
	if (espota__acks_can_total(&a, len))
		FUZZ_ASSERT(!espota__acks_dead(&a));
	if (len <= 65536) { /* bitsets of a few KB keep the fuzzer fast */
		uint64_t best = 0;
		int x = espota__acks_exact(&a, len), xb = espota__acks_exact_best(&a, len, &best);
		FUZZ_ASSERT(x == xb);
		FUZZ_ASSERT(best <= len);
		FUZZ_ASSERT(x != 1 || best == len);
		if (!a.dropped && !closed_mid && x >= 0)
			FUZZ_ASSERT(x == espota__acks_can_total(&a, len));
	}
	/* an honest device: its own count of the whole image, in one piece */
	{
		char num[24];
		int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)len), k;
		espota__acks_free(&a);
		espota__acks_init(&a, platform, len);
		for (k = 0; k < n; k++)
			espota__acks_digit(&a, num[k], len);
		espota__acks_close(&a);
		FUZZ_ASSERT(platform == ESPOTA_PLATFORM_ESP32 && len > 1460 ?
			!espota__acks_can_total(&a, len) : espota__acks_can_total(&a, len));
		FUZZ_ASSERT(len > 65536 || espota__acks_exact(&a, len) == espota__acks_can_total(&a, len));
	}
	espota__acks_free(&a);
	return 0;
}
