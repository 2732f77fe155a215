/*
 * control.h - the control socket's requests (docs/protocol.md).
 *
 * A request is one frame holding one JSON object of at most SKY_CTL_MSG_MAX
 * bytes. ctl_request_parse() is the whole validator: every field is checked
 * for its JSON type and its allowed values, unknown fields are refused (a
 * misspelt "forse": true must not pass for a plain prim), and the error
 * says which field and why, in the words the client gets back. Pure: no
 * I/O, so a unit test or a fuzzer drives it with any bytes.
 */
#ifndef SKYHA_CONTROL_H
#define SKYHA_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ctl_command {
	CTL_STATUS,
	CTL_SWAP,
	CTL_PRIM,
	CTL_SECOND,
	CTL_STOP,
	CTL_START,
	CTL_FAILOVER,
	CTL_RESYNC,
	CTL_RESTART,  /* the application in place (checkd) */
	CTL_CHECKERS, /* checkd's checkers on or off ("on") */
	CTL_VERIFY,
	CTL_BACKUP, /* a backup run now, by systemd (skyha-backup@.path) */
	CTL_COMMAND_COUNT,
};

/* Every command, as the "unknown command" error lists them. */
#define CTL_COMMAND_LIST                                                       \
	"status, swap, prim, second, stop, start, failover, resync, "          \
	"restart, checkers, verify, backup"

#define CTL_REASON_MAX 256 /* bytes of "reason" */

/*
 * The backup request file, in the module's run directory: systemd's
 * skyha-backup@MODULE.path starts skyha-backup@MODULE.service while it
 * exists, and the service removes it as it starts.
 */
#define CTL_BACKUP_REQUEST_FILE "backup-now"

struct ctl_request {
	enum ctl_command command;
	bool force;	    /* prim only */
	bool discard_local; /* resync: this node's changes go */
	bool full;	    /* resync: compare both copies by hashes */
	bool on;	    /* checkers: true to turn them on */
	bool has_reason;
	/* "reason" as given, control characters replaced by '?' so it
	 * cannot forge a log line. */
	char reason[CTL_REASON_MAX + 1];
};

const char *ctl_command_name(enum ctl_command c);

/*
 * Parse and check one request of len bytes. 0, or -EMSGSIZE (len over
 * SKY_CTL_MSG_MAX: decided from len alone, buf is not read, so a caller
 * may pass only the start of a larger frame) or -EINVAL, with err set to
 * the one-sentence error the reply carries.
 */
int ctl_request_parse(const uint8_t *buf, size_t len, struct ctl_request *out,
		      char *err, size_t err_size);

#endif
