/*
 * vipcfg.c - the `vipd:` section (see vipcfg.h and docs/config.md).
 *
 * Walks libyaml's tree with shared/yamlcfg.h so that every error names the
 * file, line, column and dotted field. Cross-field rules (no address twice,
 * a burst shorter than the delay before the second one) are checked after
 * the mapping is read, at the mapping's own position.
 */
#include "vipcfg.h"
#include "util.h"
#include "vipcfg_cloud.h"
#include "yamlcfg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *vipd_conflict_name(enum vipd_conflict c)
{
	return c == VIPD_CONFLICT_FAIL ? "fail" : "report";
}

const char *vipd_lb_name(enum vipd_lb lb)
{
	return lb == VIPD_LB_BUCKETS ? "buckets" : "none";
}

const char *vipd_hash_name(enum vipd_hash h)
{
	return h == VIPD_HASH_ADDRESS_PORT ? "address_port" : "address";
}

/* Addresses a virtual IP cannot be: no host answers for them alone. */
static const char *vip_unusable(const struct vipd_vip *v)
{
	if (v->family == AF_INET) {
		uint32_t a = ntohl(v->addr.v4.s_addr);
		if (a == 0)
			return "the unspecified address";
		if ((a >> 24) == 127)
			return "a loopback address";
		if ((a >> 28) == 0xe)
			return "a multicast address";
		if (a == 0xffffffffu)
			return "the broadcast address";
		return NULL;
	}
	if (IN6_IS_ADDR_UNSPECIFIED(&v->addr.v6))
		return "the unspecified address";
	if (IN6_IS_ADDR_LOOPBACK(&v->addr.v6))
		return "a loopback address";
	if (IN6_IS_ADDR_MULTICAST(&v->addr.v6))
		return "a multicast address";
	if (IN6_IS_ADDR_LINKLOCAL(&v->addr.v6))
		return "a link-local address (each host has its own)";
	if (IN6_IS_ADDR_V4MAPPED(&v->addr.v6))
		return "an IPv4-mapped address (write it as IPv4)";
	return NULL;
}

int vipd_vip_parse(const char *text, struct vipd_vip *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	int64_t prefix = -1;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &out->addr.v4) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, &out->addr.v6) == 1)
		out->family = AF_INET6;
	else
		return -EINVAL;
	int max = out->family == AF_INET ? 32 : 128;
	if (slash) {
		int r = sky_parse_i64(slash + 1, 1, max, &prefix);
		if (r < 0)
			return -ERANGE;
	}
	out->prefix = (uint8_t)(prefix < 0 ? max : prefix);
	char norm[INET6_ADDRSTRLEN];
	inet_ntop(out->family, out->addr.bytes, norm, sizeof(norm));
	snprintf(out->text, sizeof(out->text), "%s/%u", norm, out->prefix);
	return 0;
}

struct loader {
	struct vipd_cfg *cfg;
	const yaml_node_t *lb_node, *buckets_node;
	struct vipd_vip *vip;
	char field[64]; /* "vipd.addresses[2]" */
	bool have_address, have_interface;
};

static int ifname_check(struct sky_yaml *ctx, const yaml_node_t *v,
			const char *field, char *out)
{
	const char *s = sky_yaml_scalar(v);
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= IFNAMSIZ)
		return sky_yaml_fail(ctx, v, field,
				     "must be an interface name of 1..%d "
				     "characters",
				     IFNAMSIZ - 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c == ':' || isspace(c) || !isprint(c))
			return sky_yaml_fail(ctx, v, field,
					     "'%s' is not a valid interface "
					     "name",
					     s);
	}
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return sky_yaml_fail(ctx, v, field,
				     "'%s' is not a valid interface name", s);
	memcpy(out, s, n + 1);
	return 0;
}

