"""Where a per-service listing's time goes (run inside the VM).

On a table of N services x D real servers: the reference's and our
`ipvsadm -Ln --stats --exact` (outputs compared), the floors of one
GET_DEST dump per service measured by two minimal clients that share no
code with the project (benchmarks/floor_dests.c, compiled by the wrapper,
and rawnl.py's raw-socket Python loop with pre-encoded requests), and a cProfile of
our command in-process: the functions that take the time, by own time.

    python benchmarks/profile_dests.py --services 1000 --dests 4 --floor-bin PATH \
        [--listing "-L --prometheus" --ref-listing "-Ln --stats"]

--listing profiles another of our command lines (default -Ln --stats
--exact), timed beside the reference's --ref-listing (by default the same
words; outputs compared only then).
"""
import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fill  # noqa: E402
import rawnl  # noqa: E402
from vs_reference import OURS, REF, flush, run, timed  # noqa: E402

LISTING = ["-Ln", "--stats", "--exact"]


def raw_python_floor(rounds=3):
    """Seconds of the fastest pass of one GET_DEST dump per service by
    rawnl's raw socket: requests encoded before the clock starts, the
    replies only walked to DONE."""
    raw = rawnl.Raw()
    reqs = raw.dest_dump_requests()
    best = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        for r in reqs:
            raw.roundtrip(r, keep=False)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    raw.s.close()
    return len(reqs), best


def profile_ours(top, listing=LISTING):
    """Our listing in this process under cProfile, output to /dev/null;
    the top functions by own time, as text."""
    from ipvs import cli
    prof = cProfile.Profile()
    with open(os.devnull, "w") as null:
        t0 = time.perf_counter()
        prof.enable()
        status = cli.main(["ipvsadm"] + listing, stdout=null)
        prof.disable()
        dt = time.perf_counter() - t0
    assert status == 0, status
    text = io.StringIO()
    st = pstats.Stats(prof, stream=text)
    st.sort_stats("tottime").print_stats(top)
    return dt, text.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--dests", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--floor-bin", default=None)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--listing", default=" ".join(LISTING))
    ap.add_argument("--ref-listing", default=None)
    a = ap.parse_args()
    n, d = a.services, a.dests
    ours, theirs = a.listing.split(), (a.ref_listing or a.listing).split()
    flush()
    run([REF, "-R"], stdin=fill.rules(n, d))
    m_ref, _, o_ref = timed([REF] + theirs, a.repeat)
    m_c, _, o_c = timed([OURS] + ours, a.repeat)
    m_py, _, o_py = timed([OURS] + ours, a.repeat, env={"IPVS_PUREPYTHON": "1"})
    same = "identical" if o_ref == o_c == o_py else "DIFFER"
    print("%dx%d: reference %s %.3f s, ours %s (C) %.3f s, ours (twin) %.3f s; outputs %s"
          % (n, d, " ".join(theirs), m_ref, " ".join(ours), m_c, m_py,
             same if ours == theirs else "not compared"))
    if a.floor_bin:
        out = subprocess.run([a.floor_bin, str(a.repeat)], capture_output=True, text=True,
                             check=True).stdout.split()
        print("floor, C client: %s GET_DEST dumps (%s dest messages) in %.3f s: %.1f us each"
              % (out[0], out[1], float(out[2]), float(out[2]) / int(out[0]) * 1e6))
    k, t = raw_python_floor(a.repeat)
    print("floor, raw Python socket loop: %d GET_DEST dumps in %.3f s: %.1f us each"
          % (k, t, t / k * 1e6))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    print("python -c pass: %.3f s" % (time.perf_counter() - t0))
    dt, text = profile_ours(a.top, ours)
    print("in-process, under cProfile: %.3f s\n%s" % (dt, text))
    flush()


if __name__ == "__main__":
    main()
