/*
 * xml.h - a small, bounded XML tag scanner for the object stores' replies
 * (S3 ListObjectsV2 and errors, Azure List Blobs and errors). Not a general
 * XML parser: it finds <tag>text</tag> elements in order, without
 * recursion, decodes the five named entities and numeric references, and
 * refuses anything it does not understand. Replies are hostile input: every
 * function takes a buffer and a length, writes only within the sizes given,
 * and returns -EBADMSG on a malformed reply. No libxml.
 */
#ifndef SKYHA_BACKUPD_XML_H
#define SKYHA_BACKUPD_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BK_XML_KEY_MAX 1024 /* S3 keys and Azure blob names: 1024 bytes */

/*
 * The next element <tag> (or <tag attr="...">, or <tag/>) at or after
 * *pos within buf[0..len): its content in [*start, *start + *n). *pos moves
 * past the closing tag. -ENOENT if there is none; -EBADMSG if it is not
 * closed.
 */
int bk_xml_next(const char *buf, size_t len, size_t *pos, const char *tag,
		const char **start, size_t *n);
/* Decode element text (entities) into out; -EBADMSG on a bad entity or a
 * control character, -ENOSPC if it does not fit. */
int bk_xml_text(const char *s, size_t n, char *out, size_t size);
/* The text of the first <tag> in buf; -ENOENT if absent. */
int bk_xml_find(const char *buf, size_t len, const char *tag, char *out,
		size_t size);

/* One entry of a listing: fn(ctx, full key, size); nonzero stops. */
typedef int (*bk_xml_entry_fn)(void *ctx, const char *key, uint64_t size);

/*
 * An S3 ListObjectsV2 reply: fn for each <Contents> (Key, Size); next gets
 * <NextContinuationToken> when <IsTruncated>true (else ""). Returns 1 if fn
 * stopped the walk, 0, or -EBADMSG.
 */
int bk_xml_s3_list(const char *buf, size_t len, bk_xml_entry_fn fn, void *ctx,
		   char *next, size_t next_size);
/*
 * An Azure List Blobs reply: fn for each <Blob> (Name, Properties/
 * Content-Length); next gets <NextMarker> ("" at the end). As above.
 */
int bk_xml_blob_list(const char *buf, size_t len, bk_xml_entry_fn fn, void *ctx,
		     char *next, size_t next_size);
/* An S3 or Azure error body: <Code> and <Message> ("" when absent). */
void bk_xml_error(const char *buf, size_t len, char *code, size_t code_size,
		  char *message, size_t message_size);

#endif
