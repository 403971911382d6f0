"""The drain state machine (ipvs.drain) against the in-memory kernel with a
fake clock, and the CLI's --drain on top of it."""
import errno

import pytest

import ipvs
from ipvs import Destination, Service
from ipvs import drain as _drain
from ipvs.cli import _opswords

from memkernel import MemKernel
from test_cli_beyond import FakeClient, run

WEB = Service(protocol="tcp", address="10.0.0.1", port=80, scheduler="wlc")
R1 = Destination(address="192.168.0.1", port=80, fwd_method="masq", weight=5, u_threshold=7)
R2 = Destination(address="192.168.0.2", port=80, fwd_method="masq", weight=3)


class Clock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s


class Draining(FakeClient):
    """Connections of R1 that go away one per poll after `after` polls."""

    def __init__(self, table, conns, after=0):
        FakeClient.__init__(self, table)
        self.conns = conns  # (active, inactive, persistent) of R1
        self.after = after
        self.polls = 0

    def destinations(self, svc):
        self.polls += 1
        out = []
        for d in MemKernel.destinations(self, svc):
            if d.key == R1.key:
                a, i, p = self.conns
                d = d.replace(active_conns=a, inactive_conns=i, persistent_conns=p)
                if self.polls > self.after:
                    self.conns = (max(a - 1, 0), max(i - 1, 0), max(p - 1, 0))
            out.append(d)
        return out


def test_default_timeouts_agree():
    assert _opswords.DEFAULT_DRAIN == _drain.DEFAULT_TIMEOUT


def test_drain_zeroes_the_weight_keeps_the_rest_waits_then_deletes():
    k = Draining([(WEB, [R1, R2])], (2, 1, 0), after=1)
    clock = Clock()
    seen = []
    res = _drain.drain(k, WEB, R1, timeout=60, poll=1, progress=seen.append, clock=clock,
                       sleep=clock.sleep)
    assert res.drained and res.deleted
    edit = [op for op in k.log if op[0] == "edit_destination"]
    assert len(edit) == 1 and edit[0][2].weight == 0 and edit[0][2].u_threshold == 7
    assert k.log[-1][0] == "delete_destination"
    assert [(p.active, p.inactive) for p in seen] == [(2, 1), (1, 0), (0, 0)]
    assert clock.sleeps == [1, 1]
    assert seen[-1].done and R1.key not in k.svcs[WEB.key][1]
    assert R2.key in k.svcs[WEB.key][1]


def test_drain_times_out_then_deletes():
    k = Draining([(WEB, [R1])], (1, 0, 0), after=10 ** 9)
    clock = Clock()
    res = _drain.drain(k, WEB, R1, timeout=5, poll=2, clock=clock, sleep=clock.sleep)
    assert not res.drained and res.deleted and res.elapsed >= 5
    assert sum(clock.sleeps) == 5  # the last sleep is cut to the timeout
    assert k.log[-1][0] == "delete_destination"


def test_interrupt_while_waiting_leaves_weight_zero_and_the_server():
    k = Draining([(WEB, [R1])], (1, 0, 0), after=10 ** 9)
    clock = Clock()
    calls = []

    def checkpoint():
        calls.append(1)
        if len(calls) == 3:
            raise ipvs.Interrupted(2)

    with pytest.raises(ipvs.Interrupted):
        _drain.drain(k, WEB, R1, timeout=60, clock=clock, sleep=clock.sleep,
                     checkpoint=checkpoint)
    assert k.svcs[WEB.key][1][R1.key].weight == 0
    assert not any(op[0] == "delete_destination" for op in k.log)


def test_missing_server_or_service_is_the_kernel_message():
    k = FakeClient([(WEB, [R2])])
    with pytest.raises(ipvs.KernelError) as e:
        _drain.drain(k, WEB, R1, timeout=0)
    assert e.value.strerror == "No such destination"
    with pytest.raises(ipvs.KernelError) as e:
        _drain.drain(k, WEB.replace(port=81), R1, timeout=0)
    assert e.value.strerror == "Service not defined"


