"""The writers' lock on the real kernel: two --apply runs of different
files at once end with one file's table, never the union of both; a held
lock refuses -R --atomic and --apply (exit 3, the holder named) or makes
them wait (--wait); plain -R and ipvsadm 1.31's commands take no lock."""
import os
import subprocess
import sys
import tempfile
import time

import pytest

from cli_harness import VENV_BIN

pytestmark = [pytest.mark.skipif(os.environ.get("IPVS_IN_VM") != "1",
                                 reason="needs the IPVS kernel"),
              pytest.mark.one_kernel]  # flock and process handling: no kernel's version in it
OURS = os.path.join(VENV_BIN, "ipvsadm")
REF = "/usr/sbin/ipvsadm"

HOLD = """
import sys, time
import ipvs
with ipvs.Client() as c:
    lock = c.writer_lock()
    print("held", flush=True)
    time.sleep(float(sys.argv[1]))
    lock.release()
"""


def rules_file(tmp, name, vip_net, n_services, n_dests):
    lines = []
    for i in range(n_services):
        vip = "10.%d.%d.%d:80" % (vip_net, i // 250, i % 250 + 1)
        lines.append("-A -t %s -s rr" % vip)
        lines += ["-a -t %s -r 192.168.%d.%d:80 -m -w 1" % (vip, j, i % 250 + 1)
                  for j in range(n_dests)]
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path, lines


def sn():
    return subprocess.run([REF, "-Sn"], capture_output=True, text=True, check=True).stdout


def vips(text):
    return {line.split()[2] for line in text.splitlines() if line.startswith("-A")}


def holder(seconds):
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(seconds)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "held\n"
    return p


def at_once(runs):
    """Start every run, (arguments, file for its standard input or None),
    at the same moment; their (status, stdout, stderr)."""
    inputs = [open(src) if src else subprocess.DEVNULL for _, src in runs]
    procs = [subprocess.Popen([OURS] + args, stdin=f, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for (args, _), f in zip(runs, inputs)]
    results = [(p.wait(180), p.stdout.read(), p.stderr.read()) for p in procs]
    for f in inputs:
        if f is not subprocess.DEVNULL:
            f.close()
    return results


def test_two_applies_at_once_end_with_one_files_table(client):
    with tempfile.TemporaryDirectory() as tmp:
        a, a_lines = rules_file(tmp, "a", 1, 300, 2)
        b, b_lines = rules_file(tmp, "b", 2, 300, 2)
        want_a, want_b = vips("\n".join(a_lines)), vips("\n".join(b_lines))
        for wait in (["--wait=120"], []):
            client.flush()
            results = at_once([(["--apply", f] + wait, None) for f in (a, b)])
            got = vips(sn())
            assert got in (want_a, want_b), (wait, len(got & want_a), len(got & want_b))
            if wait:  # serialised: both ran, the second made the table its file's
                assert [r[0] for r in results] == [0, 0], results
            else:  # the one that found the lock held was refused, or they did not overlap
                for rc, out, err in results:
                    assert rc in (0, 3), (rc, err)
                    if rc == 3:
                        assert "is changing the table" in err and out == ""


def test_an_apply_and_an_atomic_restore_at_once_are_one_after_the_other(client):
    """--apply of file A and -R --atomic of file R started together: with
    --wait one runs after the other (the table is A, or A and R's lines);
    without, the one that finds the lock held is refused. Never a mix."""
    with tempfile.TemporaryDirectory() as tmp:
        a, a_lines = rules_file(tmp, "a", 1, 300, 2)
        r, r_lines = rules_file(tmp, "r", 2, 300, 2)
        want_a, want_r = vips("\n".join(a_lines)), vips("\n".join(r_lines))
        for wait in (["--wait=120"], []):
            client.flush()
            results = at_once([(["--apply", a] + wait, None), (["-R", "--atomic"] + wait, r)])
            got = vips(sn())
            assert got in (want_a, want_a | want_r, want_r), (wait, results)
            for rc, out, err in results:
                assert rc in ((0,) if wait else (0, 3)), (wait, rc, err)
            if wait:
                assert got in (want_a, want_a | want_r)


def test_a_held_lock_refuses_or_delays_our_writers_only(client):
    with tempfile.TemporaryDirectory() as tmp:
        a, a_lines = rules_file(tmp, "a", 1, 5, 1)
        p = holder(60)
        try:
            for args in (["--apply", a], ["-R", "--atomic"], ["--apply", a, "--wait=1"]):
                r = subprocess.run([OURS] + args, stdin=open(a), capture_output=True, text=True,
                                   timeout=60)
                assert (r.returncode, r.stdout) == (3, ""), (args, r)
                assert r.stderr == "ipvsadm: another ipvsadm (pid %d) is changing the " \
                    "table\n" % p.pid
                assert sn() == ""  # nothing read-modify-written
            # plain -R and 1.31's commands take no lock
            r = subprocess.run([OURS, "-R"], stdin=open(a), capture_output=True, text=True,
                               timeout=60)
            assert (r.returncode, r.stderr) == (0, "")
            assert vips(sn()) == vips("\n".join(a_lines))
            r = subprocess.run([OURS, "-A", "-t", "10.9.9.9:80"], capture_output=True, text=True,
                               timeout=60)
            assert (r.returncode, r.stderr) == (0, "")
        finally:
            p.kill()
            p.wait()
        client.flush()
        p = holder(2)
        try:
            r = subprocess.run([OURS, "--apply", a, "--wait"], capture_output=True, text=True,
                               timeout=120)
            assert (r.returncode, r.stderr) == (0, "")
            assert vips(sn()) == vips("\n".join(a_lines))
        finally:
            p.kill()
            p.wait()


def test_another_writer_during_an_apply_is_reported_after_it(client):
    """A writer that takes no lock (the reference ipvsadm, as keepalived or
    a person would) adds a service while a 300-service --apply runs (once
    the apply's first service is in the kernel: after its plan was read):
    the apply makes all its changes, then reads the table and reports the
    service it did not ask for (exit 4)."""
    with tempfile.TemporaryDirectory() as tmp:
        a, a_lines = rules_file(tmp, "a", 1, 300, 2)
        p = subprocess.Popen([OURS, "--apply", a], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        first = a_lines[0].split()[2]
        deadline = time.monotonic() + 120
        while first not in sn() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.poll() is None, "the apply ended before another writer could act"
        subprocess.run([REF, "-A", "-t", "10.99.0.1:80"], check=True)
        rc = p.wait(300)
        out, err = p.stdout.read(), p.stderr.read()
        assert (rc, out) == (4, ""), err
        assert err == "ipvsadm: another writer changed the table during the apply; to make " \
            "it the rules': ipvsadm -D -t 10.99.0.1:80\n"
        assert vips(sn()) == vips("\n".join(a_lines)) | {"10.99.0.1:80"}
