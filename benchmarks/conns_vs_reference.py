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
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fill  # noqa: E402
from vs_reference import OURS, REF, peak_rss_kib, run, strip_expiry  # noqa: E402

# the floor: nothing but large reads of the file, in a fresh interpreter
RAW_READ = ("import os\n"
            "fd = os.open('/proc/net/ip_vs_conn', os.O_RDONLY)\n"
            "while os.read(fd, 1 << 20):\n"
            "    pass\n")


def timed_digest(argv, repeat, env=None):
    """(fastest seconds, digest of the output without its expiry column):
    a million-line listing is held once, not three times."""
    import hashlib
    best, digest = None, None
    for _ in range(repeat):
        dt, out = run(argv, env=env)
        best = dt if best is None else min(best, dt)
        digest = hashlib.sha256("\n".join(strip_expiry(out)).encode()).hexdigest()
        del out
    return best, digest


def measure(n_wanted, repeat):
    n = fill.fill_connections(n_wanted)
    res = {"wanted": n_wanted, "in_kernel": n}
    t_raw = min(run([sys.executable, "-c", RAW_READ])[0] for _ in range(repeat))
    t_ref, d_ref = timed_digest([REF, "-Lnc"], repeat)
    t_c, d_c = timed_digest([OURS, "-Lnc"], repeat)
    t_py, d_py = timed_digest([OURS, "-Lnc"], repeat, env={"IPVS_PUREPYTHON": "1"})
    res.update(raw_read_s=t_raw, ref_s=t_ref, ours_s=t_c, ours_python_s=t_py,
               ratio=t_c / t_ref, ratio_python=t_py / t_ref, raw_ratio=t_raw / t_ref,
               identical_but_expiry=d_ref == d_c == d_py)
    res["ref_peak_rss_kib"] = peak_rss_kib([REF, "-Lnc"])
    res["ours_peak_rss_kib"] = peak_rss_kib([OURS, "-Lnc"])
    res["ours_python_peak_rss_kib"] = peak_rss_kib([OURS, "-Lnc"], env={"IPVS_PUREPYTHON": "1"})
    print("-Lnc %d connections (%s): reference %.2f s, ours %.2f s (ratio %.3f), pure Python "
          "%.2f s (ratio %.3f); raw read %.2f s (%.3f of the reference); outputs %s; peak RSS "
          "reference %.1f MiB, ours %.1f MiB, pure Python %.1f MiB" % (
              n, platform.release(), t_ref, t_c, t_c / t_ref, t_py, t_py / t_ref, t_raw,
              t_raw / t_ref, "identical" if res["identical_but_expiry"] else "DIFFER",
              res["ref_peak_rss_kib"] / 1024, res["ours_peak_rss_kib"] / 1024,
              res["ours_python_peak_rss_kib"] / 1024), flush=True)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--repeat", type=int, default=1)
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
