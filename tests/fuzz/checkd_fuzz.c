/*
 * checkd_fuzz.c - what checkd's checkers read (checkd/probe.c): the status
 * line of the application's HTTP reply (checkd_http_status; the
 * application, or whatever answers on its address), the pidfile it writes
 * (checkd_pid_parse), and the datagrams on the ping socket
 * (checkd_icmp_is_reply; any host can send ICMP), raw and not, v4 and v6.
 */
#include "fuzz.h"
#include "probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int status;
	pid_t pid;

	if (checkd_http_status((const char *)data, size, &status) == 0)
		FUZZ_ASSERT(status >= 100 && status <= 599);
	if (checkd_pid_parse((const char *)data, size, &pid) == 0)
		FUZZ_ASSERT(pid >= 2);
	for (int i = 0; i < 4; i++)
		(void)checkd_icmp_is_reply(data, size, i & 1, i & 2, 0x1234, 7);
	return 0;
}
