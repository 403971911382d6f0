"""Kernel status on the VM kernels (6.1 and 7.x): Client.status(),
sysctls per namespace, the estimator switch, and `ipvsadm --status`
against what the kernel and the reference ipvsadm report."""
import io
import json
import os
import re
import subprocess

import pytest

import ipvs
from ipvs.cli import main

SYSCTL_DIR = "/proc/sys/net/ipv4/vs"


def ours(*args):
    out, err = io.StringIO(), io.StringIO()
    rc = main(["ipvsadm", *args], out, err, io.StringIO())
    return rc, out.getvalue(), err.getvalue()


def sysctl_a():
    """net.ipv4.vs.* as procps' sysctl(8) prints them: {name: text}."""
    p = subprocess.run(["sysctl", "-a"], capture_output=True, text=True)
    out = {}
    for line in p.stdout.splitlines():
        m = re.match(r"net\.ipv4\.vs\.(\S+) = (.*)$", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def test_status_matches_the_kernel(client, ref):
    client.add_service(ipvs.Service(address="10.40.0.1", port=80))
    client.add_service(ipvs.Service(fwmark=40))
    st = client.status()
    header = ref("-Ln").splitlines()[0]
    assert header == "IP Virtual Server version %s (size=%d)" % (st.version, st.conn_tab_size)
    # every sysctl, as sysctl(8) reads them
    expected = sysctl_a()
    assert expected and set(st.sysctls) == set(expected)
    assert {k: str(v) for k, v in st.sysctls.items()} == {
        k: " ".join(v.split()) for k, v in expected.items()}
    assert isinstance(st.sysctls["conn_reuse_mode"], int)
    if os.path.exists("/proc/net/ip_vs_status"):  # 7.x
        with open("/proc/net/ip_vs_status") as f:
            text = f.read()
        assert st.status_text.splitlines()[:2] == text.splitlines()[:2]
        assert st.tables["services"] == 2
        assert st.tables["conn_buckets"] == st.conn_tab_size
        assert "conn_lfactor" in st.sysctls and "svc_lfactor" in st.sysctls
    else:  # 6.1: what the kernel lacks is absent
        assert os.environ.get("IPVS_KERNEL", "6.1") == "6.1"
        assert st.tables == {} and st.status_text == ""
    rc, out, err = ours("--status")
    assert (rc, err) == (0, "")
    assert out.splitlines()[0] == header
    assert "  conn_reuse_mode%s = %d" % (" " * (max(map(len, st.sysctls)) - 15),
                                         st.sysctls["conn_reuse_mode"]) in out.splitlines()
    rc, out, err = ours("--status", "--json")
    assert (rc, err) == (0, "")
    (doc,) = json.loads(out)
    assert doc["version"] == st.version and doc["sysctls"] == st.sysctls
    assert doc["estimating"] is st.estimating
    assert ("tables" in doc) == bool(st.tables)


def test_estimation_off_is_said_not_hidden(client, ref):
    path = os.path.join(SYSCTL_DIR, "run_estimation")
    if not os.path.exists(path):
        pytest.skip("this kernel has no run_estimation sysctl")
    svc = ipvs.Service(address="10.40.0.2", port=80)
    client.add_service(svc)
    client.add_destination(svc, ipvs.Destination(address="10.40.1.1", port=80))
    with open(path) as f:
        saved = f.read().strip()
    try:
        with open(path, "w") as f:
            f.write("0\n")
        assert client.estimating() is False and client.status().estimating is False
        # the text listing stays ipvsadm's, zeros and all
        rc, out, _ = ours("-Ln", "--rate")
        assert (rc, out) == (0, ref("-Ln", "--rate"))
        rc, out, _ = ours("-Ln", "--rate", "--json")
        (s,) = json.loads(out)
        assert s["rate"] == {"estimating": False}
        assert s["destinations"][0]["rate"] == {"estimating": False}
        assert "Rate estimation: off" in ours("--status")[1]
    finally:
        with open(path, "w") as f:
            f.write(saved + "\n")
    assert client.estimating() is True
    rc, out, _ = ours("-Ln", "--rate", "--json")
    assert set(json.loads(out)[0]["rate"]) == {"cps", "inpps", "outpps", "inbps", "outbps"}


def test_sysctls_of_another_namespace():
    if os.environ.get("IPVS_IN_VM") != "1":
        pytest.skip("needs the IPVS kernel")
    name = "ipvs-status-test"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        # the namespace gets its own IPVS sysctls, at their defaults
        subprocess.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                        "net.ipv4.vs.expire_nodest_conn=1"], check=True)
        with ipvs.Client() as host, ipvs.Client(netns=name) as there:
            assert host.sysctls()["expire_nodest_conn"] == 0
            assert there.sysctls()["expire_nodest_conn"] == 1
            assert there.status().sysctls["expire_nodest_conn"] == 1
        rc, out, err = ours("--status", "--netns", name, "--json")
        assert rc == 0 and json.loads(out)[0]["sysctls"]["expire_nodest_conn"] == 1
    finally:
        subprocess.run(["ip", "netns", "del", name])
