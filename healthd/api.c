/*
 * api.c - the REST API (see api.h): authentication, roles, CSRF, actions
 * forwarded to heartbeatd's control socket, the login worker, the audit
 * trail in the journal.
 */
#include "api.h"
#include "bus.h"
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

/* --- the audit trail ------------------------------------------------------ */

/*
 * One line per action, login and refusal, with the user and the source:
 * in the journal with SKYHA_MODULE= and SKYHA_USER= (journalctl
 * SKYHA_USER=alice), else on stderr.
 */
static void audit(int prio, const struct healthd_api_req *req, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));
static void audit(int prio, const struct healthd_api_req *req, const char *fmt,
		  ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sky_log_to_journal()) {
		sd_journal_send("MESSAGE=api: %s", msg, "PRIORITY=%d", prio,
				"SYSLOG_IDENTIFIER=healthd", "SKYHA_MODULE=%s",
				req->module, "SKYHA_USER=%s", req->user,
				"SKYHA_SOURCE=%s", req->source, NULL);
		return;
	}
	sky_log(prio, "api: %s", msg);
}

/* --- loading -------------------------------------------------------------- */

static int load_file(const char *path, bool tokens, struct healthd_users *u,
		     char *err, size_t err_size)
{
	struct stat st;
	char *buf = NULL;
	size_t len;
	int r;

	if (stat(path, &st) < 0) {
		r = -errno;
		snprintf(err, err_size, "%s: %s", path, strerror(-r));
		return r;
	}
	if (access(path, R_OK) < 0) {
		/* Under systemd healthd runs as skyha: a root-owned file is
		 * the usual mistake. */
		r = -errno;
		snprintf(err, err_size,
			 "%s: %s: healthd runs as uid %u and must own it "
			 "(chown skyha: %s; chmod 600 %s)",
			 path, strerror(-r), (unsigned)geteuid(), path, path);
		return r;
	}
	if (st.st_mode & 0077) {
		snprintf(err, err_size,
			 "%s: mode %04o: group or others may read or write "
			 "it; it must be 0600 (chmod 600 %s)",
			 path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	r = sky_read_file(path, HEALTHD_AUTH_FILE_MAX, &buf, &len);
	if (r < 0) {
		snprintf(err, err_size, "%s: %s", path,
			 r == -EFBIG ? "too large" : strerror(-r));
		return r;
	}
	r = tokens ? healthd_tokens_parse(u, path, buf, len, err, err_size)
		   : healthd_users_parse(u, path, buf, len, err, err_size);
	sodium_memzero(buf, len);
	free(buf);
	return r;
}

int healthd_api_load(struct healthd_api *a, const struct healthd_api_conf *c,
		     char *err, size_t err_size)
{
	int r;

	a->conf = *c;
	a->run_dir = c->run_dir;
	a->sessions.idle_ms = (int64_t)c->session_idle_s * 1000;
	a->done_fd = -1;
	if (sodium_init() < 0) {
		snprintf(err, err_size, "libsodium cannot start");
		return -EIO;
	}
	if (c->users_file) {
		r = load_file(c->users_file, false, &a->users, err, err_size);
		if (r < 0)
			return r;
		a->have_users = true;
	}
	if (c->tokens_file) {
		r = load_file(c->tokens_file, true, &a->users, err, err_size);
		if (r < 0)
			return r;
		a->have_tokens = true;
	}
	return 0;
}

void healthd_api_reload(struct healthd_api *a)
{
	struct healthd_users fresh = {0};
	char err[400];
	int r = 0;

	if (a->conf.users_file)
		r = load_file(a->conf.users_file, false, &fresh, err,
			      sizeof(err));
	if (r == 0 && a->conf.tokens_file)
		r = load_file(a->conf.tokens_file, true, &fresh, err,
			      sizeof(err));
	if (r < 0) {
		log_error("reload: %s: keeping the users and tokens in force",
			  err);
		healthd_users_free(&fresh);
		return;
	}
	/* The worker never reads the table: it gets a copy of the hash. */
	healthd_users_free(&a->users);
	a->users = fresh;
	size_t ended = 0;
	for (size_t i = 0; i < HEALTHD_SESSIONS_MAX; i++) {
		struct healthd_session *s = &a->sessions.s[i];
		const struct healthd_user *u =
			s->id[0] ? healthd_user_find(&a->users, s->user) : NULL;
		if (s->id[0] && (!u || u->role != s->role)) {
			healthd_session_end(s);
			ended++;
		}
	}
	log_notice("reload: %zu user%s, %zu token%s; %zu session%s ended",
		   a->users.user_count, a->users.user_count == 1 ? "" : "s",
		   a->users.token_count, a->users.token_count == 1 ? "" : "s",
		   ended, ended == 1 ? "" : "s");
}

int healthd_api_start(struct healthd_api *a, const struct healthd_table *t)
{
	int r;

	a->table = t;
	for (size_t i = 0; i < HEALTHD_CALLS_MAX; i++)
		a->calls[i].sock = NULL;
	if (!a->have_users)
		return 0;
	a->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->done_fd < 0) {
		r = -errno;
		log_error("eventfd: %s", strerror(-r));
		return r;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, NULL);
	r = -pthread_create(&a->worker, NULL, healthd_login_worker, a);
	if (r < 0) {
		log_error("cannot start the login thread: %s", strerror(-r));
		return r;
	}
	a->worker_running = true;
	return 0;
}

void healthd_api_stop(struct healthd_api *a)
{
	if (a->worker_running) {
		pthread_mutex_lock(&a->lock);
		a->worker_stop = true;
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->worker, NULL);
		a->worker_running = false;
	}
	for (size_t i = 0; i < HEALTHD_CALLS_MAX; i++)
		sky_bus_close(&a->calls[i].sock);
	if (a->done_fd >= 0)
		close(a->done_fd);
	a->done_fd = -1;
	sodium_memzero(&a->sessions, sizeof(a->sessions));
	healthd_users_free(&a->users);
}

