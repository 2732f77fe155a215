/*
 * reload.h - vipd's SIGHUP (reload.c): the nodes' weights applied live.
 */
#ifndef SKYHA_VIPD_RELOAD_H
#define SKYHA_VIPD_RELOAD_H

#include "config.h"
#include "vipcfg.h"

#include <stddef.h>

/* What changed between the configuration in use and the
 * file read again: nothing, the nodes' weights only (what: "node1 1 -> 3,
 * ..."), or anything else (a restart is needed). */
enum {
	VIPD_RELOAD_NONE = 0,
	VIPD_RELOAD_WEIGHTS,
	VIPD_RELOAD_RESTART,
};
int vipd_reload_compare(const struct sky_config *old_mod,
			const struct vipd_cfg *old_cfg,
			const struct sky_config *new_mod,
			const struct vipd_cfg *new_cfg, char *what,
			size_t size);
#endif
