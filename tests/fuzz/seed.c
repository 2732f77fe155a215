/*
 * seed.c - the fuzzers' seed corpus, made by the real encoders
 * (`make fuzz-seed`; build/asan/fuzz_seed DIR writes DIR/<target>/seed-*).
 *
 * Binary formats come from the daemons' own encoders (packet_encode,
 * replicd_op_encode, the handshake and the stream of chan.c, the ARP
 * builders, the state files as replicd and heartbeatd save them). Text and
 * JSON inputs (configuration, bus messages, cloud replies) are written
 * here as the daemons or the clouds send them, and each is kept only if
 * the real parser accepts it, so every seed reaches the deep end.
 * The output is the same on every run: fixed keys, nonces and clocks, and
 * libsodium's random bytes (the stream header's IV) from a fixed sequence.
 *
 * This file writes the seeds and runs every family in a fixed order; it
 * makes the bus messages, skyctl's statuses, control requests and the
 * persisted records itself, the other families are in seed_*.c (seed.h).
 */
#include "seed.h"
#include "actual.h"
#include "alone.h"
#include "control.h"
#include "desired.h"
#include "hold.h"
#include "persist.h"
#include "track.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *top;
char seed_tmp[64];
static int failures;

void seed_put(const char *target, const char *name, const void *p, size_t len)
{
	char dir[512], path[600];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/%s", top, target);
	sky_mkdir_p(dir, 0755);
	snprintf(path, sizeof(path), "%s/seed-%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "seed: cannot write %s\n", path);
		exit(1);
	}
}

void seed_refused(const char *target, const char *name)
{
	fprintf(stderr, "seed: %s/%s: the real parser refuses it\n", target,
		name);
	failures++;
}

void seed_put_text(const char *target, const char *name, const char *s)
{
	seed_put(target, name, s, strlen(s));
}

/* ---- bus messages ---- */

static void json_seed(const char *target, const char *name, const char *topic,
		      json_t *o, int accepted)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t tl = topic ? strlen(topic) + 1 : 0;
	char *buf;

	json_decref(o);
	if (!s || !accepted) {
		seed_refused(target, name);
		free(s);
		return;
	}
	buf = malloc(tl + strlen(s));
	if (!buf)
		exit(1);
	if (topic)
		memcpy(buf, topic, tl);
	memcpy(buf + tl, s, strlen(s));
	seed_put(target, name, buf, tl + strlen(s));
	free(buf);
	free(s);
}

static void bus(void)
{
	static const char *const roles[] = {"PRIM", "SECOND", "ALONE", "WAIT"};
	static const char *const daemons[] = {"replicd", "vipd", "checkd"};
	char why[160], name[64];
	struct sky_desired d;
	enum sky_actuator which;

	/* heartbeatd/publish.c desired_json(), field by field. */
	for (size_t i = 0; i < 4; i++) {
		json_t *o = json_pack(
			"{s:s,s:s,s:s,s:I,s:I,s:{s:s,s:s,s:s},s:b,s:I}",
			"module", "app", "node", "node1", "role", roles[i],
			"epoch", (json_int_t)7, "generation", (json_int_t)12,
			"targets", "replicd", i == 1 ? "secondary" : "primary",
			"vipd", i < 3 && i != 1 ? "up" : "down", "checkd",
			i < 3 && i != 1 ? "up" : "down", "ack_alone", i == 2,
			"valid_ms", (json_int_t)600);
		snprintf(name, sizeof(name), "desired-%s", roles[i]);
		json_seed("desired", name, NULL, json_incref(o),
			  sky_desired_parse(o, "app", "node1", SKY_ACT_VIPD, &d,
					    why, sizeof(why)) == 0);
		json_decref(o);
	}
	/* Each actuator's actual state (replicd/actual.c, vipd, checkd). */
	for (size_t i = 0; i < 3; i++) {
		char topic[64];
		json_t *o = json_pack(
			"{s:s,s:s,s:s,s:I,s:s,s:s}", "module", "app", "daemon",
			daemons[i], "node", "node1", "epoch", (json_int_t)7,
			"state", i == 0 ? "secondary" : "up", "reason", "");
		if (i == 0) {
			json_object_set_new(o, "data", json_string("uptodate"));
			json_object_set_new(o, "sync", json_string("insync"));
			json_object_set_new(o, "peer_connected", json_true());
			json_object_set_new(o, "mode", json_string("sync"));
			json_object_set_new(o, "in_sync", json_true());
			json_object_set_new(o, "generation", json_integer(12));
			json_object_set_new(
				o, "resync",
				json_pack("{s:b,s:I,s:I,s:I}", "active", 0,
					  "bytes_total", (json_int_t)5,
					  "bytes_done", (json_int_t)5,
					  "bytes_left", (json_int_t)0));
		}
		snprintf(topic, sizeof(topic), "app.%s.actual", daemons[i]);
		snprintf(name, sizeof(name), "actual-%s", daemons[i]);
		json_seed("actual", name, topic, json_incref(o),
			  actual_check(topic, o, "app", "node1", &which, why,
				       sizeof(why)) == 0);
		json_decref(o);
	}
	/* heartbeatd's status, as healthd reads it. */
	json_seed("actual", "status", "app.heartbeatd.status",
		  json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:b},s:{s:s,s:s,s:s,s:s},"
			    "s:I}",
			    "cluster", "demo", "module", "app", "type",
			    "mirror", "node", "name", "node1", "role", "PRIM",
			    "serving", 1, "transition", "from", "SECOND", "to",
			    "PRIM", "reason", "peer lost", "at",
			    "2026-11-23T12:03:55Z", "epoch", (json_int_t)7),
		  1);
	json_seed("desired", "status", NULL,
		  json_pack("{s:s,s:{s:s,s:I},s:{s:{s:s,s:I}}}", "module",
			    "app", "node", "role", "PRIM", "epoch",
			    (json_int_t)7, "actuators", "checkd", "state", "up",
			    "epoch", (json_int_t)7),
		  1);
}

