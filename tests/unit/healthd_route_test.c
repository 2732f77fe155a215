/*
 * healthd_route_test.c - which answer a request gets, from method and path
 * alone: known pages, module names, hostile paths, methods.
 */
#include "../../healthd/route.h"
#include "test.h"

static struct healthd_route route(const char *method, const char *url)
{
	struct healthd_route r;
	healthd_route(method, url, &r);
	return r;
}

static void test_health_path_names_a_module(void)
{
	struct healthd_route r = route("GET", "/health/app");
	CHECK_EQ_INT(r.page, HEALTHD_PAGE_HEALTH);
	CHECK(strcmp(r.module, "app") == 0);
	CHECK(r.method_allowed && !r.head);
	r = route("GET", "/health/db-2_x.y");
	CHECK_EQ_INT(r.page, HEALTHD_PAGE_HEALTH);
	CHECK(strcmp(r.module, "db-2_x.y") == 0);
}

static void test_safekit_ready_txt_means_the_same(void)
{
	struct healthd_route r = route("GET", "/var/modules/app/ready.txt");
	CHECK_EQ_INT(r.page, HEALTHD_PAGE_HEALTH);
	CHECK(strcmp(r.module, "app") == 0);
	CHECK_EQ_INT(route("GET", "/var/modules/app/ready.txtx").page,
		     HEALTHD_PAGE_NOT_FOUND);
	CHECK_EQ_INT(route("GET", "/var/modules//ready.txt").page,
		     HEALTHD_PAGE_NOT_FOUND);
	CHECK_EQ_INT(route("GET", "/var/modules/a/b/ready.txt").page,
		     HEALTHD_PAGE_NOT_FOUND);
}

static void test_fixed_pages(void)
{
	CHECK_EQ_INT(route("GET", "/").page, HEALTHD_PAGE_CONSOLE);
	CHECK_EQ_INT(route("GET", "/index.html").page, HEALTHD_PAGE_CONSOLE);
	CHECK_EQ_INT(route("GET", "/console.js").page, HEALTHD_PAGE_CONSOLE_JS);
	CHECK_EQ_INT(route("GET", "/console.css").page,
		     HEALTHD_PAGE_CONSOLE_CSS);
	CHECK_EQ_INT(route("GET", "/status").page, HEALTHD_PAGE_STATUS);
	CHECK_EQ_INT(route("GET", "/metrics").page, HEALTHD_PAGE_METRICS);
}

static void test_traversal_and_bad_names_are_not_found(void)
{
	static const char *const bad[] = {
		"/health/..",
		"/health/.",
		"/health/../../etc/passwd",
		"/health/app/",
		"/health/app/x",
		"/health/",
		"/health",
		"/health/app%00",
		"/health/a b",
		"/health/"
		"abcdefghijabcdefghijabcdefghijabc", /* 33 bytes */
		"/var/modules/../ready.txt",
		"/var/modules/../../etc/ready.txt",
		"/status/",
		"/status?x",
		"//status",
		"/METRICS",
		"/favicon.ico",
		"",
		"health/app",
	};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(bad); i++) {
		struct healthd_route r = route("GET", bad[i]);
		if (r.page != HEALTHD_PAGE_NOT_FOUND)
			fprintf(stderr, "  routed: '%s'\n", bad[i]);
		CHECK_EQ_INT(r.page, HEALTHD_PAGE_NOT_FOUND);
	}
	CHECK_EQ_INT(route("GET", NULL).page, HEALTHD_PAGE_NOT_FOUND);
	CHECK_EQ_INT(route(NULL, NULL).page, HEALTHD_PAGE_NOT_FOUND);
	/* 32 bytes is the longest name. */
	CHECK_EQ_INT(
		route("GET", "/health/abcdefghijabcdefghijabcdefghijab").page,
		HEALTHD_PAGE_HEALTH);
}

static void test_overlong_url_is_not_found(void)
{
	char url[HEALTHD_URL_MAX + 64];
	memset(url, 'a', sizeof(url) - 1);
	url[0] = '/';
	url[sizeof(url) - 1] = '\0';
	CHECK_EQ_INT(route("GET", url).page, HEALTHD_PAGE_NOT_FOUND);
}

static void test_only_get_and_head_are_allowed(void)
{
	CHECK(route("GET", "/status").method_allowed);
	struct healthd_route r = route("HEAD", "/health/app");
	CHECK(r.method_allowed && r.head);
	static const char *const refused[] = {"POST",  "PUT",	"DELETE",
					      "get",   "TRACE", "OPTIONS",
					      "PATCH", ""};
	for (size_t i = 0; i < SKY_ARRAY_SIZE(refused); i++) {
		r = route(refused[i], "/health/app");
		CHECK_EQ_INT(r.page, HEALTHD_PAGE_HEALTH);
		CHECK(!r.method_allowed);
	}
	CHECK(!route(NULL, "/status").method_allowed);
}

static void test_a_request_with_a_body_is_recognised(void)
{
	CHECK(!healthd_route_has_body(NULL, NULL));
	CHECK(!healthd_route_has_body("0", NULL));
	CHECK(healthd_route_has_body("12", NULL));
	CHECK(healthd_route_has_body("00", NULL));
	CHECK(healthd_route_has_body(NULL, "chunked"));
	CHECK(healthd_route_has_body("0", ""));
}

TEST_MAIN(TEST(test_health_path_names_a_module),
	  TEST(test_safekit_ready_txt_means_the_same), TEST(test_fixed_pages),
	  TEST(test_traversal_and_bad_names_are_not_found),
	  TEST(test_overlong_url_is_not_found),
	  TEST(test_only_get_and_head_are_allowed),
	  TEST(test_a_request_with_a_body_is_recognised))
