/*
 * auth.c - users, tokens, roles, sessions and CSRF (see auth.h). Pure but
 * for the random bytes of new sessions.
 */
#include "auth.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const role_names[] = {
	[HEALTHD_ROLE_NONE] = "none",
	[HEALTHD_ROLE_MONITOR] = "monitor",
	[HEALTHD_ROLE_CONTROL] = "control",
	[HEALTHD_ROLE_ADMIN] = "admin",
};

const char *healthd_role_name(enum healthd_role r)
{
	return (size_t)r < SKY_ARRAY_SIZE(role_names) ? role_names[r] : "none";
}

int healthd_role_parse(const char *s, size_t len, enum healthd_role *out)
{
	for (size_t i = HEALTHD_ROLE_MONITOR; i < SKY_ARRAY_SIZE(role_names);
	     i++)
		if (strlen(role_names[i]) == len &&
		    memcmp(s, role_names[i], len) == 0) {
			*out = (enum healthd_role)i;
			return 0;
		}
	return -EINVAL;
}

static const char *const action_names[] = {
	[HEALTHD_ACTION_NONE] = "",
	[HEALTHD_ACTION_SWAP] = "swap",
	[HEALTHD_ACTION_PRIM] = "prim",
	[HEALTHD_ACTION_SECOND] = "second",
	[HEALTHD_ACTION_STOP] = "stop",
	[HEALTHD_ACTION_START] = "start",
	[HEALTHD_ACTION_RESYNC] = "resync",
	[HEALTHD_ACTION_RESTART] = "restart",
	[HEALTHD_ACTION_CHECKERS] = "checkers",
	[HEALTHD_ACTION_BACKUP] = "backup",
};

const char *healthd_action_name(enum healthd_action a)
{
	return (size_t)a < SKY_ARRAY_SIZE(action_names) ? action_names[a] : "";
}

int healthd_action_parse(const char *s, size_t len, enum healthd_action *out)
{
	for (size_t i = 1; i < SKY_ARRAY_SIZE(action_names); i++)
		if (strlen(action_names[i]) == len &&
		    memcmp(s, action_names[i], len) == 0) {
			*out = (enum healthd_action)i;
			return 0;
		}
	return -EINVAL;
}

enum healthd_role healthd_action_role(enum healthd_action a, bool forced)
{
	if (a == HEALTHD_ACTION_NONE || a >= HEALTHD_ACTION_COUNT)
		return HEALTHD_ROLE_ADMIN;
	if (a == HEALTHD_ACTION_RESYNC || forced)
		return HEALTHD_ROLE_ADMIN;
	return HEALTHD_ROLE_CONTROL;
}

/* --- the files ------------------------------------------------------------ */

/* A user or token name: [A-Za-z0-9_.@-], 1..HEALTHD_USER_MAX. */
static bool user_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > HEALTHD_USER_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '@' || c == '-'))
			return false;
	}
	return true;
}

struct field {
	const char *p;
	size_t len;
	size_t col; /* 1-based */
};

/* Split a line into at most max fields separated by spaces or tabs;
 * returns how many (max + 1 when there are more). */
static size_t split(const char *line, size_t len, struct field *f, size_t max)
{
	size_t n = 0, i = 0;
	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (n == max)
			return max + 1;
		f[n].p = line + i;
		f[n].col = i + 1;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		f[n].len = (size_t)(line + i - f[n].p);
		n++;
	}
	return n;
}

typedef int (*line_fn)(void *ctx, const struct field *f, size_t n,
		       const char *where, char *err, size_t err_size);

/*
 * Call fn for each line that is neither blank nor a comment. where is
 * "FILE:LINE" for the messages.
 */
