/*
 * packet.c - encode/decode the wire format (see packet.h, docs/protocol.md).
 *
 * The reader is a cursor with a remaining length: every read checks that
 * the bytes exist first, so truncated input fails cleanly wherever it ends.
 */
#include "packet.h"
#include "wire.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

static const char *const answer_names[LEASE_ANSWER_COUNT] = {
	[LEASE_GRANTED] = "granted",
	[LEASE_HELD_BY_OTHER] = "held_by_other",
	[LEASE_OUTDATED] = "outdated",
	[LEASE_RELEASED] = "released",
};

const char *lease_answer_name(enum lease_answer a)
{
	return (unsigned)a < LEASE_ANSWER_COUNT ? answer_names[a] : "unknown";
}

static void put_name(struct sky_writer *w, const char *s, bool may_be_empty)
{
	size_t n = strlen(s);
	/* Never send what a receiver must reject. */
	if ((n > 0 || !may_be_empty) && !sky_name_valid(s, n)) {
		w->overflow = true;
		return;
	}
	sky_put_u8(w, (uint8_t)n);
	sky_put_bytes(w, s, n);
}

int packet_encode(const struct packet *p, const uint8_t key[PKT_KEY_BYTES],
		  uint8_t *buf, size_t size)
{
	struct sky_writer w = {.buf = buf, .size = size};
	const struct pkt_header *h = &p->hdr;

	sky_put_bytes(&w, PKT_MAGIC, 4);
	sky_put_u8(&w, PKT_VERSION);
	sky_put_u8(&w, h->type);
	put_name(&w, h->cluster, false);
	put_name(&w, h->module, false);
	put_name(&w, h->node, false);
	sky_put_u64(&w, h->incarnation);
	sky_put_u64(&w, h->sequence);
	switch (h->type) {
	case PKT_HEARTBEAT:
		sky_put_u8(&w, p->hb.network);
		sky_put_u8(&w, p->hb.role);
		sky_put_u64(&w, p->hb.epoch);
		sky_put_u64(&w, p->hb.generation);
		sky_put_u8(&w, p->hb.data);
		sky_put_u8(&w, p->hb.flags);
		break;
	case PKT_LEASE_REQUEST:
		sky_put_u64(&w, p->req.request_id);
		sky_put_u64(&w, p->req.generation);
		sky_put_u8(&w, p->req.flags);
		break;
	case PKT_LEASE_REPLY:
		sky_put_u64(&w, p->reply.request_id);
		sky_put_u8(&w, p->reply.answer);
		sky_put_u32(&w, p->reply.lease_ms);
		sky_put_u64(&w, p->reply.generation);
		put_name(&w, p->reply.holder, true);
		break;
	default:
		return -EINVAL;
	}
	if (w.overflow || w.len + PKT_MAC_BYTES > size ||
	    w.len + PKT_MAC_BYTES > PKT_MAX)
		return -EMSGSIZE;
	crypto_auth_hmacsha256(buf + w.len, buf, w.len, key);
	return (int)(w.len + PKT_MAC_BYTES);
}

static void get_name(struct sky_reader *r, char out[SKY_NAME_MAX + 1],
		     bool may_be_empty)
{
	uint8_t n = sky_get_u8(r);
	const uint8_t *s;

	out[0] = '\0';
	if (r->bad)
		return;
	if (n == 0 && may_be_empty)
		return;
	s = sky_take(r, n);
	if (!s || !sky_name_valid((const char *)s, n)) {
		r->bad = true;
		return;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

enum pkt_error packet_decode(const uint8_t *buf, size_t len,
			     const uint8_t key[PKT_KEY_BYTES],
			     struct packet *out)
{
	struct packet p;
	struct sky_reader r;

	if (len > PKT_MAX)
		return PKT_ERR_OVERSIZED;
	if (len < 6 + PKT_MAC_BYTES || memcmp(buf, PKT_MAGIC, 4) != 0 ||
	    buf[4] != PKT_VERSION)
		return PKT_ERR_MALFORMED;
	/* Authenticate before believing a single field. */
	if (crypto_auth_hmacsha256_verify(buf + len - PKT_MAC_BYTES, buf,
					  len - PKT_MAC_BYTES, key) != 0)
		return PKT_ERR_BAD_MAC;

	memset(&p, 0, sizeof(p));
	r = (struct sky_reader){.p = buf + 5, .left = len - 5 - PKT_MAC_BYTES};
	p.hdr.type = sky_get_u8(&r);
	get_name(&r, p.hdr.cluster, false);
	get_name(&r, p.hdr.module, false);
	get_name(&r, p.hdr.node, false);
	p.hdr.incarnation = sky_get_u64(&r);
	p.hdr.sequence = sky_get_u64(&r);
	switch (p.hdr.type) {
	case PKT_HEARTBEAT:
		p.hb.network = sky_get_u8(&r);
		p.hb.role = sky_get_u8(&r);
		p.hb.epoch = sky_get_u64(&r);
		p.hb.generation = sky_get_u64(&r);
		p.hb.data = sky_get_u8(&r);
		p.hb.flags = sky_get_u8(&r);
		if (p.hb.role >= SKY_ROLE_COUNT || p.hb.data >= SKY_DATA_COUNT)
			r.bad = true;
		break;
	case PKT_LEASE_REQUEST:
		p.req.request_id = sky_get_u64(&r);
		p.req.generation = sky_get_u64(&r);
		p.req.flags = sky_get_u8(&r);
		break;
	case PKT_LEASE_REPLY:
		p.reply.request_id = sky_get_u64(&r);
		p.reply.answer = sky_get_u8(&r);
		p.reply.lease_ms = sky_get_u32(&r);
		p.reply.generation = sky_get_u64(&r);
		get_name(&r, p.reply.holder, true);
		if (p.reply.answer >= LEASE_ANSWER_COUNT)
			r.bad = true;
		break;
	default:
		r.bad = true;
	}
	/* Trailing bytes are as suspicious as missing ones. */
	if (r.bad || r.left != 0)
		return PKT_ERR_MALFORMED;
	*out = p;
	return PKT_OK;
}

bool replay_guard_accept(struct replay_guard *g, uint64_t incarnation,
			 uint64_t sequence)
{
	if (g->seen &&
	    (incarnation < g->incarnation ||
	     (incarnation == g->incarnation && sequence <= g->sequence)))
		return false;
	g->seen = true;
	g->incarnation = incarnation;
	g->sequence = sequence;
	return true;
}
