"""The seam's -Lnc renderer, render_conns_numeric(chunk, final): C parses
each line with the column decoder's parser and writes the output line
itself; the twin formats decode_conns' records with ipvs._conntext. Both
must give, byte for byte, what the CLI's record renderer prints (the one
tests/kernel/test_cli_differential.py proves equal to ipvsadm 1.31's), and
take and refuse exactly the lines decode_conns does. Every test runs
against both implementations."""
import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ipvs import _decode_py
from ipvs._base import DecodeError
from ipvs.cli import _render as R
from ipvs.cli._options import FMT_NUMERIC

from test_decoder_vectors import (CONN_ERRORS, CONN_RECORDS, CONN_TEXT, HEADER, IMPLS,
                                  _decode_c, conns)

need_c = pytest.mark.skipif(_decode_c is None, reason="C decoder not built")

# CONN_TEXT's lines as ipvsadm -Lnc prints them, written out by hand:
# "%-3s %-6s %-11s %-18s %-18s %s", expiry as minutes:seconds, IPv6 in
# brackets, the persistence-engine columns left out.
RENDERED = (
    "TCP 14:59  ESTABLISHED 192.0.2.1:54321    192.0.2.10:80      10.1.2.3:8080\n"
    "UDP 04:59  UDP         [2001:db8::1]:53   [2001:db8::ff]:53  [fe80::1:2]:53\n"
    "TCP 00:00  NONE        10.0.0.1:1         10.0.0.2:2         [::ffff:10.0.0.3]:3\n"
    "UDP 03:00  UDP         10.0.0.1:5060      10.0.0.2:5060      10.0.0.3:5060\n"
    "SCTP 307445734561825860:15 CLOSED      0.0.0.0:0          255.255.255.255:65535"
    " 127.0.0.1:65535\n"
    "IP  00:05  NONE        10.0.0.1:0         10.0.0.2:0         10.0.0.3:0\n"
).encode()


def cli_text(records):
    """What the CLI's per-record renderer prints for records, as bytes."""
    return "".join(R.connection_record(r, FMT_NUMERIC, R.NumericNames())
                   for r in records).encode("latin-1")


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except DecodeError as e:
        return ("error", str(e))


def streamed(impl, text, cuts):
    """The text fed in pieces cut at `cuts`, the unconsumed rest carried
    over as ipvs._conns does, the last piece final: the joined output."""
    out, rest, prev = [], b"", 0
    for cut in sorted(set(cuts)) + [len(text)]:
        rest += text[prev:cut]
        prev = cut
        final = cut == len(text)
        piece, used = impl.render_conns_numeric(rest, final)
        out.append(piece)
        rest = rest[used:]
    assert rest == b""
    return b"".join(out)


# ------------------------------------------------------------ vectors

def test_hand_written_vector_is_the_cli_renderer():
    assert cli_text(CONN_RECORDS) == RENDERED


@pytest.mark.parametrize("impl", IMPLS)
def test_render_vector(impl):
    for final in (False, True):
        text, used = impl.render_conns_numeric(CONN_TEXT, final)
        assert type(text) is bytes
        assert (text, used) == (RENDERED, len(CONN_TEXT))
    assert impl.render_conns_numeric(bytearray(CONN_TEXT), True) == (RENDERED, len(CONN_TEXT))
    assert impl.render_conns_numeric(memoryview(CONN_TEXT), True) == (RENDERED, len(CONN_TEXT))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name,text,message", CONN_ERRORS, ids=[v[0] for v in CONN_ERRORS])
def test_render_error_vector(impl, name, text, message):
    """A bad line anywhere in the chunk: decode_conns' DecodeError, and no
    text of the good lines before it."""
    for final in (False, True):
        for chunk in (HEADER + text, CONN_TEXT + text, CONN_TEXT + text + CONN_TEXT):
            with pytest.raises(DecodeError) as e:
                impl.render_conns_numeric(chunk, final)
            assert str(e.value) == message
            assert outcome(conns, impl, chunk, final) == ("error", message)


