/*
 * healthd_auth_test.c - who may act through healthd's API: the users and
 * tokens files (good lines and hostile ones, each refused with
 * file:line:column and the field), roles and what each allows, tokens
 * (valid, expired, unknown), sessions, the CSRF check, the login and
 * action bodies, and the API's routes.
 */
#include "../../healthd/auth.h"
#include "../../healthd/route.h"
#include "test.h"

#include <sodium.h>
#include <stdlib.h>

#define HASH                                                                   \
	"$argon2id$v=19$m=65536,t=2,p=1$GLtviU5G4IDu12HA+oUjxA$8g2WVB20H+"     \
	"9OryYYs"                                                              \
	"HV5FOxCxIknZM3JKoRi8NLnD/Y"
/* sha256("token-one") and sha256("token-two"), in hex: set by test_setup */
static char sha_one[65], sha_two[65];

static void hex_sha(const char *text, char *out)
{
	unsigned char sum[32];
	crypto_hash_sha256(sum, (const unsigned char *)text, strlen(text));
	sodium_bin2hex(out, 65, sum, 32);
}

static int users(struct healthd_users *u, const char *text, char *err)
{
	return healthd_users_parse(u, "users", text, strlen(text), err, 300);
}

static int tokens(struct healthd_users *u, const char *text, char *err)
{
	return healthd_tokens_parse(u, "tokens", text, strlen(text), err, 300);
}

static void test_users_file_is_read(void)
{
	struct healthd_users u = {0};
	char err[300] = "";
	CHECK_EQ_INT(users(&u,
			   "# comment\n\nalice admin " HASH "\n"
			   "  bob\tmonitor  " HASH "  \r\n"
			   "ops.team@x control " HASH,
			   err),
		     0);
	CHECK_EQ_INT(u.user_count, 3);
	const struct healthd_user *b = healthd_user_find(&u, "bob");
	CHECK(b && b->role == HEALTHD_ROLE_MONITOR && !strcmp(b->hash, HASH));
	CHECK(healthd_user_find(&u, "ops.team@x") != NULL);
	CHECK(healthd_user_find(&u, "carol") == NULL);
	healthd_users_free(&u);
}

static void test_hostile_users_lines_are_refused_with_their_place(void)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"alice admin\n", "users:1:12: 2 fields where 3"},
		{"alice admin " HASH " extra\n", "users:1:"},
		{"alice root " HASH "\n", "users:1:7: role"},
		{"al/ice admin " HASH "\n", "users:1:1: name"},
		{"alice admin "
		 "$argon2i$v=19$m=4096,t=3,p=1$abcdefghijklmnop$x\n",
		 "users:1:13: hash: not an argon2id hash"},
		{"alice admin md5sum\n", "hash"},
		{"alice admin " HASH "\nalice monitor " HASH "\n",
		 "users:2:1: name: 'alice' is already listed"},
		{"alice admin " HASH "\x01\n", "users:1:"},
		{"alice admin " HASH "\xc3\xa9\n", "non-ASCII"},
		{"\n\nbob monitor\0 " HASH "\n", "users:3:"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct healthd_users u = {0};
		char err[300] = "";
		size_t len = strlen(bad[i].text);
		if (i == 9)
			len = 16 + strlen(HASH); /* the NUL inside */
		CHECK_EQ_INT(healthd_users_parse(&u, "users", bad[i].text, len,
						 err, sizeof(err)),
			     -EINVAL);
		CHECK_STR_CONTAINS(err, bad[i].want);
		CHECK_EQ_INT(u.user_count, 0);
		healthd_users_free(&u);
	}
}

static void test_oversized_users_input_is_refused(void)
{
	struct healthd_users u = {0};
	char err[300] = "";
	char *big = malloc(HEALTHD_AUTH_FILE_MAX + 2);
	memset(big, '#', HEALTHD_AUTH_FILE_MAX + 1);
	big[HEALTHD_AUTH_FILE_MAX + 1] = '\0';
	CHECK_EQ_INT(users(&u, big, err), -EINVAL);
	CHECK_STR_CONTAINS(err, "larger than");
	memset(big, 'a', 600);
	big[600] = '\0';
	CHECK_EQ_INT(users(&u, big, err), -EINVAL);
	CHECK_STR_CONTAINS(err, "line longer than");
	/* more users than the table holds */
	size_t at = 0;
	for (int i = 0; i <= HEALTHD_USERS_MAX && at < HEALTHD_AUTH_FILE_MAX;
	     i++)
		at += (size_t)snprintf(big + at, HEALTHD_AUTH_FILE_MAX + 2 - at,
				       "u%d monitor %s\n", i, HASH);
	CHECK_EQ_INT(users(&u, big, err), -EINVAL);
	CHECK_STR_CONTAINS(err, "more than 256 users");
	free(big);
	healthd_users_free(&u);
}

