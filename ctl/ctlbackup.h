/*
 * ctlbackup.h - `skyctl backup ...`: runs backupd(8) for the module.
 */
#ifndef SKYCTL_BACKUP_H
#define SKYCTL_BACKUP_H

#include <stdbool.h>

/*
 * `skyctl -m MODULE backup now|list|verify|restore|forget [ARGS]`: exec
 * backupd --module MODULE (now: backup) with ARGS (--json passed on).
 * backupd is SKYHA_BACKUPD, else the installed one next to the daemons
 * (<skyctl's dir>/../lib/skyha/backupd, as the units' @LIBEXECDIR@), else
 * the one beside skyctl (a build tree). Returns only on failure: the
 * exit status (2 usage, 1 no backupd).
 */
int skyctl_backup(const char *module, bool json, int argc, char **argv);

#endif
