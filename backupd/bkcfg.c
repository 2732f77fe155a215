/*
 * bkcfg.c - the `backup:` section (bkcfg.h), read with shared/yamlcfg.h.
 */
#include "bkcfg.h"
#include "util.h"
#include "yamlcfg.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define BK_FILE_MAX (256u << 10)

struct loader {
	struct bk_cfg *cfg;
	const char *path; /* the module file: relative names from its dir */
	struct bk_target *t;
	char field[64];
	yaml_node_t *at_secret;
	bool secret_seen;
};

/* A file name, resolved relative to the module file's directory. */
static int file_name(struct sky_yaml *ctx, struct loader *l, yaml_node_t *v,
		     const char *field, char *out, size_t size)
{
	char raw[PATH_MAX];
	int r = sky_yaml_string(ctx, v, field, raw, sizeof(raw));
	if (r < 0)
		return r;
	if (!raw[0])
		return sky_yaml_fail(ctx, v, field, "must not be empty");
	if (raw[0] == '/')
		return sky_strlcpy(out, raw, size) < 0
			       ? sky_yaml_fail(ctx, v, field, "too long")
			       : 0;
	const char *slash = strrchr(l->path, '/');
	int dl = slash ? (int)(slash - l->path) : 1;
	r = snprintf(out, size, "%.*s/%s", dl, slash ? l->path : ".", raw);
	if (r < 0 || (size_t)r >= size)
		return sky_yaml_fail(ctx, v, field, "too long");
	return 0;
}

static int str_field(struct sky_yaml *ctx, yaml_node_t *v, const char *field,
		     char *out, size_t size)
{
	return sky_yaml_string(ctx, v, field, out, size);
}

static int parse_age(struct sky_yaml *ctx, yaml_node_t *v, const char *field,
		     uint64_t *out)
{
	const char *s = sky_yaml_scalar(v);
	char num[32];
	uint64_t mult = 1;
	size_t n = s ? strlen(s) : 0;
	if (!n || n >= sizeof(num))
		return sky_yaml_fail(ctx, v, field,
				     "a duration such as 36h or 2d");
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's':
		num[--n] = 0;
		break;
	case 'm':
		mult = 60, num[--n] = 0;
		break;
	case 'h':
		mult = 3600, num[--n] = 0;
		break;
	case 'd':
		mult = 86400, num[--n] = 0;
		break;
	}
	int64_t x;
	if (sky_parse_i64(num, 1, 3650LL * 86400, &x) < 0 ||
	    (uint64_t)x * mult > 3650ULL * 86400)
		return sky_yaml_fail(ctx, v, field,
				     "a duration such as 36h or 2d (at most "
				     "10 years)");
	*out = (uint64_t)x * mult;
	return 0;
}

