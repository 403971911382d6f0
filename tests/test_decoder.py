"""Decoder seam: selection, differential checks between C and Python on
prefixes and real captured kernel replies, the connection stream, and the
client's use of the records. Vectors live in test_decoder_vectors.py."""
import glob
import json
import os
import socket
import struct
import subprocess
import sys
import tracemalloc

import pytest

import ipvs
from ipvs import _client, _conns, _decode_py, _decoder, _spec as spec
from ipvs._base import DecodeError
from ipvs._model import Destination, Service
from ipvs._transport import Conn

from test_decoder_vectors import (AF4, CONN_RECORDS, CONN_TEXT, DUMP_VECTORS, ERROR_VECTORS,
                                  conns,
                                  HEADER, IMPLS, PID, SEQ, _decode_c, run_dump)

DATA = os.path.join(os.path.dirname(__file__), "data", "decoder")
need_c = pytest.mark.skipif(_decode_c is None, reason="C decoder not built")


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except DecodeError as e:
        return ("error", str(e))


# ---------------------------------------------------------------- the seam

def test_decoder_matches_environment():
    if os.environ.get("IPVS_PUREPYTHON") == "1" or _decode_c is None:
        assert ipvs.DECODER == "python"
        assert _decoder.decode_dests is _decode_py.decode_dests
    else:
        assert ipvs.DECODER == "c"
        assert _decoder.decode_dests is _decode_c.decode_dests
        assert _decoder.decode_conns is _decode_c.decode_conns
        assert _decoder.render_conns_numeric is _decode_c.render_conns_numeric


