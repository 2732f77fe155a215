/*
 * farm_test.c - the farm node state (heartbeatd/farm.c) on a fake clock:
 * WAIT to UP, the members every node computes from the same heartbeats, a
 * failed application leaving and rejoining, the operator's commands; and
 * the state file keeping each farm node's incarnation (persist.c).
 */
#include "farm.h"
#include "persist.h"
#include "test.h"

#include <stdlib.h>

struct rig {
	struct sky_config cfg;
	struct farm f;
	struct sm sm;
	struct farm_node_input in[SKY_MAX_NODES];
	int64_t now;
};

static void rig_init(struct rig *r, size_t nodes, size_t self,
		     int64_t rejoin_after_ms)
{
	static const char *const names[] = {"node3", "node1", "node2", "node4"};
	struct sm_config smc = {0};

	memset(r, 0, sizeof(*r));
	r->cfg.type = SKY_MODULE_FARM;
	r->cfg.node_count = nodes;
	for (size_t i = 0; i < nodes; i++) {
		sky_strlcpy(r->cfg.nodes[i].name, names[i],
			    sizeof(r->cfg.nodes[i].name));
		r->cfg.nodes[i].weight = 1;
	}
	r->now = 1000000;
	farm_init(&r->f, &r->cfg, &r->cfg.nodes[self], rejoin_after_ms);
	sky_strlcpy(smc.self, names[self], sizeof(smc.self));
	sm_init(&r->sm, &smc, r->now, 0, 0, SKY_DATA_UNKNOWN, false);
}

static void step(struct rig *r, int64_t ms)
{
	r->now += ms;
	farm_step(&r->f, &r->sm, r->now, r->in);
}

static void peer(struct rig *r, size_t i, bool visible, enum sky_role role,
		 bool ready)
{
	r->in[i] = (struct farm_node_input){visible, role, ready};
}

static void test_a_node_starts_waits_then_runs_the_application(void)
{
	struct rig r;
	rig_init(&r, 3, 1, 0);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_WAIT);
	step(&r, 10);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_UP);
	CHECK_EQ_INT(r.sm.epoch, 1);
	CHECK(r.sm.changed && r.sm.dirty);
	/* UP but not ready (the application starting): not a member. */
	CHECK_EQ_INT(r.f.member_count, 0);
	r.f.ready = true;
	step(&r, 10);
	CHECK_EQ_INT(r.f.member_count, 1);
	CHECK(farm_is_member(&r.f, "node1"));
}

static void test_members_are_the_ready_up_nodes_sorted_by_name(void)
{
	struct rig r;
	rig_init(&r, 4, 1, 0);
	step(&r, 10);
	r.f.ready = true;
	peer(&r, 0, true, SKY_ROLE_UP, true);  /* node3 */
	peer(&r, 2, true, SKY_ROLE_UP, false); /* node2: starting */
	peer(&r, 3, false, SKY_ROLE_UP, true); /* node4: lost */
	step(&r, 10);
	CHECK_EQ_INT(r.f.member_count, 2);
	CHECK(strcmp(r.f.members[0], "node1") == 0);
	CHECK(strcmp(r.f.members[1], "node3") == 0);
	uint64_t changes = r.f.membership_changes;
	r.f.members_changed = false;
	step(&r, 10); /* nothing new: no change counted */
	CHECK(!r.f.members_changed);
	CHECK_EQ_INT(r.f.membership_changes, changes);
	peer(&r, 2, true, SKY_ROLE_UP, true);
	peer(&r, 3, true, SKY_ROLE_UP, true);
	step(&r, 10);
	CHECK(r.f.members_changed);
	CHECK_EQ_INT(r.f.member_count, 4);
	for (size_t i = 1; i < r.f.member_count; i++)
		CHECK(strcmp(r.f.members[i - 1], r.f.members[i]) < 0);
	/* A node that waits or stopped is no member, seen or not. */
	peer(&r, 0, true, SKY_ROLE_WAIT, false);
	peer(&r, 2, true, SKY_ROLE_STOP, true);
	step(&r, 10);
	CHECK_EQ_INT(r.f.member_count, 2);
	CHECK(!farm_is_member(&r.f, "node3"));
	CHECK(!farm_is_member(&r.f, "node2"));
}

