/*
 * actual.c - replicd's published actual state (MODULE.replicd.actual,
 * docs/protocol.md "replicd's actual state"): the words heartbeatd decides
 * promotions with, the systemd STATUS= line, and the reasons an operator
 * reads, from the main thread's state (daemon.h).
 */
#include "daemon.h"
#include "notify.h"

#include <stdio.h>
#include <string.h>

const char *replicd_target_name(enum replicd_target t)
{
	switch (t) {
	case RT_PRIMARY:
		return "primary";
	case RT_SECONDARY:
		return "secondary";
	default:
		return "stopped";
	}
}

static void describe(struct replicd *d, bool *in_sync)
{
	const char *sync = SKY_SYNC_STOPPED;
	uint64_t entries = replicd_track_count(d->track);

	*in_sync = false;
	d->reason[0] = '\0';
	switch (d->target) {
	case RT_PRIMARY:
		switch (replicd_peer_up(d) ? d->psync : PS_NONE) {
		case PS_NONE:
		case PS_EXCHANGE:
			sync = replicd_peer_up(d) ? SKY_SYNC_RESYNCING
						  : SKY_SYNC_DEGRADED;
			snprintf(d->reason, sizeof(d->reason),
				 "peer %s %s: changes are recorded for "
				 "resync (%llu entries)",
				 d->peer->name,
				 replicd_peer_up(d)
					 ? "connected, comparing records"
					 : "not connected",
				 (unsigned long long)entries);
			break;
		case PS_MANIFEST:
			sync = SKY_SYNC_RESYNCING;
			snprintf(d->reason, sizeof(d->reason),
				 "no usable change record: receiving the "
				 "hashes of %s's copy",
				 d->peer->name);
			break;
		case PS_RESYNC:
		case PS_FLUSH:
			sync = SKY_SYNC_RESYNCING;
			snprintf(d->reason, sizeof(d->reason),
				 "resyncing %s: %llu of about %llu bytes sent",
				 d->peer->name,
				 (unsigned long long)d->rsi.bytes_done,
				 (unsigned long long)d->rsi.bytes_total);
			break;
		case PS_INSYNC:
			sync = SKY_SYNC_INSYNC;
			*in_sync = true;
			break;
		case PS_DIVERGED: {
			struct replicd_alone_stats st =
				replicd_alone_get(&d->alone);
			sync = SKY_SYNC_DIVERGED;
			/* Times: alone_changes, peer_alone_changes. */
			snprintf(
				d->reason, sizeof(d->reason),
				"diverged: %s made %llu changes alone, this "
				"node %llu; `skyctl resync --discard-local` on "
				"%s keeps this node's copy",
				d->peer->name,
				(unsigned long long)d->peer_alone.count,
				(unsigned long long)st.count, d->peer->name);
			break;
		}
		}
		break;
	case RT_SECONDARY:
		if (d->diverged) {
			struct replicd_alone_stats st =
				replicd_alone_get(&d->alone);
			sync = SKY_SYNC_DIVERGED;
			snprintf(d->reason, sizeof(d->reason),
				 "diverged: this node made %llu changes alone, "
				 "primary %s %llu; `skyctl resync "
				 "--discard-local` here drops this node's",
				 (unsigned long long)st.count, d->peer->name,
				 (unsigned long long)d->peer_alone.count);
		} else if (d->sec_resyncing && replicd_peer_up(d)) {
			sync = SKY_SYNC_RESYNCING;
			snprintf(d->reason, sizeof(d->reason),
				 "resyncing from %s: %llu of about %llu bytes",
				 d->peer->name, (unsigned long long)d->sec_done,
				 (unsigned long long)d->sec_total);
		} else if (replicd_peer_up(d) &&
			   d->data == SKY_REPLICA_UPTODATE) {
			sync = SKY_SYNC_INSYNC;
			*in_sync = true;
		} else {
			sync = SKY_SYNC_WAITING;
			snprintf(d->reason, sizeof(d->reason), "%s primary %s",
				 replicd_peer_up(d)
					 ? "waiting for the verdict of"
					 : "waiting for",
				 d->peer->name);
		}
		break;
	default:
		break;
	}
	if (d->dirs_refused && !replicd_peer_up(d) &&
	    (d->target == RT_PRIMARY || d->target == RT_SECONDARY))
		snprintf(d->reason, sizeof(d->reason),
			 "peer %s refused: replicd.directories differ between "
			 "the nodes (the same paths, in the same order, on "
			 "both)%s",
			 d->peer->name,
			 d->target == RT_PRIMARY
				 ? "; changes are recorded for resync"
				 : "");
	if (d->target == RT_PRIMARY)
		replicd_fence_describe(&d->fence, sky_now_ms(), d->reason,
				       sizeof(d->reason));
	sky_strlcpy(d->sync, sync, sizeof(d->sync));
}

