/*
 * depend.c - following the modules this one depends on (see depend.h).
 */
#include "depend.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

int depend_open(struct depend *d, const struct sky_config *cfg,
		const char *run_dir)
{
	char ep[PATH_MAX + 16], topic[SKY_TOPIC_MAX];

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < cfg->depends_count; i++) {
		struct depend_one *one = &d->dep[i];
		int r;

		sky_strlcpy(one->module, cfg->depends_on[i],
			    sizeof(one->module));
		r = sky_bus_endpoint(ep, sizeof(ep), run_dir, one->module,
				     SKY_EP_DESIRED);
		if (r == 0)
			r = sky_bus_open(ZMQ_SUB, ep, false, &one->sub);
		if (r == 0)
			r = sky_bus_topic(topic, sizeof(topic), one->module,
					  "heartbeatd", SKY_KIND_DESIRED);
		if (r == 0 && zmq_setsockopt(one->sub, ZMQ_SUBSCRIBE, topic,
					     strlen(topic)) < 0)
			r = -errno;
		if (r < 0) {
			log_error("module.depends_on: cannot follow module %s "
				  "(%s): %s",
				  one->module, ep, strerror(-r));
			depend_close(d);
			return r;
		}
		d->count = i + 1;
	}
	return 0;
}

void depend_close(struct depend *d)
{
	for (size_t i = 0; i < d->count; i++)
		sky_bus_close(&d->dep[i].sub);
	d->count = 0;
}

int depend_take(struct depend_one *one, const json_t *msg, const char *self,
		int64_t now, char *why, size_t why_size)
{
	struct sky_desired desired;
	/* Checked as an actuator would: checkd's target is the lightest. */
	int r = sky_desired_parse(msg, one->module, self, SKY_ACT_CHECKD,
				  &desired, why, why_size);

	if (r < 0)
		return r;
	one->heard = true;
	one->role = desired.role;
	/* On this host's CLOCK_MONOTONIC, as every actuator counts it; a
	 * message without valid_ms holds for nothing. */
	int64_t from = desired.sent_ms ? desired.sent_ms : now;
	one->deadline_ms = desired.valid_ms ? from + desired.valid_ms : now;
	return 0;
}

void depend_drain(struct depend *d, const char *self, int64_t now)
{
	char topic[SKY_TOPIC_MAX], why[160];
	json_t *msg;

	for (size_t i = 0; i < d->count; i++) {
		struct depend_one *one = &d->dep[i];
		for (int budget = 64; budget > 0; budget--) {
			int r = sky_bus_recv(one->sub, topic, sizeof(topic),
					     SKY_BUS_MSG_MAX, &msg);
			if (r == -EAGAIN)
				break;
			if (r == 0)
				r = depend_take(one, msg, self, now, why,
						sizeof(why));
			else
				snprintf(why, sizeof(why), "malformed");
			json_decref(msg);
			msg = NULL;
			if (r < 0) {
				one->bad_messages++;
				sky_log_ratelimited(
					&one->rl, LOG_WARNING,
					"module.depends_on: dropped "
					"a message of module %s: %s",
					one->module, why);
			}
		}
	}
}

bool depend_ok(const struct depend *d, int64_t now, char *why, size_t why_size)
{
	for (size_t i = 0; i < d->count; i++) {
		const struct depend_one *one = &d->dep[i];
		if (!one->heard) {
			snprintf(why, why_size,
				 "module %s (depends_on) is not heard on this "
				 "node",
				 one->module);
			return false;
		}
		if (now >= one->deadline_ms) {
			snprintf(why, why_size,
				 "module %s (depends_on) is silent on this "
				 "node",
				 one->module);
			return false;
		}
		if (!sky_role_serves(one->role)) {
			snprintf(why, why_size,
				 "module %s (depends_on) does not serve on "
				 "this node (%s)",
				 one->module, sky_role_name(one->role));
			return false;
		}
	}
	return true;
}
