/*
 * auth.h - who may act through healthd's API (docs/health.md, "API").
 *
 * Pure parts, each taking a buffer so a unit test or a fuzzer drives it:
 *
 *   the users file (--users-file), one user a line:
 *       NAME ROLE ARGON2ID-HASH
 *   the tokens file (--tokens-file), one bearer token a line:
 *       NAME ROLE SHA256-HEX-OF-TOKEN EXPIRY-RFC3339
 *   '#' starts a comment line; blank lines are skipped. A bad line refuses
 *   the whole file with FILE:LINE:COLUMN, the field and why.
 *
 *   roles, each allowing what the one before does:
 *       monitor  read (GET /api/v1/...)
 *       control  start, stop, swap, second, prim, restart, checkers on
 *       admin    the forced forms: prim --force, resync --discard-local,
 *                checkers off
 *
 *   sessions of the browser: a random 256-bit id (the cookie), a random
 *   CSRF token every state-changing request echoes in X-CSRF-Token, an idle
 *   expiry and an absolute one. Comparisons of secrets are constant-time.
 */
#ifndef HEALTHD_AUTH_H
#define HEALTHD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEALTHD_USER_MAX       64  /* bytes of a user or token name */
#define HEALTHD_HASH_MAX       128 /* crypto_pwhash_STRBYTES */
#define HEALTHD_USERS_MAX      256
#define HEALTHD_TOKENS_MAX     256
#define HEALTHD_AUTH_LINE_MAX  512
#define HEALTHD_AUTH_FILE_MAX  (256 * 1024)
#define HEALTHD_SECRET_HEX     64 /* 32 random bytes */
#define HEALTHD_SESSIONS_MAX   64
#define HEALTHD_SESSION_IDLE_S 900		    /* default --session-idle */
#define HEALTHD_SESSION_MAX_MS (12 * 3600 * 1000LL) /* absolute */

enum healthd_role {
	HEALTHD_ROLE_NONE = 0,
	HEALTHD_ROLE_MONITOR,
	HEALTHD_ROLE_CONTROL,
	HEALTHD_ROLE_ADMIN,
};
const char *healthd_role_name(enum healthd_role r);
int healthd_role_parse(const char *s, size_t len, enum healthd_role *out);

/* The actions of POST /api/v1/modules/MODULE/ACTION. */
enum healthd_action {
	HEALTHD_ACTION_NONE = 0,
	HEALTHD_ACTION_SWAP,
	HEALTHD_ACTION_PRIM,
	HEALTHD_ACTION_SECOND,
	HEALTHD_ACTION_STOP,
	HEALTHD_ACTION_START,
	HEALTHD_ACTION_RESYNC,
	HEALTHD_ACTION_RESTART,	 /* the application in place (checkd) */
	HEALTHD_ACTION_CHECKERS, /* body {"on": bool} */
	HEALTHD_ACTION_BACKUP,	 /* a backup run now, by systemd */
	HEALTHD_ACTION_COUNT,
};
/* The control socket's command name (docs/protocol.md). */
const char *healthd_action_name(enum healthd_action a);
int healthd_action_parse(const char *s, size_t len, enum healthd_action *out);
/*
 * The role an action needs: control for the plain forms, admin for the
 * forced ones (prim with force; resync, whose only form drops this node's
 * changes; checkers off, which leaves the application unwatched).
 */
enum healthd_role healthd_action_role(enum healthd_action a, bool forced);
static inline bool healthd_role_allows(enum healthd_role have,
				       enum healthd_role need)
{
	return have != HEALTHD_ROLE_NONE && have >= need;
}

struct healthd_user {
	char name[HEALTHD_USER_MAX + 1];
	enum healthd_role role;
	char hash[HEALTHD_HASH_MAX];
};

struct healthd_token {
	char name[HEALTHD_USER_MAX + 1];
	enum healthd_role role;
	uint8_t sha256[32];
	int64_t expires_s; /* Unix time */
};

