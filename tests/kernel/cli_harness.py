# Shared helpers of the CLI kernel tests: run a command line through the
# reference ipvsadm (a subprocess) and through ours (in-process, or the
# installed console script), and reset the kernel state between cases.
from __future__ import annotations

import collections
import io
import os
import shlex
import subprocess
import sys

from ipvs.cli import main

REFERENCE = "ipvsadm"  # found through PATH, so its argv[0] is "ipvsadm"
VENV_BIN = os.path.join(os.environ.get("IPVS_VENV", os.path.join(
    os.path.dirname(__file__), "..", "..", ".venv")), "bin")


def _text(b):
    return b.decode("utf-8", "surrogateescape")


def run_reference(args, stdin=None):
    p = subprocess.run([REFERENCE] + list(args), input=(stdin or "").encode(),
                       capture_output=True, timeout=60, env=_env())
    return p.returncode, _text(p.stdout), _text(p.stderr)


def run_ours(args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    rc = main(["ipvsadm"] + list(args), out, err, io.StringIO(stdin or ""))
    return rc, out.getvalue(), err.getvalue()


def run_script(name, args, stdin=None):
    """Our installed console script, run as a program (argv[0] its path)."""
    p = subprocess.run([os.path.join(VENV_BIN, name)] + list(args),
                       input=(stdin or "").encode(), capture_output=True, timeout=60,
                       env=_env())
    return p.returncode, _text(p.stdout), _text(p.stderr)


def _env():
    env = dict(os.environ)
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    return env


def run_reference_batch(commands):
    """Many reference runs in one shell (a Python fork per command is slow
    under emulation): [(args, stdin)] -> [(status, stdout, stderr)]."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        lines = []
        for i, (args, stdin) in enumerate(commands):
            with open(os.path.join(d, "%d.in" % i), "w") as f:
                f.write(stdin or "")
            lines.append("%s %s <%s/%d.in >%s/%d.out 2>%s/%d.err; echo $? >%s/%d.rc" % (
                REFERENCE, " ".join(shlex.quote(a) for a in args), d, i, d, i, d, i, d, i))
        # the script as a file: one `sh -c` argument may not exceed
        # MAX_ARG_STRLEN (128 KiB), and hostile command lines are long
        script = os.path.join(d, "run.sh")
        with open(script, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("\n".join(lines) + "\n")
        subprocess.run(["sh", script], timeout=600, env=_env(),
                       stdin=subprocess.DEVNULL, capture_output=True)
        out = []
        for i in range(len(commands)):
            def read(ext):
                with open(os.path.join(d, "%d.%s" % (i, ext)), "rb") as f:
                    return f.read()
            out.append((int(read("rc")), _text(read("out")), _text(read("err"))))
        return out


def reset():
    """Empty table, no daemons, default timeouts: the starting state."""
    run_reference_batch([(["-C"], None), (["--stop-daemon", "master"], None),
                         (["--stop-daemon", "backup"], None),
                         (["--set", "900", "120", "300"], None)])


def snapshot():
    """The table as the reference tool saves and lists it."""
    return tuple(run_reference_batch([
        (["-Sn"], None), (["-Ln", "--tun-info"], None), (["-Ln", "--thresholds"], None),
        (["-L", "--daemon"], None), (["-L", "--timeout"], None)]))


_RESOLV_DONE = []


def fast_failing_dns():
    """Inside the VM the host's name server is unreachable, so every reverse
    lookup of an address missing from /etc/hosts waits for a time-out (in
    the reference and in ours alike). Point the resolver at a closed local
    port instead: lookups then fail at once, and names still come from
    /etc/hosts and /etc/services. /etc is a throw-away overlay in the VM."""
    if _RESOLV_DONE or os.environ.get("IPVS_IN_VM") != "1":
        return
    try:
        with open("/etc/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    except OSError:
        pass
    _RESOLV_DONE.append(True)


def split(cmd):
    """'args <<< stdin' -> (argv list, stdin text or None)."""
    stdin = None
    if " <<< " in cmd:
        cmd, stdin = cmd.split(" <<< ", 1)
        stdin = stdin.encode().decode("unicode_escape")
    return shlex.split(cmd), stdin


TIMINGS = []
Beside = collections.namedtuple("Beside", "ours reference")


def run_sequence(runner, commands, beside=None):
    """Reset, run each command, snapshot. -> ([(cmd, result)], snapshot)
    For a command that beside(cmd) selects, the result is the pair (ours,
    the reference's run right after it on the same table)."""
    import time
    reset()
    results = []
    if runner is run_reference:
        t = time.monotonic()
        got = run_reference_batch([split(c) for c in commands])
        TIMINGS.append((time.monotonic() - t, "reference batch", commands[0]))
        return list(zip(commands, got)), snapshot()
    for cmd in commands:
        args, stdin = split(cmd)
        t = time.monotonic()
        result = runner(args, stdin)
        if beside is not None and beside(cmd):
            result = Beside(result, run_reference(args, stdin))
        results.append((cmd, result))
        TIMINGS.append((time.monotonic() - t, runner.__name__, cmd))
    return results, snapshot()


def write_timings(path):
    with open(path, "w") as f:
        for t, who, cmd in sorted(TIMINGS, reverse=True):
            f.write("%.3f %s %s\n" % (t, who, cmd))
        f.write("total %.1f\n" % sum(t for t, _, _ in TIMINGS))


def without_saved_thresholds(result):
    """Our -S output with the -x/-y that ipvsadm 1.31 leaves out removed
    (a deliberate difference, asserted on its own)."""
    import re
    rc, out, err = result
    return rc, re.sub(r"( -x \d+)?( -y \d+)?$", "", out, flags=re.M), err


def kernel_ordered(cmd):
    """A listing printed in the kernel's dump order (--nosort)."""
    return "--nosort" in cmd


def compare_sequence(commands):
    """Differences between the reference and ours over one sequence, as a
    list of readable strings (empty when byte-identical).

    A --nosort listing prints the kernel's dump order, which on kernels
    with per-namespace resizable hash tables (7.x) is not a function of the
    table's content: the same rules, built twice by the reference itself,
    dump in two orders (the hash is seeded when a table is made or resized).
    So the reference lists that command on the table ours built, at the
    same point of the sequence: same table, same dump, one order."""
    ref, ref_state = run_sequence(run_reference, commands)
    ours, our_state = run_sequence(run_ours, commands, beside=kernel_ordered)
    diffs = []
    for (cmd, r), (_, o) in zip(ref, ours):
        if isinstance(o, Beside):
            o, r = o
        if cmd.lstrip().startswith(("-S", "--save")):
            o = without_saved_thresholds(o)
        if r != o:
            diffs.append("%s\n  reference: %r\n  ours:      %r" % (cmd, r, o))
    if ref_state != our_state:
        diffs.append("state after %r\n  reference built: %r\n  ours built:      %r"
                     % (commands, ref_state, our_state))
    return diffs


if __name__ == "__main__":  # quick manual check inside the VM
    for line in sys.stdin:
        if line.strip():
            print("\n".join(compare_sequence([line.strip()])) or "same: " + line.strip())
