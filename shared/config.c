/*
 * config.c - load and validate a module configuration (see config.h).
 *
 * libyaml builds a document tree whose nodes remember their line and column;
 * we walk it with a small "where am I" context so each error can say
 * file:line:column and the dotted field name. libyaml's 1/0 convention stays
 * in this file.
 */
#include "config.h"
#include "yamlcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#define CONFIG_FILE_MAX (256 * 1024)

static void set_port(struct sky_addr *a, uint16_t port)
{
	if (a->sa.ss_family == AF_INET)
		((struct sockaddr_in *)&a->sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&a->sa)->sin6_port = htons(port);
}

/* Loader state: the config being filled and where each section was. */
struct loader {
	struct sky_config cfg;
	const yaml_node_t *root;
	const yaml_node_t *at_cluster, *at_module, *at_nodes, *at_heartbeat,
		*at_witness, *at_quorum, *at_key_file, *at_default_primary,
		*at_depends_on, *at_interval, *at_timeout, *at_lease,
		*at_rejoin, *at_order, *at_etcd, *at_etcd_endpoints,
		*at_etcd_lease, *at_etcd_cert, *at_etcd_key, *at_etcd_user,
		*at_etcd_password, *at_etcd_prefix, *at_etcd_watchdog;
	bool have_cluster_name, have_module_name, have_key_file, have_lease;
	uint32_t etcd_lease_ms;
};

static int cluster_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			void *data)
{
	struct loader *l = data;
	if (strcmp(key, "name") == 0) {
		l->have_cluster_name = true;
		return sky_yaml_name(ctx, v, "cluster.name", l->cfg.cluster);
	}
	if (strcmp(key, "key_file") == 0) {
		l->have_key_file = true;
		l->at_key_file = v;
		return sky_yaml_string(ctx, v, "cluster.key_file",
				       l->cfg.key_file,
				       sizeof(l->cfg.key_file));
	}
	return sky_yaml_unknown_key(ctx, v, "cluster", key);
}

/* module.depends_on: [db, ...]: other modules' names, not this one. */
static int depends_on(struct sky_yaml *ctx, yaml_node_t *seq, struct loader *l)
{
	char field[48];

	l->at_depends_on = seq;
	if (seq->type != YAML_SEQUENCE_NODE)
		return sky_yaml_fail(ctx, seq, "module.depends_on",
				     "must be a list of module names");
	size_t n = (size_t)(seq->data.sequence.items.top -
			    seq->data.sequence.items.start);
	if (n == 0 || n > SKY_MAX_DEPENDS)
		return sky_yaml_fail(ctx, seq, "module.depends_on",
				     "must list 1 to %d modules, got %zu",
				     SKY_MAX_DEPENDS, n);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yaml_document_get_node(
			ctx->doc, seq->data.sequence.items.start[i]);
		snprintf(field, sizeof(field), "module.depends_on[%zu]", i);
		int r = sky_yaml_name(ctx, item, field, l->cfg.depends_on[i]);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(l->cfg.depends_on[j],
				   l->cfg.depends_on[i]) == 0)
				return sky_yaml_fail(ctx, item, field,
						     "'%s' is listed twice",
						     l->cfg.depends_on[i]);
	}
	l->cfg.depends_count = n;
	return 0;
}

static int module_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		       void *data)
{
	struct loader *l = data;
	if (strcmp(key, "name") == 0) {
		l->have_module_name = true;
		return sky_yaml_name(ctx, v, "module.name", l->cfg.module);
	}
	if (strcmp(key, "type") == 0) {
		const char *s = sky_yaml_scalar(v);
		for (int t = SKY_MODULE_MIRROR; t <= SKY_MODULE_LIGHT; t++)
			if (s &&
			    strcmp(s, sky_module_type_name(
					      (enum sky_module_type)t)) == 0) {
				l->cfg.type = (enum sky_module_type)t;
				return 0;
			}
		return sky_yaml_fail(ctx, v, "module.type",
				     "must be mirror, farm or light");
	}
	if (strcmp(key, "default_primary") == 0) {
		l->at_default_primary = v;
		return sky_yaml_name(ctx, v, "module.default_primary",
				     l->cfg.default_primary);
	}
	if (strcmp(key, "depends_on") == 0)
		return depends_on(ctx, v, l);
	return sky_yaml_unknown_key(ctx, v, "module", key);
}

struct node_loader {
	struct loader *l;
	struct sky_node *node;
	char field[64];
	bool have_name, have_addrs;
};

