/*
 * render_farm.c - the part of `skyctl status` a farm or light module shows
 * instead of the mirror's two nodes: every node with its state, whether it
 * serves and its share of the load, and, with vipd's lb: buckets, how many
 * buckets each member and this node hold (as every vipd computes them:
 * shared/rendezvous.h). Hostile input like the rest of the status.
 */
#include "render_part.h"
#include "rendezvous.h"

/*
 * A farm: every node, its state, whether it serves (a member), and its
 * share of the load: its weight over the members' (vipd's buckets follow
 * the same weights).
 */
/*
 * lb: buckets: each member's buckets, as every vipd computes them from the
 * same members and weights (shared/rendezvous.h): "87/256"; "-" for a node
 * that is not a member. false when the members cannot be read.
 */
static bool farm_loads(const json_t *nodes, char loads[][16], size_t max)
{
	struct sky_bucket_member m[SKY_BUCKET_MEMBERS_MAX];
	size_t at[SKY_BUCKET_MEMBERS_MAX], count = 0, i;
	char names[SKY_BUCKET_MEMBERS_MAX][NAME_TEXT_MAX];
	int16_t owner[SKY_BUCKETS];
	const json_t *n;
	int64_t w;

	json_array_foreach(nodes, i, n)
	{
		if (i >= max)
			return false;
		snprintf(loads[i], 16, "-");
		if (!json_is_true(json_object_get(n, "member")))
			continue;
		const char *name =
			json_string_value(json_object_get(n, "name"));
		if (!name || count >= SKY_BUCKET_MEMBERS_MAX ||
		    !get_int(n, "weight", &w) || w < 1 ||
		    w > SKY_BUCKET_WEIGHT_MAX)
			return false;
		/* hashed as vipd hashes it: the name as heartbeatd sent it */
		snprintf(names[count], sizeof(names[count]), "%s", name);
		m[count].name = names[count];
		m[count].weight = (uint32_t)w;
		at[count++] = i;
	}
	if (sky_buckets_assign(m, count, owner) < 0)
		return false;
	for (size_t k = 0; k < count; k++)
		snprintf(loads[at[k]], 16, "%zu/%d",
			 sky_buckets_count(owner, (int16_t)k), SKY_BUCKETS);
	return true;
}

void skyctl_render_farm_nodes(FILE *out, const json_t *nodes, bool buckets)
{
	size_t name_w = NODE_COLUMN_MIN, i;
	int64_t total = 0, w;
	const json_t *n;
	char loads[SKY_BUCKET_MEMBERS_MAX][16];
	bool show_load =
		buckets && farm_loads(nodes, loads, SKY_BUCKET_MEMBERS_MAX);

	json_array_foreach(nodes, i, n)
	{
		char name[NAME_TEXT_MAX];
		name_w = max_size(name_w,
				  strlen(field(n, "name", name, sizeof(name))));
		if (json_is_true(json_object_get(n, "member")) &&
		    get_int(n, "weight", &w) && w > 0 && w <= 1000)
			total += w;
	}
	fprintf(out, "  %-*s %-5s %-6s %-6s %s %s\n", (int)name_w, "NODE",
		"STATE", "SERVES", "SHARE", show_load ? "LOAD     " : "",
		"SEEN");
	json_array_foreach(nodes, i, n)
	{
		char name[NAME_TEXT_MAX], role[WORD_TEXT_MAX], share[16];
		char seen[SEEN_TEXT_MAX], dur[DURATION_TEXT_MAX];
		bool self = json_is_true(json_object_get(n, "self"));
		bool member = json_is_true(json_object_get(n, "member"));
		bool ready = json_is_true(json_object_get(n, "ready"));
		if (member && total > 0 && get_int(n, "weight", &w) && w > 0 &&
		    w <= 1000)
			snprintf(share, sizeof(share), "%lld%%",
				 (long long)((w * 100 + total / 2) / total));
		else
			snprintf(share, sizeof(share), "-");
		const char *ago =
			duration_text(n, "last_seen_ms", dur, sizeof(dur));
		if (self)
			snprintf(seen, sizeof(seen), "this node");
		else if (json_is_true(json_object_get(n, "visible")))
			snprintf(seen, sizeof(seen), "%s ago", ago);
		else if (json_is_null(json_object_get(n, "last_seen_ms")))
			snprintf(seen, sizeof(seen), "LOST, never seen");
		else
			snprintf(seen, sizeof(seen), "LOST, last seen %s ago",
				 ago);
		char load[24] = "";
		if (show_load)
			snprintf(load, sizeof(load), "%-8s ", loads[i]);
		fprintf(out, "%c %-*s %-5s %-6s %-6s %s %s\n", self ? '*' : ' ',
			(int)name_w, field(n, "name", name, sizeof(name)),
			field(n, "role", role, sizeof(role)),
			member	? "yes"
			: ready ? "ready"
				: "no",
			share, load, seen);
	}
}

/*
 * A farm with vipd.lb: buckets: this node's load as vipd applied it
 * (actuators.vipd.detail.buckets), "load: 85/256 buckets (3 members)".
 */
void skyctl_render_buckets(FILE *out, const json_t *status)
{
	const json_t *b = json_object_get(
		json_object_get(
			json_object_get(json_object_get(status, "actuators"),
					"vipd"),
			"detail"),
		"buckets");
	int64_t owned, total, members, taken;
	char hash[WORD_TEXT_MAX];

	if (!json_is_object(b) || !get_int(b, "owned", &owned) ||
	    !get_int(b, "total", &total) || !get_int(b, "members", &members) ||
	    owned < 0 || total <= 0 || owned > total || members < 0)
		return;
	fprintf(out,
		"load:      %lld/%lld buckets on this node (%lld member%s, "
		"hash %s",
		(long long)owned, (long long)total, (long long)members,
		members == 1 ? "" : "s", field(b, "hash", hash, sizeof(hash)));
	if (get_int(b, "taken_over", &taken) && taken > 0)
		fprintf(out, "; %lld taken over from a node that left",
			(long long)taken);
	fputs(")\n", out);
}
