/*
 * settings.c - read and validate the `replicd:` section (see settings.h).
 */
#include "settings.h"
#include "config.h"
#include "util.h"
#include "yamlcfg.h"
#include "zframe.h"

#include <errno.h>
#include <string.h>

/* "/a/b": absolute, no empty, "." or ".." component, no trailing '/'. */
static bool dir_canonical(const char *p)
{
	size_t len = strlen(p);
	return len > 1 && p[0] == '/' && p[len - 1] != '/' &&
	       replicd_path_valid(p + 1, len - 1);
}

/* a == b, or one inside the other. */
static bool dirs_overlap(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
	if (strncmp(a, b, n) != 0)
		return false;
	return la == lb || (la < lb ? b[la] : a[lb]) == '/';
}

static int load_dirs(struct sky_yaml *ctx, yaml_node_t *seq,
		     struct replicd_settings *s)
{
	char field[64];
	size_t n = sky_yaml_seq_len(seq);

	if (seq->type != YAML_SEQUENCE_NODE || n == 0 || n > REPLICD_MAX_DIRS)
		return sky_yaml_fail(ctx, seq, "replicd.directories",
				     "must list 1 to %d absolute paths",
				     REPLICD_MAX_DIRS);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = sky_yaml_seq_item(ctx, seq, i);
		snprintf(field, sizeof(field), "replicd.directories[%zu]", i);
		int r = sky_yaml_string(ctx, item, field, s->dirs[i],
					sizeof(s->dirs[i]));
		if (r < 0)
			return r;
		if (!dir_canonical(s->dirs[i]))
			return sky_yaml_fail(
				ctx, item, field,
				"'%s' must be an absolute path without a "
				"trailing '/', '.' or '..', and not '/'",
				s->dirs[i]);
		for (size_t j = 0; j < i; j++)
			if (dirs_overlap(s->dirs[i], s->dirs[j]))
				return sky_yaml_fail(
					ctx, item, field,
					"'%s' overlaps directories[%zu] '%s'",
					s->dirs[i], j, s->dirs[j]);
	}
	s->dir_count = n;
	return 0;
}

static int pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		void *data)
{
	struct replicd_settings *s = data;
	uint32_t u;
	int r;

	if (strcmp(key, "directories") == 0)
		return load_dirs(ctx, v, s);
	if (strcmp(key, "port") == 0) {
		r = sky_yaml_u32(ctx, v, "replicd.port", 1, 65535, &u);
		s->port = (uint16_t)u;
		return r;
	}
	if (strcmp(key, "timeout_ms") == 0)
		return sky_yaml_u32(ctx, v, "replicd.timeout_ms", 100, 600000,
				    &s->timeout_ms);
	if (strcmp(key, "mode") == 0) {
		const char *m = sky_yaml_scalar(v);
		s->async = m && strcmp(m, "async") == 0;
		s->commit = m && strcmp(m, "commit") == 0;
		if (!m || (strcmp(m, "sync") != 0 && !s->async && !s->commit))
			return sky_yaml_fail(ctx, v, "replicd.mode",
					     "must be sync, async or commit");
		return 0;
	}
	if (strcmp(key, "resync_max_bytes_per_s") == 0) {
		r = sky_yaml_u32(ctx, v, "replicd.resync_max_bytes_per_s", 0,
				 UINT32_MAX, &s->resync_max_bytes_per_s);
		if (r == 0 && s->resync_max_bytes_per_s &&
		    s->resync_max_bytes_per_s < REPLICD_RESYNC_CAP_MIN)
			return sky_yaml_fail(
				ctx, v, "replicd.resync_max_bytes_per_s",
				"must be 0 (no cap) or at least %u",
				REPLICD_RESYNC_CAP_MIN);
		return r;
	}
	if (strcmp(key, "resync_compress") == 0) {
		const char *m = sky_yaml_scalar(v);
		if (m && strcmp(m, "none") == 0)
			s->resync_zstd = false;
		else if (m && strcmp(m, "zstd") == 0)
			s->resync_zstd = true;
		else
			return sky_yaml_fail(ctx, v, "replicd.resync_compress",
					     "must be none or zstd");
		return 0;
	}
	if (strcmp(key, "resync_compress_level") == 0) {
		r = sky_yaml_u32(ctx, v, "replicd.resync_compress_level", 1,
				 REPLICD_ZSTD_LEVEL_MAX, &u);
		s->resync_compress_level = (int)u;
		return r;
	}
	if (strcmp(key, "backup_hold_lost_after_ms") == 0)
		return sky_yaml_u32(ctx, v, "replicd.backup_hold_lost_after_ms",
				    1000, 3600000,
				    &s->backup_hold_lost_after_ms);
	if (strcmp(key, "backup_hold_max_bytes") == 0) {
		const char *m = sky_yaml_scalar(v);
		int64_t n;
		if (!m || sky_parse_i64(m, (int64_t)REPLICD_HOLD_MAX_BYTES_MIN,
					INT64_MAX, &n) < 0)
			return sky_yaml_fail(ctx, v,
					     "replicd.backup_hold_max_bytes",
					     "must be a number of bytes, at "
					     "least %llu",
					     REPLICD_HOLD_MAX_BYTES_MIN);
		s->backup_hold_max_bytes = (uint64_t)n;
		return 0;
	}
	return sky_yaml_unknown_key(ctx, v, "replicd", key);
}

