"""The options beyond ipvsadm (--json, --apply, --dry-run, -R --atomic,
--netns) on the host, against the in-memory kernel (tests/memkernel.py).
The real kernel: tests/kernel/test_cli_beyond.py."""
import errno
import io
import json
import os
import subprocess
import sys
import tempfile

import pytest

import ipvs
from ipvs import Destination, Service
from ipvs._client import Client
from ipvs._plan import same_table
from ipvs.cli import _beyond

from jsonkeys import validate_document
from memkernel import MemKernel


class FakeClient(MemKernel):
    """MemKernel with the rest of what the CLI runner calls."""
    plan = Client.plan
    apply = Client.apply
    table = Client.table

    def info(self):
        return ipvs.Info(version=0x010201, conn_tab_size=4096)

    def get_service(self, svc):
        if svc.key not in self.svcs:
            raise ipvs.KernelError(errno.ESRCH, "get_service")
        return self.svcs[svc.key][0]

    def close(self):
        pass

    def writer_lock(self, wait=None):
        """The real lock, in a folder of the test's own (the host tests run
        as any user; /run/ipvsadm is root's)."""
        from ipvs._writelock import WriterLock
        lock = WriterLock(os.stat("/proc/self/ns/net").st_ino, lock_dir=LOCK_DIR)
        lock.acquire(wait)
        return lock


LOCK_DIR = tempfile.mkdtemp(prefix="ipvs-test-locks-")


@pytest.fixture
def kernel(monkeypatch):
    k = FakeClient()
    monkeypatch.setattr("ipvs.Client", lambda **kw: k)
    return k


def run(args, stdin=""):
    """The command through ipvsadm's main() (which sends these options to
    _beyond) when it is wired, else through _beyond.run with main()'s
    handling of Exit and ParseExit."""
    import ipvs.cli as cli
    from ipvs.cli._options import ParseExit
    from ipvs.cli._run import Exit
    out, err = io.StringIO(), io.StringIO()
    argv = ["ipvsadm"] + args
    if WIRED:
        status = cli.main(argv, out, err, io.StringIO(stdin))
    else:
        try:
            status = _beyond.run(argv, out, err, io.StringIO(stdin))
        except ParseExit as e:
            status = cli._parse_exit(e, "ipvsadm", out, err)
        except Exit as e:
            if e.message is not None:
                err.write(e.message + "\n")
            status = e.status
    return status, out.getvalue(), err.getvalue()


def _wired():
    import inspect
    import ipvs.cli as cli
    return "_beyond" in inspect.getsource(cli)


WIRED = _wired()
run_main = run


RULES = """\
-A -t 10.0.0.1:80 -s rr -p 300
-a -t 10.0.0.1:80 -r 192.168.0.1:80 -g -w 1
-a -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 3
-A -u 10.0.0.1:53 -s wlc
-A -f 5 -s sh -b sh-port
-a -f 5 -r 192.168.0.9:0 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum
"""
WEB = Service(protocol="tcp", address="10.0.0.1", port=80, scheduler="rr",
              flags=ipvs.SVC_F_PERSISTENT, timeout=300)


def test_split_takes_out_only_its_own_words():
    x, rest = _beyond.split(["ipvsadm", "-L", "-n", "--json", "-p", "--netns", "blue"])
    assert (x.json, x.pretty, x.netns, rest) == (True, True, "blue", ["ipvsadm", "-L", "-n"])
    x, rest = _beyond.split(["ipvsadm", "--apply", "rules.txt", "--dry-run"])
    assert (x.apply, x.dry_run, rest) == ("rules.txt", True, ["ipvsadm"])
    x, rest = _beyond.split(["ipvsadm", "--apply"])
    assert x.apply == "-"
    x, rest = _beyond.split(["ipvsadm", "-R", "--atomic", "--netns=red"])
    assert (x.atomic, x.netns, rest) == (True, "red", ["ipvsadm", "-R"])
    assert not _beyond.wanted(["ipvsadm", "-A", "-t", "1.2.3.4:80", "-p", "60"])
    assert _beyond.wanted(["ipvsadm", "-Ln", "-j"])


@pytest.mark.parametrize("args,msg", [
    (["--dry-run"], "--dry-run goes with --apply"),
    (["-L", "--pretty"], "--pretty goes with --json"),
    (["-R", "--netns"], "--netns needs the name or path of a network namespace"),
    (["-C", "--atomic"], "--atomic goes with -R (--restore)"),
    (["--apply", "-L"], "--apply takes no other command or option"),
    (["--apply", "x", "--json"], "--json goes with listings and with --apply --dry-run"),
])
def test_usage_errors_are_clear_and_not_tracebacks(args, msg):
    status, out, err = run_main(args)
    assert status == 2 and out == "" and err.startswith(msg) and "Traceback" not in err


