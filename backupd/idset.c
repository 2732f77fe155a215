/*
 * idset.c - open addressing on the first 8 bytes of an id (idset.h): ids
 * are hashes, so their bytes are already uniform.
 */
#include "idset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t slot(const struct bk_idset *s, const uint8_t id[BK_ID_LEN])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return (size_t)(h & (s->cap - 1));
}

static int grow(struct bk_idset *s)
{
	struct bk_idset n = {.cap = s->cap ? 2 * s->cap : 1024};
	n.ids = malloc(n.cap * BK_ID_LEN);
	n.used = calloc(n.cap, sizeof(bool));
	if (!n.ids || !n.used) {
		free(n.ids);
		free(n.used);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->cap; i++)
		if (s->used[i])
			bk_idset_add(&n, s->ids[i]);
	bk_idset_free(s);
	*s = n;
	return 0;
}

int bk_idset_add(struct bk_idset *s, const uint8_t id[BK_ID_LEN])
{
	if ((s->count + 1) * 4 > s->cap * 3 && grow(s) < 0)
		return -ENOMEM;
	size_t i = slot(s, id);
	while (s->used[i]) {
		if (memcmp(s->ids[i], id, BK_ID_LEN) == 0)
			return 0;
		i = (i + 1) & (s->cap - 1);
	}
	memcpy(s->ids[i], id, BK_ID_LEN);
	s->used[i] = true;
	s->count++;
	return 1;
}

bool bk_idset_has(const struct bk_idset *s, const uint8_t id[BK_ID_LEN])
{
	if (!s->cap)
		return false;
	for (size_t i = slot(s, id); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (memcmp(s->ids[i], id, BK_ID_LEN) == 0)
			return true;
	return false;
}

void bk_idset_free(struct bk_idset *s)
{
	free(s->ids);
	free(s->used);
	memset(s, 0, sizeof(*s));
}
