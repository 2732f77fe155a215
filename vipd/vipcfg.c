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

/* --- aws: --------------------------------------------------------------- */

const struct vipd_aws_node *vipd_aws_node(const struct vipd_aws_cfg *aws,
					  const char *node)
{
	for (size_t i = 0; aws->set && i < aws->node_count; i++)
		if (strcmp(aws->nodes[i].name, node) == 0)
			return &aws->nodes[i];
	return NULL;
}

/* AWS identifiers (eni-0a1b, i-0a1b, rtb-0a1b, eu-west-1): [A-Za-z0-9-]. */
static int aws_id(struct sky_yaml *ctx, const yaml_node_t *v, const char *field,
		  char *out, size_t size)
{
	const char *s = sky_yaml_scalar(v);
	size_t n = s ? strlen(s) : 0;
	bool ok = n > 0 && n < size;
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)s[i]) || s[i] == '-';
	if (!ok)
		return sky_yaml_fail(ctx, v, field,
				     "must be an AWS identifier of 1..%zu "
				     "characters [A-Za-z0-9-]",
				     size - 1);
	memcpy(out, s, n + 1);
	return 0;
}

/* A printable string without spaces, of at most size-1 bytes. */
static int token(struct sky_yaml *ctx, const yaml_node_t *v, const char *field,
		 const char *prefix, char *out, size_t size)
{
	const char *s = sky_yaml_scalar(v);
	size_t n = s ? strlen(s) : 0;
	bool ok = n > 0 && n < size;
	for (size_t i = 0; ok && i < n; i++)
		ok = isgraph((unsigned char)s[i]);
	if (!ok)
		return sky_yaml_fail(ctx, v, field,
				     "must be 1..%zu printable characters "
				     "without spaces",
				     size - 1);
	if (prefix && strncmp(s, prefix, strlen(prefix)) != 0)
		return sky_yaml_fail(ctx, v, field, "must start with %s",
				     prefix);
	memcpy(out, s, n + 1);
	return 0;
}

static int url(struct sky_yaml *ctx, const yaml_node_t *v, const char *field,
	       char *out)
{
	int r = token(ctx, v, field, NULL, out, VIPD_URL_MAX);
	if (r < 0)
		return r;
	if (strncmp(out, "http://", 7) != 0 && strncmp(out, "https://", 8) != 0)
		return sky_yaml_fail(ctx, v, field,
				     "must be an http:// or https:// URL");
	size_t n = strlen(out);
	if (out[n - 1] == '/')
		out[n - 1] = '\0'; /* paths are appended */
	return 0;
}

/* Azure resource names and IDs: [A-Za-z0-9._()-], 1..80. */
static int az_name(struct sky_yaml *ctx, const yaml_node_t *v,
		   const char *field, char *out, size_t size)
{
	const char *s = sky_yaml_scalar(v);
	size_t n = s ? strlen(s) : 0;
	bool ok = n > 0 && n < size;
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)s[i]) || strchr("._()-", s[i]);
	if (!ok)
		return sky_yaml_fail(ctx, v, field,
				     "must be an Azure name of 1..%zu "
				     "characters [A-Za-z0-9._()-]",
				     size - 1);
	memcpy(out, s, n + 1);
	return 0;
}

static int ip_text(struct sky_yaml *ctx, const yaml_node_t *v,
		   const char *field, char *out)
{
	const char *s = sky_yaml_scalar(v);
	unsigned char buf[16];
	int fam = s && strchr(s, ':') ? AF_INET6 : AF_INET;
	if (!s || inet_pton(fam, s, buf) != 1)
		return sky_yaml_fail(ctx, v, field,
				     "must be an IPv4 or IPv6 address");
	inet_ntop(fam, buf, out, INET6_ADDRSTRLEN);
	return 0;
}

static int cidr_text(struct sky_yaml *ctx, const yaml_node_t *v,
		     const char *field, char *out, size_t size)
{
	struct vipd_vip cidr;
	const char *s = sky_yaml_scalar(v);
	if (!s || !strchr(s, '/') || vipd_vip_parse(s, &cidr) < 0)
		return sky_yaml_fail(ctx, v, field,
				     "must be an IPv4 or IPv6 CIDR block such "
				     "as 10.1.0.10/32");
	sky_strlcpy(out, cidr.text, size);
	return 0;
}

