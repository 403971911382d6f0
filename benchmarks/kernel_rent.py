"""Inside the test VM: what each kernel-bound fast path buys against a real
kernel. Run after ram_mode.py, so that no timed run reads over 9p.

The table is fill.py's N x D (default 5000x4), restored by the reference.
Each command runs with the fast path on and off (switches.py), every
variant through the same preamble (`python -c`, the switches' text, then
ipvsadm's main()), in interleaved rounds after one untimed round; outputs
must be identical (the scrape's own duration line aside; for -R, the
table the reference's -Sn lists afterwards).

  -Ln                 /proc/net/ip_vs (off: GET_DEST dumps), C and twin
  per-service         the second socket and its thread (off: one socket),
  listings            C; the twin's child process (off: the second
                      socket's dumps after the first's), twin --stats
  -R                  packed sends (off: one request a send), from an
                      empty table, the order turned round by round

    python benchmarks/kernel_rent.py [--services 5000] [--dests 4]
        [--rounds 5] [--only NAME,...] [--json F]
"""
import argparse
import hashlib
import json
import os
import platform
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fill  # noqa: E402
import switches  # noqa: E402
from vs_reference import OURS, REF, flush, run  # noqa: E402

PY = os.path.join(os.path.dirname(OURS), "python")
CODE = switches.source() + switches.RUN
C, TWIN = {}, {"IPVS_PUREPYTHON": "1"}
SECOND = [("C", C, ""), ("C, one socket", C, "split")]
GROUPS = [
    ("-Ln", ["-Ln"], [("C", C, ""), ("C, dumps (no /proc)", C, "noproc"),
                      ("twin", TWIN, ""), ("twin, dumps (no /proc)", TWIN, "noproc")]),
    ("-Ln --stats", ["-Ln", "--stats"], SECOND + [("twin", TWIN, ""),
                                                   ("twin, no fork", TWIN, "nofork")]),
    ("-Ln --rate", ["-Ln", "--rate"], SECOND),
    ("-Ln --thresholds", ["-Ln", "--thresholds"], SECOND),
    ("-Sn", ["-Sn"], SECOND),
    ("--json", ["-L", "--json"], SECOND),
    ("-L --prometheus", ["-L", "--prometheus"], SECOND),
    ("-R", ["-R"], [("C", C, ""), ("C, one request a send", C, "onesend")]),
]
DURATION = re.compile(rb"(?m)^node_ipvs_scrape_duration_seconds .*$")


def one(argv, env, switch, stdin=None):
    """(seconds, digest of stdout) of ipvsadm ARGV with a switch off."""
    dt, out = run([PY, "-c", CODE] + argv, stdin=stdin,
                  env=dict(env, IPVS_BENCH_SWITCHES=switch))
    return dt, hashlib.sha256(DURATION.sub(b"", out.encode())).hexdigest()


def measure(name, argv, variants, rounds, rules):
    times = {v[0]: [] for v in variants}
    digests = set()
    restore = argv == ["-R"]
    for r in range(rounds + (0 if restore else 1)):  # listings: one untimed round first
        order = variants[r % len(variants):] + variants[:r % len(variants)] if restore \
            else variants
        for label, env, switch in order:
            if restore:
                flush()
            dt, digest = one(argv, env, switch, stdin=rules if restore else None)
            if restore:
                digest = hashlib.sha256(run([REF, "-Sn"])[1].encode()).hexdigest()
            digests.add(digest)
            if restore or r:
                times[label].append(dt)
    first = variants[0][0]
    res = {"outputs_identical": len(digests) == 1}
    print("%s, %d interleaved rounds, outputs identical: %s" % (name, rounds, len(digests) == 1),
          flush=True)
    for label, env, switch in variants:
        ts = times[label]
        # each variant against the first and against its decoder's variant
        # with every fast path on (the same round's)
        base = next(v[0] for v in variants if v[1] == env and not v[2])
        pairs, own = (sorted(t / f for t, f in zip(ts, times[b])) for b in (first, base))
        s = sorted(ts)
        res[label] = {"min_s": s[0], "median_s": s[len(s) // 2], "base": base,
                      "median_pair_ratio": pairs[len(pairs) // 2],
                      "median_pair_ratio_to_base": own[len(own) // 2], "times_s": ts}
        print("  %-26s min %6.2f s  median %6.2f s  (pairs x%.2f; against %s x%.2f)" % (
            label, s[0], s[len(s) // 2], pairs[len(pairs) // 2], base, own[len(own) // 2]),
            flush=True)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=5000)
    ap.add_argument("--dests", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--only", default=None, help="names of groups, comma-separated")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    t0 = time.perf_counter()
    rules = fill.rules(a.services, a.dests)
    wanted = None if a.only is None else set(a.only.split(","))
    res = {"kernel": platform.release(), "services": a.services, "dests": a.dests,
           "rounds": a.rounds, "groups": {}}
    print("kernel %s, %dx%d, %d rounds" % (res["kernel"], a.services, a.dests, a.rounds),
          flush=True)
    flush()
    run([REF, "-R"], stdin=rules)
    for name, argv, variants in GROUPS:
        if wanted is None or name in wanted:
            res["groups"][name] = measure(name, argv, variants, a.rounds, rules)
    flush()
    res["took_s"] = time.perf_counter() - t0
    print("took %.0f s" % res["took_s"])
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    if not all(g["outputs_identical"] for g in res["groups"].values()):
        raise SystemExit("outputs differ")


if __name__ == "__main__":
    main()
