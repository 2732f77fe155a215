/*
 * modules.h - what healthd knows about each module of the node, and the one
 * decision it exists for: should this node get the module's traffic?
 *
 * A module's state is fed from heartbeatd's status publication
 * (MODULE.heartbeatd.status, docs/protocol.md) and from the bus connection
 * events; nothing here does I/O, so unit tests drive it with a fake clock.
 *
 * The answer is OK only when all of these hold:
 *   - a status has been received on the current bus connection (a status
 *     that arrived before heartbeatd went away never counts again);
 *   - the bus connection to heartbeatd is up (heartbeatd killed = NOK at
 *     once, not three seconds later);
 *   - the status is younger than HEALTHD_STALE_MS (three publication
 *     periods: a hung heartbeatd stops saying OK by itself);
 *   - node.serving is true, and for a mirror module the role is PRIM or
 *     ALONE as well (belt and braces: serving implies it).
 * Stale state never says OK.
 */
#ifndef HEALTHD_MODULES_H
#define HEALTHD_MODULES_H

#include "bus.h"
#include "schema.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define HEALTHD_MODULES_MAX 64
#define HEALTHD_HISTORY_MAX 16
#define HEALTHD_STALE_MS    (3 * SKY_PUBLISH_PERIOD_MS)
#define HEALTHD_WORD_MAX    16	/* role, module type: "SECOND", "mirror" */
#define HEALTHD_AT_MAX	    40	/* "2026-11-23T12:03:55Z" */
#define HEALTHD_REASON_MAX  256 /* a transition reason, in words */

/* One role change, as heartbeatd's status described it. */
struct healthd_transition {
	char from[HEALTHD_WORD_MAX];
	char to[HEALTHD_WORD_MAX];
	char at[HEALTHD_AT_MAX];
	char reason[HEALTHD_REASON_MAX];
};

struct healthd_module {
	char name[SKY_NAME_MAX + 1];
	bool explicit_module; /* from --module: never forgotten */

	/* The bus side (sub.c owns these ZeroMQ sockets). */
	void *sub;
	void *monitor;
	bool connected; /* the connection to heartbeatd's PUB socket is up */

	/* The last accepted status object and what was read from it. */
	json_t *status;	     /* NULL before the first one */
	bool status_current; /* received on the current connection */
	int64_t received_ms; /* monotonic */
	char role[HEALTHD_WORD_MAX];
	char type[HEALTHD_WORD_MAX];
	bool serving;

	/* Recent transitions, oldest first, at most HEALTHD_HISTORY_MAX. */
	struct healthd_transition history[HEALTHD_HISTORY_MAX];
	size_t history_count;
	uint64_t transitions; /* changes observed since healthd started */

	/* Counters for /metrics. */
	uint64_t messages;     /* statuses accepted */
	uint64_t bad_messages; /* malformed, wrong topic or module */
	uint64_t bad_fields;   /* display fields of a wrong type, removed */
	char bad_field[HEALTHD_FIELD_PATH_MAX]; /* the last one's path */
	const char *bad_field_want;		/* and its type */
	uint64_t ignored;     /* arrived while disconnected: dropped */
	uint64_t disconnects; /* heartbeatd went away */
	bool logged_ok;	      /* the last answer main.c logged was OK */
};

/* Modules, kept sorted by name. */
struct healthd_table {
	struct healthd_module *mods[HEALTHD_MODULES_MAX];
	size_t count;
};

enum healthd_verdict {
	HEALTHD_OK = 0,
	HEALTHD_NO_STATUS,    /* nothing heard on this connection yet */
	HEALTHD_DISCONNECTED, /* heartbeatd is not connected */
	HEALTHD_STALE,	      /* the last status is too old */
	HEALTHD_NOT_SERVING,  /* heartbeatd says this node does not serve */
};

/* A short phrase for logs, headers and /status ("stale status"). */
const char *healthd_verdict_text(enum healthd_verdict v);

/* Should this node get the module's traffic now? */
enum healthd_verdict healthd_module_health(const struct healthd_module *m,
					   int64_t now_ms);

/* Lookup by name (NULL if unknown); the name is not trusted. */
struct healthd_module *healthd_table_find(const struct healthd_table *t,
					  const char *name);
/*
 * Add a module (zeroed, name set) and return it in *out; -EEXIST with *out
 * set when it is already known, -EINVAL for a bad name, -ENOSPC when the
 * table is full, -ENOMEM.
 */
int healthd_table_add(struct healthd_table *t, const char *name,
		      struct healthd_module **out);
/* Remove and free a module; its sockets must be closed already. */
void healthd_table_remove(struct healthd_table *t, struct healthd_module *m);
void healthd_table_clear(struct healthd_table *t);

/* Has every module a status from its current connection? */
bool healthd_table_all_heard(const struct healthd_table *t);

/* The bus connection to heartbeatd came up or went away. */
void healthd_module_connected(struct healthd_module *m);
void healthd_module_disconnected(struct healthd_module *m);

/*
 * One message from the module's bus: topic and JSON object (ownership of
 * obj passes to the module, which keeps or frees it). Returns 0 when the
 * status was accepted, -EBADMSG when it was malformed or not this module's
 * status (counted), -ENOTCONN when it arrived while disconnected (dropped).
 * An accepted status loses its fields of a wrong type (schema.h): counted
 * in bad_fields, the last one named in bad_field.
 */
int healthd_module_on_message(struct healthd_module *m, const char *topic,
			      json_t **obj, int64_t now_ms);

#endif
