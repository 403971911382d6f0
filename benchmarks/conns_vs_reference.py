"""-Lnc against the reference ipvsadm 1.31, at several connection-table
sizes, in one VM boot (benchmarks/conns_vs_reference wraps it with
scripts/vm, once per kernel).

The table is filled through a backup sync daemon (fill.py); at each size
the reference, ours with the C decoder and ours with the pure-Python twin
list it, their outputs are compared (all but the ticking expiry column),
and a minimal independent reader (large read()s of the file, no project
code) gives the floor: on kernels before about 6.14 each read() returns
one page and restarts the kernel's hash walk, so the floor itself is
quadratic; on 7.x it is linear and decoding is what costs.

    python benchmarks/conns_vs_reference.py --sizes 100000,1000000 [--json F]
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fill  # noqa: E402
from vs_reference import (OURS, PY, REF, interleaved_rounds, peak_rss_kib,  # noqa: E402
                          strip_expiry)

TWIN = {"IPVS_PUREPYTHON": "1"}

# the floor: nothing but large reads of the file, in a fresh interpreter
RAW_READ = ("import os\n"
            "fd = os.open('/proc/net/ip_vs_conn', os.O_RDONLY)\n"
            "while os.read(fd, 1 << 20):\n"
            "    pass\n")


def measure(n_wanted, repeat):
    """The raw read, the reference, ours and the twin in interleaved rounds
    (each round runs each once): min and median of each."""
    import hashlib
    n = fill.fill_connections(n_wanted)
    res = {"wanted": n_wanted, "in_kernel": n, "rounds": repeat}
    tools = [("raw_read", [PY, "-c", RAW_READ], None), ("ref", [REF, "-Lnc"], None),
             ("ours", [OURS, "-Lnc"], None), ("ours_python", [OURS, "-Lnc"], TWIN)]
    digests = {}

    def seen(k, out):  # (a million-line listing is held once at a time)
        if k != "raw_read":
            digests.setdefault(k, set()).add(
                hashlib.sha256("\n".join(strip_expiry(out)).encode()).hexdigest())
    times = interleaved_rounds(tools, repeat, seen)
    for k, ts in times.items():
        res[k + "_s"] = statistics.median(ts)
        res[k + "_min_s"] = min(ts)
    res["identical_but_expiry"] = len(set().union(*digests.values())) == 1
    for k, argv, env in tools[1:]:
        res[k + "_peak_rss_kib"] = peak_rss_kib(argv, env=env)
    t = {k: res[k + "_s"] for k, _, _ in tools}
    res.update(ratio=t["ours"] / t["ref"], ratio_python=t["ours_python"] / t["ref"],
               raw_ratio=t["raw_read"] / t["ref"])
    print("-Lnc %d connections (%s), medians of %d interleaved rounds (min): reference %.2f s "
          "(%.2f), ours %.2f s (%.2f; ratio %.3f), twin %.2f s (%.2f; ratio %.3f); raw read "
          "%.2f s (%.2f; %.3f of the reference); outputs %s; peak RSS reference %.1f MiB, ours "
          "%.1f MiB, twin %.1f MiB" % (
              n, platform.release(), repeat, t["ref"], res["ref_min_s"], t["ours"],
              res["ours_min_s"], res["ratio"], t["ours_python"], res["ours_python_min_s"],
              res["ratio_python"], t["raw_read"], res["raw_read_min_s"], res["raw_ratio"],
              "identical" if res["identical_but_expiry"] else "DIFFER",
              res["ref_peak_rss_kib"] / 1024, res["ours_peak_rss_kib"] / 1024,
              res["ours_python_peak_rss_kib"] / 1024), flush=True)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    results = {"kernel": platform.release(), "sizes": []}
    t0 = time.monotonic()
    for n in (int(s) for s in a.sizes.split(",")):
        results["sizes"].append(measure(n, a.repeat))
    results["total_s"] = time.monotonic() - t0
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    if not all(r["identical_but_expiry"] for r in results["sizes"]):
        raise SystemExit("-Lnc outputs differ")


if __name__ == "__main__":
    main()
