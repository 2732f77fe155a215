/*
 * auth_fuzz.c - what healthd's API reads from outside: healthd/auth.c
 * The users and tokens files (an operator's, but read at start as
 * untrusted text), the login body and the action bodies any HTTP client
 * sends, the RFC 3339 expiry and the Authorization header.
 *
 * The first byte picks the parser (0: users file, 1: tokens file, 2: login
 * body, 3: an action's body, 4: an expiry, 5: a bearer header); the rest
 * is its input. Whatever is accepted must be what the parser promises:
 * valid names and roles, argon2id hashes, bounded strings.
 */
#include "auth.h"
#include "fuzz.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct healthd_users u;
	char err[300], user[HEALTHD_USER_MAX + 1], pw[HEALTHD_PASSWORD_MAX + 1];
	const struct healthd_token *t;
	bool forced;
	int64_t when;
	size_t len;

	if (size < 1)
		return 0;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	char *text = fuzz_text(data + 1, n);
	if (!text)
		return 0;
	switch (data[0] % 6) {
	case 0:
		if (healthd_users_parse(&u, "users", in, n, err, sizeof(err)) ==
		    0) {
			FUZZ_ASSERT(u.user_count <= HEALTHD_USERS_MAX);
			for (size_t i = 0; i < u.user_count; i++) {
				const struct healthd_user *e = &u.users[i];
				FUZZ_ASSERT(strlen(e->name) >= 1);
				FUZZ_ASSERT(e->role >= HEALTHD_ROLE_MONITOR &&
					    e->role <= HEALTHD_ROLE_ADMIN);
				FUZZ_ASSERT(
					!strncmp(e->hash, "$argon2id$", 10));
				FUZZ_ASSERT(healthd_user_find(&u, e->name) ==
					    e);
			}
		}
		break;
	case 1:
		if (sodium_init() < 0)
			break;
		if (healthd_tokens_parse(&u, "tokens", in, n, err,
					 sizeof(err)) == 0) {
			FUZZ_ASSERT(u.token_count <= HEALTHD_TOKENS_MAX);
			for (size_t i = 0; i < u.token_count; i++)
				FUZZ_ASSERT(u.tokens[i].role !=
					    HEALTHD_ROLE_NONE);
		}
		(void)healthd_token_check(&u, in, n, 0, &t);
		break;
	case 2:
		if (healthd_login_parse(in, n, user, sizeof(user), pw,
					sizeof(pw), err, sizeof(err)) == 0) {
			FUZZ_ASSERT(strlen(user) >= 1 &&
				    strlen(user) <= HEALTHD_USER_MAX);
			FUZZ_ASSERT(strlen(pw) >= 1 &&
				    strlen(pw) <= HEALTHD_PASSWORD_MAX);
		}
		break;
	case 3:
		for (int a = HEALTHD_ACTION_SWAP; a < HEALTHD_ACTION_COUNT; a++)
			if (healthd_action_body_parse((enum healthd_action)a,
						      in, n, &forced, err,
						      sizeof(err)) == 0)
				FUZZ_ASSERT(!forced ||
					    a == HEALTHD_ACTION_PRIM ||
					    a == HEALTHD_ACTION_RESYNC);
		break;
	case 4:
		if (healthd_rfc3339_parse(in, n, &when) == 0)
			FUZZ_ASSERT(when > -14 * 3600 - 1);
		break;
	case 5:
		if (healthd_bearer_of(text, &len))
			FUZZ_ASSERT(len <= 1024);
		break;
	}
	free(text);
	return 0;
}
