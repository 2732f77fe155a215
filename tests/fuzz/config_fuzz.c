/*
 * config_fuzz.c - the module file, every section of it: shared/config.c
 * sky_config_parse() (cluster, module, nodes, heartbeat, witness...),
 * vipd/vipcfg.c vipd_cfg_parse(), checkd/cfg.c checkd_cfg_parse() and
 * replicd/settings.c replicd_settings_parse(). An operator writes it, and
 * `skyd -n` must refuse any bad file cleanly (no half-configured daemon).
 *
 * Every parser reads the same bytes, as every daemon reads the same file.
 * A cluster.key sits beside the file's path, so key_file resolves.
 */
#include "cfg.h"
#include "config.h"
#include "fuzz.h"
#include "settings.h"
#include "util.h"
#include "vipcfg.h"

#include <unistd.h>

static char dir[64], key[128], path[96];

static void cleanup(void)
{
	unlink(key);
	rmdir(dir);
}

static void setup(void)
{
	static const char hex[] = "00112233445566778899aabbccddeeff"
				  "00112233445566778899aabbccddeeff\n";

	snprintf(dir, sizeof(dir), "/tmp/skyha-fuzz-config-%d", (int)getpid());
	FUZZ_ASSERT(sky_mkdir_p(dir, 0700) == 0);
	snprintf(key, sizeof(key), "%s/cluster.key", dir);
	FUZZ_ASSERT(sky_write_file_atomic(key, hex, strlen(hex), 0600) == 0);
	snprintf(path, sizeof(path), "%s/app.yaml", dir);
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sky_config cfg;
	static struct vipd_cfg vip;
	static struct checkd_cfg ck;
	static struct replicd_settings rs;
	const char *text = (const char *)data;
	char err[512];

	if (!path[0])
		setup();
	(void)sky_config_parse(path, text, size, &cfg, err, sizeof(err));
	(void)vipd_cfg_parse(path, text, size, &vip, err, sizeof(err));
	(void)checkd_cfg_parse(path, text, size, &ck, err, sizeof(err));
	(void)replicd_settings_parse(path, text, size, &rs, err, sizeof(err));
	return 0;
}
