/*
 * azure.c - see azure.h.
 */
#include "azure.h"
#include "cloudcred.h"
#include "httpc.h"
#include "log.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ARM_API_VERSION "2023-05-01"
#define ETAG_MAX	256

/* --- pure parts ------------------------------------------------------------ */

static bool printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]))
			return false;
	return true;
}

enum vipd_aws_verdict vipd_azure_classify(long status, const char *body,
					  size_t len, char *code,
					  size_t code_size, char *message,
					  size_t message_size)
{
	code[0] = message[0] = '\0';
	json_error_t e;
	json_t *o = len ? json_loadb(body, len, 0, &e) : NULL;
	json_t *err = json_object_get(o, "error");
	const char *c = json_string_value(json_object_get(err, "code"));
	const char *m = json_string_value(json_object_get(err, "message"));
	if (c)
		snprintf(code, code_size, "%s", c);
	if (m)
		snprintf(message, message_size, "%s", m);
	for (char *p = message; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	for (char *p = code; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	json_decref(o);
	if (status >= 200 && status < 300)
		return VIPD_AWS_OK;
	if (!code[0])
		snprintf(code, code_size, "(no error code)");
	if (status == 429 || status >= 500)
		return VIPD_AWS_RETRY;
	if (status == 401)
		return VIPD_AWS_REFRESH;
	return VIPD_AWS_FATAL;
}

int vipd_azure_nic_edit(json_t *nic, const char *name, const char *address,
			bool want, bool *changed)
{
	json_t *props = json_object_get(nic, "properties");
	json_t *list = json_object_get(props, "ipConfigurations");
	*changed = false;
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > 256)
		return -EBADMSG;
	size_t i;
	json_t *ic;
	json_t *subnet = NULL;
	json_array_foreach(list, i, ic)
	{
		const char *n = json_string_value(json_object_get(ic, "name"));
		json_t *ip = json_object_get(ic, "properties");
		if (!n || !json_is_object(ip))
			return -EBADMSG;
		if (json_is_true(json_object_get(ip, "primary")) || !subnet)
			subnet = json_object_get(ip, "subnet");
		if (strcmp(n, name) != 0)
			continue;
		const char *a = json_string_value(
			json_object_get(ip, "privateIPAddress"));
		if (want && a && strcmp(a, address) == 0)
			return 0; /* already here */
		if (json_array_remove(list, i) < 0)
			return -ENOMEM;
		*changed = true;
		break;
	}
	if (!want)
		return 0;
	const char *sid = json_string_value(json_object_get(subnet, "id"));
	if (!sid)
		return -EBADMSG; /* the new one goes to the primary's subnet */
	json_t *add = json_pack("{s:s,s:{s:s,s:s,s:b,s:{s:s}}}", "name", name,
				"properties", "privateIPAddress", address,
				"privateIPAllocationMethod", "Static",
				"primary", 0, "subnet", "id", sid);
	if (!add || json_array_append_new(list, add) < 0)
		return -ENOMEM;
	*changed = true;
	return 0;
}

int vipd_azure_nic_pool_edit(json_t *nic, const char *pool_id, bool want,
			     bool *changed)
{
	json_t *props = json_object_get(nic, "properties");
	json_t *list = json_object_get(props, "ipConfigurations");
	json_t *primary = NULL, *ic;
	size_t i;
	*changed = false;
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > 256)
		return -EBADMSG;
	json_array_foreach(list, i, ic)
	{
		json_t *ip = json_object_get(ic, "properties");
		if (!json_is_string(json_object_get(ic, "name")) ||
		    !json_is_object(ip))
			return -EBADMSG;
		if (!primary || json_is_true(json_object_get(ip, "primary")))
			primary = ip;
	}
	/* A NIC joins a pool through its primary ipConfiguration. */
	json_t *pools =
		json_object_get(primary, "loadBalancerBackendAddressPools");
	if (!pools) {
		if (!want)
			return 0;
		pools = json_array();
		if (!pools ||
		    json_object_set_new(primary,
					"loadBalancerBackendAddressPools",
					pools) < 0)
			return -ENOMEM;
	}
	if (!json_is_array(pools) || json_array_size(pools) > 256)
		return -EBADMSG;
	json_t *p;
	json_array_foreach(pools, i, p)
	{
		const char *id = json_string_value(json_object_get(p, "id"));
		if (!id)
			return -EBADMSG;
		/* Resource IDs are case-insensitive in ARM. */
		if (strcasecmp(id, pool_id) != 0)
			continue;
		if (want)
			return 0; /* already in the pool */
		if (json_array_remove(pools, i) < 0)
			return -ENOMEM;
		*changed = true;
		return 0;
	}
	if (!want)
		return 0;
	if (json_array_append_new(pools, json_pack("{s:s}", "id", pool_id)) < 0)
		return -ENOMEM;
	*changed = true;
	return 0;
}