static int each_line(const char *file, const char *buf, size_t len,
		     size_t nfields, line_fn fn, void *ctx, char *err,
		     size_t err_size)
{
	size_t lineno = 0, at = 0;
	char where[300];

	if (len > HEALTHD_AUTH_FILE_MAX)
		return sky_refuse(err, err_size, "%s: larger than %d bytes",
				  file, HEALTHD_AUTH_FILE_MAX);
	while (at < len) {
		const char *line = buf + at;
		const char *nl = memchr(line, '\n', len - at);
		size_t llen = nl ? (size_t)(nl - line) : len - at;
		struct field f[4];
		at += llen + (nl ? 1 : 0);
		lineno++;
		snprintf(where, sizeof(where), "%s:%zu", file, lineno);
		if (llen && line[llen - 1] == '\r')
			llen--;
		if (llen > HEALTHD_AUTH_LINE_MAX)
			return sky_refuse(err, err_size,
					  "%s:1: line longer than %d bytes",
					  where, HEALTHD_AUTH_LINE_MAX);
		for (size_t i = 0; i < llen; i++) {
			unsigned char c = (unsigned char)line[i];
			if ((c < 0x20 && c != '\t') || c >= 0x7f)
				return sky_refuse(
					err, err_size,
					"%s:%zu: a control or non-ASCII byte "
					"(0x%02x)",
					where, i + 1, c);
		}
		size_t n = split(line, llen, f, nfields);
		if (n == 0 || f[0].p[0] == '#')
			continue;
		if (n != nfields)
			return sky_refuse(
				err, err_size,
				"%s:%zu: %zu fields where %zu are expected "
				"(%s)",
				where,
				n > nfields ? f[nfields - 1].col +
						      f[nfields - 1].len + 1
					    : llen + 1,
				n > nfields ? nfields + 1 : n, nfields,
				nfields == 3 ? "NAME ROLE ARGON2ID-HASH"
					     : "NAME ROLE SHA256-HEX EXPIRY");
		int r = fn(ctx, f, n, where, err, err_size);
		if (r < 0)
			return r;
	}
	return 0;
}

static int check_name_role(const struct field *f, const char *where, char *name,
			   enum healthd_role *role, char *err, size_t err_size)
{
	if (!user_name_valid(f[0].p, f[0].len))
		return sky_refuse(err, err_size,
				  "%s:%zu: name: 1 to %d of [A-Za-z0-9_.@-]",
				  where, f[0].col, HEALTHD_USER_MAX);
	memcpy(name, f[0].p, f[0].len);
	name[f[0].len] = '\0';
	if (healthd_role_parse(f[1].p, f[1].len, role) < 0)
		return sky_refuse(err, err_size,
				  "%s:%zu: role: monitor, control or admin",
				  where, f[1].col);
	return 0;
}

static int user_line(void *ctx, const struct field *f, size_t n,
		     const char *where, char *err, size_t err_size)
{
	struct healthd_users *u = ctx;
	struct healthd_user *e;
	int r;

	(void)n;
	if (u->user_count == HEALTHD_USERS_MAX)
		return sky_refuse(err, err_size, "%s:1: more than %d users",
				  where, HEALTHD_USERS_MAX);
	e = &u->users[u->user_count];
	r = check_name_role(f, where, e->name, &e->role, err, err_size);
	if (r < 0)
		return r;
	if (healthd_user_find(u, e->name))
		return sky_refuse(err, err_size,
				  "%s:%zu: name: '%s' is already listed", where,
				  f[0].col, e->name);
	static const char prefix[] = "$argon2id$";
	if (f[2].len >= HEALTHD_HASH_MAX ||
	    f[2].len < sizeof(prefix) - 1 + 20 ||
	    memcmp(f[2].p, prefix, sizeof(prefix) - 1) != 0)
		return sky_refuse(err, err_size,
				  "%s:%zu: hash: not an argon2id hash "
				  "($argon2id$..., at most %d bytes: make one "
				  "with healthd --hash-password)",
				  where, f[2].col, HEALTHD_HASH_MAX - 1);
	memcpy(e->hash, f[2].p, f[2].len);
	e->hash[f[2].len] = '\0';
	u->user_count++;
	return 0;
}

