"""Every large-table command, ours against the reference ipvsadm 1.31, at
several table sizes, in one VM boot (benchmarks/dumps_vs_reference wraps it
with scripts/vm, once per kernel).

At each size (N services x D NAT real servers, fill.py's rules):
- `-R` from an empty table: the reference, ours (C), ours (twin), and the
  kernel's floor (the same rules encoded by rawnl.py, which shares no code
  with the project, before the clock starts, sent in 32 KiB batches), in
  interleaved rounds, medians and each round's ratio; the tables compared
  through the reference's `-Sn`.
- the listings (`-Ln`, `-Ln --stats --exact`, `--rate`, `--thresholds`,
  `-Sn`, and our `--json`, which has no reference counterpart and is set
  beside `-Ln --stats --exact`, and `-L --prometheus` beside `-Ln --stats`):
  reference, ours with C, ours with the
  twin, interleaved rounds, medians; outputs compared; our peak RSS.
- floors: one GET_SERVICE dump, one GET_DEST dump per service
  (floor_dests.c), a raw read of /proc/net/ip_vs.
Ratios are ours/reference; across the first two sizes also the ratio of
the per-item slopes ((ours at b - ours at a) / (ref at b - ref at a)),
which takes start-up out.

    python benchmarks/dumps_vs_reference.py --sizes 1000x4,5000x4,20000x1 \
        [--floor-bin PATH] [--json F]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fill  # noqa: E402
import rawnl  # noqa: E402
from vs_reference import (OURS, PY, REF, flush, interleaved_rounds,  # noqa: E402
                          peak_rss_kib, run)

TWIN = {"IPVS_PUREPYTHON": "1"}
LISTINGS = [
    ("-Ln", ["-Ln"], ["-Ln"]),
    ("-Ln --stats --exact", ["-Ln", "--stats", "--exact"], ["-Ln", "--stats", "--exact"]),
    ("-Ln --rate", ["-Ln", "--rate"], ["-Ln", "--rate"]),
    ("-Ln --thresholds", ["-Ln", "--thresholds"], ["-Ln", "--thresholds"]),
    ("-Sn", ["-Sn"], ["-Sn"]),
    ("--json (ref: --stats --exact)", ["-Ln", "--stats", "--exact"], ["-Ln", "--stats", "--json"]),
    # a scrape is compared with the listing of the same counters
    ("--prometheus (ref: --stats)", ["-Ln", "--stats"], ["-L", "--prometheus"]),
]
# outputs that differ between runs by design (the scrape-duration gauge)
UNSTABLE = ("--prometheus",)


def interleaved(cmds, repeat):
    """{name: (median seconds, last stdout)} of interleaved rounds."""
    outs = {}
    times = interleaved_rounds(cmds, repeat, outs.__setitem__)
    return {name: (statistics.median(t), outs[name]) for name, t in times.items()}


def raw_seconds(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def read_proc():
    with open("/proc/net/ip_vs", "rb") as f:
        while f.read(1 << 20):
            pass


def one_size(n, d, a):
    res = {"services": n, "dests": d}
    rules = fill.rules(n, d)
    nrules = rules.count("\n")
    if a.listings_only:  # the table filled once, by the reference; no -R figures
        flush()
        run([REF, "-R"], stdin=rules)
        raw = rawnl.Raw()
        return listings(n, d, a, res, raw)
    # -R from empty, three ways, and the kernel's floor, in interleaved
    # rounds, each round in another order. The kernel's own cost moves by
    # seconds: a flush puts every real server in the kernel's dest trash
    # (kept up to IP_VS_DEST_TRASH_PERIOD, 120 s), and each new real server
    # is first looked for in that list, so what a -R costs depends on what
    # ran before it and how long ago.
    times = {"ref": [], "ours": [], "twin": [], "floor": []}
    saved = None
    order = ["ref", "ours", "twin", "floor"]
    for k in range(a.repeat):
        for name in order[k % 4:] + order[:k % 4]:
            flush()
            if name == "floor":
                raw = rawnl.Raw()
                msgs = rawnl.fill_messages(raw, rules)
                t0 = time.perf_counter()
                errors = raw.send_batches(msgs)
                times["floor"].append(time.perf_counter() - t0)
                assert errors == 0, "the kernel refused %d rules" % errors
            else:
                times[name].append(run([REF if name == "ref" else OURS, "-R"], stdin=rules,
                                       env=TWIN if name == "twin" else None)[0])
            s = run([REF, "-Sn"])[1]
            assert saved is None or s == saved, "-R: the %s table differs" % name
            saved = s
    r = {k: statistics.median(v) for k, v in times.items()}
    # (a round whose floor took longer than the reference has no ratio: the
    # kernel's cost moved more than the reference's own work in that round)
    rounds = [(o - f) / (ref - f) if ref > f else None
              for ref, o, f in zip(times["ref"], times["ours"], times["floor"])]
    res["restore"] = dict(r, rules=nrules, rounds=times, round_ratios=rounds)
    print("%dx%d -R (%d rules, medians of %d rounds): ref %.2f s, ours %.2f s, twin %.2f s, "
          "kernel floor %.2f s; above the floor ours/ref %.3f (rounds: %s)"
          % (n, d, nrules, a.repeat, r["ref"], r["ours"], r["twin"], r["floor"],
             (r["ours"] - r["floor"]) / max(r["ref"] - r["floor"], 1e-9),
             ", ".join("n/a" if x is None else "%.2f" % x for x in rounds)), flush=True)
    rss = {}
    for name in ("ref", "ours", "twin"):  # (the last leaves the table for the listings)
        flush()
        rss[name] = peak_rss_kib([REF if name == "ref" else OURS, "-R"],
                                 env=TWIN if name == "twin" else None, stdin=rules)
    res["restore"]["peak_rss_kib"] = rss
    print("    -R peak RSS ref/ours/twin %.1f/%.1f/%.1f MiB" % tuple(
        rss[k] / 1024 for k in ("ref", "ours", "twin")), flush=True)
    return listings(n, d, a, res, raw)


def listings(n, d, a, res, raw):
    # floors of the listings
    fl = {"get_service_dump": raw_seconds(raw.services),
          "proc_read": raw_seconds(read_proc)}
    raw.s.close()
    if a.floor_bin:
        out = subprocess.run([a.floor_bin, "3"], capture_output=True, text=True,
                             check=True).stdout.split()
        fl["get_dest_dumps"] = float(out[2])
        fl["get_dest_dumps_two_sockets"] = float(out[3])
    res["floors"] = fl
    print("    floors: GET_SERVICE dump %.3f s, read of /proc/net/ip_vs %.3f s, GET_DEST dump "
          "per service %s s (on two sockets at once %s s)"
          % (fl["get_service_dump"], fl["proc_read"],
             "%.3f" % fl["get_dest_dumps"] if "get_dest_dumps" in fl else "?",
             "%.3f" % fl["get_dest_dumps_two_sockets"] if "get_dest_dumps" in fl else "?"),
          flush=True)
    res["listings"] = {}
    for label, ref_argv, our_argv in LISTINGS:
        if a.only and not any(w in label for w in a.only.split(",")):
            continue
        m = interleaved([("ref", [REF] + ref_argv, None), ("ours", [OURS] + our_argv, None),
                         ("twin", [OURS] + our_argv, TWIN)], a.repeat)
        same = (any(w in our_argv for w in UNSTABLE) or m["ours"][1] == m["twin"][1]) and \
            (our_argv != ref_argv or m["ref"][1] == m["ours"][1])
        rss = {"ref": peak_rss_kib([REF] + ref_argv), "ours": peak_rss_kib([OURS] + our_argv),
               "twin": peak_rss_kib([OURS] + our_argv, env=TWIN)}
        row = {"ref_s": m["ref"][0], "ours_s": m["ours"][0], "twin_s": m["twin"][0],
               "identical": same, "ours_peak_rss_kib": rss["ours"],
               "ref_peak_rss_kib": rss["ref"], "twin_peak_rss_kib": rss["twin"]}
        res["listings"][label] = row
        print("    %-30s ref %6.2f s, ours %6.2f s (%.3f), twin %6.2f s (%.3f); %s; peak RSS "
              "ref/ours/twin %.1f/%.1f/%.1f MiB"
              % (label, row["ref_s"], row["ours_s"], row["ours_s"] / row["ref_s"], row["twin_s"],
                 row["twin_s"] / row["ref_s"], "identical" if same else "OUTPUTS DIFFER",
                 rss["ref"] / 1024, rss["ours"] / 1024, rss["twin"] / 1024), flush=True)
        if label == "-Ln --stats --exact" and "get_dest_dumps" in fl:
            # what no per-service listing in Python can go below: the
            # interpreter's start, the service dump, the dumps on two sockets
            least = a.python_pass_s + fl["get_service_dump"] + \
                fl["get_dest_dumps_two_sockets"]
            res["per_service_floor_s"] = least
            print("    %-30s python -c pass + GET_SERVICE dump + GET_DEST dumps on two "
                  "sockets %.2f s (%.3f of the reference)" % ("(floor)", least, least / row["ref_s"]),
                  flush=True)
    flush()
    return res


def slopes(a, b):
    """Slope ratios between two sizes' results."""
    out = {}
    for label in a["listings"]:
        la, lb = a["listings"][label], b["listings"][label]
        ref = lb["ref_s"] - la["ref_s"]
        out[label] = {k: (lb[k + "_s"] - la[k + "_s"]) / ref if ref > 0 else None
                      for k in ("ours", "twin")}
    ra, rb = a["restore"], b["restore"]
    ref = (rb["ref"] - rb["floor"]) - (ra["ref"] - ra["floor"])
    out["-R above the floor"] = {k: ((rb[k] - rb["floor"]) - (ra[k] - ra["floor"])) / ref
                                 if ref > 0 else None for k in ("ours", "twin")}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000x4,5000x4,20000x1")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--floor-bin", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--only", default="", help="listings whose label has one of these words")
    ap.add_argument("--listings-only", action="store_true",
                    help="no -R figures: the table is filled once by the reference")
    a = ap.parse_args()
    sizes = [tuple(int(x) for x in s.split("x")) for s in a.sizes.split(",")]
    t0 = time.perf_counter()
    py = a.python_pass_s = statistics.median(run([PY, "-c", "pass"])[0]
                                             for _ in range(3))
    h = statistics.median(run([OURS, "-h"])[0] for _ in range(3))
    try:
        href = statistics.median(run([REF, "-h"])[0] for _ in range(3))
    except SystemExit:  # a non-zero exit: no start-up figure for it
        href = None
    res = {"kernel": platform.release(), "startup": {"python_pass_s": py, "ours_h_s": h,
                                                     "ref_h_s": href}, "sizes": []}
    print("kernel %s; start-up: python -c pass %.2f s, our -h %.2f s, reference -h %s"
          % (res["kernel"], py, h, "%.2f s" % href if href else "?"), flush=True)
    for n, d in sizes:
        res["sizes"].append(one_size(n, d, a))
    if len(sizes) >= 2 and not (a.only or a.listings_only):
        res["slope_ratios"] = slopes(res["sizes"][0], res["sizes"][1])
        print("slope ratios %dx%d to %dx%d (ours, twin):" % (sizes[0] + sizes[1]))
        for label, v in res["slope_ratios"].items():
            print("    %-30s %s" % (label, ", ".join(
                "%.3f" % v[k] if v[k] is not None else "?" for k in ("ours", "twin"))))
    print("took %.0f s" % (time.perf_counter() - t0))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