static void test_tokens_file_and_expiry(void)
{
	struct healthd_users u = {0};
	const struct healthd_token *t;
	char err[300] = "", text[512];
	int64_t when;

	CHECK_EQ_INT(healthd_rfc3339_parse("2030-01-01T00:00:00Z", 20, &when),
		     0);
	snprintf(text, sizeof(text),
		 "ci control %s 2030-01-01T00:00:00Z\n"
		 "old admin %s 2024-06-01T12:00:00.5+02:00\n",
		 sha_one, sha_two);
	CHECK_EQ_INT(tokens(&u, text, err), 0);
	CHECK_EQ_INT(u.token_count, 2);
	CHECK_EQ_INT(healthd_token_check(&u, "token-one", 9, when - 1, &t),
		     HEALTHD_TOKEN_VALID);
	CHECK(t && !strcmp(t->name, "ci") && t->role == HEALTHD_ROLE_CONTROL);
	CHECK_EQ_INT(healthd_token_check(&u, "token-one", 9, when, &t),
		     HEALTHD_TOKEN_EXPIRED);
	CHECK_EQ_INT(
		healthd_token_check(&u, "token-two", 9, 1717236000 - 1, &t),
		HEALTHD_TOKEN_VALID); /* 10:00Z is 12:00+02:00 */
	CHECK_EQ_INT(healthd_token_check(&u, "token-two", 9, 1717236000, &t),
		     HEALTHD_TOKEN_EXPIRED);
	CHECK(t && !strcmp(t->name, "old"));
	CHECK_EQ_INT(healthd_token_check(&u, "token-thre", 10, 0, &t),
		     HEALTHD_TOKEN_UNKNOWN);
	CHECK(t == NULL);
	CHECK_EQ_INT(healthd_token_check(&u, "", 0, 0, &t),
		     HEALTHD_TOKEN_UNKNOWN);
	healthd_users_free(&u);
}