/* --- answers -------------------------------------------------------------- */

void healthd_api_finish(struct healthd_api_req *req, unsigned status,
			json_t *body)
{
	const json_t *text = json_object_get(body, "error");
	if (!text)
		text = json_object_get(body, "message");
	sky_strlcpy(req->outcome,
		    json_is_string(text) ? json_string_value(text) : "ok",
		    sizeof(req->outcome));
	req->status = status;
	free(req->json);
	req->json =
		body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(body);
	req->finished = true;
}

void healthd_api_finish_error(struct healthd_api_req *req, unsigned status,
			      const char *msg)
{
	healthd_api_finish(req, status,
			   json_pack("{s:b,s:s}", "ok", 0, "error", msg));
}

void healthd_api_audit_outcome(const struct healthd_api_req *req)
{
	audit(req->status == 200 ? LOG_NOTICE : LOG_WARNING, req,
	      "user %s from %s: %s%s%s -> %u %s",
	      req->user[0] ? req->user : "-", req->source, req->what,
	      req->module[0] ? " of module " : "", req->module, req->status,
	      req->outcome);
}

void healthd_api_req_free(struct healthd_api *a, struct healthd_api_req *req)
{
	if (!req)
		return;
	if (req->slot >= 0 && req->started && !req->finished) {
		if (!strcmp(req->what, "login")) {
			pthread_mutex_lock(&a->lock);
			a->logins[req->slot].req = NULL;
			pthread_mutex_unlock(&a->lock);
		} else {
			a->calls[req->slot].req = NULL;
		}
	}
	free(req->json);
	sodium_memzero(req->body, sizeof(req->body));
	free(req);
}

/* --- actions -------------------------------------------------------------- */

static int start_action(struct healthd_api *a, struct MHD_Connection *conn,
			const struct healthd_route *route,
			struct healthd_api_req *req, bool forced, int64_t now)
{
	const struct healthd_module *m =
		healthd_table_find(a->table, route->module);
	char ep[PATH_MAX + 16], path[PATH_MAX], reason[200];
	struct stat st;
	int slot = -1, r;

