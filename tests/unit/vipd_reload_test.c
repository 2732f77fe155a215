/*
 * vipd_reload_test.c - what vipd's SIGHUP applies (vipd/reload.c): a
 * change of the nodes' weights alone is applied live, anything else asks
 * for a restart, through the real loaders on real files.
 */
#include "config.h"
#include "reload.h"
#include "test.h"
#include "util.h"
#include "vipcfg.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[128], path[160];

static const char base[] =
	"cluster:\n  name: demo\n  key_file: cluster.key\n"
	"module:\n  name: web\n  type: farm\n"
	"nodes:\n"
	"  - {name: node1, addresses: [198.18.0.1]}\n"
	"  - {name: node2, addresses: [198.18.0.2]}\n"
	"  - {name: node3, addresses: [198.18.0.3]}\n"
	"vipd:\n"
	"  addresses: [{address: \"fd00:198:18::100/64\", interface: eth0}]\n"
	"  lb: buckets\n";

struct loaded {
	struct sky_config mod;
	struct vipd_cfg cfg;
};

/* The base file with `from` replaced by `to`, written and loaded. */
static struct loaded *load(const char *from, const char *to)
{
	char text[2048];
	char err[512];
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/skyha-reload-test-%d",
			 (int)getpid());
		sky_mkdir_p(dir, 0700);
		snprintf(path, sizeof(path), "%s/app.yaml", dir);
		char key[160];
		snprintf(key, sizeof(key), "%s/cluster.key", dir);
		const char *hex = "00112233445566778899aabbccddeeff"
				  "00112233445566778899aabbccddeeff\n";
		sky_write_file_atomic(key, hex, strlen(hex), 0600);
	}
	const char *at = from ? strstr(base, from) : NULL;
	if (from && !at)
		return NULL;
	if (at)
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - base), base,
			 to, at + strlen(from));
	else
		snprintf(text, sizeof(text), "%s", base);
	sky_write_file_atomic(path, text, strlen(text), 0600);
	struct loaded *l = calloc(1, sizeof(*l));
	if (l && (sky_config_load(path, &l->mod, err, sizeof(err)) < 0 ||
		  vipd_cfg_load(path, &l->cfg, err, sizeof(err)) < 0)) {
		fprintf(stderr, "  %s\n", err);
		free(l);
		return NULL;
	}
	return l;
}

static int compare(const struct loaded *a, const struct loaded *b, char *what,
		   size_t size)
{
	return vipd_reload_compare(&a->mod, &a->cfg, &b->mod, &b->cfg, what,
				   size);
}

static void test_weights_alone_are_applied_live(void)
{
	char what[200];
	struct loaded *old = load(NULL, NULL);
	struct loaded *same = load(NULL, NULL);
	struct loaded *heavier =
		load("  - {name: node1, addresses: [198.18.0.1]}\n",
		     "  - {name: node1, addresses: [198.18.0.1], weight: 3}\n");
	CHECK(old && same && heavier);
	if (!old || !same || !heavier)
		return;
	CHECK_EQ_INT(compare(old, same, what, sizeof(what)), VIPD_RELOAD_NONE);
	CHECK_EQ_INT(compare(old, heavier, what, sizeof(what)),
		     VIPD_RELOAD_WEIGHTS);
	CHECK(strcmp(what, "node1 1 -> 3") == 0);
	/* and back */
	CHECK_EQ_INT(compare(heavier, old, what, sizeof(what)),
		     VIPD_RELOAD_WEIGHTS);
	CHECK(strcmp(what, "node1 3 -> 1") == 0);
	/* a description that does not fit is cut, not overrun */
	CHECK_EQ_INT(compare(old, heavier, what, 4), VIPD_RELOAD_WEIGHTS);
	CHECK(strlen(what) < 4);
	free(old);
	free(same);
	free(heavier);
}

static void test_anything_else_needs_a_restart(void)
{
	char what[200];
	struct loaded *old = load(NULL, NULL);
	static const char *const changes[][2] = {
		/* a weight and the hash at once: nothing is applied */
		{"  lb: buckets\n", "  lb: buckets\n  buckets: {hash: "
				    "address_port}\n"},
		{"  - {name: node3, addresses: [198.18.0.3]}\n",
		 "  - {name: node3, addresses: [198.18.0.3]}\n"
		 "  - {name: node4, addresses: [198.18.0.4]}\n"},
		{"  - {name: node3, addresses: [198.18.0.3]}\n",
		 "  - {name: node5, addresses: [198.18.0.3]}\n"},
		{"fd00:198:18::100/64", "fd00:198:18::101/64"},
		{"  name: web\n", "  name: web2\n"},
	};
	CHECK(old != NULL);
	for (size_t i = 0; old && i < SKY_ARRAY_SIZE(changes); i++) {
		struct loaded *now = load(changes[i][0], changes[i][1]);
		CHECK(now != NULL);
		if (now)
			CHECK_EQ_INT(compare(old, now, what, sizeof(what)),
				     VIPD_RELOAD_RESTART);
		free(now);
	}
	struct loaded *both =
		load("  - {name: node2, addresses: [198.18.0.2]}\n",
		     "  - {name: node2, addresses: [198.18.0.2], weight: 2}\n"
		     "  - {name: node4, addresses: [198.18.0.4]}\n");
	CHECK(both != NULL);
	if (old && both)
		CHECK_EQ_INT(compare(old, both, what, sizeof(what)),
			     VIPD_RELOAD_RESTART);
	free(both);
	free(old);
	unlink(path);
}

TEST_MAIN(TEST(test_weights_alone_are_applied_live),
	  TEST(test_anything_else_needs_a_restart))