static int target_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
		       void *data)
{
	struct loader *l = data;
	struct bk_target *t = l->t;
	struct bk_target_cfg *s = &t->store;
	char f[128];
	snprintf(f, sizeof(f), "%s.%s", l->field, key);
	if (!strcmp(key, "name")) {
		char name[SKY_NAME_MAX + 1];
		int r = sky_yaml_name(ctx, v, f, name);
		if (r == 0)
			sky_strlcpy(s->name, name, sizeof(s->name));
		return r;
	}
	if (!strcmp(key, "kind")) {
		const char *k = sky_yaml_scalar(v);
		if (k && !strcmp(k, "dir"))
			s->kind = BK_TARGET_DIR;
		else if (k && !strcmp(k, "s3"))
			s->kind = BK_TARGET_S3;
		else if (k && !strcmp(k, "azure"))
			s->kind = BK_TARGET_AZURE;
		else
			return sky_yaml_fail(ctx, v, f,
					     "must be dir, s3 or azure");
		return 0;
	}
	if (!strcmp(key, "path"))
		return str_field(ctx, v, f, s->path, sizeof(s->path));
	if (!strcmp(key, "prefix"))
		return str_field(ctx, v, f, s->prefix, sizeof(s->prefix));
	if (!strcmp(key, "bucket"))
		return str_field(ctx, v, f, s->bucket, sizeof(s->bucket));
	if (!strcmp(key, "region"))
		return str_field(ctx, v, f, s->region, sizeof(s->region));
	if (!strcmp(key, "endpoint"))
		return str_field(ctx, v, f, s->endpoint, sizeof(s->endpoint));
	if (!strcmp(key, "path_style"))
		return sky_yaml_bool(ctx, v, f, &s->path_style);
	if (!strcmp(key, "credentials"))
		return str_field(ctx, v, f, s->credentials,
				 sizeof(s->credentials));
	if (!strcmp(key, "account"))
		return str_field(ctx, v, f, s->account, sizeof(s->account));
	if (!strcmp(key, "container"))
		return str_field(ctx, v, f, s->container, sizeof(s->container));
	if (!strcmp(key, "key_file"))
		return file_name(ctx, l, v, f, s->key_file,
				 sizeof(s->key_file));
	if (!strcmp(key, "ca_file"))
		return file_name(ctx, l, v, f, s->ca_file, sizeof(s->ca_file));
	if (!strcmp(key, "timeout_ms")) {
		uint32_t x;
		int r = sky_yaml_u32(ctx, v, f, 100, 600000, &x);
		s->timeout_ms = x;
		return r;
	}
	if (!strcmp(key, "attempts")) {
		uint32_t x;
		int r = sky_yaml_u32(ctx, v, f, 1, 20, &x);
		s->attempts = (int)x;
		return r;
	}
	if (!strcmp(key, "nodes")) {
		size_t n = sky_yaml_seq_len(v);
		if (v->type != YAML_SEQUENCE_NODE || n == 0 || n > 16)
			return sky_yaml_fail(ctx, v, f,
					     "a list of 1 to 16 node names");
		for (size_t i = 0; i < n; i++) {
			int r = sky_yaml_name(ctx, sky_yaml_seq_item(ctx, v, i),
					      f, t->nodes[i]);
			if (r < 0)
				return r;
		}
		t->node_count = n;
		return 0;
	}
	if (!strcmp(key, "on_calendar"))
		return str_field(ctx, v, f, t->on_calendar,
				 sizeof(t->on_calendar));
	if (!strcmp(key, "keep_last"))
		return sky_yaml_u32(ctx, v, f, 0, 100000, &t->keep.last);
	if (!strcmp(key, "keep_daily"))
		return sky_yaml_u32(ctx, v, f, 0, 100000, &t->keep.daily);
	if (!strcmp(key, "keep_weekly"))
		return sky_yaml_u32(ctx, v, f, 0, 100000, &t->keep.weekly);
	if (!strcmp(key, "keep_monthly"))
		return sky_yaml_u32(ctx, v, f, 0, 100000, &t->keep.monthly);
	if (!strcmp(key, "max_age"))
		return parse_age(ctx, v, f, &t->max_age_s);
	return sky_yaml_unknown_key(ctx, v, l->field, key);
}

static int check_target(struct sky_yaml *ctx, struct loader *l,
			yaml_node_t *item)
{
	struct bk_target_cfg *s = &l->t->store;
	if (!s->name[0])
		return sky_yaml_fail(ctx, item, l->field, "name: required");
	for (struct bk_target *o = l->cfg->targets; o < l->t; o++)
		if (!strcmp(o->store.name, s->name))
			return sky_yaml_fail(ctx, item, l->field,
					     "name '%s' used twice", s->name);
	if (s->kind == BK_TARGET_DIR && s->path[0] != '/')
		return sky_yaml_fail(ctx, item, l->field,
				     "path: a dir target needs an absolute "
				     "path");
	if (s->kind == BK_TARGET_S3 && !s->bucket[0])
		return sky_yaml_fail(ctx, item, l->field,
				     "bucket: required for s3");
	if (s->kind == BK_TARGET_AZURE && (!s->account[0] || !s->container[0]))
		return sky_yaml_fail(ctx, item, l->field,
				     "account and container: required for "
				     "azure");
	if (!l->t->on_calendar[0])
		sky_strlcpy(l->t->on_calendar, "daily",
			    sizeof(l->t->on_calendar));
	return 0;
}

