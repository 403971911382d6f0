"""SIGKILL in the middle of -R --atomic and --apply on the real kernel (no
process can hold it): the journal the run leaves beside the writers' lock
makes the next writer refuse (exit 5) and --status say so; --recover puts
the old table back; then the same restore, retried, succeeds. A journal
whose pid now names another process is a killed run's all the same.
Kernel-independent (files, signals, the undo's rules): one kernel's boot."""
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

from cli_harness import VENV_BIN, _env

pytestmark = [pytest.mark.skipif(os.environ.get("IPVS_IN_VM") != "1",
                                 reason="needs the IPVS kernel"),
              pytest.mark.one_kernel]
OURS = os.path.join(VENV_BIN, "ipvsadm")
REF = "/usr/sbin/ipvsadm"


JOURNALS = "/run/ipvsadm"


@pytest.fixture(autouse=True)
def no_journal():
    """No journal of another test's killed run before or after."""
    def clear():
        for name in os.listdir(JOURNALS) if os.path.isdir(JOURNALS) else ():
            if name.endswith(".journal"):
                os.unlink(os.path.join(JOURNALS, name))
    clear()
    yield
    clear()


def rules(n_svc, n_dest, base=1, weight=1):
    lines = []
    for i in range(n_svc):
        v = "10.%d.%d.1:80" % (base, i)
        lines.append("-A -t %s -s rr" % v)
        lines += ["-a -t %s -r 192.168.%d.%d:80 -m -w %d" % (v, i % 250, j + 1, weight)
                  for j in range(n_dest)]
    return lines


def table():
    out = subprocess.run([REF, "-Sn"], capture_output=True, text=True).stdout
    return set(l for l in out.splitlines() if l)


def ours(args, lines=None, **kw):
    data = ("\n".join(lines) + "\n").encode() if lines is not None else b""
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        return subprocess.Popen([OURS] + args, stdin=f, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_env(), **kw)


def done(p, timeout=300):
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out.decode(), err.decode()


def killed_at(args, lines, before, changed):
    """Start `args`, SIGKILL it once at least `changed` rules differ from
    `before` (polled with the reference); the rules then in the kernel."""
    p = ours(args, lines)
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:
        if len(table() ^ before) >= changed:
            break
        time.sleep(0.01)
    p.kill()
    p.wait()
    assert p.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return table()


@pytest.mark.parametrize("args, changed", [(["-R", "--atomic"], 100), (["--apply"], 1)])
def test_sigkill_then_the_next_writer_refuses_and_recover_puts_it_back(client, args, changed):
    start = rules(20, 4, base=1)
    p = ours(["-R"], start)
    assert done(p)[0] == 0
    before = table()
    # -R --atomic adds 300 rules next to the start; --apply makes the table them
    target = rules(60, 4, base=2)
    final = before | set(target) if "-R" in args else set(target)
    middle = killed_at(args, target, before, changed)
    assert middle != before and middle != final
    status, out, err = done(ours(args, target))
    assert status == 5 and out == "", err
    assert err.startswith("ipvsadm: an earlier ipvsadm %s (pid " % " ".join(args)), err
    assert err.endswith("; the table holds its changes: ipvsadm --recover undoes them, "
                        "ipvsadm --recover=forget keeps them\n"), err
    assert table() == middle  # refused before any change
    status, out, err = done(ours(["--status"]))
    assert status == 0 and "\nKilled run: ipvsadm %s (pid " % " ".join(args) in out
    status, out, err = done(ours(["--status", "--json"]))
    assert json.loads(out)[0]["killed_run"]["command"] == " ".join(args)
    status, out, err = done(ours(["--recover"]))
    assert (status, err) == (0, "") and out.endswith("; the table is as it was\n"), (out, err)
    assert table() == before
    assert done(ours(["--recover"]))[1] == "ipvsadm: no killed run's journal: nothing to recover\n"
    assert done(ours(["--status"]))[1].count("Killed run") == 0
    # the same restore (or apply), retried, now succeeds
    status, out, err = done(ours(args, target))
    assert (status, err) == (0, "")
    assert table() == final


def test_forget_keeps_what_the_killed_run_left(client):
    before = table()
    target = rules(120, 4, base=3)
    middle = killed_at(["-R", "--atomic"], target, before, 200)
    status, out, err = done(ours(["--recover=forget"]))
    assert (status, err) == (0, "") and out.endswith("is dropped; the table stays as it is\n")
    assert table() == middle
    # what it left is the operator's now: -C, or an --apply of what they want
    assert done(ours(["--apply"], target))[0] == 0
    assert table() == set(target)


def test_a_journal_whose_pid_is_another_process_is_a_killed_runs(client):
    """A pid reused by a live process (here: 1, init) with another start
    time: the journal's run is dead all the same."""
    os.makedirs(JOURNALS, exist_ok=True)
    inode = os.stat("/proc/self/ns/net").st_ino
    path = os.path.join(JOURNALS, "net-%d.journal" % inode)
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot = f.read().strip()
    svc = {"Service": {"af": 2, "protocol": 6, "address": "10.9.0.1", "port": 80}}
    subprocess.run([REF, "-A", "-t", "10.9.0.1:80"], check=True)
    lines = [{"ipvsadm-journal": 1, "pid": 1, "start": "1", "boot": boot, "time": 0,
              "command": "--apply", "total": 1},
             {"n": 1, "op": ["add_service", svc], "before": None}]
    with open(path, "w") as f:
        f.write("".join(json.dumps(l) + "\n" for l in lines))
    os.chmod(path, 0o600)
    status, out, err = done(ours(["--apply"], ["-A -t 10.9.0.2:80 -s rr"]))
    # (its one operation was the last: in doubt, settled by reading)
    assert status == 5 and "(pid 1) was killed after 0 of 1 operations" in err, err
    status, out, err = done(ours(["--recover"]))
    assert status == 0, err
    assert "-A -t 10.9.0.1:80 -s wlc" not in table()
    assert not os.path.exists(path)