def test_apply_then_apply_again_changes_nothing(kernel):
    assert run(["--apply"], RULES) == (0, "", "")
    assert kernel.sends == 6  # atomic: one operation a call
    table = kernel.table()
    assert len(table) == 3 and sum(len(ds) for _, ds in table) == 3
    status, out, err = run(["--apply", "--dry-run"], RULES)
    assert (status, out, err) == (0, "", "")
    assert run(["--apply"], RULES) == (0, "", "")
    assert kernel.sends == 6


def test_dry_run_prints_the_plan_as_ipvsadm_commands_and_changes_nothing(kernel):
    kernel.apply([(WEB, [Destination(address="192.168.0.1", port=80, weight=4)]),
                  (Service(protocol="tcp", address="10.0.0.2", port=80), [])])
    before = kernel.table()
    status, out, err = run(["--apply", "--dry-run"], RULES)
    assert status == 0 and err == ""
    assert out.splitlines() == [
        "ipvsadm -A -u 10.0.0.1:53 -s wlc",
        "ipvsadm -A -f 5 -s sh -b sh-port",
        "ipvsadm -a -f 5 -r 192.168.0.9:0 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum",
        "ipvsadm -a -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 3",
        "ipvsadm -e -t 10.0.0.1:80 -r 192.168.0.1:80 -g -w 1",
        "ipvsadm -D -t 10.0.0.2:80",
    ]
    assert kernel.table() == before
    status, out, err = run(["--apply", "--dry-run", "--json", "--pretty"], RULES)
    assert run(["--apply", "--dry-run", "-j", "-p"], RULES)[1] == out
    doc = json.loads(out)
    validate_document(doc, "operation")
    assert [o["operation"] for o in doc] == ["add_service", "add_service", "add_destination",
                                             "add_destination", "edit_destination",
                                             "delete_service"]
    # the plan, run by ipvsadm -R, gives the same table as the apply
    status, _, _ = run_main(["-R"], "\n".join(line.split(" ", 1)[1] for line in
                                              run(["--apply", "--dry-run"], RULES)[1].splitlines()))
    assert status == 0
    k2 = FakeClient()
    k2.apply(Client.table(kernel))
    run(["--apply"], RULES)
    assert same_table(kernel.table(), k2.table())


@pytest.mark.parametrize("rules,msg", [
    ("-A -t 10.0.0.1:80\n-C\n", "ipvsadm: line 2: --apply takes -A and -a lines"),
    ("-a -t 10.0.0.1:80 -r 1.1.1.1\n", "ipvsadm: line 1: destination of a service with no -A"),
    ("-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80 -s rr\n", "ipvsadm: line 2: service given twice"),
    ("\n# comment\n-A -t 10.0.0.1:80 --bogus\n", "ipvsadm: line 3: "),
    ("-A -t 10.0.0.1:0\n", "ipvsadm: line 1: Zero port specified for non-persistent service"),
])
def test_bad_rules_are_refused_before_anything_changes(kernel, rules, msg):
    kernel.apply([(WEB, [])])
    before = kernel.table()
    status, out, err = run(["--apply"], rules)
    assert status == 1 and err.startswith(msg) and "Traceback" not in err, err
    assert kernel.table() == before


def test_apply_failure_is_rolled_back_and_reported(kernel):
    kernel.apply([(WEB, [])])
    before = kernel.table()
    kernel.fail = lambda name, args: errno.ENOENT if args[0].protocol == 17 else None
    status, out, err = run(["--apply"], RULES)
    assert status == 1
    assert err == ("ipvsadm: ipvsadm -A -u 10.0.0.1:53 -s wlc: Scheduler or persistence engine "
                   "not found; the table is as it was\n")
    assert kernel.table() == before


def test_apply_reads_a_file(kernel, tmp_path):
    p = tmp_path / "rules"
    p.write_text(RULES)
    assert run(["--apply", str(p)]) == (0, "", "")
    assert len(kernel.table()) == 3
    status, out, err = run(["--apply", str(tmp_path / "missing")])
    assert status == 1 and err.startswith("ipvsadm: cannot read ")


