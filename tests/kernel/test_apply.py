"""apply / plan / atomic rollback / network namespaces on the real kernel.

Random tables come from tests/tablegen.py (seeded: a failure names its
seed). The result of every apply is read back by the reference ipvsadm
(-Sn) and through the library; a second Client lists the table all the
time an apply runs and must never miss a service that is in both tables.
"""
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

import pytest

import ipvs
from ipvs._netns import run_in_netns
from ipvs._plan import Operation, operation_command, same_table, simulate

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tablegen import random_table, seeded  # noqa: E402

CHAIN = int(os.environ.get("IPVS_APPLY_CHAIN", "25"))  # random tables applied in a row
ATOMIC_TRIALS = int(os.environ.get("IPVS_APPLY_ATOMIC", "6"))
_THRESH = re.compile(r" -[xy] \d+")


def sn_lines(ref, netns=None):
    out = ref("-S", "-n") if netns is None else subprocess.run(
        ["ip", "netns", "exec", netns, "/usr/sbin/ipvsadm", "-S", "-n"],
        capture_output=True, text=True, check=True).stdout
    return sorted(_THRESH.sub("", line) for line in out.splitlines())


def rule_lines(table):
    """The table as -Sn lines (thresholds left out: compared through the
    library, since the reference's -S does not always print them)."""
    lines = []
    for s, ds in table:
        lines.append(operation_command(Operation("add_service", s)))
        lines.extend(operation_command(Operation("add_destination", s, d)) for d in ds)
    return sorted(_THRESH.sub("", line) for line in lines)


class Lister(threading.Thread):
    """Lists the services over and over on its own socket; records every
    listing that misses one of `must_stay`."""

    def __init__(self, must_stay, netns=None):
        super().__init__(daemon=True)
        self.must_stay = must_stay
        self.client = ipvs.Client(netns=netns)
        self.stop = threading.Event()
        self.listings = 0
        self.misses = []

    def run(self):
        with self.client as c:
            while not self.stop.is_set():
                seen = {s.key for s in c.services()}
                self.listings += 1
                missing = self.must_stay - seen
                if missing:
                    self.misses.append(missing)

    def finish(self):
        self.stop.set()
        self.join(30)


@pytest.mark.one_kernel("newest")  # the plan's convergence; edits: both kernels below
def test_apply_random_tables_converge(client, ref):
    """A chain of random tables: each apply goes from the previous table
    to a new one; -Sn of the result is the target, a second apply plans
    nothing, and a concurrent lister never misses a kept service."""
    rng = seeded(6)
    current = []
    listings = 0
    total_ops = 0
    for step in range(CHAIN):
        target = random_table(rng)
        kept = {s.key for s, _ in current} & {s.key for s, _ in target}
        lister = Lister(kept)
        lister.start()
        try:
            ops = client.apply(target)
        finally:
            lister.finish()
        listings += lister.listings
        total_ops += len(ops)
        assert not lister.misses, "step %d: a kept service disappeared: %r" % (step, lister.misses[:3])
        assert sn_lines(ref) == rule_lines(target), "step %d" % step
        assert same_table(client.table(), target), "step %d" % step
        assert client.plan(target) == [], "step %d" % step
        assert client.apply(target) == []
        current = target
    print("apply chain: %d tables, %d operations, %d concurrent listings"
          % (CHAIN, total_ops, listings))


@pytest.fixture
def peer_netns():
    """A namespace 'ipvs-e' (10.78.0.2) wired to this one (10.78.0.1)."""
    def sh(cmd):
        subprocess.run(cmd, shell=True, check=True)
    subprocess.run("ip netns del ipvs-e", shell=True, capture_output=True)
    sh("ip netns add ipvs-e && ip link add ve0 type veth peer name ve1 netns ipvs-e")
    sh("ip addr add 10.78.0.1/24 dev ve0 && ip link set ve0 up")
    sh("ip -n ipvs-e addr add 10.78.0.2/24 dev ve1 && ip -n ipvs-e link set ve1 up")
    yield "ipvs-e"
    subprocess.run("ip netns del ipvs-e; ip link del ve0", shell=True, capture_output=True)


