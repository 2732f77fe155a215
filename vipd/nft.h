/*
 * nft.h - run `nft -f -` with a script on its standard input (buckets.h
 * makes the scripts), for the farm's bucket mode.
 *
 * nft applies a script in one netlink transaction: all of it or nothing.
 * The child runs with an empty environment but PATH, its own output
 * collected for the error message, and is killed if it is not done within
 * the timeout (vipd's loop waits for it: nft takes milliseconds).
 */
#ifndef SKYHA_VIPD_NFT_H
#define SKYHA_VIPD_NFT_H

#include <stddef.h>
#include <stdint.h>

#define VIPD_NFT_TIMEOUT_MS 5000

/*
 * 0, or -errno: -ENOENT (no nft), -ETIMEDOUT, -EPROTO (nft refused the
 * script: err holds its first line of output). nft is looked up in PATH
 * unless $SKYHA_NFT names it.
 */
int vipd_nft_run(const char *script, char *err, size_t err_size);

/*
 * Is table `name` of `family` (NFPROTO_INET, NFPROTO_NETDEV, NFPROTO_ARP)
 * in the kernel? 1 or 0, asked over netlink (no child: vipd asks once a
 * second, to put back tables a firewall reload flushed), or -errno.
 */
int vipd_nft_table_exists(int family, const char *name);

#endif