/*
 * The cloud sections' nodes and list items (AWS routes and target groups,
 * Azure ip_configurations and routes) are small mappings of typed keys:
 * each is read through a table of its keys, into its struct.
 */
enum cloud_kind {
	CK_AWS_ID,  /* aws_id */
	CK_AZ_NAME, /* az_name */
	CK_IP,	    /* an IPv4 or IPv6 address */
	CK_CIDR,    /* a CIDR block */
	CK_ARN,	    /* printable, starting with arn: */
	CK_PORT,    /* uint32_t, 1..65535 */
};

struct cloud_key {
	const char *key; /* NULL ends a table */
	enum cloud_kind kind;
	size_t offset, size; /* of the field in the item's struct */
	bool required;
};

#define CLOUD_KEY(type, member, name, kind, required)                          \
	{                                                                      \
		name, kind, offsetof(type, member),                            \
			sizeof(((type *)0)->member), required                  \
	}

struct cloud_item {
	char field[96];
	char *base; /* the item's struct */
	const struct cloud_key *keys;
	unsigned seen; /* bit i: keys[i] was given */
};

static int cloud_item_pair(struct sky_yaml *ctx, const char *key,
			   yaml_node_t *v, void *data)
{
	struct cloud_item *it = data;
	char f[160];
	snprintf(f, sizeof(f), "%s.%s", it->field, key);
	for (unsigned i = 0; it->keys[i].key; i++) {
		const struct cloud_key *k = &it->keys[i];
		char *dst = it->base + k->offset;
		if (strcmp(key, k->key) != 0)
			continue;
		it->seen |= 1u << i;
		switch (k->kind) {
		case CK_AWS_ID:
			return aws_id(ctx, v, f, dst, k->size);
		case CK_AZ_NAME:
			return az_name(ctx, v, f, dst, k->size);
		case CK_IP:
			return ip_text(ctx, v, f, dst);
		case CK_CIDR:
			return cidr_text(ctx, v, f, dst, k->size);
		case CK_ARN:
			return token(ctx, v, f, "arn:", dst, k->size);
		case CK_PORT:
			return sky_yaml_u32(ctx, v, f, 1, 65535,
					    (uint32_t *)(void *)dst);
		}
	}
	return sky_yaml_unknown_key(ctx, v, it->field, key);
}

/* Read one item; then every required key must have been given. */
static int cloud_item(struct sky_yaml *ctx, yaml_node_t *v,
		      struct cloud_item *it)
{
	int r = sky_yaml_each(ctx, v, it->field, cloud_item_pair, it);
	if (r < 0)
		return r;
	for (unsigned i = 0; it->keys[i].key; i++)
		if (it->keys[i].required && !(it->seen & (1u << i)))
			return sky_yaml_fail(ctx, v, it->field, "%s: required",
					     it->keys[i].key);
	return 0;
}

/* Where a section's items go: an array of max structs of stride bytes. */
struct cloud_array {
	const char *field;
	const struct cloud_key *keys;
	char *base;
	size_t stride, max;
	size_t *count;
	size_t name_offset; /* nodes: the struct's name[33] */
};

static int cloud_nodes_pair(struct sky_yaml *ctx, const char *key,
			    yaml_node_t *v, void *data)
{
	const struct cloud_array *arr = data;
	struct cloud_item it = {.keys = arr->keys};
	snprintf(it.field, sizeof(it.field), "%s.%s", arr->field, key);
	if (!sky_name_valid(key, strlen(key)))
		return sky_yaml_fail(ctx, v, it.field, "not a valid node name");
	if (*arr->count >= arr->max)
		return sky_yaml_fail(ctx, v, it.field, "at most %zu nodes",
				     arr->max);
	it.base = arr->base + *arr->count * arr->stride;
	sky_strlcpy(it.base + arr->name_offset, key, SKY_NAME_MAX + 1);
	int r = cloud_item(ctx, v, &it);
	if (r < 0)
		return r;
	(*arr->count)++;
	return 0;
}

/* A list of at most arr->max items. */
static int cloud_list(struct sky_yaml *ctx, yaml_node_t *seq,
		      const struct cloud_array *arr)
{
	size_t n = sky_yaml_seq_len(seq);
	if (seq->type != YAML_SEQUENCE_NODE || n > arr->max)
		return sky_yaml_fail(ctx, seq, arr->field,
				     "must be a list of at most %zu entries",
				     arr->max);
	for (size_t i = 0; i < n; i++) {
		struct cloud_item it = {.keys = arr->keys,
					.base = arr->base + i * arr->stride};
		yaml_node_t *item = sky_yaml_seq_item(ctx, seq, i);
		snprintf(it.field, sizeof(it.field), "%s[%zu]", arr->field, i);
		int r = item ? cloud_item(ctx, item, &it) : -EINVAL;
		if (r < 0)
			return r;
	}
	*arr->count = n;
	return 0;
}

