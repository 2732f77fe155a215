/*
 * aws_fuzz.c - vipd/aws.c on what AWS (or whoever answers in its place)
 * sends back: vipd_aws_classify() and vipd_xml_text() on EC2 API replies,
 * sky_aws_parse_creds() on the IMDS credentials JSON (then
 * sky_parse_utc() on its Expiration), sky_parse_utc() alone.
 *
 * The first two bytes are the HTTP status; the rest is the body.
 */
#include "aws.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = {"Code", "Message", "return",
					   "requestId", "privateIpAddress"};
	struct sky_aws_creds creds;
	char code[64], message[256], out[128];
	int64_t ms;
	long status;
	char *body;

	body = fuzz_status_body(data, size, &status);
	if (!body)
		return 0;
	(void)vipd_aws_classify(status, body, size - 2, code, sizeof(code),
				message, sizeof(message));
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (vipd_xml_text(body, size - 2, tags[i], out, sizeof(out)) ==
		    0)
			FUZZ_ASSERT(memchr(out, '\0', sizeof(out)));
	(void)sky_aws_parse_creds(body, size - 2, &creds);
	(void)sky_parse_utc(body, &ms);
	free(body);
	return 0;
}
