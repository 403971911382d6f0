"""The undo journal against the in-memory kernel (tests/memkernel.py), for
what a VM cannot provoke on purpose: a reply lost after the kernel acted
(or before it did), and the count of reads an apply and its undo make."""
import errno

import pytest

import ipvs
from ipvs import Destination, ProtocolError, Service
from ipvs._plan import same_table

from memkernel import MemKernel

WEB = Service(protocol="tcp", address="10.0.0.1", port=80, scheduler="wlc")
DNS = Service(protocol="udp", address="10.0.0.1", port=53, scheduler="rr")
R1 = Destination(address="192.168.0.1", port=80, fwd_method="route", weight=3)
R2 = Destination(address="192.168.0.2", port=80, fwd_method="route", weight=4)
R3 = Destination(address="192.168.0.3", port=80, fwd_method="route", weight=5)

START = [(WEB, [R1, R2]), (DNS, [R1])]
# one operation of each kind (the plan of START -> TARGET), then a failure
TARGET = [(WEB.replace(scheduler="rr"), [R1.replace(weight=9), R3]),
          (Service(protocol="tcp", address="10.0.0.2", port=80), [R1])]


def _lose_reply(k, kind, done):
    """The first operation named `kind` loses its answer: after the kernel
    did it (done) or before it reached the kernel."""
    state = {"hit": False}

    def fail(name, args):
        if name == kind and not state["hit"] and not done:
            state["hit"] = True
            raise ProtocolError("netlink receive buffer overrun")

    def observe(kern):
        if kern.log and kern.log[-1][0] == kind and not state["hit"] and done:
            state["hit"] = True
            raise ProtocolError("netlink receive buffer overrun")
    k.fail = fail
    k.observers.append(observe)
    return state


@pytest.mark.parametrize("done", [True, False], ids=["done", "not-done"])
@pytest.mark.parametrize("kind", ["add_service", "add_destination", "edit_service",
                                  "edit_destination", "delete_destination",
                                  "delete_service"])
def test_an_operation_whose_reply_is_lost_is_settled_by_reading(kind, done):
    ops = ipvs.plan(START, TARGET)
    assert kind in [op.name for op in ops]
    k = MemKernel(START)
    state = _lose_reply(k, kind, done)
    with pytest.raises(ipvs.ApplyError) as ei:
        ipvs.apply(k, TARGET)
    assert state["hit"] and isinstance(ei.value.error, ProtocolError)
    assert ei.value.operation.name == kind
    # whether or not the kernel did it, the table is as it was, and says so
    assert ei.value.rolled_back and ei.value.rollback_errors == []
    assert same_table(ipvs.read_table(k), START)


def test_journal_counts_a_lost_reply_as_in_doubt():
    k = MemKernel(START)
    _lose_reply(k, "edit_destination", True)
    j = ipvs.Journal(k)
    j.run(("add_service", DNS.replace(port=54)))
    with pytest.raises(ProtocolError):
        j.run(("edit_destination", WEB, R2.replace(weight=7)))
    assert j.in_doubt == 1
    assert j.undo() == []
    assert same_table(ipvs.read_table(k), START)


def test_lost_reply_of_an_operation_another_writer_then_undid_is_left_alone():
    """In doubt, and the kernel shows neither what it replaced nor what it
    asked for: another writer's value, named, not overwritten."""
    k = MemKernel(START)
    _lose_reply(k, "edit_destination", True)
    j = ipvs.Journal(k)
    with pytest.raises(ProtocolError):
        j.run(("edit_destination", WEB, R2.replace(weight=7)))
    k.svcs[WEB.key][1][R2.key] = R2.replace(weight=0)  # the other writer
    failures = j.undo()
    assert [f.command for f in failures] == ["-e -t 10.0.0.1:80 -r 192.168.0.2:80 -g -w 4"]
    assert k.svcs[WEB.key][1][R2.key].weight == 0