static int section_pair(struct sky_yaml *ctx, const char *key, yaml_node_t *v,
			void *data)
{
	struct loader *l = data;
	struct bk_cfg *c = l->cfg;
	if (!strcmp(key, "key_file") || !strcmp(key, "passphrase_file")) {
		if (l->secret_seen)
			return sky_yaml_fail(ctx, v, "backup",
					     "key_file or passphrase_file, "
					     "not both");
		l->secret_seen = true;
		l->at_secret = v;
		char f[64];
		snprintf(f, sizeof(f), "backup.%s", key);
		return key[0] == 'k'
			       ? file_name(ctx, l, v, f, c->key_file,
					   sizeof(c->key_file))
			       : file_name(ctx, l, v, f, c->passphrase_file,
					   sizeof(c->passphrase_file));
	}
	if (!strcmp(key, "pre_backup"))
		return file_name(ctx, l, v, "backup.pre_backup", c->pre_backup,
				 sizeof(c->pre_backup));
	if (!strcmp(key, "post_backup"))
		return file_name(ctx, l, v, "backup.post_backup",
				 c->post_backup, sizeof(c->post_backup));
	if (!strcmp(key, "paths")) {
		size_t n = sky_yaml_seq_len(v);
		if (v->type != YAML_SEQUENCE_NODE || n == 0 ||
		    n > BK_SNAP_PATHS_MAX)
			return sky_yaml_fail(ctx, v, "backup.paths",
					     "a list of 1 to 16 absolute "
					     "paths");
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *it = sky_yaml_seq_item(ctx, v, i);
			int r = sky_yaml_string(ctx, it, "backup.paths",
						c->paths[i], PATH_MAX);
			if (r < 0)
				return r;
			if (c->paths[i][0] != '/' || !strcmp(c->paths[i], "/"))
				return sky_yaml_fail(ctx, it, "backup.paths",
						     "'%s' is not an absolute "
						     "directory below /",
						     c->paths[i]);
		}
		c->path_count = n;
		return 0;
	}
	if (!strcmp(key, "targets")) {
		size_t n = sky_yaml_seq_len(v);
		if (v->type != YAML_SEQUENCE_NODE || n == 0 ||
		    n > BK_TARGETS_MAX)
			return sky_yaml_fail(ctx, v, "backup.targets",
					     "a list of 1 to %d targets",
					     BK_TARGETS_MAX);
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *it = sky_yaml_seq_item(ctx, v, i);
			l->t = &c->targets[i];
			snprintf(l->field, sizeof(l->field),
				 "backup.targets[%zu]", i);
			int r = sky_yaml_each(ctx, it, l->field, target_pair,
					      l);
			if (r == 0)
				r = check_target(ctx, l, it);
			if (r < 0)
				return r;
		}
		c->target_count = n;
		return 0;
	}
	return sky_yaml_unknown_key(ctx, v, "backup", key);
}

/* replicd.directories: what the module replicates, backed up by default. */
static int replicd_dirs(struct sky_yaml *ctx, yaml_node_t *root,
			struct bk_cfg *c)
{
	yaml_node_t *rep = sky_yaml_get(ctx, root, "replicd");
	yaml_node_t *dirs = rep ? sky_yaml_get(ctx, rep, "directories") : NULL;
	if (!dirs || dirs->type != YAML_SEQUENCE_NODE)
		return 0;
	size_t n = sky_yaml_seq_len(dirs);
	for (size_t i = 0; i < n && i < BK_SNAP_PATHS_MAX; i++) {
		int r = sky_yaml_string(ctx, sky_yaml_seq_item(ctx, dirs, i),
					"replicd.directories", c->paths[i],
					PATH_MAX);
		if (r < 0)
			return r;
	}
	c->path_count = n < BK_SNAP_PATHS_MAX ? n : BK_SNAP_PATHS_MAX;
	c->paths_are_replicd = n <= BK_SNAP_PATHS_MAX;
	return 0;
}

