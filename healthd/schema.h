/*
 * schema.h - the JSON types of the fields of heartbeatd's status object
 * that healthd reads (docs/protocol.md, "Status object"), checked when a
 * status arrives. Pure: no I/O, unit-tested with hostile objects.
 *
 * The fields the health decision rests on (module, type, node.role,
 * node.serving) are checked by modules.c, which refuses the whole message
 * when one is wrong. Every other field is display or metrics: one with a
 * wrong type is removed from the object (so /status and /metrics never
 * show it), counted and reported, and the rest of the status is kept.
 * Fields healthd does not read are kept as they are.
 */
#ifndef HEALTHD_SCHEMA_H
#define HEALTHD_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#define HEALTHD_FIELD_PATH_MAX 96

/*
 * Remove every field of status whose type is wrong. Returns how many were
 * removed; the path of the first ("peer.networks[1].up") and what it
 * should have been ("a boolean") go in path and want.
 */
size_t healthd_status_sanitize(json_t *status, char *path, size_t path_size,
			       const char **want);

#endif
