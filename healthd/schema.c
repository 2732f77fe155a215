/*
 * schema.c - the status object's field types (see schema.h), as a table
 * per object: docs/protocol.md in data. heartbeatd writes null for an age
 * it has no value for yet (a peer or an actuator never heard): those
 * fields are "nullable".
 */
#include "schema.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

enum kind {
	K_STRING,
	K_INT,
	K_BOOL,
	K_OBJECT,     /* children: its fields */
	K_OBJECTS,    /* an array of objects; children: their fields */
	K_STRINGS,    /* an array of strings */
	K_MAP,	      /* an object of objects; children: their fields */
	K_INT_VALUES, /* an object whose every value is an integer */
};

struct field {
	const char *name;
	enum kind kind;
	bool nullable;
	const struct field *children; /* ends with a NULL name */
};

static const struct field node_fields[] = {
	{"name", K_STRING, false, NULL},
	{"epoch", K_INT, false, NULL},
	{"generation", K_INT, false, NULL},
	{"data", K_STRING, false, NULL},
	{"persisted_data", K_STRING, false, NULL},
	{"role_for_ms", K_INT, false, NULL},
	{"waiting_for", K_STRING, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field network_fields[] = {
	{"index", K_INT, false, NULL},	     {"local", K_STRING, false, NULL},
	{"peer", K_STRING, false, NULL},     {"up", K_BOOL, false, NULL},
	{"last_seen_ms", K_INT, true, NULL}, {NULL, K_STRING, false, NULL},
};

static const struct field peer_fields[] = {
	{"name", K_STRING, false, NULL},
	{"visible", K_BOOL, false, NULL},
	{"role", K_STRING, false, NULL},
	{"epoch", K_INT, false, NULL},
	{"generation", K_INT, false, NULL},
	{"data", K_STRING, false, NULL},
	{"last_seen_ms", K_INT, true, NULL},
	{"networks", K_OBJECTS, false, network_fields},
	{NULL, K_STRING, false, NULL},
};

static const struct field quorum_fields[] = {
	{"mode", K_STRING, false, NULL},
	{"have", K_BOOL, false, NULL},
	{"via", K_STRING, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field witness_fields[] = {
	{"addresses", K_STRINGS, false, NULL},
	{"lease", K_STRING, false, NULL},
	{"expires_in_ms", K_INT, false, NULL},
	{"last_answer", K_STRING, false, NULL},
	{"holder", K_STRING, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field transition_fields[] = {
	{"from", K_STRING, false, NULL},   {"to", K_STRING, false, NULL},
	{"reason", K_STRING, false, NULL}, {"at", K_STRING, false, NULL},
	{"ago_ms", K_INT, false, NULL},	   {"pending", K_STRING, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field checker_fields[] = {
	{"name", K_STRING, false, NULL},
	{"state", K_STRING, false, NULL},
	{NULL, K_STRING, false, NULL},
};

/* What healthd reads of vipd's and checkd's forwarded detail. */
static const struct field detail_fields[] = {
	{"restarts_in_window", K_INT, false, NULL},
	{"checkers", K_OBJECTS, false, checker_fields},
	{NULL, K_STRING, false, NULL},
};

static const struct field resync_fields[] = {
	{"bytes_left", K_INT, false, NULL},
	{"rate_bps", K_INT, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field actuator_fields[] = {
	{"target", K_STRING, false, NULL},
	{"state", K_STRING, false, NULL},
	{"epoch", K_INT, false, NULL},
	{"reason", K_STRING, false, NULL},
	{"age_ms", K_INT, true, NULL},
	{"detail", K_OBJECT, false, detail_fields},
	{"data", K_STRING, false, NULL},
	{"sync", K_STRING, false, NULL},
	{"peer_connected", K_BOOL, false, NULL},
	{"resync", K_OBJECT, false, resync_fields},
	{"counters", K_INT_VALUES, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field timing_fields[] = {
	{"interval_ms", K_INT, false, NULL},
	{"timeout_ms", K_INT, false, NULL},
	{"lease_ms", K_INT, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field farm_node_fields[] = {
	{"name", K_STRING, false, NULL},     {"self", K_BOOL, false, NULL},
	{"member", K_BOOL, false, NULL},     {"role", K_STRING, false, NULL},
	{"ready", K_BOOL, false, NULL},	     {"visible", K_BOOL, false, NULL},
	{"last_seen_ms", K_INT, true, NULL}, {"weight", K_INT, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field membership_fields[] = {
	{"members", K_STRINGS, false, NULL}, {"count", K_INT, false, NULL},
	{"changes", K_INT, false, NULL},     {"nodes", K_INT, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field farm_fields[] = {
	{"failed", K_BOOL, false, NULL},
	{"failure", K_STRING, false, NULL},
	{NULL, K_STRING, false, NULL},
};

/* heartbeatd's summary of backupd's results (heartbeatd/backups.h). */
static const struct field backup_run_fields[] = {
	{"time", K_STRING, true, NULL},
	{"time_ms", K_INT, false, NULL},
	{"snapshot", K_STRING, true, NULL},
	{"duration_ms", K_INT, false, NULL},
	{"bytes_read", K_INT, false, NULL},
	{"bytes_uploaded", K_INT, false, NULL},
	{"reason", K_STRING, true, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field backup_fields[] = {
	{"target", K_STRING, false, NULL},
	{"last_success", K_OBJECT, true, backup_run_fields},
	{"last_failure", K_OBJECT, true, backup_run_fields},
	{"max_age_s", K_INT, false, NULL},
	{"age_s", K_INT, true, NULL},
	{"stale", K_BOOL, false, NULL},
	{"error", K_STRING, false, NULL},
	{NULL, K_STRING, false, NULL},
};

/* heartbeatd's word on the backup now request (heartbeatd/control.c). */
static const struct field backup_request_fields[] = {
	{"configured", K_BOOL, false, NULL},
	{"requested", K_BOOL, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct field status_fields[] = {
	{"cluster", K_STRING, false, NULL},
	{"nodes", K_OBJECTS, false, farm_node_fields},
	{"membership", K_OBJECT, false, membership_fields},
	{"farm", K_OBJECT, false, farm_fields},
	{"node", K_OBJECT, false, node_fields},
	{"peer", K_OBJECT, false, peer_fields},
	{"quorum", K_OBJECT, false, quorum_fields},
	{"witness", K_OBJECT, false, witness_fields},
	{"transition", K_OBJECT, false, transition_fields},
	{"actuators", K_MAP, false, actuator_fields},
	{"counters", K_INT_VALUES, false, NULL},
	{"timing", K_OBJECT, false, timing_fields},
	{"backups", K_OBJECTS, false, backup_fields},
	{"backup", K_OBJECT, false, backup_request_fields},
	{NULL, K_STRING, false, NULL},
};

static const char *const kind_text[] = {
	[K_STRING] = "a string",
	[K_INT] = "an integer",
	[K_BOOL] = "a boolean",
	[K_OBJECT] = "an object",
	[K_OBJECTS] = "an array of objects",
	[K_STRINGS] = "an array of strings",
	[K_MAP] = "an object of objects",
	[K_INT_VALUES] = "an object of integers",
};

struct check {
	size_t removed;
	char *path;
	size_t path_size;
	const char **want;
};

static void report(struct check *c, const char *prefix, const char *name,
		   const char *want)
{
	if (c->removed++ == 0) {
		snprintf(c->path, c->path_size, "%s%s%s", prefix,
			 prefix[0] && name[0] != '[' ? "." : "", name);
		*c->want = want;
	}
}

static bool scalar_ok(const json_t *v, enum kind k)
{
	switch (k) {
	case K_STRING:
		return json_is_string(v);
	case K_INT:
		return json_is_integer(v);
	case K_BOOL:
		return json_is_boolean(v);
	case K_OBJECT:
	case K_MAP:
	case K_INT_VALUES:
		return json_is_object(v);
	case K_OBJECTS:
	case K_STRINGS:
		return json_is_array(v);
	}
	return false;
}

static void check_object(struct check *c, json_t *o, const struct field *f,
			 const char *prefix);

static void join(char *buf, size_t size, const char *prefix, const char *name)
{
	snprintf(buf, size, "%s%s%s", prefix,
		 prefix[0] && name[0] != '[' ? "." : "", name);
}

/* The inside of a container field whose own type is right. */
static void check_inside(struct check *c, json_t *v, const struct field *f,
			 const char *path)
{
	char sub[HEALTHD_FIELD_PATH_MAX], name[48];
	size_t i;
	json_t *e;
	const char *key;
	void *tmp;

	switch (f->kind) {
	case K_OBJECT:
		check_object(c, v, f->children, path);
		break;
	case K_OBJECTS:
	case K_STRINGS:
		for (i = json_array_size(v); i-- > 0;) {
			e = json_array_get(v, i);
			bool ok = f->kind == K_STRINGS ? json_is_string(e)
						       : json_is_object(e);
			snprintf(name, sizeof(name), "[%zu]", i);
			if (!ok) {
				report(c, path, name,
				       f->kind == K_STRINGS ? "a string"
							    : "an object");
				json_array_remove(v, i);
				continue;
			}
			if (f->kind == K_OBJECTS) {
				join(sub, sizeof(sub), path, name);
				check_object(c, e, f->children, sub);
			}
		}
		break;
	case K_MAP:
	case K_INT_VALUES:
		json_object_foreach_safe(v, tmp, key, e)
		{
			bool ok = f->kind == K_MAP ? json_is_object(e)
						   : json_is_integer(e);
			snprintf(name, sizeof(name), "%.40s", key);
			if (!ok) {
				report(c, path, name,
				       f->kind == K_MAP ? "an object"
							: "an integer");
				json_object_del(v, key);
				continue;
			}
			if (f->kind == K_MAP) {
				join(sub, sizeof(sub), path, name);
				check_object(c, e, f->children, sub);
			}
		}
		break;
	default:
		break;
	}
}

static void check_object(struct check *c, json_t *o, const struct field *f,
			 const char *prefix)
{
	char path[HEALTHD_FIELD_PATH_MAX];

	for (; f && f->name; f++) {
		json_t *v = json_object_get(o, f->name);
		if (!v || (f->nullable && json_is_null(v)))
			continue;
		if (!scalar_ok(v, f->kind)) {
			report(c, prefix, f->name, kind_text[f->kind]);
			json_object_del(o, f->name);
			continue;
		}
		join(path, sizeof(path), prefix, f->name);
		check_inside(c, v, f, path);
	}
}

size_t healthd_status_sanitize(json_t *status, char *path, size_t path_size,
			       const char **want)
{
	static const char *unused;
	struct check c = {.path = path,
			  .path_size = path_size,
			  .want = want ? want : &unused};

	if (path_size)
		path[0] = '\0';
	if (json_is_object(status))
		check_object(&c, status, status_fields, "");
	return c.removed;
}
