/*
 * seed_config.c - seeds for the module file parser: module files as an
 * operator writes them (a mirror, a farm, every daemon's section), each
 * kept only if shared/config.c accepts it, so the fuzzer starts from
 * configurations that reach the deep end of validation.
 */
#include "probe.h"
#include "seed.h"
#include "settings.h"
#include "vipcfg.h"

#include <stdio.h>
#include <string.h>

/* ---- configuration ---- */

void seed_config(void)
{
	static const char base[] =
		"cluster:\n  name: demo\n  key_file: cluster.key\n"
		"module:\n  name: app\n  type: mirror\n"
		"  default_primary: node1\n"
		"nodes:\n  - name: node1\n"
		"    addresses: [198.18.0.1, 198.18.1.1]\n"
		"  - name: node2\n    addresses: [198.18.0.2, 198.18.1.2]\n"
		"heartbeat: {port: 7400, interval_ms: 200, timeout_ms: 1000}\n"
		"quorum: witness\n"
		"witness:\n  addresses: [198.18.0.10]\n  port: 7401\n"
		"transitions:\n  order: [replicd, vipd, checkd]\n"
		"  step_timeout_ms: 30000\n";
	static const char replicd[] =
		"replicd:\n  directories: [/srv/a, /srv/ab]\n"
		"  port: 7402\n  resync_max_bytes_per_s: 12500000\n"
		"  resync_compress: zstd\n  resync_compress_level: 3\n";
	static const char vipd[] =
		"vipd:\n  addresses:\n"
		"    - {address: 198.18.0.100/24, interface: eth0}\n"
		"    - address: \"2001:2:0::100/64\"\n"
		"      interface: bond0.12\n"
		"  announce: {repeat: 3, interval_ms: 20, delay_ms: 2000,"
		" refresh_ms: 60000, refresh_repeat: 2}\n"
		"  probe: {wait_ms: 300, count: 3, on_conflict: fail}\n";
	static const char aws[] =
		"vipd:\n  aws:\n    region: eu-west-3\n    nodes:\n"
		"      node1: {eni: eni-1, instance: i-1}\n"
		"    private_ips: [10.0.0.10]\n"
		"    routes: [{table: rtb-1, destination: 10.1.0.0/24}]\n"
		"    target_groups: [{arn: \"arn:aws:elasticload"
		"balancing:eu-west-3:1:targetgroup/a/b\"}]\n";
	static const char azure[] =
		"vipd:\n  azure:\n    subscription: 0000-abcd\n"
		"    resource_group: rg1\n    nodes:\n"
		"      node1: {nic: nic-1, address: 10.1.0.4}\n"
		"      node2: {nic: nic-2, address: 10.1.0.5}\n"
		"    ip_configurations: [{name: vip, address: 10.1.0.10}]\n"
		"    routes: [{table: rt, route: r1, prefix: 10.2.0.0/24}]\n";
	static const char checkd[] =
		"checkd:\n  scripts:\n    start_prim: /bin/true\n"
		"    stop_prim: {path: /bin/true, timeout_ms: 2000}\n"
		"  restart: {max: 2, window_ms: 60000}\n"
		"  escalation: stop\n"
		"  environment: {APP_PORT: \"8080\"}\n"
		"  checkers:\n"
		"    - {name: p, kind: process, pidfile: app.pid}\n"
		"    - {name: t, kind: tcp, address: 127.0.0.1, port: 80}\n"
		"    - {name: h, kind: http, address: self, port: 8080, "
		"path: /health, expect_status: 204}\n"
		"    - {name: i, kind: icmp, address: \"::1\"}\n";
	static const char hex[] = "00112233445566778899aabbccddeeff"
				  "00112233445566778899aabbccddeeff\n";
	static struct sky_config cfg;
	static struct vipd_cfg vc;
	static struct checkd_cfg cc;
	static struct replicd_settings rs;
	char path[128], key[128], text[4096], err[512];
	const struct {
		const char *name, *section;
	} files[] = {{"base", ""}, {"replicd", replicd}, {"vipd", vipd},
		     {"aws", aws}, {"azure", azure},	 {"checkd", checkd}};

	snprintf(path, sizeof(path), "%s/app.yaml", seed_tmp);
	snprintf(key, sizeof(key), "%s/cluster.key", seed_tmp);
	sky_write_file_atomic(key, hex, strlen(hex), 0600);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t n = (size_t)snprintf(text, sizeof(text), "%s%s", base,
					    files[i].section);
		int r = sky_config_parse(path, text, n, &cfg, err, sizeof(err));
		if (r == 0 && files[i].section == vipd)
			r = vipd_cfg_parse(path, text, n, &vc, err,
					   sizeof(err));
		if (r == 0 &&
		    (files[i].section == aws || files[i].section == azure))
			r = vipd_cfg_parse(path, text, n, &vc, err,
					   sizeof(err));
		if (r == 0 && files[i].section == checkd)
			r = checkd_cfg_parse(path, text, n, &cc, err,
					     sizeof(err));
		if (r == 0 && files[i].section == replicd)
			r = replicd_settings_parse(path, text, n, &rs, err,
						   sizeof(err));
		if (r < 0) {
			fprintf(stderr, "seed: config %s: %s\n", files[i].name,
				err);
			seed_refused("config", files[i].name);
			continue;
		}
		seed_put("config", files[i].name, text, n);
	}
	/* A farm spreading its clients (vipd.lb: buckets). */
	static const char farm[] =
		"cluster:\n  name: demo\n  key_file: cluster.key\n"
		"module:\n  name: web\n  type: farm\n"
		"nodes:\n  - {name: node1, addresses: [198.18.0.1], weight: "
		"2}\n"
		"  - {name: node2, addresses: [198.18.0.2]}\n"
		"  - {name: node3, addresses: [198.18.0.3]}\n"
		"heartbeat: {port: 7400, interval_ms: 200, timeout_ms: 1000}\n"
		"transitions:\n  order: [vipd, checkd]\n"
		"  step_timeout_ms: 30000\n"
		"vipd:\n  addresses:\n"
		"    - {address: 198.18.0.100/24, interface: eth0}\n"
		"  lb: buckets\n"
		"  buckets: {hash: address_port, vmac: "
		"\"02:00:5e:10:00:01\"}\n";
	int r = sky_config_parse(path, farm, strlen(farm), &cfg, err,
				 sizeof(err));
	if (r == 0)
		r = vipd_cfg_parse(path, farm, strlen(farm), &vc, err,
				   sizeof(err));
	if (r < 0) {
		fprintf(stderr, "seed: config farm-buckets: %s\n", err);
		seed_refused("config", "farm-buckets");
	} else {
		seed_put("config", "farm-buckets", farm, strlen(farm));
	}
	/* A mirror with etcd as quorum (heartbeatd/etcd.c). */
	static const char etcd[] =
		"cluster:\n  name: demo\n  key_file: cluster.key\n"
		"module:\n  name: app\n"
		"nodes:\n  - {name: node1, addresses: [198.18.0.1]}\n"
		"  - {name: node2, addresses: [198.18.0.2]}\n"
		"quorum: etcd\n"
		"etcd:\n  endpoints: [https://198.18.0.31:2379, "
		"\"http://[2001:2::31]:2379\"]\n"
		"  prefix: /skyha/demo/app\n  lease_ms: 2000\n"
		"  ca_file: ca.crt\n  cert_file: c.crt\n  key_file: c.key\n";
	r = sky_config_parse(path, etcd, strlen(etcd), &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "seed: config etcd: %s\n", err);
		seed_refused("config", "etcd");
	} else {
		seed_put("config", "etcd", etcd, strlen(etcd));
	}
}
