/*
 * actual_fuzz.c - actual-state messages on the bus, as each reader takes
 * them: heartbeatd's actual_check() then node_replica_update() for
 * replicd's state (heartbeatd/actual.c, node.c), and healthd's
 * healthd_module_on_message() for heartbeatd's status (healthd/modules.c,
 * schema.c). Any local process may publish on the bus.
 *
 * The input is the two frames: the topic, a NUL byte, the JSON frame; both
 * checked as sky_bus_recv checks them (sky_bus_parse_topic/_body).
 */
#include "actual.h"
#include "bus.h"
#include "fuzz.h"
#include "modules.h"
#include "node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct healthd_table table;
	static struct healthd_module *m;
	static struct node_replica replica;
	const uint8_t *nul = memchr(data, '\0', size);
	char topic[SKY_TOPIC_MAX], why[160];
	enum sky_actuator which;
	json_t *msg;

	if (!m) {
		FUZZ_ASSERT(healthd_table_add(&table, "app", &m) == 0);
		healthd_module_connected(m);
	}
	if (!nul ||
	    sky_bus_parse_topic(data, (size_t)(nul - data), topic,
				sizeof(topic)) < 0 ||
	    sky_bus_parse_body(nul + 1, size - (size_t)(nul - data) - 1,
			       SKY_BUS_MSG_MAX, &msg) < 0)
		return 0;
	if (actual_check(topic, msg, "app", "node1", &which, why,
			 sizeof(why)) == 0 &&
	    which == SKY_ACT_REPLICD)
		node_replica_update(&replica, msg, 1000);
	/* healthd keeps the object (or frees it). */
	(void)healthd_module_on_message(m, topic, &msg, 1000);
	json_decref(msg);
	return 0;
}
