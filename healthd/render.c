/*
 * render.c - /status and /metrics (see render.h).
 *
 * The status objects were checked only for the fields the health decision
 * needs; everything read here is checked again for type, and a missing or
 * odd field leaves its metric out rather than inventing a value. Label
 * values are escaped and bounded (Prometheus text format 0.0.4), and only
 * known role and actuator names become label values, so a hostile status
 * cannot grow the number of series.
 */
#include "render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define LABEL_MAX	   64 /* bytes of one label value */
#define NETWORKS_SHOWN_MAX 8

enum healthd_code healthd_code_of(unsigned status)
{
	switch (status) {
	case 200:
		return HEALTHD_CODE_200;
	case 404:
		return HEALTHD_CODE_404;
	case 405:
		return HEALTHD_CODE_405;
	case 503:
		return HEALTHD_CODE_503;
	default:
		return HEALTHD_CODE_OTHER;
	}
}

static const char *const code_labels[HEALTHD_CODE_COUNT] = {
	[HEALTHD_CODE_200] = "200",	[HEALTHD_CODE_404] = "404",
	[HEALTHD_CODE_405] = "405",	[HEALTHD_CODE_503] = "503",
	[HEALTHD_CODE_OTHER] = "other",
};

/* --- /status ------------------------------------------------------------- */

static json_t *transitions_json(const struct healthd_module *m)
{
	json_t *arr = json_array();
	for (size_t i = m->history_count; arr && i-- > 0;) {
		const struct healthd_transition *t = &m->history[i];
		json_array_append_new(arr,
				      json_pack("{s:s,s:s,s:s,s:s}", "from",
						t->from, "to", t->to, "at",
						t->at, "reason", t->reason));
	}
	return arr;
}

static json_t *module_json(const struct healthd_module *m, int64_t now_ms)
{
	enum healthd_verdict v = healthd_module_health(m, now_ms);
	json_t *o = json_pack("{s:s,s:s,s:b,s:b,s:I,s:I}", "health",
			      v == HEALTHD_OK ? "OK" : "NOK", "reason",
			      healthd_verdict_text(v), "connected",
			      m->connected, "current", m->status_current,
			      "transitions_seen", (json_int_t)m->transitions,
			      "bus_messages", (json_int_t)m->messages);
	if (!o)
		return NULL;
	json_object_set_new(o, "age_ms",
			    m->status ? json_integer(now_ms - m->received_ms)
				      : json_null());
	json_object_set_new(o, "transitions", transitions_json(m));
	/* A copy, so the caller may keep or free the answer freely. */
	json_object_set_new(o, "status",
			    m->status ? json_deep_copy(m->status)
				      : json_null());
	return o;
}

json_t *healthd_render_status(const struct healthd_table *t,
			      const struct healthd_stats *stats,
			      const char *host, int64_t now_ms)
{
	json_t *mods = json_object();
	json_t *o;

	for (size_t i = 0; mods && i < t->count; i++)
		json_object_set_new(mods, t->mods[i]->name,
				    module_json(t->mods[i], now_ms));
	o = json_pack("{s:s,s:{s:I,s:I,s:I},s:o}", "host", host ? host : "",
		      "healthd", "uptime_ms",
		      (json_int_t)(now_ms - stats->started_ms),
		      "stale_after_ms", (json_int_t)HEALTHD_STALE_MS,
		      "publish_period_ms", (json_int_t)SKY_PUBLISH_PERIOD_MS,
		      "modules", mods);
	return o;
}

/* --- /metrics ------------------------------------------------------------ */

