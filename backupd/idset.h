/*
 * idset.h - a set of blob ids (verify and prune walk every snapshot's
 * trees once, whatever is shared between them).
 */
#ifndef BACKUPD_IDSET_H
#define BACKUPD_IDSET_H

#include "crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bk_idset {
	uint8_t (*ids)[BK_ID_LEN];
	bool *used;
	size_t cap, count;
};

/* 1: added, 0: was there, -ENOMEM. */
int bk_idset_add(struct bk_idset *s, const uint8_t id[BK_ID_LEN]);
bool bk_idset_has(const struct bk_idset *s, const uint8_t id[BK_ID_LEN]);
void bk_idset_free(struct bk_idset *s);

#endif