static int node_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		     void *data)
{
	struct node_loader *nl = data;
	char field[96];
	snprintf(field, sizeof(field), "%s.%s", nl->field, key);
	if (strcmp(key, "name") == 0) {
		nl->have_name = true;
		return sky_yaml_name(ctx, v, field, nl->node->name);
	}
	if (strcmp(key, "weight") == 0)
		return sky_yaml_u32(ctx, v, field, 1, 100, &nl->node->weight);
	if (strcmp(key, "addresses") == 0) {
		nl->have_addrs = true;
		return sky_yaml_addr_list(ctx, v, field, nl->node->addrs,
					  SKY_MAX_NETWORKS,
					  &nl->node->addr_count);
	}
	return sky_yaml_fail(ctx, v, field, "unknown key (see docs/config.md)");
}

static int load_nodes(struct sky_yaml *ctx, struct loader *l, yaml_node_t *seq)
{
	if (seq->type != YAML_SEQUENCE_NODE)
		return sky_yaml_fail(ctx, seq, "nodes",
				     "must be a list of nodes");
	size_t n = (size_t)(seq->data.sequence.items.top -
			    seq->data.sequence.items.start);
	/* How many a module type needs is checked once the type is known. */
	if (n < 1 || n > SKY_MAX_NODES)
		return sky_yaml_fail(ctx, seq, "nodes",
				     "1 to %d nodes, got %zu", SKY_MAX_NODES,
				     n);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yaml_document_get_node(
			ctx->doc, seq->data.sequence.items.start[i]);
		struct node_loader nl = {.l = l, .node = &l->cfg.nodes[i]};
		nl.node->weight = 1;
		snprintf(nl.field, sizeof(nl.field), "nodes[%zu]", i);
		int r = sky_yaml_each(ctx, item, nl.field, node_pair, &nl);
		if (r < 0)
			return r;
		if (!nl.have_name)
			return sky_yaml_fail(ctx, item, nl.field,
					     "missing 'name'");
		if (!nl.have_addrs)
			return sky_yaml_fail(ctx, item, nl.field,
					     "missing 'addresses'");
		for (size_t j = 0; j < i; j++)
			if (strcmp(l->cfg.nodes[j].name, nl.node->name) == 0)
				return sky_yaml_fail(ctx, item, nl.field,
						     "duplicate node name '%s'",
						     nl.node->name);
		if (i > 0 && nl.node->addr_count != l->cfg.nodes[0].addr_count)
			return sky_yaml_fail(
				ctx, item, nl.field,
				"lists %zu addresses but nodes[0] lists %zu: "
				"every node needs one address per network",
				nl.node->addr_count,
				l->cfg.nodes[0].addr_count);
	}
	l->cfg.node_count = n;
	l->cfg.network_count = l->cfg.nodes[0].addr_count;
	return 0;
}

static int heartbeat_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			  void *data)
{
	struct loader *l = data;
	uint32_t port;
	if (strcmp(key, "port") == 0) {
		int r = sky_yaml_u32(ctx, v, "heartbeat.port", 1, 65535, &port);
		l->cfg.heartbeat_port = (uint16_t)port;
		return r;
	}
	if (strcmp(key, "interval_ms") == 0) {
		l->at_interval = v;
		return sky_yaml_u32(ctx, v, "heartbeat.interval_ms", 20, 10000,
				    &l->cfg.interval_ms);
	}
	if (strcmp(key, "timeout_ms") == 0) {
		l->at_timeout = v;
		return sky_yaml_u32(ctx, v, "heartbeat.timeout_ms", 60, 600000,
				    &l->cfg.peer_lost_after_ms);
	}
	return sky_yaml_unknown_key(ctx, v, "heartbeat", key);
}

/*
 * witness.hosts: several witnesses, each an address or a list of the
 * addresses of one host ([198.18.0.10, [198.18.0.11, 198.19.0.11]]).
 */
static int witness_hosts(struct sky_yaml *ctx, yaml_node_t *seq,
			 struct sky_config *c)
{
	char field[48];

