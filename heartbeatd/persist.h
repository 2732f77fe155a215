/*
 * persist.h - what heartbeatd must remember across restarts and reboots.
 *
 * One small text file per module and node, DIR/<module>/node.state (or
 * witness.state), "key=value" lines, replaced atomically and fsynced
 * before the node acts on what it records (a new data generation is on
 * disk before the node serves with it). A corrupt file stops the daemon
 * with the line that is wrong: guessing could lose data.
 */
#ifndef SKYHA_PERSIST_H
#define SKYHA_PERSIST_H

#include "bus.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>

struct node_state {
	uint64_t epoch;
	uint64_t generation;
	enum sky_data data;
	bool stopped;
	uint64_t incarnation;	   /* +1 at each start, sent in every packet */
	uint64_t peer_incarnation; /* highest seen from the peer */
};

struct witness_state {
	uint64_t incarnation;
	uint64_t newest_generation;
	char newest_node[SKY_NAME_MAX + 1];
};

/* Load; a missing file gives the defaults (a new node) and returns 0. */
int node_state_load(const char *path, struct node_state *out, char *err,
		    size_t err_size);
int node_state_save(const char *path, const struct node_state *st);

int witness_state_load(const char *path, struct witness_state *out, char *err,
		       size_t err_size);
int witness_state_save(const char *path, const struct witness_state *st);

/* Parse from memory (used by the loaders and the unit tests). */
int node_state_parse(const char *text, struct node_state *out, char *err,
		     size_t err_size);
int witness_state_parse(const char *text, struct witness_state *out, char *err,
			size_t err_size);

#endif
