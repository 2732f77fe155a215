/*
 * support.h - `skyctl snapshot`: one archive an operator can hand over,
 * with what a support engineer asks for first.
 *
 * Inside skyha-snapshot-MODULE-HOST-TIME/: status.json (heartbeatd's status,
 * or why it could not be had), status.txt (the same as skyctl status shows
 * it), journal.txt (the module's journal over the last period), config.yaml
 * (the module file, values of secret-looking keys removed; key and password
 * files are never read), state.txt (the state directory's files: names,
 * sizes, times, never contents), versions.txt, and README.txt saying what
 * each is and what was left out.
 */
#ifndef SKYCTL_SUPPORT_H
#define SKYCTL_SUPPORT_H

#include <jansson.h>
#include <stddef.h>

struct skyctl_snapshot {
	const char *module;
	const char *run_dir;
	const char *config_path; /* default /etc/skyha/MODULE.yaml */
	const char *state_dir;	 /* default /var/lib/skyha */
	const char *output;	 /* the .tar.gz to write; NULL: a name here */
	const char *since;	 /* journalctl --since, default "-1h" */
	const json_t *status;	 /* NULL: status_error says why */
	const char *status_error;
};

/* Write the archive; prints its path on stdout. 0 or -errno, with why. */
/* Can journalctl read since as a --since time? 1 yes, 0 no (it said why
 * on nothing: the caller does), -1 journalctl could not be asked. */
int skyctl_snapshot_since_ok(const char *since);

int skyctl_snapshot_write(const struct skyctl_snapshot *s, char *why,
			  size_t why_size);

/*
 * The module file with the value of every key that looks like a secret
 * (password, passphrase, secret, token, private_key, access_key...: but not
 * "..._file", which names a file) replaced. Line by line, so comments and
 * positions stay; a value spread over several lines (a block scalar) is
 * removed whole. *out malloc'ed. Pure: tests and fuzzers call it.
 */
int skyctl_redact_config(const char *in, size_t len, char **out,
			 size_t *out_len, unsigned *removed);

#endif
