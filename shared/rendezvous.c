/*
 * rendezvous.c - bucket ownership (see rendezvous.h).
 */
#include "rendezvous.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

uint64_t sky_fnv1a64(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* splitmix64's finaliser: every input bit moves every output bit. */
uint64_t sky_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t draw(uint64_t name_hash, unsigned bucket, uint32_t k)
{
	return sky_mix64(name_hash ^ sky_mix64(((uint64_t)bucket << 32 | k) +
					       0x9e3779b97f4a7c15ULL));
}

int sky_buckets_assign(const struct sky_bucket_member *members, size_t count,
		       int16_t owner[SKY_BUCKETS])
{
	uint64_t nh[SKY_BUCKET_MEMBERS_MAX];

	for (unsigned b = 0; b < SKY_BUCKETS; b++)
		owner[b] = -1;
	if (count > SKY_BUCKET_MEMBERS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < count; i++) {
		if (!members[i].name)
			return -EINVAL;
		nh[i] = sky_fnv1a64(members[i].name, 0xcbf29ce484222325ULL);
	}
	for (unsigned b = 0; b < SKY_BUCKETS; b++) {
		uint64_t best = 0;
		int16_t who = -1;
		for (size_t i = 0; i < count; i++) {
			uint32_t w = members[i].weight;
			if (w == 0)
				w = 1;
			if (w > SKY_BUCKET_WEIGHT_MAX)
				w = SKY_BUCKET_WEIGHT_MAX;
			uint64_t top = 0;
			for (uint32_t k = 0; k < w; k++) {
				uint64_t s = draw(nh[i], b, k);
				if (s > top)
					top = s;
			}
			if (who < 0 || top > best ||
			    (top == best &&
			     strcmp(members[i].name, members[who].name) < 0)) {
				best = top;
				who = (int16_t)i;
			}
		}
		owner[b] = who;
	}
	return 0;
}

size_t sky_buckets_count(const int16_t owner[SKY_BUCKETS], int16_t index)
{
	size_t n = 0;
	for (unsigned b = 0; b < SKY_BUCKETS; b++)
		n += owner[b] == index && index >= 0;
	return n;
}
