/*
 * verify.h - `skyctl verify` and `skyctl resync --full` in replicd
 * (docs/replication.md, "Verify and repair").
 *
 * heartbeatd's desired state carries "verify": ID (and "resync_full":
 * ID) for a few seconds after the operator's command; replicd on the
 * primary acts once per ID. A verify, only while the peer is in sync:
 *
 *   1. the primary sends ROP_VERIFY; the secondary walks its copy as for
 *      a resync without a record (manifest.h, excluded paths left out,
 *      under replicd.verify_max_bytes_per_s) and sends it back as
 *      ROP_VERIFY_HASHES, then ROP_VERIFY_END; live operations keep
 *      flowing and being applied meanwhile;
 *   2. the primary runs the hash comparison of resync.c against it, with
 *      verify_diff.h collecting what it would send instead of sending it
 *      (under the same cap, holding the order lock during each step as a
 *      resync does), and notes every live operation sent meanwhile;
 *   3. findings at paths changed during the verify are counted apart;
 *      the rest are differences: logged, and published in the actual
 *      state's "verify" (the first 100). Nothing is changed on either
 *      side.
 *
 * A session that ends, or a role change, aborts the verify (published as
 * such). resync --full: the primary ends the session, and the next one
 * compares both copies by hashes whatever the change records say, and
 * sends what differs (the resync without a record).
 */
#ifndef REPLICD_VERIFY_H
#define REPLICD_VERIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct replicd;
struct replicd_op;
struct replicd_verify;

int replicd_verify_new(struct replicd_verify **out);
void replicd_verify_free(struct replicd_verify **v);
/* heartbeatd's desired state (after the role was taken from it). */
void replicd_verify_desired(struct replicd *d, const json_t *msg);
/* Each loop: start, step, throttle, abort or finish (both roles). */
void replicd_verify_pump(struct replicd *d, int64_t now);
/* Primary: an encoded operation the loop hands to the connection. */
void replicd_verify_note_item(struct replicd *d, const uint8_t *buf,
			      size_t len);
/* Primary: ROP_VERIFY_HASHES / ROP_VERIFY_END from the secondary. */
int replicd_verify_on_frame(struct replicd *d, const struct replicd_op *op);
/* Secondary: ROP_VERIFY from the primary. */
int replicd_verify_on_request(struct replicd *d);
/* Primary: take resync --full's word (true once per request). */
bool replicd_verify_take_full(struct replicd *d);
/* The published "verify" object (bus.h). */
json_t *replicd_verify_json(const struct replicd *d);

#endif