/* ---- skyctl: heartbeatd's status (docs/protocol.md) ---- */

static void skyctl(void)
{
	static const char status[] =
		"{\"cluster\":\"demo\",\"module\":\"app\",\"type\":\"mirror\","
		"\"node\":{\"name\":\"node1\",\"role\":\"PRIM\",\"epoch\":7,"
		"\"generation\":12,\"data\":\"uptodate\",\"serving\":true,"
		"\"role_for_ms\":5230},"
		"\"peer\":{\"name\":\"node2\",\"visible\":true,\"role\":"
		"\"SECOND\","
		"\"epoch\":7,\"generation\":12,\"data\":\"uptodate\","
		"\"last_seen_ms\":120,\"networks\":[{\"index\":0,\"local\":"
		"\"198.18.0.1\",\"peer\":\"198.18.0.2\",\"up\":true,"
		"\"last_seen_ms\":120},{\"index\":1,\"local\":\"198.18.1.1\","
		"\"peer\":\"198.18.1.2\",\"up\":false,\"last_seen_ms\":3400}]},"
		"\"quorum\":{\"mode\":\"witness\",\"have\":true,\"via\":"
		"\"peer+witness\"},"
		"\"witness\":{\"addresses\":[\"198.18.0.10\"],\"lease\":"
		"\"held\","
		"\"expires_in_ms\":840,\"last_answer\":\"granted\",\"holder\":"
		"\"node1\"},"
		"\"transition\":{\"from\":\"SECOND\",\"to\":\"ALONE\","
		"\"reason\":"
		"\"peer node2 lost on all networks\",\"at\":"
		"\"2026-11-23T12:03:55Z\",\"ago_ms\":2300,\"pending\":\"\"},"
		"\"actuators\":{\"replicd\":{\"state\":\"primary\",\"epoch\":7,"
		"\"age_ms\":300}},"
		"\"counters\":{\"tx\":100,\"tx_errors\":0,\"rx\":98,\"bad_"
		"mac\":0,"
		"\"replay\":0,\"malformed\":0,\"wrong_cluster\":0,"
		"\"unknown_node\":0,\"ctl_bad_requests\":0,"
		"\"bus_bad_messages\":0},"
		"\"timing\":{\"interval_ms\":200,\"timeout_ms\":1000}}";
	json_t *o;

	if (sky_bus_parse_body((const uint8_t *)status, strlen(status),
			       SKY_BUS_MSG_MAX, &o) < 0) {
		seed_refused("skyctl", "status");
		return;
	}
	json_decref(o);
	seed_put_text("skyctl", "status", status);
}

/* ---- control requests ---- */

static void ctl(void)
{
	static const char *const reqs[] = {
		"{\"command\":\"status\"}",
		"{\"command\":\"swap\",\"reason\":\"maintenance\"}",
		"{\"command\":\"prim\",\"force\":true,\"reason\":\"x\"}",
		"{\"command\":\"second\"}",
		"{\"command\":\"stop\"}",
		"{\"command\":\"start\"}",
		"{\"command\":\"failover\"}",
		"{\"command\":\"resync\",\"discard_local\":true}",
	};
	struct ctl_request r;
	char err[256], name[32];

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		snprintf(name, sizeof(name), "request-%zu", i);
		if (ctl_request_parse((const uint8_t *)reqs[i], strlen(reqs[i]),
				      &r, err, sizeof(err)) < 0)
			seed_refused("ctl", name);
		else
			seed_put_text("ctl", name, reqs[i]);
	}
}

/* ---- persisted records ---- */

