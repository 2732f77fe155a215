/*
 * exclude.c - replicd.exclude's patterns: compiling, matching a path, and
 * what the primary does with an operation on an excluded path (exclude.h).
 */
#include "exclude.h"

#include <errno.h>
#include <string.h>

/* A class "[...]" at p (p[0] == '['), n bytes left: its length including
 * the ']', or 0 if unterminated. */
static size_t class_len(const char *p, size_t n)
{
	size_t i = 1;
	if (i < n && (p[i] == '!' || p[i] == '^'))
		i++;
	if (i < n && p[i] == ']')
		i++; /* a ']' first is a member */
	for (; i < n; i++) {
		if (p[i] == '\\') {
			i++;
			continue;
		}
		if (p[i] == ']')
			return i + 1;
	}
	return 0;
}

/* Does c belong to the class p[0..len) ("[...]", checked by class_len)? */
static bool class_has(const char *p, size_t len, unsigned char c)
{
	size_t i = 1, end = len - 1; /* p[end] is the closing ']' */
	bool neg = false, found = false;
	if (p[i] == '!' || p[i] == '^') {
		neg = true;
		i++;
	}
	while (i < end) {
		unsigned char lo = (unsigned char)p[i];
		if (lo == '\\' && i + 1 < end)
			lo = (unsigned char)p[++i];
		i++;
		unsigned char hi = lo;
		if (i + 1 < end && p[i] == '-') {
			i++;
			hi = (unsigned char)p[i];
			if (hi == '\\' && i + 1 < end)
				hi = (unsigned char)p[++i];
			i++;
		}
		if (c >= lo && c <= hi)
			found = true;
	}
	return found != neg;
}

/*
 * One component: pattern p (NUL-ended) against name s[0..n). The classic
 * single-backtrack wildcard match: on a mismatch after a '*', the '*'
 * takes one more character. O(|p| x n), no recursion.
 */
