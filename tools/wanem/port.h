/*
 * port.h - one side of the emulator: an AF_PACKET socket bound to an
 * interface, receiving every frame through a TPACKET_V2 ring (mmap, no system
 * call per frame while frames keep coming) and sending with sendmmsg
 * (batches, PACKET_QDISC_BYPASS).
 *
 * Why TPACKET_V2 and not V3: a V3 ring wakes the reader only when a block is
 * retired (full, or after its timeout, at least 1 ms), which would add up to
 * a millisecond of its own to a frame. A V2 ring wakes it per frame.
 * Frames this socket sends are not received back (PACKET_IGNORE_OUTGOING).
 */
#ifndef WANEM_PORT_H
#define WANEM_PORT_H

#include <linux/if_packet.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct wanem_port {
	char name[IF_NAMESIZE];
	int ifindex;
	int fd;
	uint8_t *ring;
	size_t ring_len;
	unsigned frame_size, frame_nr, next;
	uint64_t ring_drops; /* frames the kernel dropped: ring full */
};

/* The frame handed out by wanem_port_next(). */
struct wanem_rx {
	struct tpacket2_hdr *hdr;
	const uint8_t *data; /* the frame from its Ethernet header */
	size_t len;	     /* bytes in data */
	size_t wire_len;     /* its length on the wire (> len: truncated) */
	uint16_t vlan_tci, vlan_tpid;
	int vlan;	  /* a VLAN tag the kernel took out of the frame */
	int csum_pending; /* checksum left to offload (not filled in) */
};

/* Open, bind to ifname (promiscuous), map a ring of ring_frames frames. */
int wanem_port_open(struct wanem_port *p, const char *ifname,
		    unsigned ring_frames);
void wanem_port_close(struct wanem_port *p);

/* The next received frame (1) or none waiting (0). Release it after use. */
int wanem_port_next(struct wanem_port *p, struct wanem_rx *rx);
void wanem_port_release(struct wanem_port *p, struct wanem_rx *rx);

/* Send n frames (iov[i] is one frame); the number sent (>= 0, possibly
 * fewer than n), or a negative errno for the first frame. */
int wanem_port_send(struct wanem_port *p, struct iovec *iov, unsigned n);

/* Add the kernel's drop count since the last call to p->ring_drops. */
void wanem_port_poll_stats(struct wanem_port *p);

#endif