def test_purepython_forces_twin():
    env = dict(os.environ, IPVS_PUREPYTHON="1")
    out = subprocess.run([sys.executable, "-c", "import ipvs; print(ipvs.DECODER)"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "python"


def test_same_signatures():
    import inspect
    if _decode_c is None:
        pytest.skip("C decoder not built")
    for name in ("decode_services", "decode_dests", "decode_conns", "render_conns_numeric"):
        assert inspect.signature(getattr(_decode_c, name)) == \
            inspect.signature(getattr(_decode_py, name))


# ------------------------------------------------------- differential checks

@need_c
@pytest.mark.parametrize("name,kind,buf,expected", DUMP_VECTORS + [v[:3] + (None,) for v in ERROR_VECTORS],
                         ids=[v[0] for v in DUMP_VECTORS + ERROR_VECTORS])
def test_every_prefix_and_suffix_agrees(name, kind, buf, expected):
    """Truncated buffers (a short read) and trailing data decode the same
    in both, or fail with the same message."""
    for n in range(len(buf) + 1):
        for b in (buf[:n], buf[:n] + b"\0\0\0\0", buf[:n] + buf):
            assert outcome(run_dump, _decode_c, kind, b) == outcome(run_dump, _decode_py, kind, b)


@need_c
def test_conn_text_split_anywhere_agrees():
    for n in range(len(CONN_TEXT) + 1):
        for final in (False, True):
            assert outcome(conns, _decode_c, CONN_TEXT[:n], final) == \
                outcome(conns, _decode_py, CONN_TEXT[:n], final)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("step", [1, 2, 7, 64, 1000])
def test_conn_stream_in_pieces(impl, step):
    """Fed piece by piece, keeping the unconsumed rest as a caller does,
    the stream gives exactly the records of the whole text."""
    records, rest, pos = [], b"", 0
    while pos < len(CONN_TEXT):
        rest += CONN_TEXT[pos:pos + step]
        pos += step
        recs, used = conns(impl, rest, False)
        records += recs
        rest = rest[used:]
    recs, used = conns(impl, rest, True)
    assert used == len(rest)
    assert records + recs == CONN_RECORDS


@pytest.mark.parametrize("impl", IMPLS)
def test_conn_partial_line_bounded(impl):
    assert conns(impl, b"x" * 4096, False) == ([], 0)
    with pytest.raises(DecodeError, match="longer than 4096"):
        conns(impl, b"x" * 4097, False)
    assert conns(impl, HEADER + b"\n\n   \n", True) == ([], len(HEADER) + 6)


# -------------------------------------------------------- real kernel data

def v6_addresses():
    """IPv6 addresses whose inet_ntop text takes every rule: no run, runs
    of one (never compressed), two runs of equal length (the first wins),
    leading and trailing runs, the IPv4-compatible and -mapped forms and
    their near misses, and random words of every digit count."""
    import random
    rng = random.Random(5952)
    fixed = ["::", "::1", "1::", "::ffff:1.2.3.4", "::1.2.3.4", "::ffff:0:1.2.3.4",
             "::fffe:1.2.3.4", "1:0:0:1:0:0:0:1", "1:0:0:1:0:0:1:1", "0:0:1::", "1:0:1:0:1:0:1:0",
             "ffff::", "::ffff", "::ffff:0", "0:0:0:0:0:ffff:0:0", "::1:0:0", "fe80::1:2:3:4",
             "2001:db8::", "::0.0.0.1", "::255.255.255.255"]
    out = [socket.inet_pton(socket.AF_INET6, a) for a in fixed]
    words = [0, 0, 0, 1, 0xF, 0x10, 0xFF, 0x100, 0xFFF, 0x1000, 0xFFFF]
    for _ in range(3000):
        w = [rng.choice(words) if rng.random() < 0.8 else rng.randrange(65536)
             for _ in range(8)]
        out.append(struct.pack("!8H", *w))
    return out


@pytest.mark.parametrize("impl", IMPLS)
def test_conn_ipv6_text_is_inet_ntop(impl):
    """Addresses given in the kernel's full %pI6 form and in inet_pton's
    short forms come out exactly as the C library's inet_ntop writes them
    (the C decoder formats them itself)."""
    raws = v6_addresses()
    lines, want = [], []
    for i, raw in enumerate(raws):
        full = ":".join("%04x" % w for w in struct.unpack("!8H", raw))
        short = socket.inet_ntop(socket.AF_INET6, raw)
        text = socket.inet_ntop(socket.AF_INET6, raw)
        ipv4 = raw[12:]
        lines.append(b"TCP %s 0050 %s 01BB %08X 1F90 ESTABLISHED 7\n"
                     % (full.encode(), (short if i % 2 else full.upper()).encode(),
                        int.from_bytes(ipv4, "big")))
        want.append((text, text, socket.inet_ntop(socket.AF_INET, ipv4)))
    recs, used = conns(impl, HEADER + b"".join(lines), True)
    assert [(r[2], r[4], r[6]) for r in recs] == want
    assert {r[1] for r in recs} == {socket.AF_INET6}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("final", [False, True])
def test_conn_short_lines_agree(impl, final):
    """Lines much shorter than the kernel's (the C wrapper sizes its output
    for 64-byte lines and must call again for the rest) give the same
    records from both decoders, in order, none lost at the seams."""
    line = b"UDP %08X %X %08X %X %08X %X S%d %d\n"
    text = b"".join(line % (i, i % 16, i * 7 % 2 ** 32, i % 4096, i & 0xFF, i % 3, i % 10, i)
                    for i in range(1, 6001)) + b"TCP 00000001 1 00000002 2 00000003 3 S 6001"
    recs, used = conns(impl, text, final)
    assert len(recs) == 6000 + final
    assert [r[9] for r in recs] == list(range(1, 6001 + final))
    assert (recs, used) == conns(_decode_py, text, final)


@need_c
@pytest.mark.parametrize("final", [False, True])
def test_conn_input_in_slices_agrees(monkeypatch, final):
    """C takes a large input a slice at a time (so that its output space
    stays bounded); lines cut by a slice's end, a line too long for the
    last slice and a chunk ending in a partial line come out as the twin
    has them."""
    monkeypatch.setattr(_decode_c, "_SLICE", 5000)
    text = HEADER + (CONN_TEXT * 100)[len(HEADER):] + b"TCP 00000001 1 00000002 2 00000003 3 S 7"
    assert len(text) > 8 * 5000
    assert outcome(conns, _decode_c, text, final) == outcome(conns, _decode_py, text, final)
    recs, used = conns(_decode_c, text, final)
    assert len(recs) == 100 * len(CONN_RECORDS) + final
    bad = text[:30000] + b"TCP " + b"9" * 4100 + b"\n" + text[30000:]
    assert outcome(conns, _decode_c, bad, final) == outcome(conns, _decode_py, bad, final)
    assert outcome(conns, _decode_c, bad, final)[0] == "error"


@pytest.mark.parametrize("impl", IMPLS)
def test_conn_many_distinct_values_agree(impl):
    """Columns whose values repeat are decoded through a dictionary of at
    most 256 values a call in C: a chunk where the virtual and real
    addresses, states, protocols and PE names run past that (each at its own
    line, and some coming back after it) gives the same records as the twin."""
    line = b"P%d %08X %04X %08X 0050 %s 1F90 S%d %d sip%d call-%d\n"
    text = HEADER + b"".join(
        line % (i % 300, i, i % 65536, 0x0A000000 + i % 700, b"%08X" % (0x0B000000 + i % 400)
                if i % 3 else b"2001:0db8:0000:0000:0000:0000:0000:%04x" % (i % 900),
                i % 260, i, i % 280, i)
        for i in range(5000))
    recs, used = conns(impl, text, True)
    assert used == len(text) and len(recs) == 5000
    assert len({r[4] for r in recs}) == 700 and len({r[8] for r in recs}) == 260
    assert (recs, used) == conns(_decode_py, text, True)
    assert [r[9] for r in recs] == list(range(5000))


@need_c
def test_conn_every_byte_as_separator_agrees():
    """The C tokenizer classifies bytes with its own table; every byte
    value, put between and inside tokens at several positions, splits (or
    does not split) the line as bytes.split() does in the twin."""
    base = [b"TCP", b"C0A80001", b"1F90", b"0A0A0A0A", b"0050", b"0A000001", b"1F90",
            b"ESTABLISHED", b"12", b"sip", b"call-1"]
    for b in range(256):
        if b == 10:
            continue
        c = bytes([b])
        for shift in range(9):
            for pos in (1, 3, 8, 10):
                toks = list(base)
                toks[pos] = toks[pos][:2] + c + toks[pos][2:]
                line = b" " * shift + (c * (1 + shift % 3)).join(toks) + c + b"\n"
                assert outcome(conns, _decode_c, line, True) == \
                    outcome(conns, _decode_py, line, True), (b, shift, pos)


def load_capture(name):
    with open(os.path.join(DATA, name + ".json")) as f:
        meta = json.load(f)
    bufs = []
    path = os.path.join(DATA, name + ".nlbufs")
    if os.path.exists(path):
        with open(path, "rb") as f:
            raw = f.read()
    else:  # the big ones are stored compressed
        import gzip
        with gzip.open(path + ".gz") as f:
            raw = f.read()
    pos = 0
    while pos < len(raw):
        (n,) = struct.unpack_from("=I", raw, pos)
        bufs.append(raw[pos + 4:pos + 4 + n])
        pos += 4 + n
    return meta, bufs


CAPTURES = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(DATA, "*.json")))