	if (seq->type != YAML_SEQUENCE_NODE)
		return sky_yaml_fail(ctx, seq, "witness.hosts",
				     "must be a list of witness hosts, each an "
				     "address or a list of its addresses");
	size_t n = (size_t)(seq->data.sequence.items.top -
			    seq->data.sequence.items.start);
	if (n < 2 || n > SKY_MAX_WITNESS_HOSTS)
		return sky_yaml_fail(ctx, seq, "witness.hosts",
				     "must list 2 to %d witness hosts, got %zu "
				     "(one witness: witness.addresses)",
				     SKY_MAX_WITNESS_HOSTS, n);
	c->witness_addr_count = 0;
	for (size_t h = 0; h < n; h++) {
		yaml_node_t *item = yaml_document_get_node(
			ctx->doc, seq->data.sequence.items.start[h]);
		size_t got = 0;
		int r;

		snprintf(field, sizeof(field), "witness.hosts[%zu]", h);
		if (item && item->type == YAML_SEQUENCE_NODE) {
			size_t room =
				SKY_MAX_WITNESS_ADDRS - c->witness_addr_count;
			if (room == 0)
				return sky_yaml_fail(
					ctx, item, field,
					"more than %d witness addresses in all",
					SKY_MAX_WITNESS_ADDRS);
			r = sky_yaml_addr_list(
				ctx, item, field,
				&c->witness_addrs[c->witness_addr_count], room,
				&got);
		} else {
			if (c->witness_addr_count >= SKY_MAX_WITNESS_ADDRS)
				return sky_yaml_fail(
					ctx, item, field,
					"more than %d witness addresses in all",
					SKY_MAX_WITNESS_ADDRS);
			r = sky_yaml_addr(
				ctx, item, field,
				&c->witness_addrs[c->witness_addr_count]);
			got = 1;
		}
		if (r < 0)
			return r;
		for (size_t i = 0; i < got; i++)
			c->witness_host_of[c->witness_addr_count + i] =
				(uint8_t)h;
		c->witness_addr_count += got;
	}
	/* One address, one witness: a host listed twice would vote twice. */
	for (size_t i = 0; i < c->witness_addr_count; i++)
		for (size_t j = i + 1; j < c->witness_addr_count; j++)
			if (strcmp(c->witness_addrs[i].text,
				   c->witness_addrs[j].text) == 0)
				return sky_yaml_fail(ctx, seq, "witness.hosts",
						     "%s is listed twice",
						     c->witness_addrs[i].text);
	c->witness_host_count = n;
	return 0;
}

static int witness_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			void *data)
{
	struct loader *l = data;
	uint32_t port;
	if (strcmp(key, "addresses") == 0 || strcmp(key, "hosts") == 0) {
		if (l->cfg.witness_addr_count)
			return sky_yaml_fail(ctx, v, "witness",
					     "give witness.addresses (one "
					     "witness) or witness.hosts "
					     "(several), not both");
		if (strcmp(key, "hosts") == 0)
			return witness_hosts(ctx, v, &l->cfg);
		l->cfg.witness_host_count = 1;
		memset(l->cfg.witness_host_of, 0,
		       sizeof(l->cfg.witness_host_of));
		return sky_yaml_addr_list(
			ctx, v, "witness.addresses", l->cfg.witness_addrs,
			SKY_MAX_WITNESS_ADDRS, &l->cfg.witness_addr_count);
	}
	if (strcmp(key, "port") == 0) {
		int r = sky_yaml_u32(ctx, v, "witness.port", 1, 65535, &port);
		l->cfg.witness_port = (uint16_t)port;
		return r;
	}
	if (strcmp(key, "lease_ms") == 0) {
		l->have_lease = true;
		l->at_lease = v;
		return sky_yaml_u32(ctx, v, "witness.lease_ms", 60, 600000,
				    &l->cfg.lease_ms);
	}
	return sky_yaml_unknown_key(ctx, v, "witness", key);
}

/* An etcd endpoint: http(s)://host[:port], no path, nothing to escape. */
static int etcd_endpoint(struct sky_yaml *ctx, yaml_node_t *item, char *out)
{
	const char *s = sky_yaml_scalar(item);
	const char *host;
	if (!s)
		return sky_yaml_fail(ctx, item, "etcd.endpoints",
				     "each entry must be a URL");
	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return sky_yaml_fail(ctx, item, "etcd.endpoints",
				     "'%s' must start with http:// or https://",
				     s);
	if (!*host || strlen(s) >= SKY_ETCD_URL_MAX)
		return sky_yaml_fail(ctx, item, "etcd.endpoints",
				     "'%.80s' has no host or is longer than %d",
				     s, SKY_ETCD_URL_MAX - 1);
	for (const char *p = host; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '/' || *p == '?' ||
		    *p == '#' || *p == '@')
			return sky_yaml_fail(ctx, item, "etcd.endpoints",
					     "'%s': only scheme://host:port "
					     "(no path, user or spaces)",
					     s);
	sky_strlcpy(out, s, SKY_ETCD_URL_MAX);
	return 0;
}

