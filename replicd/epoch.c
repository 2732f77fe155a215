/*
 * epoch.c - see epoch.h.
 */
#include "epoch.h"
#include "op.h"

#include <errno.h>
#include <string.h>

void replicd_epoch_gate_start(struct replicd_epoch_gate *g, bool fenced)
{
	memset(g, 0, sizeof(*g));
	g->fenced = fenced;
}

int replicd_epoch_check(struct replicd_epoch_gate *g, uint64_t known,
			uint8_t type, uint64_t said)
{
	if (type == ROP_EPOCH) {
		if (!g->fenced)
			return -EPROTO; /* never offered: not its protocol */
		if (g->have && said < g->epoch)
			return -EPROTO; /* an epoch never goes back */
		g->have = true;
		g->epoch = said;
	} else if (!g->fenced) {
		return 0; /* an older primary: unfenced, as before */
	} else if (!g->have) {
		return -EPERM; /* the epoch comes first */
	}
	return replicd_epoch_stale(g, known) ? -ESTALE : 0;
}

bool replicd_epoch_stale(const struct replicd_epoch_gate *g, uint64_t known)
{
	return g->fenced && g->have && g->epoch < known;
}