bool vipd_azure_url_trusted(const struct vipd_azure_cfg *cfg, const char *url)
{
	size_t n = strlen(cfg->arm_endpoint);
	return strncmp(url, cfg->arm_endpoint, n) == 0 && url[n] == '/';
}

/* --- the client ------------------------------------------------------------- */

void vipd_azure_init(struct vipd_azure *a, const struct vipd_azure_cfg *cfg,
		     const struct vipd_azure_node *node,
		     const struct vipd_azure_node *peer,
		     const atomic_bool *abort)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->node = node;
	a->peer = peer;
	a->abort = abort;
	a->seed = (unsigned)sky_now_ms() ^ ((unsigned)getpid() << 8);
	sky_strlcpy(a->tok.imds_endpoint, cfg->imds_endpoint,
		    sizeof(a->tok.imds_endpoint));
	sky_strlcpy(a->tok.resource, cfg->resource, sizeof(a->tok.resource));
	sky_strlcpy(a->tok.client_id, cfg->client_id, sizeof(a->tok.client_id));
	a->tok.timeout_ms = cfg->timeout_ms;
	a->tok.abort = abort;
}

void vipd_azure_done(struct vipd_azure *a)
{
	sky_azure_tokensrc_wipe(&a->tok);
}

static bool aborted(const struct vipd_azure *a)
{
	return a->abort && atomic_load(a->abort);
}

