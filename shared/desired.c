/*
 * desired.c - see desired.h.
 */
#include "desired.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define REJECT(...)                                                            \
	do {                                                                   \
		snprintf(why, why_size, __VA_ARGS__);                          \
		return -EINVAL;                                                \
	} while (0)

/* A non-negative integer field: 0 (present) or 1 (absent, if allowed). */
static int get_count(const json_t *msg, const char *key, bool required,
		     json_int_t *out, char *why, size_t why_size)
{
	json_t *v = json_object_get(msg, key);
	if (!v && !required)
		return 1;
	if (!v)
		REJECT("%s: missing", key);
	if (!json_is_integer(v))
		REJECT("%s: not an integer", key);
	if (json_integer_value(v) < 0)
		REJECT("%s: negative (%lld)", key,
		       (long long)json_integer_value(v));
	*out = json_integer_value(v);
	return 0;
}

/* A string field naming this module or node. */
static int check_name(const json_t *msg, const char *key, const char *want,
		      char *why, size_t why_size)
{
	json_t *v = json_object_get(msg, key);
	if (!v)
		REJECT("%s: missing", key);
	if (!json_is_string(v))
		REJECT("%s: not a string", key);
	const char *s = json_string_value(v);
	if (json_string_length(v) > SKY_NAME_MAX ||
	    strlen(s) != json_string_length(v) || strcmp(s, want) != 0)
		REJECT("%s: not for %s %s", key, key, want);
	return 0;
}

/* "members": a farm's serving nodes, distinct valid names, sorted. */
static int parse_members(const json_t *msg, struct sky_desired *out, char *why,
			 size_t why_size)
{
	json_t *m = json_object_get(msg, "members");
	out->member_count = 0;
	if (!m)
		return 0;
	if (!json_is_array(m))
		REJECT("members: not a list");
	if (json_array_size(m) > SKY_DESIRED_MEMBERS_MAX)
		REJECT("members: more than %d", SKY_DESIRED_MEMBERS_MAX);
	for (size_t i = 0; i < json_array_size(m); i++) {
		json_t *e = json_array_get(m, i);
		if (!json_is_string(e) ||
		    !sky_name_valid(json_string_value(e),
				    json_string_length(e)))
			REJECT("members[%zu]: not a node name", i);
		if (i > 0 &&
		    strcmp(json_string_value(e), out->members[i - 1]) <= 0)
			REJECT("members[%zu]: not sorted or repeated", i);
		sky_strlcpy(out->members[i], json_string_value(e),
			    sizeof(out->members[i]));
		out->member_count = i + 1;
	}
	return 0;
}

