"""Where start-up goes: the modules a listing reads, imported one after
another (reading and executing each), then, in a fresh process, the same
modules' byte-code read first and only executed; the difference is the
cost of finding and reading the files (over 9p in the VM).

    scripts/vm 'for i in 1 2 3; do .venv/bin/python benchmarks/import_probe.py; done'
    python benchmarks/import_probe.py --modules ipvs,ipvs.cli,...   (any list)

By default the modules of `ipvsadm -Ln --stats` with the C decoder, in the
order they are imported."""
import argparse
import importlib.util
import marshal
import subprocess
import sys
import time

LISTING = ("ipvs,ipvs.cli,ipvs.vocab,ipvs.cli._scanner,ipvs.cli._exits,ipvs.cli._values,"
           "ipvs.cli._options,ipvs.cli._listing,ipvs.cli._run,ipvs._base,ipvs._netlink,"
           "ipvs._records,ipvs._layout,ipvs._spec,ipvs._decode_c,ipvs._decoder,ipvs._errors,"
           "ipvs._model,ipvs._keys,ipvs._transport,ipvs._tablemethods,ipvs._client,"
           "ipvs._conntext,ipvs.rules,ipvs.lines,ipvs.cli._render,ipvs.cli._programs,"
           "ipvs._lines_c")


def imported(mods):
    t0 = time.perf_counter()
    rows = []
    for m in mods:
        t = time.perf_counter()
        __import__(m)
        rows.append((m, time.perf_counter() - t))
    return time.perf_counter() - t0, rows


def executed(mods):
    """Seconds to unmarshal and execute the modules' byte-code, read
    beforehand (a module that is not a .py, or already loaded, is imported
    as usual first)."""
    codes = []
    for m in mods:
        spec = importlib.util.find_spec(m)
        if spec.origin is None or not spec.origin.endswith(".py"):
            __import__(m)
            continue
        with open(importlib.util.cache_from_source(spec.origin), "rb") as f:
            codes.append((m, spec, f.read()[16:]))
    t0 = time.perf_counter()
    for m, spec, data in codes:
        if m in sys.modules:
            continue
        mod = importlib.util.module_from_spec(spec)
        sys.modules[m] = mod
        exec(marshal.loads(data), mod.__dict__)
    return time.perf_counter() - t0, len(codes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", default=LISTING)
    ap.add_argument("--exec-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    mods = a.modules.split(",")
    if a.exec_only:
        dt, n = executed(mods)
        print("%.4f %d" % (dt, n))
        return
    total, rows = imported(mods)
    out = subprocess.run([sys.executable, __file__, "--exec-only", "--modules", a.modules],
                         capture_output=True, text=True, check=True).stdout.split()
    print("imports %.3f s; executing the same byte-code read beforehand %.3f s (%s modules)"
          % (total, float(out[0]), out[1]))
    for m, dt in rows:
        print("  %-26s %6.1f ms" % (m, dt * 1000))


if __name__ == "__main__":
    main()
