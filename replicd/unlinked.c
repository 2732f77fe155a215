/*
 * unlinked.c - files unlinked or renamed over while open (unlinked.h).
 */
#define FUSE_USE_VERSION 35

#include "unlinked.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define HIDDEN_PREFIX ".fuse_hidden"

/*
 * The request this thread read last, and so serves (libfuse's loop serves
 * a request in the thread that read it). fuse_in_header: len u32, opcode
 * u32, unique u64, nodeid u64, uid, gid, pid u32, 4 bytes: 40 bytes; a
 * rename's body: newdir u64 (RENAME2: + flags u32, padding u32), then the
 * old and the new name, each NUL-terminated.
 */
#define IN_HEADER  40
#define RENAME_IN  8
#define RENAME2_IN 16
#define NAME_BUF   256

static __thread uint32_t req_opcode;
static __thread char req_newname[NAME_BUF];

void replicd_req_note(const void *request, size_t n)
{
	const uint8_t *buf = request;
	uint32_t op;

	req_opcode = 0;
	req_newname[0] = '\0';
	if (n < IN_HEADER)
		return;
	memcpy(&op, buf + 4, sizeof(op)); /* host order, as the kernel's */
	req_opcode = op;
	if (op != REPLICD_FUSE_RENAME && op != REPLICD_FUSE_RENAME2)
		return;
	size_t at = IN_HEADER +
		    (op == REPLICD_FUSE_RENAME ? RENAME_IN : RENAME2_IN);
	if (at >= n)
		return;
	const uint8_t *old_end = memchr(buf + at, '\0', n - at);
	if (!old_end)
		return;
	size_t from = (size_t)(old_end - buf) + 1;
	const uint8_t *new_end =
		from < n ? memchr(buf + from, '\0', n - from) : NULL;
	size_t len = new_end ? (size_t)(new_end - (buf + from)) : 0;
	if (!new_end || len >= sizeof(req_newname))
		return;
	memcpy(req_newname, buf + from, len);
	req_newname[len] = '\0';
}

static ssize_t read_request(int fd, void *buf, size_t len, void *userdata)
{
	(void)userdata;
	ssize_t n = read(fd, buf, len);
	if (n > 0)
		replicd_req_note(buf, (size_t)n);
	return n;
}

static ssize_t write_reply(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	return writev(fd, iov, count);
}

int replicd_unlinked_hook(struct fuse *f)
{
	static const struct fuse_custom_io io = {
		.read = read_request,
		.writev = write_reply,
	};
	struct fuse_session *se = fuse_get_session(f);
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}

uint32_t replicd_req_opcode(void)
{
	return req_opcode;
}

bool replicd_req_renames_to(const char *base)
{
	return (req_opcode == REPLICD_FUSE_RENAME ||
		req_opcode == REPLICD_FUSE_RENAME2) &&
	       *req_newname && strcmp(req_newname, base) == 0;
}

static const char *base_of(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	return slash ? slash + 1 : path;
}

bool replicd_hidden_name(const char *base)
{
	size_t n = strlen(HIDDEN_PREFIX);
	if (!base || strncmp(base, HIDDEN_PREFIX, n) != 0 ||
	    strlen(base) != n + 16)
		return false;
	for (const char *p = base + n; *p; p++)
		if (!strchr("0123456789abcdef", *p))
			return false;
	return true;
}

void replicd_unlinked_init(struct replicd_unlinked_set *s)
{
	pthread_mutex_init(&s->lock, NULL);
	s->head = NULL;
	s->opens = NULL;
}

void replicd_unlinked_clear(struct replicd_unlinked_set *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->head) {
		struct replicd_unlinked *u = s->head;
		s->head = u->next;
		close(u->fd);
		free(u);
	}
	pthread_mutex_unlock(&s->lock);
}

int replicd_unlinked_add(struct replicd_unlinked_set *s, const char *name,
			 int fd, uint64_t handle)
{
	struct replicd_unlinked *u = calloc(1, sizeof(*u));
	if (!u || strlen(name) >= sizeof(u->name)) {
		free(u);
		close(fd);
		return u ? -ENAMETOOLONG : -ENOMEM;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		free(u);
		close(fd);
		return -e;
	}
	memcpy(u->name, name, strlen(name) + 1);
	u->fd = fd;
	u->handle = handle;
	u->dev = st.st_dev;
	u->ino = st.st_ino;
	pthread_mutex_lock(&s->lock);
	u->next = s->head;
	s->head = u;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static struct replicd_unlinked **find(struct replicd_unlinked_set *s,
				      const char *path)
{
	const char *base = base_of(path);
	struct replicd_unlinked **p = &s->head;
	if (!replicd_hidden_name(base))
		return NULL;
	while (*p && strcmp((*p)->name, base) != 0)
		p = &(*p)->next;
	return *p ? p : NULL;
}

int replicd_unlinked_get(struct replicd_unlinked_set *s, const char *path,
			 int *fd, uint64_t *handle)
{
	int r = -ENOENT;
	if (!path || !replicd_hidden_name(base_of(path)))
		return r; /* the common case, without the lock */
	pthread_mutex_lock(&s->lock);
	struct replicd_unlinked **p = find(s, path);
	if (p) {
		*fd = fcntl((*p)->fd, F_DUPFD_CLOEXEC, 0);
		*handle = (*p)->handle;
		r = *fd < 0 ? -errno : 0;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int replicd_unlinked_drop(struct replicd_unlinked_set *s, const char *path,
			  uint64_t *handle)
{
	int r = -ENOENT;
	if (!path)
		return r;
	pthread_mutex_lock(&s->lock);
	struct replicd_unlinked **p = find(s, path);
	if (p) {
		struct replicd_unlinked *u = *p;
		*p = u->next;
		*handle = u->handle;
		close(u->fd);
		free(u);
		r = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int replicd_unlinked_opened(struct replicd_unlinked_set *s,
			    struct replicd_open *o, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->prev = NULL;
	pthread_mutex_lock(&s->lock);
	o->next = s->opens;
	if (s->opens)
		s->opens->prev = o;
	s->opens = o;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

struct replicd_unlinked *replicd_unlinked_closed(struct replicd_unlinked_set *s,
						 struct replicd_open *o,
						 bool pathless)
{
	struct replicd_unlinked *gone = NULL;
	pthread_mutex_lock(&s->lock);
	if (o->prev)
		o->prev->next = o->next;
	else
		s->opens = o->next;
	if (o->next)
		o->next->prev = o->prev;
	bool others = false;
	for (struct replicd_open *p = s->opens; p && !others; p = p->next)
		others = p->dev == o->dev && p->ino == o->ino;
	for (struct replicd_unlinked **p = &s->head;
	     pathless && !others && *p;) {
		struct replicd_unlinked *u = *p;
		if (u->dev != o->dev || u->ino != o->ino) {
			p = &u->next;
			continue;
		}
		*p = u->next;
		close(u->fd);
		u->fd = -1;
		u->next = gone;
		gone = u;
	}
	pthread_mutex_unlock(&s->lock);
	return gone;
}