static void test_hostile_tokens_lines_are_refused(void)
{
	char line[512];
	static const struct {
		const char *fmt, *want;
	} bad[] = {
		{"ci control %.63s 2030-01-01T00:00:00Z\n", "users"},
		{"ci control %s 2030-13-01T00:00:00Z\n", "tokens:1:77: expiry"},
		{"ci control %s 2030-02-30T00:00:00Z\n", "expiry"},
		{"ci control %s 2030-01-01 00:00:00\n", "fields"},
		{"ci control %s 2030-01-01T00:00:00\n", "expiry"},
		{"ci control %s 2030-01-01T00:00:00+2:00\n", "expiry"},
		{"ci control %s 2023-02-29T00:00:00Z\n", "expiry"},
		{"ci superuser %s 2030-01-01T00:00:00Z\n", "role"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct healthd_users u = {0};
		char err[300] = "";
		snprintf(line, sizeof(line), bad[i].fmt, sha_one);
		CHECK_EQ_INT(tokens(&u, line, err), -EINVAL);
		if (i == 0)
			CHECK_STR_CONTAINS(err, "sha256: 64 hex digits");
		else
			CHECK_STR_CONTAINS(err, bad[i].want);
		healthd_users_free(&u);
	}
	struct healthd_users u = {0};
	char err[300] = "";
	snprintf(line, sizeof(line),
		 "a control %s 2030-01-01T00:00:00Z\n"
		 "b admin %s 2030-01-01T00:00:00Z\n",
		 sha_one, sha_one);
	CHECK_EQ_INT(tokens(&u, line, err), -EINVAL);
	CHECK_STR_CONTAINS(err, "tokens:2:9: sha256: the same token as 'a'");
	char bad_hex[65];
	memcpy(bad_hex, sha_one, 65);
	bad_hex[10] = 'g';
	snprintf(line, sizeof(line), "a control %s 2030-01-01T00:00:00Z\n",
		 bad_hex);
	CHECK_EQ_INT(tokens(&u, line, err), -EINVAL);
	CHECK_STR_CONTAINS(err, "sha256");
	healthd_users_free(&u);
}

static void test_roles_and_what_they_allow(void)
{
	enum healthd_role r;
	CHECK_EQ_INT(healthd_role_parse("admin", 5, &r), 0);
	CHECK_EQ_INT(r, HEALTHD_ROLE_ADMIN);
	CHECK_EQ_INT(healthd_role_parse("none", 4, &r), -EINVAL);
	CHECK_EQ_INT(healthd_role_parse("admi", 4, &r), -EINVAL);
	static const enum healthd_action plain[] = {
		HEALTHD_ACTION_SWAP, HEALTHD_ACTION_PRIM, HEALTHD_ACTION_SECOND,
		HEALTHD_ACTION_STOP, HEALTHD_ACTION_START};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		enum healthd_role need = healthd_action_role(plain[i], false);
		CHECK_EQ_INT(need, HEALTHD_ROLE_CONTROL);
		CHECK(!healthd_role_allows(HEALTHD_ROLE_MONITOR, need));
		CHECK(healthd_role_allows(HEALTHD_ROLE_CONTROL, need));
		CHECK(healthd_role_allows(HEALTHD_ROLE_ADMIN, need));
		CHECK(!healthd_role_allows(HEALTHD_ROLE_NONE, need));
	}
	CHECK_EQ_INT(healthd_action_role(HEALTHD_ACTION_PRIM, true),
		     HEALTHD_ROLE_ADMIN);
	CHECK_EQ_INT(healthd_action_role(HEALTHD_ACTION_RESYNC, true),
		     HEALTHD_ROLE_ADMIN);
	CHECK_EQ_INT(healthd_action_role(HEALTHD_ACTION_NONE, false),
		     HEALTHD_ROLE_ADMIN);
	CHECK(!healthd_role_allows(HEALTHD_ROLE_CONTROL, HEALTHD_ROLE_ADMIN));
	CHECK(healthd_role_allows(HEALTHD_ROLE_MONITOR, HEALTHD_ROLE_MONITOR));
}

static void test_sessions_expire_and_csrf_must_match(void)
{
	static struct healthd_sessions t = {.idle_ms = 1000};
	struct healthd_session *s =
		healthd_session_new(&t, "alice", HEALTHD_ROLE_ADMIN, 5000);
	char id[HEALTHD_SECRET_HEX + 1], csrf[HEALTHD_SECRET_HEX + 1];

	CHECK_EQ_INT(strlen(s->id), 64);
	CHECK_EQ_INT(strlen(s->csrf), 64);
	CHECK(strcmp(s->id, s->csrf) != 0);
	memcpy(id, s->id, sizeof(id));
	memcpy(csrf, s->csrf, sizeof(csrf));
	CHECK(healthd_session_find(&t, id, 5900) == s); /* idle restarts */
	CHECK(healthd_session_find(&t, id, 6800) == s);
	CHECK(healthd_csrf_ok(s, csrf));
	CHECK(!healthd_csrf_ok(s, NULL));
	CHECK(!healthd_csrf_ok(s, ""));
	CHECK(!healthd_csrf_ok(s, id));
	csrf[63] = csrf[63] == 'a' ? 'b' : 'a';
	CHECK(!healthd_csrf_ok(s, csrf));
	CHECK(!healthd_csrf_ok(NULL, csrf));
	char shorter[64];
	memcpy(shorter, id, 63);
	shorter[63] = '\0';
	CHECK(healthd_session_find(&t, shorter, 6800) == NULL);
	CHECK(healthd_session_find(&t, NULL, 6800) == NULL);
	CHECK(healthd_session_find(&t, id, 7800) == NULL); /* idle 1 s */
	CHECK(s->id[0] == '\0');			   /* cleared */
	/* the absolute limit, however busy */
	s = healthd_session_new(&t, "bob", HEALTHD_ROLE_MONITOR, 0);
	memcpy(id, s->id, sizeof(id));
	int64_t now = 0;
	for (; now < HEALTHD_SESSION_MAX_MS; now += 900)
		CHECK(healthd_session_find(&t, id, now) == s);
	CHECK(healthd_session_find(&t, id, now) == NULL);
	/* a full table replaces the least recently used */
	for (int i = 0; i < HEALTHD_SESSIONS_MAX + 3; i++)
		CHECK(healthd_session_new(&t, "x", HEALTHD_ROLE_MONITOR,
					  100 + i) != NULL);
	for (int i = 0; i < HEALTHD_SESSIONS_MAX; i++)
		CHECK(t.s[i].id[0] != '\0');
}