def test_atomic_restore_all_or_nothing(kernel):
    kernel.apply([(Service(protocol="tcp", address="10.0.0.2", port=80), [])])
    before = kernel.table()
    bad = RULES + "-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.9:80\n"  # line 7: exists already
    status, out, err = run(["-R", "--atomic"], bad)
    assert status == 1
    assert err.splitlines()[-1] == ("ipvsadm: line 7 failed, nothing restored "
                                    "(the table is as it was): -A -t 10.0.0.1:80 -s rr")
    assert kernel.table() == before
    status, out, err = run(["-R", "--atomic"], "-A -u 10.0.0.1:53 -s wlc\n\n-A -f 5 -s sh\n")
    assert (status, err) == (0, "")
    assert len(kernel.table()) == 3  # 10.0.0.2:80 and the two services left


def test_json_listings(kernel):
    run(["--apply"], RULES)
    status, out, err = run(["-L", "-n", "--json"])
    assert status == 0 and err == ""
    doc = json.loads(out)
    validate_document(doc, "service")
    assert out.count("\n") == 1
    assert [s.get("fwmark", s.get("port")) for s in doc] == [80, 53, 5]
    status, pretty, _ = run(["-L", "-j", "-p", "--stats"])
    assert json.loads(pretty)[0]["stats"]["conns"] == 0
    status, out, _ = run(["-L", "--timeout", "--json"])
    assert json.loads(out) == [{"tcp": 900, "tcp_fin": 120, "udp": 300}]
    status, out, _ = run(["-L", "--daemon", "--json"])
    assert json.loads(out) == []
    status, out, _ = run(["-L", "-t", "10.0.0.1:80", "--json"])
    assert [s["port"] for s in json.loads(out)] == [80]
    status, out, err = run(["-A", "-t", "1.2.3.4:80", "--json"])
    assert status == 2 and err.startswith("--json goes with listings")


HOLD = """
import os, sys, time
from ipvs._writelock import WriterLock
lock = WriterLock(os.stat("/proc/self/ns/net").st_ino, lock_dir=sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def holding(seconds):
    p = subprocess.Popen([sys.executable, "-c", HOLD, LOCK_DIR, str(seconds)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "held\n"
    return p


def test_a_writer_waits_for_or_is_refused_the_lock_another_holds(kernel):
    p = holding(30)
    try:
        rc, out, err = run(["--apply"], RULES)
        assert (rc, out) == (3, "")
        assert err == "ipvsadm: another ipvsadm (pid %d) is changing the table\n" % p.pid
        assert not kernel.svcs  # nothing was read or changed
        rc, out, err = run(["-R", "--atomic", "--wait=0.2"], RULES)
        assert (rc, err) == (3, "ipvsadm: another ipvsadm (pid %d) is changing the table\n"
                             % p.pid)
        assert run(["--apply", "--dry-run"], RULES)[0] == 0  # a dry run writes nothing
    finally:
        p.kill()
        p.wait()
    q = holding(0.5)
    try:
        assert run(["--apply", "--wait"], RULES) == (0, "", "")
        assert kernel.svcs
    finally:
        q.kill()
        q.wait()


@pytest.mark.parametrize("args, message", [
    (["-Ln", "--wait"], "--wait goes with --apply, -R --atomic, --drain and --recover"),
    (["-R", "--wait=5"], "--wait goes with --apply, -R --atomic, --drain and --recover"),
    (["--apply", "--wait=-1"], "--wait takes a number of seconds (at most 86400)"),
    (["--apply", "--wait=x"], "--wait takes a number of seconds (at most 86400)"),
    (["--apply", "--wait=1e10"], "--wait takes a number of seconds (at most 86400)"),
])
def test_wait_is_checked(kernel, args, message):
    assert run(args, RULES) == (2, "", message + "\n")


def test_a_change_by_another_writer_during_the_apply_is_reported(kernel, monkeypatch):
    """The apply itself succeeds; a writer that takes no lock adds a
    service meanwhile: the table read after it differs, and the command
    says so (exit 4) with what would make it the rules'."""
    real_apply = FakeClient.apply

    def apply_and_another_writer(self, target, **kw):
        ops = real_apply(self, target, **kw)
        self.add_service(Service(protocol=6, address="10.99.0.1", port=80, scheduler="wlc"))
        return ops

    monkeypatch.setattr(FakeClient, "apply", apply_and_another_writer)
    rc, out, err = run(["--apply"], RULES)
    assert (rc, out) == (4, "")
    assert err == ("ipvsadm: another writer changed the table during the apply; to make it "
                   "the rules': ipvsadm -D -t 10.99.0.1:80\n")
