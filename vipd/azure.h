/*
 * azure.h - the Azure side of vipd: a managed-identity token from IMDS
 * (Metadata: true), and the Azure Resource Manager calls made when this
 * node starts serving:
 *
 *   each ip_configurations entry: GET the peer's NIC, remove the named
 *     ipConfiguration, PUT it back with If-Match on its etag; GET this
 *     node's NIC, add the ipConfiguration (static address, the subnet of
 *     the NIC's primary ipConfiguration), PUT with If-Match. An etag that
 *     changed in between (412) means: read again and redo.
 *   each routes entry: PUT the route with next hop this node's address
 *     (VirtualAppliance).
 *   each backend_pools entry (a farm behind an Azure load balancer): this
 *     node's NIC joins the pool on up and leaves it on down (GET, edit the
 *     primary ipConfiguration, PUT with If-Match, as above).
 *
 * Every PUT may be a long-running operation, followed through its
 * Azure-AsyncOperation URL (or Location) with Retry-After until it
 * Succeeded, Failed or Canceled. Runs on the cloud worker thread only.
 * The parsers and the NIC edit are pure, for unit tests.
 */
#ifndef SKYHA_VIPD_AZURE_H
#define SKYHA_VIPD_AZURE_H

#include "aws.h"
#include "cloudcred.h"
#include "vipcfg.h"

#include <jansson.h>
#include <stdatomic.h>

struct vipd_azure {
	const struct vipd_azure_cfg *cfg;
	const struct vipd_azure_node *node,
		*peer;		       /* peer: NULL if not in Azure */
	struct sky_azure_tokensrc tok; /* the managed identity's token */
	unsigned seed;
	const atomic_bool *abort;
	struct vipd_aws_stats stats; /* calls, retries, token fetches, ... */
};

void vipd_azure_init(struct vipd_azure *a, const struct vipd_azure_cfg *cfg,
		     const struct vipd_azure_node *node,
		     const struct vipd_azure_node *peer,
		     const atomic_bool *abort);
void vipd_azure_done(struct vipd_azure *a);
int vipd_azure_apply(struct vipd_azure *a, bool up, char *why, size_t size);

/*
 * Make the NIC document's primary ipConfiguration a member (want) or not
 * of the backend pool pool_id (a full resource ID, compared without
 * case); *changed says whether the document changed. -EBADMSG: not a
 * NIC document as ARM writes them.
 */
int vipd_azure_nic_pool_edit(json_t *nic, const char *pool_id, bool want,
			     bool *changed);

/* ARM error reply {"error":{"code","message"}} -> code and message. */
enum vipd_aws_verdict vipd_azure_classify(long status, const char *body,
					  size_t len, char *code,
					  size_t code_size, char *message,
					  size_t message_size);
/*
 * An Azure-AsyncOperation status reply: 1 "Succeeded", 0 still running
 * (state holds its status), -EPROTO "Failed" or "Canceled" (state and msg,
 * the error's message, say which), -EBADMSG no status at all.
 */
int vipd_azure_parse_operation(const char *body, size_t len, char *state,
			       size_t state_size, char *msg, size_t msg_size);
/*
 * Make nic (a GET of a networkInterfaces resource) hold (want) or not hold
 * the ipConfiguration named name with address. *changed says whether a PUT
 * is needed. -EBADMSG if the document is not a NIC as expected.
 */
int vipd_azure_nic_edit(json_t *nic, const char *name, const char *address,
			bool want, bool *changed);
/*
 * May the bearer token be sent to url (an Azure-AsyncOperation or Location
 * header)? Only below the configured ARM endpoint: a forged header must not
 * make vipd hand its token to another host.
 */
bool vipd_azure_url_trusted(const struct vipd_azure_cfg *cfg, const char *url);

#endif
