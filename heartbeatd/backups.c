/*
 * backups.c - backupd's state files, summarised for the status (see
 * backups.h).
 */
#include "backups.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define REASON_MAX   240
#define SNAPSHOT_MAX 64
#define TIME_MAX     32

static bool get_int(const json_t *o, const char *key, int64_t min, int64_t max,
		    int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return false;
	json_int_t i = json_integer_value(v);
	if (i < min || i > max)
		return false;
	*out = (int64_t)i;
	return true;
}

/* A string made safe to show: bounded, control characters replaced. */
static json_t *safe_string(const json_t *v, size_t max)
{
	char buf[REASON_MAX + 1];
	const char *s = json_string_value(v);
	size_t n = 0;

	if (!s)
		return json_null();
	if (max > REASON_MAX)
		max = REASON_MAX;
	for (; n < max && s[n]; n++)
		buf[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f ||
			  (unsigned char)s[n] >= 0x80)
				 ? '?'
				 : s[n];
	buf[n] = '\0';
	return json_string(buf);
}

/* One run object, checked; NULL if it is not one. */
static json_t *run_summary(const json_t *run, bool success)
{
	int64_t time_ms, duration_ms = 0, bytes_read = 0, bytes_up = 0;

	if (!json_is_object(run) ||
	    !get_int(run, "time_ms", 0, INT64_MAX / 2, &time_ms))
		return NULL;
	json_t *o =
		json_pack("{s:o,s:I}", "time",
			  safe_string(json_object_get(run, "time"), TIME_MAX),
			  "time_ms", (json_int_t)time_ms);
	if (!o)
		return NULL;
	if (success) {
		get_int(run, "duration_ms", 0, INT64_MAX / 2, &duration_ms);
		get_int(run, "bytes_read", 0, INT64_MAX, &bytes_read);
		get_int(run, "bytes_uploaded", 0, INT64_MAX, &bytes_up);
		json_object_set_new(
			o, "snapshot",
			safe_string(json_object_get(run, "snapshot"),
				    SNAPSHOT_MAX));
		json_object_set_new(o, "duration_ms",
				    json_integer((json_int_t)duration_ms));
		json_object_set_new(o, "bytes_read",
				    json_integer((json_int_t)bytes_read));
		json_object_set_new(o, "bytes_uploaded",
				    json_integer((json_int_t)bytes_up));
	} else {
		json_object_set_new(o, "reason",
				    safe_string(json_object_get(run, "reason"),
						REASON_MAX));
	}
	return o;
}

int node_backup_parse(const char *buf, size_t len, int64_t wall_now_ms,
		      json_t **out)
{
	json_error_t jerr;
	int64_t max_age_s = 0;

	if (len > BACKUPS_FILE_MAX)
		return -EBADMSG;
	json_t *st = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *target = json_string_value(json_object_get(st, "target"));
	if (!json_is_object(st) || !target ||
	    !sky_name_valid(target, strlen(target))) {
		json_decref(st);
		return -EBADMSG;
	}
	get_int(st, "max_age_s", 0, INT64_MAX / 2000, &max_age_s);
	json_t *ok = run_summary(json_object_get(st, "last_success"), true);
	json_t *bad = run_summary(json_object_get(st, "last_failure"), false);
	int64_t ok_ms =
		ok ? json_integer_value(json_object_get(ok, "time_ms")) : 0;
	int64_t bad_ms =
		bad ? json_integer_value(json_object_get(bad, "time_ms")) : 0;
	if (bad && ok && bad_ms < ok_ms) {
		json_decref(bad); /* an old failure, since repaired */
		bad = NULL;
	}
	int64_t age_s =
		ok && wall_now_ms > ok_ms ? (wall_now_ms - ok_ms) / 1000 : 0;
	bool stale = !ok || (max_age_s > 0 && age_s > max_age_s);
	*out = json_pack("{s:s,s:o,s:o,s:I,s:o,s:b}", "target", target,
			 "last_success", ok ? ok : json_null(), "last_failure",
			 bad ? bad : json_null(), "max_age_s",
			 (json_int_t)max_age_s, "age_s",
			 ok ? json_integer((json_int_t)age_s) : json_null(),
			 "stale", stale);
	json_decref(st);
	return *out ? 0 : -ENOMEM;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

json_t *node_backups_read(const char *dir, int64_t wall_now_ms)
{
	json_t *all = json_array();
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, by_name);
	size_t shown = 0;

	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		char path[4096];
		_cleanup_free_ char *text = NULL;
		size_t text_len = 0;
		json_t *one = NULL;

		if (len > 5 && strcmp(name + len - 5, ".json") == 0 &&
		    sky_name_valid(name, len - 5) &&
		    shown < BACKUPS_TARGETS_MAX &&
		    snprintf(path, sizeof(path), "%s/%s", dir, name) <
			    (int)sizeof(path)) {
			shown++;
			if (sky_read_file(path, BACKUPS_FILE_MAX, &text,
					  &text_len) < 0 ||
			    node_backup_parse(text, text_len, wall_now_ms,
					      &one) < 0)
				one = json_pack("{s:s#,s:s,s:b}", "target",
						name, (int)(len - 5), "error",
						"unreadable state file",
						"stale", 1);
			if (one)
				json_array_append_new(all, one);
		}
		free(names[i]);
	}
	free(names);
	return all;
}
