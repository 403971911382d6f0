"""Peak memory of `ipvsadm -Lnc` and `-Lnc --json` on a table of 1,000,000
connections.

The kernel cannot list a million connections in reasonable time under
emulation (reading /proc/net/ip_vs_conn is quadratic: 100,000 take the
reference 93 s), so this runs the CLI's own runner for each command line
(with the active decoder) over a snapshot file in the kernel's format
instead of the proc file, in a fresh process, and reports its peak RSS
next to that of the same process before listing.

    python benchmarks/conn_rss.py [--conns 1000000] [--json FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec(), so a child of
# this process (which holds the snapshot) would start at the parent's size.
CHILD = r"""
import os, sys
from ipvs.cli import _beyond
from ipvs.cli import _options as O

def hwm():
    with open("/proc/self/status") as f:
        return int(next(l for l in f if l.startswith("VmHWM:")).split()[1])

before = hwm()
out = open(os.devnull, "w")
# the command line's own runner (with --json, the streamed array) and its
# -Lnc listing, the connection table read from the snapshot instead of the
# proc file (no kernel is asked)
runner, argv = _beyond.make_runner(["ipvsadm"] + sys.argv[2:], out, sys.stderr, None)
runner.open_connections = lambda: open(sys.argv[1], "rb")
runner.list_connections(O.FMT_NUMERIC)
out.close()
after = hwm()
print(before, after)
"""
LISTINGS = (("-Lnc", []), ("-Lnc --json", ["--json"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=1000000)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    sys.path.insert(0, HERE)
    os.environ.setdefault("IPVS_BENCH_CONNS", str(a.conns))
    from test_bench_decoder import make_conns
    res = {"conns": a.conns}
    with tempfile.NamedTemporaryFile(suffix=".ip_vs_conn") as f:
        f.write(make_conns(a.conns))
        f.flush()
        res["snapshot_bytes"] = os.path.getsize(f.name)
        for name, args in LISTINGS:
            for decoder, env in (("c", {}), ("python", {"IPVS_PUREPYTHON": "1"})):
                e = dict(os.environ, **env)
                p = subprocess.run([sys.executable, "-c", CHILD, f.name] + args, env=e,
                                   check=True, capture_output=True, text=True)
                before, after = map(int, p.stdout.split())
                res.setdefault(name, {})[decoder] = {"rss_before_kib": before,
                                                     "peak_rss_kib": after}
                print("%s over %d connections (%s decoder): peak RSS %.1f MiB "
                      "(%.1f MiB before listing)" % (name, a.conns, decoder, after / 1024,
                                                     before / 1024), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
