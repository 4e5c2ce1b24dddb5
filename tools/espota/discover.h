/*
 * espota CLI - `espota discover` and `--board auto` (mDNS through libespota).
 */
#ifndef ESPOTA_CLI_DISCOVER_H
#define ESPOTA_CLI_DISCOVER_H

#include <stddef.h>

/* Exit code of `espota discover` when no device answered. */
#define CLI_EXIT_NONE_FOUND 9

/* `espota discover ...`; argv[0] is "discover". Returns the exit code. */
int cli_discover_main(int argc, char **argv);

/* --board auto: the TXT board of the device `host` (its address, host
 * name or instance name) by an mDNS browse. 0, or -1 with a reason. */
int cli_discover_board(const char *host, char *board, size_t boardlen, char *err, size_t errlen);

#endif