/* A label value: escaped, at most LABEL_MAX bytes cut on a character. */
static void put_label(FILE *f, const char *s)
{
	size_t len = strnlen(s, LABEL_MAX + 1);
	if (len > LABEL_MAX) {
		len = LABEL_MAX;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\')
			fputs("\\\\", f);
		else if (c == '"')
			fputs("\\\"", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c == 0x7f)
			fputc('?', f);
		else
			fputc(c, f);
	}
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{module="M"[,k="v"]} value */
static void sample(FILE *f, const char *name, const char *module, const char *k,
		   const char *v, const char *value)
{
	fputs(name, f);
	if (module || k) {
		fputc('{', f);
		if (module) {
			fputs("module=\"", f);
			put_label(f, module);
			fputc('"', f);
		}
		if (k) {
			fprintf(f, "%s%s=\"", module ? "," : "", k);
			put_label(f, v);
			fputc('"', f);
		}
		fputc('}', f);
	}
	fprintf(f, " %s\n", value);
}

static void sample_u64(FILE *f, const char *name, const char *module,
		       const char *k, const char *v, uint64_t value)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, value);
	sample(f, name, module, k, v, buf);
}

static void sample_ms(FILE *f, const char *name, const char *module,
		      const char *k, const char *v, int64_t ms)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%.3f", (double)ms / 1000.0);
	sample(f, name, module, k, v, buf);
}

/* status[a][b] (b may be NULL) if it is an integer >= 0. */
static bool get_count(const json_t *status, const char *a, const char *b,
		      int64_t *out)
{
	const json_t *v = json_object_get(status, a);
	if (b)
		v = json_object_get(v, b);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = json_integer_value(v);
	return true;
}

static bool get_bool(const json_t *status, const char *a, const char *b,
		     bool *out)
{
	const json_t *v = json_object_get(json_object_get(status, a), b);
	if (!json_is_boolean(v))
		return false;
	*out = json_is_true(v);
	return true;
}

static const char *get_string(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void role_samples(FILE *f, const char *module, const json_t *who,
			 bool peer)
{
	static const char *const roles[] = {"STOP", "WAIT", "SECOND", "ALONE",
					    "PRIM", "UP",   "UNKNOWN"};
	const char *name = get_string(who, "name");
	const char *role = get_string(who, "role");

	if (!name || !role)
		return;
	for (size_t i = 0; i < SKY_ARRAY_SIZE(roles) - (peer ? 0 : 1); i++) {
		fputs("skyha_role{module=\"", f);
		put_label(f, module);
		fputs("\",node=\"", f);
		put_label(f, name);
		fprintf(f, "\",peer=\"%s\",role=\"%s\"} %d\n",
			peer ? "true" : "false", roles[i],
			strcmp(role, roles[i]) == 0);
	}
}

/* One gauge per module from an integer or boolean field of the status. */
struct field_metric {
	const char *name, *help, *a, *b;
	bool boolean;
	bool millis; /* render milliseconds as seconds */
};

static const struct field_metric field_metrics[] = {
	{"skyha_serving", "1 when heartbeatd says this node serves the module",
	 "node", "serving", true, false},
	{"skyha_epoch", "the module's current epoch (role changes)", "node",
	 "epoch", false, false},
	{"skyha_generation", "this node's data generation", "node",
	 "generation", false, false},
	{"skyha_role_for_seconds", "time since this node's last role change",
	 "node", "role_for_ms", false, true},
	{"skyha_peer_visible", "1 when the peer's heartbeats arrive", "peer",
	 "visible", true, false},
	{"skyha_peer_last_seen_seconds", "time since the peer's last heartbeat",
	 "peer", "last_seen_ms", false, true},
	{"skyha_quorum", "1 when this node has quorum", "quorum", "have", true,
	 false},
	{"skyha_witness_lease_expires_seconds",
	 "time left on the witness lease (0: not held)", "witness",
	 "expires_in_ms", false, true},
	{"skyha_farm_members", "farm: how many nodes serve in this node's view",
	 "membership", "count", false, false},
	{"skyha_farm_membership_changes",
	 "farm: how often the serving nodes changed since heartbeatd started",
	 "membership", "changes", false, false},
};

static void field_family(FILE *f, const struct healthd_table *t,
			 const struct field_metric *fm)
{
	family(f, fm->name, "gauge", fm->help);
	for (size_t i = 0; i < t->count; i++) {
		const struct healthd_module *m = t->mods[i];
		int64_t n;
		bool b;
		if (!m->status)
			continue;
		if (fm->boolean && get_bool(m->status, fm->a, fm->b, &b))
			sample_u64(f, fm->name, m->name, NULL, NULL, b);
		else if (!fm->boolean && fm->millis &&
			 get_count(m->status, fm->a, fm->b, &n))
			sample_ms(f, fm->name, m->name, NULL, NULL, n);
		else if (!fm->boolean && !fm->millis &&
			 get_count(m->status, fm->a, fm->b, &n))
			sample_u64(f, fm->name, m->name, NULL, NULL,
				   (uint64_t)n);
	}
}

static void network_families(FILE *f, const struct healthd_table *t)
{
	family(f, "skyha_heartbeat_network_up", "gauge",
	       "1 when the peer's heartbeats arrive on this network");
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			family(f, "skyha_heartbeat_network_last_seen_seconds",
			       "gauge",
			       "time since the peer's last heartbeat on this "
			       "network");
		for (size_t i = 0; i < t->count; i++) {
			const struct healthd_module *m = t->mods[i];
			const json_t *nets = json_object_get(
				json_object_get(m->status, "peer"), "networks");
			size_t n = json_array_size(nets);
			for (size_t j = 0; j < n && j < NETWORKS_SHOWN_MAX;
			     j++) {
				const json_t *net = json_array_get(nets, j);
				json_t *idx = json_object_get(net, "index");
				json_t *up = json_object_get(net, "up");
				json_t *seen =
					json_object_get(net, "last_seen_ms");
				char index[24];
				if (!json_is_integer(idx) ||
				    json_integer_value(idx) < 0 ||
				    json_integer_value(idx) > 255)
					continue;
				snprintf(index, sizeof(index), "%d",
					 (int)json_integer_value(idx));
				if (pass == 0 && json_is_boolean(up))
					sample_u64(f,
						   "skyha_heartbeat_network_up",
						   m->name, "network", index,
						   json_is_true(up));
				else if (pass == 1 && json_is_integer(seen) &&
					 json_integer_value(seen) >= 0)
					sample_ms(
						f,
						"skyha_heartbeat_network_last_"
						"seen_seconds",
						m->name, "network", index,
						json_integer_value(seen));
			}
		}
	}
}