static int etcd_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		     void *data)
{
	struct loader *l = data;
	struct sky_etcd_config *e = &l->cfg.etcd;
	if (strcmp(key, "endpoints") == 0) {
		l->at_etcd_endpoints = v;
		if (v->type != YAML_SEQUENCE_NODE)
			return sky_yaml_fail(ctx, v, "etcd.endpoints",
					     "must be a list of URLs");
		size_t n = (size_t)(v->data.sequence.items.top -
				    v->data.sequence.items.start);
		if (n == 0 || n > SKY_ETCD_ENDPOINTS_MAX)
			return sky_yaml_fail(ctx, v, "etcd.endpoints",
					     "1 to %d URLs, got %zu",
					     SKY_ETCD_ENDPOINTS_MAX, n);
		for (size_t i = 0; i < n; i++) {
			int r = etcd_endpoint(ctx, sky_yaml_seq_item(ctx, v, i),
					      e->endpoints[i]);
			if (r < 0)
				return r;
		}
		e->endpoint_count = n;
		return 0;
	}
	if (strcmp(key, "prefix") == 0) {
		l->at_etcd_prefix = v;
		return sky_yaml_string(ctx, v, "etcd.prefix", e->prefix,
				       sizeof(e->prefix));
	}
	if (strcmp(key, "ca_file") == 0)
		return sky_yaml_string(ctx, v, "etcd.ca_file", e->ca_file,
				       sizeof(e->ca_file));
	if (strcmp(key, "cert_file") == 0) {
		l->at_etcd_cert = v;
		return sky_yaml_string(ctx, v, "etcd.cert_file", e->cert_file,
				       sizeof(e->cert_file));
	}
	if (strcmp(key, "key_file") == 0) {
		l->at_etcd_key = v;
		return sky_yaml_string(ctx, v, "etcd.key_file", e->key_file,
				       sizeof(e->key_file));
	}
	if (strcmp(key, "user") == 0) {
		l->at_etcd_user = v;
		return sky_yaml_name(ctx, v, "etcd.user", e->user);
	}
	if (strcmp(key, "password_file") == 0) {
		l->at_etcd_password = v;
		return sky_yaml_string(ctx, v, "etcd.password_file",
				       e->password_file,
				       sizeof(e->password_file));
	}
	if (strcmp(key, "watchdog") == 0) {
		l->at_etcd_watchdog = v;
		return sky_yaml_string(ctx, v, "etcd.watchdog", e->watchdog,
				       sizeof(e->watchdog));
	}
	if (strcmp(key, "lease_ms") == 0) {
		l->at_etcd_lease = v;
		return sky_yaml_u32(ctx, v, "etcd.lease_ms", 1000, 600000,
				    &l->etcd_lease_ms);
	}
	return sky_yaml_unknown_key(ctx, v, "etcd", key);
}

static int transitions_pair(struct sky_yaml *ctx, const char *key,
			    yaml_node_t *v, void *data)
{
	struct loader *l = data;
	if (strcmp(key, "step_timeout_ms") == 0)
		return sky_yaml_u32(ctx, v, "transitions.step_timeout_ms", 100,
				    3600000, &l->cfg.step_timeout_ms);
	if (strcmp(key, "actuator_silent_ms") == 0)
		return sky_yaml_u32(ctx, v, "transitions.actuator_silent_ms",
				    2000, 600000, &l->cfg.actuator_silent_ms);
	if (strcmp(key, "rejoin_after_ms") == 0) {
		l->at_rejoin = v;
		return sky_yaml_u32(ctx, v, "transitions.rejoin_after_ms", 1000,
				    86400000, &l->cfg.rejoin_after_ms);
	}
	if (strcmp(key, "order") != 0)
		return sky_yaml_unknown_key(ctx, v, "transitions", key);
	l->at_order = v;
	if (v->type != YAML_SEQUENCE_NODE)
		return sky_yaml_fail(
			ctx, v, "transitions.order",
			"must be a list such as [replicd, vipd, checkd]");
	size_t n = (size_t)(v->data.sequence.items.top -
			    v->data.sequence.items.start);
	if (n > SKY_ACT_COUNT)
		return sky_yaml_fail(ctx, v, "transitions.order",
				     "at most %d entries", SKY_ACT_COUNT);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yaml_document_get_node(
			ctx->doc, v->data.sequence.items.start[i]);
		const char *s = sky_yaml_scalar(item);
		enum sky_actuator a;
		if (!s || sky_actuator_parse(s, &a) < 0)
			return sky_yaml_fail(
				ctx, item, "transitions.order",
				"'%s' is not one of replicd, vipd, checkd",
				s ? s : "(not a scalar)");
		for (size_t j = 0; j < i; j++)
			if (l->cfg.order[j] == a)
				return sky_yaml_fail(ctx, item,
						     "transitions.order",
						     "'%s' is listed twice", s);
		l->cfg.order[i] = a;
	}
	l->cfg.order_count = n;
	return 0;
}

static const char *const daemon_sections[] = {"replicd", "checkd", "vipd",
					      "backup", "healthd"};

