/*
 * vipcfg_cloud.h - vipcfg.c's entry points into the cloud sections
 * (vipcfg_cloud.c): each reads its mapping into cfg, names the file, line
 * and field of the first thing wrong, and returns 0 or a negative errno.
 */
#ifndef SKYHA_VIPD_VIPCFG_CLOUD_H
#define SKYHA_VIPD_VIPCFG_CLOUD_H

#include "vipcfg.h"
#include "yamlcfg.h"

int vipd_cfg_aws(struct sky_yaml *ctx, yaml_node_t *v, struct vipd_cfg *cfg);
int vipd_cfg_azure(struct sky_yaml *ctx, yaml_node_t *v, struct vipd_cfg *cfg);

#endif
