/*
 * verify.c - `skyctl verify` and `skyctl resync --full` in replicd's main
 * loop (verify.h). Main thread only.
 */
#include "verify.h"

#include "daemon.h"
#include "log.h"
#include "verify_diff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Bytes of paths (and their fields) published with the last result. */
#define VERIFY_LIST_BYTES 4096

enum verify_stage { VS_IDLE, VS_HASHES, VS_COMPARING };

struct replicd_verify {
	uint64_t last_id, last_full_id;
	int64_t start_wall; /* requests older than this replicd are done */
	bool full_pending;
	/* primary: the verify running */
	enum verify_stage stage;
	uint64_t id;
	uint64_t link_gen;
	struct replicd_manifest *mf;
	struct replicd_resync *rs;
	struct replicd_vdiff *vd;
	struct sky_ratecap cap;
	int64_t started_ms, started_wall, throttled_since;
	uint64_t bytes_total, bytes_compared, entries, throttled_ms;
	json_t *last; /* the last verify's result */
	/* secondary: describing this copy for the primary's verify */
	struct replicd_manifest_walk *walk;
	struct replicd_conn *walk_conn;
	struct sky_ratecap walk_cap;
};

int replicd_verify_new(struct replicd_verify **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->start_wall = sky_wall_ms();
	return 0;
}

static void stop_run(struct replicd_verify *v)
{
	replicd_resync_free(&v->rs);
	replicd_vdiff_free(&v->vd);
	replicd_manifest_free(&v->mf);
	v->stage = VS_IDLE;
}

void replicd_verify_free(struct replicd_verify **vp)
{
	struct replicd_verify *v = *vp;
	if (!v)
		return;
	stop_run(v);
	replicd_manifest_walk_free(&v->walk);
	json_decref(v->last);
	free(v);
	*vp = NULL;
}

/* The bytes one step may read: under a cap about a tick's worth. */
static size_t step_bytes(uint32_t cap)
{
	if (!cap)
		return 4u << 20;
	size_t b = cap / (1000 / REPLICD_TICK_MS);
	return b < REPLICD_ZONE_SIZE ? REPLICD_ZONE_SIZE : b;
}

static void set_last(struct replicd *d, const char *result)
{
	struct replicd_verify *v = d->verify;
	struct replicd_vdiff_result res = {0};
	int64_t now = sky_now_ms();
	if (v->vd)
		replicd_vdiff_result(v->vd, &res);
	json_t *list = json_array();
	size_t text = 0, shown = 0;
	for (size_t i = 0; i < res.listed; i++) {
		const struct replicd_vdiff_entry *e = &res.list[i];
		char what[160];
		json_t *zones = json_array();
		for (size_t k = 0; k < e->nranges; k++)
			json_array_append_new(
				zones,
				json_pack("[I,I]", (json_int_t)e->first[k],
					  (json_int_t)e->count[k]));
		/* NULL for a path that is not UTF-8: in the journal only. */
		json_t *one = json_pack(
			"{s:s,s:s,s:s,s:o,s:b}", "directory",
			d->set->dirs[e->dir], "path", e->path, "what",
			replicd_vdiff_what_text(e->what, what, sizeof(what)),
			"zones", zones, "more_zones", e->more_ranges);
		/* The bus carries one message of 64 KiB at most, and the
		 * status a few KiB per daemon: the journal has them all. */
		size_t n = one ? json_dumpb(one, NULL, 0, JSON_COMPACT) : 0;
		if (!one || text + n > VERIFY_LIST_BYTES) {
			json_decref(one);
			continue;
		}
		text += n;
		json_array_append_new(list, one);
		shown++;
	}
	json_decref(v->last);
	v->last = json_pack("{s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:I,s:o}",
			    "id", (json_int_t)v->id, "result", result,
			    "started_at", (json_int_t)v->started_wall,
			    "ended_at", (json_int_t)sky_wall_ms(),
			    "duration_ms", (json_int_t)(now - v->started_ms),
			    "bytes_compared", (json_int_t)v->bytes_compared,
			    "entries", (json_int_t)v->entries, "differences",
			    (json_int_t)res.differences,
			    "changed_during_verify", (json_int_t)res.changed,
			    "too_many_live_changes", res.notes_overflow,
			    "throttled_ms", (json_int_t)v->throttled_ms,
			    "differences_listed", list);
	if (v->last)
		json_object_set_new(
			v->last, "listed_in_journal_only",
			json_integer((json_int_t)(res.listed - shown)));
	d->changed = true;
}