static void test_every_node_computes_the_same_members(void)
{
	/* node1's and node3's views of the same heartbeats agree. */
	struct rig a, b;
	rig_init(&a, 3, 1, 0); /* node1 */
	rig_init(&b, 3, 0, 0); /* node3 */
	step(&a, 10);
	step(&b, 10);
	a.f.ready = b.f.ready = true;
	peer(&a, 0, true, SKY_ROLE_UP, true);
	peer(&a, 2, true, SKY_ROLE_UP, true);
	peer(&b, 1, true, SKY_ROLE_UP, true);
	peer(&b, 2, true, SKY_ROLE_UP, true);
	step(&a, 10);
	step(&b, 10);
	CHECK_EQ_INT(a.f.member_count, 3);
	CHECK_EQ_INT(b.f.member_count, 3);
	CHECK(memcmp(a.f.members, b.f.members, sizeof(a.f.members)) == 0);
}

static void test_a_failed_application_leaves_and_rejoins_on_start(void)
{
	struct rig r;
	char msg[256];
	rig_init(&r, 2, 1, 0);
	step(&r, 10);
	r.f.ready = true;
	step(&r, 10);
	CHECK_EQ_INT(r.f.member_count, 1);
	farm_fail(&r.f, &r.sm, r.now, "checkd: restarts exhausted");
	step(&r, 10);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_WAIT);
	CHECK_EQ_INT(r.f.member_count, 0);
	step(&r, 3600 * 1000); /* no rejoin_after_ms: waits for the operator */
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_WAIT);
	CHECK_STR_CONTAINS(r.sm.waiting_for, "restarts exhausted");
	CHECK_STR_CONTAINS(r.sm.waiting_for, "skyctl start");
	CHECK_EQ_INT(farm_command(&r.f, &r.sm, r.now, SM_CMD_START, msg,
				  sizeof(msg)),
		     0);
	CHECK_STR_CONTAINS(msg, "rejoining");
	uint64_t epoch = r.sm.epoch;
	step(&r, 10);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_UP);
	CHECK_EQ_INT(r.sm.epoch, epoch + 1);
}

static void test_a_failed_node_rejoins_after_rejoin_after_ms(void)
{
	struct rig r;
	rig_init(&r, 2, 1, 30000);
	step(&r, 10);
	farm_fail(&r.f, &r.sm, r.now, "start_prim failed");
	step(&r, 29000);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_WAIT);
	CHECK_STR_CONTAINS(r.sm.waiting_for, "rejoining in");
	step(&r, 1000);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_UP);
	CHECK_STR_CONTAINS(r.sm.reason, "rejoining");
	/* Each failure starts the wait again: a flapping application is
	 * out of the farm most of the time, not in and out every second. */
	farm_fail(&r.f, &r.sm, r.now, "flapping");
	step(&r, 20000);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_WAIT);
}

static void test_stop_and_start_and_mirror_commands_refused(void)
{
	struct rig r;
	char msg[256];
	rig_init(&r, 3, 1, 0);
	step(&r, 10);
	r.f.ready = true;
	step(&r, 10);
	CHECK_EQ_INT(
		farm_command(&r.f, &r.sm, r.now, SM_CMD_STOP, msg, sizeof(msg)),
		0);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_STOP);
	CHECK(r.sm.stopped);
	step(&r, 60000);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_STOP);
	CHECK_EQ_INT(r.f.member_count, 0);
	static const enum sm_command mirror_only[] = {SM_CMD_SWAP, SM_CMD_PRIM,
						      SM_CMD_SECOND};
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ_INT(farm_command(&r.f, &r.sm, r.now, mirror_only[i],
					  msg, sizeof(msg)),
			     -EPERM);
		CHECK_STR_CONTAINS(msg, "a farm has no primary");
	}
	CHECK_EQ_INT(farm_command(&r.f, &r.sm, r.now, SM_CMD_START, msg,
				  sizeof(msg)),
		     0);
	CHECK(!r.sm.stopped);
	step(&r, 10);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_UP);
	/* checkd's failover in a farm: the application leaves this node. */
	CHECK_EQ_INT(farm_command(&r.f, &r.sm, r.now, SM_CMD_FAILOVER, msg,
				  sizeof(msg)),
		     0);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_WAIT);
	CHECK(r.f.failed);
}

