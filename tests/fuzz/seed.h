/*
 * seed.h - what the seed corpus generator's files share (`make fuzz-seed`,
 * seed.c and seed_*.c): the writer of one seed, a scratch directory, and
 * each family's seeds. seed.c's main() calls the families in a fixed
 * order, so libsodium's fixed random sequence gives the same bytes on
 * every run.
 */
#ifndef SKYHA_SEED_H
#define SKYHA_SEED_H

#include <stddef.h>

/* A scratch directory for the seeds made from files; removed at the end. */
extern char seed_tmp[64];

/* Write DIR/<target>/seed-<name>; exits if it cannot. */
void seed_put(const char *target, const char *name, const void *p, size_t len);
void seed_put_text(const char *target, const char *name, const char *s);
/* The real parser refused a seed: said, and counted (fuzz_seed fails). */
void seed_refused(const char *target, const char *name);

/* seed_heartbeatd.c: heartbeat and witness packets, etcd's replies. */
void seed_packets(void);
void seed_etcd_replies(void);

/* seed_replicd.c: operations, recorded sessions, record and manifest. */
void seed_ops(void);
void seed_session(int target_client);
void seed_resync(void);
void seed_zframes(void);

/* seed_config.c: module files. */
void seed_config(void);

/* seed_daemons.c: healthd's, checkd's and vipd's outside inputs. */
void seed_healthd(void);
void seed_checkd(void);
void seed_vipd(void);

/* seed_backupd.c: object stores' replies, the repository's objects. */
void seed_object_stores(void);
void seed_backup_objects(void);

#endif
