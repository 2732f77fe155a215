/*
 * ctl_fuzz.c - heartbeatd/control.c ctl_request_parse(): the body of every
 * request on the control socket (skyctl, or any local ZeroMQ client).
 *
 * A request that parses must carry a reason without control characters
 * (it goes into log lines).
 */
#include "control.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request req;
	char err[256];

	if (ctl_request_parse(data, size, &req, err, sizeof(err)) < 0)
		return 0;
	for (const char *p = req.reason; *p; p++)
		FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
	(void)ctl_command_name(req.command);
	return 0;
}