	if (!m) {
		healthd_api_finish_error(req, 404,
					 "healthd knows no such module");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s/ctl", a->run_dir, route->module);
	if (!m->connected || stat(path, &st) < 0) {
		char msg[PATH_MAX + 80];
		snprintf(msg, sizeof(msg),
			 "heartbeatd of module %s is not running (%s)",
			 route->module,
			 m->connected ? "no control socket" : "not connected");
		healthd_api_finish_error(req, 502, msg);
		return 0;
	}
	if (access(path, R_OK | W_OK) < 0) {
		/* zmq would retry in silence until the call times out. */
		char msg[PATH_MAX + 200];
		snprintf(msg, sizeof(msg),
			 "healthd may not open heartbeatd's control socket "
			 "%s: %s (its unit: SocketGroup=skyha, "
			 "SocketMode=0660)",
			 path, strerror(errno));
		healthd_api_finish_error(req, 502, msg);
		return 0;
	}
	for (int i = 0; i < HEALTHD_CALLS_MAX && slot < 0; i++)
		if (!a->calls[i].sock)
			slot = i;
	if (slot < 0) {
		healthd_api_finish_error(
			req, 503,
			"too many actions under way: retry in a second");
		return 0;
	}
	r = sky_bus_endpoint(ep, sizeof(ep), a->run_dir, route->module,
			     SKY_EP_CTL);
	struct healthd_call *c = &a->calls[slot];
	if (r == 0)
		r = sky_bus_open(ZMQ_REQ, ep, false, &c->sock);
	snprintf(reason, sizeof(reason), "healthd API, user %s from %s",
		 req->user, req->source);
	json_t *msg =
		json_pack("{s:s,s:s}", "command",
			  healthd_action_name(route->action), "reason", reason);
	if (msg && route->action == HEALTHD_ACTION_CHECKERS)
		json_object_set_new(msg, "on", json_boolean(!forced));
	else if (msg && forced)
		json_object_set_new(msg,
				    route->action == HEALTHD_ACTION_RESYNC
					    ? "discard_local"
					    : "force",
				    json_true());
	if (r == 0)
		r = msg ? sky_bus_send_json(c->sock, msg) : -ENOMEM;
	json_decref(msg);
	if (r < 0) {
		sky_bus_close(&c->sock);
		char text[200];
		snprintf(text, sizeof(text),
			 "cannot reach heartbeatd of module %s: %s",
			 route->module, strerror(-r));
		healthd_api_finish_error(req, 502, text);
		return 0;
	}
	c->conn = conn;
	c->req = req;
	c->deadline_ms = now + HEALTHD_CALL_TIMEOUT_MS;
	req->slot = slot;
	req->started = true;
	a->stats.actions++;
	MHD_suspend_connection(conn);
	return 0;
}

/* heartbeatd's reply, passed back: ok/message as 200, error as 409. */
static void call_reply(struct healthd_api_req *req, json_t *reply)
{
	json_t *ok = json_object_get(reply, "ok");
	json_t *message = json_object_get(reply, "message");
	json_t *error = json_object_get(reply, "error");

	if (json_is_true(ok))
		healthd_api_finish(
			req, 200,
			json_pack("{s:b,s:s}", "ok", 1, "message",
				  json_is_string(message)
					  ? json_string_value(message)
					  : "accepted"));
	else if (json_is_false(ok) && json_is_string(error))
		healthd_api_finish_error(req, 409, json_string_value(error));
	else
		healthd_api_finish_error(
			req, 502, "heartbeatd's reply is not understood");
}

static void calls_run(struct healthd_api *a, int64_t now)
{
	for (size_t i = 0; i < HEALTHD_CALLS_MAX; i++) {
		struct healthd_call *c = &a->calls[i];
		json_t *reply = NULL;
		if (!c->sock)
			continue;
		int r = sky_bus_recv(c->sock, NULL, 0, SKY_BUS_MSG_MAX, &reply);
		if (r == -EAGAIN && now < c->deadline_ms)
			continue;
		if (c->req) {
			if (r == 0)
				call_reply(c->req, reply);
			else if (r == -EAGAIN)
				healthd_api_finish_error(
					c->req, 504,
					"heartbeatd did not answer in "
					"time");
			else
				healthd_api_finish_error(
					c->req, 502,
					"heartbeatd's reply is not a "
					"JSON object");
			healthd_api_audit_outcome(c->req);
			c->req->slot = -1;
			MHD_resume_connection(c->conn);
		}
		json_decref(reply);
		sky_bus_close(&c->sock);
		c->req = NULL;
	}
}

void healthd_api_run(struct healthd_api *a, int64_t now_ms)
{
	calls_run(a, now_ms);
	if (!a->worker_running)
		return;
	uint64_t n;
	if (read(a->done_fd, &n, sizeof(n)) < 0) {
		/* Nothing new (EAGAIN): the jobs are looked at anyway. */
	}
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < HEALTHD_LOGINS_MAX; i++) {
		struct healthd_login *l = &a->logins[i];
		if (!l->used || !l->done)
			continue;
		healthd_login_done(a, l, now_ms);
		sodium_memzero(l, sizeof(*l));
	}
	pthread_mutex_unlock(&a->lock);
}

