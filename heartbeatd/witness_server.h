/*
 * witness_server.h - run the witness lease service (heartbeatd --witness).
 */
#ifndef SKYHA_WITNESS_SERVER_H
#define SKYHA_WITNESS_SERVER_H

#include "config.h"

/* Serve until SIGTERM/SIGINT; logs and returns -errno on a setup failure. */
int witness_run(const struct sky_config *cfg, const char *state_dir);

#endif
