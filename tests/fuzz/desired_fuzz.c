/*
 * desired_fuzz.c - the desired state on the bus (MODULE.heartbeatd.desired,
 * and checkd's reading of MODULE.heartbeatd.status): any local process may
 * publish on an ipc endpoint it can reach.
 *
 * The bytes are the JSON frame, parsed as sky_bus_recv does
 * (sky_bus_parse_body), then read by every actuator: shared/desired.c
 * sky_desired_parse() for each (then, as vipd and replicd do, the word's
 * lease: sky_desired_lease_renew, _expired, _why), checkd/msg.c
 * checkd_msg_desired() and checkd_msg_status_counts_up().
 */
#include "bus.h"
#include "desired.h"
#include "fuzz.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *msg;
	struct sky_desired d;
	struct checkd_desired cd;
	char why[160];

	if (sky_bus_parse_body(data, size, SKY_BUS_MSG_MAX, &msg) < 0)
		return 0;
	for (int a = 0; a < SKY_ACT_COUNT; a++) {
		static struct sky_desired_lease lease[SKY_ACT_COUNT];
		static int64_t now;

		if (sky_desired_parse(msg, "app", "node1", (enum sky_actuator)a,
				      &d, why, sizeof(why)) < 0)
			continue;
		FUZZ_ASSERT(d.role < SKY_ROLE_COUNT &&
			    d.valid_ms <= SKY_DESIRED_VALID_MAX_MS);
		now += 100;
		sky_desired_lease_renew(&lease[a], (enum sky_actuator)a, &d,
					now);
		(void)sky_desired_lease_expired(&lease[a], now + 500);
		sky_desired_lease_why(&lease[a], now + 500, why, sizeof(why));
	}
	(void)checkd_msg_desired(msg, "app", "node1", &cd, why, sizeof(why));
	(void)checkd_msg_status_counts_up(msg, 7);
	json_decref(msg);
	return 0;
}