def decode_capture(impl, meta, bufs):
    out, status, err = [], 0, 0
    for b in bufs:
        if meta["kind"] == "services":
            recs, st, e = impl.decode_services(b, meta["seq"], meta["pid"])
        else:
            recs, st, e = impl.decode_dests(b, meta["seq"], meta["pid"], meta["svc_af"])
        out += recs
        status |= st
        err = err or e
    return out, status, err


def generic(meta, bufs):
    """The same replies through the spec-table decoder (independent code)."""
    from ipvs import _netlink as nl
    out = []
    for b in bufs:
        for m in nl.iter_messages(b):
            if m.type < nl.NLMSG_OVERRUN + 1:
                continue
            _, pos = nl.genl_payload(m)
            out.append(spec.decode_attrs("cmd", m.buf, pos, m.end))
    return out


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", CAPTURES)
def test_captured_dump(impl, name):
    meta, bufs = load_capture(name)
    recs, status, err = decode_capture(impl, meta, bufs)
    assert status == _decode_py.DONE and err == 0
    assert recs == decode_capture(_decode_py, meta, bufs)[0]
    ref = generic(meta, bufs)
    assert len(recs) == len(ref) > 0
    for r, a in zip(recs, ref):
        if meta["kind"] == "services":
            s = a["service"]
            stats = s.get("stats64") or s["stats"]
            assert (r[0], r[5], r[7], r[9]) == (s["af"], s["sched_name"], s["timeout"],
                                               s.get("pe_name", ""))
            assert r[4] == s.get("fwmark", 0)
            if not r[4]:
                assert (r[1], r[3]) == (s["protocol"], s["port"])
                assert r[2][:len(s["addr"])] == s["addr"][:16]
        else:
            d = a["dest"]
            stats = d.get("stats64") or d["stats"]
            assert (r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]) == (
                d["port"], d["fwd_method"], struct.unpack("=i", struct.pack("=I", d["weight"]))[0],
                d["u_thresh"], d["l_thresh"], d["active_conns"], d["inact_conns"],
                d["persist_conns"], d["addr_family"])
            assert (r[10], r[11], r[12]) == (d.get("tun_type", 0), d.get("tun_port", 0),
                                             d.get("tun_flags", 0))
        assert list(r[-10:]) == [stats[k] for k in spec.STATS_FIELDS]