static int vip_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		    void *data)
{
	struct loader *l = data;
	char f[96];
	snprintf(f, sizeof(f), "%s.%s", l->field, key);
	if (strcmp(key, "address") == 0) {
		const char *s = sky_yaml_scalar(v);
		char ifname[IFNAMSIZ];
		memcpy(ifname, l->vip->ifname, sizeof(ifname));
		int r = s ? vipd_vip_parse(s, l->vip) : -EINVAL;
		memcpy(l->vip->ifname, ifname, sizeof(ifname));
		if (r == -ERANGE)
			return sky_yaml_fail(ctx, v, f,
					     "prefix of '%s' out of range "
					     "(1..32 for IPv4, 1..128 for "
					     "IPv6)",
					     s);
		if (r < 0)
			return sky_yaml_fail(ctx, v, f,
					     "must be an IPv4 or IPv6 address "
					     "with an optional /prefix, got "
					     "'%.64s'",
					     s ? s : "(not a scalar)");
		const char *bad = vip_unusable(l->vip);
		if (bad)
			return sky_yaml_fail(ctx, v, f,
					     "%s cannot be a virtual IP: it "
					     "is %s",
					     s, bad);
		l->have_address = true;
		return 0;
	}
	if (strcmp(key, "interface") == 0) {
		l->have_interface = true;
		return ifname_check(ctx, v, f, l->vip->ifname);
	}
	return sky_yaml_unknown_key(ctx, v, l->field, key);
}

static int addresses(struct sky_yaml *ctx, yaml_node_t *seq, struct loader *l)
{
	struct vipd_cfg *c = l->cfg;
	size_t n = sky_yaml_seq_len(seq);
	if (seq->type != YAML_SEQUENCE_NODE || n == 0)
		return sky_yaml_fail(ctx, seq, "vipd.addresses",
				     "must be a list of 1..%d {address, "
				     "interface}",
				     VIPD_MAX_VIPS);
	if (n > VIPD_MAX_VIPS)
		return sky_yaml_fail(ctx, seq, "vipd.addresses",
				     "at most %d addresses, got %zu",
				     VIPD_MAX_VIPS, n);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = sky_yaml_seq_item(ctx, seq, i);
		snprintf(l->field, sizeof(l->field), "vipd.addresses[%zu]", i);
		l->vip = &c->vips[i];
		l->have_address = l->have_interface = false;
		int r = item ? sky_yaml_each(ctx, item, l->field, vip_pair, l)
			     : -EINVAL;
		if (r < 0)
			return r;
		if (!l->have_address || !l->have_interface)
			return sky_yaml_fail(
				ctx, item, l->field, "%s: required",
				l->have_address ? "interface" : "address");
		for (size_t k = 0; k < i; k++)
			if (c->vips[k].family == l->vip->family &&
			    memcmp(c->vips[k].addr.bytes, l->vip->addr.bytes,
				   l->vip->family == AF_INET ? 4 : 16) == 0)
				return sky_yaml_fail(
					ctx, item, l->field,
					"%s is already vipd.addresses[%zu]",
					l->vip->text, k);
	}
	c->vip_count = n;
	return 0;
}

static int announce_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			 void *data)
{
	struct vipd_announce_cfg *a = &((struct loader *)data)->cfg->announce;
	if (strcmp(key, "repeat") == 0)
		return sky_yaml_u32(ctx, v, "vipd.announce.repeat", 1, 100,
				    &a->repeat);
	if (strcmp(key, "interval_ms") == 0)
		return sky_yaml_u32(ctx, v, "vipd.announce.interval_ms", 0,
				    1000, &a->interval_ms);
	if (strcmp(key, "delay_ms") == 0)
		return sky_yaml_u32(ctx, v, "vipd.announce.delay_ms", 0, 600000,
				    &a->delay_ms);
	if (strcmp(key, "refresh_ms") == 0) {
		int r = sky_yaml_u32(ctx, v, "vipd.announce.refresh_ms", 0,
				     86400000, &a->refresh_ms);
		if (r >= 0 && a->refresh_ms && a->refresh_ms < 1000)
			return sky_yaml_fail(ctx, v, "vipd.announce.refresh_ms",
					     "must be 0 (never) or at least "
					     "1000, got %u",
					     a->refresh_ms);
		return r;
	}
	if (strcmp(key, "refresh_repeat") == 0)
		return sky_yaml_u32(ctx, v, "vipd.announce.refresh_repeat", 1,
				    100, &a->refresh_repeat);
	return sky_yaml_unknown_key(ctx, v, "vipd.announce", key);
}