static void test_bearer_header(void)
{
	size_t len;
	const char *t = healthd_bearer_of("Bearer abc ", &len);
	CHECK(t && len == 3 && !strncmp(t, "abc", 3));
	t = healthd_bearer_of("bearer   xyz", &len);
	CHECK(t && len == 3);
	CHECK(healthd_bearer_of("Basic YWxpY2U6cHc=", &len) == NULL);
	CHECK(healthd_bearer_of(NULL, &len) == NULL);
	CHECK(healthd_bearer_of("Bearer", &len) == NULL);
}

static void test_login_and_action_bodies(void)
{
	char user[65], pw[257], err[200];
	const char *good = "{\"user\":\"alice\",\"password\":\"p w\"}";
	CHECK_EQ_INT(healthd_login_parse(good, strlen(good), user, sizeof(user),
					 pw, sizeof(pw), err, sizeof(err)),
		     0);
	CHECK(!strcmp(user, "alice") && !strcmp(pw, "p w"));
	static const char *const bad[] = {
		"",
		"[]",
		"{\"user\":\"alice\"}",
		"{\"user\":\"alice\",\"password\":1}",
		"{\"user\":\"\",\"password\":\"x\"}",
		"{\"user\":\"a\",\"password\":\"x\",\"role\":\"admin\"}",
		"{\"user\":\"a\",\"user\":\"b\",\"password\":\"x\"}",
		"{\"user\":\"a\\u0000b\",\"password\":\"x\"}",
		"{\"user\":\"a\\nINFO forged\",\"password\":\"x\"}",
		"{\"user\":\"a b\",\"password\":\"x\"}",
		"{\"user\":\"a\",\"password\":\"x\\u0000y\"}",
		"{\"user\":\"a\",\"password\":\"x\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(healthd_login_parse(bad[i], strlen(bad[i]), user,
						 sizeof(user), pw, sizeof(pw),
						 err, sizeof(err)),
			     -EINVAL);
	bool forced;
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_SWAP, "", 0,
					       &forced, err, sizeof(err)),
		     0);
	CHECK(!forced);
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_SWAP, "{}\n", 3,
					       &forced, err, sizeof(err)),
		     0);
	const char *f = "{\"force\":true}";
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_PRIM, f,
					       strlen(f), &forced, err,
					       sizeof(err)),
		     0);
	CHECK(forced);
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_SWAP, f,
					       strlen(f), &forced, err,
					       sizeof(err)),
		     -EINVAL);
	CHECK_STR_CONTAINS(err, "swap takes no field");
	f = "{\"forse\":true}";
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_PRIM, f,
					       strlen(f), &forced, err,
					       sizeof(err)),
		     -EINVAL);
	f = "{\"force\":\"yes\"}";
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_PRIM, f,
					       strlen(f), &forced, err,
					       sizeof(err)),
		     -EINVAL);
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_RESYNC, "", 0,
					       &forced, err, sizeof(err)),
		     -EINVAL);
	CHECK_STR_CONTAINS(err, "discard_local");
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_CHECKERS, "", 0,
					       &forced, err, sizeof(err)),
		     -EINVAL);
	CHECK_STR_CONTAINS(err, "checkers needs");
	f = "{\"on\":false}";
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_CHECKERS, f,
					       strlen(f), &forced, err,
					       sizeof(err)),
		     0);
	CHECK(forced); /* off needs admin */
	CHECK_EQ_INT(healthd_action_role(HEALTHD_ACTION_CHECKERS, forced),
		     HEALTHD_ROLE_ADMIN);
	f = "{\"on\":true}";
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_CHECKERS, f,
					       strlen(f), &forced, err,
					       sizeof(err)),
		     0);
	CHECK(!forced);
	CHECK_EQ_INT(healthd_action_role(HEALTHD_ACTION_CHECKERS, forced),
		     HEALTHD_ROLE_CONTROL);
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_RESTART, f,
					       strlen(f), &forced, err,
					       sizeof(err)),
		     -EINVAL);
	CHECK_EQ_INT(healthd_action_role(HEALTHD_ACTION_RESTART, false),
		     HEALTHD_ROLE_CONTROL);
	/* backup now: control, no field. */
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_BACKUP, f,
					       strlen(f), &forced, err,
					       sizeof(err)),
		     -EINVAL);
	CHECK(strstr(err, "backup takes no field") != NULL);
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_BACKUP, "{}", 2,
					       &forced, err, sizeof(err)),
		     0);
	CHECK(!forced);
	CHECK_EQ_INT(healthd_action_role(HEALTHD_ACTION_BACKUP, false),
		     HEALTHD_ROLE_CONTROL);
	f = "{\"discard_local\":true}";
	CHECK_EQ_INT(healthd_action_body_parse(HEALTHD_ACTION_RESYNC, f,
					       strlen(f), &forced, err,
					       sizeof(err)),
		     0);
	CHECK(forced);
}