static void abort_run(struct replicd *d, const char *why)
{
	struct replicd_verify *v = d->verify;
	char text[160];
	snprintf(text, sizeof(text), "aborted: %s", why);
	log_warning("verify %llu %s", (unsigned long long)v->id, text);
	set_last(d, text);
	stop_run(v);
}

static uint64_t link_gen(struct replicd *d)
{
	pthread_mutex_lock(&d->repl.lock);
	uint64_t g = d->repl.link_gen;
	pthread_mutex_unlock(&d->repl.lock);
	return g;
}

/* Primary: start a verify (the operator's request id). */
static void start(struct replicd *d, uint64_t id)
{
	struct replicd_verify *v = d->verify;
	if (v->stage != VS_IDLE) {
		log_notice("verify %llu: verify %llu is running already",
			   (unsigned long long)id, (unsigned long long)v->id);
		return;
	}
	v->id = id;
	v->started_ms = sky_now_ms();
	v->started_wall = sky_wall_ms();
	v->bytes_total = v->bytes_compared = v->entries = 0;
	v->throttled_ms = 0;
	v->throttled_since = 0;
	const char *refuse =
		d->target != RT_PRIMARY ? "this node is not primary"
		: !replicd_peer_up(d)	? "the peer is not connected"
		: d->psync != PS_INSYNC
			? "the peer is not in sync (a resync runs, "
			  "or the copies diverged)"
			: NULL;
	if (refuse) {
		log_warning("verify %llu refused: %s", (unsigned long long)id,
			    refuse);
		char text[160];
		snprintf(text, sizeof(text), "refused: %s", refuse);
		set_last(d, text);
		return;
	}
	if (replicd_manifest_new(&v->mf) < 0 ||
	    replicd_vdiff_new(&v->vd, v->mf) < 0) {
		abort_run(d, "out of memory");
		return;
	}
	struct replicd_op op = {.type = ROP_VERIFY};
	if (replicd_send_op(d->conn, &op) < 0) {
		abort_run(d, "cannot send the request");
		return;
	}
	v->link_gen = link_gen(d);
	v->stage = VS_HASHES;
	sky_ratecap_init(&v->cap, d->set->verify_max_bytes_per_s, 0,
			 sky_now_ms());
	log_notice("verify %llu starts: comparing this copy with %s's%s",
		   (unsigned long long)id, d->peer->name,
		   d->set->verify_max_bytes_per_s ? " (capped)" : "");
	d->changed = true;
}

bool replicd_verify_take_full(struct replicd *d)
{
	struct replicd_verify *v = d->verify;
	if (!v || !v->full_pending)
		return false;
	v->full_pending = false;
	log_notice("resync --full: comparing both copies by their hashes, "
		   "whatever the change records say");
	return true;
}

/* A request id: an integer, newer than this replicd and the last one. */
static uint64_t request_id(const json_t *msg, const char *key,
			   const struct replicd_verify *v, uint64_t last)
{
	const json_t *j = json_object_get(msg, key);
	if (!json_is_integer(j) || json_integer_value(j) <= 0)
		return 0;
	uint64_t id = (uint64_t)json_integer_value(j);
	if (id == last || (int64_t)id < v->start_wall)
		return 0;
	return id;
}