def test_a_server_deleted_meanwhile_counts_as_drained():
    k = Draining([(WEB, [R1])], (1, 0, 0), after=10 ** 9)
    clock = Clock()

    def sleep(s):
        k.svcs[WEB.key][1].pop(R1.key, None)
        clock.sleep(s)

    res = _drain.drain(k, WEB, R1, timeout=60, clock=clock, sleep=sleep)
    assert res.drained and res.deleted


def test_drain_stage_keeps_removed_servers_and_services_at_weight_zero():
    other = Service(protocol="udp", address="10.0.0.1", port=53)
    cur = [(WEB, [R1, R2]), (other, [R2])]
    tgt = [(WEB, [R2.replace(weight=9)])]
    stage, pairs = _drain.drain_stage(cur, tgt)
    assert {(s.key, d.key) for s, d in pairs} == {(WEB.key, R1.key), (other.key, R2.key)}
    st = {s.key: {d.key: d.weight for d in ds} for s, ds in stage}
    assert st == {WEB.key: {R2.key: 9, R1.key: 0}, other.key: {R2.key: 0}}


def test_bad_values_are_refused():
    with pytest.raises(ValueError):
        _drain.wait_drained(FakeClient(), [], timeout=-1)


# --------------------------------------------------------------- the CLI

@pytest.fixture
def kernel(monkeypatch):
    k = Draining([(WEB, [R1, R2])], (1, 1, 0))
    monkeypatch.setattr("ipvs.Client", lambda **kw: k)
    monkeypatch.setattr("time.sleep", lambda s: None)
    return k


def test_cli_drain_deletes_after_the_counts_reach_zero(kernel):
    status, out, err = run(["-d", "-t", "10.0.0.1:80", "-r", "192.168.0.1:80", "--drain", "30"])
    assert (status, out, err) == (0, "", "")
    assert R1.key not in kernel.svcs[WEB.key][1]
    assert [op[0] for op in kernel.log] == ["edit_destination", "delete_destination"]


def test_cli_drain_errors(kernel):
    status, out, err = run(["-d", "-t", "10.0.0.1:80", "-r", "192.168.0.7:80", "--drain"])
    assert status == 255 and err == "No such destination\n"
    for args, msg in [
        (["-a", "-t", "10.0.0.1:80", "-r", "192.168.0.7:80", "--drain"],
         "--drain goes with -d"),
        (["-d", "-t", "10.0.0.1:80", "-r", "192.168.0.1:80", "--drain=x"],
         "--drain: not a number of seconds"),
        (["-d", "-t", "10.0.0.1:80", "-r", "192.168.0.1:80", "--drain", "--json"],
         "--json does not go with"),
    ]:
        status, out, err = run(args)
        assert status == 2 and err.startswith(msg) and "Traceback" not in err, (args, err)


RULES = "-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 192.168.0.2:80 -m -w 3\n"


def test_cli_apply_drain_dry_run_and_run(kernel, tmp_path):
    f = tmp_path / "rules"
    f.write_text(RULES)
    status, out, err = run(["--apply", str(f), "--drain", "10", "--dry-run"])
    assert status == 0 and err == ""
    assert out == ("ipvsadm -e -t 10.0.0.1:80 -r 192.168.0.1:80 -m -w 0 -x 7\n"
                   "# drain 1 real server (up to 10s), then:\n"
                   "ipvsadm -d -t 10.0.0.1:80 -r 192.168.0.1:80\n")
    assert kernel.log == []
    status, out, err = run(["--apply", str(f), "--drain", "10"])
    assert (status, out, err) == (0, "", "")
    names = [op[0] for op in kernel.log]
    assert names == ["edit_destination", "delete_destination"]
    assert list(kernel.svcs[WEB.key][1]) == [R2.key]


def test_cli_apply_drain_removes_a_service_through_its_servers(kernel, tmp_path):
    f = tmp_path / "rules"
    f.write_text("")
    status, out, err = run(["--apply", str(f), "--drain", "--dry-run"])
    assert status == 0
    lines = out.splitlines()
    assert lines[:2] == ["ipvsadm -e -t 10.0.0.1:80 -r 192.168.0.1:80 -m -w 0 -x 7",
                         "ipvsadm -e -t 10.0.0.1:80 -r 192.168.0.2:80 -m -w 0"]
    assert lines[2].startswith("# drain 2 real servers (up to 300s)")
    assert lines[3] == "ipvsadm -D -t 10.0.0.1:80"
    status, out, err = run(["--apply", str(f), "--drain"])
    assert status == 0 and kernel.svcs == {}
    assert errno.ENOENT  # (imported for the kernel's refusals above)


