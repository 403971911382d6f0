"""Network namespaces by name (host: needs root and `ip netns`; skipped
otherwise). The IPVS side is tested in the VM (tests/kernel/test_apply.py)."""
import errno
import os
import shutil
import subprocess
import threading
import uuid

import pytest

import ipvs
from ipvs._netns import NetnsError, netns_path, open_in_netns, run_in_netns


def _own_ns():
    return os.readlink("/proc/thread-self/ns/net")


@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("needs root and ip(8)")
    name = "ipvs-test-%s" % uuid.uuid4().hex[:8]
    if subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode:
        pytest.skip("ip netns add is not allowed here")
    yield name
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_missing_namespace_is_a_clear_error():
    with pytest.raises(NetnsError) as ei:
        ipvs.Client(netns="no-such-ns-%s" % uuid.uuid4().hex[:6])
    assert str(ei.value).startswith('Cannot open network namespace "no-such-ns-')
    assert str(ei.value).endswith(": No such file or directory")
    assert isinstance(ei.value, ipvs.IPVSError) and isinstance(ei.value, OSError)
    with pytest.raises(NetnsError):
        netns_path("")


def test_names_only_as_ip_n():
    assert netns_path("blue") == "/run/netns/blue"
    for bad in ("/proc/1/ns/net", "../x", "a/b", ".", "..", "x\0y"):
        with pytest.raises(NetnsError) as ei:
            netns_path(bad)
        assert ei.value.errno == errno.EINVAL and "Invalid argument" in str(ei.value)


def test_runs_inside_and_the_caller_never_moves(netns):
    before = _own_ns()
    inside = run_in_netns(netns, _own_ns)
    assert inside != before
    assert _own_ns() == before
    # an exception inside reaches the caller, still in its own namespace
    with pytest.raises(ZeroDivisionError):
        run_in_netns(netns, lambda: 1 // 0)
    assert _own_ns() == before
    # other threads are never affected either
    seen = []
    t = threading.Thread(target=lambda: seen.append(_own_ns()))
    t.start()
    t.join()
    assert seen == [before]


def test_proc_net_file_of_the_namespace(netns):
    # a fresh namespace has only lo: /proc/thread-self/net/dev opened there
    # shows it, read from the caller's thread
    fd = open_in_netns(netns, "/proc/thread-self/net/dev")
    with open(fd, "rb") as f:
        ifaces = [line.split(b":")[0].strip() for line in f.read().splitlines()[2:]]
    assert ifaces == [b"lo"]


def test_client_in_a_namespace_without_ipvs_fails_cleanly(netns):
    # on this host there is no IPVS at all; what matters is the error type
    # and that the caller stays where it was
    before = _own_ns()
    try:
        c = ipvs.Client(netns=netns)
    except ipvs.NotAvailableError:
        pass
    else:
        c.close()
    assert _own_ns() == before
