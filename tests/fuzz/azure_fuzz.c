/*
 * azure_fuzz.c - vipd/azure.c on what Azure (or whoever answers in its
 * place) sends back: sky_azure_parse_token() (IMDS token),
 * vipd_azure_classify() (ARM errors), vipd_azure_parse_operation()
 * (Azure-AsyncOperation status), vipd_azure_nic_edit() on a NIC document
 * (adding and removing the VIP's ipConfiguration), and
 * vipd_azure_url_trusted() on the body taken as a Location header.
 *
 * The first two bytes are the HTTP status; the rest is the body.
 */
#include "azure.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vipd_azure_cfg cfg = {
		.arm_endpoint = "https://management.azure.com"};
	char token[4096], code[64], message[256], state[32];
	int64_t expires;
	json_error_t e;
	json_t *nic;
	bool changed;
	long status;
	char *body;

	body = fuzz_status_body(data, size, &status);
	if (!body)
		return 0;
	size -= 2;
	(void)sky_azure_parse_token(body, size, token, sizeof(token), &expires);
	(void)vipd_azure_classify(status, body, size, code, sizeof(code),
				  message, sizeof(message));
	(void)vipd_azure_parse_operation(body, size, state, sizeof(state),
					 message, sizeof(message));
	nic = json_loadb(body, size, 0, &e);
	if (nic) {
		(void)vipd_azure_nic_edit(nic, "skyha-vip", "10.0.0.100", true,
					  &changed);
		(void)vipd_azure_nic_edit(nic, "skyha-vip", "10.0.0.100", false,
					  &changed);
		json_decref(nic);
	}
	(void)vipd_azure_url_trusted(&cfg, body);
	free(body);
	return 0;
}