static struct healthd_route route(const char *method, const char *url)
{
	struct healthd_route r;
	healthd_route(method, url, &r);
	return r;
}

static void test_api_routes(void)
{
	struct healthd_route r = route("POST", "/api/v1/modules/app/swap");
	CHECK_EQ_INT(r.page, HEALTHD_PAGE_API_ACTION);
	CHECK(r.post && r.api && r.method_allowed);
	CHECK(!strcmp(r.module, "app") && r.action == HEALTHD_ACTION_SWAP);
	r = route("GET", "/api/v1/modules/app/swap");
	CHECK(r.page == HEALTHD_PAGE_API_ACTION && !r.method_allowed);
	CHECK(!strcmp(healthd_route_allow(&r), "POST"));
	CHECK_EQ_INT(route("POST", "/api/v1/modules/app/restart").action,
		     HEALTHD_ACTION_RESTART);
	CHECK_EQ_INT(route("POST", "/api/v1/modules/app/checkers").action,
		     HEALTHD_ACTION_CHECKERS);
	CHECK_EQ_INT(route("POST", "/api/v1/modules/app/backup").action,
		     HEALTHD_ACTION_BACKUP);
	r = route("POST", "/api/v1/modules/db-2/resync");
	CHECK(r.action == HEALTHD_ACTION_RESYNC && !strcmp(r.module, "db-2"));
	CHECK_EQ_INT(route("GET", "/api/v1/modules").page,
		     HEALTHD_PAGE_API_MODULES);
	CHECK(!route("POST", "/api/v1/modules").method_allowed);
	CHECK_EQ_INT(route("GET", "/api/v1/session").page,
		     HEALTHD_PAGE_API_SESSION);
	r = route("POST", "/api/v1/login");
	CHECK(r.page == HEALTHD_PAGE_API_LOGIN && r.method_allowed && r.post);
	CHECK(!route("HEAD", "/api/v1/login").method_allowed);
	CHECK(route("POST", "/api/v1/logout").method_allowed);
	CHECK(!route("GET", "/status").api && !route("GET", "/status").post);
	static const char *const bad[] = {
		"/api/v1/modules/app/failover",
		"/api/v1/modules/app/",
		"/api/v1/modules//swap",
		"/api/v1/modules/../swap",
		"/api/v1/modules/app/swap/",
		"/api/v1/modules/a/b/swap",
		"/api/v1/login/",
		"/api/v2/modules",
		"/api/v1/modules/app/swapx",
		"/api/v1/modules/"
		"a23456789012345678901234567890123/swap",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(route("POST", bad[i]).page,
			     HEALTHD_PAGE_NOT_FOUND);
}

static void test_setup(void)
{
	CHECK(sodium_init() >= 0);
	hex_sha("token-one", sha_one);
	hex_sha("token-two", sha_two);
	CHECK_EQ_INT(strlen(sha_one), 64);
}

TEST_MAIN(TEST(test_setup), TEST(test_users_file_is_read),
	  TEST(test_hostile_users_lines_are_refused_with_their_place),
	  TEST(test_oversized_users_input_is_refused),
	  TEST(test_tokens_file_and_expiry),
	  TEST(test_hostile_tokens_lines_are_refused),
	  TEST(test_roles_and_what_they_allow),
	  TEST(test_sessions_expire_and_csrf_must_match),
	  TEST(test_bearer_header), TEST(test_login_and_action_bodies),
	  TEST(test_api_routes))
