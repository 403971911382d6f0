"""Decoder benchmarks (pytest-benchmark): the C decoder against its Python
twin, and the twin against pyroute2's IPVS message parsing, on the same
bytes. Run through benchmarks/run, which prints the ratios.

Inputs:
- a GET_DEST dump of 20,000 destinations as the kernel sends it: the
  captured receive buffers in tests/data/decoder/dests-20k.nlbufs (from the
  VM kernel) when present, else the same layout built with the project's
  encoder (one message per destination with stats and stats64, packed into
  32 KiB receive buffers like the kernel's dump skbs);
- a /proc/net/ip_vs_conn snapshot of 1,000,000 lines (IPv4 and IPv6, some
  with persistence-engine columns, like the captured table), streamed in
  256 KiB chunks the way ipvs._conns reads it; each record is taken and
  let go (counted), as the CLI's listing does, so memory stays flat. The
  same snapshot as `ipvsadm -Lnc` text: the decoders' render_conns_numeric
  (what the listing uses) against decode_conns + the Python formatter
  (what the CLI's record renderer uses), and a raw read of the same bytes
  from a file.
"""
import os
import socket
import struct

import pytest

from ipvs import _decode_py, _netlink as nl, _spec as spec

try:
    from ipvs import _decode_c
except ImportError:
    _decode_c = None

try:
    from pyroute2.netlink.generic.ipvs import ipvsmsg
except ImportError:
    ipvsmsg = None

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data", "decoder")
N_DESTS = 20000
N_CONNS = int(os.environ.get("IPVS_BENCH_CONNS", "1000000"))


# ------------------------------------------------------------------ inputs

def load_dump():
    path = os.path.join(DATA, "dests-20k.nlbufs.gz")
    if os.path.exists(path):
        import gzip
        import json
        with open(os.path.join(DATA, "dests-20k.json")) as f:
            meta = json.load(f)
        with gzip.open(path) as f:
            raw = f.read()
        bufs, pos = [], 0
        while pos < len(raw):
            (n,) = struct.unpack_from("=I", raw, pos)
            bufs.append(raw[pos + 4:pos + 4 + n])
            pos += 4 + n
        return "captured", meta["seq"], meta["pid"], bufs
    return ("generated", 1, 99) + (make_dump(1, 99),)


