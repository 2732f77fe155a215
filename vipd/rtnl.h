/*
 * rtnl.h - the interface addresses through rtnetlink (libmnl), and the
 * interface facts vipd needs (index, MAC). Requests are synchronous with a
 * receive timeout: the kernel answers at once, and a stuck socket must not
 * stall the loop past the watchdog. libmnl's -1 + errno stays in rtnl.c.
 */
#ifndef SKYHA_VIPD_RTNL_H
#define SKYHA_VIPD_RTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mnl_socket;

struct vipd_nl {
	struct mnl_socket *sock;
	unsigned portid;
	uint32_t seq;
	uint8_t *buf; /* receive buffer, VIPD_NL_BUF bytes */
	unsigned bad_replies;
};

/* One address of the dump. */
struct vipd_nl_addr {
	int family;
	int ifindex;
	uint8_t prefix;
	uint8_t addr[16];
};
typedef void (*vipd_nl_addr_fn)(void *data, const struct vipd_nl_addr *a);

int vipd_nl_open(struct vipd_nl *nl);
void vipd_nl_close(struct vipd_nl *nl);
/*
 * Add (replacing an existing one) or delete one address. IPv6 addresses
 * are added with IFA_F_NODAD: the VIP moves between hosts on purpose, and
 * a tentative address could neither be announced nor answer for a second.
 * Deleting an address that is not there is success.
 */
int vipd_nl_addr_set(struct vipd_nl *nl, bool add, int family, int ifindex,
		     const uint8_t *addr, uint8_t prefix);
/* Every address of every interface, through fn. */
int vipd_nl_addr_dump(struct vipd_nl *nl, vipd_nl_addr_fn fn, void *data);

/* The interface's Ethernet MAC; -EPROTONOSUPPORT if it has none. */
int vipd_if_mac(const char *ifname, uint8_t mac[6]);

#endif
