/*
 * yamlcfg.h - reading configuration with positions, for every daemon.
 *
 * shared/config.c reads the sections every daemon needs (cluster, module,
 * nodes, heartbeat, witness, transitions); a daemon reads its own section
 * (replicd:, checkd:, vipd:, healthd:) of the same file with these helpers,
 * so every error reads "file:line:column: field: why". Each helper returns 0
 * or -EINVAL after writing that message into the context's err buffer.
 */
#ifndef SKYHA_YAMLCFG_H
#define SKYHA_YAMLCFG_H

#include "config.h"

#include <stdbool.h>
#include <yaml.h>

struct sky_yaml {
	const char *path;
	yaml_document_t *doc;
	char *err;
	size_t err_size;
	yaml_document_t storage;
};

/* Parse text (path names it in messages); free with sky_yaml_done. */
int sky_yaml_parse(struct sky_yaml *y, const char *path, const char *text,
		   size_t len, char *err, size_t err_size);
void sky_yaml_done(struct sky_yaml *y);
yaml_node_t *sky_yaml_root(struct sky_yaml *y);
/* The value of key in a mapping, or NULL. */
yaml_node_t *sky_yaml_get(struct sky_yaml *y, const yaml_node_t *map,
			  const char *key);
size_t sky_yaml_seq_len(const yaml_node_t *seq);
yaml_node_t *sky_yaml_seq_item(struct sky_yaml *y, const yaml_node_t *seq,
			       size_t i);

/* Write "file:line:col: field: why" and return -EINVAL. */
int sky_yaml_fail(struct sky_yaml *ctx, const yaml_node_t *node,
		  const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The text of a scalar node, or NULL for mappings and sequences. */
const char *sky_yaml_scalar(const yaml_node_t *node);

typedef int (*sky_yaml_pair_fn)(struct sky_yaml *ctx, const char *key,
				yaml_node_t *value, void *data);
/* Call fn for each key of a mapping (field names the mapping in errors). */
int sky_yaml_each(struct sky_yaml *ctx, yaml_node_t *map, const char *field,
		  sky_yaml_pair_fn fn, void *data);
int sky_yaml_unknown_key(struct sky_yaml *ctx, const yaml_node_t *value,
			 const char *section, const char *key);

int sky_yaml_string(struct sky_yaml *ctx, const yaml_node_t *node,
		    const char *field, char *out, size_t size);
/* [A-Za-z0-9_.-], 1..SKY_NAME_MAX */
int sky_yaml_name(struct sky_yaml *ctx, const yaml_node_t *node,
		  const char *field, char *out);
int sky_yaml_u32(struct sky_yaml *ctx, const yaml_node_t *node,
		 const char *field, int64_t min, int64_t max, uint32_t *out);
int sky_yaml_bool(struct sky_yaml *ctx, const yaml_node_t *node,
		  const char *field, bool *out);
int sky_yaml_addr(struct sky_yaml *ctx, const yaml_node_t *node,
		  const char *field, struct sky_addr *out);
int sky_yaml_addr_list(struct sky_yaml *ctx, yaml_node_t *seq,
		       const char *field, struct sky_addr *out, size_t max,
		       size_t *count);

#endif
