/*
 * vipcfg_cloud.c - the `vipd.aws:` and `vipd.azure:` sections (vipcfg.h,
 * docs/clouds.md): which addresses, routes and load-balancer pools move
 * with the module, each node's interface in its cloud, and how calls to
 * the cloud's API are bounded. Apart from vipcfg.c, which reads the rest
 * of `vipd:`, because these are typed tables of cloud identifiers that
 * share nothing with addresses on a local interface.
 */
#include "vipcfg_cloud.h"
#include "util.h"
#include "vipcfg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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
/*
 * What both cloud sections share: where the instance metadata service is
 * and how each call is bounded and retried (docs/clouds.md), with the same
 * bounds and defaults for both.
 */
struct cloud_call {
	char *imds_endpoint; /* VIPD_URL_MAX */
	uint32_t *timeout_ms, *attempts, *backoff_ms;
};

#define CLOUD_CALL(a)                                                          \
	(struct cloud_call)                                                    \
	{                                                                      \
		(a)->imds_endpoint, &(a)->timeout_ms, &(a)->attempts,          \
			&(a)->backoff_ms                                       \
	}

static void cloud_call_defaults(const struct cloud_call *c)
{
	*c->timeout_ms = 5000;
	*c->attempts = 5;
	*c->backoff_ms = 200;
	sky_strlcpy(c->imds_endpoint, "http://169.254.169.254", VIPD_URL_MAX);
}

/* 0 or a negative errno when key is one of the shared ones, else 1. */
static int cloud_call_pair(struct sky_yaml *ctx, const char *key,
			   yaml_node_t *v, const char *f,
			   const struct cloud_call *c)
{
	if (strcmp(key, "imds_endpoint") == 0)
		return url(ctx, v, f, c->imds_endpoint);
	if (strcmp(key, "timeout_ms") == 0)
		return sky_yaml_u32(ctx, v, f, 100, 60000, c->timeout_ms);
	if (strcmp(key, "attempts") == 0)
		return sky_yaml_u32(ctx, v, f, 1, 20, c->attempts);
	if (strcmp(key, "backoff_ms") == 0)
		return sky_yaml_u32(ctx, v, f, 10, 10000, c->backoff_ms);
	return 1;
}

static int aws_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		    void *data)
{
	struct vipd_aws_cfg *a = data;
	char f[96];
	int r;
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
	if (strcmp(key, "ec2_endpoint") == 0)
		return url(ctx, v, f, a->ec2_endpoint);
	if (strcmp(key, "elb_endpoint") == 0)
		return url(ctx, v, f, a->elb_endpoint);
	r = cloud_call_pair(ctx, key, v, f, &CLOUD_CALL(a));
	if (r <= 0)
		return r;
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

int vipd_cfg_aws(struct sky_yaml *ctx, yaml_node_t *v, struct vipd_cfg *cfg)
{
	struct vipd_aws_cfg *a = &cfg->aws;
	a->set = true;
	cloud_call_defaults(&CLOUD_CALL(a));
	int r = sky_yaml_each(ctx, v, "vipd.aws", aws_pair, a);
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
	struct vipd_azure_cfg *a = data;
	char f[96];
	int r;
	snprintf(f, sizeof(f), "vipd.azure.%s", key);
	if (strcmp(key, "subscription") == 0)
		return az_name(ctx, v, f, a->subscription,
			       sizeof(a->subscription));
	if (strcmp(key, "resource_group") == 0)
		return az_name(ctx, v, f, a->resource_group,
			       sizeof(a->resource_group));
	if (strcmp(key, "client_id") == 0)
		return az_name(ctx, v, f, a->client_id, sizeof(a->client_id));
	if (strcmp(key, "arm_endpoint") == 0)
		return url(ctx, v, f, a->arm_endpoint);
	if (strcmp(key, "resource") == 0)
		return token(ctx, v, f, NULL, a->resource, sizeof(a->resource));
	r = cloud_call_pair(ctx, key, v, f, &CLOUD_CALL(a));
	if (r <= 0)
		return r;
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

int vipd_cfg_azure(struct sky_yaml *ctx, yaml_node_t *v, struct vipd_cfg *cfg)
{
	struct vipd_azure_cfg *a = &cfg->azure;
	a->set = true;
	cloud_call_defaults(&CLOUD_CALL(a));
	a->operation_timeout_ms = 120000;
	sky_strlcpy(a->arm_endpoint, "https://management.azure.com",
		    sizeof(a->arm_endpoint));
	int r = sky_yaml_each(ctx, v, "vipd.azure", az_pair, a);
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