def test_undo_puts_back_what_each_operation_replaced_not_what_the_plan_read():
    """Another writer sets weights to 0 after the plan's read, before our
    first operation on their service; the apply edits them and fails at
    its last operation: the undo puts back the other writer's 0, not the
    weights the plan read."""
    many = [R1.replace(address="192.168.1.%d" % i) for i in range(1, 41)]
    start = [(DNS, []), (WEB, many)]
    target = [(DNS, [R1]), (WEB, [d.replace(weight=7) for d in many])]
    assert [op.name for op in ipvs.plan(start, target)] == \
        ["add_destination"] + ["edit_destination"] * 40
    k = MemKernel(start, fail=lambda name, args: errno.ENOMEM
                  if name == "edit_destination" and args[1].key == many[-1].key else None)

    def writer(kern):  # after our first operation (DNS's real server)
        if len(kern.log) == 1:
            for d in many:
                kern.svcs[WEB.key][1][d.key] = d.replace(weight=0)
    k.observers.append(writer)
    with pytest.raises(ipvs.ApplyError) as ei:
        ipvs.apply(k, target)
    assert ei.value.index == 40 and ei.value.rolled_back, ei.value.rollback_errors
    assert [d.weight for d in k.svcs[WEB.key][1].values()] == [0] * 40
    assert k.svcs[DNS.key][1] == {}


class Clock:
    """The journal's clock: an operation takes 1, a read of n real servers
    takes n / 100 (as a dump's cost grows with the service)."""
    now = 0.0

    def __call__(self):
        return self.now


class CountingKernel(MemKernel):
    reads = 0
    clock = None

    def destinations(self, svc):
        self.reads += 1
        out = MemKernel.destinations(self, svc)
        if self.clock is not None:
            self.clock.now += len(out) / 100
        return out

    def _call(self, name, *args):
        if self.clock is not None:
            self.clock.now += 1
        return MemKernel._call(self, name, *args)


MANY = [Destination(address="192.168.%d.%d" % (i // 250, i % 250 + 1), port=80,
                    fwd_method="masq", weight=1) for i in range(1000)]


def _failing_apply(k):
    edited = [d.replace(weight=2) for d in MANY[:500]]
    target = [(WEB.replace(scheduler="rr"), edited + [R1.replace(port=8080)])]
    k.fail = lambda name, args: errno.ENOMEM \
        if name == "delete_destination" and args[1].key == MANY[-1].key else None
    with pytest.raises(ipvs.ApplyError) as ei:
        ipvs.apply(k, target)
    assert ei.value.rolled_back
    assert same_table(ipvs.read_table(k), [(WEB, MANY)])


def test_apply_and_undo_read_each_service_once_when_no_time_passes(monkeypatch):
    from ipvs import _journal
    monkeypatch.setattr(_journal, "_clock", lambda: 0.0)
    k = CountingKernel([(WEB, MANY)])
    _failing_apply(k)
    # the plan's read, one before the first change, one for the undo: not
    # one per operation (1000 of them)
    assert k.reads <= 4, k.reads


def test_reads_again_take_a_bounded_share_of_the_time(monkeypatch):
    """With time passing, the service is read again now and then (so
    another writer's change is seen), the reads taking at most about a
    quarter of the time: linear, not a read per operation."""
    from ipvs import _journal
    clock = Clock()
    monkeypatch.setattr(_journal, "_clock", clock)
    k = CountingKernel([(WEB, MANY)])
    k.clock = clock
    _failing_apply(k)
    ops = len(k.log)
    read_time = clock.now - ops
    assert 4 < k.reads < ops / 10, (k.reads, ops)
    assert read_time <= ops / 3 + 30, (read_time, ops)


def test_a_writer_in_the_middle_of_a_service_is_seen_by_a_later_read(monkeypatch):
    """Another writer sets the last real servers to weight 0 while our edits
    of their service run; time passes, so the journal reads the service
    again before it edits them: the undo puts back the writer's 0."""
    from ipvs import _journal
    clock = Clock()
    monkeypatch.setattr(_journal, "_clock", clock)
    k = CountingKernel([(WEB, MANY)])
    k.clock = clock

    def writer(kern):
        if len(kern.log) == 100:
            for d in MANY[400:500]:
                kern.svcs[WEB.key][1][d.key] = d.replace(weight=0)
    k.observers.append(writer)
    edited = [d.replace(weight=2) for d in MANY[:500]]
    k.fail = lambda name, args: errno.ENOMEM \
        if name == "delete_destination" and args[1].key == MANY[-1].key else None
    with pytest.raises(ipvs.ApplyError) as ei:
        ipvs.apply(k, [(WEB, edited)])
    assert ei.value.rolled_back, ei.value.rollback_errors
    now = k.svcs[WEB.key][1]
    assert [now[d.key].weight for d in MANY[400:500]] == [0] * 100
    assert [now[d.key].weight for d in MANY[:400]] == [1] * 400
