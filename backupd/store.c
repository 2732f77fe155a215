/*
 * store.c - what every backend shares: the name rule, opening by kind,
 * closing.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool bk_store_name_ok(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > BK_NAME_MAX || name[0] == '/' ||
	    name[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			  c == '-' || c == '/';
		if (!ok)
			return false;
		if (c == '/' && name[i + 1] == '/')
			return false;
	}
	/* No "." or ".." segment: a name never leaves the target. */
	for (const char *seg = name; seg; seg = strchr(seg, '/')) {
		if (*seg == '/')
			seg++;
		size_t n = strcspn(seg, "/");
		if ((n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
	}
	return true;
}

int bk_store_refuse_name(struct bk_store *s, const char *name)
{
	snprintf(s->reason, sizeof(s->reason), "bad object name \"%.64s\"",
		 name ? name : "");
	return -EINVAL;
}

int bk_store_open(const struct bk_target_cfg *t, struct bk_store **out,
		  char *why, size_t why_size)
{
	switch (t->kind) {
	case BK_TARGET_DIR:
		return bk_store_dir_open(t, out, why, why_size);
	case BK_TARGET_S3:
		return bk_store_s3_open(t, out, why, why_size);
	case BK_TARGET_AZURE:
		return bk_store_azure_open(t, out, why, why_size);
	}
	snprintf(why, why_size, "target %s: unknown kind", t->name);
	return -EINVAL;
}

void bk_store_close(struct bk_store **s)
{
	if (*s) {
		(*s)->ops->close(*s);
		*s = NULL;
	}
}