@pytest.mark.parametrize("impl", IMPLS)
def test_render_partial_lines(impl):
    line = CONN_TEXT.splitlines(True)[1]
    assert impl.render_conns_numeric(line[:-1], False) == (b"", 0)
    assert impl.render_conns_numeric(line[:-1], True) == (RENDERED.splitlines(True)[0],
                                                          len(line) - 1)
    assert impl.render_conns_numeric(line + line[:20], False) == (
        RENDERED.splitlines(True)[0], len(line))
    assert impl.render_conns_numeric(b"x" * 4096, False) == (b"", 0)
    with pytest.raises(DecodeError, match="longer than 4096"):
        impl.render_conns_numeric(line + b"x" * 4097, False)
    assert impl.render_conns_numeric(HEADER + b"\n\n \t \n", True) == (b"", len(HEADER) + 6)
    assert impl.render_conns_numeric(b"", True) == (b"", 0)


def line_of(protocol, caddr, cport, vaddr, vport, daddr, dport, state, expires, pe=b""):
    return b"%s %s %04X %s %04X %s %04X %s %7d%s\n" % (
        protocol, caddr, cport, vaddr, vport, daddr, dport, state, expires, pe)


def ntop6(text):
    """The C library's spelling of an IPv6 address (its own for ::a.b.c.d)."""
    return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))