static void pause_ms(const struct vipd_azure *a, uint32_t ms)
{
	int64_t until = sky_now_ms() + ms;
	while (!aborted(a) && sky_now_ms() < until) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/*
 * One ARM request with retries (5xx, 429, transport errors, a token to
 * renew). 0 with resp kept for 2xx (caller frees); -ESTALE on 412.
 */
static int arm(struct vipd_azure *a, const char *method, const char *url,
	       const char *body, const char *if_match, const char *what,
	       struct sky_http_resp *out, char *why, size_t size)
{
	const struct vipd_azure_cfg *cfg = a->cfg;
	char detail[300] = "", match[ETAG_MAX + 16];
	bool refresh = false;
	for (uint32_t attempt = 1; attempt <= cfg->attempts; attempt++) {
		if (aborted(a)) {
			snprintf(why, size, "%s: interrupted", what);
			return -ECANCELED;
		}
		if (attempt > 1) {
			a->stats.retries++;
			pause_ms(a, sky_backoff_ms(cfg->backoff_ms, attempt - 1,
						   &a->seed));
		}
		{
			uint64_t before = a->tok.fetches;
			int r = sky_azure_token_get(&a->tok, refresh, detail,
						    sizeof(detail));
			a->stats.credential_fetches += a->tok.fetches - before;
			refresh = false;
			if (r == -EACCES || r == -E2BIG) {
				snprintf(why, size, "%s: %s", what, detail);
				return r;
			}
			if (r < 0) {
				log_warning("azure: %s (attempt %u of %u)",
					    detail, attempt, cfg->attempts);
				continue;
			}
		}
		snprintf(match, sizeof(match), "If-Match: %s",
			 if_match ? if_match : "");
		struct sky_http_req req = {
			.method = method,
			.url = url,
			.body = body,
			.headers = {"Content-Type: application/json",
				    if_match ? match : NULL},
			.bearer = a->tok.token,
			.timeout_ms = cfg->timeout_ms,
			.abort = a->abort,
		};
		a->stats.calls++;
		int r = sky_http(&req, out);
		if (r < 0) {
			snprintf(detail, sizeof(detail), "%s", out->error);
			log_warning("azure: %s: %s (attempt %u of %u)", what,
				    detail, attempt, cfg->attempts);
			if (r == -ECANCELED)
				break;
			continue;
		}
		char code[96], message[200];
		enum vipd_aws_verdict v = vipd_azure_classify(
			out->status, out->body, out->len, code, sizeof(code),
			message, sizeof(message));
		long status = out->status, retry_after = out->retry_after_s;
		snprintf(detail, sizeof(detail), "HTTP %ld %s%s%s", status,
			 code, message[0] ? ": " : "", message);
		if (v == VIPD_AWS_OK)
			return 0;
		sky_http_resp_free(out);
		if (status == 412) {
			snprintf(why, size, "%s: %s", what, detail);
			return -ESTALE;
		}
		if (v == VIPD_AWS_REFRESH) {
			log_warning("azure: %s: %s: a new token", what, detail);
			refresh = true;
			continue;
		}
		if (v == VIPD_AWS_RETRY) {
			log_warning("azure: %s: %s (attempt %u of %u)", what,
				    detail, attempt, cfg->attempts);
			if (retry_after > 0 && attempt < cfg->attempts)
				pause_ms(a, (uint32_t)(retry_after > 10
							       ? 10000
							       : retry_after *
									 1000));
			continue;
		}
		a->stats.failures++;
		snprintf(why, size, "%s: %s", what, detail);
		return status == 403 ? -EACCES : -EPROTO;
	}
	a->stats.failures++;
	snprintf(why, size, "%s: gave up after %u attempts: %s", what,
		 cfg->attempts, detail);
	return -ETIMEDOUT;
}

int vipd_azure_parse_operation(const char *body, size_t len, char *state,
			       size_t state_size, char *msg, size_t msg_size)
{
	json_error_t e;
	json_t *o = json_loadb(body, len, 0, &e);
	const char *s = json_string_value(json_object_get(o, "status"));
	const char *m = json_string_value(
		json_object_get(json_object_get(o, "error"), "message"));
	int r;

	snprintf(msg, msg_size, "%s", m ? m : "");
	snprintf(state, state_size, "%s", s ? s : "");
	if (s && strcmp(s, "Succeeded") == 0)
		r = 1;
	else if (s && (strcmp(s, "Failed") == 0 || strcmp(s, "Canceled") == 0))
		r = -EPROTO;
	else
		r = state[0] ? 0 : -EBADMSG;
	json_decref(o);
	return r;
}

/* Follow a long-running operation started by resp (freed here). */
static int follow(struct vipd_azure *a, struct sky_http_resp *resp,
		  const char *what, char *why, size_t size)
{
	char async_url[1024], location[1024];
	memcpy(async_url, resp->async_url, sizeof(async_url));
	memcpy(location, resp->location, sizeof(location));
	long wait_s = resp->retry_after_s;
	long status = resp->status;
	sky_http_resp_free(resp);
	if (!async_url[0] && !(status == 202 && location[0]))
		return 0; /* done synchronously */
	const char *poll_url = async_url[0] ? async_url : location;
	if (!vipd_azure_url_trusted(a->cfg, poll_url)) {
		snprintf(why, size,
			 "%s: the operation URL is not under %s: not sending "
			 "the token there",
			 what, a->cfg->arm_endpoint);
		return -EPERM;
	}
	int64_t deadline = sky_now_ms() + a->cfg->operation_timeout_ms;
	for (;;) {
		uint32_t ms =
			wait_s > 0
				? (uint32_t)(wait_s > 60 ? 60 : wait_s) * 1000
				: a->cfg->backoff_ms;
		if (sky_now_ms() + ms > deadline) {
			snprintf(why, size,
				 "%s: the operation did not finish within "
				 "%u ms",
				 what, a->cfg->operation_timeout_ms);
			return -ETIMEDOUT;
		}
		pause_ms(a, ms);
		struct sky_http_resp poll;
		int r = arm(a, "GET", poll_url, NULL, NULL, what, &poll, why,
			    size);
		if (r < 0)
			return r;
		wait_s = poll.retry_after_s;
		if (!async_url[0]) { /* Location: 202 while running */
			long st = poll.status;
			sky_http_resp_free(&poll);
			if (st != 202)
				return 0;
			continue;
		}
		char state[32], msg[200];
		r = vipd_azure_parse_operation(poll.body, poll.len, state,
					       sizeof(state), msg, sizeof(msg));
		sky_http_resp_free(&poll);
		if (r == 1)
			return 0;
		if (r == -EPROTO) {
			snprintf(why, size, "%s: operation %s%s%s", what, state,
				 msg[0] ? ": " : "", msg);
			return -EPROTO;
		}
		if (r < 0) {
			snprintf(why, size, "%s: malformed operation status",
				 what);
			return -EBADMSG;
		}
	}
}

static void nic_url(const struct vipd_azure *a, const char *nic, char *out,
		    size_t size)
{
	snprintf(out, size,
		 "%s/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Network/networkInterfaces/%s?api-version=%s",
		 a->cfg->arm_endpoint, a->cfg->subscription,
		 a->cfg->resource_group, nic, ARM_API_VERSION);
}

/* One change to a NIC document: an ipConfiguration, or a pool. */
struct nic_change {
	const struct vipd_azure_ipconf *ic; /* or NULL: pool_id */
	const char *pool_id;
	bool want;
};

static int nic_change_apply(json_t *doc, const struct nic_change *c,
			    bool *changed)
{
	if (c->ic)
		return vipd_azure_nic_edit(doc, c->ic->name, c->ic->address,
					   c->want, changed);
	return vipd_azure_nic_pool_edit(doc, c->pool_id, c->want, changed);
}

/* GET nic, edit, PUT with If-Match, follow; redo on 412. */
static int nic_set(struct vipd_azure *a, const char *nic,
		   const struct nic_change *change, const char *what, char *why,
		   size_t size)
{
	char url[VIPD_URL_MAX + 512];
	nic_url(a, nic, url, sizeof(url));
	for (uint32_t round = 0; round < a->cfg->attempts; round++) {
		struct sky_http_resp resp;
		int r = arm(a, "GET", url, NULL, NULL, what, &resp, why, size);
		if (r < 0)
			return r;
		json_error_t e;
		json_t *doc = json_loadb(resp.body, resp.len, 0, &e);
		sky_http_resp_free(&resp);
		const char *etag =
			json_string_value(json_object_get(doc, "etag"));
		char tag[ETAG_MAX];
		bool changed = false;
		r = json_is_object(doc) && etag && printable(etag, sizeof(tag))
			    ? nic_change_apply(doc, change, &changed)
			    : -EBADMSG;
		if (r == -EBADMSG) {
			/* A garbled answer may be a proxy's: read again. */
			json_decref(doc);
			snprintf(why, size, "%s: the NIC document is malformed",
				 what);
			log_warning("azure: %s", why);
			a->stats.retries++;
			pause_ms(a, sky_backoff_ms(a->cfg->backoff_ms,
						   round + 1, &a->seed));
			continue;
		}
		if (r < 0) {
			json_decref(doc);
			return r;
		}
		snprintf(tag, sizeof(tag), "%s", etag);
		_cleanup_free_ char *body =
			changed ? json_dumps(doc, JSON_COMPACT) : NULL;
		json_decref(doc);
		if (!changed)
			return 0; /* already as wanted: idempotent */
		if (!body)
			return -ENOMEM;
		r = arm(a, "PUT", url, body, tag, what, &resp, why, size);
		if (r == -ESTALE) {
			log_info("azure: %s: the NIC changed meanwhile (412), "
				 "reading it again",
				 what);
			continue;
		}
		if (r < 0)
			return r;
		r = follow(a, &resp, what, why, size);
		if (r == 0)
			log_info("azure: %s done", what);
		return r;
	}
	if (!why[0])
		snprintf(why, size, "%s: the NIC kept changing (412)", what);
	return -ESTALE;
}

/* Join (up) or leave (down) each backend pool: this node's NIC only. */
static int set_pools(struct vipd_azure *a, bool up, char *why, size_t size)
{
	const struct vipd_azure_cfg *cfg = a->cfg;
	for (size_t i = 0; i < cfg->pool_count; i++) {
		char id[VIPD_URL_MAX], what[256];
		snprintf(id, sizeof(id),
			 "/subscriptions/%s/resourceGroups/%s/providers/"
			 "Microsoft.Network/loadBalancers/%s/"
			 "backendAddressPools/%s",
			 cfg->subscription, cfg->resource_group,
			 cfg->pools[i].load_balancer, cfg->pools[i].pool);
		snprintf(what, sizeof(what), "%s backend pool %s/%s %s NIC %s",
			 up ? "join" : "leave", cfg->pools[i].load_balancer,
			 cfg->pools[i].pool, up ? "with" : "of", a->node->nic);
		struct nic_change c = {.pool_id = id, .want = up};
		int r = nic_set(a, a->node->nic, &c, what, why, size);
		if (r < 0)
			return r;
	}
	return 0;
}

int vipd_azure_apply(struct vipd_azure *a, bool up, char *why, size_t size)
{
	const struct vipd_azure_cfg *cfg = a->cfg;
	if (!up) /* the peer's "up" moves the rest */
		return set_pools(a, false, why, size);
	for (size_t i = 0; i < cfg->ipconf_count; i++) {
		char what[256];
		struct nic_change c = {.ic = &cfg->ipconfs[i], .want = false};
		int r = 0;
		if (a->peer) {
			snprintf(what, sizeof(what),
				 "remove ipConfiguration %s on NIC %s",
				 c.ic->name, a->peer->nic);
			r = nic_set(a, a->peer->nic, &c, what, why, size);
		}
		if (r >= 0) {
			c.want = true;
			snprintf(what, sizeof(what),
				 "add ipConfiguration %s on NIC %s", c.ic->name,
				 a->node->nic);
			r = nic_set(a, a->node->nic, &c, what, why, size);
		}
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < cfg->route_count; i++) {
		const struct vipd_azure_route *rt = &cfg->routes[i];
		char url[VIPD_URL_MAX + 512], what[256];
		snprintf(url, sizeof(url),
			 "%s/subscriptions/%s/resourceGroups/%s/providers/"
			 "Microsoft.Network/routeTables/%s/routes/%s"
			 "?api-version=%s",
			 cfg->arm_endpoint, cfg->subscription,
			 cfg->resource_group, rt->table, rt->route,
			 ARM_API_VERSION);
		snprintf(what, sizeof(what), "route %s/%s via %s", rt->table,
			 rt->route, a->node->address);
		json_t *doc = json_pack("{s:{s:s,s:s,s:s}}", "properties",
					"addressPrefix", rt->prefix,
					"nextHopType", "VirtualAppliance",
					"nextHopIpAddress", a->node->address);
		_cleanup_free_ char *body =
			doc ? json_dumps(doc, JSON_COMPACT) : NULL;
		json_decref(doc);
		if (!body)
			return -ENOMEM;
		struct sky_http_resp resp;
		int r = arm(a, "PUT", url, body, NULL, what, &resp, why, size);
		if (r >= 0)
			r = follow(a, &resp, what, why, size);
		if (r < 0)
			return r;
		log_info("azure: %s done", what);
	}
	return set_pools(a, true, why, size);
}
