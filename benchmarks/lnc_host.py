"""`ipvsadm -Lnc` end to end on this machine, over snapshot files.

A host without IPVS has no /proc/net/ip_vs_conn, so each run is a fresh
interpreter that starts our ipvsadm's main() with a stand-in kernel
connection (the Info of the version line, and the snapshot as the file
Runner.open_connections() opens); everything else is the real command,
its output read through a pipe as benchmarks/vs_reference.py reads it.
Compared, in interleaved rounds (a shared host drifts): the floor (a fresh
interpreter doing large reads of the file, as conns_vs_reference.py's
RAW_READ does of the proc file), `python -c pass`, and ours with the C
decoder and with the twin, from this checkout and (with --old-src) from
another checkout's src/ (an A/B of two builds). Outputs
of all runs at a size must be identical.

A snapshot file in the page cache reads far faster than the kernel makes
/proc/net/ip_vs_conn text (in the VM, 100,000 connections take 0.58 s to
read), so the floor here is lower than the kernel's: these figures say
what our process costs above reading, not the ratio to the reference.

    python benchmarks/lnc_host.py [--conns 100000,1000000] [--rounds 5]
                                  [--old-src OTHER/src] [--json FILE]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "src")

CHILD = r"""
import sys
import ipvs._client
from ipvs._model import Info

class SnapshotClient:
    def __init__(self, **kw):
        pass
    def info(self):
        return Info(version=0x010201, conn_tab_size=4096)
    def proc_file(self, name):
        return sys.argv[1]
    def close(self):
        pass

ipvs._client.Client = SnapshotClient
import ipvs.cli
sys.exit(ipvs.cli.main(["ipvsadm", "-Lnc"]))
"""

RAW_READ = ("import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "while os.read(fd, 1 << 20):\n"
            "    pass\n")


def run(argv, env):
    t = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, env=env, check=True)
    return time.perf_counter() - t, hashlib.sha256(p.stdout).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", default="100000,1000000")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--old-src", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    sys.path.insert(0, HERE)
    from test_bench_decoder import make_conns
    base = dict(os.environ)
    base.pop("IPVS_PUREPYTHON", None)
    py = sys.executable
    variants = {"raw read": ([py, "-c", RAW_READ], {}), "python -c pass": ([py, "-c", "pass"], {})}
    for label, src in (("new", os.path.abspath(SRC)), ("old", a.old_src)):
        if src is None:
            continue
        for dec, extra in (("C", {}), ("twin", {"IPVS_PUREPYTHON": "1"})):
            variants["%s %s" % (label, dec)] = ([py, "-c", CHILD],
                                                dict(extra, PYTHONPATH=os.path.abspath(src)))
    print("load average: %s" % " ".join(open("/proc/loadavg").read().split()[:3]), flush=True)
    results = {}
    for n in [int(x) for x in a.conns.split(",")]:
        with tempfile.NamedTemporaryFile(suffix=".ip_vs_conn") as f:
            f.write(make_conns(n))
            f.flush()
            times = {k: [] for k in variants}
            digests = {}
            for _ in range(a.rounds):
                for k, (argv, extra) in variants.items():
                    dt, digest = run(argv + [f.name], dict(base, **extra))
                    times[k].append(dt)
                    if k not in ("raw read", "python -c pass"):
                        digests.setdefault(k, set()).add(digest)
            same = len(set().union(*digests.values())) == 1
            floor = min(times["raw read"])
            print("-Lnc of %d connections (snapshot %.1f MB), best of %d interleaved rounds; "
                  "outputs identical: %s" % (n, os.path.getsize(f.name) / 1e6, a.rounds, same))
            res = {}
            for k, ts in times.items():
                best = min(ts)
                med = sorted(ts)[len(ts) // 2]
                res[k] = {"best_s": best, "median_s": med}
                print("  %-16s best %7.3f s  median %7.3f s  (%.2f us/conn above the raw read)"
                      % (k, best, med, (best - floor) / n * 1e6), flush=True)
            res["outputs_identical"] = same
            results[n] = res
            assert same, "outputs differ"
    if a.json:
        with open(a.json, "w") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
