/*
 * modules.c - the module table and the health decision (see modules.h).
 *
 * Status objects come from another process and are hostile input: the
 * fields the decision rests on (module, node.role, node.serving) must have
 * the right type and size or the whole message is refused; the transition
 * fields are optional and bounded. Everything else is kept as received for
 * /status, which re-encodes it (jansson), so it cannot break the JSON,
 * once the fields healthd reads have been checked for their type
 * (schema.h: a wrong one is removed and counted).
 */
#include "modules.h"

#include <errno.h>
#include <string.h>

const char *healthd_verdict_text(enum healthd_verdict v)
{
	switch (v) {
	case HEALTHD_OK:
		return "serving";
	case HEALTHD_NO_STATUS:
		return "no status from heartbeatd yet";
	case HEALTHD_DISCONNECTED:
		return "heartbeatd not connected";
	case HEALTHD_STALE:
		return "stale status";
	case HEALTHD_NOT_SERVING:
		return "not serving";
	}
	return "?";
}

enum healthd_verdict healthd_module_health(const struct healthd_module *m,
					   int64_t now_ms)
{
	if (!m->connected)
		return m->status ? HEALTHD_DISCONNECTED : HEALTHD_NO_STATUS;
	if (!m->status || !m->status_current)
		return HEALTHD_NO_STATUS;
	if (now_ms - m->received_ms >= HEALTHD_STALE_MS ||
	    now_ms < m->received_ms)
		return HEALTHD_STALE;
	if (!m->serving)
		return HEALTHD_NOT_SERVING;
	if (strcmp(m->type, "mirror") == 0 && strcmp(m->role, "PRIM") != 0 &&
	    strcmp(m->role, "ALONE") != 0)
		return HEALTHD_NOT_SERVING;
	return HEALTHD_OK;
}

