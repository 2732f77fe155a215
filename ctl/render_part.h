/*
 * render_part.h - what render.c and the files that render parts of the
 * status (render_farm.c, render_data.c) share: the bounds on every piece
 * of text they print, the small helpers that read one field of the hostile
 * status object into a bounded buffer, cleaned by render_text.c ("?" when
 * it is missing, empty or of the wrong type), and each part's renderer.
 * Internal to skyctl's status view: render.h is the API.
 */
#ifndef SKYCTL_RENDER_PART_H
#define SKYCTL_RENDER_PART_H

#include "render.h"

#include <stdbool.h>
#include <string.h>

#define NAME_TEXT_MAX	    65	/* node, module, cluster, address: 64 bytes */
#define WORD_TEXT_MAX	    17	/* role, data state, lease state: 16 bytes */
#define REASON_TEXT_MAX	    257 /* sentences: transition reason, waiting for */
#define INT_TEXT_MAX	    24
#define DURATION_TEXT_MAX   32
#define SEEN_TEXT_MAX	    160
#define NETWORKS_SHOWN_MAX  8
#define ADDRESSES_SHOWN_MAX 4
#define ACTUATORS_SHOWN_MAX 8
#define CHECKERS_SHOWN_MAX  8
#define NODE_COLUMN_MIN	    12
#define GEN_COLUMN_MIN	    3

/* render_text.c: a string's bytes cleaned into buf (skyctl_safe_text). */
const char *skyctl_safe_copy(const char *text, size_t len, char *buf,
			     size_t size);

/*
 * A non-empty string field, cleaned, in buf; "?" when missing, empty or not
 * text. These helpers always write into buf and return it.
 */
static inline const char *field(const json_t *obj, const char *key, char *buf,
				size_t size)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return skyctl_safe_copy("?", 1, buf, size);
	return skyctl_safe_text(v, buf, size);
}

static inline bool has_text(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_string(v) && json_string_length(v) > 0;
}

static inline bool text_is(const json_t *obj, const char *key, const char *want)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_string(v) && json_string_length(v) == strlen(want) &&
	       strcmp(json_string_value(v), want) == 0;
}

static inline bool get_int(const json_t *obj, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

static inline const char *int_text(const json_t *obj, const char *key,
				   char *buf, size_t size)
{
	int64_t v;

	if (!get_int(obj, key, &v))
		snprintf(buf, size, "?");
	else
		snprintf(buf, size, "%lld", (long long)v);
	return buf;
}

/* A duration in milliseconds, humanised; "?" unless an integer >= 0. */
static inline const char *duration_text(const json_t *obj, const char *key,
					char *buf, size_t size)
{
	int64_t ms;

	if (!get_int(obj, key, &ms))
		ms = -1;
	skyctl_format_duration(ms, buf, size);
	return buf;
}

static inline size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* render_farm.c: a farm's nodes, their shares and this node's load. */
void skyctl_render_farm_nodes(FILE *out, const json_t *nodes, bool buckets);
void skyctl_render_buckets(FILE *out, const json_t *status);

/* render_data.c: the copy of the data: replication, verify, backups. */
void skyctl_render_replication(FILE *out, const json_t *status);
void skyctl_render_backups(FILE *out, const json_t *status);

#endif