def test_apply_edits_in_place_keep_counters_and_connections(client, ref, peer_netns):
    """An edit in place keeps the kernel's service and destination objects:
    counters and connection entries survive an apply that changes the
    scheduler and the weight."""
    web = ipvs.Service(protocol="tcp", address="10.78.0.1", port=80, scheduler="rr")
    d = ipvs.Destination(address="10.78.0.1", port=8081, fwd_method="masq")
    client.apply([(web, [d])])
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("10.78.0.1", 8081))
    srv.listen(8)

    ports = set()  # our clients' ports: entries of earlier runs may linger

    def connect():  # from inside the peer namespace, in-process
        for _ in range(2):
            c = socket.create_connection(("10.78.0.1", 80), timeout=5)
            ports.add(c.getsockname()[1])
            c.sendall(b"x")
            c.close()
    run_in_netns(peer_netns, connect)

    def ours():
        return [c for c in client.connections() if c.vport == 80 and c.cport in ports]
    deadline = time.monotonic() + 10
    while client.get_service(web).stats.conns < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    before = client.get_service(web).stats
    conns_before = ours()
    assert before.conns == 2 and len(conns_before) == 2
    ops = client.apply([(web.replace(scheduler="wlc"), [d.replace(weight=5)])])
    assert [op.name for op in ops] == ["edit_service", "edit_destination"]
    after = client.get_service(web).stats
    assert after.conns == 2 and after.inpkts >= before.inpkts
    assert len(ours()) == 2
    assert client.destinations(web)[0].stats.conns == 2
    assert "-A -t 10.78.0.1:80 -s wlc" in sn_lines(ref)
    srv.close()


def test_dry_run_plan_changes_nothing(client, ref):
    rng = seeded(61)
    start, target = random_table(rng), random_table(rng)
    client.apply(start)
    before = sn_lines(ref)
    ops = client.plan(target)
    assert sn_lines(ref) == before
    assert same_table(simulate(client.table(), ops), target)


def _bad_target(rng, table):
    """`table` with one rule the kernel refuses, at a random place."""
    table = [(s, list(ds)) for s, ds in table]
    if not table:
        table.append((ipvs.Service(protocol="tcp", address="10.9.9.9", port=1), []))
    i = rng.randrange(len(table))
    s, ds = table[i]
    if ds and rng.random() < 0.5:
        j = rng.randrange(len(ds))
        ds[j] = ds[j].replace(weight=-1)  # ERANGE
        what = "weight"
    else:
        table[i] = (s.replace(scheduler="nosuchsched"), ds)  # ENOENT
        what = "scheduler"
    return table, what


def test_atomic_apply_with_a_failure_anywhere_leaves_the_table(client, ref):
    rng = seeded(62)
    for trial in range(ATOMIC_TRIALS):
        start = random_table(rng)
        client.apply(start)
        before = sn_lines(ref)
        target, what = _bad_target(rng, random_table(rng))
        with pytest.raises(ipvs.ApplyError) as ei:
            client.apply(target)
        assert ei.value.rolled_back, "trial %d" % trial
        assert sn_lines(ref) == before, "trial %d (%s)" % (trial, what)
        assert same_table(client.table(), start), "trial %d" % trial
        assert ei.value.error.errno in (22, 2, 34), ei.value  # EINVAL/ENOENT/ERANGE


def test_snapshot_and_restore(client, ref):
    rng = seeded(63)
    client.apply(random_table(rng))
    client.set_timeouts(ipvs.Timeouts(tcp=1000, tcp_fin=100, udp=200))
    before, t_before = sn_lines(ref), ref("-L", "--timeout")
    snap = ipvs.take_snapshot(client)
    client.apply(random_table(rng))
    client.set_timeouts(ipvs.Timeouts(tcp=5, tcp_fin=6, udp=7))
    assert ipvs.restore_snapshot(client, snap) == []
    assert sn_lines(ref) == before
    assert ref("-L", "--timeout") == t_before
    client.set_timeouts(ipvs.Timeouts(tcp=900, tcp_fin=120, udp=300))


