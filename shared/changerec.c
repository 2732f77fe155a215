/*
 * changerec.c - the change record's format (changerec.h): encoding and
 * the pure parser.
 */
#include "changerec.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define MAGIC	    "SKYTRK1\n"
#define ENTRY_FIXED (1 + 1 + 8 + 8 + 2)
#define ENTRY_MAC   8

/* A fixed key: the hash catches torn or damaged bytes, not forgers. */
static const uint8_t mac_key[crypto_shorthash_KEYBYTES] = "skyha track v1!";

bool changerec_path_valid(const char *p, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return true; /* the directory itself */
	if (len > CHANGEREC_PATH_MAX || memchr(p, '\0', len))
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		size_t n = i - start;
		if (n == 0 || (n == 1 && p[start] == '.') ||
		    (n == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void changerec_entry_hash(const uint8_t *p, size_t n, uint8_t out[8])
{
	crypto_shorthash(out, p, n, mac_key);
}

size_t changerec_entry_size(const struct changerec_entry *e)
{
	return ENTRY_FIXED + strlen(e->path ? e->path : "") + ENTRY_MAC;
}

/* May a record hold this entry? */
static bool entry_valid(const struct changerec_entry *e, size_t plen)
{
	if (e->kinds == TRK_ALONE && plen == 0)
		return true;
	if ((e->kinds & ~TRK_KINDS) || !e->kinds ||
	    e->dir >= CHANGEREC_MAX_DIRS ||
	    !changerec_path_valid(e->path, plen))
		return false;
	return !(e->kinds & TRK_ZONES) ||
	       (e->count != 0 && e->count <= CHANGEREC_COUNT_MAX &&
		e->first <= CHANGEREC_FIRST_MAX);
}

int changerec_encode_entry(const struct changerec_entry *e, uint8_t *buf,
			   size_t size)
{
	const char *path = e->path ? e->path : "";
	size_t plen = strlen(path);
	size_t n = ENTRY_FIXED + plen + ENTRY_MAC;
	struct changerec_entry v = *e;

	v.path = (char *)path;
	if (plen > CHANGEREC_PATH_MAX || !entry_valid(&v, plen))
		return -EINVAL;
	if (n > size)
		return -ENAMETOOLONG;
	buf[0] = e->kinds;
	buf[1] = e->dir;
	be64(buf + 2, e->first);
	be64(buf + 10, e->count);
	buf[18] = (uint8_t)(plen >> 8);
	buf[19] = (uint8_t)plen;
	memcpy(buf + ENTRY_FIXED, path, plen);
	changerec_entry_hash(buf, ENTRY_FIXED + plen, buf + ENTRY_FIXED + plen);
	return (int)n;
}

void changerec_encode_header(const struct changerec_header *h,
			     uint8_t out[CHANGEREC_HEADER])
{
	memset(out, 0, CHANGEREC_HEADER);
	memcpy(out, MAGIC, 8);
	out[8] = (uint8_t)((h->complete ? CHANGEREC_HDR_COMPLETE : 0) |
			   (h->unsynced ? CHANGEREC_HDR_UNSYNCED : 0));
	if (h->unsynced)
		memcpy(out + 9, h->boot, CHANGEREC_BOOT_BYTES);
}

int changerec_parse(const uint8_t *buf, size_t len, struct changerec_header *h,
		    int (*fn)(void *ctx, const struct changerec_entry *e),
		    void *ctx)
{
	char path[CHANGEREC_PATH_MAX + 1];
	uint8_t mac[ENTRY_MAC];
	size_t off = CHANGEREC_HEADER;

	memset(h, 0, sizeof(*h));
	if (len < CHANGEREC_HEADER || memcmp(buf, MAGIC, 8) != 0 ||
	    (buf[8] & ~(CHANGEREC_HDR_COMPLETE | CHANGEREC_HDR_UNSYNCED)) != 0)
		return -EBADMSG;
	h->unsynced = buf[8] & CHANGEREC_HDR_UNSYNCED;
	for (int i = 9; i < CHANGEREC_HEADER; i++)
		if (buf[i] && !h->unsynced)
			return -EBADMSG;
	if (h->unsynced)
		memcpy(h->boot, buf + 9, CHANGEREC_BOOT_BYTES);
	while (off < len) {
		struct changerec_entry e = {0};
		if (len - off < ENTRY_FIXED + ENTRY_MAC)
			return -EBADMSG;
		const uint8_t *p = buf + off;
		size_t plen = (size_t)p[18] << 8 | p[19];
		if (plen > CHANGEREC_PATH_MAX ||
		    len - off < ENTRY_FIXED + plen + ENTRY_MAC)
			return -EBADMSG;
		changerec_entry_hash(p, ENTRY_FIXED + plen, mac);
		if (sodium_memcmp(mac, p + ENTRY_FIXED + plen, ENTRY_MAC) != 0)
			return -EBADMSG;
		e.kinds = p[0];
		e.dir = p[1];
		e.first = get_be64(p + 2);
		e.count = get_be64(p + 10);
		memcpy(path, p + ENTRY_FIXED, plen);
		path[plen] = '\0';
		e.path = path;
		if (!entry_valid(&e, plen))
			return -EBADMSG;
		int r = fn(ctx, &e);
		if (r < 0)
			return r;
		off += ENTRY_FIXED + plen + ENTRY_MAC;
	}
	h->complete = buf[8] & CHANGEREC_HDR_COMPLETE;
	return 0;
}

void changerec_boot_id(uint8_t out[CHANGEREC_BOOT_BYTES])
{
	char text[64] = "";
	size_t n = 0;
	uint8_t id[CHANGEREC_BOOT_BYTES];

	memset(out, 0, CHANGEREC_BOOT_BYTES);
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (!f)
		return;
	if (!fgets(text, sizeof(text), f))
		text[0] = '\0';
	fclose(f);
	for (const char *p = text; *p && n < 2 * CHANGEREC_BOOT_BYTES; p++) {
		int v = *p >= '0' && *p <= '9'	 ? *p - '0'
			: *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
						 : -1;
		if (v < 0)
			continue; /* the dashes */
		if (n % 2 == 0)
			id[n / 2] = (uint8_t)(v << 4);
		else
			id[n / 2] |= (uint8_t)v;
		n++;
	}
	if (n == 2 * CHANGEREC_BOOT_BYTES)
		memcpy(out, id, CHANGEREC_BOOT_BYTES);
}

bool changerec_trusted(const struct changerec_header *h,
		       const uint8_t boot[CHANGEREC_BOOT_BYTES])
{
	static const uint8_t unknown[CHANGEREC_BOOT_BYTES];
	if (!h->complete)
		return false;
	return !h->unsynced ||
	       (memcmp(h->boot, boot, CHANGEREC_BOOT_BYTES) == 0 &&
		memcmp(boot, unknown, CHANGEREC_BOOT_BYTES) != 0);
}
