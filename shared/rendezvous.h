/*
 * rendezvous.h - which node of a farm owns each of its 256 buckets
 * (vipd.lb: buckets), computed the same way by vipd, which filters the
 * clients with it, and by skyctl, which shows every node's load.
 *
 * Weighted rendezvous hashing, integers only (every node must compute
 * exactly the same owners, whatever its libm): a member of weight w draws
 * w scores per bucket, hash(bucket, name, k) for k < w, and the bucket
 * goes to the member with the highest score of all (ties: the smaller
 * name). All draws are independent, so a member's expected share is its
 * weight over the sum of weights; a member leaving moves only its own
 * buckets, and coming back takes back only those. Pure: no I/O.
 */
#ifndef SKYHA_RENDEZVOUS_H
#define SKYHA_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

#define SKY_BUCKETS	       256
#define SKY_BUCKET_WEIGHT_MAX  100
#define SKY_BUCKET_MEMBERS_MAX 16

struct sky_bucket_member {
	const char *name;
	uint32_t weight; /* 1..SKY_BUCKET_WEIGHT_MAX (0 counts as 1) */
};

/*
 * owner[b] = the index in members of bucket b's owner, or -1 when count is
 * 0. The order of members does not matter. 0, or -EINVAL (count above 16,
 * a NULL name).
 */
int sky_buckets_assign(const struct sky_bucket_member *members, size_t count,
		       int16_t owner[SKY_BUCKETS]);

/* FNV-1a over a string from h, and splitmix64's finaliser (also used for
 * vipd's virtual MAC and jhash seed). */
uint64_t sky_fnv1a64(const char *s, uint64_t h);
uint64_t sky_mix64(uint64_t x);

/* How many buckets members[index] owns. */
size_t sky_buckets_count(const int16_t owner[SKY_BUCKETS], int16_t index);

#endif