static int top_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		    void *data)
{
	struct loader *l = data;
	if (strcmp(key, "cluster") == 0) {
		l->at_cluster = v;
		return sky_yaml_each(ctx, v, "cluster", cluster_pair, l);
	}
	if (strcmp(key, "module") == 0) {
		l->at_module = v;
		return sky_yaml_each(ctx, v, "module", module_pair, l);
	}
	if (strcmp(key, "nodes") == 0) {
		l->at_nodes = v;
		return load_nodes(ctx, l, v);
	}
	if (strcmp(key, "heartbeat") == 0) {
		l->at_heartbeat = v;
		return sky_yaml_each(ctx, v, "heartbeat", heartbeat_pair, l);
	}
	if (strcmp(key, "witness") == 0) {
		l->at_witness = v;
		return sky_yaml_each(ctx, v, "witness", witness_pair, l);
	}
	if (strcmp(key, "etcd") == 0) {
		l->at_etcd = v;
		return sky_yaml_each(ctx, v, "etcd", etcd_pair, l);
	}
	if (strcmp(key, "transitions") == 0)
		return sky_yaml_each(ctx, v, "transitions", transitions_pair,
				     l);
	if (strcmp(key, "quorum") == 0) {
		const char *s = sky_yaml_scalar(v);
		l->at_quorum = v;
		l->cfg.quorum_etcd = false;
		if (s && strcmp(s, "witness") == 0)
			l->cfg.quorum_witness = true;
		else if (s && strcmp(s, "none") == 0)
			l->cfg.quorum_witness = false;
		else if (s && strcmp(s, "etcd") == 0)
			l->cfg.quorum_witness = false,
			l->cfg.quorum_etcd = true;
		else
			return sky_yaml_fail(ctx, v, "quorum",
					     "must be 'witness', 'etcd' or "
					     "'none'");
		return 0;
	}
	/* Each daemon validates its own section (its -n does). */
	if (strcmp(key, "backup") == 0)
		l->cfg.has_backup = true;
	for (size_t i = 0; i < SKY_ARRAY_SIZE(daemon_sections); i++)
		if (strcmp(key, daemon_sections[i]) == 0)
			return 0;
	return sky_yaml_unknown_key(ctx, v, "", key);
}

