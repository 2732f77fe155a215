/*
 * chunker.c - FastCDC with zone cuts (chunker.h). The gear table is part
 * of the repository format (version 1): 256 fixed 64-bit values.
 */
#include "chunker.h"

#include <errno.h>

static const uint64_t gear[256] = {
	0x8f71e1b018c0178bULL, 0xeb65bd4667f332e5ULL, 0x3ebbaf55a6ad0edbULL,
	0x1725f1614d6ef670ULL, 0xab2f04918121784aULL, 0x1473346d1d9ce729ULL,
	0xada7536641d01e6aULL, 0xf872da5b39654f26ULL, 0xa92a605a9018fb04ULL,
	0xc193413dcc6133acULL, 0xb77b65faa65d60b5ULL, 0xe1f3a1f93a841a5aULL,
	0xa7f8bdc12978c544ULL, 0x1f3bd27c538c5349ULL, 0xbe2245451dace4b1ULL,
	0xdfb8b5a16c428620ULL, 0xa003386b05476c76ULL, 0x28d01de015018f82ULL,
	0xd5806da4b8fd8271ULL, 0xeeb768d44c713028ULL, 0x9a1c86baa01c8b6aULL,
	0x8720774f23ac0653ULL, 0xd8e69d96f215d493ULL, 0x761a9116c709127fULL,
	0xbfb323f69bf9abeaULL, 0x75efe0ddebcf8e15ULL, 0x31a1d2816dcf97e9ULL,
	0xee50a45b8d7c2409ULL, 0xd567777c28242e96ULL, 0x0ebce6d46997a58aULL,
	0x8995151cc3f19ec2ULL, 0xbb5045d025c91c18ULL, 0x583258cc7e273550ULL,
	0x8b0a38b7c4185900ULL, 0x6014cf015e175f72ULL, 0x35aa6ea645f421ecULL,
	0x181621c61ca3ec21ULL, 0x3451e211f957edf8ULL, 0x8eee3c574b80b5dcULL,
	0x5bf3b6450cdfb85cULL, 0x3587338cf9719df7ULL, 0x16f305e173e5621fULL,
	0xe60ddf9f702caf40ULL, 0xcaef1d298719cdbaULL, 0x4889d16f29b4e157ULL,
	0x778e7f839ae989e9ULL, 0x3db4f939f1e5df20ULL, 0xa43ab9ffd21081d1ULL,
	0x90105031bb9e65ebULL, 0x900feb708714ca88ULL, 0xdd411babe891735fULL,
	0xde041309a9694144ULL, 0x95ac043b641c0eddULL, 0x6bff1cc845830f6bULL,
	0x5868ff72622d4b62ULL, 0xc0339dd31a4a9a94ULL, 0x2188d219883711baULL,
	0x7ac9808f8e1c6074ULL, 0x3b43ca2624433decULL, 0xf56515690b56e325ULL,
	0xeb3a6c44028f20e0ULL, 0x10e298216940ee36ULL, 0x08ead59ca6afa78fULL,
	0xe4a56465869cd9f6ULL, 0x3c652821c4f581c0ULL, 0xdc116595931e1d46ULL,
	0x1b8a14e7e0f4c63cULL, 0x78c5515d117f34aeULL, 0x8679d402f50fae8fULL,
	0x85c8a69c5ad7b49aULL, 0xe5b9c76904ab4d9cULL, 0x0fc1296be94291e5ULL,
	0x89b2eced326342ddULL, 0xc6a4082213aec6b1ULL, 0x7767fa245f68e64dULL,
	0x8a1630f617b796d2ULL, 0xdc34529521563886ULL, 0xbc96ca3963436fe4ULL,
	0x32edd977ed37fadaULL, 0xb7ee571f929d7bddULL, 0xe68b32d4fbed96e8ULL,
	0x37e18c720074853bULL, 0xf8dc15233eeb1e54ULL, 0x09d61d38573a498dULL,
	0xf252b2502a69ee6cULL, 0x9df1f25b6152293dULL, 0xee85d9c42597c6aeULL,
	0x998e5e503b67e34fULL, 0x91ab6e5f013356b8ULL, 0x4385d2fe3ed988bfULL,
	0x154e8b96caf8a15fULL, 0xf2d40a37051f4423ULL, 0x8b14dbbf9d0ce155ULL,
	0xceab785235d6fdecULL, 0xe34d4a126f7c99f0ULL, 0xde54a93b11e7e963ULL,
	0x730fd6a25fb5a780ULL, 0xd13b47628b4282f9ULL, 0x66d9ce87d3525039ULL,
	0x2dc03986f63e9ee4ULL, 0xcfe3b6d2f75dddbaULL, 0x43cfa99023e7aa70ULL,
	0x8c07fbb60bc23895ULL, 0xb8a8a5bb639e8a8cULL, 0x796093cdd3c1f3b8ULL,
	0x61b984fb4545537eULL, 0x74148342079bfff6ULL, 0xf2e02be9f92b76eaULL,
	0x459c0c95e4213fdeULL, 0x5dae54a1dee0f767ULL, 0x6d63be6141ed0141ULL,
	0xfa96aa2888dbe63aULL, 0xc6e4a570ed3a5b19ULL, 0x3e05fdfa8b4f54e1ULL,
	0x0a0a9f85858309edULL, 0x6bd38eb57dee6264ULL, 0xaf2340c9732bcea3ULL,
	0x675f539b75494cc8ULL, 0xc5abba3bc0cdf396ULL, 0xe14a4003facd0e54ULL,
	0xea77a369127e6e0dULL, 0xc646c1c8f243c3f3ULL, 0xa5b85e4643598b18ULL,
	0x05f3dc0c99dabbb4ULL, 0x3ace7bf45f3b4f04ULL, 0x67a5f48fc6c999cfULL,
	0x63f274c12254ec77ULL, 0x8afe612bef93877fULL, 0x4206a9ac5987b370ULL,
	0xecd5f1f377e4af0aULL, 0xb3abfda85dffac6dULL, 0x77d2dcbd97543974ULL,
	0x9aa684cfa9777e8cULL, 0xb141d125eda35088ULL, 0x198ea1066a2260d8ULL,
	0xa997a755b202057fULL, 0xb036978113707f17ULL, 0x0bd2b6332afc76cdULL,
	0x8d7d5d757708ec02ULL, 0xc0556b650e631ebeULL, 0xac0fd6c9395a225aULL,
	0x75d7e385ef201a88ULL, 0xfb106b6ebd81d6baULL, 0x11d5fbdebfadbd50ULL,
	0x1c2b53bce820f564ULL, 0xe1907bec85d4f57dULL, 0xba271f99db5a3ccaULL,
	0x3234d2f5a5f1e1aaULL, 0xceacc3662929358cULL, 0x7b4bf864b38b578dULL,
	0xe0391c769ed2c186ULL, 0x30594da22bd0825fULL, 0x09574e8a531af927ULL,
	0xdc93b25b2022ef33ULL, 0xd4074253ce22692bULL, 0x042ae2232ceb31cbULL,
	0x9c4a9b0d7194de24ULL, 0x50f4315bd1cc8d59ULL, 0x91dfedd4ace0d004ULL,
	0x3e4675aae280f182ULL, 0xdc38738b0107cebaULL, 0x50c67f8ee7746a35ULL,
	0x08a2818a29ec5008ULL, 0x9df70f17ba888b8bULL, 0x4011e62b68bddd3dULL,
	0xf6b850fcaf7a3013ULL, 0x7d215187c6446dfcULL, 0x1b02bc3b65878096ULL,
	0x4da982874823519bULL, 0xfff0ec204360e584ULL, 0x0a5abb229c562ae3ULL,
	0xb5140db92a6aeb36ULL, 0x9dd76b2fb668876fULL, 0xce6376a6e0edac38ULL,
	0xe0210cc19c8a4d1cULL, 0xd587bd91c2a26738ULL, 0xefab48b25adf4464ULL,
	0xd8b8897a0f2705edULL, 0xc57a38e1b9952338ULL, 0x69df5429de5292f1ULL,
	0x01af753dad83a011ULL, 0x06f5f196add0a542ULL, 0xfed708cc3726fa53ULL,
	0x25fa7eb800bb9891ULL, 0x8276c9fc0e971de2ULL, 0x6446ae839fd6ca88ULL,
	0xdc9b38b14b1726faULL, 0xf37cf23a77d36280ULL, 0x90447c2b9c48e9c8ULL,
	0x45d4873542a3f435ULL, 0xd4631ef678f5a53fULL, 0x56968edc3e297b8cULL,
	0x6c1980c4ad6eba34ULL, 0x14dd7177c7ca7191ULL, 0x5057b246f1f96fbaULL,
	0xbefd28abff9898dfULL, 0x08b90fb22bcadae5ULL, 0x9d40d9b781ed1591ULL,
	0xc565fa38a282ef87ULL, 0x2541895635d1b26bULL, 0x6cf2a92e4ece88d8ULL,
	0x72c1cbe2e3e073b8ULL, 0xbe5c05ab3bdc6d81ULL, 0xdc10857384e0924eULL,
	0x107f6bb6af50514cULL, 0xee09f9a41b3b9825ULL, 0xa9824adeabcfdcccULL,
	0x1828b3d159593634ULL, 0x3a89e265b410fc33ULL, 0xd300aa0a8531bba1ULL,
	0xe74ee86642a42c01ULL, 0x3309ca2d5ead6a7aULL, 0xdc13ad453730fc14ULL,
	0xa46be0644943bd4eULL, 0x7d81468a4011d9acULL, 0xb81f6da9b1e61915ULL,
	0x2a2bc2c7a3faccecULL, 0x1b5f285818a9bcafULL, 0xc0299f8bea3e7b9eULL,
	0x6cb5d5b5526f6174ULL, 0xd148288f689877ceULL, 0xd7d2b0f10447eca3ULL,
	0x8b50979e3d5cb0ecULL, 0xc30119dc2b419cc4ULL, 0x6a1bf7167b76eb81ULL,
	0x68173db16b084cf9ULL, 0x33eaac0f0266ae91ULL, 0x6719dc99c0d41e67ULL,
	0x5bbc47001c50fab6ULL, 0x001a285709507d5dULL, 0x902ff06164348490ULL,
	0xa9c90403587b3cc9ULL, 0xe72f3958dd972b30ULL, 0x4ab22cdc0d24abdbULL,
	0x7cd406a1bc8504e9ULL, 0x3c64604b2973f2a7ULL, 0x7f6f2705708efd89ULL,
	0x2c05a55d3590ffb8ULL, 0x2f5219deb55d9848ULL, 0x5f7df028e7273f33ULL,
	0x77cfdffbbd254f29ULL, 0x2b0af626efaf8ad5ULL, 0x9a839992f1e9dee6ULL,
	0xd0ed2a6a42f42cb2ULL, 0x9708bada9ed10a18ULL, 0xc88b43650fabf18aULL,
	0x85382a9f06b4f974ULL, 0x6aed5db7100f6b21ULL, 0x501e6c02109aee2dULL,
	0x6af08adbe1b134bfULL, 0xea667039c195f7d3ULL, 0x2c4e43119891f004ULL,
	0x61a30aa500fafc11ULL, 0x470387ffedb87489ULL, 0xa60961fb31d1816eULL,
	0x083525295d4a2ac8ULL,
};