static json_t *resync_json(const struct replicd *d, int64_t now)
{
	const struct replicd_resync_info *i = &d->rsi;
	if (d->target == RT_SECONDARY)
		return json_pack(
			"{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "active",
			d->sec_resyncing, "bytes_total",
			(json_int_t)d->sec_total, "bytes_done",
			(json_int_t)d->sec_done, "bytes_left",
			(json_int_t)(d->sec_total > d->sec_done
					     ? d->sec_total - d->sec_done
					     : 0),
			/* compressed resync writes taken and refused */
			"compressed_frames", (json_int_t)d->z_frames_in,
			"compressed_file_bytes", (json_int_t)d->z_bytes_out,
			"compressed_bytes", (json_int_t)d->z_bytes_in,
			"compressed_rejected", (json_int_t)d->z_rejected);
	if (!i->started_ms)
		return json_null();
	/* A pass being planned has started_ms but is not active yet. */
	int64_t end =
		i->active || i->ended_ms < i->started_ms ? now : i->ended_ms;
	int64_t ms = end - i->started_ms;
	uint64_t left = i->bytes_total > i->bytes_done
				? i->bytes_total - i->bytes_done
				: 0;
	uint64_t rate = ms > 0 ? i->bytes_done * 1000 / (uint64_t)ms : 0;
	/* Under a cap, what the cap lets through (the file bytes per
	 * capped byte, compression included) bounds the rate: the ETA
	 * never promises more than the cap allows. */
	uint64_t cap = d->set->resync_max_bytes_per_s;
	if (cap && i->op_bytes && i->bytes_done) {
		uint64_t capped =
			(uint64_t)((double)cap * (double)i->bytes_done /
				   (double)i->op_bytes);
		if (!rate || capped < rate)
			rate = capped ? capped : 1;
	}
	uint64_t wire = i->active && d->conn
				? d->conn->bytes_sent - i->wire_start
				: i->wire_bytes;
	json_t *o =
		json_pack("{s:b,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			  "active", i->active, "mode",
			  i->full   ? "full"
			  : i->hash ? "hash"
				    : "record",
			  "bytes_total", (json_int_t)i->bytes_total,
			  "bytes_done", (json_int_t)i->bytes_done, "bytes_left",
			  (json_int_t)left, "rate_bps", (json_int_t)rate,
			  "eta_s", (json_int_t)(rate ? left / rate : 0),
			  "passes", (json_int_t)i->passes, "data_bytes_sent",
			  (json_int_t)i->data_bytes_sent, "wire_bytes",
			  (json_int_t)wire, "zones", (json_int_t)i->zones,
			  "seconds", (json_int_t)(ms / 1000));
	if (!o)
		return NULL;
	uint64_t throttled = i->throttled_ms;
	if (i->active && i->throttled_since && now > i->throttled_since)
		throttled += (uint64_t)(now - i->throttled_since);
	/* Over a WAN (docs/replication.md): the cap, the time spent waiting
	 * for it, and zstd's part. */
	json_object_set_new(o, "max_bytes_per_s",
			    json_integer((json_int_t)cap));
	json_object_set_new(o, "throttled_ms",
			    json_integer((json_int_t)throttled));
	json_object_set_new(o, "compress",
			    json_string(i->compress ? "zstd" : "none"));
	json_object_set_new(o, "op_bytes",
			    json_integer((json_int_t)i->op_bytes));
	json_object_set_new(o, "compressed_frames",
			    json_integer((json_int_t)i->z_frames));
	json_object_set_new(o, "compressed_file_bytes",
			    json_integer((json_int_t)i->z_in));
	json_object_set_new(o, "compressed_bytes",
			    json_integer((json_int_t)i->z_out));
	json_object_set_new(o, "raw_frames",
			    json_integer((json_int_t)i->z_raw));
	return o;
}

/* How operations share round trips (docs/protocol.md, "pipeline"). */
static json_t *pipeline_json(struct replicd *d)
{
	uint64_t waits, waiters_max;
	pthread_mutex_lock(&d->repl.lock);
	waits = d->repl.ack_waits;
	waiters_max = d->repl.ack_waiters_max;
	pthread_mutex_unlock(&d->repl.lock);
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "ops_sent",
			 (json_int_t)d->ops_sent, "acks_received",
			 (json_int_t)d->acks_received, "in_flight_max",
			 (json_int_t)d->inflight_max, "ack_waits",
			 (json_int_t)waits, "ack_waiters_max",
			 (json_int_t)waiters_max, "acks_sent",
			 (json_int_t)d->acks.acks, "frames_acked",
			 (json_int_t)d->acks.acked_frames);
}