static int load_key(struct sky_yaml *ctx, struct loader *l)
{
	char resolved[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	struct stat st;
	int r;

	if (l->cfg.key_file[0] == '/') {
		sky_strlcpy(resolved, l->cfg.key_file, sizeof(resolved));
	} else {
		const char *slash = strrchr(ctx->path, '/');
		int dir_len = slash ? (int)(slash - ctx->path) : 1;
		r = snprintf(resolved, sizeof(resolved), "%.*s/%s", dir_len,
			     slash ? ctx->path : ".", l->cfg.key_file);
		if (r < 0 || (size_t)r >= sizeof(resolved))
			return sky_yaml_fail(ctx, l->at_key_file,
					     "cluster.key_file",
					     "path too long");
	}
	if (stat(resolved, &st) < 0)
		return sky_yaml_fail(ctx, l->at_key_file, "cluster.key_file",
				     "cannot read %s: %s", resolved,
				     strerror(errno));
	if (st.st_mode & 077)
		return sky_yaml_fail(
			ctx, l->at_key_file, "cluster.key_file",
			"%s is readable by group or others (mode %o); "
			"chmod 600 it",
			resolved, st.st_mode & 0777);
	r = sky_read_file(resolved, 1024, &text, NULL);
	if (r < 0)
		return sky_yaml_fail(ctx, l->at_key_file, "cluster.key_file",
				     "cannot read %s: %s", resolved,
				     strerror(-r));
	if (sky_hex_decode(text, l->cfg.key, SKY_KEY_BYTES) < 0)
		return sky_yaml_fail(
			ctx, l->at_key_file, "cluster.key_file",
			"%s must hold exactly 64 hex characters (32 bytes)",
			resolved);
	sky_strlcpy(l->cfg.key_file, resolved, sizeof(l->cfg.key_file));
	return 0;
}

/* What each module type allows: node count, quorum, default primary. */
static int validate_type(struct sky_yaml *ctx, struct loader *l)
{
	struct sky_config *c = &l->cfg;
	const char *type = sky_module_type_name(c->type);

	switch (c->type) {
	case SKY_MODULE_MIRROR:
		if (c->node_count != 2)
			return sky_yaml_fail(ctx, l->at_nodes, "nodes",
					     "a mirror module needs exactly 2 "
					     "nodes, got %zu",
					     c->node_count);
		if (l->at_rejoin)
			return sky_yaml_fail(
				ctx, l->at_rejoin,
				"transitions.rejoin_after_ms",
				"only for a farm or light module (a mirror's "
				"failed node rejoins as secondary)");
		return 0;
	case SKY_MODULE_FARM:
		if (c->node_count < 2)
			return sky_yaml_fail(
				ctx, l->at_nodes, "nodes",
				"a farm module needs 2 to %d nodes, got %zu "
				"(one node: module.type: light)",
				SKY_MAX_NODES, c->node_count);
		break;
	case SKY_MODULE_LIGHT:
		if (c->node_count != 1)
			return sky_yaml_fail(ctx, l->at_nodes, "nodes",
					     "a light module runs on exactly 1 "
					     "node, got %zu "
					     "(several: module.type: farm)",
					     c->node_count);
		break;
	}
	if (l->at_depends_on)
		return sky_yaml_fail(ctx, l->at_depends_on, "module.depends_on",
				     "only a mirror module follows other "
				     "modules for now (a %s module: not yet)",
				     type);
	/* Every node of a farm serves: there is no primary to elect and no
	 * copy to protect, so no quorum (docs/architecture.md, "Farm"). */
	if (c->default_primary[0])
		return sky_yaml_fail(
			ctx, l->at_default_primary, "module.default_primary",
			"a %s module has no primary; remove it", type);
	if (l->at_witness)
		return sky_yaml_fail(ctx, l->at_witness, "witness",
				     "a %s module has no witness: every node "
				     "serves without quorum; remove it",
				     type);
	/* A farm may serve only in etcd's majority's view (quorum: etcd):
	 * each node on its own lease, no leader. */
	bool farm_etcd = c->type == SKY_MODULE_FARM && c->quorum_etcd;
	if (l->at_etcd && !farm_etcd)
		return sky_yaml_fail(ctx, l->at_etcd, "etcd",
				     "a %s module has no quorum: every node "
				     "serves; remove it",
				     type);
	if (l->at_quorum && (c->quorum_witness || c->quorum_etcd) && !farm_etcd)
		return sky_yaml_fail(ctx, l->at_quorum, "quorum",
				     "a %s module serves without quorum "
				     "(a farm may use quorum: etcd): remove "
				     "it or say 'none'",
				     type);
	for (size_t i = 0; i < c->order_count; i++)
		if (c->order[i] == SKY_ACT_REPLICD)
			return sky_yaml_fail(ctx, l->at_order,
					     "transitions.order",
					     "a %s module replicates nothing: "
					     "list vipd and checkd only",
					     type);
	c->quorum_witness = false;
	c->quorum_etcd = farm_etcd;
	return 0;
}

/* A file named in the config: relative to the config's folder. */
static int resolve_path(struct sky_yaml *ctx, const yaml_node_t *at,
			const char *field, char *path, size_t size)
{
	char resolved[PATH_MAX];
	if (!path[0] || path[0] == '/')
		return 0;
	const char *slash = strrchr(ctx->path, '/');
	int dir_len = slash ? (int)(slash - ctx->path) : 1;
	int r = snprintf(resolved, sizeof(resolved), "%.*s/%s", dir_len,
			 slash ? ctx->path : ".", path);
	if (r < 0 || (size_t)r >= sizeof(resolved) || (size_t)r >= size)
		return sky_yaml_fail(ctx, at, field, "path too long");
	sky_strlcpy(path, resolved, size);
	return 0;
}

static int validate_etcd(struct sky_yaml *ctx, struct loader *l)
{
	struct sky_config *c = &l->cfg;
	struct sky_etcd_config *e = &c->etcd;
	struct stat st;
	int r;

	if (!c->quorum_etcd) {
		if (l->at_etcd)
			return sky_yaml_fail(ctx, l->at_etcd, "etcd",
					     "only with quorum: etcd");
		return 0;
	}
	if (l->at_witness)
		return sky_yaml_fail(ctx, l->at_witness, "witness",
				     "quorum: etcd has no witness; remove it");
	if (!l->at_etcd || e->endpoint_count == 0)
		return sky_yaml_fail(ctx, l->at_etcd ? l->at_etcd : l->root,
				     "etcd.endpoints",
				     "required with quorum: etcd");
	c->lease_ms = l->at_etcd_lease ? l->etcd_lease_ms : 5000;
	if (c->lease_ms < 3 * c->interval_ms)
		return sky_yaml_fail(ctx, l->at_etcd_lease, "etcd.lease_ms",
				     "must be at least 3 x "
				     "heartbeat.interval_ms (%u), got %u",
				     3 * c->interval_ms, c->lease_ms);
	if (e->watchdog[0] &&
	    (e->watchdog[0] != '/' || c->type != SKY_MODULE_MIRROR ||
	     c->lease_ms < 1000 + 2 * c->interval_ms))
		return sky_yaml_fail(ctx, l->at_etcd_watchdog, "etcd.watchdog",
				     "an absolute device path, for a mirror "
				     "module, with etcd.lease_ms at least "
				     "1000 + 2 x heartbeat.interval_ms (%u)",
				     1000 + 2 * c->interval_ms);
	if (!e->prefix[0])
		snprintf(e->prefix, sizeof(e->prefix), "/skyha/%s/%s",
			 c->cluster, c->module);
	else if (e->prefix[0] != '/' || e->prefix[strlen(e->prefix) - 1] == '/')
		return sky_yaml_fail(ctx, l->at_etcd_prefix, "etcd.prefix",
				     "'%s' must start with / and not end "
				     "with /",
				     e->prefix);
	for (const char *p = e->prefix; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return sky_yaml_fail(ctx, l->at_etcd_prefix,
					     "etcd.prefix",
					     "printable ASCII without spaces");
	if (!e->cert_file[0] != !e->key_file[0])
		return sky_yaml_fail(
			ctx, e->cert_file[0] ? l->at_etcd_cert : l->at_etcd_key,
			e->cert_file[0] ? "etcd.key_file" : "etcd.cert_file",
			"cert_file and key_file go together");
	if (!e->user[0] != !e->password_file[0])
		return sky_yaml_fail(
			ctx, e->user[0] ? l->at_etcd_user : l->at_etcd_password,
			e->user[0] ? "etcd.password_file" : "etcd.user",
			"user and password_file go together");
	if ((r = resolve_path(ctx, l->at_etcd, "etcd.ca_file", e->ca_file,
			      sizeof(e->ca_file))) < 0 ||
	    (r = resolve_path(ctx, l->at_etcd_cert, "etcd.cert_file",
			      e->cert_file, sizeof(e->cert_file))) < 0 ||
	    (r = resolve_path(ctx, l->at_etcd_key, "etcd.key_file", e->key_file,
			      sizeof(e->key_file))) < 0 ||
	    (r = resolve_path(ctx, l->at_etcd_password, "etcd.password_file",
			      e->password_file, sizeof(e->password_file))) < 0)
		return r;
	if (e->password_file[0]) {
		if (stat(e->password_file, &st) < 0)
			return sky_yaml_fail(ctx, l->at_etcd_password,
					     "etcd.password_file",
					     "cannot read %s: %s",
					     e->password_file, strerror(errno));
		if (st.st_mode & 077)
			return sky_yaml_fail(
				ctx, l->at_etcd_password, "etcd.password_file",
				"%s is readable by group or others (mode %o); "
				"chmod 600 it",
				e->password_file, st.st_mode & 0777);
	}
	return 0;
}

static int validate(struct sky_yaml *ctx, struct loader *l)
{
	struct sky_config *c = &l->cfg;
	const yaml_node_t *root = l->root;
	int r;

	if (!l->at_cluster || !l->have_cluster_name)
		return sky_yaml_fail(ctx, l->at_cluster ? l->at_cluster : root,
				     "cluster.name", "required");
	if (!l->have_key_file)
		return sky_yaml_fail(ctx, l->at_cluster, "cluster.key_file",
				     "required");
	if (!l->at_module || !l->have_module_name)
		return sky_yaml_fail(ctx, l->at_module ? l->at_module : root,
				     "module.name", "required");
	if (!l->at_nodes)
		return sky_yaml_fail(ctx, root, "nodes",
				     "required (two nodes)");
	r = validate_type(ctx, l);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->node_count; i++)
		for (size_t j = 0; j < c->node_count; j++)
			for (size_t n = 0; i != j && n < c->network_count; n++)
				if (strcmp(c->nodes[i].addrs[n].text,
					   c->nodes[j].addrs[n].text) == 0)
					return sky_yaml_fail(
						ctx, l->at_nodes, "nodes",
						"%s and %s share address %s",
						c->nodes[i].name,
						c->nodes[j].name,
						c->nodes[i].addrs[n].text);
	for (size_t i = 0; i < c->depends_count; i++)
		if (strcmp(c->depends_on[i], c->module) == 0)
			return sky_yaml_fail(
				ctx, l->at_depends_on, "module.depends_on",
				"module %s cannot depend on itself", c->module);
	if (c->default_primary[0] && !sky_config_node(c, c->default_primary))
		return sky_yaml_fail(
			ctx, l->at_default_primary, "module.default_primary",
			"'%s' is not one of the nodes", c->default_primary);
	if (c->peer_lost_after_ms < 3 * c->interval_ms)
		return sky_yaml_fail(
			ctx, l->at_timeout ? l->at_timeout : l->at_interval,
			"heartbeat.timeout_ms",
			"must be at least 3 x interval_ms (%u), got %u",
			3 * c->interval_ms, c->peer_lost_after_ms);
	if (!l->have_lease)
		c->lease_ms = c->peer_lost_after_ms;
	r = validate_etcd(ctx, l);
	if (r < 0)
		return r;
	if (c->quorum_witness) {
		if (!l->at_witness || c->witness_addr_count == 0)
			return sky_yaml_fail(
				ctx, l->at_witness ? l->at_witness : root,
				"witness.addresses",
				"(or witness.hosts) required with quorum: "
				"witness (or set "
				"quorum: none and accept split-brain risk)");
		if (c->lease_ms < 3 * c->interval_ms)
			return sky_yaml_fail(
				ctx, l->at_lease, "witness.lease_ms",
				"must be at least 3 x heartbeat.interval_ms "
				"(%u), got %u",
				3 * c->interval_ms, c->lease_ms);
	}
	for (size_t i = 0; i < c->node_count; i++)
		for (size_t n = 0; n < c->nodes[i].addr_count; n++)
			set_port(&c->nodes[i].addrs[n], c->heartbeat_port);
	for (size_t n = 0; n < c->witness_addr_count; n++)
		set_port(&c->witness_addrs[n], c->witness_port);
	return load_key(ctx, l);
}

int sky_config_parse(const char *path, const char *text, size_t len,
		     struct sky_config *out, char *err, size_t err_size)
{
	struct sky_yaml ctx;
	struct loader *l;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cfg.type = SKY_MODULE_MIRROR;
	l->cfg.heartbeat_port = 7400;
	l->cfg.interval_ms = 200;
	l->cfg.peer_lost_after_ms = SKY_DEFAULT_PEER_LOST_AFTER_MS;
	l->cfg.quorum_witness = true;
	l->cfg.witness_port = 7401;
	l->cfg.step_timeout_ms = 30000;
	l->cfg.actuator_silent_ms = 5000;

	r = sky_yaml_parse(&ctx, path, text, len, err, err_size);
	if (r < 0) {
		free(l);
		return r;
	}
	yaml_node_t *root = sky_yaml_root(&ctx);
	if (!root) {
		r = sky_yaml_fail(&ctx, NULL, "(file)", "empty configuration");
	} else {
		l->root = root;
		r = sky_yaml_each(&ctx, root, "(top level)", top_pair, l);
		if (r >= 0)
			r = validate(&ctx, l);
	}
	if (r >= 0) {
		sky_strlcpy(l->cfg.path, path, sizeof(l->cfg.path));
		*out = l->cfg;
	}
	sky_yaml_done(&ctx);
	sodium_memzero(l->cfg.key, sizeof(l->cfg.key));
	free(l);
	return r;
}

int sky_config_load(const char *path, struct sky_config *out, char *err,
		    size_t err_size)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = sky_read_file(path, CONFIG_FILE_MAX, &text, &len);
	if (r < 0) {
		snprintf(err, err_size, "%s: cannot read: %s", path,
			 r == -EFBIG ? "larger than 256 KiB" : strerror(-r));
		return r;
	}
	return sky_config_parse(path, text, len, out, err, err_size);
}

