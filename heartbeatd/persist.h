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

#define PERSIST_PEERS_MAX 16

struct node_state {
	uint64_t epoch;
	uint64_t generation;
	enum sky_data data;
	bool stopped;
	uint64_t incarnation;	   /* +1 at each start, sent in every packet */
	uint64_t peer_incarnation; /* highest seen from the peer */
	/* A farm's other nodes: "peer_incarnation.NAME=N" lines. */
	struct {
		char name[SKY_NAME_MAX + 1];
		uint64_t incarnation;
	} peers[PERSIST_PEERS_MAX];
	size_t peer_count;
};

/* The highest incarnation seen from a farm node (0: never), and raise it;
 * -ENOSPC when PERSIST_PEERS_MAX names are already kept. */
uint64_t node_state_peer_incarnation(const struct node_state *st,
				     const char *name);
int node_state_set_peer_incarnation(struct node_state *st, const char *name,
				    uint64_t incarnation);

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
