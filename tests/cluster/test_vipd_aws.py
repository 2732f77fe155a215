"""Cluster tests: vipd's AWS moves, against a local stand-in for IMDS, EC2 and ELBv2.

Each node's namespace runs tests/lab/aws_standin.py on its own 127.0.0.1:8000: IMDSv2
(token, role, credentials), and the EC2 and ELBv2 Query APIs, which check every request's
SigV4 signature with botocore (independently of libcurl, which signs) and reject wrong
ones. vipd.aws lists both nodes (eni-0node1/i-0node1, eni-0node2/i-0node2), the private IP
10.0.0.10, a route to 10.1.0.10/32 and a target group (tests/lab/vipd_lab.py). What is
checked is what AWS would have seen, and what heartbeatd and vipd report.
"""

import time

from lab import describe
from vipd_lab import AWS_TARGET_GROUP, describe_vipd, vipd_lab

BOUND_S = 15


def _start_nodes(lab):
    lab.start_witness()
    for node in lab.nodes:
        lab.start_node(node)


def _accepted(lab, node, action):
    return [e for e in lab.aws_requests(node, action=action)
            if e.get("signature_ok") and e.get("status") == 200]


def _wait_accepted(lab, node, action):
    deadline = time.monotonic() + BOUND_S
    while True:
        found = _accepted(lab, node, action)
        if found:
            return found
        assert time.monotonic() < deadline, f"{node}: no accepted {action}: " \
            f"{lab.aws_requests(node)}"
        time.sleep(0.05)


def _serving(lab, node="node1"):
    return lab.wait_for(node, lambda s: s["node"]["serving"] is True,
                        "serving (vipd up, cloud moves done)", BOUND_S)


@vipd_lab(aws=True)
def test_aws_moves_ip_route_and_target_to_the_new_primary(lab):
    lab.start_cluster()
    _serving(lab)
    st = lab.wait_vipd("node1", lambda s: s["state"] == "up", "up", BOUND_S)
    assign = _accepted(lab, "node1", "AssignPrivateIpAddresses")
    assert len(assign) == 1, lab.aws_requests("node1")
    p = assign[0]["params"]
    assert p["NetworkInterfaceId"] == "eni-0node1" and p["PrivateIpAddress.1"] == "10.0.0.10" \
        and p["AllowReassignment"] == "true", p
    route = _accepted(lab, "node1", "ReplaceRoute")[0]["params"]
    assert route == {"Action": "ReplaceRoute", "Version": "2016-11-15",
                     "RouteTableId": "rtb-0skyha", "DestinationCidrBlock": "10.1.0.10/32",
                     "NetworkInterfaceId": "eni-0node1"}, route
    reg = _accepted(lab, "node1", "RegisterTargets")[0]["params"]
    assert reg["TargetGroupArn"] == AWS_TARGET_GROUP and reg["Targets.member.1.Id"] == \
        "i-0node1" and reg["Targets.member.1.Port"] == "80", reg
    # Credentials came from IMDSv2 (token first) and every call carried the token.
    imds = [e["action"] for e in lab.aws_requests("node1", part="imds")]
    assert imds[:3] == ["token", "role", "credentials"], imds
    calls = lab.aws_requests("node1", part="ec2") + lab.aws_requests("node1", part="elb")
    assert calls and all(e["signature_ok"] and e["token"] == "token-1" for e in calls), calls
    assert st["counters"]["cloud"]["failures"] == 0, describe_vipd(st)
    # The secondary is out of the target group; then it takes everything over.
    _wait_accepted(lab, "node2", "DeregisterTargets")
    assert not _accepted(lab, "node2", "AssignPrivateIpAddresses")
    lab.kill_node("node1")
    _serving(lab, "node2")
    p = _accepted(lab, "node2", "AssignPrivateIpAddresses")[0]["params"]
    assert p["NetworkInterfaceId"] == "eni-0node2" and p["AllowReassignment"] == "true", p
    assert _accepted(lab, "node2", "ReplaceRoute")[0]["params"]["NetworkInterfaceId"] == \
        "eni-0node2"
    assert _accepted(lab, "node2", "RegisterTargets")[0]["params"]["Targets.member.1.Id"] == \
        "i-0node2"


@vipd_lab(aws=True)
def test_aws_throttling_and_server_errors_are_retried(lab):
    for node in lab.nodes:
        lab.aws_control(node, faults=["503", "RequestLimitExceeded", "429"])
    lab.start_cluster()
    _serving(lab)
    # Whichever calls met them (a DeregisterTargets at start, or the promotion's), the
    # three errors were retried and the moves went through.
    calls = lab.aws_requests("node1", part="ec2") + lab.aws_requests("node1", part="elb")
    assert [e["status"] for e in calls if e.get("fault")] == [503, 503, 429], calls
    assert _accepted(lab, "node1", "AssignPrivateIpAddresses")
    st = lab.wait_vipd("node1", lambda s: s["state"] == "up", "up", BOUND_S)
    assert st["counters"]["cloud"]["retries"] >= 3, describe_vipd(st)


