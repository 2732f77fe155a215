/*
 * login.c - the API's logins (see api.h): the argon2id verification on one
 * worker thread, the per-source limits, the session a good password gets,
 * and healthd --hash-password.
 */
#include "api.h"

#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* --- the login worker ----------------------------------------------------- */

void *healthd_login_worker(void *arg)
{
	struct healthd_api *a = arg;
	char dummy[HEALTHD_HASH_MAX] = "";
	char hash[HEALTHD_HASH_MAX], password[HEALTHD_PASSWORD_MAX + 1];

	pthread_mutex_lock(&a->lock);
	while (!a->worker_stop) {
		struct healthd_login *job = NULL;
		for (size_t i = 0; i < HEALTHD_LOGINS_MAX && !job; i++)
			if (a->logins[i].used && !a->logins[i].taken)
				job = &a->logins[i];
		if (!job) {
			pthread_cond_wait(&a->wake, &a->lock);
			continue;
		}
		job->taken = true;
		memcpy(hash, job->hash, sizeof(hash));
		memcpy(password, job->password, sizeof(password));
		pthread_mutex_unlock(&a->lock);

		/* No such user: the same work against a hash of nothing, so
		 * the answer's time does not tell which names exist. */
		if (!hash[0] && !dummy[0] &&
		    crypto_pwhash_str(dummy, "-", 1,
				      crypto_pwhash_OPSLIMIT_INTERACTIVE,
				      crypto_pwhash_MEMLIMIT_INTERACTIVE) < 0)
			dummy[0] = '\0';
		bool ok = crypto_pwhash_str_verify(hash[0] ? hash : dummy,
						   password,
						   strlen(password)) == 0 &&
			  hash[0];
		sodium_memzero(password, sizeof(password));

		pthread_mutex_lock(&a->lock);
		job->ok = ok;
		job->done = true;
		sodium_memzero(job->password, sizeof(job->password));
		uint64_t one = 1;
		if (write(a->done_fd, &one, sizeof(one)) < 0) {
			/* The loop polls the jobs every turn anyway. */
		}
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* --- login rate limits ---------------------------------------------------- */

static struct healthd_failures *failures_of(struct healthd_api *a,
					    const struct healthd_source *src,
					    int64_t now, bool create)
{
	struct healthd_failures *oldest = &a->failures[0];
	for (size_t i = 0; i < HEALTHD_FAIL_SOURCES; i++) {
		struct healthd_failures *f = &a->failures[i];
		if (f->since_ms && now - f->since_ms >= HEALTHD_FAIL_WINDOW_MS)
			*f = (struct healthd_failures){0};
		if (f->since_ms && !memcmp(&f->src, src, sizeof(*src)))
			return f;
		if (f->since_ms < oldest->since_ms)
			oldest = f;
	}
	if (!create)
		return NULL;
	*oldest = (struct healthd_failures){.src = *src, .since_ms = now};
	return oldest;
}

int healthd_login_start(struct healthd_api *a, struct MHD_Connection *conn,
			struct healthd_api_req *req, int64_t now)
{
	char user[HEALTHD_USER_MAX + 1], password[HEALTHD_PASSWORD_MAX + 1];
	char err[200];
	int slot = -1;

	sky_strlcpy(req->what, "login", sizeof(req->what));
	if (healthd_login_parse(req->body, req->len, user, sizeof(user),
				password, sizeof(password), err,
				sizeof(err)) < 0) {
		healthd_api_finish_error(req, 400, err);
		return 0;
	}
	sky_strlcpy(req->user, user, sizeof(req->user));
	const struct healthd_failures *f =
		failures_of(a, &req->src, now, false);
	if (f && f->count >= HEALTHD_FAIL_MAX) {
		char msg[160];
		a->stats.throttled++;
		snprintf(msg, sizeof(msg),
			 "too many failed logins from your address: retry in "
			 "%lld s",
			 (long long)((f->since_ms + HEALTHD_FAIL_WINDOW_MS -
				      now + 999) /
				     1000));
		healthd_api_finish_error(req, 429, msg);
		sodium_memzero(password, sizeof(password));
		return 0;
	}
	pthread_mutex_lock(&a->lock);
	for (int i = 0; i < HEALTHD_LOGINS_MAX; i++) {
		const struct healthd_login *l = &a->logins[i];
		if (l->used && !memcmp(&l->src, &req->src, sizeof(req->src))) {
			slot = -2;
			break;
		}
		if (!l->used && slot == -1)
			slot = i;
	}
	if (slot >= 0) {
		struct healthd_login *l = &a->logins[slot];
		const struct healthd_user *u =
			healthd_user_find(&a->users, user);
		*l = (struct healthd_login){.used = true,
					    .src = req->src,
					    .conn = conn,
					    .req = req};
		sky_strlcpy(l->user, user, sizeof(l->user));
		if (u) {
			l->role = u->role;
			sky_strlcpy(l->hash, u->hash, sizeof(l->hash));
		}
		sky_strlcpy(l->password, password, sizeof(l->password));
		pthread_cond_signal(&a->wake);
	}
	pthread_mutex_unlock(&a->lock);
	sodium_memzero(password, sizeof(password));
	if (slot < 0) {
		a->stats.throttled++;
		healthd_api_finish_error(
			req, slot == -2 ? 429 : 503,
			slot == -2 ? "a login from your address is being "
				     "checked: wait for its answer"
				   : "too many logins being checked: retry "
				     "in a second");
		return 0;
	}
	req->slot = slot;
	req->started = true;
	MHD_suspend_connection(conn);
	return 0;
}

void healthd_login_done(struct healthd_api *a, struct healthd_login *l,
			int64_t now)
{
	struct healthd_api_req *req = l->req;

	if (!l->ok) {
		struct healthd_failures *f = failures_of(a, &l->src, now, true);
		f->count++;
		a->stats.logins_failed++;
	} else {
		a->stats.logins_ok++;
	}
	if (!req)
		return;
	if (l->ok) {
		struct healthd_session *s = healthd_session_new(
			&a->sessions, l->user, l->role, now);
		snprintf(req->cookie, sizeof(req->cookie),
			 HEALTHD_COOKIE
			 "=%s; Path=/; HttpOnly; SameSite=Strict%s",
			 s->id, a->tls ? "; Secure" : "");
		healthd_api_finish(
			req, 200,
			json_pack("{s:b,s:s,s:s,s:s,s:I}", "ok", 1, "user",
				  s->user, "role", healthd_role_name(s->role),
				  "csrf_token", s->csrf, "idle_timeout_s",
				  (json_int_t)(a->sessions.idle_ms / 1000)));
	} else {
		healthd_api_finish_error(req, 401,
					 "wrong user name or password");
	}
	healthd_api_audit_outcome(req);
	req->slot = -1;
	MHD_resume_connection(l->conn);
}

/* --- healthd --hash-password ---------------------------------------------- */

int healthd_hash_password(const char *user, const char *role)
{
	char pw[HEALTHD_PASSWORD_MAX + 2], hash[crypto_pwhash_STRBYTES];
	enum healthd_role r;

	if (user && (!role || healthd_role_parse(role, strlen(role), &r) < 0)) {
		fprintf(stderr, "healthd: --hash-password NAME ROLE: ROLE is "
				"monitor, control or admin\n");
		return 1;
	}
	if (sodium_init() < 0 || !fgets(pw, sizeof(pw), stdin)) {
		fprintf(stderr, "healthd: --hash-password: no password on "
				"stdin\n");
		return 1;
	}
	size_t len = strcspn(pw, "\r\n");
	if (len == 0 || len > HEALTHD_PASSWORD_MAX) {
		fprintf(stderr,
			"healthd: --hash-password: the password must be 1 to "
			"%d bytes\n",
			HEALTHD_PASSWORD_MAX);
		return 1;
	}
	if (crypto_pwhash_str(hash, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) < 0) {
		fprintf(stderr, "healthd: --hash-password: out of memory\n");
		return 1;
	}
	sodium_memzero(pw, sizeof(pw));
	if (user)
		printf("%s %s %s\n", user, role, hash);
	else
		printf("%s\n", hash);
	return 0;
}