#define CLOUD_ARRAY(f, k, array, n, name_member)                               \
	(struct cloud_array)                                                   \
	{                                                                      \
		.field = (f), .keys = (k), .base = (char *)(array),            \
		.stride = sizeof((array)[0]), .max = SKY_ARRAY_SIZE(array),    \
		.count = &(n), .name_offset = name_member                      \
	}

static const struct cloud_key aws_node_keys[] = {
	CLOUD_KEY(struct vipd_aws_node, eni, "eni", CK_AWS_ID, false),
	CLOUD_KEY(struct vipd_aws_node, instance, "instance", CK_AWS_ID, false),
	{0}};
static const struct cloud_key aws_route_keys[] = {
	CLOUD_KEY(struct vipd_aws_route, table, "table", CK_AWS_ID, true),
	CLOUD_KEY(struct vipd_aws_route, destination, "destination", CK_CIDR,
		  true),
	{0}};
static const struct cloud_key aws_tg_keys[] = {
	CLOUD_KEY(struct vipd_aws_target_group, arn, "arn", CK_ARN, true),
	CLOUD_KEY(struct vipd_aws_target_group, port, "port", CK_PORT, false),
	{0}};
static const struct cloud_key az_node_keys[] = {
	CLOUD_KEY(struct vipd_azure_node, nic, "nic", CK_AZ_NAME, true),
	CLOUD_KEY(struct vipd_azure_node, address, "address", CK_IP, false),
	{0}};
static const struct cloud_key az_ipconf_keys[] = {
	CLOUD_KEY(struct vipd_azure_ipconf, name, "name", CK_AZ_NAME, true),
	CLOUD_KEY(struct vipd_azure_ipconf, address, "address", CK_IP, true),
	{0}};
static const struct cloud_key az_route_keys[] = {
	CLOUD_KEY(struct vipd_azure_route, table, "table", CK_AZ_NAME, true),
	CLOUD_KEY(struct vipd_azure_route, route, "route", CK_AZ_NAME, true),
	CLOUD_KEY(struct vipd_azure_route, prefix, "prefix", CK_CIDR, true),
	{0}};
static const struct cloud_key az_pool_keys[] = {
	CLOUD_KEY(struct vipd_azure_pool, load_balancer, "load_balancer",
		  CK_AZ_NAME, true),
	CLOUD_KEY(struct vipd_azure_pool, pool, "pool", CK_AZ_NAME, true),
	{0}};
