"""The undo of --apply and -R --atomic on the real kernel: it puts back
what each operation replaced (another writer's values survive it), and
it is linear in the table (1000 real servers of one service undone within
twice the apply's time plus 10 s, measured in the same boot)."""
import io
import os
import subprocess
import tempfile
import time

import pytest

import ipvs
from ipvs.cli import main

from cli_harness import VENV_BIN, _env

pytestmark = pytest.mark.skipif(os.environ.get("IPVS_IN_VM") != "1",
                                reason="needs the IPVS kernel")
OURS = os.path.join(VENV_BIN, "ipvsadm")
REF = "/usr/sbin/ipvsadm"


def sn():
    return subprocess.run([REF, "-Sn"], capture_output=True, text=True).stdout


def weights(client, svc):
    return {d.address: d.weight for d in client.destinations(svc)}


def _servers(n, weight, net=20):
    return ["192.168.%d.%d" % (net + i // 250, i % 250 + 1) for i in range(n)], weight


def test_another_writers_weights_survive_the_undo_of_a_failed_apply(client, monkeypatch):
    """Service B has 300 real servers at weight 100; the rules add a service
    N with 20, set B's to 50, and fail at their last line (C's scheduler
    does not exist). Another writer (its own socket), while N is added:
    sets B's first 150 to 0 (as a health checker does). Right after our
    edits of B, it sets B's last 150 to 7. The undo puts back the writer's
    0 where ours stood, and leaves its 7 (naming them)."""
    from ipvs import _journal
    addrs, _ = _servers(300, 100)
    start = ["-A -t 10.1.0.2:80 -s rr"] + \
        ["-a -t 10.1.0.2:80 -r %s:80 -m -w 100" % a for a in addrs] + \
        ["-A -t 10.1.0.3:80 -s rr"]
    assert main(["ipvsadm", "-R"], io.StringIO(), io.StringIO(),
                io.StringIO("\n".join(start) + "\n")) == 0
    rules = ["-A -t 10.1.0.1:80 -s rr"] + \
        ["-a -t 10.1.0.1:80 -r 192.168.9.%d:80 -m -w 1" % (i + 1) for i in range(20)] + \
        ["-A -t 10.1.0.2:80 -s rr"] + \
        ["-a -t 10.1.0.2:80 -r %s:80 -m -w 50" % a for a in addrs] + \
        ["-A -t 10.1.0.3:80 -s nosuchsched"]
    B = ipvs.Service(protocol="tcp", address="10.1.0.2", port=80)
    other = ipvs.Client()
    real_run = _journal.Journal.run
    count = {"n": 0}

    def run(self, op, before=_journal._READ):
        count["n"] += 1
        if count["n"] == 5:  # while N is being added
            other.batch(("edit_destination", B, d.replace(weight=0))
                        for d in other.destinations(B) if d.address in addrs[:150])
        if op[0] == "edit_service":  # C's, the failing last one: B is done
            other.batch(("edit_destination", B, d.replace(weight=7))
                        for d in other.destinations(B) if d.address in addrs[150:])
        return real_run(self, op, before)
    monkeypatch.setattr(_journal.Journal, "run", run)
    out, err = io.StringIO(), io.StringIO()
    status = main(["ipvsadm", "--apply"], out, err, io.StringIO("\n".join(rules) + "\n"))
    monkeypatch.setattr(_journal.Journal, "run", real_run)
    other.close()
    e = err.getvalue()
    assert status == 1 and "Traceback" not in e, e
    lines = e.splitlines()
    assert lines[-1].endswith("COULD NOT RESTORE THE TABLE"), lines[-1]
    put_back = [l for l in lines if l.startswith("ipvsadm: could not put back: ")]
    assert len(put_back) == 150 and all("changed by another writer" in l for l in put_back)
    w = weights(client, B)
    assert [w[a] for a in addrs[:150]] == [0] * 150  # the writer's, put back
    assert [w[a] for a in addrs[150:]] == [7] * 150  # the writer's, left alone
    assert "10.1.0.1:80" not in sn()


def test_writer_before_our_edits_then_a_failure_says_the_table_is_as_it_was(client, monkeypatch):
    """The same, with the writer acting only before our edits: every value
    is back (the writer's 0), and the message says the table is as it was,
    which is then true."""
    from ipvs import _journal
    addrs, _ = _servers(300, 100)
    start = ["-A -t 10.1.0.2:80 -s rr"] + \
        ["-a -t 10.1.0.2:80 -r %s:80 -m -w 100" % a for a in addrs] + ["-A -t 10.1.0.3:80"]
    main(["ipvsadm", "-R"], io.StringIO(), io.StringIO(), io.StringIO("\n".join(start) + "\n"))
    rules = ["-A -t 10.1.0.1:80 -s rr", "-a -t 10.1.0.1:80 -r 192.168.9.1:80 -m -w 1",
             "-A -t 10.1.0.2:80 -s rr"] + \
        ["-a -t 10.1.0.2:80 -r %s:80 -m -w 50" % a for a in addrs] + \
        ["-A -t 10.1.0.3:80 -s nosuchsched"]
    B = ipvs.Service(protocol="tcp", address="10.1.0.2", port=80)
    other = ipvs.Client()
    real_run = _journal.Journal.run
    count = {"n": 0}

    def run(self, op, before=_journal._READ):
        count["n"] += 1
        if count["n"] == 2:
            other.batch(("edit_destination", B, d.replace(weight=0))
                        for d in other.destinations(B))
        return real_run(self, op, before)
    monkeypatch.setattr(_journal.Journal, "run", run)
    err = io.StringIO()
    status = main(["ipvsadm", "--apply"], io.StringIO(), err,
                  io.StringIO("\n".join(rules) + "\n"))
    monkeypatch.setattr(_journal.Journal, "run", real_run)
    other.close()
    assert status == 1
    assert err.getvalue() == ("ipvsadm: ipvsadm -E -t 10.1.0.3:80 -s nosuchsched: Scheduler "
                              "or persistence engine not found; the table is as it was\n")
    assert set(weights(client, B).values()) == {0}
    assert "10.1.0.1:80" not in sn()


def _timed(args, text):
    with tempfile.TemporaryFile() as f:
        f.write(text.encode())
        f.seek(0)
        t = time.monotonic()
        p = subprocess.run([OURS] + args, stdin=f, capture_output=True, text=True,
                           env=_env(), timeout=900)
        return time.monotonic() - t, p.returncode, p.stderr


@pytest.mark.one_kernel  # the undo's order and reads are ours; the kernel's ops, test_client's
@pytest.mark.parametrize("mode", ["atomic"])  # (--apply undoes through the same journal)
def test_undo_of_1000_real_servers_is_linear(client, mode):
    """One service with 1000 real servers: the run that succeeds, then the
    same with a failing last line (a second service whose scheduler does
    not exist), whose time is the same apply plus its undo. The undo takes
    at most twice the apply plus 10 s, room for the host's load to change
    between the two runs; an undo that re-reads the whole service for
    every step it undoes is quadratic (at 2000 real servers: 170 s where
    the apply took 6)."""
    args = ["-R", "--atomic"] if mode == "atomic" else ["--apply"]
    addrs = ["10.%d.%d.%d" % (100 + i // 62500, i // 250 % 250, i % 250 + 1)
             for i in range(1000)]
    good = ["-A -t 10.2.0.1:80 -s rr"] + \
        ["-a -t 10.2.0.1:80 -r %s:80 -m -w 1" % a for a in addrs]
    bad = good + ["-A -t 10.2.0.2:80 -s nosuchsched"]
    applied, rc, err = _timed(args, "\n".join(good) + "\n")
    assert rc == 0, err
    client.flush()
    failed, rc, err = _timed(args, "\n".join(bad) + "\n")
    assert rc == 1 and "the table is as it was" in err, err
    assert sn() == ""
    undo = failed - applied
    print("%s: apply %.1f s, apply and undo %.1f s, undo %.1f s (kernel %s)"
          % (mode, applied, failed, undo, os.environ.get("IPVS_KERNEL")))
    assert undo <= 2 * applied + 10, (applied, failed)