# ------------------------------------------------------------------ netns

@pytest.fixture
def two_netns(client):
    names = ["ipvs-a-%s" % uuid.uuid4().hex[:6], "ipvs-b-%s" % uuid.uuid4().hex[:6]]
    for n in names:
        # the kernel refuses an IPv4 destination (EINVAL, "address not
        # unicast") in a namespace with no local routing table yet: lo up
        subprocess.run("ip netns add {0} && ip -n {0} link set lo up".format(n),
                       shell=True, check=True)
    yield names
    for n in names:
        subprocess.run(["ip", "netns", "del", n])


def test_netns_rules_are_invisible_from_other_namespaces(client, ref, two_netns):
    a, b = two_netns
    rng = seeded(64)
    table = []
    while not any(ds for _, ds in table):
        table = random_table(rng)
    with ipvs.Client(netns=a) as ca, ipvs.Client(netns=b) as cb:
        assert ca.apply(table)
        assert same_table(ca.table(), table)
        assert cb.table() == [] and client.table() == []
        assert sn_lines(ref, a) == rule_lines(table)
        assert sn_lines(ref, b) == [] and sn_lines(ref) == []
        # the other way round: rules set by the reference in b
        subprocess.run(["ip", "netns", "exec", b, "/usr/sbin/ipvsadm", "-A", "-u",
                        "10.7.7.7:53", "-s", "rr"], check=True)
        assert [s.address for s in cb.services()] == ["10.7.7.7"]
        assert same_table(ca.table(), table) and client.table() == []
        # a concurrent lister in a sees its kept services through an apply in a
        target = [(s.replace(scheduler="wrr"), ds[:1]) for s, ds in table]
        lister = Lister({s.key for s, _ in table}, netns=a)
        lister.start()
        try:
            ca.apply(target)
        finally:
            lister.finish()
        assert not lister.misses
        assert sn_lines(ref, a) == rule_lines(target)
        ca.flush()
        cb.flush()


def _sync_send(entries):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    body = b"".join(entries)
    s.sendto(struct.pack("!BBHBbH", 0, 0, 8 + len(body), len(entries), 1, 0) + body,
             ("224.0.0.81", 8848))
    s.close()


def test_netns_connections_come_from_that_namespace(client, two_netns):
    a, b = two_netns
    sh = ("ip -n {0} link set lo up; ip -n {0} link set lo multicast on;"
          " ip -n {0} route add 224.0.0.0/4 dev lo").format(a)
    subprocess.run(sh, shell=True, check=True)
    with ipvs.Client(netns=a) as ca, ipvs.Client(netns=b) as cb:
        ca.start_daemon(ipvs.SyncDaemon(state="backup", mcast_ifn="lo", syncid=0))
        try:
            time.sleep(1)
            entries = [struct.pack("!BBHIHHHHIIIII", 0, 6, 36, 0, 1, 1024 + i, 80, 8080, 0, 30,
                                   0xC6336400 + i, 0x0A210001, 0x0A1F0001) for i in range(7)]
            run_in_netns(a, lambda: _sync_send(entries))
            deadline = time.time() + 10
            conns = []
            while time.time() < deadline and len(conns) < 7:
                time.sleep(0.2)
                conns = list(ca.connections())
            assert sorted(c.cport for c in conns) == list(range(1024, 1031))
            assert {c.vaddr for c in conns} == {"10.33.0.1"}
            assert list(cb.connections()) == []  # a fresh namespace
            # the host's table may hold entries of earlier tests, never these
            assert not [c for c in client.connections() if c.vaddr == "10.33.0.1"]
            assert ca.daemons() and not cb.daemons() and not client.daemons()
        finally:
            for d in ca.daemons():
                ca.stop_daemon(d)