static int aws_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		    void *data)
{
	struct loader *l = data;
	struct vipd_cfg *c = l->cfg;
	struct vipd_aws_cfg *a = &c->aws;
	char f[96];
	snprintf(f, sizeof(f), "vipd.aws.%s", key);
	if (strcmp(key, "region") == 0)
		return aws_id(ctx, v, f, a->region, sizeof(a->region));
	if (strcmp(key, "credentials") == 0) {
		const char *s = sky_yaml_scalar(v);
		if (s && strcmp(s, "imds") == 0)
			a->creds = VIPD_AWS_CREDS_IMDS;
		else if (s && strcmp(s, "env") == 0)
			a->creds = VIPD_AWS_CREDS_ENV;
		else
			return sky_yaml_fail(ctx, v, f, "must be imds or env");
		return 0;
	}
	if (strcmp(key, "imds_endpoint") == 0)
		return url(ctx, v, f, a->imds_endpoint);
	if (strcmp(key, "ec2_endpoint") == 0)
		return url(ctx, v, f, a->ec2_endpoint);
	if (strcmp(key, "elb_endpoint") == 0)
		return url(ctx, v, f, a->elb_endpoint);
	if (strcmp(key, "timeout_ms") == 0)
		return sky_yaml_u32(ctx, v, f, 100, 60000, &a->timeout_ms);
	if (strcmp(key, "attempts") == 0)
		return sky_yaml_u32(ctx, v, f, 1, 20, &a->attempts);
	if (strcmp(key, "backoff_ms") == 0)
		return sky_yaml_u32(ctx, v, f, 10, 10000, &a->backoff_ms);
	if (strcmp(key, "nodes") == 0) {
		struct cloud_array arr =
			CLOUD_ARRAY(f, aws_node_keys, a->nodes, a->node_count,
				    offsetof(struct vipd_aws_node, name));
		return sky_yaml_each(ctx, v, f, cloud_nodes_pair, &arr);
	}
	if (strcmp(key, "private_ips") == 0) {
		size_t n = sky_yaml_seq_len(v);
		if (v->type != YAML_SEQUENCE_NODE || n > VIPD_AWS_MAX)
			return sky_yaml_fail(ctx, v, f,
					     "must be a list of at most %d "
					     "IPv4 addresses",
					     VIPD_AWS_MAX);
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *item = sky_yaml_seq_item(ctx, v, i);
			const char *s = item ? sky_yaml_scalar(item) : NULL;
			struct in_addr in;
			char fi[112];
			snprintf(fi, sizeof(fi), "%s[%zu]", f, i);
			if (!s || inet_pton(AF_INET, s, &in) != 1)
				return sky_yaml_fail(ctx, item ? item : v, fi,
						     "must be an IPv4 "
						     "address");
			inet_ntop(AF_INET, &in, a->private_ips[i],
				  sizeof(a->private_ips[i]));
		}
		a->private_ip_count = n;
		return 0;
	}
	if (strcmp(key, "routes") == 0)
		return cloud_list(ctx, v,
				  &CLOUD_ARRAY(f, aws_route_keys, a->routes,
					       a->route_count, 0));
	if (strcmp(key, "target_groups") == 0)
		return cloud_list(ctx, v,
				  &CLOUD_ARRAY(f, aws_tg_keys, a->target_groups,
					       a->target_group_count, 0));
	return sky_yaml_unknown_key(ctx, v, "vipd.aws", key);
}

static int aws_section(struct sky_yaml *ctx, yaml_node_t *v, struct loader *l)
{
	struct vipd_aws_cfg *a = &l->cfg->aws;
	a->set = true;
	a->timeout_ms = 5000;
	a->attempts = 5;
	a->backoff_ms = 200;
	sky_strlcpy(a->imds_endpoint, "http://169.254.169.254",
		    sizeof(a->imds_endpoint));
	int r = sky_yaml_each(ctx, v, "vipd.aws", aws_pair, l);
	if (r < 0)
		return r;
	if (!a->region[0])
		return sky_yaml_fail(ctx, v, "vipd.aws", "region: required");
	if (!a->node_count)
		return sky_yaml_fail(ctx, v, "vipd.aws",
				     "nodes: required (each node in AWS with "
				     "its eni and/or instance)");
	if (!a->private_ip_count && !a->route_count && !a->target_group_count)
		return sky_yaml_fail(ctx, v, "vipd.aws",
				     "nothing to do: give private_ips, routes "
				     "or target_groups");
	for (size_t i = 0; i < a->node_count; i++) {
		const struct vipd_aws_node *n = &a->nodes[i];
		if ((a->private_ip_count || a->route_count) && !n->eni[0])
			return sky_yaml_fail(ctx, v, "vipd.aws.nodes",
					     "%s: eni required for private_ips "
					     "and routes",
					     n->name);
		if (a->target_group_count && !n->instance[0])
			return sky_yaml_fail(ctx, v, "vipd.aws.nodes",
					     "%s: instance required for "
					     "target_groups",
					     n->name);
	}
	if (!a->ec2_endpoint[0])
		snprintf(a->ec2_endpoint, sizeof(a->ec2_endpoint),
			 "https://ec2.%s.amazonaws.com", a->region);
	if (!a->elb_endpoint[0])
		snprintf(a->elb_endpoint, sizeof(a->elb_endpoint),
			 "https://elasticloadbalancing.%s.amazonaws.com",
			 a->region);
	return 0;
}

/* --- azure: ------------------------------------------------------------- */

const struct vipd_azure_node *vipd_azure_node(const struct vipd_azure_cfg *az,
					      const char *node)
{
	for (size_t i = 0; az->set && i < az->node_count; i++)
		if (strcmp(az->nodes[i].name, node) == 0)
			return &az->nodes[i];
	return NULL;
}

