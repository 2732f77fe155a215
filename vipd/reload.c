/*
 * reload.c - vipd's SIGHUP (systemctl reload): the module file is read and
 * validated again. A change of the nodes' weights alone is applied live:
 * in bucket mode the buckets are assigned again among the same members and
 * the tables replaced, as when a node returns - connections conntrack
 * tracks stay accepted by the node that has them, and the new owner of a
 * bucket leaves their mid-flow segments to it (no reset: the old owner is
 * alive). Anything else (or weights with anything else) is logged as
 * needing a restart, and nothing of it is applied: the configuration in
 * use is always one a file held.
 */
#include "reload.h"
#include "cli.h"
#include "daemon.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vipd_reload_compare(const struct sky_config *old_mod,
			const struct vipd_cfg *old_cfg,
			const struct sky_config *new_mod,
			const struct vipd_cfg *new_cfg, char *what, size_t size)
{
	if (size)
		what[0] = '\0';
	/* As sky_config_compare: both from the same loader, zeroed memory. */
	if (memcmp(old_cfg, new_cfg, sizeof(*old_cfg)) != 0)
		return VIPD_RELOAD_RESTART;
	switch (sky_config_compare(old_mod, new_mod, what, size)) {
	case SKY_CONFIG_SAME:
		return VIPD_RELOAD_NONE;
	case SKY_CONFIG_WEIGHTS:
		return VIPD_RELOAD_WEIGHTS;
	default:
		return VIPD_RELOAD_RESTART;
	}
}

void vipd_reload(struct vipd *d)
{
	struct sky_config *mod = calloc(1, sizeof(*mod));
	struct vipd_cfg *cfg = calloc(1, sizeof(*cfg));
	char err[1024], what[600];
	int r = mod && cfg ? 0 : -ENOMEM;

	if (r < 0)
		snprintf(err, sizeof(err), "%s", strerror(-r));
	if (r >= 0)
		r = sky_config_load(d->mod.path, mod, err, sizeof(err));
	/* vipd runs without the cluster key (sky_cli_start wipes it): so
	 * does the copy, which then compares equal on that field. */
	if (mod)
		sodium_memzero(mod->key, sizeof(mod->key));
	if (r >= 0)
		r = vipd_cfg_load(d->mod.path, cfg, err, sizeof(err));
	if (r < 0) {
		d->bk.reload_errors++;
		log_error("reload: %s; keeping the configuration in use", err);
		goto out;
	}
	switch (vipd_reload_compare(&d->mod, &d->cfg, mod, cfg, what,
				    sizeof(what))) {
	case VIPD_RELOAD_NONE:
	case VIPD_RELOAD_RESTART:
		/* As every daemon says it (tests/systemd reads it): "reload:
		 * configuration unchanged (FILE)" or "configuration changed:
		 * restart skyha-vipd@MODULE to apply" (a change vipd does not
		 * read, a comment, is reported as such too). */
		sky_cli_reload();
		break;
	case VIPD_RELOAD_WEIGHTS:
		for (size_t i = 0; i < d->mod.node_count; i++)
			d->mod.nodes[i].weight = mod->nodes[i].weight;
		d->bk.reloads++;
		d->bk.reapply = d->bk.on;
		d->publish_now = true;
		sky_cli_reload_accepted();
		log_notice("reload: weights applied live (%s)%s", what,
			   d->bk.on ? ": the buckets move, tracked flows "
				      "stay where they are"
				    : "");
		break;
	}
out:
	free(mod);
	free(cfg);
}
