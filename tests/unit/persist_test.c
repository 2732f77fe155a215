/*
 * persist_test.c - state files survive a round trip; a corrupt one is
 * refused with the line that is wrong (guessing could lose data).
 */
#include "persist.h"
#include "test.h"

static void test_node_state_round_trip(void)
{
	char path[96];
	struct node_state a = {.epoch = 7,
			       .generation = 12,
			       .data = SKY_DATA_UPTODATE,
			       .stopped = true,
			       .incarnation = 3,
			       .peer_incarnation = 9},
			  b;
	char err[256];
	snprintf(path, sizeof(path), "/tmp/skyha-persist-test-%d",
		 (int)getpid());
	CHECK_EQ_INT(node_state_save(path, &a), 0);
	CHECK_EQ_INT(node_state_load(path, &b, err, sizeof(err)), 0);
	CHECK_EQ_INT(b.epoch, 7);
	CHECK_EQ_INT(b.generation, 12);
	CHECK_EQ_INT(b.data, SKY_DATA_UPTODATE);
	CHECK(b.stopped);
	CHECK_EQ_INT(b.peer_incarnation, 9);
	unlink(path);
}

static void test_missing_file_is_a_new_node_with_unknown_data(void)
{
	struct node_state st;
	char err[256];
	CHECK_EQ_INT(node_state_load("/nonexistent/node.state", &st, err,
				     sizeof(err)),
		     0);
	CHECK_EQ_INT(st.generation, 0);
	CHECK_EQ_INT(st.data, SKY_DATA_UNKNOWN);
}

static void test_corrupt_state_names_the_line(void)
{
	struct node_state st;
	char err[256];
	CHECK(node_state_parse("epoch=1\ngeneration=12x\n", &st, err,
			       sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "line 2");
	CHECK_STR_CONTAINS(err, "generation");
	CHECK(node_state_parse("data=maybe\n", &st, err, sizeof(err)) < 0);
	CHECK(node_state_parse("garbage\n", &st, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "key=value");
}

static void test_witness_state_parsed_from_memory(void)
{
	struct witness_state ws = {0};
	char err[160];
	CHECK_EQ_INT(witness_state_parse("incarnation=4\n"
					 "newest_generation=12\n"
					 "newest_node=node1\n",
					 &ws, err, sizeof(err)),
		     0);
	CHECK_EQ_INT(ws.incarnation, 4);
	CHECK_EQ_INT(ws.newest_generation, 12);
	CHECK(strcmp(ws.newest_node, "node1") == 0);
	CHECK(witness_state_parse("newest_node=no de\n", &ws, err,
				  sizeof(err)) < 0);
	CHECK(witness_state_parse("newest_generation=x\n", &ws, err,
				  sizeof(err)) < 0);
}

TEST_MAIN(TEST(test_node_state_round_trip),
	  TEST(test_missing_file_is_a_new_node_with_unknown_data),
	  TEST(test_corrupt_state_names_the_line),
	  TEST(test_witness_state_parsed_from_memory))