/*
 * A secondary calls its copy outdated after replicd.timeout_ms without a
 * word from the primary; heartbeatd must declare a dead primary lost
 * before that, or the secondary is never up to date when it is needed
 * and nothing takes over (docs/replication.md).
 */
static int check_timeouts(struct sky_yaml *y, yaml_node_t *root,
			  yaml_node_t *sec, const struct replicd_settings *s)
{
	uint32_t peer_lost = SKY_DEFAULT_PEER_LOST_AFTER_MS;
	yaml_node_t *hb = sky_yaml_get(y, root, "heartbeat");
	yaml_node_t *hb_timeout = hb ? sky_yaml_get(y, hb, "timeout_ms") : NULL;
	yaml_node_t *own = sky_yaml_get(y, sec, "timeout_ms");

	/* heartbeat's own section is checked by sky_config_load(). */
	if (hb_timeout && sky_yaml_u32(y, hb_timeout, "heartbeat.timeout_ms",
				       60, 600000, &peer_lost) < 0)
		return 0;
	if (s->timeout_ms > peer_lost)
		return 0;
	return sky_yaml_fail(
		y, own ? own : sec, "replicd.timeout_ms",
		"%u ms must be above heartbeat.timeout_ms (%u ms), "
		"or a dead primary's secondary is outdated before "
		"it may take over",
		s->timeout_ms, peer_lost);
}

int replicd_settings_parse(const char *path, const char *text, size_t len,
			   struct replicd_settings *out, char *err,
			   size_t err_size)
{
	struct sky_yaml y;
	struct replicd_settings s = {
		.port = REPLICD_DEFAULT_PORT,
		.timeout_ms = REPLICD_DEFAULT_TIMEOUT_MS,
		.resync_compress_level = REPLICD_ZSTD_LEVEL_DEFAULT,
		.backup_hold_lost_after_ms = REPLICD_HOLD_LOST_AFTER_MS,
		.backup_hold_max_bytes = REPLICD_HOLD_MAX_BYTES};
	int r = sky_yaml_parse(&y, path, text, len, err, err_size);
	if (r < 0)
		return r;
	yaml_node_t *root = sky_yaml_root(&y);
	yaml_node_t *sec = sky_yaml_get(&y, root, "replicd");
	if (!sec) {
		snprintf(err, err_size,
			 "%s: replicd: section missing (replicd needs "
			 "replicd.directories; see docs/config.md)",
			 path);
		r = -EINVAL;
	} else {
		r = sky_yaml_each(&y, sec, "replicd", pair, &s);
		if (r == 0 && s.dir_count == 0)
			r = sky_yaml_fail(&y, sec, "replicd.directories",
					  "required: the directories to "
					  "replicate");
		if (r == 0)
			r = check_timeouts(&y, root, sec, &s);
	}
	sky_yaml_done(&y);
	if (r == 0)
		*out = s;
	return r;
}

int replicd_settings_load(const char *path, struct replicd_settings *out,
			  char *err, size_t err_size)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = sky_read_file(path, 1 << 20, &text, &len);
	if (r < 0) {
		snprintf(err, err_size, "%s: %s", path, strerror(-r));
		return r;
	}
	return replicd_settings_parse(path, text, len, out, err, err_size);
}