void replicd_publish(struct replicd *d, int64_t now, bool force)
{
	static char last[640];
	char key[640], topic[SKY_TOPIC_MAX];
	bool in_sync;

	int ar = replicd_alone_sync(&d->alone, replicd_track_alone(d->track));
	if (ar < 0)
		sky_log_ratelimited(&d->rl_apply, LOG_WARNING,
				    "cannot save %s: %s", d->alone.path,
				    strerror(-ar));
	describe(d, &in_sync);
	const char *state = replicd_target_name(d->target);
	snprintf(key, sizeof(key), "%s|%llu|%s|%d|%d|%d|%s|%llu|%llu|%d", state,
		 (unsigned long long)d->epoch, d->reason, replicd_peer_up(d),
		 in_sync, d->data, d->sync,
		 (unsigned long long)d->synced_generation,
		 (unsigned long long)d->generation_sent,
		 replicd_repl_degraded_waiting(&d->repl) > 0);
	if (!force && !d->changed && strcmp(key, last) == 0 &&
	    now < d->next_publish_ms)
		return;
	if (strcmp(key, last) != 0) {
		snprintf(last, sizeof(last), "%s", key);
		char status[300];
		snprintf(status, sizeof(status), "%s, %s%s%s", state, d->sync,
			 d->reason[0] ? ": " : "", d->reason);
		sky_notify_status(status);
	}
	d->changed = false;
	d->next_publish_ms = now + SKY_PUBLISH_PERIOD_MS;

	uint64_t pending, dropped;
	pthread_mutex_lock(&d->repl.lock);
	pending = 0;
	for (struct replicd_item *it = d->repl.head; it; it = it->next)
		pending++;
	dropped = d->repl.dropped;
	pthread_mutex_unlock(&d->repl.lock);
	pending += d->inflight_count;
	uint64_t sent =
		d->bytes_sent_done + (d->conn ? d->conn->bytes_sent : 0);

	json_t *obj = json_pack(
		"{s:s,s:s,s:s,s:I,s:s,s:s,s:b,s:s,s:b,s:I,s:I,s:s,s:s,s:I,s:I,"
		"s:I,s:I,s:I,s:I,s:b}",
		"module", d->cfg->module, "daemon", "replicd", "node",
		d->self->name, "epoch", (json_int_t)d->epoch, "state", state,
		"reason", d->reason, "peer_connected", replicd_peer_up(d),
		"mode",
		d->set->async	 ? "async"
		: d->set->commit ? "commit"
				 : "sync",
		"in_sync", in_sync, "bytes_sent", (json_int_t)sent,
		"ops_pending", (json_int_t)pending, "data",
		sky_replica_name(d->data), "sync", d->sync, "rejected_frames",
		(json_int_t)d->rejected_frames, "rejected_handshakes",
		(json_int_t)d->rejected_handshakes, "apply_errors",
		(json_int_t)d->apply_errors, "record_entries",
		(json_int_t)replicd_track_count(d->track), "changes_not_sent",
		(json_int_t)dropped, "record_damaged",
		(json_int_t)replicd_track_damaged(d->track), "record_complete",
		replicd_track_complete(d->track));
	if (obj) {
		json_object_set_new(obj, "resync", resync_json(d, now));
		json_object_set_new(obj, "verify", replicd_verify_json(d));
		/* Generations (bus.h): what heartbeatd decides with. */
		bool complete = d->target == RT_SECONDARY &&
				d->data == SKY_REPLICA_UPTODATE;
		json_object_set_new(
			obj, "generation",
			json_integer(complete ? (json_int_t)d->synced_generation
					      : 0));
		json_object_set_new(
			obj, "generation_sent",
			json_integer((json_int_t)d->generation_sent));
		/* Primary: changes go to the peer as they are made (a
		 * session that is comparing records, or diverged, is up but
		 * does not receive them). */
		json_object_set_new(
			obj, "peer_receiving",
			json_boolean(d->target == RT_PRIMARY &&
				     replicd_repl_connected(&d->repl)));
		/* What each side did without the other (divergence). */
		struct replicd_alone_stats own = replicd_alone_get(&d->alone);
		json_object_set_new(obj, "alone_changes",
				    replicd_alone_json(&own));
		json_object_set_new(obj, "peer_alone_changes",
				    replicd_alone_json(&d->peer_alone));
		json_object_set_new(obj, "pipeline", pipeline_json(d));
		json_object_set_new(obj, "backup", replicd_backup_json(d));
		/* Secondary: sessions refused for an older epoch, and those
		 * of a primary that sends none (epoch.h). */
		json_object_set_new(obj, "epoch_refused",
				    json_integer((json_int_t)d->epoch_refused));
		json_object_set_new(
			obj, "epoch_unfenced",
			json_integer((json_int_t)d->epoch_unfenced));
		json_object_set_new(
			obj, "writers_waiting",
			json_integer((json_int_t)replicd_repl_degraded_waiting(
				&d->repl)));
	}
	if (obj && sky_bus_topic(topic, sizeof(topic), d->cfg->module,
				 "replicd", SKY_KIND_ACTUAL) == 0)
		sky_bus_publish(d->pub, topic, obj);
	/* <run>/<module>/replicd.json, as vipd and checkd keep theirs: the
	 * whole object for operators and tests (heartbeatd keeps only the
	 * fields it decides with). */
	if (obj) {
		char dir[PATH_MAX + 64];
		snprintf(dir, sizeof(dir), "%s/%s", d->run_dir, d->cfg->module);
		sky_bus_write_state_file(dir, "replicd", obj);
	}
	json_decref(obj);
}
