/*
 * replicd_unlinked_test.c - files unlinked while open: libfuse's hidden
 * names are told from others, a request's opcode and rename target are read
 * from its bytes (and nothing past them), kept files are found by their
 * hidden name and go with the last open file of their inode.
 */
#include "test.h"
#include "unlinked.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HIDDEN "dir/.fuse_hidden0000000a00000001"

static void test_only_libfuse_shaped_names_are_hidden_names(void)
{
	CHECK(replicd_hidden_name(".fuse_hidden0000000a00000001"));
	CHECK(!replicd_hidden_name(".fuse_hidden0000000A00000001"));
	CHECK(!replicd_hidden_name(".fuse_hidden0000000a0000001"));
	CHECK(!replicd_hidden_name(".fuse_hidden0000000a000000012"));
	CHECK(!replicd_hidden_name(".fuse_hidden"));
	CHECK(!replicd_hidden_name("x.fuse_hidden0000000a00000001"));
	CHECK(!replicd_hidden_name(NULL));
}

/* A request: a 40-byte header (opcode at byte 4), then body. */
static size_t request(uint8_t *buf, uint32_t opcode, const void *body,
		      size_t len)
{
	memset(buf, 0, 40);
	memcpy(buf + 4, &opcode, sizeof(opcode));
	memcpy(buf + 40, body, len);
	return 40 + len;
}

static void test_a_rename_request_names_its_target(void)
{
	uint8_t buf[128];
	static const char rename_body[] = "\0\0\0\0\0\0\0\0old\0new";
	static const char rename2_body[] = "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0a\0"
					   ".fuse_hidden0000000a00000001";

	replicd_req_note(buf, request(buf, REPLICD_FUSE_RENAME, rename_body,
				      sizeof(rename_body)));
	CHECK_EQ_INT(replicd_req_opcode(), REPLICD_FUSE_RENAME);
	CHECK(replicd_req_renames_to("new"));
	CHECK(!replicd_req_renames_to("old"));
	replicd_req_note(buf, request(buf, REPLICD_FUSE_RENAME2, rename2_body,
				      sizeof(rename2_body)));
	CHECK(replicd_req_renames_to(".fuse_hidden0000000a00000001"));
	/* Cut before the new name's NUL: no target, nothing read past n. */
	size_t n = request(buf, REPLICD_FUSE_RENAME, rename_body,
			   sizeof(rename_body));
	uint8_t *cut = malloc(n - 1);
	memcpy(cut, buf, n - 1);
	replicd_req_note(cut, n - 1);
	free(cut);
	CHECK_EQ_INT(replicd_req_opcode(), REPLICD_FUSE_RENAME);
	CHECK(!replicd_req_renames_to("new"));
	CHECK(!replicd_req_renames_to(""));
	/* An unlink renames to nothing; a short read is no request. */
	replicd_req_note(buf, request(buf, REPLICD_FUSE_UNLINK, "new", 4));
	CHECK_EQ_INT(replicd_req_opcode(), REPLICD_FUSE_UNLINK);
	CHECK(!replicd_req_renames_to("new"));
	replicd_req_note(buf, 39);
	CHECK_EQ_INT(replicd_req_opcode(), 0);
}

static int temp_file(char *path, size_t size)
{
	snprintf(path, size, "/tmp/replicd-unlinked-test.XXXXXX");
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	return fd;
}

static void test_a_kept_file_is_found_by_its_hidden_name_only(void)
{
	struct replicd_unlinked_set s;
	char path[64];
	uint64_t handle = 0;
	int fd;

	replicd_unlinked_init(&s);
	close(temp_file(path, sizeof(path)));
	CHECK_EQ_INT(replicd_unlinked_add(&s, ".fuse_hidden0000000a00000001",
					  open(path, O_PATH), 7),
		     0);
	unlink(path);
	CHECK_EQ_INT(replicd_unlinked_get(&s, HIDDEN, &fd, &handle), 0);
	CHECK_EQ_INT(handle, 7);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ_INT(replicd_unlinked_get(&s,
					  "dir/.fuse_hidden0000000a00000002",
					  &fd, &handle),
		     -ENOENT);
	CHECK_EQ_INT(replicd_unlinked_get(&s, "dir/other", &fd, &handle),
		     -ENOENT);
	CHECK_EQ_INT(replicd_unlinked_get(&s, NULL, &fd, &handle), -ENOENT);
	handle = 0;
	CHECK_EQ_INT(replicd_unlinked_drop(&s, HIDDEN, &handle), 0);
	CHECK_EQ_INT(handle, 7);
	CHECK_EQ_INT(replicd_unlinked_get(&s, HIDDEN, &fd, &handle), -ENOENT);
	CHECK_EQ_INT(replicd_unlinked_drop(&s, HIDDEN, &handle), -ENOENT);
	replicd_unlinked_clear(&s);
}

static void test_a_kept_file_goes_with_the_last_open_file_of_its_inode(void)
{
	struct replicd_unlinked_set s;
	struct replicd_open a, b;
	char path[64];

	replicd_unlinked_init(&s);
	int fd = temp_file(path, sizeof(path)), again = dup(fd);
	CHECK_EQ_INT(replicd_unlinked_opened(&s, &a, fd), 0);
	CHECK_EQ_INT(replicd_unlinked_opened(&s, &b, fd), 0);
	CHECK_EQ_INT(replicd_unlinked_add(&s, ".fuse_hidden0000000a00000001",
					  open(path, O_PATH), 9),
		     0);
	unlink(path);
	close(fd);
	/* Another open file of the inode remains: kept. */
	CHECK(replicd_unlinked_closed(&s, &a, true) == NULL);
	/* libfuse still has a path: it unlinks the hidden name itself. */
	CHECK(replicd_unlinked_closed(&s, &b, false) == NULL);
	int kept;
	uint64_t handle;
	CHECK_EQ_INT(replicd_unlinked_get(&s, HIDDEN, &kept, &handle), 0);
	close(kept);
	/* The last one, without a path: the kept file goes. */
	CHECK_EQ_INT(replicd_unlinked_opened(&s, &b, again), 0);
	close(again);
	struct replicd_unlinked *gone = replicd_unlinked_closed(&s, &b, true);
	CHECK(gone != NULL);
	if (gone) {
		CHECK_EQ_INT(gone->handle, 9);
		CHECK(gone->next == NULL);
		free(gone);
	}
	CHECK_EQ_INT(replicd_unlinked_get(&s, HIDDEN, &kept, &handle), -ENOENT);
	replicd_unlinked_clear(&s);
}

TEST_MAIN(TEST(test_only_libfuse_shaped_names_are_hidden_names),
	  TEST(test_a_rename_request_names_its_target),
	  TEST(test_a_kept_file_is_found_by_its_hidden_name_only),
	  TEST(test_a_kept_file_goes_with_the_last_open_file_of_its_inode))