static void test_the_state_file_keeps_each_farm_nodes_incarnation(void)
{
	struct node_state st = {0}, back;
	char err[160];
	char path[] = "/tmp/skyha-farm-test-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ_INT(node_state_set_peer_incarnation(&st, "node2", 4), 0);
	CHECK_EQ_INT(node_state_set_peer_incarnation(&st, "node3", 9), 0);
	CHECK_EQ_INT(node_state_set_peer_incarnation(&st, "node2", 3), 0);
	CHECK_EQ_INT(node_state_peer_incarnation(&st, "node2"),
		     4); /* never lower */
	CHECK_EQ_INT(node_state_save(path, &st), 0);
	CHECK_EQ_INT(node_state_load(path, &back, err, sizeof(err)), 0);
	CHECK_EQ_INT(node_state_peer_incarnation(&back, "node2"), 4);
	CHECK_EQ_INT(node_state_peer_incarnation(&back, "node3"), 9);
	CHECK_EQ_INT(node_state_peer_incarnation(&back, "node9"), 0);
	unlink(path);
	CHECK(node_state_parse("peer_incarnation.../etc=1\n", &back, err,
			       sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "line 1");
	CHECK(node_state_parse("peer_incarnation.node2=x\n", &back, err,
			       sizeof(err)) < 0);
	/* More names than any farm has nodes: refused, not overflowed. */
	char text[2048] = "";
	size_t used = 0;
	for (int i = 0; i <= PERSIST_PEERS_MAX; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "peer_incarnation.n%d=1\n", i);
	CHECK(node_state_parse(text, &back, err, sizeof(err)) < 0);
}

/* quorum: etcd: a node serves only while its etcd lease lives. */
static void test_quorum_etcd_node_serves_only_with_its_lease(void)
{
	struct rig r;
	rig_init(&r, 3, 1, 0);
	r.f.quorum_required = true;
	r.f.quorum_ok = false;
	sky_strlcpy(r.f.quorum_refusal, "no etcd lease yet",
		    sizeof(r.f.quorum_refusal));
	step(&r, 10);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_WAIT);
	CHECK_STR_CONTAINS(r.sm.waiting_for, "no quorum: no etcd lease yet");
	r.f.quorum_ok = true;
	step(&r, 10);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_UP);
	r.f.ready = true;
	step(&r, 10);
	CHECK(farm_is_member(&r.f, "node1"));
	/* Cut off from etcd: leaves, and is no member in its own view. */
	r.f.quorum_ok = false;
	sky_strlcpy(r.f.quorum_refusal, "etcd lease not renewed",
		    sizeof(r.f.quorum_refusal));
	step(&r, 10);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_WAIT);
	CHECK_STR_CONTAINS(r.sm.reason, "no quorum: etcd lease not renewed");
	CHECK(!farm_is_member(&r.f, "node1"));
	CHECK(!r.f.failed); /* not the application's fault */
	/* Back in view: rejoins by itself, no skyctl start needed. */
	r.f.quorum_ok = true;
	step(&r, 10);
	CHECK_EQ_INT(r.sm.role, SKY_ROLE_UP);
}

TEST_MAIN(TEST(test_a_node_starts_waits_then_runs_the_application),
	  TEST(test_members_are_the_ready_up_nodes_sorted_by_name),
	  TEST(test_every_node_computes_the_same_members),
	  TEST(test_a_failed_application_leaves_and_rejoins_on_start),
	  TEST(test_a_failed_node_rejoins_after_rejoin_after_ms),
	  TEST(test_stop_and_start_and_mirror_commands_refused),
	  TEST(test_quorum_etcd_node_serves_only_with_its_lease),
	  TEST(test_the_state_file_keeps_each_farm_nodes_incarnation))