static bool glob_match(const char *p, const char *s, size_t n)
{
	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
	size_t plen = strlen(p);
	while (si < n) {
		if (pi < plen && p[pi] == '*') {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < plen) {
			unsigned char c = (unsigned char)s[si];
			if (p[pi] == '?') {
				pi++, si++;
				continue;
			}
			size_t cl =
				p[pi] == '[' ? class_len(p + pi, plen - pi) : 0;
			if (cl) {
				if (class_has(p + pi, cl, c)) {
					pi += cl, si++;
					continue;
				}
			} else {
				size_t q = p[pi] == '\\' ? pi + 1 : pi;
				if (q < plen && (unsigned char)p[q] == c) {
					pi = q + 1, si++;
					continue;
				}
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

int replicd_exclude_compile(const char *text, size_t len,
			    struct replicd_exclude_pattern *out,
			    const char **why, size_t *at)
{
	memset(out, 0, sizeof(*out));
	*at = 0;
	if (len == 0) {
		*why = "is empty";
		return -EINVAL;
	}
	if (len >= REPLICD_EXCLUDE_LEN) {
		*why = "is longer than 255 bytes";
		*at = REPLICD_EXCLUDE_LEN - 1;
		return -EINVAL;
	}
	if (memchr(text, '\0', len)) {
		*why = "contains a NUL byte";
		*at = (size_t)((const char *)memchr(text, '\0', len) - text);
		return -EINVAL;
	}
	memcpy(out->shown, text, len);
	size_t start = 0, end = len;
	bool anchored = false;
	if (text[0] == '/') {
		anchored = true;
		start = 1;
	}
	if (end > start && text[end - 1] == '/')
		end--;
	if (end <= start) {
		*why = "names the replicated directory itself";
		return -EINVAL;
	}
	size_t w = 0, i = start;
	while (i <= end) {
		size_t c0 = i;
		while (i < end && text[i] != '/') {
			if (text[i] == '\\') {
				if (i + 1 >= end) {
					*why = "ends with a '\\'";
					*at = i;
					return -EINVAL;
				}
				i += 2;
				continue;
			}
			if (text[i] == '[') {
				size_t cl = class_len(text + i, end - i);
				if (cl == 0 || memchr(text + i, '/', cl)) {
					*why = "has a '[' class without its "
					       "']'";
					*at = i;
					return -EINVAL;
				}
				i += cl;
				continue;
			}
			i++;
		}
		size_t cl = i - c0;
		if (i < end)
			anchored = true; /* a '/' inside */
		if (cl == 0 || (cl == 1 && text[c0] == '.') ||
		    (cl == 2 && text[c0] == '.' && text[c0 + 1] == '.')) {
			*why = "has an empty, '.' or '..' component";
			*at = c0;
			return -EINVAL;
		}
		bool dstar = cl == 2 && text[c0] == '*' && text[c0 + 1] == '*';
		for (size_t k = c0; !dstar && k + 1 < i; k++) {
			if (text[k] == '\\') {
				k++;
				continue;
			}
			if (text[k] == '*' && text[k + 1] == '*') {
				*why = "has '**' inside a component ('**' "
				       "must be a whole component)";
				*at = k;
				return -EINVAL;
			}
		}
		if (out->count == REPLICD_EXCLUDE_COMPONENTS) {
			*why = "has more than 16 components";
			*at = c0;
			return -EINVAL;
		}
		out->off[out->count++] = (uint16_t)w;
		memcpy(out->comps + w, text + c0, cl);
		w += cl;
		out->comps[w++] = '\0';
		i++; /* past the '/' (or end) */
	}
	out->floating = !anchored;
	bool all_dstar = true;
	for (size_t k = 0; k < out->count; k++)
		if (strcmp(out->comps + out->off[k], "**") != 0)
			all_dstar = false;
	if (all_dstar || (out->floating && strcmp(out->comps, "*") == 0)) {
		*why = "matches every path (exclude nothing, or replicate "
		       "fewer directories instead)";
		return -EINVAL;
	}
	return 0;
}

#define PATH_COMPONENTS_MAX (REPLICD_PATH_MAX / 2 + 1)

/* Anchored: does the pattern match path's first j components, some j? */
static bool anchored_match(const struct replicd_exclude_pattern *pat,
			   const char *const *name, const size_t *nlen,
			   size_t n, bool *cur, bool *next)
{
	memset(cur, 0, (n + 1) * sizeof(*cur));
	cur[0] = true;
	for (size_t i = 0; i < pat->count; i++) {
		const char *pc = pat->comps + pat->off[i];
		bool any = false;
		if (strcmp(pc, "**") == 0) {
			bool acc = false;
			for (size_t j = 0; j <= n; j++) {
				acc = acc || cur[j];
				next[j] = acc;
				any = any || acc;
			}
		} else {
			next[0] = false;
			for (size_t j = 1; j <= n; j++) {
				next[j] = cur[j - 1] &&
					  glob_match(pc, name[j - 1],
						     nlen[j - 1]);
				any = any || next[j];
			}
		}
		if (!any)
			return false;
		bool *t = cur;
		cur = next;
		next = t;
	}
	for (size_t j = 1; j <= n; j++)
		if (cur[j])
			return true;
	return false;
}

bool replicd_exclude_match(const struct replicd_exclude *ex, const char *path)
{
	const char *name[PATH_COMPONENTS_MAX];
	size_t nlen[PATH_COMPONENTS_MAX];
	bool a[PATH_COMPONENTS_MAX + 1], b[PATH_COMPONENTS_MAX + 1];
	size_t n = 0;

	if (!ex || ex->count == 0 || !path || !*path)
		return false;
	for (const char *p = path; *p && n < PATH_COMPONENTS_MAX;) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l > 0) {
			name[n] = p;
			nlen[n++] = l;
		}
		p += l + (e ? 1 : 0);
	}
	for (size_t k = 0; k < ex->count; k++) {
		const struct replicd_exclude_pattern *pat = &ex->pat[k];
		if (pat->floating) {
			for (size_t j = 0; j < n; j++)
				if (glob_match(pat->comps, name[j], nlen[j]))
					return true;
		} else if (anchored_match(pat, name, nlen, n, a, b)) {
			return true;
		}
	}
	return false;
}

int replicd_exclude_op(const struct replicd_exclude *ex,
		       const struct replicd_op *op)
{
	if (!ex || ex->count == 0 || !op->path || !*op->path)
		return REPLICD_EX_SEND;
	bool from = replicd_exclude_match(ex, op->path);
	if (op->type == ROP_RENAME || op->type == ROP_LINK) {
		bool to = replicd_exclude_match(ex, op->path2);
		if (from == to)
			return from ? REPLICD_EX_LOCAL : REPLICD_EX_SEND;
		/* Into the replicated paths: the peer would need the whole
		 * file, or the whole tree; a link or an exchange would tie
		 * a replicated name to an excluded one. As across file
		 * systems: tools copy instead. */
		if (op->type == ROP_LINK || from ||
		    (op->flags & ROP_RENAME_EXCHANGE))
			return -EXDEV;
		return REPLICD_EX_REMOVE;
	}
	return from ? REPLICD_EX_LOCAL : REPLICD_EX_SEND;
}