static int token_line(void *ctx, const struct field *f, size_t n,
		      const char *where, char *err, size_t err_size)
{
	struct healthd_users *u = ctx;
	struct healthd_token *e;
	char hex[65];
	int r;

	(void)n;
	if (u->token_count == HEALTHD_TOKENS_MAX)
		return sky_refuse(err, err_size, "%s:1: more than %d tokens",
				  where, HEALTHD_TOKENS_MAX);
	e = &u->tokens[u->token_count];
	r = check_name_role(f, where, e->name, &e->role, err, err_size);
	if (r < 0)
		return r;
	if (f[2].len != 64)
		return sky_refuse(err, err_size,
				  "%s:%zu: sha256: 64 hex digits (sha256sum "
				  "of the token)",
				  where, f[2].col);
	memcpy(hex, f[2].p, 64);
	hex[64] = '\0';
	if (sky_hex_decode(hex, e->sha256, 32) < 0)
		return sky_refuse(err, err_size,
				  "%s:%zu: sha256: 64 hex digits (sha256sum "
				  "of the token)",
				  where, f[2].col);
	if (healthd_rfc3339_parse(f[3].p, f[3].len, &e->expires_s) < 0)
		return sky_refuse(err, err_size,
				  "%s:%zu: expiry: an RFC 3339 time such as "
				  "2027-01-31T00:00:00Z",
				  where, f[3].col);
	for (size_t i = 0; i < u->token_count; i++)
		if (sodium_memcmp(u->tokens[i].sha256, e->sha256, 32) == 0)
			return sky_refuse(err, err_size,
					  "%s:%zu: sha256: the same token as "
					  "'%s'",
					  where, f[2].col, u->tokens[i].name);
	u->token_count++;
	return 0;
}

int healthd_users_parse(struct healthd_users *u, const char *file,
			const char *buf, size_t len, char *err, size_t err_size)
{
	struct healthd_users tmp = {0};
	tmp.users = calloc(HEALTHD_USERS_MAX, sizeof(*tmp.users));
	if (!tmp.users)
		return sky_refuse(err, err_size, "%s: out of memory", file);
	int r = each_line(file, buf, len, 3, user_line, &tmp, err, err_size);
	if (r < 0) {
		sodium_memzero(tmp.users,
			       HEALTHD_USERS_MAX * sizeof(*tmp.users));
		free(tmp.users);
		return r;
	}
	free(u->users);
	u->users = tmp.users;
	u->user_count = tmp.user_count;
	return 0;
}

int healthd_tokens_parse(struct healthd_users *u, const char *file,
			 const char *buf, size_t len, char *err,
			 size_t err_size)
{
	struct healthd_users tmp = {0};
	tmp.tokens = calloc(HEALTHD_TOKENS_MAX, sizeof(*tmp.tokens));
	if (!tmp.tokens)
		return sky_refuse(err, err_size, "%s: out of memory", file);
	int r = each_line(file, buf, len, 4, token_line, &tmp, err, err_size);
	if (r < 0) {
		free(tmp.tokens);
		return r;
	}
	free(u->tokens);
	u->tokens = tmp.tokens;
	u->token_count = tmp.token_count;
	return 0;
}

void healthd_users_free(struct healthd_users *u)
{
	free(u->users);
	free(u->tokens);
	*u = (struct healthd_users){0};
}

static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int healthd_rfc3339_parse(const char *s, size_t len, int64_t *out_s)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	size_t i = 19;

	if (len < 20 || len > 40 || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return -EINVAL;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return -EINVAL;
	}
	int sign = 0;
	if (i == len - 1 && (s[i] == 'Z' || s[i] == 'z')) {
		sign = 0;
	} else if (i == len - 6 && (s[i] == '+' || s[i] == '-') &&
		   digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
		   digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
		sign = s[i] == '+' ? 1 : -1;
	} else {
		return -EINVAL;
	}
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return -EINVAL;
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mo - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = mi,
			.tm_sec = sec == 60 ? 59 : sec};
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out_s = (int64_t)t - sign * (oh * 3600 + om * 60);
	return 0;
}

const struct healthd_user *healthd_user_find(const struct healthd_users *u,
					     const char *name)
{
	for (size_t i = 0; i < u->user_count; i++)
		if (strcmp(u->users[i].name, name) == 0)
			return &u->users[i];
	return NULL;
}