static uint64_t mask_bits(unsigned bits)
{
	/* Spread the bits over the top of the word (FastCDC's masks use the
	 * high bits: the gear hash mixes them most). */
	uint64_t m = 0;
	for (unsigned i = 0; i < bits; i++)
		m |= 1ULL << (63 - 2 * i);
	return m;
}

int bk_chunker_init(struct bk_chunker *c, uint32_t min, uint32_t avg,
		    uint32_t max, uint32_t zone)
{
	if (min < 64 || avg <= min || max <= avg || max > (8u << 20) ||
	    (avg & (avg - 1)) || (zone && (zone & (zone - 1))))
		return -EINVAL;
	unsigned bits = 0;
	while ((1u << bits) < avg)
		bits++;
	if (bits < 3 || bits > 30)
		return -EINVAL;
	c->min = min;
	c->avg = avg;
	c->max = max;
	c->zone = zone;
	c->mask_s = mask_bits(bits + 2);
	c->mask_l = mask_bits(bits - 2);
	return 0;
}

size_t bk_chunk_next(const struct bk_chunker *c, const uint8_t *buf, size_t len,
		     uint64_t off, int forced)
{
	size_t limit = len < c->max ? len : c->max;
	if (forced && c->zone) {
		uint64_t to_edge = c->zone - (off & (c->zone - 1));
		if (to_edge < limit)
			limit = (size_t)to_edge;
	}
	if (limit <= c->min)
		return limit;
	size_t normal = limit < c->avg ? limit : c->avg;
	uint64_t h = 0;
	size_t i = c->min;
	for (; i < normal; i++) {
		h = (h << 1) + gear[buf[i]];
		if (!(h & c->mask_s))
			return i + 1;
	}
	for (; i < limit; i++) {
		h = (h << 1) + gear[buf[i]];
		if (!(h & c->mask_l))
			return i + 1;
	}
	return limit;
}
