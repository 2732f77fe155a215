/*
 * actual.c - what vipd says of itself: the actual state object (published
 * on the bus as MODULE.vipd.actual, written to <run>/<module>/vipd.json,
 * read by heartbeatd, healthd and skyctl) and systemd's STATUS= line.
 */
#include "daemon.h"
#include "frames.h"
#include "notify.h"

#include <stdio.h>

json_t *vipd_actual_json(const struct vipd *d)
{
	json_t *list = json_array();
	for (size_t i = 0; i < d->cfg.vip_count; i++) {
		const struct vipd_held *h = &d->held[i];
		json_array_append_new(
			list,
			json_pack("{s:s,s:s,s:b,s:s}", "address", h->cfg->text,
				  "interface", h->cfg->ifname, "present",
				  h->present, "conflict_mac", h->conflict_mac));
	}
	const struct vipd_counters *c = &d->n;
	json_t *counters =
		json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			  "announce_rounds", (json_int_t)c->announce_rounds,
			  "packets_sent", (json_int_t)c->packets_sent,
			  "send_errors", (json_int_t)c->send_errors,
			  "probes_sent", (json_int_t)c->probes_sent,
			  "probe_conflicts", (json_int_t)c->probe_conflicts,
			  "arp_seen", (json_int_t)c->arp_seen, "arp_malformed",
			  (json_int_t)c->arp_malformed, "bus_bad_messages",
			  (json_int_t)c->bus_bad_messages, "netlink_errors",
			  (json_int_t)c->netlink_errors, "netlink_bad_replies",
			  (json_int_t)d->nl.bad_replies, "readded",
			  (json_int_t)c->readded, "leftovers_removed",
			  (json_int_t)c->leftovers_removed);
	uint64_t epoch = d->state == VIPD_FAILED ? d->state_epoch : d->epoch;
	json_t *cloud = json_null();
	if (d->cloud) {
		struct vipd_aws_stats st;
		bool busy;
		char last[320];
		vipd_cloud_describe(d->cloud, &st, &busy, last, sizeof(last));
		cloud = json_pack(
			"{s:s,s:b,s:s,s:I,s:I,s:I,s:I}", "provider",
			d->cloud->use_aws && d->cloud->use_azure ? "aws+azure"
			: d->cloud->use_aws			 ? "aws"
								 : "azure",
			"busy", busy, "last", last, "calls",
			(json_int_t)st.calls, "retries", (json_int_t)st.retries,
			"credential_fetches", (json_int_t)st.credential_fetches,
			"failures", (json_int_t)st.failures);
	}
	json_object_set_new(counters, "cloud", cloud);
	json_t *obj = json_pack(
		"{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:o,s:o}", "module",
		d->mod.module, "daemon", "vipd", "node", d->self->name, "epoch",
		(json_int_t)epoch, "state", vipd_state_name(d->state), "reason",
		d->reason, "target", d->target ? d->target : "", "role",
		d->heard_desired ? sky_role_name(d->role) : "", "addresses",
		list, "counters", counters);
	if (obj && d->bk.on) {
		char vmac[18];
		vipd_mac_text(d->bk.vmac, vmac);
		json_object_set_new(
			obj, "buckets",
			json_pack("{s:I,s:I,s:I,s:I,s:s,s:s,s:I,s:I,s:I,s:I}",
				  "owned", (json_int_t)d->bk.owned_count,
				  "total", (json_int_t)VIPD_BUCKETS, "members",
				  (json_int_t)(d->bk.applied
						       ? d->bk.applied_count
						       : 0),
				  "taken_over", (json_int_t)d->bk.reset_count,
				  "hash", vipd_hash_name(d->cfg.buckets.hash),
				  "vmac", vmac, "changes",
				  (json_int_t)d->bk.changes, "nft_errors",
				  (json_int_t)d->bk.nft_errors, "arp_replies",
				  (json_int_t)d->bk.arp_replies, "restored",
				  (json_int_t)d->bk.restored));
		json_t *bo = json_object_get(obj, "buckets");
		if (bo) {
			json_object_set_new(
				bo, "ns_seen",
				json_integer((json_int_t)d->bk.ns_seen));
			json_object_set_new(
				bo, "ns_malformed",
				json_integer((json_int_t)d->bk.ns_malformed));
			json_object_set_new(
				bo, "na_replies",
				json_integer((json_int_t)d->bk.na_replies));
			json_object_set_new(
				bo, "reloads",
				json_integer((json_int_t)d->bk.reloads));
			json_object_set_new(
				bo, "reload_errors",
				json_integer((json_int_t)d->bk.reload_errors));
		}
	}
	return obj;
}

void vipd_publish(struct vipd *d, int64_t now)
{
	json_t *obj = vipd_actual_json(d);
	if (obj) {
		sky_bus_publish(d->pub, d->topic_actual, obj);
		sky_bus_write_state_file(d->run_dir, "vipd", obj);
	}
	json_decref(obj);
	d->next_publish_ms = now + SKY_PUBLISH_PERIOD_MS;
	d->publish_now = false;
	char status[220], load[40] = "";
	if (d->bk.on)
		snprintf(load, sizeof(load), ", load %zu/%d", d->bk.owned_count,
			 VIPD_BUCKETS);
	snprintf(status, sizeof(status), "%s, target %s: %s%s%s%.120s",
		 d->heard_desired ? sky_role_name(d->role)
				  : "no word from heartbeatd",
		 d->target ? d->target : "none", vipd_state_name(d->state),
		 load, d->reason[0] ? "; " : "", d->reason);
	sky_notify_status(status);
}
