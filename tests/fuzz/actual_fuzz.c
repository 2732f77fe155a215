/*
 * actual_fuzz.c - actual-state messages on the bus, as each reader takes
 * them: heartbeatd's actual_check(), then orch_actual() and, for
 * replicd's state, node_replica_update() (heartbeatd/actual.c,
 * orchestrate.c, node.c); healthd's healthd_module_on_message() for
 * heartbeatd's status (healthd/modules.c, schema.c), then the /status and
 * /metrics pages rendered from what it kept (render.c). Any local process
 * may publish on the bus.
 *
 * The input is the two frames: the topic, a NUL byte, the JSON frame; both
 * checked as sky_bus_recv checks them (sky_bus_parse_topic/_body).
 */
#include "../../healthd/render.h"
#include "actual.h"
#include "bus.h"
#include "fuzz.h"
#include "modules.h"
#include "node.h"
#include "orchestrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct healthd_table table;
	static struct healthd_module *m;
	static struct node_replica replica;
	static struct orch orch;
	static const enum sky_actuator order[] = {SKY_ACT_REPLICD, SKY_ACT_VIPD,
						  SKY_ACT_CHECKD};
	struct healthd_stats stats = {0};
	json_t *page;
	char *metrics;
	size_t len;
	const uint8_t *nul = memchr(data, '\0', size);
	char topic[SKY_TOPIC_MAX], why[160];
	enum sky_actuator which;
	json_t *msg;

	if (!m) {
		FUZZ_ASSERT(healthd_table_add(&table, "app", &m) == 0);
		healthd_module_connected(m);
		orch_init(&orch, order, 3, 30000);
		orch_goal(&orch, SKY_ROLE_PRIM, 7, 0);
	}
	if (!nul ||
	    sky_bus_parse_topic(data, (size_t)(nul - data), topic,
				sizeof(topic)) < 0 ||
	    sky_bus_parse_body(nul + 1, size - (size_t)(nul - data) - 1,
			       SKY_BUS_MSG_MAX, &msg) < 0)
		return 0;
	if (actual_check(topic, msg, "app", "node1", &which, why,
			 sizeof(why)) == 0) {
		/* As node.c: every field it reads was checked. */
		(void)orch_actual(
			&orch, sky_actuator_name(which),
			json_string_value(json_object_get(msg, "state")),
			(uint64_t)json_integer_value(
				json_object_get(msg, "epoch")),
			json_string_value(json_object_get(msg, "reason")),
			1000);
		orch_step(&orch, 1000);
		if (which == SKY_ACT_REPLICD)
			node_replica_update(&replica, msg, 1000);
	}
	/* healthd keeps the object (or frees it). */
	if (healthd_module_on_message(m, topic, &msg, 1000) == 0) {
		page = healthd_render_status(&table, &stats, "host1", 1500);
		FUZZ_ASSERT(page);
		json_decref(page);
		FUZZ_ASSERT(healthd_render_metrics(&table, &stats, 1500,
						   &metrics, &len) == 0);
		free(metrics);
	}
	json_decref(msg);
	return 0;
}
