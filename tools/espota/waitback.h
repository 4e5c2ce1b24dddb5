/* espota CLI: --wait-back, waiting until a device answers again (waitback.c). */
#ifndef ESPOTA_CLI_WAITBACK_H
#define ESPOTA_CLI_WAITBACK_H

#include <stddef.h>
#include <stdint.h>

/* 0: answered after *back_s seconds; 1: no answer within limit_s; -1: error (err). */
int cli_wait_back(const char *host, uint16_t port, double limit_s, double *back_s,
	char *err, size_t errlen);

#endif