ODD = [
    # expiry of 100 minutes and more widens its column; 99:59 does not
    (line_of(b"TCP", b"0A000001", 1, b"0A000002", 2, b"0A000003", 3, b"NONE", 5999),
     b"TCP 99:59  NONE        10.0.0.1:1         10.0.0.2:2         10.0.0.3:3\n"),
    (line_of(b"TCP", b"0A000001", 1, b"0A000002", 2, b"0A000003", 3, b"NONE", 6000),
     b"TCP 100:00 NONE        10.0.0.1:1         10.0.0.2:2         10.0.0.3:3\n"),
    (line_of(b"TCP", b"0A000001", 1, b"0A000002", 2, b"0A000003", 3, b"NONE", 600000),
     b"TCP 10000:00 NONE        10.0.0.1:1         10.0.0.2:2         10.0.0.3:3\n"),
    # protocol and state longer than their columns, bytes that are not ASCII
    (line_of(b"PROTO", b"0a0b0c0d", 65535, b"0A0B0C0E", 0, b"0A0B0C0F", 80,
             b"SYN_RECV_AND_MORE", 61),
     b"PROTO 01:01  SYN_RECV_AND_MORE 10.11.12.13:65535  10.11.12.14:0      10.11.12.15:80\n"),
    (line_of(b"\xe9\xff", b"0A000001", 1, b"0A000002", 2, b"0A000003", 3, b"\x80\x01", 0),
     b"\xe9\xff  00:00  \x80\x01          10.0.0.1:1         10.0.0.2:2         10.0.0.3:3\n"),
    # an IPv4 service with an IPv6 real server, and the reverse
    (line_of(b"UDP", b"C0A80001", 53, b"C0A80002", 53,
             b"2001:0db8:0000:0000:0000:0000:0000:0001", 53, b"UDP", 10),
     b"UDP 00:10  UDP         192.168.0.1:53     192.168.0.2:53     [2001:db8::1]:53\n"),
    (line_of(b"TCP", b"::1", 1, b"::2", 2, b"01020304", 3, b"CLOSE", 10),
     b"TCP 00:10  CLOSE       [::1]:1            [::2]:2            1.2.3.4:3\n"),
    # addresses whose first five words are zero (inet_ntop's own forms)
    (line_of(b"TCP", b"::ffff:1.2.3.4", 1, b"::", 2, b"::1.2.3.4", 3, b"X", 1),
     ("TCP 00:01  X           %-18s [::]:2             [%s]:3\n" % (
         "[%s]:1" % ntop6("::ffff:1.2.3.4"), ntop6("::1.2.3.4"))).encode()),
    # the persistence-engine columns are not shown, however long
    (line_of(b"UDP", b"0A000001", 5060, b"0A000002", 5060, b"0A000003", 5060, b"UDP", 180,
             b" sip " + b"c" * 3900),
     b"UDP 03:00  UDP         10.0.0.1:5060      10.0.0.2:5060      10.0.0.3:5060\n"),
    # longest endpoints there are
    (line_of(b"TCP", b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
             b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535,
             b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd", 65535, b"ESTABLISHED", 2 ** 64 - 1),
     b"TCP 307445734561825860:15 ESTABLISHED [ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
     b" [ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535"
     b" [ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd]:65535\n"),
]


@pytest.mark.parametrize("impl", IMPLS)
def test_render_odd_fields(impl):
    text = HEADER + b"".join(line for line, _ in ODD)
    want = b"".join(out for _, out in ODD)
    assert impl.render_conns_numeric(text, True) == (want, len(text))
    recs, _ = conns(impl, text, True)
    assert cli_text(recs) == want


@pytest.mark.parametrize("impl", IMPLS)
def test_render_longest_tokens(impl):
    """A line of 4096 bytes whose protocol and state are most of it: the
    output line is longer than the input line (the room C asks for)."""
    line = line_of(b"P" * 2031, b"::", 0, b"::", 0, b"::", 0, b"S" * 2032, 0)
    assert len(line) == 4097  # 4096 and its newline
    text, used = impl.render_conns_numeric(line * 3, True)
    assert used == len(line) * 3
    assert text == cli_text(conns(_decode_py, line * 3, True)[0])
    assert len(text) > len(line) * 3
    with pytest.raises(DecodeError, match="longer than 4096"):
        impl.render_conns_numeric(
            line_of(b"P" * 2031, b"::", 0, b"::", 0, b"::", 0, b"S" * 2033, 0), True)


# -------------------------------------------------- C's slices and room

@need_c
@pytest.mark.parametrize("final", [False, True])
def test_render_input_in_slices(monkeypatch, final):
    """C takes a large input a slice at a time and the twin in one go:
    lines cut by a slice's end, a chunk ending in a partial line, a long
    bad line behind a slice boundary come out the same."""
    monkeypatch.setattr(_decode_c, "_SLICE", 5000)
    text = CONN_TEXT * 100 + b"TCP 00000001 1 00000002 2 00000003 3 S 7"
    assert outcome(_decode_c.render_conns_numeric, text, final) == \
        outcome(_decode_py.render_conns_numeric, text, final)
    out, used = _decode_c.render_conns_numeric(text, final)
    assert out.count(b"\n") == 100 * len(CONN_RECORDS) + final
    bad = text[:30000] + b"TCP " + b"9" * 4100 + b"\n" + text[30000:]
    assert outcome(_decode_c.render_conns_numeric, bad, final) == \
        outcome(_decode_py.render_conns_numeric, bad, final) == \
        ("error", "connection line longer than 4096 bytes")


@need_c
def test_render_stops_before_a_line_it_has_no_room_for():
    """Called with the least output room the header promises progress
    with, C renders what fits, says it stopped, and goes on from where it
    stopped: the same text as with room for everything."""
    from ipvs._ipvs_cdecoder import ffi, lib
    text = CONN_TEXT * 200
    cap = 4096 + lib.IPVS_RENDER_ROOM
    out = ffi.new("uint8_t[]", cap)
    written, full, consumed = ffi.new("size_t *"), ffi.new("int *"), ffi.new("size_t *")
    pieces, pos, calls = [], 0, 0
    while pos < len(text):
        assert lib.ipvs_render_conns_numeric(text[pos:], len(text) - pos, 1, out, cap,
                                             written, full, consumed) == 0
        assert consumed[0] > 0 and written[0] <= cap
        assert full[0] == (pos + consumed[0] < len(text))
        pieces.append(ffi.buffer(out, written[0])[:])
        pos += consumed[0]
        calls += 1
    assert calls > 10
    assert b"".join(pieces) == _decode_py.render_conns_numeric(text, True)[0]
    # no room for even one line: nothing written, nothing consumed
    assert lib.ipvs_render_conns_numeric(text, len(text), 1, out, 100, written, full,
                                         consumed) == 0
    assert (written[0], full[0], consumed[0]) == (0, 1, 0)


# ------------------------------------------------ random tables (hypothesis)

V4 = st.integers(0, 2 ** 32 - 1)
V6 = st.one_of(
    st.binary(min_size=16, max_size=16),
    st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF, 0x1234]), min_size=8, max_size=8)
    .map(lambda w: struct.pack("!8H", *w)),
    V4.map(lambda v: bytes(10) + b"\xff\xff" + v.to_bytes(4, "big")),
    V4.map(lambda v: bytes(12) + v.to_bytes(4, "big")))
