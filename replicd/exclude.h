/*
 * exclude.h - replicd.exclude: paths inside the replicated directories that
 * are not replicated, tracked, resynced nor compared (docs/replication.md,
 * "Exclusions").
 *
 * A pattern is matched against a path relative to each replicated
 * directory ("logs/app.log"); a path is excluded when the pattern matches
 * it or one of its parent directories, so excluding a directory excludes
 * everything under it. Syntax (a subset of gitignore's, no negation):
 *
 *   - components are separated by '/'; a trailing '/' is allowed and only
 *     documents that a directory is meant (it matches any entry of that
 *     name: the FUSE layer does not stat every path to learn its type);
 *   - a pattern without '/' (but a trailing one) matches a name at any
 *     depth ("*.swp", "tmp/"); with a '/' it is anchored at the
 *     replicated directory ("cache/" "**", "/run", "var/tmp");
 *   - in a component: '*' any characters (a leading '.' included), '?'
 *     one character, "[a-z]" / "[!0-9]" a class, '\' quotes the next
 *     character; "**" as a whole component: zero or more components.
 *
 * Refused (file:line:column and why): empty, longer than 255 bytes, more
 * than 16 components, an empty, "." or ".." component, "**" inside a
 * component, an unterminated class or a trailing '\', and a pattern that
 * matches every path ("**", "*"). Matching is by our own matcher, bounded
 * (O(pattern x name) per component, never exponential), not fnmatch(3).
 * Pure: no I/O.
 */
#ifndef REPLICD_EXCLUDE_H
#define REPLICD_EXCLUDE_H

#include "op.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLICD_EXCLUDE_MAX	   64
#define REPLICD_EXCLUDE_LEN	   256 /* bytes of a pattern, NUL included */
#define REPLICD_EXCLUDE_COMPONENTS 16

struct replicd_exclude_pattern {
	char shown[REPLICD_EXCLUDE_LEN]; /* as configured */
	char comps[REPLICD_EXCLUDE_LEN]; /* components, each NUL-ended */
	uint16_t off[REPLICD_EXCLUDE_COMPONENTS];
	uint8_t count;
	bool floating; /* no '/': a name at any depth */
};

struct replicd_exclude {
	size_t count;
	struct replicd_exclude_pattern pat[REPLICD_EXCLUDE_MAX];
};

/*
 * Compile one pattern of len bytes. On error returns -EINVAL, with *why
 * a static explanation and *at the 0-based byte of the pattern at fault.
 */
int replicd_exclude_compile(const char *text, size_t len,
			    struct replicd_exclude_pattern *out,
			    const char **why, size_t *at);
/* Is path (relative, as on the wire; "" is the directory itself, never
 * excluded) or one of its parents matched by a pattern of ex? */
bool replicd_exclude_match(const struct replicd_exclude *ex, const char *path);

/* What the primary does with a write-type operation (op.h). */
enum replicd_exclude_verdict {
	REPLICD_EX_SEND = 0,   /* replicated as usual */
	REPLICD_EX_LOCAL = 1,  /* excluded: applied here only */
	REPLICD_EX_REMOVE = 2, /* a rename out of the replicated paths:
				  applied here, the peer removes path */
};
/* The verdict for op, or -EXDEV for a rename or link from an excluded
 * path to a replicated one, or across the boundary either way for a link
 * or an exchange. ex may be NULL (nothing excluded). */
int replicd_exclude_op(const struct replicd_exclude *ex,
		       const struct replicd_op *op);

#endif
