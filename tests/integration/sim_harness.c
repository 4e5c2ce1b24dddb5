/* See sim_harness.h. POSIX only; bounded waits everywhere. */
#include "sim_harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ESPOTA_SIM_PATH
#define ESPOTA_SIM_PATH "espota-sim"
#endif

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void rm_rf(const char *dir)
{
	/* the layout is known and shallow: out/devN/x.bin at most */
	char cmd[600];
	if (!dir[0] || strncmp(dir, "/tmp/", 5) != 0)
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "sim_harness: could not remove %s\n", dir);
}

static int reap(sim_harness *h, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		int st;
		pid_t r = waitpid(h->pid, &st, WNOHANG);
		if (r == h->pid) {
			h->exit_status = st;
			h->pid = 0;
			return 0;
		}
		if (r < 0 && errno != EINTR) {
			h->pid = 0;
			return 0;
		}
		sleep_ms(10);
	}
	return -1;
}

int sim_start(sim_harness *h, const char *const *args)
{
	memset(h, 0, sizeof *h);
	snprintf(h->dir, sizeof h->dir, "/tmp/espota-sim-XXXXXX");
	if (!mkdtemp(h->dir))
		return -1;
	char ready[300], logp[300], out[300];
	snprintf(ready, sizeof ready, "%s/ready", h->dir);
	snprintf(logp, sizeof logp, "%s/log.jsonl", h->dir);
	snprintf(out, sizeof out, "%s/out", h->dir);
	mkdir(out, 0777);

	const char *bin = getenv("ESPOTA_SIM");
	if (!bin || !*bin)
		bin = ESPOTA_SIM_PATH;
	size_t n = 0;
	while (args && args[n])
		n++;
	const char **argv = calloc(n + 8, sizeof *argv);
	if (!argv)
		return -1;
	size_t k = 0;
	argv[k++] = bin;
	for (size_t i = 0; i < n; i++)
		argv[k++] = args[i];
	argv[k++] = "--ready-file";
	argv[k++] = ready;
	argv[k++] = "--log";
	argv[k++] = logp;
	argv[k++] = "--out-dir";
	argv[k++] = out;
	argv[k] = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		free(argv);
		return -1;
	}
	if (pid == 0) {
		/* Die with the test: an aborting test must not leave a device
		 * running that keeps CTest's output pipe open. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(bin, (char *const *)argv);
		fprintf(stderr, "sim_harness: cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	free(argv);
	h->pid = pid;
	for (int waited = 0; waited < 5000; waited += 10) {
		FILE *f = fopen(ready, "r");
		if (f) {
			int idx, port;
			char addr[64];
			while (h->count < SIM_MAX_INSTANCES && fscanf(f, "%d %63s %d", &idx, addr, &port) == 3) {
				if (idx < 0 && strcmp(addr, "mdns") == 0) { /* --mdns responder port */
					h->mdns_port = port;
					continue;
				}
				h->ports[h->count] = port;
				snprintf(h->addrs[h->count], sizeof h->addrs[0], "%s", addr);
				h->count++;
			}
			fclose(f);
			return h->count > 0 ? 0 : (sim_stop(h), -1);
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			h->pid = 0;
			h->exit_status = st;
			rm_rf(h->dir);
			return -1;
		}
		sleep_ms(10);
	}
	sim_stop(h);
	return -1;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, n = 0;
	unsigned char *buf = malloc(cap + 1);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		unsigned char *nb = realloc(buf, cap * 2 + 1);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	fclose(f);
	if (buf) {
		buf[n] = 0;
		if (len)
			*len = n;
	}
	return buf;
}

unsigned char *sim_read_image(const sim_harness *h, int dev, const char *name, size_t *len)
{
	char path[600];
	if (h->count > 1 || dev > 0)
		snprintf(path, sizeof path, "%s/out/dev%d/%s", h->dir, dev, name);
	else
		snprintf(path, sizeof path, "%s/out/%s", h->dir, name);
	return slurp(path, len);
}

char *sim_read_log(const sim_harness *h)
{
	char path[600];
	snprintf(path, sizeof path, "%s/log.jsonl", h->dir);
	return (char *)slurp(path, NULL);
}

int sim_log_count(const sim_harness *h, const char *const *needles)
{
	char *log = sim_read_log(h);
	if (!log)
		return 0;
	int count = 0;
	for (char *line = log; *line;) {
		char *nl = strchr(line, '\n');
		if (!nl)
			break; /* incomplete last line */
		*nl = '\0';
		int all = 1;
		for (const char *const *p = needles; *p; p++)
			if (!strstr(line, *p)) {
				all = 0;
				break;
			}
		count += all;
		line = nl + 1;
	}
	free(log);
	return count;
}

int sim_wait(sim_harness *h, int timeout_ms)
{
	if (!h->pid)
		return 0;
	return reap(h, timeout_ms);
}

void sim_stop(sim_harness *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		if (reap(h, 3000) != 0) {
			kill(h->pid, SIGKILL);
			reap(h, 3000);
		}
	}
	rm_rf(h->dir);
	h->dir[0] = '\0';
}
