/*
 * persist.c - load and save the state files (see persist.h).
 */
#include "persist.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define STATE_FILE_MAX 4096

typedef int (*kv_fn)(const char *key, const char *value, void *data);

/* Split "key=value" lines; '#' starts a comment line. */
static int parse_lines(const char *text, kv_fn fn, void *data, char *err,
		       size_t err_size)
{
	unsigned line_no = 0;
	const char *p = text;

	while (*p) {
		char line[256], *eq;
		size_t n = strcspn(p, "\n");
		line_no++;
		if (n >= sizeof(line)) {
			snprintf(err, err_size, "line %u: too long", line_no);
			return -EINVAL;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (p[n] == '\n');
		if (line[0] == '\0' || line[0] == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			snprintf(err, err_size, "line %u: expected key=value",
				 line_no);
			return -EINVAL;
		}
		*eq = '\0';
		if (fn(line, eq + 1, data) < 0) {
			snprintf(err, err_size,
				 "line %u: bad value for '%s': '%.64s'",
				 line_no, line, eq + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_u64(const char *v, uint64_t *out)
{
	int64_t x;
	int r = sky_parse_i64(v, 0, INT64_MAX, &x);
	if (r == 0)
		*out = (uint64_t)x;
	return r;
}

static int node_kv(const char *key, const char *value, void *data)
{
	struct node_state *st = data;
	if (strcmp(key, "epoch") == 0)
		return parse_u64(value, &st->epoch);
	if (strcmp(key, "generation") == 0)
		return parse_u64(value, &st->generation);
	if (strcmp(key, "incarnation") == 0)
		return parse_u64(value, &st->incarnation);
	if (strcmp(key, "peer_incarnation") == 0)
		return parse_u64(value, &st->peer_incarnation);
	if (strcmp(key, "stopped") == 0) {
		if (strcmp(value, "0") && strcmp(value, "1"))
			return -EINVAL;
		st->stopped = value[0] == '1';
		return 0;
	}
	if (strcmp(key, "data") == 0) {
		for (int d = 0; d < SKY_DATA_COUNT; d++)
			if (strcmp(value, sky_data_name((enum sky_data)d)) ==
			    0) {
				st->data = (enum sky_data)d;
				return 0;
			}
		return -EINVAL;
	}
	if (strncmp(key, "peer_incarnation.", 17) == 0) {
		const char *name = key + 17;
		uint64_t v = 0;
		if (!sky_name_valid(name, strlen(name)) ||
		    parse_u64(value, &v) < 0)
			return -EINVAL;
		return node_state_set_peer_incarnation(st, name, v) < 0
			       ? -EINVAL
			       : 0;
	}
	return 0; /* keys from newer versions are kept out, not fatal */
}

uint64_t node_state_peer_incarnation(const struct node_state *st,
				     const char *name)
{
	for (size_t i = 0; i < st->peer_count; i++)
		if (strcmp(st->peers[i].name, name) == 0)
			return st->peers[i].incarnation;
	return 0;
}

int node_state_set_peer_incarnation(struct node_state *st, const char *name,
				    uint64_t incarnation)
{
	size_t i = 0;
	while (i < st->peer_count && strcmp(st->peers[i].name, name) != 0)
		i++;
	if (i == st->peer_count) {
		if (i >= PERSIST_PEERS_MAX)
			return -ENOSPC;
		sky_strlcpy(st->peers[i].name, name, sizeof(st->peers[i].name));
		st->peers[i].incarnation = 0;
		st->peer_count++;
	}
	if (incarnation > st->peers[i].incarnation)
		st->peers[i].incarnation = incarnation;
	return 0;
}

int node_state_parse(const char *text, struct node_state *out, char *err,
		     size_t err_size)
{
	struct node_state st = {.data = SKY_DATA_UNKNOWN};
	int r = parse_lines(text, node_kv, &st, err, err_size);
	if (r == 0)
		*out = st;
	return r;
}

static int load_text(const char *path, char **text, char *err, size_t err_size)
{
	int r = sky_read_file(path, STATE_FILE_MAX, text, NULL);
	if (r < 0 && r != -ENOENT)
		snprintf(err, err_size, "%s: %s", path, strerror(-r));
	return r;
}

int node_state_load(const char *path, struct node_state *out, char *err,
		    size_t err_size)
{
	_cleanup_free_ char *text = NULL;
	char why[160];
	int r = load_text(path, &text, err, err_size);

	if (r == -ENOENT) {
		*out = (struct node_state){.data = SKY_DATA_UNKNOWN};
		return 0;
	}
	if (r < 0)
		return r;
	r = node_state_parse(text, out, why, sizeof(why));
	if (r < 0)
		snprintf(err, err_size, "%s: %s", path, why);
	return r;
}

int node_state_save(const char *path, const struct node_state *st)
{
	char buf[2048];
	int n = snprintf(buf, sizeof(buf),
			 "# skyha heartbeatd node state: do not edit while "
			 "heartbeatd runs\n"
			 "epoch=%llu\ngeneration=%llu\ndata=%s\nstopped=%d\n"
			 "incarnation=%llu\npeer_incarnation=%llu\n",
			 (unsigned long long)st->epoch,
			 (unsigned long long)st->generation,
			 sky_data_name(st->data), st->stopped ? 1 : 0,
			 (unsigned long long)st->incarnation,
			 (unsigned long long)st->peer_incarnation);
	for (size_t i = 0;
	     i < st->peer_count && n >= 0 && (size_t)n < sizeof(buf); i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			      "peer_incarnation.%s=%llu\n", st->peers[i].name,
			      (unsigned long long)st->peers[i].incarnation);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EOVERFLOW;
	return sky_write_file_atomic(path, buf, (size_t)n, 0600);
}

static int witness_kv(const char *key, const char *value, void *data)
{
	struct witness_state *st = data;
	if (strcmp(key, "incarnation") == 0)
		return parse_u64(value, &st->incarnation);
	if (strcmp(key, "newest_generation") == 0)
		return parse_u64(value, &st->newest_generation);
	if (strcmp(key, "newest_node") == 0) {
		size_t n = strlen(value);
		if (n && !sky_name_valid(value, n))
			return -EINVAL;
		return sky_strlcpy(st->newest_node, value,
				   sizeof(st->newest_node));
	}
	return 0;
}

int witness_state_parse(const char *text, struct witness_state *out, char *err,
			size_t err_size)
{
	struct witness_state st = {0};
	int r = parse_lines(text, witness_kv, &st, err, err_size);
	if (r == 0)
		*out = st;
	return r;
}

int witness_state_load(const char *path, struct witness_state *out, char *err,
		       size_t err_size)
{
	_cleanup_free_ char *text = NULL;
	struct witness_state st = {0};
	char why[160];
	int r = load_text(path, &text, err, err_size);

	if (r == -ENOENT) {
		*out = st;
		return 0;
	}
	if (r < 0)
		return r;
	r = witness_state_parse(text, &st, why, sizeof(why));
	if (r < 0) {
		snprintf(err, err_size, "%s: %s", path, why);
		return r;
	}
	*out = st;
	return 0;
}

int witness_state_save(const char *path, const struct witness_state *st)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "# skyha witness state\nincarnation=%llu\n"
			 "newest_generation=%llu\nnewest_node=%s\n",
			 (unsigned long long)st->incarnation,
			 (unsigned long long)st->newest_generation,
			 st->newest_node);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EOVERFLOW;
	return sky_write_file_atomic(path, buf, (size_t)n, 0600);
}