static void counter_family(FILE *f, const struct healthd_table *t,
			   const char *name, const char *help,
			   const char *label, const char *const *keys,
			   const char *const *values, size_t n)
{
	family(f, name, "counter", help);
	for (size_t i = 0; i < t->count; i++) {
		const struct healthd_module *m = t->mods[i];
		for (size_t k = 0; m->status && k < n; k++) {
			int64_t v;
			if (get_count(m->status, "counters", keys[k], &v))
				sample_u64(f, name, m->name, label, values[k],
					   (uint64_t)v);
		}
	}
}

static void actuator_family(FILE *f, const struct healthd_table *t)
{
	family(f, "skyha_actuator_reached", "gauge",
	       "1 when the actuator reached the target heartbeatd set");
	for (size_t i = 0; i < t->count; i++) {
		const struct healthd_module *m = t->mods[i];
		const json_t *acts = json_object_get(m->status, "actuators");
		for (unsigned a = 0; a < SKY_ACT_COUNT; a++) {
			const char *name = sky_actuator_name(a);
			const json_t *o = json_object_get(acts, name);
			const char *target = get_string(o, "target");
			const char *state = get_string(o, "state");
			if (!target || !state)
				continue;
			sample_u64(f, "skyha_actuator_reached", m->name,
				   "actuator", name,
				   target[0] && strcmp(target, state) == 0);
		}
	}
}

/* What replicd says of its copy, as heartbeatd checked and kept it in
 * status.actuators.replicd (docs/protocol.md), and what checkd says beyond
 * its state, from status.actuators.checkd.detail. */
struct replica_metric {
	const char *name, *type, *help, *object, *key;
};

