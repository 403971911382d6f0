"""Plans and applies against an in-memory kernel table (tests/memkernel.py):
convergence, idempotence, fewest operations, safe order, atomic rollback."""
import errno

import pytest
from hypothesis import given, settings, strategies as st

import ipvs
from ipvs import Destination, Service
from ipvs._plan import (dest_settings, normalize_table, plan, same_table, service_settings,
                        simulate)

from memkernel import MemKernel
from tablegen import random_table

WEB = Service(protocol="tcp", address="10.0.0.1", port=80, scheduler="wlc")
DNS = Service(protocol="udp", address="10.0.0.1", port=53, scheduler="rr")
R1 = Destination(address="192.168.0.1", port=80, fwd_method="route")
R2 = Destination(address="192.168.0.2", port=80, fwd_method="route")

tables = st.randoms(use_true_random=False).map(random_table)


def names(ops):
    return [op.name for op in ops]


def min_operations(start, target):
    """The fewest operations, counted independently of plan(): a new
    service costs itself and its destinations, a removed one one delete;
    a kept one an edit if its settings differ and one per added, edited
    or removed destination."""
    cur = {s.key: (s, {d.key: d for d in ds}) for s, ds in normalize_table(start)}
    n = 0
    for s, ds in normalize_table(target):
        if s.key not in cur:
            n += 1 + len(ds)
            continue
        old, olds = cur.pop(s.key)
        n += service_settings(old) != service_settings(s)
        new = {d.key: d for d in ds}
        n += sum(1 for k in new if k not in olds)
        n += sum(1 for k in olds if k not in new)
        n += sum(1 for k in new if k in olds and dest_settings(new[k]) != dest_settings(olds[k]))
    return n + len(cur)


@settings(max_examples=300, deadline=None, database=None)
@given(tables, tables)
def test_plan_converges_in_fewest_operations_and_safe_order(start, target):
    ops = plan(start, target)
    assert len(ops) == min_operations(start, target)
    assert not any(op.name == "flush" for op in ops)
    # replay step by step: every intermediate state keeps the services that
    # are in both tables, and a kept service that had and keeps
    # destinations never runs with none
    kept = {s.key for s, _ in start} & {s.key for s, _ in target}
    had = {s.key for s, ds in start if ds} & {s.key for s, ds in target if ds}
    state = start
    for op in ops:
        state = simulate(state, [op])
        present = {s.key: ds for s, ds in state}
        assert kept <= set(present), op
        assert all(present[k] for k in had), op
    assert same_table(state, target)
    assert plan(state, target) == []


@settings(max_examples=150, deadline=None, database=None)
@given(tables, tables)
def test_apply_on_memory_kernel_converges_and_second_apply_is_empty(start, target):
    k = MemKernel(start)
    ops = ipvs.apply(k, target)
    assert len(ops) == min_operations(start, target)
    assert same_table(ipvs.read_table(k), target)
    assert k.sends == (1 if ops else 0)  # one batch call
    assert ipvs.apply(k, target) == []
    assert k.sends == (1 if ops else 0)


@settings(max_examples=150, deadline=None, database=None)
@given(tables, tables, st.integers(min_value=0, max_value=10_000))
def test_atomic_apply_failing_anywhere_leaves_the_table_as_it_was(start, target, where):
    ops = plan(start, target)
    if not ops:
        return
    bad = ops[where % len(ops)].batch_args()
    calls = []

    def fail(name, args):  # the chosen operation fails, the first time only
        if (name,) + tuple(args) == bad and not calls:
            calls.append(1)
            return errno.ENOMEM
        return None
    k = MemKernel(start, fail=fail)
    with pytest.raises(ipvs.ApplyError) as ei:
        ipvs.apply(k, target)
    assert ei.value.rolled_back
    assert ei.value.operation.batch_args() == bad
    assert ei.value.error.errno == errno.ENOMEM
    assert same_table(ipvs.read_table(k), start)


def test_non_atomic_apply_reports_and_keeps_going():
    k = MemKernel([], fail=lambda name, args: errno.ENOENT if args[0] == DNS else None)
    with pytest.raises(ipvs.ApplyError) as ei:
        ipvs.apply(k, [(WEB, [R1]), (DNS, [])], atomic=False)
    assert not ei.value.rolled_back
    assert ei.value.operation.name == "add_service"
    assert same_table(ipvs.read_table(k), [(WEB, [R1])])