size_t healthd_api_poll_items(const struct healthd_api *a,
			      zmq_pollitem_t *items, size_t max)
{
	size_t n = 0;
	if (a->done_fd >= 0 && n < max)
		items[n++] = (zmq_pollitem_t){.fd = a->done_fd,
					      .events = ZMQ_POLLIN};
	for (size_t i = 0; i < HEALTHD_CALLS_MAX && n < max; i++)
		if (a->calls[i].sock)
			items[n++] =
				(zmq_pollitem_t){.socket = a->calls[i].sock,
						 .events = ZMQ_POLLIN};
	return n;
}

int healthd_api_timeout_ms(const struct healthd_api *a, int64_t now_ms, int cap)
{
	int t = cap;
	for (size_t i = 0; i < HEALTHD_CALLS_MAX; i++) {
		if (!a->calls[i].sock)
			continue;
		int64_t left = a->calls[i].deadline_ms - now_ms;
		if (left < 0)
			left = 0;
		if (left < t)
			t = (int)left;
	}
	return t;
}

/* --- who asks ------------------------------------------------------------- */

struct who {
	enum healthd_role role;
	struct healthd_session *session; /* NULL: a bearer token */
};

/* 0, or the status of the refusal (its message in req). */
static unsigned authenticate(struct healthd_api *a, struct MHD_Connection *conn,
			     struct healthd_api_req *req, int64_t now,
			     struct who *who)
{
	const char *authz = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	char msg[200];

	*who = (struct who){0};
	if (authz) {
		size_t len;
		const char *tok = healthd_bearer_of(authz, &len);
		const struct healthd_token *t;
		if (!tok) {
			healthd_api_finish_error(
				req, 401, "Authorization: only Bearer tokens");
			return 401;
		}
		enum healthd_token_verdict v = healthd_token_check(
			&a->users, tok, len, sky_wall_ms() / 1000, &t);
		if (t)
			sky_strlcpy(req->user, t->name, sizeof(req->user));
		if (v == HEALTHD_TOKEN_UNKNOWN) {
			healthd_api_finish_error(req, 401, "unknown token");
			return 401;
		}
		if (v == HEALTHD_TOKEN_EXPIRED) {
			char when[32];
			sky_format_utc(t->expires_s * 1000, when, sizeof(when));
			snprintf(msg, sizeof(msg),
				 "token '%s' expired at %s: make a new one",
				 t->name, when);
			healthd_api_finish_error(req, 401, msg);
			return 401;
		}
		who->role = t->role;
		return 0;
	}
	const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
							 HEALTHD_COOKIE);
	struct healthd_session *s =
		cookie ? healthd_session_find(&a->sessions, cookie, now) : NULL;
	if (!s) {
		healthd_api_finish_error(
			req, 401,
			cookie ? "session expired or unknown: log in again"
			       : "authentication needed: log in (POST "
				 "/api/v1/login) or send Authorization: "
				 "Bearer TOKEN");
		return 401;
	}
	sky_strlcpy(req->user, s->user, sizeof(req->user));
	who->role = s->role;
	who->session = s;
	return 0;
}

static void source_text(struct MHD_Connection *conn,
			struct healthd_api_req *req)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = info ? info->client_addr : NULL;

	sky_strlcpy(req->source, "?", sizeof(req->source));
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  req->source, sizeof(req->source));
		healthd_source_of(sa, sizeof(struct sockaddr_in), &req->src);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr,
			  req->source, sizeof(req->source));
		healthd_source_of(sa, sizeof(struct sockaddr_in6), &req->src);
	}
}

/* The first time a request is answered: decide, or start the work. */
static void decide(struct healthd_http *h, struct MHD_Connection *conn,
		   const struct healthd_route *route,
		   struct healthd_api_req *req)
{
	struct healthd_api *a = &h->api;
	int64_t now = sky_now_ms();
	struct who who;
	char msg[240];