static const struct replica_metric replica_metrics[] = {
	{"skyha_replication_bytes_sent_total", "counter",
	 "bytes replicd sent to its peer since it started", "counters",
	 "bytes_sent"},
	{"skyha_replication_ops_pending", "gauge",
	 "operations the peer has not acknowledged yet (the lag)", "counters",
	 "ops_pending"},
	{"skyha_replication_rejected_frames_total", "counter",
	 "replication frames replicd rejected (bad seal, decode, sequence)",
	 "counters", "rejected_frames"},
	{"skyha_replication_record_entries", "gauge",
	 "changes recorded for the next resync", "counters", "record_entries"},
	{"skyha_resync_bytes_left", "gauge",
	 "bytes the current resync still has to send (0 when none runs)",
	 "resync", "bytes_left"},
	{"skyha_resync_rate_bytes_per_second", "gauge",
	 "the current resync's rate", "resync", "rate_bps"},
};

static void replica_families(FILE *f, const struct healthd_table *t)
{
	family(f, "skyha_replication_peer_connected", "gauge",
	       "1 when replicd is connected to its peer");
	for (size_t i = 0; i < t->count; i++) {
		const json_t *r = json_object_get(
			json_object_get(t->mods[i]->status, "actuators"),
			"replicd");
		const json_t *v = json_object_get(r, "peer_connected");
		if (json_is_boolean(v))
			sample_u64(f, "skyha_replication_peer_connected",
				   t->mods[i]->name, NULL, NULL,
				   json_is_true(v));
	}
	family(f, "skyha_replication_in_sync", "gauge",
	       "1 when replicd says the copies are in sync");
	family(f, "skyha_replication_data_uptodate", "gauge",
	       "1 when replicd says this node's copy is up to date");
	for (size_t i = 0; i < t->count; i++) {
		const json_t *r = json_object_get(
			json_object_get(t->mods[i]->status, "actuators"),
			"replicd");
		const char *sync = get_string(r, "sync");
		const char *data = get_string(r, "data");
		if (sync)
			sample_u64(f, "skyha_replication_in_sync",
				   t->mods[i]->name, NULL, NULL,
				   strcmp(sync, "insync") == 0);
		if (data)
			sample_u64(f, "skyha_replication_data_uptodate",
				   t->mods[i]->name, NULL, NULL,
				   strcmp(data, "uptodate") == 0);
	}
	for (size_t k = 0; k < SKY_ARRAY_SIZE(replica_metrics); k++) {
		const struct replica_metric *rm = &replica_metrics[k];
		family(f, rm->name, rm->type, rm->help);
		for (size_t i = 0; i < t->count; i++) {
			const json_t *r = json_object_get(
				json_object_get(t->mods[i]->status,
						"actuators"),
				"replicd");
			const json_t *v = json_object_get(
				json_object_get(r, rm->object), rm->key);
			if (json_is_integer(v) && json_integer_value(v) >= 0)
				sample_u64(f, rm->name, t->mods[i]->name, NULL,
					   NULL,
					   (uint64_t)json_integer_value(v));
		}
	}
}

static const json_t *detail_of(const struct healthd_module *m,
			       const char *actuator)
{
	const json_t *d = json_object_get(
		json_object_get(json_object_get(m->status, "actuators"),
				actuator),
		"detail");
	return json_is_object(d) ? d : NULL;
}

#define BACKUPS_SHOWN_MAX 16

/*
 * Each backup target of each module (heartbeatd's "backups"): when the last
 * success was, how old, whether it is stale (older than max_age, or none)
 * or failing since. The target names are labels: at most 16 a module.
 */
