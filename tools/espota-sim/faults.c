/*
 * Fault injection. Syntax: NAME[=VALUE][@DEV][*TIMES]
 *   @DEV    apply to instance DEV only (default: every instance)
 *   *TIMES  apply to the first TIMES upload attempts of an instance only
 *           (e.g. drop-after=4096*1: the first attempt is cut, the retry works)
 */
#include "sim.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; enum fault_kind kind; int needs; } names[] = {
	{"drop-after", F_DROP_AFTER, 1},       {"stall-after", F_STALL_AFTER, 1},
	{"ack-garbage", F_ACK_GARBAGE, 0},     {"ack-truncate", F_ACK_TRUNCATE, 0},
	{"ack-dup", F_ACK_DUP, 0},             {"no-invite-reply", F_NO_INVITE_REPLY, 0},
	{"no-connect", F_NO_CONNECT, 0},       {"no-final-ok", F_NO_FINAL_OK, 0},
	{"connect-from", F_CONNECT_FROM, 2},   {"double-invite-reply", F_DOUBLE_INVITE_REPLY, 0},
	{"drop-udp-reply", F_DROP_UDP_REPLY, 1},
};

int fault_parse(struct config *cfg, const char *spec, char *err, size_t errsz)
{
	if (cfg->nfaults == (int)(sizeof cfg->faults / sizeof *cfg->faults)) {
		snprintf(err, errsz, "too many --fault options");
		return -1;
	}
	char buf[256];
	snprintf(buf, sizeof buf, "%s", spec);
	struct fault f;
	memset(&f, 0, sizeof f);
	f.dev = -1;
	f.times = -1;
	char *star = strrchr(buf, '*');
	if (star) {
		*star = '\0';
		char *end;
		long v = strtol(star + 1, &end, 10);
		if (end == star + 1 || *end || v < 0) {
			snprintf(err, errsz, "--fault %s: bad *TIMES", spec);
			return -1;
		}
		f.times = (int)v;
	}
	char *at = strrchr(buf, '@');
	if (at) {
		*at = '\0';
		char *end;
		long v = strtol(at + 1, &end, 10);
		if (end == at + 1 || *end || v < 0) {
			snprintf(err, errsz, "--fault %s: bad @DEV", spec);
			return -1;
		}
		f.dev = (int)v;
	}
	char *eq = strchr(buf, '=');
	if (eq)
		*eq++ = '\0';
	size_t i;
	for (i = 0; i < sizeof names / sizeof *names; i++)
		if (!strcmp(buf, names[i].name))
			break;
	if (i == sizeof names / sizeof *names) {
		snprintf(err, errsz, "--fault %s: unknown fault '%s'", spec, buf);
		return -1;
	}
	f.kind = names[i].kind;
	if (names[i].needs && !eq) {
		snprintf(err, errsz, "--fault %s: needs a value", spec);
		return -1;
	}
	if (!names[i].needs && eq) {
		snprintf(err, errsz, "--fault %s: takes no value", spec);
		return -1;
	}
	if (names[i].needs == 1) {
		char *end;
		long long v = strtoll(eq, &end, 10);
		if (end == eq || *end || v < 0) {
			snprintf(err, errsz, "--fault %s: bad number", spec);
			return -1;
		}
		f.value = v;
	} else if (names[i].needs == 2) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&f.addr;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&f.addr;
		if (inet_pton(AF_INET, eq, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			f.addrlen = sizeof *a4;
		} else if (inet_pton(AF_INET6, eq, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			f.addrlen = sizeof *a6;
		} else {
			snprintf(err, errsz, "--fault %s: bad address", spec);
			return -1;
		}
	}
	cfg->faults[cfg->nfaults++] = f;
	return 0;
}

/* The fault of kind k active for this device's current upload attempt. */
const struct fault *fault_get(const struct device *d, enum fault_kind k)
{
	const struct config *cfg = &d->sim->cfg;
	for (int i = 0; i < cfg->nfaults; i++) {
		const struct fault *f = &cfg->faults[i];
		if (f->kind != k || (f->dev >= 0 && f->dev != d->index))
			continue;
		/* attempts count from 1; while the device is idle (handshake
		 * faults) the attempt in question is the next one */
		long att = d->attempt + (d->fw == FW_IDLE ? 1 : 0);
		if (f->times >= 0 && att > f->times)
			continue;
		return f;
	}
	return NULL;
}