struct healthd_module *healthd_table_find(const struct healthd_table *t,
					  const char *name)
{
	size_t lo = 0, hi = t->count;

	if (!name || !sky_name_valid(name, strnlen(name, SKY_NAME_MAX + 1)))
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, t->mods[mid]->name);
		if (c == 0)
			return t->mods[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int healthd_table_add(struct healthd_table *t, const char *name,
		      struct healthd_module **out)
{
	struct healthd_module *m;
	size_t pos = 0;

	if (!name || !sky_name_valid(name, strnlen(name, SKY_NAME_MAX + 1)))
		return -EINVAL;
	m = healthd_table_find(t, name);
	if (m) {
		*out = m;
		return -EEXIST;
	}
	if (t->count >= HEALTHD_MODULES_MAX)
		return -ENOSPC;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	sky_strlcpy(m->name, name, sizeof(m->name));
	while (pos < t->count && strcmp(t->mods[pos]->name, name) < 0)
		pos++;
	memmove(&t->mods[pos + 1], &t->mods[pos],
		(t->count - pos) * sizeof(t->mods[0]));
	t->mods[pos] = m;
	t->count++;
	*out = m;
	return 0;
}

void healthd_table_remove(struct healthd_table *t, struct healthd_module *m)
{
	for (size_t i = 0; i < t->count; i++) {
		if (t->mods[i] != m)
			continue;
		memmove(&t->mods[i], &t->mods[i + 1],
			(t->count - i - 1) * sizeof(t->mods[0]));
		t->count--;
		json_decref(m->status);
		free(m);
		return;
	}
}

void healthd_table_clear(struct healthd_table *t)
{
	while (t->count > 0)
		healthd_table_remove(t, t->mods[t->count - 1]);
}

bool healthd_table_all_heard(const struct healthd_table *t)
{
	for (size_t i = 0; i < t->count; i++)
		if (!t->mods[i]->status || !t->mods[i]->status_current)
			return false;
	return true;
}

void healthd_module_connected(struct healthd_module *m)
{
	m->connected = true;
}

void healthd_module_disconnected(struct healthd_module *m)
{
	if (m->connected)
		m->disconnects++;
	m->connected = false;
	/* What the old connection said is history now: shown, never OK. */
	m->status_current = false;
}

/*
 * Copy a JSON string of at most size-1 bytes; -EBADMSG if it is not a
 * string, has a NUL, or is longer (fields the decision rests on are never
 * cut short).
 */
static int copy_word(const json_t *v, char *buf, size_t size)
{
	if (!json_is_string(v))
		return -EBADMSG;
	size_t len = json_string_length(v);
	if (len == 0 || len >= size || memchr(json_string_value(v), 0, len))
		return -EBADMSG;
	memcpy(buf, json_string_value(v), len);
	buf[len] = '\0';
	return 0;
}

/* Copy display text, cut on a UTF-8 character boundary; "" if absent. */
static void copy_text(const json_t *v, char *buf, size_t size)
{
	const char *s = json_string_value(v);
	size_t len = s ? strnlen(s, size) : 0;

	if (len >= size) {
		len = size - 1;
		/* Back off continuation bytes so the cut stays valid UTF-8. */
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	if (len)
		memcpy(buf, s, len);
	buf[len] = '\0';
}

static void note_transition(struct healthd_module *m, const json_t *tr)
{
	struct healthd_transition t = {0};

	if (!json_is_object(tr))
		return;
	copy_text(json_object_get(tr, "from"), t.from, sizeof(t.from));
	copy_text(json_object_get(tr, "to"), t.to, sizeof(t.to));
	copy_text(json_object_get(tr, "at"), t.at, sizeof(t.at));
	copy_text(json_object_get(tr, "reason"), t.reason, sizeof(t.reason));
	if (!t.to[0])
		return;
	if (m->history_count > 0) {
		const struct healthd_transition *last =
			&m->history[m->history_count - 1];
		if (strcmp(last->from, t.from) == 0 &&
		    strcmp(last->to, t.to) == 0 &&
		    strcmp(last->at, t.at) == 0 &&
		    strcmp(last->reason, t.reason) == 0)
			return;
		m->transitions++;
	}
	if (m->history_count == HEALTHD_HISTORY_MAX) {
		memmove(&m->history[0], &m->history[1],
			(HEALTHD_HISTORY_MAX - 1) * sizeof(m->history[0]));
		m->history_count--;
	}
	m->history[m->history_count++] = t;
}

int healthd_module_on_message(struct healthd_module *m, const char *topic,
			      json_t **obj, int64_t now_ms)
{
	char want[SKY_TOPIC_MAX], role[HEALTHD_WORD_MAX],
		type[HEALTHD_WORD_MAX] = "mirror";
	json_t *o = *obj, *node, *serving, *module, *t;

	*obj = NULL;
	if (sky_bus_topic(want, sizeof(want), m->name, "heartbeatd",
			  SKY_KIND_STATUS) < 0 ||
	    !topic || strcmp(topic, want) != 0)
		goto bad;
	if (!json_is_object(o))
		goto bad;
	module = json_object_get(o, "module");
	if (!json_is_string(module) ||
	    strcmp(json_string_value(module), m->name) != 0)
		goto bad;
	node = json_object_get(o, "node");
	if (!json_is_object(node))
		goto bad;
	serving = json_object_get(node, "serving");
	if (!json_is_boolean(serving) ||
	    copy_word(json_object_get(node, "role"), role, sizeof(role)) < 0)
		goto bad;
	t = json_object_get(o, "type");
	if (t && copy_word(t, type, sizeof(type)) < 0)
		goto bad;
	if (!m->connected) {
		m->ignored++;
		json_decref(o);
		return -ENOTCONN;
	}

	char field[HEALTHD_FIELD_PATH_MAX];
	const char *field_type = NULL;
	size_t removed =
		healthd_status_sanitize(o, field, sizeof(field), &field_type);
	if (removed) {
		m->bad_fields += removed;
		sky_strlcpy(m->bad_field, field, sizeof(m->bad_field));
		m->bad_field_want = field_type;
	}
	json_decref(m->status);
	m->status = o;
	m->status_current = true;
	m->received_ms = now_ms;
	m->serving = json_is_true(serving);
	sky_strlcpy(m->role, role, sizeof(m->role));
	sky_strlcpy(m->type, type, sizeof(m->type));
	m->messages++;
	note_transition(m, json_object_get(o, "transition"));
	return 0;
bad:
	m->bad_messages++;
	json_decref(o);
	return -EBADMSG;
}