void replicd_verify_desired(struct replicd *d, const json_t *msg)
{
	struct replicd_verify *v = d->verify;
	if (!v || d->target != RT_PRIMARY)
		return;
	uint64_t id = request_id(msg, "verify", v, v->last_id);
	if (id) {
		v->last_id = id;
		start(d, id);
	}
	id = request_id(msg, "resync_full", v, v->last_full_id);
	if (id) {
		v->last_full_id = id;
		v->full_pending = true;
		if (v->stage != VS_IDLE)
			abort_run(d, "resync --full requested");
		if (replicd_peer_up(d)) {
			log_notice("operator: resync --full: ending the "
				   "session with %s to compare both copies",
				   d->peer->name);
			replicd_drop_conn(d, &d->conn,
					  "operator: resync --full");
		} else {
			log_notice("operator: resync --full: the next "
				   "session compares both copies");
		}
		d->changed = true;
	}
}

void replicd_verify_note_item(struct replicd *d, const uint8_t *buf, size_t len)
{
	static struct replicd_op_store store;
	struct replicd_verify *v = d->verify;
	struct replicd_op op;
	if (!v || v->stage == VS_IDLE || !v->vd)
		return;
	if (replicd_op_decode(buf, len, &op, &store) == 0)
		replicd_vdiff_note(v->vd, &op);
}

int replicd_verify_on_frame(struct replicd *d, const struct replicd_op *op)
{
	struct replicd_verify *v = d->verify;
	if (!v || v->stage != VS_HASHES)
		return 0; /* a verify aborted meanwhile: late frames */
	if (op->dir >= d->mount_count && op->type == ROP_VERIFY_HASHES)
		return -EPROTO;
	if (op->type == ROP_VERIFY_HASHES) {
		struct replicd_op h = *op;
		h.type = ROP_HASHES;
		int r = replicd_manifest_add(v->mf, &h);
		if (r == -E2BIG) {
			abort_run(d, "the secondary's manifest is too large "
				     "to hold");
			return 0;
		}
		if (r < 0)
			return r == -ENOMEM ? r : -EPROTO;
		if (S_ISREG(op->mode) && op->length == 0) {
			v->bytes_total += op->offset;
			v->entries++;
		} else if (op->length == 0) {
			v->entries++;
		}
		return 0;
	}
	/* ROP_VERIFY_END: the manifest is whole; compare. */
	int roots[REPLICD_MAX_DIRS];
	replicd_dir_roots(d, roots);
	if (replicd_resync_new_compare(&v->rs, v->mf, d->mount_count, roots) <
	    0) {
		abort_run(d, "cannot plan the comparison");
		return 0;
	}
	replicd_resync_set_exclude(v->rs, &d->set->exclude);
	replicd_resync_set_verify(v->rs);
	v->stage = VS_COMPARING;
	d->changed = true;
	return 0;
}

