"""The -Lnc fast path renders exactly what the per-record renderer does."""
import random

from ipvs.cli import _render as R
from ipvs.cli._options import FMT_NUMERIC


def records(n, seed):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        v6 = rnd.random() < 0.2
        mixed = rnd.random() < 0.1
        if v6:
            addr = lambda: "2001:db8::%x" % rnd.randrange(1, 1 << 16)  # noqa: E731
        else:
            addr = lambda: "10.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256),  # noqa: E731
                                             rnd.randrange(256))
        daddr = ("2001:db8::1" if not v6 else "10.0.0.1") if mixed else addr()
        out.append((rnd.choice(["TCP", "UDP", "SCTP"]), 10 if v6 else 2, addr(),
                    rnd.randrange(65536), addr(), rnd.randrange(65536), daddr,
                    rnd.randrange(65536), rnd.choice(["ESTABLISHED", "SYN_RECV", "NONE", "CLOSE"]),
                    rnd.choice([0, 5, 59, 60, 899, 5999, 6000, 86400, 4294967]),
                    rnd.choice(["", "sip"]), rnd.choice(["", "callid-1"])))
    return out


def test_fast_path_equals_record_renderer():
    recs = records(3000, 1)
    slow = "".join(R.connection_record(r, FMT_NUMERIC, R.NumericNames()) for r in recs)
    assert R.connection_lines_numeric(recs) == slow


def test_fast_path_empty():
    assert R.connection_lines_numeric([]) == ""
