/*
 * snapshot.c - snapshot manifests as JSON (snapshot.h).
 */
#include "snapshot.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#define STAT_FIELDS(X)                                                         \
	X(files)                                                               \
	X(bytes_read)                                                          \
	X(bytes_new)                                                           \
	X(bytes_uploaded)                                                      \
	X(chunks_new)                                                          \
	X(chunks_reused)                                                       \
	X(files_unlisted_changed)                                              \
	X(files_skipped)

int bk_snapshot_encode(const struct bk_snapshot *s, char **json_out)
{
	char tree[BK_HEX_ID];
	bk_hex(s->tree, BK_ID_LEN, tree);
	json_t *paths = json_array();
	for (size_t i = 0; paths && i < s->path_count; i++)
		json_array_append_new(paths, json_string(s->paths[i]));
	json_t *stats = json_object();
#define SET(f)                                                                 \
	json_object_set_new(stats, #f, json_integer((json_int_t)s->stats.f));
	STAT_FIELDS(SET)
#undef SET
	json_object_set_new(stats, "duration_ms",
			    json_integer(s->stats.duration_ms));
	json_t *j = json_pack("{s:i,s:I,s:s,s:s,s:s,s:o,s:s,s:s,s:o}",
			      "version", 1, "time_ms", (json_int_t)s->time_ms,
			      "host", s->host, "module", s->module, "target",
			      s->target, "paths", paths, "tree", tree, "parent",
			      s->parent, "stats", stats);
	if (!j)
		return -ENOMEM;
	*json_out = json_dumps(j, JSON_SORT_KEYS);
	json_decref(j);
	return *json_out ? 0 : -ENOMEM;
}

static int get_str(json_t *j, const char *key, char *out, size_t size,
		   char *why, size_t why_size)
{
	const char *s = json_string_value(json_object_get(j, key));
	if (!s || sky_strlcpy(out, s, size) < 0)
		return sky_refuse(why, why_size, "snapshot: %s", key);
	return 0;
}

int bk_snapshot_parse(const uint8_t *buf, size_t len, struct bk_snapshot *out,
		      char *why, size_t why_size)
{
	json_error_t jerr;
	json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
			       &jerr);
	int r = -EBADMSG;
	memset(out, 0, sizeof(*out));
	if (!j || !json_is_object(j)) {
		sky_refuse(why, why_size, "snapshot: not JSON");
		goto out;
	}
	if (json_integer_value(json_object_get(j, "version")) != 1) {
		sky_refuse(why, why_size, "snapshot: version");
		goto out;
	}
	json_t *t = json_object_get(j, "time_ms");
	if (!json_is_integer(t) || json_integer_value(t) < 0) {
		sky_refuse(why, why_size, "snapshot: time_ms");
		goto out;
	}
	out->time_ms = json_integer_value(t);
	char tree[BK_HEX_ID];
	if (get_str(j, "host", out->host, sizeof(out->host), why, why_size) ||
	    get_str(j, "module", out->module, sizeof(out->module), why,
		    why_size) ||
	    get_str(j, "target", out->target, sizeof(out->target), why,
		    why_size) ||
	    get_str(j, "tree", tree, sizeof(tree), why, why_size) ||
	    get_str(j, "parent", out->parent, sizeof(out->parent), why,
		    why_size))
		goto out;
	if (bk_unhex(tree, out->tree, BK_ID_LEN) < 0) {
		sky_refuse(why, why_size, "snapshot: tree");
		goto out;
	}
	uint8_t raw[BK_ID_LEN];
	if (out->parent[0] && bk_unhex(out->parent, raw, sizeof(raw)) < 0) {
		sky_refuse(why, why_size, "snapshot: parent");
		goto out;
	}
	json_t *paths = json_object_get(j, "paths");
	if (!json_is_array(paths) || json_array_size(paths) == 0 ||
	    json_array_size(paths) > BK_SNAP_PATHS_MAX) {
		sky_refuse(why, why_size, "snapshot: paths");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(paths); i++) {
		const char *p = json_string_value(json_array_get(paths, i));
		if (!p || p[0] != '/' ||
		    sky_strlcpy(out->paths[i], p, BK_SNAP_PATH_MAX) < 0) {
			sky_refuse(why, why_size, "snapshot: paths[%zu]", i);
			goto out;
		}
	}
	out->path_count = json_array_size(paths);
	json_t *stats = json_object_get(j, "stats");
	if (!json_is_object(stats)) {
		sky_refuse(why, why_size, "snapshot: stats");
		goto out;
	}
#define GET(f)                                                                 \
	out->stats.f = (uint64_t)json_integer_value(json_object_get(stats, #f));
	STAT_FIELDS(GET)
#undef GET
	out->stats.duration_ms =
		json_integer_value(json_object_get(stats, "duration_ms"));
	r = 0;
out:
	json_decref(j);
	return r;
}
