/* Smoke test of the C harness against espota-sim: start, handshake over raw
 * UDP, read the JSON log, stop. */
#include "sim_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); sim_stop(&h); return 1; } } while (0)

int main(void)
{
	sim_harness h;
	const char *args[] = {"--platform", "esp8266", "--fast", "--port", "0", "--count", "2",
			      "--layout", "1M64", "--chip-size", "1M", "--header-flash-size", "4M", NULL};
	if (sim_start(&h, args) != 0) {
		fprintf(stderr, "sim_start failed\n");
		return 1;
	}
	CHECK(h.count == 2 && h.ports[0] > 0 && h.ports[1] > 0);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)h.ports[1]);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	const char *inv = "0 40000 329008 4a818557f9d99eb7ff46fdb089d7619b\n";
	sendto(s, inv, strlen(inv), 0, (struct sockaddr *)&a, sizeof a);
	struct timeval tv = {3, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char buf[256];
	ssize_t n = recv(s, buf, sizeof buf - 1, 0);
	close(s);
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK(!strcmp(buf, "ERR: ERROR[8]: Flash config wrong: real: 1048576, SDK: 4194304\n"));
	const char *needles[] = {"\"event\":\"upload\"", "\"dev\":1", "\"error\":8", NULL};
	int found = 0;
	for (int i = 0; i < 200 && !found; i++) {
		found = sim_log_count(&h, needles);
		usleep(10000);
	}
	CHECK(found == 1);
	size_t len = 0;
	CHECK(sim_read_image(&h, 1, "app.bin", &len) == NULL); /* no data was received */
	sim_stop(&h);
	CHECK(WIFEXITED(h.exit_status) && WEXITSTATUS(h.exit_status) == 0);
	puts("ok");
	return 0;
}