static void backup_families(FILE *f, const struct healthd_table *t)
{
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{"skyha_backup_last_success_timestamp_seconds", "gauge",
		 "wall-clock time of the target's last successful backup"},
		{"skyha_backup_age_seconds", "gauge",
		 "time since the target's last successful backup"},
		{"skyha_backup_stale", "gauge",
		 "1 when the target has no successful backup younger than its "
		 "max_age"},
		{"skyha_backup_failing", "gauge",
		 "1 when the target's last backup failed"},
		{"skyha_backup_last_bytes_uploaded", "gauge",
		 "bytes the target's last successful backup uploaded"},
	};
	for (size_t k = 0; k < SKY_ARRAY_SIZE(fams); k++) {
		family(f, fams[k].name, fams[k].type, fams[k].help);
		for (size_t i = 0; i < t->count; i++) {
			const json_t *all =
				t->mods[i]->status
					? json_object_get(t->mods[i]->status,
							  "backups")
					: NULL;
			size_t n;
			const json_t *b;
			if (!json_is_array(all))
				continue;
			json_array_foreach(all, n, b)
			{
				if (n >= BACKUPS_SHOWN_MAX)
					break;
				const char *target = get_string(b, "target");
				const json_t *ok =
					json_object_get(b, "last_success");
				const json_t *v = NULL;
				if (!target)
					continue;
				if (k == 0)
					v = json_object_get(ok, "time_ms");
				else if (k == 1)
					v = json_object_get(b, "age_s");
				else if (k == 4)
					v = json_object_get(ok,
							    "bytes_uploaded");
				if (k == 2 || k == 3) {
					bool on =
						k == 2 ? json_is_true(
								 json_object_get(
									 b,
									 "stal"
									 "e"))
						       : json_is_object(
								 json_object_get(
									 b,
									 "last_"
									 "failu"
									 "re"));
					sample_u64(f, fams[k].name,
						   t->mods[i]->name, "target",
						   target, on);
				} else if (json_is_integer(v) &&
					   json_integer_value(v) >= 0) {
					json_int_t x = json_integer_value(v);
					if (k == 0)
						sample_ms(f, fams[k].name,
							  t->mods[i]->name,
							  "target", target,
							  (int64_t)x);
					else
						sample_u64(f, fams[k].name,
							   t->mods[i]->name,
							   "target", target,
							   (uint64_t)x);
				}
			}
		}
	}
}

static void detail_families(FILE *f, const struct healthd_table *t)
{
	backup_families(f, t);
	replica_families(f, t);
	family(f, "skyha_app_restarts_in_window", "gauge",
	       "application restarts by checkd in its sliding window");
	for (size_t i = 0; i < t->count; i++) {
		const json_t *v = json_object_get(
			detail_of(t->mods[i], "checkd"), "restarts_in_window");
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			sample_u64(f, "skyha_app_restarts_in_window",
				   t->mods[i]->name, NULL, NULL,
				   (uint64_t)json_integer_value(v));
	}
	family(f, "skyha_checker_failing", "gauge",
	       "1 while a checkd checker counts as failed (after fail_after)");
	for (size_t i = 0; i < t->count; i++) {
		const json_t *list = json_object_get(
			detail_of(t->mods[i], "checkd"), "checkers");
		size_t n;
		const json_t *c;
		if (!json_is_array(list))
			continue;
		json_array_foreach(list, n, c)
		{
			const char *name = get_string(c, "name");
			const char *state = get_string(c, "state");
			/* "unknown" (not run yet) is not a failure. */
			if (name && state)
				sample_u64(f, "skyha_checker_failing",
					   t->mods[i]->name, "checker", name,
					   strcmp(state, "failed") == 0);
		}
	}
}

/* A farm in bucket mode: this node's share as vipd applied it (status.
 * actuators.vipd.detail.buckets, docs/protocol.md). */
static void bucket_families(FILE *f, const struct healthd_table *t)
{
	static const struct {
		const char *name, *type, *help, *key;
	} fams[] = {
		{"skyha_farm_buckets_owned", "gauge",
		 "farm, lb: buckets: of the 256 buckets, how many this node "
		 "accepts",
		 "owned"},
		{"skyha_farm_bucket_changes_total", "counter",
		 "farm, lb: buckets: rulesets vipd applied (membership "
		 "changes)",
		 "changes"},
		{"skyha_farm_bucket_nft_errors_total", "counter",
		 "farm, lb: buckets: nft runs that failed", "nft_errors"},
	};
	for (size_t k = 0; k < SKY_ARRAY_SIZE(fams); k++) {
		family(f, fams[k].name, fams[k].type, fams[k].help);
		for (size_t i = 0; i < t->count; i++) {
			const json_t *v = json_object_get(
				json_object_get(detail_of(t->mods[i], "vipd"),
						"buckets"),
				fams[k].key);
			if (json_is_integer(v) && json_integer_value(v) >= 0)
				sample_u64(f, fams[k].name, t->mods[i]->name,
					   NULL, NULL,
					   (uint64_t)json_integer_value(v));
		}
	}
}