# ------------------------------------------- another writer re-enables

def _re_enabler(k, dest, weight):
    """A sleep during which another writer gives `dest` its weight back."""
    def sleep(s):
        d = k.svcs[WEB.key][1].get(dest.key)
        if d is not None:
            k.svcs[WEB.key][1][dest.key] = d.replace(weight=weight)
    return sleep


def test_drain_does_not_delete_a_server_another_writer_re_enabled():
    k = Draining([(WEB, [R1])], (1, 0, 0), after=1)
    clock = Clock()
    re_enable = _re_enabler(k, R1, 5)

    def sleep(s):
        re_enable(s)
        clock.sleep(s)
    with pytest.raises(_drain.DrainChanged) as e:
        _drain.drain(k, WEB, R1, timeout=60, clock=clock, sleep=sleep)
    assert [(s.key, d.weight) for s, d in e.value.changed] == [(WEB.key, 5)]
    assert k.svcs[WEB.key][1][R1.key].weight == 5
    assert not any(op[0] == "delete_destination" for op in k.log)


def test_cli_drain_against_a_re_enabling_writer(kernel, monkeypatch):
    kernel.conns = (3, 0, 0)  # drains over a few polls, with sleeps between
    monkeypatch.setattr("time.sleep", _re_enabler(kernel, R1, 9))
    status, out, err = run(["-d", "-t", "10.0.0.1:80", "-r", "192.168.0.1:80", "--drain", "30"])
    assert (status, out) == (1, "")
    assert err == ("ipvsadm: -t 10.0.0.1:80 -r 192.168.0.1:80: changed by another writer "
                   "while draining (weight 9), not deleted\n")
    assert kernel.svcs[WEB.key][1][R1.key].weight == 9


def test_cli_apply_drain_against_a_re_enabling_writer(kernel, monkeypatch, tmp_path):
    """The rules remove the service (both real servers): R1 is given its
    weight back while they drain; R2 is deleted, R1 and its service stay."""
    f = tmp_path / "rules"
    f.write_text("")
    kernel.conns = (10, 0, 0)  # each read of the kernel takes one away
    monkeypatch.setattr("time.sleep", _re_enabler(kernel, R1, 4))
    status, out, err = run(["--apply", str(f), "--drain", "30"])
    assert (status, out) == (1, "")
    assert err == ("ipvsadm: -t 10.0.0.1:80 -r 192.168.0.1:80: changed by another writer "
                   "while draining (weight 4), not deleted\n")
    assert list(kernel.svcs) == [WEB.key]
    assert [(d.key, d.weight) for d in kernel.svcs[WEB.key][1].values()] == [(R1.key, 4)]


def test_cli_apply_drain_interrupted_says_what_is_in_place(kernel, monkeypatch, tmp_path):
    import os
    import signal
    f = tmp_path / "rules"
    f.write_text("-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2:80 -s rr\n"
                 "-a -t 10.0.0.1:80 -r 192.168.0.2:80 -m -w 3\n")
    kernel.conns = (10 ** 6, 0, 0)  # never drains
    monkeypatch.setattr("time.sleep", lambda s: os.kill(os.getpid(), signal.SIGUSR1))
    status, out, err = run(["--apply", str(f), "--drain", "30"])
    assert (status, out) == (128 + signal.SIGUSR1, "")
    assert err == ("ipvsadm: --apply --drain interrupted: the rules' other changes are in "
                   "place and the 1 real server to remove is still there at weight 0; nothing "
                   "was deleted (run the same --apply --drain again to finish)\n")
    svcs = {s.address: (s.scheduler, {d.address: d.weight for d in ds.values()})
            for s, ds in kernel.svcs.values()}
    assert svcs == {"10.0.0.1": ("rr", {"192.168.0.1": 0, "192.168.0.2": 3}),
                    "10.0.0.2": ("rr", {})}