def make_dump(seq, pid):
    bufs, cur = [], b""
    for i in range(N_DESTS):
        addr = socket.inet_aton("10.%d.%d.%d" % (100 + i // 65536, (i >> 8) & 255, i & 255))
        stats = dict(zip(spec.STATS_FIELDS, (i, i * 10, i * 9, i * 1000, i * 900, 1, 2, 3, 4, 5)))
        attrs = spec.encode_attrs("cmd", {"dest": {
            "addr": addr + bytes(12), "port": 8080, "fwd_method": 0, "weight": 1 + i % 7,
            "u_thresh": 0, "l_thresh": 0, "active_conns": i % 5, "inact_conns": i % 3,
            "persist_conns": 0, "stats": stats, "stats64": stats, "addr_family": 2,
            "tun_type": 0, "tun_port": 0, "tun_flags": 0}})
        m = nl.encode_genl(0x24, spec.CMD_NEW_DEST, 1, attrs, flags=nl.NLM_F_MULTI, seq=seq, pid=pid)
        if len(cur) + len(m) > 32768:
            bufs.append(cur)
            cur = b""
        cur += m
    cur += nl.encode_message(nl.NLMSG_DONE, nl.NLM_F_MULTI, seq, b"\0\0\0\0", pid)
    bufs.append(cur)
    return bufs


def make_conns(n):
    """n lines in the kernel's format; about 5% IPv6, 2% SIP templates."""
    out = [b"Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"]
    v6 = b"2001:0db8:0000:0000:0000:0001:%04x:%04x"
    for i in range(n):
        if i % 20 == 7:
            out.append(b"TCP %s %04X %s 01BB %s 01BB ESTABLISHED %7d\n" % (
                v6 % (i >> 16, i & 0xFFFF), 1024 + i % 60000, v6 % (0, 16),
                v6 % (2, i % 100), i % 900))
        elif i % 50 == 3:
            out.append(b"UDP %08X 13C4 0A0A0A14 13C4 %08X 13C4 UDP         %7d sip call-%08d@x\n"
                       % (0xC0000000 + i, 0x0A000000 + i % 250, i % 180, i))
        else:
            out.append(b"TCP %08X %04X 0A0A0A0A 0050 %08X 1F90 %-11s %7d\n" % (
                0xC0000000 + i, 1024 + i % 60000, 0x0A000000 + i % 250,
                b"ESTABLISHED" if i % 3 else b"FIN_WAIT", i % 900))
    return b"".join(out)


KIND, SEQ, PID, BUFS = load_dump()
_CONNS = None


def conns_text():
    global _CONNS
    if _CONNS is None:
        _CONNS = make_conns(N_CONNS)
    return _CONNS


# ------------------------------------------------------------------ runners

def decode_dump(impl):
    n = 0
    for b in BUFS:
        recs, _, _ = impl.decode_dests(b, SEQ, PID, 2)
        n += len(recs)
    assert n == N_DESTS
    return n


def pieces_of(decode, text, chunk=1 << 18):
    """decode(data, final) over text as ipvs._conns feeds the decoders (a
    chunk at a time, the unconsumed rest carried over): each result."""
    pos, rest = 0, b""
    while pos < len(text):
        data = rest + text[pos:pos + chunk]
        pos += chunk
        out, used = decode(data, pos >= len(text))
        yield out
        rest = data[used:]


def stream_conns(impl, text, chunk=1 << 18):
    n = 0
    for recs in pieces_of(impl.decode_conns, text, chunk):
        for _ in recs:  # each record taken, then let go, as the CLI's listing does
            n += 1
    assert n == N_CONNS
    return n


def lnc_render(impl, text, sink):
    """`ipvsadm -Lnc`'s lines as the listing makes them: the decoder's
    render_conns_numeric text, written to a binary sink."""
    n = 0
    for out in pieces_of(impl.render_conns_numeric, text):
        sink.write(out)
        n += out.count(b"\n")
    assert n == N_CONNS
    return n


def lnc_decode_format(impl, text, sink):
    """The same lines as the listing made them before render_conns_numeric:
    decode_conns' records, formatted 4096 at a time by the Python formatter
    (now ipvs._conntext.numeric_lines), written to a text sink."""
    from itertools import islice
    from ipvs._conntext import numeric_lines
    n = 0
    for recs in pieces_of(impl.decode_conns, text):
        while True:
            out = numeric_lines(islice(recs, 4096))
            if not out:
                break
            sink.write(out)
            n += out.count("\n")
    assert n == N_CONNS
    return n


_STATS = tuple("IPVS_STATS_ATTR_" + k.upper() for k in spec.STATS_FIELDS)
_DEST = tuple("IPVS_DEST_ATTR_" + k for k in (
    "ADDR", "PORT", "FWD_METHOD", "WEIGHT", "U_THRESH", "L_THRESH", "ACTIVE_CONNS",
    "INACT_CONNS", "PERSIST_CONNS", "ADDR_FAMILY", "TUN_TYPE", "TUN_PORT", "TUN_FLAGS"))


def pyroute2_dump():
    """pyroute2's parsing of the same buffers, to the same fields."""
    n = 0
    unpack = struct.Struct("=IH").unpack_from
    for b in BUFS:
        pos, end = 0, len(b)
        while pos < end:
            length, mtype = unpack(b, pos)
            if mtype > nl.NLMSG_OVERRUN:
                m = ipvsmsg(b[pos:pos + length])
                m.decode()
                d = m.get_attr("IPVS_CMD_ATTR_DEST")
                st = d.get_attr("IPVS_DEST_ATTR_STATS64") or d.get_attr("IPVS_DEST_ATTR_STATS")
                rec = tuple(d.get_attr(k) for k in _DEST) + tuple(st.get_attr(k) for k in _STATS)
                assert rec[1] and len(rec) == 23
                n += 1
            pos += (length + 3) & ~3
    assert n == N_DESTS
    return n


need_c = pytest.mark.skipif(_decode_c is None, reason="C decoder not built")


@need_c
def test_dump20k_c(benchmark):
    benchmark.extra_info.update(input=KIND, entries=N_DESTS)
    benchmark.pedantic(decode_dump, args=(_decode_c,), rounds=20, warmup_rounds=1)


def test_dump20k_python(benchmark):
    benchmark.extra_info.update(input=KIND, entries=N_DESTS)
    benchmark.pedantic(decode_dump, args=(_decode_py,), rounds=5, warmup_rounds=1)


@pytest.mark.skipif(ipvsmsg is None, reason="pyroute2 not installed (benchmarks/run installs it "
                                            "into a separate venv)")
def test_dump20k_pyroute2(benchmark):
    benchmark.extra_info.update(input=KIND, entries=N_DESTS)
    benchmark.pedantic(pyroute2_dump, rounds=2, warmup_rounds=0)


@need_c
def test_conns1m_c(benchmark):
    text = conns_text()
    benchmark.extra_info.update(entries=N_CONNS, bytes=len(text))
    # a warm-up round: the first pass also pays for growing the heap
    benchmark.pedantic(stream_conns, args=(_decode_c, text), rounds=5, warmup_rounds=1)


def test_conns1m_python(benchmark):
    text = conns_text()
    benchmark.extra_info.update(entries=N_CONNS, bytes=len(text))
    benchmark.pedantic(stream_conns, args=(_decode_py, text), rounds=2, warmup_rounds=0)


@need_c
def test_lnc1m_c_render(benchmark):
    text = conns_text()
    benchmark.extra_info.update(entries=N_CONNS, bytes=len(text))
    with open(os.devnull, "wb") as sink:
        benchmark.pedantic(lnc_render, args=(_decode_c, text, sink), rounds=5, warmup_rounds=1)


@need_c
def test_lnc1m_c_decode_format(benchmark):
    text = conns_text()
    benchmark.extra_info.update(entries=N_CONNS, bytes=len(text))
    with open(os.devnull, "w") as sink:
        benchmark.pedantic(lnc_decode_format, args=(_decode_c, text, sink), rounds=3,
                           warmup_rounds=1)


def test_lnc1m_python_render(benchmark):
    text = conns_text()
    benchmark.extra_info.update(entries=N_CONNS, bytes=len(text))
    with open(os.devnull, "wb") as sink:
        benchmark.pedantic(lnc_render, args=(_decode_py, text, sink), rounds=2, warmup_rounds=0)


def test_lnc1m_raw_read(benchmark, tmp_path):
    """The floor: the same bytes read from a file (in the page cache) in
    the reads ipvs._conns makes, nothing done with them."""
    from ipvs._conns import READ_SIZE
    text = conns_text()
    path = tmp_path / "ip_vs_conn"
    path.write_bytes(text)

    def read():
        n = 0
        with open(path, "rb", buffering=0) as f:
            while True:
                b = f.read(READ_SIZE)
                if not b:
                    return n
                n += len(b)
    benchmark.extra_info.update(entries=N_CONNS, bytes=len(text))
    assert benchmark.pedantic(read, rounds=10, warmup_rounds=1) == len(text)


@need_c
def test_same_records():
    """The benchmarked decoders agree on these inputs (a benchmark of
    wrong answers would be worthless)."""
    for b in BUFS:
        assert _decode_c.decode_dests(b, SEQ, PID, 2) == _decode_py.decode_dests(b, SEQ, PID, 2)
    text = conns_text()[:4 << 20]
    c, c_used = _decode_c.decode_conns(text, False)
    p, p_used = _decode_py.decode_conns(text, False)
    assert list(c) == list(p) and c_used == p_used
    assert _decode_c.render_conns_numeric(text, False) == \
        _decode_py.render_conns_numeric(text, False)