/* A path as a log line may show it: control characters as '?'. */
static const char *printable(const char *s, char *buf, size_t size)
{
	size_t i = 0;
	for (; s[i] && i + 1 < size; i++)
		buf[i] =
			(unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/* Primary: one step of the comparison, under the cap. */
static void compare_step(struct replicd *d, int64_t now)
{
	struct replicd_verify *v = d->verify;
	if (!sky_ratecap_ready(&v->cap, now)) {
		if (!v->throttled_since)
			v->throttled_since = now;
		return;
	}
	if (v->throttled_since) {
		v->throttled_ms += (uint64_t)(now - v->throttled_since);
		v->throttled_since = 0;
	}
	struct replicd_resync_stats st;
	uint64_t before = v->bytes_compared;
	/* Reading costs a quarter of the budget (resync.c). */
	size_t budget = step_bytes(d->set->verify_max_bytes_per_s) / 4;
	pthread_mutex_lock(&d->repl.order);
	int r = replicd_resync_step(v->rs, budget, replicd_vdiff_emit, v->vd);
	pthread_mutex_unlock(&d->repl.order);
	replicd_resync_stats(v->rs, &st);
	struct replicd_vdiff_result res;
	replicd_vdiff_result(v->vd, &res);
	v->bytes_compared = st.compared + res.copy_bytes;
	sky_ratecap_charge(&v->cap, v->bytes_compared - before);
	if (r < 0) {
		char why[96];
		snprintf(why, sizeof(why), "reading this copy: %s",
			 strerror(-r));
		abort_run(d, why);
		return;
	}
	if (r == 1)
		return;
	/* Done. Operations queued by the FUSE threads and not yet taken
	 * by the loop changed what was read too: note them. */
	pthread_mutex_lock(&d->repl.lock);
	for (struct replicd_item *it = d->repl.head; it; it = it->next) {
		struct replicd_op op;
		static struct replicd_op_store store;
		if (replicd_op_decode(it->buf, it->len, &op, &store) == 0)
			replicd_vdiff_note(v->vd, &op);
	}
	pthread_mutex_unlock(&d->repl.lock);
	replicd_vdiff_finish(v->vd);
	replicd_vdiff_result(v->vd, &res);
	log_notice("verify %llu done in %.1f s: %llu bytes compared, %llu "
		   "difference(s), %llu path(s) changed during the verify%s",
		   (unsigned long long)v->id,
		   (double)(sky_now_ms() - v->started_ms) / 1000.0,
		   (unsigned long long)v->bytes_compared,
		   (unsigned long long)res.differences,
		   (unsigned long long)res.changed,
		   res.notes_overflow ? " (too many live changes to tell "
					"them apart: run it again)"
				      : "");
	for (size_t i = 0; i < res.listed; i++) {
		const struct replicd_vdiff_entry *e = &res.list[i];
		char what[160], path[REPLICD_PATH_MAX + 1], zones[256] = "";
		size_t w = 0;
		for (size_t k = 0; k < e->nranges && w < sizeof(zones); k++) {
			int n = snprintf(zones + w, sizeof(zones) - w, "%s%llu",
					 k ? ", " : " (64 KiB zones ",
					 (unsigned long long)e->first[k]);
			if (n > 0 && e->count[k] > 1 &&
			    (size_t)n < sizeof(zones) - w)
				n += snprintf(
					zones + w + (size_t)n,
					sizeof(zones) - w - (size_t)n, "-%llu",
					(unsigned long long)(e->first[k] +
							     e->count[k] - 1));
			w += n > 0 ? (size_t)n : 0;
		}
		if (e->nranges && w + 6 < sizeof(zones))
			snprintf(zones + w, sizeof(zones) - w, "%s)",
				 e->more_ranges ? ", ..." : "");
		log_warning(
			"verify %llu: %s/%s differs: %s%s",
			(unsigned long long)v->id, d->set->dirs[e->dir],
			printable(e->path, path, sizeof(path)),
			replicd_vdiff_what_text(e->what, what, sizeof(what)),
			zones);
	}
	set_last(d, "done");
	stop_run(v);
}

/* Secondary: send one manifest operation as a verify's. */
static int send_hashes(void *ctx, struct replicd_op *op)
{
	static uint8_t buf[REPLICD_OP_MAX];
	struct replicd *d = ctx;
	op->type = ROP_VERIFY_HASHES;
	int n = replicd_op_encode(op, buf, sizeof(buf));
	if (n > 0)
		sky_ratecap_charge(&d->verify->walk_cap, (uint64_t)n);
	return n < 0 ? n : replicd_conn_put_sealed(d->conn, buf, (size_t)n);
}

static void walk_step(struct replicd *d, int64_t now)
{
	struct replicd_verify *v = d->verify;
	if (!replicd_peer_up(d) || d->conn != v->walk_conn ||
	    d->target != RT_SECONDARY) {
		replicd_manifest_walk_free(&v->walk);
		return;
	}
	if (replicd_conn_wants_write(d->conn) ||
	    !sky_ratecap_ready(&v->walk_cap, now))
		return;
	replicd_applier_drain(&d->applier); /* hash what is on disk */
	/* The hashes sent stand for what was read: charge the reading. */
	size_t budget = step_bytes(d->set->verify_max_bytes_per_s);
	int r = replicd_manifest_walk_step(v->walk, budget, send_hashes, d);
	if (d->set->verify_max_bytes_per_s)
		sky_ratecap_charge(&v->walk_cap, budget);
	if (r == 0) {
		struct replicd_op end = {.type = ROP_VERIFY_END};
		replicd_manifest_walk_free(&v->walk);
		r = replicd_send_op(d->conn, &end);
		log_notice("described this copy for %s's verify",
			   d->peer->name);
	}
	if (r < 0) {
		log_error("cannot describe this copy for a verify: %s",
			  strerror(-r));
		replicd_manifest_walk_free(&v->walk);
		replicd_drop_conn(d, &d->conn, "verify manifest failed");
	}
}

int replicd_verify_on_request(struct replicd *d)
{
	struct replicd_verify *v = d->verify;
	int roots[REPLICD_MAX_DIRS];
	if (!v)
		return -EPROTO;
	if (d->target != RT_SECONDARY)
		return -EROFS;
	replicd_manifest_walk_free(&v->walk);
	replicd_dir_roots(d, roots);
	if (replicd_manifest_walk_new(&v->walk, roots, d->mount_count) < 0)
		return -ENOMEM;
	replicd_manifest_walk_set_exclude(v->walk, &d->set->exclude);
	v->walk_conn = d->conn;
	sky_ratecap_init(&v->walk_cap, d->set->verify_max_bytes_per_s, 0,
			 sky_now_ms());
	log_notice("primary %s verifies: describing this copy by its hashes "
		   "(nothing changes)",
		   d->peer->name);
	return 0;
}

void replicd_verify_pump(struct replicd *d, int64_t now)
{
	struct replicd_verify *v = d->verify;
	if (!v)
		return;
	if (v->walk)
		walk_step(d, now);
	if (v->stage == VS_IDLE)
		return;
	if (d->target != RT_PRIMARY)
		abort_run(d, "this node is no longer primary");
	else if (!replicd_peer_up(d) || link_gen(d) != v->link_gen)
		abort_run(d, "the session with the peer ended");
	else if (d->psync != PS_INSYNC)
		abort_run(d, "the peer is no longer in sync");
	else if (v->stage == VS_COMPARING)
		compare_step(d, now);
}

json_t *replicd_verify_json(const struct replicd *d)
{
	const struct replicd_verify *v = d->verify;
	if (!v)
		return json_null();
	json_t *o = json_pack("{s:b,s:s,s:I,s:I,s:I}", "running",
			      v->stage != VS_IDLE, "stage",
			      v->stage == VS_HASHES	 ? "hashes"
			      : v->stage == VS_COMPARING ? "comparing"
							 : "idle",
			      "bytes_compared", (json_int_t)v->bytes_compared,
			      "bytes_total", (json_int_t)v->bytes_total,
			      "max_bytes_per_s",
			      (json_int_t)d->set->verify_max_bytes_per_s);
	if (o && v->stage != VS_IDLE && v->vd) {
		struct replicd_vdiff_result res;
		replicd_vdiff_result(v->vd, &res);
		json_object_set_new(o, "id", json_integer((json_int_t)v->id));
		json_object_set_new(o, "differences_so_far",
				    json_integer((json_int_t)res.differences));
	}
	if (o)
		json_object_set_new(o, "last",
				    v->last ? json_incref(v->last)
					    : json_null());
	if (o)
		json_object_set_new(o, "resync_full_pending",
				    json_boolean(v->full_pending));
	return o;
}
