/*
 * replicd_applier_test.c - the secondary's write thread: writes land in
 * the order queued, a drain returns only once they are on disk, a failure
 * stops the writes queued after it until it is reported, and a failure
 * during a resync is only counted, unless the disk cannot hold the data.
 */
#include "applier.h"
#include "test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static int root = -1;

/* A fresh directory with an empty file "f" and a started applier;
 * returns f's descriptor (read-write). */
static int setup(struct replicd_applier *a)
{
	snprintf(dir, sizeof(dir), "/tmp/replicd-applier-test.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	root = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	CHECK(root >= 0);
	int fd = openat(root, "f", O_CREAT | O_RDWR, 0600);
	CHECK(fd >= 0);
	CHECK_EQ_INT(replicd_applier_start(a), 0);
	return fd;
}

static void teardown(void)
{
	unlinkat(root, "f", 0);
	close(root);
	rmdir(dir);
}

/* A write of len bytes of value at off to "f" (by path), or to fd. */
static struct replicd_write_job *job(uint64_t seq, int fd, uint64_t off,
				     size_t len, uint8_t value)
{
	struct replicd_write_job *j = replicd_write_job_new(len);
	CHECK(j != NULL);
	memset(j->buf, value, len);
	memset(&j->op, 0, sizeof(j->op));
	j->op.type = ROP_WRITE;
	j->op.seq = seq;
	j->op.path = "f";
	j->op.offset = off;
	j->op.data = j->buf;
	j->op.data_len = len;
	j->root = root;
	j->fd = fd;
	return j;
}

static void read_f(uint8_t *out, size_t len)
{
	int fd = openat(root, "f", O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ_INT(pread(fd, out, len, 0), (long long)len);
	close(fd);
}

static void test_writes_land_in_queue_order_and_drain_waits_for_them(void)
{
	struct replicd_applier a;
	uint8_t got[4096];
	int fd = setup(&a);
	/* 200 overlapping writes: the last one queued for a byte wins. */
	for (int i = 0; i < 200; i++)
		replicd_applier_push(&a, job((uint64_t)i + 1, fd,
					     (uint64_t)(i % 7) * 512, 1024,
					     (uint8_t)i));
	replicd_applier_drain(&a);
	read_f(got, 4096 - 512);
	for (int b = 0; b < 7; b++) {
		/* Block b (512 bytes) was last written by the highest i with
		 * i % 7 == b or i % 7 == b - 1. */
		int last = -1;
		for (int i = 0; i < 200; i++)
			if (i % 7 == b || i % 7 == b - 1)
				last = i;
		CHECK_EQ_INT(got[b * 512], (uint8_t)last);
		CHECK_EQ_INT(got[b * 512 + 511], (uint8_t)last);
	}
	uint64_t applied, errors;
	replicd_applier_counts(&a, &applied, &errors);
	CHECK_EQ_INT(applied, 200);
	CHECK_EQ_INT(errors, 0);
	struct replicd_apply_failure f;
	CHECK(!replicd_applier_take_failure(&a, &f));
	replicd_applier_stop(&a);
	close(fd);
	teardown();
}

static void test_a_failed_write_stops_later_ones_until_reported(void)
{
	struct replicd_applier a;
	struct replicd_apply_failure f;
	uint8_t got[3];
	int fd = setup(&a);
	replicd_applier_push(&a, job(1, fd, 0, 1, 'a'));
	/* A read-only descriptor: this write fails with EBADF. */
	int ro = openat(root, "f", O_RDONLY);
	CHECK(ro >= 0);
	replicd_applier_push(&a, job(2, ro, 1, 1, 'b'));
	replicd_applier_push(&a, job(3, fd, 2, 1, 'c')); /* skipped */
	replicd_applier_drain(&a);
	CHECK(replicd_applier_take_failure(&a, &f));
	CHECK_EQ_INT(f.seq, 2);
	CHECK_EQ_INT(f.err, -EBADF);
	CHECK(strcmp(f.path, "f") == 0);
	/* Reported once; writes apply again after it. */
	CHECK(!replicd_applier_take_failure(&a, &f));
	replicd_applier_push(&a, job(4, fd, 1, 1, 'd'));
	replicd_applier_drain(&a);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	CHECK_EQ_INT(st.st_size, 2); /* 'c' at offset 2 never landed */
	read_f(got, 2);
	CHECK(got[0] == 'a' && got[1] == 'd');
	/* During a resync a failure is expected: counted, not reported. */
	struct replicd_write_job *j = job(5, ro, 0, 1, 'e');
	j->resyncing = true;
	replicd_applier_push(&a, j);
	replicd_applier_push(&a, job(6, fd, 2, 1, 'g'));
	replicd_applier_drain(&a);
	CHECK(!replicd_applier_take_failure(&a, &f));
	uint64_t applied, errors;
	replicd_applier_counts(&a, &applied, &errors);
	CHECK_EQ_INT(applied, 3);
	CHECK_EQ_INT(errors, 1);
	CHECK(fstat(fd, &st) == 0);
	CHECK_EQ_INT(st.st_size, 3);
	replicd_applier_stop(&a);
	close(ro);
	close(fd);
	teardown();
}

static void test_a_full_disk_during_a_resync_is_reported(void)
{
	struct replicd_applier a;
	struct replicd_apply_failure f;
	int fd = setup(&a);
	/* /dev/full: every write fails with ENOSPC, as on a full disk. */
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	CHECK(full >= 0);
	struct replicd_write_job *j = job(1, full, 0, 4096, 'z');
	j->resyncing = true;
	replicd_applier_push(&a, j);
	replicd_applier_drain(&a);
	CHECK(replicd_applier_take_failure(&a, &f));
	CHECK_EQ_INT(f.seq, 1);
	CHECK_EQ_INT(f.err, -ENOSPC);
	uint64_t applied, errors;
	replicd_applier_counts(&a, &applied, &errors);
	CHECK_EQ_INT(errors, 0);
	CHECK(replicd_apply_err_is_local(-EIO));
	CHECK(replicd_apply_err_is_local(-EDQUOT));
	CHECK(!replicd_apply_err_is_local(-ENOENT));
	CHECK(!replicd_apply_err_is_local(-EBADF));
	replicd_applier_stop(&a);
	close(full);
	close(fd);
	teardown();
}

static void test_stop_applies_what_is_queued(void)
{
	struct replicd_applier a;
	int fd = setup(&a);
	for (int i = 0; i < 64; i++)
		replicd_applier_push(&a, job((uint64_t)i + 1, fd,
					     (uint64_t)i * 65536, 65536, 'x'));
	replicd_applier_stop(&a);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	CHECK_EQ_INT(st.st_size, 64 * 65536);
	close(fd);
	teardown();
}

TEST_MAIN(TEST(test_writes_land_in_queue_order_and_drain_waits_for_them),
	  TEST(test_a_failed_write_stops_later_ones_until_reported),
	  TEST(test_a_full_disk_during_a_resync_is_reported),
	  TEST(test_stop_applies_what_is_queued))