enum healthd_token_verdict
healthd_token_check(const struct healthd_users *u, const char *token,
		    size_t len, int64_t now_s,
		    const struct healthd_token **found)
{
	uint8_t sum[32];
	const struct healthd_token *hit = NULL;

	*found = NULL;
	crypto_hash_sha256(sum, (const unsigned char *)token, len);
	/* Every entry is compared, in constant time each. */
	for (size_t i = 0; i < u->token_count; i++)
		if (sodium_memcmp(u->tokens[i].sha256, sum, 32) == 0)
			hit = &u->tokens[i];
	if (!hit || len == 0)
		return HEALTHD_TOKEN_UNKNOWN;
	*found = hit;
	return now_s < hit->expires_s ? HEALTHD_TOKEN_VALID
				      : HEALTHD_TOKEN_EXPIRED;
}

const char *healthd_bearer_of(const char *authorization, size_t *len)
{
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *t = authorization + 7;
	while (*t == ' ')
		t++;
	size_t n = strnlen(t, 1024);
	while (n && t[n - 1] == ' ')
		n--;
	*len = n;
	return t;
}

/* --- sessions ------------------------------------------------------------- */

void healthd_random_hex(char *out, size_t size)
{
	uint8_t raw[HEALTHD_SECRET_HEX / 2];
	size_t n = (size - 1) / 2;

	if (n > sizeof(raw))
		n = sizeof(raw);
	randombytes_buf(raw, n);
	sodium_bin2hex(out, size, raw, n);
	sodium_memzero(raw, sizeof(raw));
}

static bool session_live(const struct healthd_sessions *t,
			 const struct healthd_session *s, int64_t now_ms)
{
	return s->id[0] && now_ms - s->used_ms < t->idle_ms &&
	       now_ms - s->created_ms < HEALTHD_SESSION_MAX_MS;
}

struct healthd_session *healthd_session_new(struct healthd_sessions *t,
					    const char *user,
					    enum healthd_role role,
					    int64_t now_ms)
{
	struct healthd_session *pick = &t->s[0];

	for (size_t i = 0; i < HEALTHD_SESSIONS_MAX; i++) {
		struct healthd_session *s = &t->s[i];
		if (!session_live(t, s, now_ms)) {
			pick = s;
			break;
		}
		if (s->used_ms < pick->used_ms)
			pick = s;
	}
	memset(pick, 0, sizeof(*pick));
	healthd_random_hex(pick->id, sizeof(pick->id));
	healthd_random_hex(pick->csrf, sizeof(pick->csrf));
	sky_strlcpy(pick->user, user, sizeof(pick->user));
	pick->role = role;
	pick->created_ms = pick->used_ms = now_ms;
	return pick;
}

struct healthd_session *healthd_session_find(struct healthd_sessions *t,
					     const char *id, int64_t now_ms)
{
	struct healthd_session *hit = NULL;

	if (!id || strnlen(id, HEALTHD_SECRET_HEX + 1) != HEALTHD_SECRET_HEX)
		return NULL;
	for (size_t i = 0; i < HEALTHD_SESSIONS_MAX; i++) {
		struct healthd_session *s = &t->s[i];
		if (!s->id[0])
			continue;
		if (!session_live(t, s, now_ms)) {
			healthd_session_end(s);
			continue;
		}
		if (sodium_memcmp(s->id, id, HEALTHD_SECRET_HEX) == 0)
			hit = s;
	}
	if (hit)
		hit->used_ms = now_ms;
	return hit;
}

void healthd_session_end(struct healthd_session *s)
{
	sodium_memzero(s, sizeof(*s));
}

bool healthd_csrf_ok(const struct healthd_session *s, const char *header)
{
	if (!s || !header || !s->csrf[0] ||
	    strnlen(header, HEALTHD_SECRET_HEX + 1) != HEALTHD_SECRET_HEX)
		return false;
	return sodium_memcmp(s->csrf, header, HEALTHD_SECRET_HEX) == 0;
}

/* --- bodies --------------------------------------------------------------- */

