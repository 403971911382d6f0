"""Fuzz invariant: any bytes either decode identically in C and Python or
raise the same DecodeError from both; never another exception, never a
crash. Connection text goes through both decode_conns and the -Lnc
renderer (render_conns_numeric). Two parts:

- a deterministic corpus (seeded mutations of every vector and of the
  captured kernel replies), the part scripts/sanitize runs under ASan;
- hypothesis, random and mutated buffers, bounded by IPVS_FUZZ_SECONDS
  (default 20) per decoder kind.
"""
import os
import random
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ipvs import _decode_py
from ipvs._base import DecodeError

from test_decoder_vectors import (conns, CONN_ERRORS, CONN_TEXT, DUMP_VECTORS, ERROR_VECTORS, HEADER,
                                  PID, SEQ, _decode_c)

pytestmark = pytest.mark.skipif(_decode_c is None, reason="C decoder not built")

SECONDS = float(os.environ.get("IPVS_FUZZ_SECONDS", "20"))
CORPUS_SIZE = int(os.environ.get("IPVS_FUZZ_CORPUS", "3000"))

DUMP_SEEDS = [v[2] for v in DUMP_VECTORS + ERROR_VECTORS if v[2]]
CONN_SEEDS = [CONN_TEXT] + [HEADER + v[1] for v in CONN_ERRORS]


def _captured_seeds():
    """A few real buffers (first of each capture) and table lines."""
    import glob
    import gzip
    here = os.path.join(os.path.dirname(__file__), "data", "decoder")
    dumps = []
    for p in sorted(glob.glob(os.path.join(here, "*.nlbufs*"))):
        with (gzip.open if p.endswith(".gz") else open)(p, "rb") as f:
            (n,) = struct.unpack("=I", f.read(4))
            dumps.append(f.read(min(n, 8192)))
    conns = []
    p = os.path.join(here, "ip_vs_conn.txt.gz")
    if os.path.exists(p):
        with gzip.open(p) as f:
            text = f.read()
        lines = text.splitlines(True)
        conns.append(b"".join(lines[:40]) + b"".join(l for l in lines if b"sip" in l)[:4000])
        conns.append(b"".join(l for l in lines if b":" in l)[:4000])
    return dumps, conns


CAP_DUMPS, CAP_CONNS = _captured_seeds()
DUMP_SEEDS += CAP_DUMPS
CONN_SEEDS += CAP_CONNS


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except DecodeError as e:
        return ("error", str(e))


def check_dump(buf, pid=PID, svc_af=2):
    for seq in (SEQ, struct.unpack_from("=I", buf, 8)[0] if len(buf) >= 12 else 0):
        assert outcome(_decode_c.decode_services, buf, seq, pid) == \
            outcome(_decode_py.decode_services, buf, seq, pid)
        assert outcome(_decode_c.decode_dests, buf, seq, 0, svc_af) == \
            outcome(_decode_py.decode_dests, buf, seq, 0, svc_af)


def check_conns(buf):
    for final in (False, True):
        decoded = outcome(conns, _decode_c, buf, final)
        assert decoded == outcome(conns, _decode_py, buf, final)
        # the -Lnc renderer takes and refuses the same lines
        rendered = outcome(_decode_c.render_conns_numeric, buf, final)
        assert rendered == outcome(_decode_py.render_conns_numeric, buf, final)
        assert rendered[0] == decoded[0]


def mutate(rng, data, text=False):
    """A few random edits of the kinds that break length fields and
    framing: byte flips, 16/32-bit length overwrites, cuts, splices."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        n = len(b)
        i = rng.randrange(n) if n else 0
        if op == 0 and n:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n >= 2:
            i = rng.randrange(n - 1)
            b[i:i + 2] = struct.pack("=H", rng.choice([0, 1, 3, 4, 5, 8, 0xFFFF, rng.randrange(65536)]))
        elif op == 2 and n >= 4:
            i = rng.randrange(n - 3) & ~3
            b[i:i + 4] = struct.pack("=I", rng.choice([0, 16, 17, 0xFFFFFFFF, rng.randrange(1 << 32)]))
        elif op == 3:
            del b[i:i + rng.randint(1, 8)]
        elif op == 4:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 5 and n:
            j = rng.randrange(n)
            b[i:i] = b[j:j + rng.randint(1, 64)]
        elif op == 6 and text:
            b[i:i] = rng.choice([b" ", b"\n", b":", b"\t", b"\0", b"ffff", b"Pro", b"\r\n", b"9" * 21])
    return bytes(b)


def test_fuzz_corpus():
    rng = random.Random(20240607)
    for _ in range(CORPUS_SIZE):
        check_dump(mutate(rng, rng.choice(DUMP_SEEDS)))
        check_conns(mutate(rng, rng.choice(CONN_SEEDS), text=True))
    for _ in range(CORPUS_SIZE // 10):
        check_dump(bytes(rng.randrange(256) for _ in range(rng.randrange(200))))


def _budget():
    start = time.monotonic()
    return lambda: time.monotonic() - start < SECONDS


_FUZZ = settings(max_examples=1_000_000, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))


@st.composite
def mutated(draw, seeds, text):
    seed = draw(st.sampled_from(seeds))
    return mutate(random.Random(draw(st.integers(0, 1 << 32))), seed, text)


def _run(strategy, check):
    alive = _budget()
    stats = {"n": 0}

    @_FUZZ
    @given(strategy)
    def run(data):
        if not alive():
            raise _TimeUp()
        stats["n"] += 1
        check(data)

    try:
        run()
    except _TimeUp:
        pass
    assert stats["n"] > 50


class _TimeUp(BaseException):
    """Stops hypothesis at the time budget (BaseException: it is not a
    test failure, so hypothesis does not try to shrink it)."""


# Both decoders are compared in every run, so the IPVS_PUREPYTHON=1 pass
# of the suite would only repeat the same time-bounded search.
_once = pytest.mark.skipif(os.environ.get("IPVS_PUREPYTHON") == "1",
                           reason="time-bounded search runs once, in the default pass")


@_once
def test_fuzz_dump_hypothesis():
    _run(st.one_of(st.binary(max_size=512), mutated(DUMP_SEEDS, False)), check_dump)


@_once
def test_fuzz_conns_hypothesis():
    _run(st.one_of(st.binary(max_size=512),
                   st.lists(st.sampled_from([b"TCP", b" ", b"0A000001", b"1F90", b"::1", b"\n",
                                             b"2001:db8::1", b"UDP", b"sip", b"x", b"123",
                                             b"Pro", b"\t", b"ffff:", b"\0"]),
                            max_size=40).map(b"".join),
                   mutated(CONN_SEEDS, True)), check_conns)
