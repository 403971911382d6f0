"""Our ipvsadm against the reference ipvsadm 1.31, side by side in one VM run.

Run inside the VM (benchmarks/vs_reference wraps it with scripts/vm). For
each workload both tools run on the same kernel and the same table, their
outputs are compared (they must be identical, the connection expiry column
aside) and the wall-clock times are reported as ratios ours/reference:
emulation inflates absolute times, and the machines are shared.

    python benchmarks/vs_reference.py [--services 5000] [--dests 4] [--conns 100000]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fill  # noqa: E402

REF = "/usr/sbin/ipvsadm"
OURS = os.path.join(os.environ.get("IPVS_VENV", ".venv"), "bin", "ipvsadm")
# the interpreter ours runs on, for the floors (`python -c pass`, raw reads)
PY = os.path.join(os.path.dirname(OURS), "python")


def run(argv, stdin=None, env=None):
    """(seconds, stdout) of one run; stops the benchmark on a non-zero exit."""
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.perf_counter()
    p = subprocess.run(argv, input=stdin.encode() if stdin is not None else None,
                       stdin=None if stdin is not None else subprocess.DEVNULL,
                       capture_output=True, env=e)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (" ".join(argv), p.returncode,
                                                 p.stderr.decode()[:500]))
    return dt, p.stdout.decode()


def interleaved_rounds(cmds, repeat, seen):
    """{name: [seconds of each round]} of cmds [(name, argv, env)] run in
    interleaved rounds (each round runs every command once, so all meet the
    same moments of a shared machine); seen(name, stdout) after each run,
    whose output is let go before the next run starts."""
    times = {name: [] for name, _, _ in cmds}
    for _ in range(repeat):
        for name, argv, env in cmds:
            dt, out = run(argv, env=env)
            times[name].append(dt)
            seen(name, out)
            del out
    return times


def timed(argv, repeat, **kw):
    times, out = [], None
    for _ in range(repeat):
        dt, o = run(argv, **kw)
        times.append(dt)
        out = o
    return statistics.median(times), min(times), out


def peak_rss_kib(argv, env=None, stdin=None):
    """Peak resident memory of one run (children's ru_maxrss, measured by a
    fresh Python so earlier children do not count); stdin: the run's input."""
    code = ("import resource, subprocess, sys\n"
            "subprocess.run(sys.argv[1:], input=sys.stdin.buffer.read(),\n"
            "               stdout=subprocess.DEVNULL, check=True)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    e = dict(os.environ)
    e.update(env or {})
    return int(subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                              input=(stdin or "").encode(), check=True, env=e).stdout)


def flush():
    subprocess.run([REF, "-C"], check=True)


def strip_expiry(text):
    """-Lnc output without the expiry column (it ticks between the runs)."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 3 and f[0] in ("TCP", "UDP", "SCTP", "IP"):
            del f[1]
        out.append(" ".join(f))
    return sorted(out)


def restore_floor(rules):
    """Seconds the kernel (and the system calls) take for the rules alone:
    the same requests encoded before the clock starts, sent by one
    Client.batch. No ipvsadm, ours or the reference, can restore faster."""
    from ipvs import Client
    from ipvs._requests import encode_operation
    from ipvs import FastRestore
    fast = FastRestore().operation
    ops = [encode_operation(fast(line)) for line in rules.splitlines()]
    assert all(ops), "benchmark rules outside the fast path"
    flush()
    with Client() as c:
        t0 = time.perf_counter()
        results = c.batch(ops)
        dt = time.perf_counter() - t0
    assert not any(results), "the kernel refused a rule"
    return dt


def per_service_dump_floor():
    """Seconds for one GET_DEST dump per service through one socket (the
    records decoded, nothing rendered): the least a per-service listing
    costs, against which the proc file read is the alternative."""
    from ipvs import Client
    with Client() as c:
        services = c.services()
        t0 = time.perf_counter()
        for s in services:
            c.destination_records(s)
        return time.perf_counter() - t0


def startup():
    """Median seconds of `python -c pass` and of our `ipvsadm -h`."""
    py = timed([PY, "-c", "pass"], 3)[0]
    h = timed([OURS, "-h"], 3)[0]
    return py, h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=5000)
    ap.add_argument("--dests", type=int, default=4)
    ap.add_argument("--conns", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    res = {"services": a.services, "dests": a.dests, "conns": a.conns}
    rules = fill.rules(a.services, a.dests)
    nrules = rules.count("\n")

    # -R: the same rule file through both tools, then the table compared
    flush()
    t_ref, _ = run([REF, "-R"], stdin=rules)
    saved_ref = run([REF, "-Sn"])[1]
    flush()
    t_ours, _ = run([OURS, "-R"], stdin=rules)
    saved_ours = run([REF, "-Sn"])[1]
    assert saved_ref == saved_ours, "tables differ after -R"
    t_floor = restore_floor(rules)
    res["restore"] = {"rules": nrules, "ref_s": t_ref, "ours_s": t_ours, "ratio": t_ours / t_ref,
                      "kernel_floor_s": t_floor, "floor_ratio": t_floor / t_ref}
    print("-R   %d rules: reference %.2f s, ours %.2f s, ratio %.3f; the kernel alone %.2f s "
          "(%.3f of the reference)" % (nrules, t_ref, t_ours, t_ours / t_ref, t_floor,
                                       t_floor / t_ref), flush=True)
    flush()
    run([REF, "-R"], stdin=rules)

    # -Ln on that table
    m_ref, _, out_ref = timed([REF, "-Ln"], a.repeat)
    m_ours, _, out_ours = timed([OURS, "-Ln"], a.repeat)
    m_py, _, out_py = timed([OURS, "-Ln"], a.repeat, env={"IPVS_PUREPYTHON": "1"})
    assert out_ref == out_ours == out_py, "-Ln outputs differ"
    t_dumps = per_service_dump_floor()
    t_py, t_h = startup()
    res["list"] = {"ref_s": m_ref, "ours_s": m_ours, "ours_python_s": m_py,
                   "ratio": m_ours / m_ref, "ratio_python": m_py / m_ref,
                   "per_service_dumps_s": t_dumps, "python_pass_s": t_py, "ours_h_s": t_h}
    print("-Ln  %dx%d: reference %.2f s, ours %.2f s (ratio %.3f), pure Python %.2f s "
          "(ratio %.3f)" % (a.services, a.dests, m_ref, m_ours, m_ours / m_ref, m_py,
                            m_py / m_ref), flush=True)
    print("     one GET_DEST dump per service alone: %.2f s; start-up: python -c pass %.2f s, "
          "our ipvsadm -h %.2f s" % (t_dumps, t_py, t_h), flush=True)
    flush()

    # -Lnc on a connection table filled through the sync protocol
    if a.conns:
        n = fill.fill_connections(a.conns)
        res["conns_in_kernel"] = n
        t_ref, c_ref = run([REF, "-Lnc"])
        t_ours, c_ours = run([OURS, "-Lnc"])
        same = strip_expiry(c_ref) == strip_expiry(c_ours)
        rss = peak_rss_kib([OURS, "-Lnc"])
        res["conns"] = {"ref_s": t_ref, "ours_s": t_ours, "ratio": t_ours / t_ref,
                        "identical_but_expiry": same, "ours_peak_rss_kib": rss}
        print("-Lnc %d connections: reference %.2f s, ours %.2f s, ratio %.3f; outputs %s; "
              "our peak RSS %.1f MiB" % (n, t_ref, t_ours, t_ours / t_ref,
                                         "identical" if same else "DIFFER", rss / 1024),
              flush=True)
        assert same, "-Lnc outputs differ"
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
