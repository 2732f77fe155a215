/*
 * watchdog_test.c - etcd.watchdog (heartbeatd/watchdog.h): its timeout from
 * the timings, pets only while they keep the reset before the lease's end
 * in etcd, and what reaches the device: pets, then the magic close.
 */
#include "test.h"
#include "watchdog.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static void test_timeout_leaves_two_intervals_of_the_lease(void)
{
	CHECK_EQ_INT(hb_watchdog_timeout_s(5000, 200), 4);
	CHECK_EQ_INT(hb_watchdog_timeout_s(2000, 100), 1);
	CHECK_EQ_INT(hb_watchdog_timeout_s(30000, 1000), 28);
	CHECK_EQ_INT(hb_watchdog_timeout_s(1000, 200), 1); /* floor */
}

static void test_pets_stop_once_the_reset_would_come_after_the_lease(void)
{
	/* Keepalive sent at 10000, TTL 5 s: etcd frees the key at 15000. */
	int64_t end = 15000;
	CHECK(hb_watchdog_may_pet(10100, end, 4));
	CHECK(hb_watchdog_may_pet(11000, end, 4)); /* resets at 15000 */
	CHECK(!hb_watchdog_may_pet(11001, end, 4));
	CHECK(!hb_watchdog_may_pet(14000, end, 4));
	CHECK(!hb_watchdog_may_pet(10100, 0, 4)); /* no lease */
}

static void test_a_file_gets_pets_then_the_magic_close(void)
{
	char path[] = "/tmp/skyha-watchdog-test-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	struct hb_watchdog w;
	char why[256] = "";
	hb_watchdog_init(&w, path, 4);
	CHECK(!hb_watchdog_armed(&w));
	hb_watchdog_disarm(&w); /* not armed: nothing */
	CHECK_EQ_INT(hb_watchdog_arm(&w, 100, why, sizeof(why)), 0);
	CHECK(hb_watchdog_armed(&w));
	CHECK(w.no_ioctl); /* a file: no timeout ioctl */
	CHECK_EQ_INT(hb_watchdog_pet(&w, 200), 0);
	CHECK_EQ_INT(w.pets, 2);
	hb_watchdog_disarm(&w);
	CHECK(!hb_watchdog_armed(&w));
	CHECK_EQ_INT(hb_watchdog_pet(&w, 300), -EBADF);
	char buf[16] = "";
	fd = open(path, O_RDONLY);
	CHECK_EQ_INT(read(fd, buf, sizeof(buf) - 1), 3);
	close(fd);
	CHECK(strcmp(buf, "11V") == 0);
	unlink(path);
}

static void test_a_missing_device_is_an_error_that_names_it(void)
{
	struct hb_watchdog w;
	char why[256] = "";
	hb_watchdog_init(&w, "/nonexistent/watchdog", 4);
	CHECK_EQ_INT(hb_watchdog_arm(&w, 0, why, sizeof(why)), -ENOENT);
	CHECK_STR_CONTAINS(why, "/nonexistent/watchdog");
	CHECK(!hb_watchdog_armed(&w));
}

TEST_MAIN(TEST(test_timeout_leaves_two_intervals_of_the_lease),
	  TEST(test_pets_stop_once_the_reset_would_come_after_the_lease),
	  TEST(test_a_file_gets_pets_then_the_magic_close),
	  TEST(test_a_missing_device_is_an_error_that_names_it))
