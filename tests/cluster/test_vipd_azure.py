"""Cluster tests: vipd's Azure moves, against a local stand-in for IMDS and Resource Manager.

Each node's namespace runs tests/lab/azure_standin.py on its own 127.0.0.1:8001; both
share one cloud state (the NICs nic-node1 and nic-node2, the route table). The stand-in
checks the bearer token on every ARM request and the etag (If-Match) on every NIC PUT,
refuses an address held by another NIC, and answers every PUT with 202 and an
Azure-AsyncOperation that is InProgress once before it Succeeded. vipd.azure moves the
ipConfiguration skyha-vip (10.1.0.10) and points route rt-skyha/to-app (10.2.0.10/32) at
the serving node (tests/lab/vipd_lab.py).
"""

import time

from lab import describe
from vipd_lab import AZURE_NODE_IPS, describe_vipd, vipd_lab

BOUND_S = 15


def _holder(lab):
    """{nic: [ipConfiguration names]} of the stand-in cloud."""
    return {name: [ic["name"] for ic in nic["properties"]["ipConfigurations"]]
            for name, nic in lab.azure_cloud()["nics"].items()}


def _wait_cloud(lab, node):
    """Wait until the cloud routes the VIP and the route to node."""
    deadline = time.monotonic() + BOUND_S
    while True:
        cloud = lab.azure_cloud()
        route = cloud.get("routes", {}).get("rt-skyha/to-app", {})
        holders = [n for n, ics in _holder(lab).items() if "skyha-vip" in ics]
        if holders == [f"nic-{node}"] and route.get("nextHopIpAddress") == AZURE_NODE_IPS[node]:
            return cloud
        assert time.monotonic() < deadline, f"the cloud does not point at {node}: " \
            f"{_holder(lab)}, route {route}"
        time.sleep(0.05)


def _serving(lab, node):
    return lab.wait_for(node, lambda s: s["node"]["serving"] is True,
                        "serving (vipd up, cloud moves done)", BOUND_S)


@vipd_lab(azure=True)
def test_azure_moves_ip_configuration_and_route_to_the_new_primary(lab):
    lab.start_cluster()
    _serving(lab, "node1")
    cloud = _wait_cloud(lab, "node1")
    ic = [i for i in cloud["nics"]["nic-node1"]["properties"]["ipConfigurations"]
          if i["name"] == "skyha-vip"][0]["properties"]
    assert ic["privateIPAddress"] == "10.1.0.10" and ic["primary"] is False and \
        ic["privateIPAllocationMethod"] == "Static", ic
    route = cloud["routes"]["rt-skyha/to-app"]
    assert route["addressPrefix"] == "10.2.0.10/32" and \
        route["nextHopType"] == "VirtualAppliance", route
    reqs = lab.azure_requests("node1")
    arm = [r for r in reqs if r["part"] == "arm"]
    # The token came from IMDS first; every ARM request carried a valid one.
    assert reqs[0]["part"] == "imds" and all(r["status"] != 401 for r in arm), reqs
    # Each NIC PUT named the etag the GET before it returned; each PUT's operation was
    # followed past InProgress to Succeeded.
    puts = [r for r in arm if r["method"] == "PUT" and "networkInterfaces" in r["path"]]
    assert puts and all(r["status"] == 202 and r["if_match"].startswith("W/") for r in puts)
    polled = [r.get("operation") for r in arm if r["path"].startswith("/operations/")]
    assert "InProgress" in polled and polled.count("Succeeded") == \
        sum(1 for r in arm if r["method"] == "PUT"), polled
    st = lab.wait_vipd("node1", lambda s: s["state"] == "up", "up", BOUND_S)
    assert st["counters"]["cloud"]["provider"] == "azure", describe_vipd(st)
    # node1 dies: node2 takes the ipConfiguration off node1's NIC and onto its own.
    lab.kill_node("node1")
    _serving(lab, "node2")
    _wait_cloud(lab, "node2")
    assert _holder(lab)["nic-node1"] == ["ipconfig1"], _holder(lab)


@vipd_lab(azure=True)
def test_azure_changed_etag_is_read_again_and_server_errors_retried(lab):
    for node in lab.nodes:
        lab.azure_control(node, faults=["500", "429"], etag_race=1)
    lab.start_cluster()
    _serving(lab, "node1")
    _wait_cloud(lab, "node1")
    arm = [r for r in lab.azure_requests("node1") if r["part"] == "arm"]
    assert [r["status"] for r in arm if r.get("fault")] == [500, 429], arm
    stale = [r for r in arm if r["status"] == 412]
    assert len(stale) == 1, arm
    # After the 412, a fresh GET, then a PUT with the new etag that succeeded.
    after = arm[arm.index(stale[0]) + 1:]
    assert after[0]["method"] == "GET" and after[1]["method"] == "PUT" and \
        after[1]["status"] == 202 and after[1]["if_match"] == after[0]["etag"], after[:2]


@vipd_lab(azure=True)
def test_azure_403_fails_the_promotion_with_the_reason(lab):
    for node in lab.nodes:
        lab.azure_control(node, deny=True)
    lab.start_witness()
    for node in lab.nodes:
        lab.start_node(node)
    _node, st = lab.wait_failed_transition("AuthorizationFailed", BOUND_S)
    assert "vipd" in st["transition"]["reason"] and "403" in st["transition"]["reason"], \
        describe(st)
    assert not any(lab.status(n)["node"]["serving"] for n in lab.nodes)


@vipd_lab(azure=True)
def test_azure_expired_token_is_renewed(lab):
    # ARM says the first token node1 got has expired: vipd must get a new one.
    for node in lab.nodes:
        lab.azure_control(node, expire_first_token=True)
    lab.start_cluster()
    _serving(lab, "node1")
    _wait_cloud(lab, "node1")
    reqs = lab.azure_requests("node1")
    tokens = [r["token"] for r in reqs if r["part"] == "imds" and r.get("token")]
    arm = [r for r in reqs if r["part"] == "arm"]
    assert len(tokens) == 2, reqs
    assert (arm[0]["token"], arm[0]["status"]) == (tokens[0], 401), arm
    assert all(r["token"] == tokens[1] for r in arm[1:]), arm


@vipd_lab(azure=True)
def test_azure_malformed_replies_do_not_crash_vipd(lab):
    for node in lab.nodes:
        lab.azure_control(node, imds_faults=["garbage"], faults=["garbage"])
    lab.start_cluster()
    _serving(lab, "node1")
    _wait_cloud(lab, "node1")
    reqs = lab.azure_requests("node1")
    assert [r.get("fault") for r in reqs if r.get("fault")] == ["garbage", "garbage"], reqs
    assert lab.running("node1", "vipd") and lab.running("node2", "vipd")


@vipd_lab(azure=True, step_timeout_ms=20000)
def test_azure_location_header_and_retry_after_are_followed(lab):
    # Operations named by Location only, answering 202 until done, each answer asking
    # for 1 s between polls: vipd follows them to the end and never polls sooner.
    for node in lab.nodes:
        lab.azure_control(node, location=True, retry_after=1)
    lab.start_cluster(timeout=30)
    _serving(lab, "node1")
    _wait_cloud(lab, "node1")
    arm = [r for r in lab.azure_requests("node1") if r["part"] == "arm"]
    polls = [r for r in arm if r["path"].startswith("/operations/")]
    puts = [r for r in arm if r["method"] == "PUT"]
    assert [r["operation"] for r in polls] == ["running", "done"] * len(puts), polls
    assert not any(r.get("early") for r in polls), polls
