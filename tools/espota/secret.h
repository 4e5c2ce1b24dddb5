/*
 * espota CLI - password sources and wiping.
 */
#ifndef ESPOTA_CLI_SECRET_H
#define ESPOTA_CLI_SECRET_H

#include <stddef.h>

/* Overwrite n bytes with zeros in a way the compiler cannot drop. */
void cli_wipe(void *p, size_t n);

/* Wipe and free a NUL-terminated secret; NULL is ignored. */
void cli_secret_free(char *s);

/* Copy a secret (malloc); NULL on failure. */
char *cli_secret_dup(const char *s);

/*
 * Read the first line of `path` (without CR/LF) into a new buffer. Sets
 * *insecure when the file is readable by group or others. Returns 0, or -1
 * with a message in err.
 */
int cli_secret_read_file(const char *path, char **out, int *insecure, char *err, size_t errlen);

/*
 * Prompt on the controlling terminal with echo off. Returns 0 with a new
 * buffer in *out, 1 when no terminal is available or input ended, -1 when
 * interrupted.
 */
int cli_secret_prompt(const char *prompt, char **out);

/* Restore the terminal if a prompt is active; async-signal-safe. */
void cli_secret_restore_tty(void);

#endif