def test_edits_in_place_where_the_kernel_allows_it():
    start = [(WEB, [R1, R2])]
    target = [(WEB.replace(scheduler="rr", flags=ipvs.SVC_F_PERSISTENT, timeout=60,
                           netmask="255.255.255.0"),
               [R1.replace(weight=7, u_threshold=10), R2.replace(fwd_method=ipvs.FWD_TUNNEL,
                                                                 tun_type=ipvs.TUN_GUE,
                                                                 tun_port=6080)])]
    ops = plan(start, target)
    assert names(ops) == ["edit_service", "edit_destination", "edit_destination"]
    assert [op.command() for op in ops] == [
        "-E -t 10.0.0.1:80 -s rr -p 60 -M 255.255.255.0",
        "-e -t 10.0.0.1:80 -r 192.168.0.1:80 -g -w 7 -x 10",
        "-e -t 10.0.0.1:80 -r 192.168.0.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum",
    ]


def test_key_changes_are_add_then_delete():
    moved = R1.replace(port=8080, fwd_method=ipvs.FWD_MASQ)
    ops = plan([(WEB, [R1])], [(WEB, [moved])])
    assert [op.command() for op in ops] == [
        "-a -t 10.0.0.1:80 -r 192.168.0.1:8080 -m -w 1",
        "-d -t 10.0.0.1:80 -r 192.168.0.1:80",
    ]
    ops = plan([(WEB, [R1])], [(DNS, [R1])])
    assert [op.command() for op in ops] == [
        "-A -u 10.0.0.1:53 -s rr", "-a -u 10.0.0.1:53 -r 192.168.0.1:80 -g -w 1",
        "-D -t 10.0.0.1:80"]  # its destinations go with it: no -d


def test_commands_for_fwmark_ipv6_pe_and_flags():
    fw6 = Service(fwmark=12, af=ipvs.AF_INET6, scheduler="sh", timeout=60, netmask="64",
                  flags=ipvs.SVC_F_PERSISTENT | ipvs.SVC_F_SCHED1 | ipvs.SVC_F_SCHED2)
    sip = Service(protocol="udp", address="10.0.0.2", port=5060, scheduler="wlc",
                  flags=ipvs.SVC_F_PERSISTENT | ipvs.SVC_F_ONEPACKET, timeout=30, pe_name="sip")
    v6 = Service(protocol="sctp", address="2001:db8::1", port=80)
    d6 = Destination(address="2001:db8::10", port=80, fwd_method="tunnel", tun_type="gre",
                     tun_flags=ipvs.TUN_F_CSUM, l_threshold=3)
    ops = plan([], [(fw6, []), (sip, []), (v6, [d6])])
    assert [op.command() for op in ops] == [
        "-A -f 12 -6 -s sh -p 60 -M 64 -b sh-fallback,sh-port",
        "-A -u 10.0.0.2:5060 -s wlc -p 30 --pe sip -o",
        "-A --sctp-service [2001:db8::1]:80 -s wlc",
        "-a --sctp-service [2001:db8::1]:80 -r [2001:db8::10]:80 -i -w 1 --tun-type gre "
        "--tun-csum -y 3",
    ]


def test_kernel_state_is_not_a_difference():
    # counters, connection counts and the kernel's 'hashed' flag are not rules
    k = MemKernel([(WEB, [R1])])
    busy = [(s.replace(stats=ipvs.Stats(conns=5)),
             [d.replace(active_conns=3, stats=ipvs.Stats(inpkts=1)) for d in ds.values()])
            for s, ds in k.svcs.values()]
    assert busy[0][0].flags & ipvs.SVC_F_HASHED
    assert plan(busy, [(WEB, [R1])]) == []


def test_duplicates_are_refused_with_a_clear_message():
    with pytest.raises(ipvs.PlanError, match="service given twice: -t 10.0.0.1:80"):
        plan([], [(WEB, []), (WEB.replace(scheduler="rr"), [])])
    with pytest.raises(ipvs.PlanError, match=r"destination given twice: -t 10.0.0.1:80 -r 192.168.0.1:80"):
        plan([], [(WEB, [R1, R1.replace(weight=3)])])
    with pytest.raises(ipvs.PlanError):
        plan([], [WEB])


def test_client_plan_and_apply_methods_use_the_same_machinery():
    from ipvs._client import Client
    k = MemKernel([(WEB, [R1])])
    assert [op.name for op in Client.plan(k, [(WEB, [R2])])] == ["add_destination",
                                                                  "delete_destination"]
    assert names(Client.apply(k, [(WEB, [R2])])) == ["add_destination", "delete_destination"]
    assert Client.table(k) == [(WEB, [R2])]
