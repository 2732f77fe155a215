/*
 * frames_fuzz.c - vipd/frames.c vipd_arp_parse() and vipd_arp_conflicts():
 * every ARP packet on the interface vipd watches while it holds or probes
 * a virtual IP (anyone on the LAN sends them); and vipd_ns_parse() on the
 * same bytes: every IPv6 neighbour solicitation a bucket-mode vipd reads.
 */
#include "frames.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t own[6] = {2, 0, 0, 0, 0, 1};
	struct vipd_arp a;
	struct in_addr vip = {.s_addr = htonl(0xc6120064)}; /* 198.18.0.100 */
	char text[18];

	struct vipd_ns ns;
	if (vipd_ns_parse(data, size, &ns) == 0) {
		uint8_t na[VIPD_NA_LEN];
		FUZZ_ASSERT(size >= VIPD_NS_MIN_LEN);
		FUZZ_ASSERT(!IN6_IS_ADDR_MULTICAST(&ns.target));
		FUZZ_ASSERT(!IN6_IS_ADDR_UNSPECIFIED(&ns.src) ||
			    ns.dst.s6_addr[0] == 0xff);
		FUZZ_ASSERT(vipd_na_reply(na, own, &ns.target, &ns.src) ==
			    VIPD_NA_LEN);
	}
	if (vipd_arp_parse(data, size, &a) < 0)
		return 0;
	FUZZ_ASSERT(a.op == 1 || a.op == 2);
	(void)vipd_arp_conflicts(&a, own, vip);
	(void)vipd_arp_conflicts(&a, own, a.spa);
	vipd_mac_text(a.sha, text);
	return 0;
}