static int az_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		   void *data)
{
	struct loader *l = data;
	struct vipd_cfg *c = l->cfg;
	struct vipd_azure_cfg *a = &c->azure;
	char f[96];
	snprintf(f, sizeof(f), "vipd.azure.%s", key);
	if (strcmp(key, "subscription") == 0)
		return az_name(ctx, v, f, a->subscription,
			       sizeof(a->subscription));
	if (strcmp(key, "resource_group") == 0)
		return az_name(ctx, v, f, a->resource_group,
			       sizeof(a->resource_group));
	if (strcmp(key, "client_id") == 0)
		return az_name(ctx, v, f, a->client_id, sizeof(a->client_id));
	if (strcmp(key, "imds_endpoint") == 0)
		return url(ctx, v, f, a->imds_endpoint);
	if (strcmp(key, "arm_endpoint") == 0)
		return url(ctx, v, f, a->arm_endpoint);
	if (strcmp(key, "resource") == 0)
		return token(ctx, v, f, NULL, a->resource, sizeof(a->resource));
	if (strcmp(key, "timeout_ms") == 0)
		return sky_yaml_u32(ctx, v, f, 100, 60000, &a->timeout_ms);
	if (strcmp(key, "attempts") == 0)
		return sky_yaml_u32(ctx, v, f, 1, 20, &a->attempts);
	if (strcmp(key, "backoff_ms") == 0)
		return sky_yaml_u32(ctx, v, f, 10, 10000, &a->backoff_ms);
	if (strcmp(key, "operation_timeout_ms") == 0)
		return sky_yaml_u32(ctx, v, f, 1000, 600000,
				    &a->operation_timeout_ms);
	if (strcmp(key, "nodes") == 0) {
		struct cloud_array arr =
			CLOUD_ARRAY(f, az_node_keys, a->nodes, a->node_count,
				    offsetof(struct vipd_azure_node, name));
		return sky_yaml_each(ctx, v, f, cloud_nodes_pair, &arr);
	}
	if (strcmp(key, "ip_configurations") == 0)
		return cloud_list(ctx, v,
				  &CLOUD_ARRAY(f, az_ipconf_keys, a->ipconfs,
					       a->ipconf_count, 0));
	if (strcmp(key, "routes") == 0)
		return cloud_list(ctx, v,
				  &CLOUD_ARRAY(f, az_route_keys, a->routes,
					       a->route_count, 0));
	if (strcmp(key, "backend_pools") == 0)
		return cloud_list(ctx, v,
				  &CLOUD_ARRAY(f, az_pool_keys, a->pools,
					       a->pool_count, 0));
	return sky_yaml_unknown_key(ctx, v, "vipd.azure", key);
}

static int azure_section(struct sky_yaml *ctx, yaml_node_t *v, struct loader *l)
{
	struct vipd_azure_cfg *a = &l->cfg->azure;
	a->set = true;
	a->timeout_ms = 5000;
	a->attempts = 5;
	a->backoff_ms = 200;
	a->operation_timeout_ms = 120000;
	sky_strlcpy(a->imds_endpoint, "http://169.254.169.254",
		    sizeof(a->imds_endpoint));
	sky_strlcpy(a->arm_endpoint, "https://management.azure.com",
		    sizeof(a->arm_endpoint));
	int r = sky_yaml_each(ctx, v, "vipd.azure", az_pair, l);
	if (r < 0)
		return r;
	if (!a->subscription[0] || !a->resource_group[0])
		return sky_yaml_fail(ctx, v, "vipd.azure", "%s: required",
				     !a->subscription[0] ? "subscription"
							 : "resource_group");
	if (!a->node_count)
		return sky_yaml_fail(ctx, v, "vipd.azure",
				     "nodes: required (each node in Azure with "
				     "its nic)");
	if (!a->ipconf_count && !a->route_count && !a->pool_count)
		return sky_yaml_fail(ctx, v, "vipd.azure",
				     "nothing to do: give ip_configurations, "
				     "routes or backend_pools");
	for (size_t i = 0; a->route_count && i < a->node_count; i++)
		if (!a->nodes[i].address[0])
			return sky_yaml_fail(ctx, v, "vipd.azure.nodes",
					     "%s: address required for routes "
					     "(the next hop)",
					     a->nodes[i].name);
	if (!a->resource[0])
		snprintf(a->resource, sizeof(a->resource), "%s/",
			 a->arm_endpoint);
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
		return aws_section(ctx, v, l);
	if (strcmp(key, "azure") == 0)
		return azure_section(ctx, v, l);
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
