"""The CLI's options beyond ipvsadm on the real kernel: --apply (from the
reference's own -Sn output), --dry-run, -R --atomic with a failing line at
a random place, --netns. Mostly in-process (main()); one real process for
--netns end to end. Checked through the reference ipvsadm."""
import io
import json
import os
import subprocess
import sys
import uuid

import pytest

from ipvs.cli import main

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from tablegen import random_table, seeded  # noqa: E402
from test_apply import rule_lines, sn_lines  # noqa: E402

ATOMIC_TRIALS = int(os.environ.get("IPVS_ATOMIC_TRIALS", "6"))


def ours(args, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    status = main(["ipvsadm"] + args, out, err, io.StringIO(stdin))
    return status, out.getvalue(), err.getvalue()


def rules_text(table):
    return "".join(line + "\n" for line in rule_lines_unsorted(table))


def rule_lines_unsorted(table):
    from ipvs._plan import Operation, operation_command
    for s, ds in table:
        yield operation_command(Operation("add_service", s))
        for d in ds:
            yield operation_command(Operation("add_destination", s, d))


@pytest.mark.one_kernel("newest")  # --apply's reading of 1.31's -S text
def test_apply_the_references_save_output(client, ref):
    rng = seeded(66)
    saved = []
    for _ in range(3):  # tables saved by the reference
        client.apply(random_table(rng))
        saved.append(ref("-S", "-n"))
    for i, text in enumerate(saved):
        client.apply(random_table(rng))  # from somewhere else
        status, out, err = ours(["--apply", "--dry-run"], text)
        assert status == 0 and err == "", err
        planned = out
        assert ours(["--apply"], text) == (0, "", ""), i
        assert ref("-S", "-n") == text, i
        assert ours(["--apply", "--dry-run"], text) == (0, "", ""), i  # nothing left to do
        # the printed plan, run as commands by the reference, does the same
        client.apply(random_table(seeded(i)))
        before = ref("-S", "-n")
        ops = ours(["--apply", "--dry-run"], text)[1]
        commands = "".join(line.split(" ", 1)[1] + "\n" for line in ops.splitlines())
        p = subprocess.run(["/usr/sbin/ipvsadm", "-R"], input=commands, text=True,
                           capture_output=True)
        assert (p.returncode, p.stderr) == (0, ""), commands
        assert ref("-S", "-n") == text, (i, before, ops)
        assert planned.startswith("ipvsadm ") or planned == ""


def test_apply_json_dry_run_and_errors(client, ref):
    client.apply(random_table(seeded(67)))
    target = random_table(seeded(68))
    status, out, err = ours(["--apply", "--dry-run", "--json"], rules_text(target))
    assert status == 0
    plan = json.loads(out)
    assert [p["command"] for p in plan] == [op.command() for op in client.plan(target)]
    before = ref("-S", "-n")
    # a rule the kernel refuses: nothing changes, the failing command is named
    bad = rules_text(target) + "-A -t 10.66.0.1:80 -s nosuchsched\n"
    status, out, err = ours(["--apply"], bad)
    assert status == 1 and out == ""
    assert err == ("ipvsadm: ipvsadm -A -t 10.66.0.1:80 -s nosuchsched: Scheduler or "
                   "persistence engine not found; the table is as it was\n")
    assert ref("-S", "-n") == before
    status, out, err = ours(["--apply"], "-A -t 10.66.0.1:80\n-L -n\n")
    assert status == 1 and err.startswith("ipvsadm: line 2: --apply takes -A and -a lines")
    assert ref("-S", "-n") == before


def _failing_line(rng, lines):
    """(a line that fails at run time after `lines`, the first index it
    may be inserted at and still be the line that fails)."""
    kind = rng.randrange(4)
    adds = [i for i, line in enumerate(lines) if line.startswith("-A ")]
    if kind == 0 and adds:
        i = rng.choice(adds)
        return lines[i], i + 1  # after the original: "Service already exists"
    if kind == 1:
        return "-a -t 10.66.6.6:80 -r 192.168.9.9:80", 0  # no such service
    if kind == 2:
        return "-A -t 10.66.0.2:80 -s nosuchsched", 0
    return "-D -u 10.66.0.3:53", 0  # no such service


@pytest.mark.one_kernel("newest")  # our undo's order (test_apply: both kernels)
def test_atomic_restore_failing_at_a_random_line(client, ref):
    rng = seeded(69)
    for trial in range(ATOMIC_TRIALS):
        client.apply(random_table(rng))
        ours(["--set", str(rng.choice((600, 900))), "120", "300"])
        before, t_before = ref("-S", "-n"), ref("-L", "--timeout")
        lines = list(rule_lines_unsorted(random_table(rng)))
        lines = ["-C", "--set 1000 100 200"] + lines
        bad, first = _failing_line(rng, lines)
        at = rng.randrange(first, len(lines) + 1)
        lines.insert(at, bad)
        status, out, err = ours(["-R", "--atomic"], "\n".join(lines) + "\n")
        assert status == 1, (trial, err)
        assert err.splitlines()[-1] == ("ipvsadm: line %d failed, nothing restored "
                                        "(the table is as it was): %s" % (at + 1, bad)), trial
        assert ref("-S", "-n") == before, trial
        assert ref("-L", "--timeout") == t_before, trial
    # and without a failing line, every line takes effect
    table = random_table(rng)
    status, out, err = ours(["-R", "--atomic"], "-C\n" + rules_text(table))
    assert (status, err) == (0, "")
    assert sn_lines(ref) == rule_lines(table)


@pytest.fixture
def two_netns(client):
    names = ["ipvs-ca-%s" % uuid.uuid4().hex[:6], "ipvs-cb-%s" % uuid.uuid4().hex[:6]]
    for n in names:
        subprocess.run("ip netns add {0} && ip -n {0} link set lo up".format(n),
                       shell=True, check=True)
    yield names
    for n in names:
        subprocess.run(["ip", "netns", "del", n])


@pytest.mark.one_kernel("newest")  # by name; test_apply's namespaces: both kernels
def test_netns_option(client, ref, two_netns):
    a, b = two_netns
    venv = os.environ.get("IPVS_VENV", sys.prefix)
    # a real process of our ipvsadm, end to end
    p = subprocess.run([os.path.join(venv, "bin", "ipvsadm"), "--netns", a, "-A", "-t",
                        "10.5.5.5:80", "-s", "rr"], capture_output=True, text=True)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert ours(["--netns", a, "-a", "-t", "10.5.5.5:80", "-r", "192.168.5.1:80", "-m"])[0] == 0

    def ref_in(ns, *args):
        return subprocess.run(["ip", "netns", "exec", ns, "/usr/sbin/ipvsadm"] + list(args),
                              capture_output=True, text=True, check=True).stdout
    assert ref_in(a, "-S", "-n") == ("-A -t 10.5.5.5:80 -s rr\n"
                                     "-a -t 10.5.5.5:80 -r 192.168.5.1:80 -m -w 1\n")
    assert ref_in(b, "-S", "-n") == "" and ref("-S", "-n") == ""
    # listings: text as the reference's in that namespace, JSON, connections
    assert ours(["--netns", a, "-L", "-n"])[1] == ref_in(a, "-L", "-n")
    assert ours(["--netns", b, "-S", "-n"]) == (0, "", "")
    doc = json.loads(ours(["--netns", a, "-L", "-n", "--json"])[1])
    assert [(s["address"], [d["address"] for d in s["destinations"]]) for s in doc] == \
        [("10.5.5.5", ["192.168.5.1"])]
    assert ours(["--netns", a, "-L", "-n", "-c"]) == (0, ref_in(a, "-L", "-n", "-c"), "")
    assert json.loads(ours(["--netns", a, "-L", "-c", "--json"])[1]) == []
    # apply and atomic restore in a namespace
    assert ours(["--netns", b, "--apply"], "-A -u 10.6.6.6:53 -s wlc\n") == (0, "", "")
    assert ref_in(b, "-S", "-n") == "-A -u 10.6.6.6:53 -s wlc\n"
    status, _, err = ours(["--netns", b, "-R", "--atomic"], "-C\n-A -u 10.6.6.6:54\n-D -t 1.1.1.1:1\n")
    assert status == 1 and ref_in(b, "-S", "-n") == "-A -u 10.6.6.6:53 -s wlc\n"
    assert ref_in(a, "-S", "-n").startswith("-A -t 10.5.5.5:80") and ref("-S", "-n") == ""
    # a namespace that does not exist
    status, out, err = ours(["--netns", "no-such-ns", "-L", "-n"])
    assert (status, out) == (1, "")
    assert err == 'ipvsadm: Cannot open network namespace "no-such-ns": No such file or directory\n'