def test_captures_cover_the_interesting_cases():
    if not CAPTURES:
        pytest.skip("no captured replies")
    meta, bufs = load_capture("services")
    svcs = [_client.service_from_record(r) for r in decode_capture(_decode_py, meta, bufs)[0]]
    assert {s.af for s in svcs} == {socket.AF_INET, socket.AF_INET6}
    assert any(s.fwmark for s in svcs) and any(s.pe_name == "sip" for s in svcs)
    assert any(s.stats.conns and s.stats.inbytes for s in svcs)
    meta, bufs = load_capture("dests-fwmark-tunnels")
    ds = [_client.dest_from_record(r) for r in decode_capture(_decode_py, meta, bufs)[0]]
    assert {d.tun_type for d in ds} == {1, 2} and {d.tun_flags for d in ds} == {0, 1, 2}
    meta, bufs = load_capture("dests-20k")
    assert len(bufs) > 1
    assert len(decode_capture(_decode_py, meta, bufs)[0]) == 20000


def conn_capture():
    import gzip
    path = os.path.join(DATA, "ip_vs_conn.txt.gz")
    if not os.path.exists(path):
        pytest.skip("no captured connection table")
    with gzip.open(path) as f:
        return f.read()


@pytest.mark.parametrize("impl", IMPLS)
def test_captured_connections(impl):
    text = conn_capture()
    recs, used = conns(impl, text, True)
    assert used == len(text)
    assert len(recs) == text.count(b"\n") - 1  # less the header
    assert recs == conns(_decode_py, text, True)[0]
    assert {r[1] for r in recs} == {socket.AF_INET, socket.AF_INET6}
    pe = [r for r in recs if r[10]]
    assert pe and all(r[10] == "sip" and r[11].startswith("call-") for r in pe)
    for r in recs[:2000]:
        for text_addr in (r[2], r[4], r[6]):
            af = socket.AF_INET6 if ":" in text_addr else socket.AF_INET
            assert socket.inet_ntop(af, socket.inet_pton(af, text_addr)) == text_addr


# ---------------------------------------------------------- connection stream

def write_table(path, n):
    line4 = b"TCP %08X %04X 0A0A0A0A 0050 0A000001 1F90 ESTABLISHED     %d\n"
    with open(path, "wb") as f:
        f.write(HEADER)
        for i in range(n):
            f.write(line4 % (0xC0000000 + i, i % 65536, i % 900))


def test_iter_connections(tmp_path):
    p = tmp_path / "conn"
    p.write_bytes(CONN_TEXT)
    conns = list(_conns.iter_connections(str(p)))
    assert [c.caddr for c in conns] == [r[2] for r in CONN_RECORDS]
    assert conns[3].pe_name == "sip" and conns[3].pe_data == "a84b4c76e66710"
    assert conns[1].af == socket.AF_INET6 and conns[1].daddr == "fe80::1:2"