static int probe_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		      void *data)
{
	struct vipd_probe_cfg *p = &((struct loader *)data)->cfg->probe;
	if (strcmp(key, "wait_ms") == 0)
		return sky_yaml_u32(ctx, v, "vipd.probe.wait_ms", 0, 5000,
				    &p->wait_ms);
	if (strcmp(key, "count") == 0)
		return sky_yaml_u32(ctx, v, "vipd.probe.count", 1, 10,
				    &p->count);
	if (strcmp(key, "on_conflict") == 0) {
		const char *s = sky_yaml_scalar(v);
		if (s && strcmp(s, "report") == 0)
			p->on_conflict = VIPD_CONFLICT_REPORT;
		else if (s && strcmp(s, "fail") == 0)
			p->on_conflict = VIPD_CONFLICT_FAIL;
		else
			return sky_yaml_fail(ctx, v, "vipd.probe.on_conflict",
					     "must be report or fail");
		return 0;
	}
	return sky_yaml_unknown_key(ctx, v, "vipd.probe", key);
}

/* --- lb: buckets ---------------------------------------------------------- */

static int mac_parse(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;
	if (!s || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[3 * i]) ||
		    !isxdigit((unsigned char)s[3 * i + 1]) ||
		    (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static int buckets_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			void *data)
{
	struct vipd_buckets_cfg *b = &((struct loader *)data)->cfg->buckets;
	if (strcmp(key, "hash") == 0) {
		const char *s = sky_yaml_scalar(v);
		if (s && strcmp(s, "address") == 0)
			b->hash = VIPD_HASH_ADDRESS;
		else if (s && strcmp(s, "address_port") == 0)
			b->hash = VIPD_HASH_ADDRESS_PORT;
		else
			return sky_yaml_fail(ctx, v, "vipd.buckets.hash",
					     "must be address or address_port, "
					     "got '%.32s'",
					     s ? s : "(not a scalar)");
		return 0;
	}
	if (strcmp(key, "vmac") == 0) {
		const char *s = sky_yaml_scalar(v);
		if (mac_parse(s, b->vmac) < 0)
			return sky_yaml_fail(ctx, v, "vipd.buckets.vmac",
					     "must be a MAC address such as "
					     "02:00:5e:10:00:01");
		if (b->vmac[0] & 1)
			return sky_yaml_fail(ctx, v, "vipd.buckets.vmac",
					     "%s is a multicast address: the "
					     "virtual MAC must be unicast",
					     s);
		static const uint8_t zero[6];
		if (memcmp(b->vmac, zero, 6) == 0)
			return sky_yaml_fail(ctx, v, "vipd.buckets.vmac",
					     "must not be 00:00:00:00:00:00");
		b->vmac_set = true;
		return 0;
	}
	return sky_yaml_unknown_key(ctx, v, "vipd.buckets", key);
}

/* Interface names that go into nft's script as they are. */
static bool nft_ifname(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_-.@", *s))
			return false;
	return true;
}

/* Cross-field rules of lb: buckets, once the whole section is read. */
static int buckets_check(struct sky_yaml *ctx, yaml_node_t *root,
			 struct loader *l)
{
	const struct vipd_cfg *c = l->cfg;
	const yaml_node_t *at = l->lb_node;
	if (c->lb != VIPD_LB_BUCKETS) {
		if (l->buckets_node)
			return sky_yaml_fail(ctx, l->buckets_node,
					     "vipd.buckets",
					     "only with vipd.lb: buckets");
		return 0;
	}
	yaml_node_t *mod = sky_yaml_get(ctx, root, "module");
	yaml_node_t *type = mod && mod->type == YAML_MAPPING_NODE
				    ? sky_yaml_get(ctx, mod, "type")
				    : NULL;
	const char *t = type ? sky_yaml_scalar(type) : NULL;
	if (!t || strcmp(t, "farm") != 0)
		return sky_yaml_fail(ctx, at, "vipd.lb",
				     "buckets needs module.type: farm (the "
				     "VIP on every node); this module is a "
				     "%.16s",
				     t ? t : "mirror");
	if (c->aws.set || c->azure.set)
		return sky_yaml_fail(ctx, at, "vipd.lb",
				     "buckets works on premises only (clouds "
				     "do not flood unknown unicast): no aws "
				     "or azure section with it");
	for (size_t i = 0; i < c->vip_count; i++) {
		const struct vipd_vip *v = &c->vips[i];
		/* IPv4 and IPv6 alike (buckets.h) */
		if (!nft_ifname(v->ifname))
			return sky_yaml_fail(ctx, at, "vipd.lb",
					     "buckets: interface '%s' of "
					     "vipd.addresses[%zu] has "
					     "characters nftables would "
					     "misread",
					     v->ifname, i);
	}
	if (!c->vip_count)
		return sky_yaml_fail(ctx, at, "vipd.lb",
				     "buckets needs an address in "
				     "vipd.addresses");
	return 0;
}

static int section_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			void *data)
{
	struct loader *l = data;
	if (strcmp(key, "addresses") == 0)
		return addresses(ctx, v, l);
	if (strcmp(key, "announce") == 0) {
		int r = sky_yaml_each(ctx, v, "vipd.announce", announce_pair,
				      l);
		const struct vipd_announce_cfg *a = &l->cfg->announce;
		uint64_t burst = (uint64_t)(a->repeat - 1) * a->interval_ms;
		if (r >= 0 && a->delay_ms && burst >= a->delay_ms)
			r = sky_yaml_fail(ctx, v, "vipd.announce",
					  "a burst ((repeat-1) x interval_ms "
					  "= %llu ms) must end before "
					  "delay_ms (%u)",
					  (unsigned long long)burst,
					  a->delay_ms);
		return r;
	}
	if (strcmp(key, "probe") == 0)
		return sky_yaml_each(ctx, v, "vipd.probe", probe_pair, l);
	if (strcmp(key, "lb") == 0) {
		const char *s = sky_yaml_scalar(v);
		l->lb_node = v;
		if (s && strcmp(s, "none") == 0)
			l->cfg->lb = VIPD_LB_NONE;
		else if (s && strcmp(s, "buckets") == 0)
			l->cfg->lb = VIPD_LB_BUCKETS;
		else
			return sky_yaml_fail(ctx, v, "vipd.lb",
					     "must be none or buckets, got "
					     "'%.32s'",
					     s ? s : "(not a scalar)");
		return 0;
	}
	if (strcmp(key, "buckets") == 0) {
		l->buckets_node = v;
		return sky_yaml_each(ctx, v, "vipd.buckets", buckets_pair, l);
	}
	if (strcmp(key, "aws") == 0)
		return vipd_cfg_aws(ctx, v, l->cfg);
	if (strcmp(key, "azure") == 0)
		return vipd_cfg_azure(ctx, v, l->cfg);
	return sky_yaml_unknown_key(ctx, v, "vipd", key);
}

