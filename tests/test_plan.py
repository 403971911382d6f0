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
    assert k.sends == len(ops)  # atomic: one operation a call
    assert ipvs.apply(k, target) == []
    assert k.sends == len(ops)
    k2 = MemKernel(start)
    assert ipvs.apply(k2, target, atomic=False) == ops
    assert k2.sends == (1 if ops else 0)  # not atomic: one batch call


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


# ------------------------------------------- undo: only our own operations

def _other_writer(k, at, rng, ops):
    """An observer that, after operation number `at` of ours, adds a
    service of its own and changes a service it finds (as keepalived or a
    controller would) that none of our operations still to come touches;
    returns what it did, to check afterwards."""
    theirs = {}
    later = {op.service.key for op in ops[at:]}

    def observe(kern):
        if len(kern.log) != at or theirs:
            return
        mine = Service(protocol="tcp", address="10.200.0.%d" % rng.randrange(1, 250),
                       port=rng.randrange(1, 65535), scheduler="sh")
        if mine.key not in kern.svcs:
            kern.svcs[mine.key] = (mine.replace(flags=mine.flags | ipvs.SVC_F_HASHED),
                                   {R1.key: R1})
            theirs[mine.key] = (mine, [R1])
        for key, (svc, dests) in list(kern.svcs.items()):
            if key not in theirs and key not in later and rng.random() < 0.5:
                changed = svc.replace(scheduler="dh")
                kern.svcs[key] = (changed, dests)
                theirs[key] = (changed, list(dests.values()))
                break
    k.observers.append(observe)
    return theirs


@settings(max_examples=200, deadline=None, database=None)
@given(tables, tables, st.integers(min_value=0, max_value=10_000), st.randoms())
def test_failed_apply_undoes_only_its_own_operations(start, target, where, rng):
    """A second writer acts between our operations; the apply fails at a
    random operation: nothing after it runs, the second writer's rules are
    as it left them, every rule of ours is back as it was (or, where the
    other writer changed the same rule, named in the report)."""
    ops = plan(start, target)
    if not ops:
        return
    where %= len(ops)
    bad = ops[where].batch_args()
    k = MemKernel(start, fail=lambda name, args: errno.ENOMEM
                  if (name,) + tuple(args) == bad else None)
    theirs = _other_writer(k, rng.randrange(0, where + 1), rng, ops)
    with pytest.raises(ipvs.ApplyError) as ei:
        ipvs.apply(k, target)
    assert ei.value.index == where and ei.value.operation == ops[where]
    # nothing after the failing operation ran: the log is the plan up to
    # it, then only the undo, which never repeats an operation of the plan
    assert [tuple(op) for op in k.log[:where + 1]] == [op.batch_args() for op in ops[:where + 1]]
    now = {s.key: (service_settings(s), {d.key: dest_settings(d) for d in ds.values()})
           for s, ds in k.svcs.values()}
    for key, (svc, dests) in theirs.items():
        assert now[key][0] == service_settings(svc)
    reported = {f.command for f in ei.value.rollback_errors}
    for s, ds in normalize_table(start):
        if s.key in theirs:
            continue
        assert now[s.key] == (service_settings(s), {d.key: dest_settings(d) for d in ds})
    for key in now:
        assert key in theirs or any(s.key == key for s, _ in start), reported
    assert ei.value.rolled_back == (not reported)


def test_an_exception_mid_apply_is_undone_and_reported():
    class Broken(Exception):
        pass
    k = MemKernel([(WEB, [R1])])

    def fail(name, args):
        if name == "add_service" and args[0] == DNS:
            raise Broken("socket gone")
    k.fail = fail
    with pytest.raises(ipvs.ApplyError) as ei:
        ipvs.apply(k, [(WEB.replace(scheduler="rr"), [R1, R2]), (DNS, [])])
    assert isinstance(ei.value.error, Broken) and ei.value.rolled_back
    assert same_table(ipvs.read_table(k), [(WEB, [R1])])


def test_checkpoint_interrupts_then_undoes():
    k = MemKernel([(WEB, [R1])])
    calls = []

    def checkpoint():
        calls.append(1)
        if len(calls) == 3:
            raise ipvs.Interrupted(2)
    with pytest.raises(ipvs.ApplyError) as ei:
        ipvs.apply(k, [(WEB, [R1, R2]), (DNS, [R1, R2])], checkpoint=checkpoint)
    assert isinstance(ei.value.error, ipvs.Interrupted) and ei.value.error.signum == 2
    assert len(k.log) == 2 + 2  # two operations ran, two undone
    assert same_table(ipvs.read_table(k), [(WEB, [R1])])


def test_a_failed_undo_says_what_it_could_not_put_back():
    k = MemKernel([(WEB, [R1]), (DNS, [])])
    j = ipvs.Journal(k)
    j.run(("delete_destination", WEB, R1))
    j.run(("delete_service", DNS))
    j.run(("add_service", WEB.replace(port=81)))
    k.fail = lambda name, args: errno.ENOMEM if name in ("add_service", "delete_service") \
        else None
    failures = j.undo()
    assert [str(f) for f in failures] == [
        "-D -t 10.0.0.1:81: Memory allocation problem",
        "-A -u 10.0.0.1:53 -s rr: Memory allocation problem"]
    assert same_table(ipvs.read_table(k), [(WEB, [R1]), (WEB.replace(port=81), [])])


def test_journal_undoes_flush_timeouts_and_daemons():
    k = MemKernel([(WEB, [R1, R2])])
    d = ipvs.SyncDaemon(state=ipvs.DAEMON_MASTER, mcast_ifn="lo", syncid=3)
    k.start_daemon(d)
    j = ipvs.Journal(k)
    j.run(("flush",))
    j.run(("set_timeouts", ipvs.Timeouts(tcp=5, tcp_fin=0, udp=7)))
    j.run(("stop_daemon", ipvs.SyncDaemon(state=ipvs.DAEMON_MASTER)))
    j.run(("start_daemon", ipvs.SyncDaemon(state=ipvs.DAEMON_BACKUP, mcast_ifn="lo")))
    j.run(("add_service", DNS))
    assert j.undo() == []
    assert same_table(ipvs.read_table(k), [(WEB, [R1, R2])])
    assert k.timeouts() == ipvs.Timeouts(tcp=900, tcp_fin=120, udp=300)
    assert k.daemons() == [d]


def test_undo_leaves_what_another_writer_changed_and_names_it():
    k = MemKernel([(WEB, [R1])])
    j = ipvs.Journal(k)
    j.run(("edit_destination", WEB, R1.replace(weight=5)))
    j.run(("add_service", DNS))
    k.svcs[WEB.key][1][R1.key] = R1.replace(weight=9)  # the other writer
    k.svcs[DNS.key][1][R2.key] = R2  # adds a real server to our new service
    failures = j.undo()
    assert [f.command for f in failures] == ["-D -u 10.0.0.1:53",
                                             "-e -t 10.0.0.1:80 -r 192.168.0.1:80 -g -w 1"]
    assert k.svcs[WEB.key][1][R1.key].weight == 9 and DNS.key in k.svcs
