/*
 * espota CLI - password sources and wiping.
 */
#include "secret.h"

#include <espota.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

void cli_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

void cli_secret_free(char *s)
{
	if (s == NULL)
		return;
	cli_wipe(s, strlen(s));
	free(s);
}

char *cli_secret_dup(const char *s)
{
	size_t n = strlen(s);
	char *d = malloc(n + 1);

	if (d != NULL)
		memcpy(d, s, n + 1);
	return d;
}

/* Password files are small; the library's reader refuses FIFOs, directories
 * and devices before reading (so a FIFO cannot hang the CLI). */
#define SECRET_FILE_MAX ((size_t)64 * 1024)

int cli_secret_read_file(const char *path, char **out, int *insecure, char *err, size_t errlen)
{
	espota_file *f = NULL;
	const unsigned char *buf;
	struct stat st;
	size_t len = 0, i;
	int rc;

	*out = NULL;
	if (insecure != NULL)
		*insecure = 0;
	rc = espota_file_read(&f, path, SECRET_FILE_MAX);
	if (rc < 0) {
		snprintf(err, errlen, "password file: %s", f != NULL ? espota_file_error(f) : espota_strerror(rc));
		espota_file_free(f);
		return -1;
	}
	buf = espota_file_data(f, &len);
	if (insecure != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0)
		*insecure = 1;
	/* The first line, at most 1023 bytes, as before. */
	for (i = 0; i < len && i < 1023; i++)
		if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\0')
			break;
	*out = malloc(i + 1);
	if (*out != NULL) {
		memcpy(*out, buf, i);
		(*out)[i] = '\0';
	}
	espota_file_free(f); /* wipes the bytes */
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* State of an active prompt, for the signal handler. */
static volatile sig_atomic_t prompt_active;
static volatile sig_atomic_t prompt_interrupted; /* a signal came: stop reading */
static int prompt_fd = -1;
static struct termios prompt_saved;

void cli_secret_restore_tty(void)
{
	prompt_interrupted = 1;
	if (prompt_active && prompt_fd >= 0)
		tcsetattr(prompt_fd, TCSAFLUSH, &prompt_saved);
}

int cli_secret_prompt(const char *prompt, char **out)
{
	char buf[512];
	struct termios t;
	size_t len = 0;
	int fd, rc = 0, echo_off = 0;

	*out = NULL;
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 1;
	if (tcgetattr(fd, &t) == 0) {
		prompt_saved = t;
		prompt_fd = fd;
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		t.c_lflag |= ICANON;
		prompt_active = 1;
		if (tcsetattr(fd, TCSAFLUSH, &t) == 0)
			echo_off = 1;
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		/* Nothing useful to do; reading still works. */
	}
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char c;
		ssize_t got;

		/* A signal between the prompt and read() would not interrupt
		 * it: wait in short steps and look at the flag between them. */
		if (prompt_interrupted) {
			rc = -1;
			break;
		}
		int ready = poll(&pfd, 1, 200);
		if (ready < 0 && errno != EINTR) {
			rc = -1;
			break;
		}
		if (ready <= 0)
			continue;
		got = read(fd, &c, 1);
		if (got < 0 && errno == EAGAIN)
			continue;
		if (got < 0) {
			rc = -1; /* EINTR from SIGINT: the handler cancels */
			break;
		}
		if (got == 0) {
			rc = 1;
			break;
		}
		if (c == '\n' || c == '\r')
			break;
		if (len < sizeof(buf) - 1)
			buf[len++] = c;
	}
	buf[len] = '\0';
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &prompt_saved);
	prompt_active = 0;
	prompt_fd = -1;
	if (write(fd, "\n", 1) < 0) {
		/* ignore */
	}
	close(fd);
	if (rc == 0) {
		*out = cli_secret_dup(buf);
		if (*out == NULL)
			rc = -1;
	}
	cli_wipe(buf, sizeof(buf));
	return rc;
}
