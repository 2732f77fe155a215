/*
 * render_data.c - the lines of `skyctl status` about the copy of the data:
 * what replicd says of it and a resync's progress, the last verify and the
 * differences it found, and each backup target's last success or failure.
 * A stale backup or a failed one is said loudly. Read field by field, like
 * the rest of the status.
 */
#include "render_part.h"
#include "util.h"

/* Bytes as an operator reads them: "512 B", "3.2 MiB", "1.5 GiB". */
static void bytes_text(int64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < SKY_ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%lld B", (long long)n);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
}

/*
 * A "backup now" from the console, the API or the control socket waits in
 * heartbeatd's request file until systemd starts skyha-backup@MODULE.service
 * (docs/backup.md): say so, or an operator who pressed the button sees
 * nothing change until the run ends.
 */
static void render_backup_requested(FILE *out, const json_t *status)
{
	const json_t *backup = json_object_get(status, "backup");
	char module[NAME_TEXT_MAX];

	if (!json_is_true(json_object_get(backup, "requested")))
		return;
	fprintf(out,
		"backup:    now requested; systemd starts "
		"skyha-backup@%s.service\n",
		field(status, "module", module, sizeof(module)));
}

/*
 * Each backup target of this node: "backups:   local: 12 min ago, snapshot
 * 3fa2c1, 2.5 MiB read, 310.0 KiB up, in 0.2 s". A last success older than
 * the target's max_age, or none, says so loudly; a failure after it too.
 */
void skyctl_render_backups(FILE *out, const json_t *status)
{
	const json_t *all = json_object_get(status, "backups");
	size_t count = json_array_size(all);

	render_backup_requested(out, status);
	if (!json_is_array(all) || count == 0)
		return;
	for (size_t i = 0; i < count && i < NETWORKS_SHOWN_MAX; i++) {
		const json_t *b = json_array_get(all, i);
		const json_t *ok = json_object_get(b, "last_success");
		const json_t *bad = json_object_get(b, "last_failure");
		char name[NAME_TEXT_MAX], dur[DURATION_TEXT_MAX],
			took[DURATION_TEXT_MAX], snap[NAME_TEXT_MAX],
			why[REASON_TEXT_MAX], rd[32], up[32];
		int64_t age_s, v;

		fprintf(out, "%s%s:", i ? "           " : "backups:   ",
			field(b, "target", name, sizeof(name)));
		if (has_text(b, "error")) {
			fprintf(out, " %s\n",
				field(b, "error", why, sizeof(why)));
			continue;
		}
		if (!json_is_object(ok)) {
			fputs(" NO SUCCESSFUL BACKUP yet", out);
		} else {
			age_s = get_int(b, "age_s", &v) ? v : -1;
			skyctl_format_duration(age_s < 0 ? -1 : age_s * 1000,
					       dur, sizeof(dur));
			skyctl_format_duration(
				get_int(ok, "duration_ms", &v) ? v : -1, took,
				sizeof(took));
			bytes_text(get_int(ok, "bytes_read", &v) ? v : 0, rd,
				   sizeof(rd));
			bytes_text(get_int(ok, "bytes_uploaded", &v) ? v : 0,
				   up, sizeof(up));
			fprintf(out,
				" %s%s ago, snapshot %.16s, %s read, %s up, "
				"in %s",
				json_is_true(json_object_get(b, "stale"))
					? "LAST SUCCESS "
					: "",
				dur, field(ok, "snapshot", snap, sizeof(snap)),
				rd, up, took);
			if (json_is_true(json_object_get(b, "stale")) &&
			    get_int(b, "max_age_s", &v) && v > 0) {
				skyctl_format_duration(v * 1000, dur,
						       sizeof(dur));
				fprintf(out, " (older than max_age %s)", dur);
			}
		}
		if (json_is_object(bad))
			fprintf(out, "; FAILED since: %s",
				field(bad, "reason", why, sizeof(why)));
		fputc('\n', out);
	}
}

/*
 * skyctl verify (replicd/verify.h): a running verify's progress, then the
 * last result and the differences it listed, one a line.
 */