@vipd_lab(aws=True)
def test_aws_403_fails_the_promotion_with_the_reason(lab):
    for node in lab.nodes:
        lab.aws_control(node, deny=True)
    _start_nodes(lab)
    node, st = lab.wait_failed_transition("UnauthorizedOperation", BOUND_S)
    reason = st["transition"]["reason"]
    assert "vipd" in reason and "403" in reason and "AssignPrivateIpAddresses" in reason, \
        describe(st)
    # A 403 is not retried: one call per promotion, and nobody serves.
    calls = lab.aws_requests(node, action="AssignPrivateIpAddresses")
    with open(lab.log_path(node)) as f:
        promotions = sum(1 for line in f if "-> WAIT: transition failed: vipd" in line)
    assert len(calls) == promotions >= 1, (calls, promotions)
    assert not any(lab.status(n)["node"]["serving"] for n in lab.nodes)


@vipd_lab(aws=True)
def test_aws_expired_credentials_are_refreshed(lab):
    # AWS says token-1 expired: vipd must fetch new credentials and sign again.
    for node in lab.nodes:
        lab.aws_control(node, expired_tokens=["token-1"], creds_ttl_s=3600)
    lab.start_cluster()
    _serving(lab)
    calls = sorted(lab.aws_requests("node1", part="ec2") + lab.aws_requests("node1", part="elb"),
                   key=lambda e: e["token"] != "token-1")
    # The first call, with token-1, was refused; every later one used token-2.
    assert [(e["token"], e["status"]) for e in calls[:2]] == \
        [("token-1", 400), ("token-2", 200)], calls
    assert all(e["token"] == "token-2" and e["status"] == 200 for e in calls[1:]), calls
    assert _accepted(lab, "node1", "AssignPrivateIpAddresses")
    creds = [e for e in lab.aws_requests("node1", part="imds") if e["action"] == "credentials"]
    assert len(creds) == 2, creds


@vipd_lab(aws=True)
def test_aws_credentials_close_to_expiry_are_renewed_before_use(lab):
    # Credentials that expire within vipd's 5 minute margin are fetched again before
    # the next call: every promotion here uses a new generation.
    for node in lab.nodes:
        lab.aws_control(node, creds_ttl_s=120)
    lab.start_cluster()
    _serving(lab)
    rc, out = lab.skyctl("node1", "swap")
    assert rc == 0, out
    lab.wait_roles({"node1": "SECOND", "node2": "PRIM"}, BOUND_S)
    _serving(lab, "node2")
    # node1's DeregisterTargets on demotion used fresh credentials too.
    dereg = _accepted(lab, "node1", "DeregisterTargets")
    tokens = [e["token"] for e in _accepted(lab, "node1", "AssignPrivateIpAddresses")] + \
        [e["token"] for e in dereg]
    assert len(set(tokens)) == len(tokens) >= 2, lab.aws_requests("node1")


@vipd_lab(aws=True)
def test_aws_malformed_replies_do_not_crash_vipd(lab):
    for node in lab.nodes:
        lab.aws_control(node, imds_faults=["garbage"],
                        faults=["garbage", "badxml", "huge"])
    lab.start_cluster()
    _serving(lab)
    # Whichever calls got them (DeregisterTargets at start, then the promotion), every
    # malformed answer was survived and retried.
    faults = [e.get("fault") for e in lab.aws_requests("node1")
              if e.get("fault") and e["part"] != "imds"]
    assert faults == ["garbage", "badxml", "huge"], lab.aws_requests("node1")
    imds = [(e["action"], e.get("fault")) for e in lab.aws_requests("node1", part="imds")]
    assert ("credentials", "garbage") in imds and imds[-1] == ("credentials", None), imds
    assert _accepted(lab, "node1", "AssignPrivateIpAddresses")
    assert lab.running("node1", "vipd") and lab.running("node2", "vipd")
    st = lab.wait_vipd("node1", lambda s: s["state"] == "up", "up", BOUND_S)
    assert st["counters"]["cloud"]["credential_fetches"] >= 2, describe_vipd(st)


@vipd_lab(aws=True, aws_attempts=2)
def test_aws_standin_rejects_a_wrong_signature(lab):
    # The stand-in verifies with another secret: every signature is wrong, as if libcurl
    # signed badly. The promotion must fail, naming the error AWS gives.
    for node in lab.nodes:
        lab.aws_control(node, wrong_secret=True)
    _start_nodes(lab)
    node, st = lab.wait_failed_transition("SignatureDoesNotMatch", BOUND_S)
    rejected = lab.aws_requests(node, action="AssignPrivateIpAddresses")
    assert rejected and all(not e["signature_ok"] and e["status"] == 403 for e in rejected)
    assert not any(lab.status(n)["node"]["serving"] for n in lab.nodes)