int vipd_cfg_parse(const char *path, const char *text, size_t len,
		   struct vipd_cfg *out, char *err, size_t err_size)
{
	struct sky_yaml ctx;
	struct loader l = {0};
	_cleanup_free_ struct vipd_cfg *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	/* keepalived's defaults for a new master. */
	c->announce.repeat = 5;
	c->announce.interval_ms = 0;
	c->announce.delay_ms = 5000;
	c->announce.refresh_ms = 0;
	c->announce.refresh_repeat = 1;
	c->probe.wait_ms = 200;
	c->probe.count = 2;
	c->probe.on_conflict = VIPD_CONFLICT_REPORT;
	l.cfg = c;

	r = sky_yaml_parse(&ctx, path, text, len, err, err_size);
	if (r < 0)
		return r;
	yaml_node_t *root = sky_yaml_root(&ctx);
	yaml_node_t *sec = root ? sky_yaml_get(&ctx, root, "vipd") : NULL;
	if (!root)
		r = sky_yaml_fail(&ctx, NULL, "(file)", "empty configuration");
	else if (!sec)
		r = sky_yaml_fail(&ctx, root, "vipd",
				  "section missing: vipd needs at least "
				  "addresses");
	else
		r = sky_yaml_each(&ctx, sec, "vipd", section_pair, &l);
	if (r >= 0 && c->vip_count == 0 && !c->aws.set && !c->azure.set)
		r = sky_yaml_fail(&ctx, sec, "vipd.addresses",
				  "required (or a cloud section: aws, "
				  "azure)");
	if (r >= 0)
		r = buckets_check(&ctx, root, &l);
	if (r >= 0)
		*out = *c;
	sky_yaml_done(&ctx);
	return r;
}

int vipd_cfg_load(const char *path, struct vipd_cfg *out, char *err,
		  size_t err_size)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = sky_read_file(path, VIPD_FILE_MAX, &text, &len);
	if (r < 0) {
		snprintf(err, err_size, "%s: cannot read: %s", path,
			 r == -EFBIG ? "larger than 256 KiB" : strerror(-r));
		return r;
	}
	return vipd_cfg_parse(path, text, len, out, err, err_size);
}