const char *sky_module_type_name(enum sky_module_type t)
{
	switch (t) {
	case SKY_MODULE_MIRROR:
		return "mirror";
	case SKY_MODULE_FARM:
		return "farm";
	case SKY_MODULE_LIGHT:
		return "light";
	}
	return "?";
}

const struct sky_node *sky_config_node(const struct sky_config *cfg,
				       const char *name)
{
	for (size_t i = 0; i < cfg->node_count; i++)
		if (strcmp(cfg->nodes[i].name, name) == 0)
			return &cfg->nodes[i];
	return NULL;
}

const struct sky_node *sky_config_peer(const struct sky_config *cfg,
				       const struct sky_node *self)
{
	for (size_t i = 0; i < cfg->node_count; i++)
		if (&cfg->nodes[i] != self)
			return &cfg->nodes[i];
	return NULL;
}

enum sky_config_change sky_config_compare(const struct sky_config *in_use,
					  const struct sky_config *reread,
					  char *what, size_t size)
{
	size_t len = 0;
	bool weights = false;
	enum sky_config_change r = SKY_CONFIG_OTHER;
	/* Large (every node, every address): not on the stack. */
	struct sky_config *same = malloc(sizeof(*same));

	if (size)
		what[0] = '\0';
	if (!same)
		return SKY_CONFIG_OTHER;
	*same = *reread;
	if (same->node_count != in_use->node_count)
		goto out;
	for (size_t i = 0; i < same->node_count; i++) {
		if (strcmp(same->nodes[i].name, in_use->nodes[i].name) != 0)
			goto out;
		if (same->nodes[i].weight == in_use->nodes[i].weight)
			continue;
		weights = true;
		int n = snprintf(what + len, size > len ? size - len : 0,
				 "%s%s %u -> %u", len ? ", " : "",
				 same->nodes[i].name, in_use->nodes[i].weight,
				 same->nodes[i].weight);
		if (n > 0 && len + (size_t)n < size)
			len += (size_t)n;
		same->nodes[i].weight = in_use->nodes[i].weight;
	}
	if (memcmp(same, in_use, sizeof(*same)) == 0)
		r = weights ? SKY_CONFIG_WEIGHTS : SKY_CONFIG_SAME;
out:
	free(same);
	return r;
}