static void render_verify(FILE *out, const json_t *replicd)
{
	const json_t *v = json_object_get(replicd, "verify");
	const json_t *last = json_object_get(v, "last");
	char a[INT_TEXT_MAX], b[INT_TEXT_MAX], c[INT_TEXT_MAX];
	char text[REASON_TEXT_MAX], dir[REASON_TEXT_MAX];
	if (!json_is_object(v))
		return;
	if (json_is_true(json_object_get(v, "running")))
		fprintf(out,
			"verify: running (%s): %s of %s bytes compared, %s "
			"difference(s) so far\n",
			field(v, "stage", text, sizeof(text)),
			int_text(v, "bytes_compared", a, sizeof(a)),
			int_text(v, "bytes_total", b, sizeof(b)),
			int_text(v, "differences_so_far", c, sizeof(c)));
	if (json_is_true(json_object_get(v, "resync_full_pending")))
		fprintf(out, "verify: resync --full asked: the next session "
			     "compares both copies\n");
	if (!json_is_object(last))
		return;
	fprintf(out, "last verify: %s, %s bytes compared in %s ms",
		field(last, "result", text, sizeof(text)),
		int_text(last, "bytes_compared", a, sizeof(a)),
		int_text(last, "duration_ms", b, sizeof(b)));
	fprintf(out, ": %s difference(s), %s path(s) changed during verify\n",
		int_text(last, "differences", a, sizeof(a)),
		int_text(last, "changed_during_verify", b, sizeof(b)));
	const json_t *list = json_object_get(last, "differences_listed");
	size_t i;
	const json_t *e;
	json_array_foreach(list, i, e)
	{
		fprintf(out, "  differs: %s/",
			field(e, "directory", dir, sizeof(dir)));
		fprintf(out, "%s: %s", field(e, "path", text, sizeof(text)),
			field(e, "what", dir, sizeof(dir)));
		const json_t *zones = json_object_get(e, "zones");
		size_t k;
		const json_t *z;
		json_array_foreach(zones, k, z)
		{
			json_t *f = json_array_get(z, 0),
			       *n = json_array_get(z, 1);
			if (!json_is_integer(f) || !json_is_integer(n))
				continue;
			fprintf(out, "%s zone%s %lld", k ? "," : " (64 KiB",
				json_integer_value(n) > 1 ? "s" : "",
				(long long)json_integer_value(f));
			if (json_integer_value(n) > 1)
				fprintf(out, "-%lld",
					(long long)(json_integer_value(f) +
						    json_integer_value(n) - 1));
		}
		fprintf(out, "%s\n", json_array_size(zones) ? ")" : "");
	}
}

/*
 * What replicd says of the copy, and a resync's progress:
 * "replication: data inconsistent, resyncing: 1048576 of 4194304 bytes,
 * 3145728 left, 1048576 B/s, ETA 3 s". Only when replicd reported it.
 */
void skyctl_render_replication(FILE *out, const json_t *status)
{
	const json_t *r = json_object_get(json_object_get(status, "actuators"),
					  "replicd");
	char data[WORD_TEXT_MAX], sync[WORD_TEXT_MAX], a[INT_TEXT_MAX],
		b[INT_TEXT_MAX], c[INT_TEXT_MAX], d[INT_TEXT_MAX];

	if (!json_is_object(r) || !has_text(r, "data"))
		return;
	fprintf(out, "replication: data %s, %s",
		field(r, "data", data, sizeof(data)),
		field(r, "sync", sync, sizeof(sync)));
	const json_t *rs = json_object_get(r, "resync");
	if (json_is_object(rs)) {
		bool active = json_is_true(json_object_get(rs, "active"));
		fprintf(out, "%s %s of %s bytes",
			active ? ":" : "; last resync",
			int_text(rs, "bytes_done", a, sizeof(a)),
			int_text(rs, "bytes_total", b, sizeof(b)));
		if (active && json_object_get(rs, "rate_bps"))
			fprintf(out, ", %s left, %s B/s, ETA %s s",
				int_text(rs, "bytes_left", a, sizeof(a)),
				int_text(rs, "rate_bps", c, sizeof(c)),
				int_text(rs, "eta_s", d, sizeof(d)));
		else if (active)
			fprintf(out, ", %s left",
				int_text(rs, "bytes_left", a, sizeof(a)));
		else if (json_object_get(rs, "wire_bytes"))
			fprintf(out, " (%s on the wire)",
				int_text(rs, "wire_bytes", c, sizeof(c)));
		/* Over a WAN: the cap and compression, when in use. */
		const json_t *cap = json_object_get(rs, "max_bytes_per_s");
		if (json_is_integer(cap) && json_integer_value(cap) > 0)
			fprintf(out, ", capped at %s B/s",
				int_text(rs, "max_bytes_per_s", a, sizeof(a)));
		const char *z =
			json_string_value(json_object_get(rs, "compress"));
		if (z && strcmp(z, "zstd") == 0)
			fprintf(out, ", zstd: %s file bytes in %s",
				int_text(rs, "compressed_file_bytes", a,
					 sizeof(a)),
				int_text(rs, "compressed_bytes", b, sizeof(b)));
	}
	fputc('\n', out);
	render_verify(out, r);
}