static void write_metrics(FILE *f, const struct healthd_table *t,
			  const struct healthd_stats *stats, int64_t now_ms)
{
	static const char *const drop_keys[] = {"bad_mac",
						"replay",
						"malformed",
						"oversized",
						"wrong_cluster",
						"unknown_node",
						"witness_unknown_replies"};
	static const char *const drop_labels[] = {"bad_mac",
						  "replay",
						  "malformed",
						  "oversized",
						  "wrong_cluster",
						  "unknown_node",
						  "witness_unknown_reply"};
	static const char *const pkt_keys[] = {"tx", "rx", "tx_errors"};
	static const char *const pkt_labels[] = {"sent", "received",
						 "send_error"};
	static const char *const req_keys[] = {"ctl_bad_requests",
					       "bus_bad_messages"};
	static const char *const req_labels[] = {"ctl", "bus"};

	family(f, "skyha_healthd_up", "gauge", "healthd is running");
	sample(f, "skyha_healthd_up", NULL, NULL, NULL, "1");
	family(f, "skyha_healthd_uptime_seconds", "gauge",
	       "time since healthd started");
	sample_ms(f, "skyha_healthd_uptime_seconds", NULL, NULL, NULL,
		  now_ms - stats->started_ms);
	family(f, "skyha_healthd_modules", "gauge",
	       "modules healthd follows on this node");
	sample_u64(f, "skyha_healthd_modules", NULL, NULL, NULL, t->count);
	family(f, "skyha_healthd_connections", "gauge",
	       "HTTP connections open now");
	sample_u64(f, "skyha_healthd_connections", NULL, NULL, NULL,
		   stats->connections);
	family(f, "skyha_healthd_connections_refused_total", "counter",
	       "HTTP connections refused at accept: too many from one "
	       "address, or every connection busy with a request");
	sample_u64(f, "skyha_healthd_connections_refused_total", NULL, "reason",
		   "per_address", stats->conn.refused_per_addr);
	sample_u64(f, "skyha_healthd_connections_refused_total", NULL, "reason",
		   "busy", stats->conn.refused_full);
	family(f, "skyha_healthd_connections_closed_total", "counter",
	       "HTTP connections healthd closed before a complete request: "
	       "to make room (evicted), or past the header deadline");
	sample_u64(f, "skyha_healthd_connections_closed_total", NULL, "reason",
		   "evicted", stats->conn.evicted);
	sample_u64(f, "skyha_healthd_connections_closed_total", NULL, "reason",
		   "header_timeout", stats->conn.header_timeouts);
	family(f, "skyha_healthd_requests_total", "counter",
	       "HTTP requests answered, by status code");
	for (unsigned c = 0; c < HEALTHD_CODE_COUNT; c++)
		sample_u64(f, "skyha_healthd_requests_total", NULL, "code",
			   code_labels[c], stats->requests[c]);

	family(f, "skyha_module_healthy", "gauge",
	       "1 when /health/MODULE answers 200 OK on this node");
	for (size_t i = 0; i < t->count; i++)
		sample_u64(f, "skyha_module_healthy", t->mods[i]->name, NULL,
			   NULL,
			   healthd_module_health(t->mods[i], now_ms) ==
				   HEALTHD_OK);
	family(f, "skyha_module_bus_connected", "gauge",
	       "1 while healthd is connected to the module's heartbeatd");
	for (size_t i = 0; i < t->count; i++)
		sample_u64(f, "skyha_module_bus_connected", t->mods[i]->name,
			   NULL, NULL, t->mods[i]->connected);
	family(f, "skyha_module_status_age_seconds", "gauge",
	       "age of the last status heard from heartbeatd");
	for (size_t i = 0; i < t->count; i++)
		if (t->mods[i]->status)
			sample_ms(f, "skyha_module_status_age_seconds",
				  t->mods[i]->name, NULL, NULL,
				  now_ms - t->mods[i]->received_ms);
	family(f, "skyha_healthd_bus_messages_total", "counter",
	       "status messages accepted from heartbeatd");
	for (size_t i = 0; i < t->count; i++)
		sample_u64(f, "skyha_healthd_bus_messages_total",
			   t->mods[i]->name, NULL, NULL, t->mods[i]->messages);
	family(f, "skyha_healthd_bus_bad_messages_total", "counter",
	       "bus messages healthd refused (malformed, wrong topic)");
	for (size_t i = 0; i < t->count; i++)
		sample_u64(f, "skyha_healthd_bus_bad_messages_total",
			   t->mods[i]->name, NULL, NULL,
			   t->mods[i]->bad_messages);
	family(f, "skyha_healthd_bus_bad_fields_total", "counter",
	       "fields of heartbeatd's status with a wrong JSON type, dropped");
	for (size_t i = 0; i < t->count; i++)
		sample_u64(f, "skyha_healthd_bus_bad_fields_total",
			   t->mods[i]->name, NULL, NULL,
			   t->mods[i]->bad_fields);
	family(f, "skyha_healthd_bus_disconnects_total", "counter",
	       "times the module's heartbeatd went away");
	for (size_t i = 0; i < t->count; i++)
		sample_u64(f, "skyha_healthd_bus_disconnects_total",
			   t->mods[i]->name, NULL, NULL,
			   t->mods[i]->disconnects);
	family(f, "skyha_transitions_total", "counter",
	       "role transitions seen since healthd started");
	for (size_t i = 0; i < t->count; i++)
		sample_u64(f, "skyha_transitions_total", t->mods[i]->name, NULL,
			   NULL, t->mods[i]->transitions);

	family(f, "skyha_role", "gauge",
	       "1 for the role a node has (peer=\"true\": as this node sees "
	       "its peer)");
	for (size_t i = 0; i < t->count; i++) {
		const json_t *st = t->mods[i]->status;
		if (!st)
			continue;
		role_samples(f, t->mods[i]->name, json_object_get(st, "node"),
			     false);
		role_samples(f, t->mods[i]->name, json_object_get(st, "peer"),
			     true);
	}
	for (size_t i = 0; i < SKY_ARRAY_SIZE(field_metrics); i++)
		field_family(f, t, &field_metrics[i]);
	family(f, "skyha_witness_lease_held", "gauge",
	       "1 while this node holds the witness lease");
	for (size_t i = 0; i < t->count; i++) {
		const char *lease = get_string(
			json_object_get(t->mods[i]->status, "witness"),
			"lease");
		if (lease)
			sample_u64(f, "skyha_witness_lease_held",
				   t->mods[i]->name, NULL, NULL,
				   strcmp(lease, "held") == 0);
	}
	network_families(f, t);
	counter_family(f, t, "skyha_heartbeat_packets_total",
		       "heartbeat packets sent, received, failed to send",
		       "direction", pkt_keys, pkt_labels,
		       SKY_ARRAY_SIZE(pkt_keys));
	counter_family(f, t, "skyha_dropped_packets_total",
		       "packets heartbeatd dropped, by reason", "reason",
		       drop_keys, drop_labels, SKY_ARRAY_SIZE(drop_keys));
	counter_family(f, t, "skyha_rejected_requests_total",
		       "bad control requests and bus messages heartbeatd "
		       "refused",
		       "socket", req_keys, req_labels,
		       SKY_ARRAY_SIZE(req_keys));
	actuator_family(f, t);
	detail_families(f, t);
	bucket_families(f, t);
}

int healthd_render_metrics(const struct healthd_table *t,
			   const struct healthd_stats *stats, int64_t now_ms,
			   char **out, size_t *out_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	write_metrics(f, t, stats, now_ms);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return -ENOMEM;
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*out_len = len;
	return 0;
}
