/*
 * api.h - healthd's REST API under /api/v1 (docs/health.md, "API";
 * docs/api/openapi.yaml): who asks (auth.h), whether they may, and the
 * action, sent to heartbeatd's control socket as skyctl sends it.
 *
 * Nothing blocks healthd's loop: an action's request goes to
 * ipc://RUN/MODULE/ctl on a ZeroMQ REQ socket polled by the loop, and the
 * HTTP connection is suspended until the reply (or HEALTHD_CALL_TIMEOUT_MS);
 * a login's argon2id verification runs on one worker thread, at most
 * HEALTHD_LOGINS_MAX queued, one per source, and failures are limited per
 * source, so a flood of logins costs one core at most and /health/... keeps
 * being answered at once.
 */
#ifndef HEALTHD_API_H
#define HEALTHD_API_H

#include "auth.h"
#include "guard.h"
#include "modules.h"
#include "route.h"

#include <jansson.h>
#include <pthread.h>
#include <zmq.h>

#define HEALTHD_API_BODY_MAX	4096
#define HEALTHD_CALLS_MAX	16
#define HEALTHD_CALL_TIMEOUT_MS 5000
#define HEALTHD_LOGINS_MAX	4
#define HEALTHD_FAIL_SOURCES	64
#define HEALTHD_FAIL_MAX	5     /* failed logins per source... */
#define HEALTHD_FAIL_WINDOW_MS	60000 /* ...in this window */
#define HEALTHD_SOURCE_TEXT	64
#define HEALTHD_COOKIE		"skyha_session"

struct healthd_api_conf {
	const char *users_file;
	const char *tokens_file;
	unsigned session_idle_s;
	const char *run_dir;
};

/* One API request's state, from its first call to its answer. */
struct healthd_api_req {
	char body[HEALTHD_API_BODY_MAX + 1];
	size_t len;
	bool too_large;
	bool started;  /* handed to heartbeatd or to the login worker */
	bool finished; /* the answer below is ready */
	unsigned status;
	char *json;	   /* the answer's body, malloc'ed */
	char outcome[200]; /* for the audit line: never a secret */
	char cookie[256];
	char user[HEALTHD_USER_MAX + 1];
	char module[SKY_NAME_MAX + 1];
	char what[48]; /* "swap", "prim --force", "login" */
	char source[HEALTHD_SOURCE_TEXT];
	struct healthd_source src;
	int slot; /* in calls or logins while started; -1 */
};

struct healthd_call {
	void *sock; /* NULL: free */
	struct MHD_Connection *conn;
	struct healthd_api_req *req; /* NULL: the connection went away */
	int64_t deadline_ms;
};

struct healthd_login {
	bool used, taken, done, ok;
	char user[HEALTHD_USER_MAX + 1];
	enum healthd_role role;
	char hash[HEALTHD_HASH_MAX]; /* "": no such user */
	char password[HEALTHD_PASSWORD_MAX + 1];
	struct healthd_source src;
	struct MHD_Connection *conn;
	struct healthd_api_req *req;
};

struct healthd_failures {
	struct healthd_source src;
	unsigned count;
	int64_t since_ms; /* 0: free */
};

struct healthd_api_stats {
	uint64_t actions, refused, logins_ok, logins_failed, throttled;
};

struct healthd_api {
	struct healthd_api_conf conf;
	struct healthd_users users;
	bool have_users, have_tokens;
	struct healthd_sessions sessions;
	bool tls;
	bool may_act; /* TLS, or every API socket on loopback */
	const char *run_dir;
	const struct healthd_table *table;
	struct healthd_call calls[HEALTHD_CALLS_MAX];
	struct healthd_login logins[HEALTHD_LOGINS_MAX];
	struct healthd_failures failures[HEALTHD_FAIL_SOURCES];
	pthread_t worker;
	bool worker_running, worker_stop;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int done_fd; /* eventfd: a login's verification finished */
	struct healthd_api_stats stats;
};

/*
 * Read the users and tokens files (each refused when group or world may
 * read it). 0, or -errno with the message in err.
 */
int healthd_api_load(struct healthd_api *a, const struct healthd_api_conf *c,
		     char *err, size_t err_size);
/*
 * SIGHUP: read the users and tokens files again. On an error the files in
 * force stay, and the error is logged. Sessions of users no longer listed,
 * or listed with another role, end.
 */
void healthd_api_reload(struct healthd_api *a);

/* Start the login worker. 0 or -errno (logged). */
int healthd_api_start(struct healthd_api *a, const struct healthd_table *t);
void healthd_api_stop(struct healthd_api *a);

size_t healthd_api_poll_items(const struct healthd_api *a,
			      zmq_pollitem_t *items, size_t max);
/* Finish what is ready: replies, timeouts, verified logins. */
void healthd_api_run(struct healthd_api *a, int64_t now_ms);
int healthd_api_timeout_ms(const struct healthd_api *a, int64_t now_ms,
			   int cap);

/*
 * Answer an API request whose body is in req (see http.c). Either queues
 * the answer, or suspends the connection (started) until healthd_api_run
 * resumes it, when this is called again and queues it.
 */
struct healthd_http;
int healthd_api_answer(struct healthd_http *h, struct MHD_Connection *conn,
		       const struct healthd_route *route,
		       struct healthd_api_req *req);
/* The connection is done with req: forget it wherever it is pending. */
void healthd_api_req_free(struct healthd_api *a, struct healthd_api_req *req);

/* Between api.c and login.c: an answer (body consumed; NULL: out of
 * memory), a refusal, the audit line of an outcome. */
void healthd_api_finish(struct healthd_api_req *req, unsigned status,
			json_t *body);
void healthd_api_finish_error(struct healthd_api_req *req, unsigned status,
			      const char *msg);
void healthd_api_audit_outcome(const struct healthd_api_req *req);
/* login.c: POST /api/v1/login queued for the worker (or refused at once),
 * a verified one finished, the worker thread itself. */
int healthd_login_start(struct healthd_api *a, struct MHD_Connection *conn,
			struct healthd_api_req *req, int64_t now);
void healthd_login_done(struct healthd_api *a, struct healthd_login *l,
			int64_t now);
void *healthd_login_worker(void *arg);

/* healthd --hash-password: a password on stdin, the hash on stdout. */
int healthd_hash_password(const char *user, const char *role);

#endif
