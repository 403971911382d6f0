"""C decoder against its Python twin, interleaved, so both meet the same
moments of a shared, noisy machine (pytest-benchmark runs all rounds of one
before the other, and on a shared host the speed drifts between the two by
more than the ratios' margins). The connection table: each 256 KiB piece
is decoded by C and then by the twin; C starts each piece with the caches
the twin left, which if anything favours the twin. The dump: whole passes
alternate (one C pass is about 10 ms).

    python benchmarks/interleaved.py [--passes 3]

Inputs as benchmarks/test_bench_decoder.py: the 1,000,000-line
ip_vs_conn snapshot streamed in 256 KiB pieces, and the 20,000-destination
dump's receive buffers. Prints each pass's ratio and the ratio of the
totals. Then the snapshot as `ipvsadm -Lnc` text, piece by piece: a raw
read of the same bytes from a file, the decoders' render_conns_numeric
and the decode+format path the listing took before it.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import test_bench_decoder as B  # noqa: E402
from ipvs import _decode_c, _decode_py  # noqa: E402


def pieces(text, chunk=1 << 18):
    """The complete-line pieces stream_conns hands each decoder."""
    out, pos = [], 0
    while pos < len(text):
        end = text.rfind(b"\n", pos, pos + chunk) + 1 or len(text)
        out.append(text[pos:end])
        pos = end
    return out


def take(recs):
    """Each record taken and let go, as the CLI's listing does."""
    n = 0
    for _ in recs:
        n += 1
    return n


def conns_pass(ps, consume=take):
    tc = tp = 0.0
    n = 0
    clock = time.perf_counter
    for p in ps:
        t0 = clock()
        a = consume(_decode_c.decode_conns(p, True)[0])
        t1 = clock()
        b = consume(_decode_py.decode_conns(p, True)[0])
        t2 = clock()
        a = len(a) if isinstance(a, list) else a
        assert a == (len(b) if isinstance(b, list) else b)
        n += a
        del b
        tc += t1 - t0
        tp += t2 - t1
    assert n == B.N_CONNS
    return tc, tp


def dump_pass():
    """The whole dump by one, then by the other: a C decode of one 32 KiB
    buffer takes about 50 us, so alternating buffer by buffer would time
    cold caches and the clock more than the decoder."""
    clock = time.perf_counter
    t0 = clock()
    B.decode_dump(_decode_c)
    t1 = clock()
    B.decode_dump(_decode_py)
    t2 = clock()
    return t1 - t0, t2 - t1


def lnc_pass(ps, path, twin):
    """`ipvsadm -Lnc`'s text, piece by piece: a raw read of the piece's
    bytes from the snapshot file (the floor), then C's
    render_conns_numeric (the listing now), then C's decode_conns and the
    Python formatter (the listing before), then the same two with the twin
    when twin is set. Returns each one's total time."""
    import io
    from itertools import islice
    from ipvs._conntext import numeric_lines

    def old(impl, p):
        recs = impl.decode_conns(p, True)[0]
        n = 0
        while True:
            out = numeric_lines(islice(recs, 4096))
            if not out:
                return n
            text.write(out)
            n += 1

    clock = time.perf_counter
    impls = (_decode_c, _decode_py) if twin else (_decode_c,)
    times = [0.0] * (1 + 2 * len(impls))
    with open(path, "rb", buffering=0) as f, open(os.devnull, "wb") as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8")
        for p in ps:
            t = [clock()]
            assert len(f.read(len(p))) == len(p)
            t.append(clock())
            for impl in impls:
                binary.write(impl.render_conns_numeric(p, True)[0])
                t.append(clock())
                old(impl, p)
                text.flush()
                t.append(clock())
            for i in range(len(times)):
                times[i] += t[i + 1] - t[i]
        text.detach()
    return times


def report_lnc(runs):
    names = ["raw read of the bytes", "C render (now)", "C decode+format (before)",
             "twin render (now)", "twin decode+format (before)"]
    print("-Lnc text of %d connections (the twin in the first pass only):" % B.N_CONNS)
    cols = max(len(r) for r in runs)
    # each column over the passes that have it, against the raw read of those passes
    best = [min(r[i] for r in runs if len(r) > i) for i in range(cols)]
    tot = [sum(r[i] for r in runs if len(r) > i) for i in range(cols)]
    raw = [sum(r[0] for r in runs if len(r) > i) for i in range(cols)]
    for i in range(cols):
        print("  %-28s best pass %.3f s (%.3f us/conn)%s" % (
            names[i], best[i], best[i] / B.N_CONNS * 1e6,
            "" if i == 0 else ", %.1fx the raw read" % (tot[i] / raw[i])))
    print("  C: before/now %.1fx%s" % (tot[2] / tot[1], "; twin: before/now %.1fx; twin render "
                                       "/ C render %.1fx" % (runs[0][4] / runs[0][3],
                                                             runs[0][3] / runs[0][1])
                                       if cols > 3 else ""), flush=True)


def report(what, runs, target):
    for i, (tc, tp) in enumerate(runs):
        print("  %s pass %d: C %.3f s, twin %.3f s, %.1fx" % (what, i + 1, tc, tp, tp / tc))
    tc = sum(r[0] for r in runs)
    tp = sum(r[1] for r in runs)
    print("%s: C %.3f s, twin %.3f s over %d passes: %.1fx (expected >= %dx)"
          % (what, tc, tp, len(runs), tp / tc, target), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--lnc-passes", type=int, default=3,
                    help="passes of the -Lnc comparison (the twin's in the first only)")
    a = ap.parse_args()
    print("load average: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    report("20k-destination dump", [dump_pass() for _ in range(5 * a.passes)], 20)
    ps = pieces(B.conns_text())
    report("1M-line ip_vs_conn", [conns_pass(ps) for _ in range(a.passes)], 10)
    # a caller that keeps every record of a piece (a list) pays for one
    # tuple a record in C too
    report("1M-line ip_vs_conn, records kept", [conns_pass(ps, list)], 10)
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".ip_vs_conn") as f:
        f.write(B.conns_text())
        f.flush()
        report_lnc([lnc_pass(ps, f.name, i == 0) for i in range(a.lnc_passes)])


if __name__ == "__main__":
    main()