static void records(void)
{
	struct replicd_track *t = NULL;
	struct replicd_alone a;
	struct node_state ns = {.epoch = 7,
				.generation = 12,
				.data = SKY_DATA_UPTODATE,
				.incarnation = 3,
				.peer_incarnation = 2};
	struct witness_state ws = {.incarnation = 4, .newest_generation = 12};
	char path[128], *buf;
	size_t len;

	if (replicd_track_open(seed_tmp, "track.rec", "", &t) < 0 ||
	    replicd_track_mark(t, 0, "dir/file", TRK_ZONES, 1, 3, false) < 0 ||
	    replicd_track_mark(t, 1, "a/b", TRK_META | TRK_ENTRY, 0, 0, false) <
		    0 ||
	    replicd_track_mark(t, 0, "", TRK_TREE, 0, 0, false) < 0 ||
	    replicd_track_mark_alone(t) < 0) {
		seed_refused("track", "record");
	} else {
		snprintf(path, sizeof(path), "%s/track.rec", seed_tmp);
		if (sky_read_file(path, 1 << 20, &buf, &len) < 0) {
			seed_refused("track", "record");
		} else {
			seed_put("track", "record", buf, len);
			/* backupd reads the same format (backup-<id>.rec) */
			seed_put("backup_record", "record", buf, len);
			free(buf);
		}
	}
	replicd_track_free(&t);

	/* A hold journal: a write, a rename, a chmod. */
	struct replicd_hold_journal j;
	static const uint8_t bytes[] = "held";
	struct replicd_op ops[] = {
		{.type = ROP_WRITE,
		 .seq = 5,
		 .path = "db/f",
		 .offset = 65536,
		 .data = bytes,
		 .data_len = sizeof(bytes)},
		{.type = ROP_RENAME,
		 .seq = 6,
		 .dir = 1,
		 .path = "a",
		 .path2 = "b"},
		{.type = ROP_CHMOD, .seq = 7, .path = "b", .mode = 0100640}};
	bool ok =
		replicd_hold_journal_create(&j, seed_tmp, "2026-12-07.1") == 0;
	for (size_t i = 0; ok && i < SKY_ARRAY_SIZE(ops); i++)
		ok = replicd_hold_journal_append(&j, &ops[i], 1 << 20) == 0;
	ok = ok && replicd_hold_journal_sync(&j) == 0;
	replicd_hold_journal_close(&j);
	snprintf(path, sizeof(path), "%s/hold.journal", seed_tmp);
	if (!ok || sky_read_file(path, 1 << 20, &buf, &len) < 0) {
		seed_refused("hold", "journal");
	} else {
		seed_put("hold", "journal", buf, len);
		free(buf);
	}

	if (replicd_alone_open(&a, seed_tmp) < 0) {
		seed_refused("alone", "stats");
	} else {
		replicd_alone_note(&a, 1796112000000);
		replicd_alone_note(&a, 1796112060000);
		snprintf(path, sizeof(path), "%s/alone.stats", seed_tmp);
		if (replicd_alone_sync(&a, true) < 0 ||
		    sky_read_file(path, 1 << 20, &buf, &len) < 0) {
			seed_refused("alone", "stats");
		} else {
			seed_put("alone", "stats", buf, len);
			free(buf);
		}
		replicd_alone_close(&a);
	}

	sky_strlcpy(ws.newest_node, "node1", sizeof(ws.newest_node));
	snprintf(path, sizeof(path), "%s/node.state", seed_tmp);
	if (node_state_save(path, &ns) < 0 ||
	    sky_read_file(path, 1 << 20, &buf, &len) < 0) {
		seed_refused("persist", "node");
	} else {
		seed_put("persist", "node", buf, len);
		free(buf);
	}
	snprintf(path, sizeof(path), "%s/witness.state", seed_tmp);
	if (witness_state_save(path, &ws) < 0 ||
	    sky_read_file(path, 1 << 20, &buf, &len) < 0) {
		seed_refused("persist", "witness");
	} else {
		seed_put("persist", "witness", buf, len);
		free(buf);
	}
}

/* A fixed sequence for randombytes_buf (reproducible seeds only!). */
static uint64_t rng_state = 0x5eed5eed5eed5eedull;

static uint32_t rng_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

static void rng_buf(void *const buf, const size_t size)
{
	for (size_t i = 0; i < size; i++)
		((uint8_t *)buf)[i] = (uint8_t)rng_random();
}

static const char *rng_name(void)
{
	return "fuzz-seed";
}

static struct randombytes_implementation rng = {
	.implementation_name = rng_name,
	.random = rng_random,
	.buf = rng_buf,
};

static int remove_one(const char *path, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seed CORPUS_DIR\n");
		return 2;
	}
	top = argv[1];
	randombytes_set_implementation(&rng);
	snprintf(seed_tmp, sizeof(seed_tmp), "/seed_tmp/skyha-fuzz-seed-%d",
		 (int)getpid());
	sky_mkdir_p(seed_tmp, 0700);
	seed_packets();
	seed_ops();
	seed_session(0);
	seed_session(1);
	seed_resync();
	seed_zframes();
	bus();
	ctl();
	skyctl();
	seed_config();
	seed_healthd();
	records();
	seed_vipd();
	seed_checkd();
	seed_etcd_replies();
	seed_object_stores();
	seed_backup_objects();
	nftw(seed_tmp, remove_one, 8, FTW_DEPTH | FTW_PHYS);
	if (failures)
		fprintf(stderr, "seed: %d seeds refused\n", failures);
	return failures ? 1 : 0;
}
