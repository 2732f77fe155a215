/*
 * status.c - the state file of each target (status.h).
 */
#include "status.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

json_t *bk_run_json(bool ok, int64_t start_wall_ms, int64_t duration_ms,
		    const struct bk_snapshot *snap, const char *reason)
{
	char when[32];
	sky_format_utc(start_wall_ms, when, sizeof(when));
	json_t *j = json_pack("{s:b,s:s,s:I,s:I,s:s}", "ok", ok, "time", when,
			      "time_ms", (json_int_t)start_wall_ms,
			      "duration_ms", (json_int_t)duration_ms, "reason",
			      reason ? reason : "");
	if (!j)
		return NULL;
	const struct bk_stats *s = snap ? &snap->stats : NULL;
	json_object_set_new(j, "snapshot",
			    snap ? json_string(snap->id) : json_null());
#define F(name)                                                                \
	json_object_set_new(j, #name,                                          \
			    json_integer(s ? (json_int_t)s->name : 0));
	F(bytes_read)
	F(bytes_new)
	F(bytes_uploaded)
	F(files)
	F(chunks_new)
	F(chunks_reused)
	F(files_unlisted_changed)
	F(files_skipped)
#undef F
	return j;
}

int bk_status_write(const char *state_dir, const char *module, const char *node,
		    const char *target, uint64_t max_age_s, json_t *run)
{
	char dir[PATH_MAX], path[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s/backup", state_dir) >=
		    (int)sizeof(dir) ||
	    snprintf(path, sizeof(path), "%s/%s.json", dir, target) >=
		    (int)sizeof(path))
		return -ENAMETOOLONG;
	int r = sky_mkdir_p(dir, 0750);
	if (r < 0)
		return r;
	json_error_t jerr;
	json_t *st = json_load_file(path, 0, &jerr);
	if (!json_is_object(st)) {
		json_decref(st);
		st = json_object();
		if (!st)
			return -ENOMEM;
	}
	json_object_set_new(st, "target", json_string(target));
	json_object_set_new(st, "module", json_string(module));
	json_object_set_new(st, "node", json_string(node));
	json_object_set_new(st, "max_age_s",
			    json_integer((json_int_t)max_age_s));
	bool ok = json_is_true(json_object_get(run, "ok"));
	json_object_set(st, "last_run", run);
	json_object_set(st, ok ? "last_success" : "last_failure", run);
	if (!json_object_get(st, "last_success"))
		json_object_set_new(st, "last_success", json_null());
	if (!json_object_get(st, "last_failure"))
		json_object_set_new(st, "last_failure", json_null());
	char *text = json_dumps(st, JSON_SORT_KEYS | JSON_INDENT(1));
	json_decref(st);
	if (!text)
		return -ENOMEM;
	r = sky_write_file_atomic(path, text, strlen(text), 0640);
	free(text);
	return r;
}