static json_t *load_object(const char *buf, size_t len, char *err,
			   size_t err_size)
{
	json_error_t jerr;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		snprintf(err, err_size, "body is not JSON: %.80s", jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		snprintf(err, err_size, "body must be a JSON object");
		return NULL;
	}
	return o;
}

int healthd_login_parse(const char *buf, size_t len, char *user,
			size_t user_size, char *password, size_t password_size,
			char *err, size_t err_size)
{
	json_t *o = load_object(buf, len, err, err_size);
	const char *key;
	json_t *v;
	int r = 0;

	if (!o)
		return -EINVAL;
	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "user") != 0 && strcmp(key, "password") != 0) {
			r = sky_refuse(err, err_size,
				       "unknown field (the fields: user, "
				       "password)");
			goto out;
		}
	}
	json_t *ju = json_object_get(o, "user"),
	       *jp = json_object_get(o, "password");
	if (!json_is_string(ju) || !json_is_string(jp)) {
		r = sky_refuse(err, err_size,
			       "user and password must be strings");
		goto out;
	}
	size_t ulen = json_string_length(ju), plen = json_string_length(jp);
	if (ulen == 0 || ulen >= user_size || plen == 0 ||
	    plen >= password_size || plen > HEALTHD_PASSWORD_MAX) {
		r = sky_refuse(err, err_size,
			       "user (1..%zu bytes) or password (1..%d "
			       "bytes) of a wrong length",
			       user_size - 1, HEALTHD_PASSWORD_MAX);
		goto out;
	}
	/* The name goes into log lines: only what a users file can hold. */
	if (!user_name_valid(json_string_value(ju), ulen)) {
		r = sky_refuse(err, err_size,
			       "user: 1 to %d of [A-Za-z0-9_.@-]",
			       HEALTHD_USER_MAX);
		goto out;
	}
	memcpy(user, json_string_value(ju), ulen + 1);
	memcpy(password, json_string_value(jp), plen + 1);
	if (memchr(password, '\0', plen))
		r = sky_refuse(err, err_size, "NUL in the password");
out:
	json_decref(o);
	return r;
}

int healthd_action_body_parse(enum healthd_action a, const char *buf,
			      size_t len, bool *forced, char *err,
			      size_t err_size)
{
	const char *allowed = a == HEALTHD_ACTION_PRIM	     ? "force"
			      : a == HEALTHD_ACTION_RESYNC   ? "discard_local"
			      : a == HEALTHD_ACTION_CHECKERS ? "on"
							     : NULL;
	bool seen = false;
	const char *key;
	json_t *v, *o;
	int r = 0;

	*forced = false;
	while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\n' ||
		       buf[len - 1] == '\r' || buf[len - 1] == '\t'))
		len--;
	if (len == 0)
		goto check;
	o = load_object(buf, len, err, err_size);
	if (!o)
		return -EINVAL;
	json_object_foreach(o, key, v)
	{
		if (!allowed || strcmp(key, allowed) != 0) {
			r = allowed ? sky_refuse(err, err_size,
						 "unknown field (%s takes "
						 "only \"%s\")",
						 healthd_action_name(a),
						 allowed)
				    : sky_refuse(err, err_size,
						 "%s takes no field",
						 healthd_action_name(a));
			break;
		}
		if (!json_is_boolean(v)) {
			r = sky_refuse(err, err_size,
				       "\"%s\" must be true or "
				       "false",
				       allowed);
			break;
		}
		*forced = json_is_true(v);
		seen = true;
	}
	json_decref(o);
	if (r < 0)
		return r;
check:
	if (a == HEALTHD_ACTION_CHECKERS) {
		if (!seen)
			return sky_refuse(err, err_size,
					  "checkers needs {\"on\": true} or "
					  "{\"on\": false}");
		*forced = !*forced; /* off is the forced form */
		return 0;
	}
	if (a == HEALTHD_ACTION_RESYNC && !*forced)
		return sky_refuse(err, err_size,
				  "resync needs {\"discard_local\": true}: "
				  "this node's own changes are dropped");
	return 0;
}