int sky_desired_parse(const json_t *msg, const char *module, const char *node,
		      enum sky_actuator which, struct sky_desired *out,
		      char *why, size_t why_size)
{
	const char *name = sky_actuator_name(which);
	json_int_t v;
	int r;

	if (!json_is_object(msg))
		REJECT("not a JSON object");
	if (check_name(msg, "module", module, why, why_size) < 0 ||
	    check_name(msg, "node", node, why, why_size) < 0)
		return -EINVAL;

	json_t *role = json_object_get(msg, "role");
	if (!json_is_string(role))
		REJECT("role: %s", role ? "not a string" : "missing");
	if (json_string_length(role) > 8 ||
	    sky_role_parse(json_string_value(role), &out->role) < 0)
		REJECT("role: unknown");

	if (get_count(msg, "epoch", true, &v, why, why_size) < 0)
		return -EINVAL;
	out->epoch = (uint64_t)v;
	/* Not used by actuators, but typed as documented. */
	if (get_count(msg, "generation", false, &v, why, why_size) < 0)
		return -EINVAL;

	/* Absent: an older heartbeatd; see struct sky_desired. */
	r = get_count(msg, "valid_ms", false, &v, why, why_size);
	if (r < 0)
		return -EINVAL;
	if (r == 0 && (v < 1 || v > SKY_DESIRED_VALID_MAX_MS))
		REJECT("valid_ms: %lld out of range 1..%d", (long long)v,
		       SKY_DESIRED_VALID_MAX_MS);
	out->valid_ms = r == 0 ? (int64_t)v : 0;
	r = get_count(msg, "sent_ms", false, &v, why, why_size);
	if (r < 0)
		return -EINVAL;
	out->sent_ms = r == 0 ? (int64_t)v : 0;

	if (parse_members(msg, out, why, why_size) < 0)
		return -EINVAL;

	static const char *const flags[] = {"ack_alone", "discard_local",
					    "checkers"};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(flags); i++) {
		json_t *f = json_object_get(msg, flags[i]);
		if (f && !json_is_boolean(f))
			REJECT("%s: not a boolean", flags[i]);
	}
	out->checkers_off = json_is_false(json_object_get(msg, "checkers"));
	r = get_count(msg, "app_restart", false, &v, why, why_size);
	if (r < 0)
		return -EINVAL;
	out->app_restart = r == 0 ? (int64_t)v : 0;

	json_t *targets = json_object_get(msg, "targets");
	if (!json_is_object(targets))
		REJECT("targets: %s", targets ? "not an object" : "missing");
	json_t *t = json_object_get(targets, name);
	out->target = NULL;
	if (!t || json_is_null(t))
		return 0;
	if (!json_is_string(t))
		REJECT("targets.%s: not a string or null", name);
	const char *s = json_string_value(t);
	/* Only a value heartbeatd can ask of this actuator, as the static
	 * string, so callers compare pointers or strings alike. */
	for (int k = 0; k < SKY_ROLE_COUNT; k++) {
		const char *want = sky_actuator_target(which, (enum sky_role)k);
		if (strlen(s) == json_string_length(t) &&
		    strcmp(s, want) == 0) {
			out->target = want;
			return 0;
		}
	}
	REJECT("targets.%s: not a target of %s", name, name);
}

void sky_desired_lease_renew(struct sky_desired_lease *l,
			     enum sky_actuator which,
			     const struct sky_desired *d, int64_t now)
{
	const char *serve = sky_actuator_target(which, SKY_ROLE_PRIM);
	if (!l->silenced && sky_desired_lease_expired(l, now)) {
		l->silenced = true;
		l->silent_ms = now - l->heard_ms;
	}
	/* Counted from its publication: a word that waited in our socket
	 * while this process was stopped is as old as it is. A time from
	 * the future is not this host's clock: count from receipt. */
	int64_t sent = d->sent_ms > 0 && d->sent_ms <= now ? d->sent_ms : now;
	l->heard_ms = sent;
	l->deadline_ms = sent + d->valid_ms;
	l->serving = d->target && strcmp(d->target, serve) == 0;
	l->role_serves = sky_role_serves(d->role);
	l->legacy = d->valid_ms == 0;
	if (l->serving && !l->legacy && now >= l->deadline_ms) {
		/* Stale on arrival: as if it had expired waiting. */
		if (!l->silenced) {
			l->silenced = true;
			l->silent_ms = now - sent;
		}
	} else if (!l->serving || l->role_serves)
		l->silenced = false;
}

bool sky_desired_lease_expired(const struct sky_desired_lease *l, int64_t now)
{
	return l->heard_ms && l->serving &&
	       (l->silenced || now >= l->deadline_ms);
}

void sky_desired_lease_why(const struct sky_desired_lease *l, int64_t now,
			   char *buf, size_t size)
{
	if (l->legacy)
		snprintf(buf, size,
			 "heartbeatd's desired state carries no valid_ms (a "
			 "heartbeatd older than this daemon)");
	else if (l->silenced)
		snprintf(buf, size,
			 "heartbeatd was silent for %lld ms and no longer "
			 "serves",
			 (long long)l->silent_ms);
	else
		snprintf(buf, size, "heartbeatd silent for %lld ms",
			 (long long)(now - l->heard_ms));
}
