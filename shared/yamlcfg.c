/*
 * yamlcfg.c - configuration helpers over libyaml's document tree (see yamlcfg.h).
 * libyaml's 1/0 convention stays in this file.
 */
#include "yamlcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 4, 5))) int sky_yaml_fail(struct sky_yaml *ctx,
							const yaml_node_t *node,
							const char *field,
							const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (node)
		snprintf(ctx->err, ctx->err_size, "%s:%zu:%zu: %s: %s",
			 ctx->path, node->start_mark.line + 1,
			 node->start_mark.column + 1, field, why);
	else
		snprintf(ctx->err, ctx->err_size, "%s: %s: %s", ctx->path,
			 field, why);
	return -EINVAL;
}

const char *sky_yaml_scalar(const yaml_node_t *node)
{
	return node->type == YAML_SCALAR_NODE
		       ? (const char *)node->data.scalar.value
		       : NULL;
}

int sky_yaml_string(struct sky_yaml *ctx, const yaml_node_t *node,
		    const char *field, char *out, size_t size)
{
	const char *s = sky_yaml_scalar(node);
	if (!s)
		return sky_yaml_fail(ctx, node, field, "must be a string");
	if (strlen(s) >= size)
		return sky_yaml_fail(ctx, node, field,
				     "longer than %zu characters", size - 1);
	sky_strlcpy(out, s, size);
	return 0;
}

int sky_yaml_name(struct sky_yaml *ctx, const yaml_node_t *node,
		  const char *field, char *out)
{
	const char *s = sky_yaml_scalar(node);
	if (!s || !sky_name_valid(s, strlen(s)))
		return sky_yaml_fail(
			ctx, node, field,
			"must be 1..%d characters of [A-Za-z0-9_.-]",
			SKY_NAME_MAX);
	sky_strlcpy(out, s, SKY_NAME_MAX + 1);
	return 0;
}

int sky_yaml_u32(struct sky_yaml *ctx, const yaml_node_t *node,
		 const char *field, int64_t min, int64_t max, uint32_t *out)
{
	const char *s = sky_yaml_scalar(node);
	int64_t v;
	if (!s || sky_parse_i64(s, min, max, &v) < 0)
		return sky_yaml_fail(
			ctx, node, field,
			"must be a whole number from %lld to %lld, got '%s'",
			(long long)min, (long long)max,
			s ? s : "(not a scalar)");
	*out = (uint32_t)v;
	return 0;
}

int sky_yaml_addr(struct sky_yaml *ctx, const yaml_node_t *node,
		  const char *field, struct sky_addr *out)
{
	const char *s = sky_yaml_scalar(node);
	memset(out, 0, sizeof(*out));
	if (!s || strlen(s) >= sizeof(out->text))
		return sky_yaml_fail(ctx, node, field,
				     "must be an IPv4 or IPv6 address");
	struct sockaddr_in *in4 = (struct sockaddr_in *)&out->sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;
	if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		out->len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		out->len = sizeof(*in6);
	} else {
		return sky_yaml_fail(ctx, node, field,
				     "'%s' is not an IPv4 or IPv6 address", s);
	}
	sky_strlcpy(out->text, s, sizeof(out->text));
	return 0;
}

int sky_yaml_each(struct sky_yaml *ctx, yaml_node_t *map, const char *field,
		  sky_yaml_pair_fn fn, void *data)
{
	if (map->type != YAML_MAPPING_NODE)
		return sky_yaml_fail(ctx, map, field,
				     "must be a mapping of keys");
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(ctx->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(ctx->doc, p->value);
		const char *key = k ? sky_yaml_scalar(k) : NULL;
		if (!key || !v)
			return sky_yaml_fail(ctx, k, field,
					     "keys must be plain strings");
		int r = fn(ctx, key, v, data);
		if (r < 0)
			return r;
	}
	return 0;
}

int sky_yaml_unknown_key(struct sky_yaml *ctx, const yaml_node_t *value,
			 const char *section, const char *key)
{
	char field[96];
	snprintf(field, sizeof(field), "%s%s%s", section, *section ? "." : "",
		 key);
	return sky_yaml_fail(ctx, value, field,
			     "unknown key (see docs/config.md)");
}

int sky_yaml_addr_list(struct sky_yaml *ctx, yaml_node_t *seq,
		       const char *field, struct sky_addr *out, size_t max,
		       size_t *count)
{
	char item[96];
	if (seq->type != YAML_SEQUENCE_NODE)
		return sky_yaml_fail(ctx, seq, field,
				     "must be a list of addresses");
	size_t n = (size_t)(seq->data.sequence.items.top -
			    seq->data.sequence.items.start);
	if (n == 0 || n > max)
		return sky_yaml_fail(ctx, seq, field,
				     "must list 1 to %zu addresses, got %zu",
				     max, n);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *a = yaml_document_get_node(
			ctx->doc, seq->data.sequence.items.start[i]);
		snprintf(item, sizeof(item), "%s[%zu]", field, i);
		int r = sky_yaml_addr(ctx, a, item, &out[i]);
		if (r < 0)
			return r;
	}
	*count = n;
	return 0;
}

int sky_yaml_bool(struct sky_yaml *ctx, const yaml_node_t *node,
		  const char *field, bool *out)
{
	const char *s = sky_yaml_scalar(node);
	if (s && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)) {
		*out = true;
		return 0;
	}
	if (s && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)) {
		*out = false;
		return 0;
	}
	return sky_yaml_fail(ctx, node, field, "must be true or false");
}

int sky_yaml_parse(struct sky_yaml *y, const char *path, const char *text,
		   size_t len, char *err, size_t err_size)
{
	yaml_parser_t parser;

	memset(y, 0, sizeof(*y));
	y->path = path;
	y->err = err;
	y->err_size = err_size;
	y->doc = &y->storage;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &y->storage)) {
		snprintf(err, err_size, "%s:%zu:%zu: YAML syntax: %s", path,
			 parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "unreadable");
		yaml_parser_delete(&parser);
		y->doc = NULL;
		return -EINVAL;
	}
	yaml_parser_delete(&parser);
	return 0;
}

void sky_yaml_done(struct sky_yaml *y)
{
	if (y->doc)
		yaml_document_delete(y->doc);
	y->doc = NULL;
}

yaml_node_t *sky_yaml_root(struct sky_yaml *y)
{
	return y->doc ? yaml_document_get_root_node(y->doc) : NULL;
}

yaml_node_t *sky_yaml_get(struct sky_yaml *y, const yaml_node_t *map,
			  const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
		const char *name = k ? sky_yaml_scalar(k) : NULL;
		if (name && strcmp(name, key) == 0)
			return yaml_document_get_node(y->doc, p->value);
	}
	return NULL;
}

size_t sky_yaml_seq_len(const yaml_node_t *seq)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(seq->data.sequence.items.top -
			seq->data.sequence.items.start);
}

yaml_node_t *sky_yaml_seq_item(struct sky_yaml *y, const yaml_node_t *seq,
			       size_t i)
{
	if (i >= sky_yaml_seq_len(seq))
		return NULL;
	return yaml_document_get_node(y->doc,
				      seq->data.sequence.items.start[i]);
}