def test_iter_connections_constant_memory(tmp_path):
    peaks = []
    for n in (10000, 40000):
        p = tmp_path / ("conn%d" % n)
        write_table(str(p), n)
        tracemalloc.start()
        count = sum(1 for _ in _conns.iter_connection_records(str(p)))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert count == n
    assert peaks[1] < peaks[0] * 1.5 + (1 << 20), peaks


# ---------------------------------------------------------- client plumbing

class FakeConn(Conn):
    """The transport's request loop (Conn.execute, which Client._dump
    runs) over replies queued per request instead of a socket."""
    pid = PID

    def __init__(self, replies):
        self.replies = list(replies)
        self.sent = []
        self._dirty = False

    def next_seq(self):
        return SEQ

    def _drain(self):  # every reply of these tests is read to its end
        raise AssertionError("an exchange was left unfinished")

    def send(self, data):
        self.sent.append(data)

    def recv(self):
        return self.replies.pop(0)


@pytest.mark.parametrize("impl", IMPLS)
def test_client_models_from_records(impl, monkeypatch):
    monkeypatch.setattr(_client, "decode_services", impl.decode_services)
    monkeypatch.setattr(_client, "decode_dests", impl.decode_dests)
    c = object.__new__(_client.Client)
    c.family = 0x24
    c._conn = FakeConn([DUMP_VECTORS[0][2]])
    svcs = c.services()
    assert svcs[0] == Service(af=AF4, protocol=6, address="192.0.2.10", port=80, scheduler="wlc",
                              flags=1, timeout=300, netmask="255.255.255.0",
                              stats=ipvs.Stats(*svcs[0].stats.__dict__.values()))
    assert svcs[0].stats.conns == 11 << 40
    assert svcs[1].address == "2001:db8::1" and svcs[1].netmask == "64" and svcs[1].pe_name == "sip"
    assert svcs[2].fwmark == 0xDEADBEEF and svcs[2].address is None
    c._conn = FakeConn([DUMP_VECTORS[6][2]])
    ds = c.destinations(svcs[0])
    assert ds[0].address == "10.1.2.3" and ds[0].port == 8080 and ds[0].weight == 5
    assert ds[1] == Destination(address="fe80::1:2", port=443, af=socket.AF_INET6, fwd_method=2,
                                weight=-1, tun_type=1, tun_port=6080, tun_flags=2,
                                stats=ipvs.Stats())
    assert ds[2].af == AF4 and ds[2].persistent_conns == 3


@pytest.mark.parametrize("impl", IMPLS)
def test_client_kernel_error(impl, monkeypatch):
    from ipvs import KernelError
    monkeypatch.setattr(_client, "decode_services", impl.decode_services)
    c = object.__new__(_client.Client)
    c.family = 0x24
    c._conn = FakeConn([DUMP_VECTORS[3][2]])
    with pytest.raises(KernelError) as e:
        c.services()
    assert e.value.errno == 3


def test_error_codes_agree():
    """The C header's codes and the twin's table are one list."""
    if _decode_c is None:
        pytest.skip("C decoder not built")
    lib = _decode_c.lib
    names = ["MSG_LEN", "AFTER_DONE", "SEQ", "SHORT_ERROR", "OVERRUN", "SHORT_GENL", "NO_NEST",
             "TRAILING", "ATTR_LEN", "MISSING", "SHORT_ATTR", "SHORT_ADDR", "LONG_STRING",
             "LINE_LONG", "CONN_SHORT", "CONN_FIELD", "BIG", "PROC_LAYOUT"]
    for name in names:
        assert getattr(lib, "IPVS_E_" + name) == getattr(_decode_py, "E_" + name)
    assert sorted(_decode_py.ERRORS) == list(range(1, len(names) + 1))
    assert (lib.IPVS_DONE, lib.IPVS_INTERRUPTED) == (_decode_py.DONE, _decode_py.INTERRUPTED)