int bk_cfg_parse(const char *path, const char *text, size_t len,
		 struct bk_cfg *out, char *err, size_t err_size)
{
	struct sky_yaml ctx;
	struct bk_cfg *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	struct loader l = {.cfg = c, .path = path};
	int r = sky_yaml_parse(&ctx, path, text, len, err, err_size);
	if (r < 0) {
		free(c);
		return r;
	}
	yaml_node_t *root = sky_yaml_root(&ctx);
	yaml_node_t *sec = root ? sky_yaml_get(&ctx, root, "backup") : NULL;
	if (!root)
		r = sky_yaml_fail(&ctx, NULL, "(file)", "empty configuration");
	else if (!sec)
		r = sky_yaml_fail(&ctx, root, "backup",
				  "section missing: backupd needs key_file "
				  "and targets");
	else
		r = sky_yaml_each(&ctx, sec, "backup", section_pair, &l);
	if (r >= 0 && !l.secret_seen)
		r = sky_yaml_fail(&ctx, sec, "backup.key_file",
				  "required (or passphrase_file)");
	if (r >= 0 && c->target_count == 0)
		r = sky_yaml_fail(&ctx, sec, "backup.targets", "required");
	if (r >= 0 && c->path_count == 0)
		r = replicd_dirs(&ctx, root, c);
	if (r >= 0 && c->path_count == 0)
		r = sky_yaml_fail(&ctx, sec, "backup.paths",
				  "required when there is no "
				  "replicd.directories");
	if (r >= 0)
		*out = *c;
	sky_yaml_done(&ctx);
	sodium_memzero(c, sizeof(*c));
	free(c);
	return r < 0 ? r : 0;
}

int bk_cfg_load(const char *path, struct bk_cfg *out, char *err,
		size_t err_size)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = sky_read_file(path, BK_FILE_MAX, &text, &len);
	if (r < 0) {
		snprintf(err, err_size, "%s: cannot read: %s", path,
			 strerror(-r));
		return r;
	}
	return bk_cfg_parse(path, text, len, out, err, err_size);
}

const struct bk_target *bk_cfg_target(const struct bk_cfg *c, const char *name)
{
	for (size_t i = 0; i < c->target_count; i++)
		if (!strcmp(c->targets[i].store.name, name))
			return &c->targets[i];
	return NULL;
}

bool bk_target_for_node(const struct bk_target *t, const char *node)
{
	if (!t->node_count)
		return true;
	for (size_t i = 0; i < t->node_count; i++)
		if (!strcmp(t->nodes[i], node))
			return true;
	return false;
}

int bk_cfg_secret(const struct bk_cfg *c, struct bk_secret *s, char *err,
		  size_t err_size)
{
	const char *file = c->key_file[0] ? c->key_file : c->passphrase_file;
	struct stat st;
	memset(s, 0, sizeof(*s));
	if (stat(file, &st) < 0) {
		snprintf(err, err_size, "%s: %s", file, strerror(errno));
		return -errno;
	}
	if (st.st_mode & 077) {
		snprintf(err, err_size,
			 "%s: readable by others (mode %03o): chmod 600 it",
			 file, st.st_mode & 0777);
		return -EPERM;
	}
	char *text = NULL;
	size_t len = 0;
	int r = sky_read_file(file, sizeof(s->phrase), &text, &len);
	if (r < 0) {
		snprintf(err, err_size, "%s: %s", file, strerror(-r));
		return r;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = 0;
	if (c->key_file[0]) {
		r = sky_hex_decode(text, s->key, sizeof(s->key));
		if (r < 0)
			snprintf(err, err_size,
				 "%s: not 64 hex characters (make one with "
				 "backupd keygen)",
				 file);
	} else {
		s->passphrase = true;
		if (len == 0 || len >= sizeof(s->phrase)) {
			snprintf(err, err_size, "%s: empty or too long", file);
			r = -EINVAL;
		} else {
			memcpy(s->phrase, text, len);
			s->phrase_len = len;
		}
	}
	sodium_memzero(text, len);
	free(text);
	return r;
}