struct healthd_users {
	struct healthd_user *users;
	size_t user_count;
	struct healthd_token *tokens;
	size_t token_count;
};

/*
 * Parse a users file of len bytes (file names it in errors). Replaces
 * u->users. 0, or -EINVAL with "FILE:LINE:COLUMN: FIELD: why" in err.
 */
int healthd_users_parse(struct healthd_users *u, const char *file,
			const char *buf, size_t len, char *err,
			size_t err_size);
/* The same for a tokens file; replaces u->tokens. */
int healthd_tokens_parse(struct healthd_users *u, const char *file,
			 const char *buf, size_t len, char *err,
			 size_t err_size);
void healthd_users_free(struct healthd_users *u);

/* "2027-01-31T12:00:00Z", "...+02:00", fractions of seconds allowed. */
int healthd_rfc3339_parse(const char *s, size_t len, int64_t *out_s);

const struct healthd_user *healthd_user_find(const struct healthd_users *u,
					     const char *name);

enum healthd_token_verdict {
	HEALTHD_TOKEN_UNKNOWN = 0,
	HEALTHD_TOKEN_VALID,
	HEALTHD_TOKEN_EXPIRED,
};
/*
 * The token of an "Authorization: Bearer TOKEN" value: its SHA-256 against
 * every entry, each compared in constant time. *found is the entry (also
 * for an expired one).
 */
enum healthd_token_verdict
healthd_token_check(const struct healthd_users *u, const char *token,
		    size_t len, int64_t now_s,
		    const struct healthd_token **found);

/*
 * The bearer token of an Authorization header value, or NULL (no header,
 * another scheme). *len is its length.
 */
const char *healthd_bearer_of(const char *authorization, size_t *len);

struct healthd_session {
	char id[HEALTHD_SECRET_HEX + 1]; /* "": free */
	char csrf[HEALTHD_SECRET_HEX + 1];
	char user[HEALTHD_USER_MAX + 1];
	enum healthd_role role;
	int64_t created_ms, used_ms;
};

struct healthd_sessions {
	struct healthd_session s[HEALTHD_SESSIONS_MAX];
	int64_t idle_ms;
};

/* Fill size bytes of hex (size-1 characters) from the system's CSPRNG. */
void healthd_random_hex(char *out, size_t size);

/*
 * A new session for user (the oldest one is replaced when the table is
 * full). Returns it, NULL never.
 */
struct healthd_session *healthd_session_new(struct healthd_sessions *t,
					    const char *user,
					    enum healthd_role role,
					    int64_t now_ms);
/*
 * The live session of a cookie value (NULL: none, expired or wrong); its
 * idle time restarts. Expired sessions found on the way are cleared.
 */
struct healthd_session *healthd_session_find(struct healthd_sessions *t,
					     const char *id, int64_t now_ms);
void healthd_session_end(struct healthd_session *s);

/*
 * Does the X-CSRF-Token header (NULL: absent) match the session's token?
 * Constant-time.
 */
bool healthd_csrf_ok(const struct healthd_session *s, const char *header);

/*
 * The login body {"user": S, "password": S} of len bytes: copies both
 * (bounded). 0, or -EINVAL with the reason in err.
 */
#define HEALTHD_PASSWORD_MAX 256
int healthd_login_parse(const char *buf, size_t len, char *user,
			size_t user_size, char *password, size_t password_size,
			char *err, size_t err_size);

/*
 * An action's body: empty, or a JSON object with only "force" (prim) or
 * "discard_local" (resync), booleans; checkers needs {"on": bool}.
 * *forced is set (for checkers: "on" is false). 0 or -EINVAL with the
 * reason in err.
 */
int healthd_action_body_parse(enum healthd_action a, const char *buf,
			      size_t len, bool *forced, char *err,
			      size_t err_size);

#endif
