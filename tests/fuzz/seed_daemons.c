/*
 * seed_daemons.c - seeds for what healthd, checkd and vipd read from
 * outside the cluster: healthd's listen addresses and HTTP requests,
 * checkd's HTTP status lines, pid files and ICMP echo replies, vipd's ARP
 * frames and the clouds' replies (AWS XML, Azure JSON), each kept only if
 * the real parser accepts it.
 */
#include "frames.h"
#include "probe.h"
#include "seed.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* ---- healthd ---- */

void seed_healthd(void)
{
	static const char *const listens[] = {"*:9010", "198.18.0.1:80",
					      "[::1]:9010", "[2001:db8::1]",
					      "127.0.0.1"};
	static const char *const urls[] = {
		"/",	       "/index.html",
		"/console.js", "/console.css",
		"/status",     "/metrics",
		"/health/app", "/var/modules/app/ready.txt"};
	char name[32], buf[128];

	for (size_t i = 0; i < sizeof(listens) / sizeof(listens[0]); i++) {
		snprintf(name, sizeof(name), "listen-%zu", i);
		seed_put_text("listen", name, listens[i]);
	}
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		int n = snprintf(buf, sizeof(buf), "%s%c%s",
				 i % 3 == 2 ? "HEAD" : "GET", '\0', urls[i]);
		snprintf(name, sizeof(name), "url-%zu", i);
		seed_put("route", name, buf, (size_t)n);
	}
	/* method, url, Content-Length, Transfer-Encoding */
	static const char body[] = "POST\0/health/app\0"
				   "12\0chunked";
	seed_put("route", "body", body, sizeof(body) - 1);
}

/* ---- checkd's checkers ---- */

void seed_checkd(void)
{
	/* An IPv4 header (raw sockets), then an echo reply, id 0x1234 seq 7. */
	static const uint8_t raw[28] = {
		0x45, [20] = 0, [24] = 0x12, [25] = 0x34, [27] = 7};
	static const uint8_t v6[8] = {129, [4] = 0x12, [5] = 0x34, [7] = 7};
	int status;
	pid_t pid;

	if (checkd_http_status("HTTP/1.1 200 OK\r\n", 17, &status) < 0 ||
	    checkd_pid_parse(" 4242\n", 6, &pid) < 0 ||
	    !checkd_icmp_is_reply(raw, sizeof(raw), false, true, 0x1234, 7) ||
	    !checkd_icmp_is_reply(v6, sizeof(v6), true, false, 0, 7)) {
		seed_refused("checkd", "all");
		return;
	}
	seed_put_text("checkd", "http", "HTTP/1.1 200 OK\r\n");
	seed_put_text("checkd", "http-204", "HTTP/1.0 204 No Content\n");
	seed_put_text("checkd", "pidfile", " 4242\n");
	seed_put("checkd", "echo-raw", raw, sizeof(raw));
	seed_put("checkd", "echo-v6", v6, sizeof(v6));
}

/* ---- vipd: ARP frames and cloud replies ---- */

void seed_vipd(void)
{
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 2};
	struct in_addr vip;
	uint8_t f[VIPD_ARP_LEN];
	size_t n;

	inet_pton(AF_INET, "198.18.0.100", &vip);
	n = vipd_arp_announce(f, mac, vip);
	seed_put("frames", "announce", f, n);
	n = vipd_arp_probe(f, mac, vip);
	seed_put("frames", "probe", f, n);
	f[7] = 2; /* the reply a holder of the VIP sends */
	seed_put("frames", "reply", f, n);
	/* A neighbour solicitation for an IPv6 VIP, as Linux sends it: the
	 * solicited advertisement turned into one (type, flags, option,
	 * destination), its checksum computed again. */
	struct in6_addr vip6, asker;
	uint8_t ns[VIPD_NA_LEN];
	inet_pton(AF_INET6, "fd00:198:18::100", &vip6);
	inet_pton(AF_INET6, "fd00:198:18::20", &asker);
	vipd_na_reply(ns, mac, &vip6, &asker);
	memcpy(ns + 8, &asker, 16);
	inet_pton(AF_INET6, "ff02::1:ff00:100", ns + 24);
	ns[40] = 135;
	ns[42] = ns[43] = ns[44] = 0;
	ns[64] = 1;
	uint32_t sum = 58 + (VIPD_NA_LEN - 40);
	for (size_t i = 8; i < VIPD_NA_LEN; i += 2)
		sum += (uint32_t)(ns[i] << 8 | ns[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ns[42] = (uint8_t)(~sum >> 8);
	ns[43] = (uint8_t)~sum;
	seed_put("frames", "ns", ns, sizeof(ns));

	/* Two status bytes, then the body. */
	static const struct {
		const char *target, *name;
		uint16_t status;
		const char *body;
	} replies[] = {
		{"aws", "error", 400,
		 "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
		 "<Message>Request limit exceeded.</Message></Error></Errors>"
		 "<RequestID>1</RequestID></Response>"},
		{"aws", "ok", 200,
		 "<AssignPrivateIpAddressesResponse><requestId>r</requestId>"
		 "<return>true</return></AssignPrivateIpAddressesResponse>"},
		{"aws", "creds", 200,
		 "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAX\","
		 "\"SecretAccessKey\":\"s3cr3t\",\"Token\":\"tok\","
		 "\"Expiration\":\"2026-12-01T08:00:00Z\"}"},
		{"aws", "utc", 200, "2026-12-01T08:00:00Z"},
		{"azure", "token", 200,
		 "{\"access_token\":\"eyJ0eXAi.abc\",\"expires_on\":"
		 "\"1796112000\",\"token_type\":\"Bearer\"}"},
		{"azure", "error", 429,
		 "{\"error\":{\"code\":\"TooManyRequests\",\"message\":"
		 "\"slow down\"}}"},
		{"azure", "operation", 200,
		 "{\"status\":\"Failed\",\"error\":{\"code\":\"X\","
		 "\"message\":\"no\"}}"},
		{"azure", "nic", 200,
		 "{\"etag\":\"W/"
		 "\\\"4\\\"\",\"properties\":{\"ipConfigurations\":"
		 "[{\"name\":\"ipconfig1\",\"properties\":{"
		 "\"privateIPAddress\":"
		 "\"10.1.0.4\",\"primary\":true,\"subnet\":{\"id\":\"/s/sub1\""
		 "}}}]}}"},
		{"azure", "location", 202,
		 "https://management.azure.com/subscriptions/s/providers/"
		 "Microsoft.Network/locations/x/operations/1"},
	};
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		uint8_t buf[1024];
		size_t bl = strlen(replies[i].body);

		buf[0] = (uint8_t)(replies[i].status >> 8);
		buf[1] = (uint8_t)replies[i].status;
		memcpy(buf + 2, replies[i].body, bl);
		seed_put(replies[i].target, replies[i].name, buf, bl + 2);
	}
}