TOKEN = st.binary(min_size=1, max_size=16).map(
    lambda b: bytes(c for c in b if c not in b" \t\n\v\f\r") or b"x")


@st.composite
def address(draw, v6):
    """(token as the kernel, or another writer, spells it, family, text)"""
    if not v6:
        v = draw(V4)
        tok = (b"%08X" if draw(st.booleans()) else b"%08x") % v
        return tok, 2, socket.inet_ntop(socket.AF_INET, v.to_bytes(4, "big"))
    raw = draw(V6)
    text = socket.inet_ntop(socket.AF_INET6, raw)
    full = ":".join("%04x" % w for w in struct.unpack("!8H", raw))
    tok = draw(st.sampled_from([full, full.upper(), text])).encode()
    return tok, 10, text


@st.composite
def entry(draw):
    """(kernel-format line, the record decode_conns makes of it)"""
    v6 = draw(st.booleans())
    c, v, d = draw(address(v6)), draw(address(v6)), draw(address(draw(st.booleans())))
    ports = [draw(st.integers(0, 65535)) for _ in range(3)]
    protocol = draw(st.one_of(st.sampled_from([b"TCP", b"UDP", b"SCTP"]),
                              TOKEN.filter(lambda t: t != b"Pro")))  # "Pro": the header
    state = draw(st.one_of(st.sampled_from([b"ESTABLISHED", b"SYN_RECV", b"FIN_WAIT",
                                            b"TIME_WAIT", b"NONE", b"CLOSE", b"UDP"]), TOKEN,
                           st.integers(12, 2000).map(lambda n: b"Z" * n)))
    expires = draw(st.one_of(st.integers(0, 6100), st.integers(0, 2 ** 64 - 1)))
    pe = draw(st.sampled_from([b"", b" sip", b" sip call-1@x", b" sip a b  c", b" x " + b"d" * 900]))
    sep = draw(st.sampled_from([b" ", b"  ", b"\t", b" \t "]))
    words = [protocol, c[0], b"%04X" % ports[0], v[0], b"%04X" % ports[1], d[0],
             b"%04X" % ports[2], state, b"%7d" % expires]
    line = sep.join(words) + pe + b"\n"
    pe_words = pe.split(None, 1)
    rec = (protocol.decode("latin-1"), c[1], c[2], ports[0], v[2], ports[1], d[2], ports[2],
           state.decode("latin-1"), expires,
           pe_words[0].decode() if pe_words else "",
           pe_words[1].rstrip().decode() if len(pe_words) > 1 else "")
    return line, rec


TABLE = st.lists(entry(), max_size=60)
_PROPS = settings(max_examples=150, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("impl", IMPLS)
@_PROPS
@given(table=TABLE, cuts=st.lists(st.integers(0, 1 << 16), max_size=12))
def test_render_random_tables(impl, table, cuts):
    """Random tables (both families, odd protocols and states, long ones,
    any expiry, PE columns) render as the CLI's record renderer prints
    their records, whole and fed in pieces cut anywhere."""
    text = HEADER + b"".join(line for line, _ in table)
    want = cli_text([rec for _, rec in table])
    assert conns(impl, text, True) == ([rec for _, rec in table], len(text))
    assert impl.render_conns_numeric(text, True) == (want, len(text))
    assert streamed(impl, text, [c % (len(text) + 1) for c in cuts]) == want


@need_c
@_PROPS
@given(table=TABLE, junk=st.binary(max_size=40), at=st.integers(0, 60))
def test_render_random_tables_with_a_bad_line_agree(table, junk, at):
    """A random line among good ones: C and the twin give the same text or
    the same DecodeError, and the twin's is decode_conns' outcome."""
    lines = [line for line, _ in table]
    lines.insert(at % (len(lines) + 1), junk + b"\n")
    text = HEADER + b"".join(lines)
    for final in (False, True):
        c = outcome(_decode_c.render_conns_numeric, text, final)
        assert c == outcome(_decode_py.render_conns_numeric, text, final)
        d = outcome(conns, _decode_py, text, final)
        assert c[0] == d[0]
        if c[0] == "error":
            assert c == d
        else:
            assert c[1] == (cli_text(d[1][0]), d[1][1])