	source_text(conn, req);
	if (route->page == HEALTHD_PAGE_API_ACTION) {
		sky_strlcpy(req->module, route->module, sizeof(req->module));
		sky_strlcpy(req->what, healthd_action_name(route->action),
			    sizeof(req->what));
	} else {
		sky_strlcpy(req->what,
			    route->page == HEALTHD_PAGE_API_LOGIN    ? "login"
			    : route->page == HEALTHD_PAGE_API_LOGOUT ? "logout"
			    : route->page == HEALTHD_PAGE_API_MODULES
				    ? "modules"
				    : "session",
			    sizeof(req->what));
	}
	if (!a->may_act) {
		healthd_api_finish_error(
			req, 403,
			"the API is off: healthd has no TLS certificate "
			"(--tls-cert-file) and its API socket is not on "
			"loopback, so passwords would cross the network "
			"in clear");
		return;
	}
	if (!a->have_users && !a->have_tokens) {
		healthd_api_finish_error(
			req, 403,
			"the API is off: healthd was started without "
			"--users-file or --tokens-file");
		return;
	}
	if (req->too_large) {
		snprintf(msg, sizeof(msg), "body over %d bytes",
			 HEALTHD_API_BODY_MAX);
		healthd_api_finish_error(req, 413, msg);
		return;
	}
	if (route->page == HEALTHD_PAGE_API_LOGIN) {
		if (!a->have_users) {
			healthd_api_finish_error(
				req, 403,
				"no users file (--users-file): use a "
				"bearer token");
			return;
		}
		healthd_login_start(a, conn, req, now);
		return;
	}
	if (authenticate(a, conn, req, now, &who))
		return;
	if (route->post && who.session &&
	    !healthd_csrf_ok(who.session,
			     MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							 "X-CSRF-Token"))) {
		healthd_api_finish_error(
			req, 403,
			"missing or wrong X-CSRF-Token header (the "
			"csrf_token of the login's answer)");
		return;
	}
	switch (route->page) {
	case HEALTHD_PAGE_API_SESSION:
		if (!who.session) {
			healthd_api_finish(
				req, 200,
				json_pack("{s:b,s:s,s:s}", "ok", 1, "user",
					  req->user, "role",
					  healthd_role_name(who.role)));
			return;
		}
		healthd_api_finish(
			req, 200,
			json_pack("{s:b,s:s,s:s,s:s,s:I}", "ok", 1, "user",
				  who.session->user, "role",
				  healthd_role_name(who.role), "csrf_token",
				  who.session->csrf, "idle_timeout_s",
				  (json_int_t)(a->sessions.idle_ms / 1000)));
		return;
	case HEALTHD_PAGE_API_LOGOUT:
		if (who.session)
			healthd_session_end(who.session);
		snprintf(req->cookie, sizeof(req->cookie),
			 HEALTHD_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
					"Max-Age=0%s",
			 a->tls ? "; Secure" : "");
		healthd_api_finish(req, 200, json_pack("{s:b}", "ok", 1));
		return;
	case HEALTHD_PAGE_API_MODULES:
		healthd_api_finish(req, 200,
				   healthd_render_status(h->table, &h->stats,
							 h->host, now));
		return;
	case HEALTHD_PAGE_API_ACTION: {
		bool forced;
		if (healthd_action_body_parse(route->action, req->body,
					      req->len, &forced, msg,
					      sizeof(msg)) < 0) {
			healthd_api_finish_error(req, 400, msg);
			return;
		}
		if (route->action == HEALTHD_ACTION_CHECKERS)
			snprintf(req->what, sizeof(req->what), "checkers %s",
				 forced ? "off" : "on");
		else if (forced)
			snprintf(req->what, sizeof(req->what), "%s --%s",
				 healthd_action_name(route->action),
				 route->action == HEALTHD_ACTION_RESYNC
					 ? "discard-local"
					 : "force");
		enum healthd_role need =
			healthd_action_role(route->action, forced);
		if (!healthd_role_allows(who.role, need)) {
			snprintf(msg, sizeof(msg),
				 "user %s has the role %s: %s needs %s",
				 req->user, healthd_role_name(who.role),
				 req->what, healthd_role_name(need));
			healthd_api_finish_error(req, 403, msg);
			return;
		}
		start_action(a, conn, route, req, forced, now);
		return;
	}
	default:
		healthd_api_finish_error(req, 404, "not found");
		return;
	}
}

int healthd_api_answer(struct healthd_http *h, struct MHD_Connection *conn,
		       const struct healthd_route *route,
		       struct healthd_api_req *req)
{
	if (!req->started && !req->finished) {
		decide(h, conn, route, req);
		if (req->finished && (route->post || req->status != 200)) {
			if (req->status != 200)
				h->api.stats.refused++;
			healthd_api_audit_outcome(req);
		}
	}
	if (!req->finished)
		return MHD_YES; /* suspended: called again on resume */
	const char *body = req->json ? req->json : "{}";
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (req->cookie[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE,
					req->cookie);
	if (req->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"skyha\"");
	if (req->status == 429 || req->status == 503)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	int r = MHD_queue_response(conn, req->status, resp);
	MHD_destroy_response(resp);
	h->stats.requests[healthd_code_of(req->status)]++;
	return r;
}
