"""Shared decoder vectors: input bytes built with the project's encoder and
the records expected from them, written out by hand (not computed by
either decoder). test_decoder.py and test_decoder_fuzz.py import these;
the tests here check the vectors against both decoders."""
import socket
import struct

import pytest

from ipvs import _decode_py, _netlink as nl, _spec as spec

try:
    from ipvs import _decode_c
except ImportError:  # not built: only the twin is tested
    _decode_c = None

AF4, AF6 = int(socket.AF_INET), int(socket.AF_INET6)
FAMILY = 0x24  # any generic-netlink family id: the decoders do not check it
SEQ, PID = 77, 4242

IMPLS = [pytest.param(_decode_py, id="python"),
         pytest.param(_decode_c, id="c", marks=pytest.mark.skipif(
             _decode_c is None, reason="C decoder not built"))]


def a16(af, text):
    raw = socket.inet_pton(af, text)
    return raw + bytes(16 - len(raw))


def msg(attrs_bytes, *, seq=SEQ, pid=PID, flags=nl.NLM_F_MULTI, cmd=spec.CMD_NEW_SERVICE):
    return nl.encode_genl(FAMILY, cmd, 1, attrs_bytes, flags=flags, seq=seq, pid=pid)


def done(err=0, *, seq=SEQ, pid=PID, flags=nl.NLM_F_MULTI):
    return nl.encode_message(nl.NLMSG_DONE, flags, seq, struct.pack("=i", -err), pid)


def error(err, *, seq=SEQ, pid=PID):
    # NLMSG_ERROR: errno then the original request header
    return nl.encode_message(nl.NLMSG_ERROR, 0x100, seq,
                             struct.pack("=i", -err) + bytes(16), pid)


def service_msg(values, **kw):
    return msg(spec.encode_attrs("cmd", {"service": values}), **kw)


def dest_msg(values, **kw):
    return msg(spec.encode_attrs("cmd", {"dest": values}), cmd=spec.CMD_NEW_DEST, **kw)


STATS32 = (1, 2, 3, 4 << 33, 5 << 33, 6, 7, 8, 9, 10)
STATS64 = (11 << 40, 12 << 40, 13 << 40, 14 << 40, 15 << 40, 16, 17, 18, 19, 20)
# the kernel sends both nests; the 64-bit one wins
SVC_TCP4 = {
    "af": AF4, "protocol": 6, "addr": a16(AF4, "192.0.2.10")[:4], "port": 80,
    "sched_name": "wlc", "flags": (0x3, 0x1), "timeout": 300,
    "netmask": socket.inet_pton(AF4, "255.255.255.0"),
    "stats": dict(zip(spec.STATS_FIELDS, STATS32)),
    "stats64": dict(zip(spec.STATS_FIELDS, STATS64)),
}
SVC_TCP4_REC = (AF4, 6, a16(AF4, "192.0.2.10"), 80, 0, "wlc", 0x1, 300,
                struct.unpack("=I", socket.inet_pton(AF4, "255.255.255.0"))[0], "") + STATS64
SVC_UDP6 = {
    "af": AF6, "protocol": 17, "addr": a16(AF6, "2001:db8::1"), "port": 53,
    "sched_name": "mh", "flags": (0x18, 0xFFFFFFFF), "timeout": 0,
    "netmask": struct.pack("=I", 64), "pe_name": "sip",
    "stats": dict(zip(spec.STATS_FIELDS, STATS32)),
}
SVC_UDP6_REC = (AF6, 17, a16(AF6, "2001:db8::1"), 53, 0, "mh", 0x18, 0, 64, "sip") + STATS32
SVC_FWM = {
    "af": AF4, "fwmark": 0xDEADBEEF, "sched_name": "rr", "flags": (0, 0),
    "timeout": 0, "netmask": b"\xff\xff\xff\xff",
}
SVC_FWM_REC = (AF4, 0, bytes(16), 0, 0xDEADBEEF, "rr", 0, 0, 0xFFFFFFFF, "") + (0,) * 10

DEST_MASQ4 = {
    "addr": a16(AF4, "10.1.2.3")[:4], "port": 8080, "fwd_method": 0, "weight": 5,
    "u_thresh": 100, "l_thresh": 10, "active_conns": 7, "inact_conns": 8,
    "persist_conns": 9, "addr_family": AF4,
    "stats": dict(zip(spec.STATS_FIELDS, STATS32)),
    "stats64": dict(zip(spec.STATS_FIELDS, STATS64)),
}
DEST_MASQ4_REC = (a16(AF4, "10.1.2.3"), 8080, 0, 5, 100, 10, 7, 8, 9, AF4, 0, 0, 0) + STATS64
DEST_GUE6 = {
    "addr": a16(AF6, "fe80::1:2"), "port": 443, "fwd_method": 2,
    "weight": 0xFFFFFFFF,  # -1 on the wire as u32
    "u_thresh": 0, "l_thresh": 0, "active_conns": 0, "inact_conns": 0,
    "persist_conns": 0, "addr_family": AF6, "tun_type": 1, "tun_port": 6080,
    "tun_flags": 2,
}
DEST_GUE6_REC = (a16(AF6, "fe80::1:2"), 443, 2, -1, 0, 0, 0, 0, 0, AF6, 1, 6080, 2) + (0,) * 10
# an old kernel: no addr_family (the service's family is used), only 32-bit stats
DEST_OLD = {
    "addr": a16(AF4, "10.9.9.9")[:4], "port": 0, "fwd_method": 3, "weight": 1,
    "u_thresh": 0, "l_thresh": 0, "active_conns": 1, "inact_conns": 2,
    "persist_conns": 3, "stats": dict(zip(spec.STATS_FIELDS, STATS32)),
}
DEST_OLD_REC = (a16(AF4, "10.9.9.9"), 0, 3, 1, 0, 0, 1, 2, 3, AF4, 0, 0, 0) + STATS32

# (name, kind, buffer, expected (records, status, errno))
DUMP_VECTORS = [
    ("services", "services",
     service_msg(SVC_TCP4) + service_msg(SVC_UDP6) + service_msg(SVC_FWM) + done(),
     ([SVC_TCP4_REC, SVC_UDP6_REC, SVC_FWM_REC], 1, 0)),
    ("services-no-done", "services", service_msg(SVC_FWM), ([SVC_FWM_REC], 0, 0)),
    ("services-intr", "services",
     service_msg(SVC_FWM, flags=nl.NLM_F_MULTI | nl.NLM_F_DUMP_INTR) + done(),
     ([SVC_FWM_REC], 3, 0)),
    ("services-error", "services", error(3), ([], 1, 3)),
    ("services-done-errno", "services", service_msg(SVC_TCP4) + done(95),
     ([SVC_TCP4_REC], 1, 95)),
    ("noop-and-empty", "services",
     nl.encode_message(nl.NLMSG_NOOP, 0, SEQ, b"", PID) + done(), ([], 1, 0)),
    ("dests", "dests",
     dest_msg(DEST_MASQ4) + dest_msg(DEST_GUE6) + dest_msg(DEST_OLD) + done(),
     ([DEST_MASQ4_REC, DEST_GUE6_REC, DEST_OLD_REC], 1, 0)),
    ("dests-any-pid", "dests-pid0", dest_msg(DEST_OLD, pid=999) + done(pid=999),
     ([DEST_OLD_REC], 1, 0)),
    ("empty", "dests", b"", ([], 0, 0)),
]


def run_dump(impl, kind, buf):
    if kind == "services":
        return impl.decode_services(buf, SEQ, PID)
    if kind == "dests-pid0":
        return impl.decode_dests(buf, SEQ, 0, AF4)
    return impl.decode_dests(buf, SEQ, PID, AF4)


def _setlen(buf, off, n):
    b = bytearray(buf)
    struct.pack_into("=H", b, off, n)
    return bytes(b)


_S = service_msg(SVC_TCP4)
_D = dest_msg(DEST_MASQ4)
# (name, kind, buffer, expected DecodeError message); offsets: 16 nlmsghdr,
# 4 genl header, then the nest attribute at 20, its first child at 24
ERROR_VECTORS = [
    ("short-message-len", "services", struct.pack("=IHHII", 8, 16, 0, SEQ, PID), "bad message length"),
    ("overlong-message", "services", _S[:-4], "bad message length"),
    ("after-done", "services", done() + _S, "data after the end of the reply"),
    ("wrong-seq", "services", service_msg(SVC_FWM, seq=SEQ + 1), "reply out of sequence"),
    ("wrong-pid", "services", service_msg(SVC_FWM, pid=1), "reply out of sequence"),
    ("short-done", "services", nl.encode_message(nl.NLMSG_DONE, 0, SEQ, b"", PID),
     "short error message"),
    ("overrun", "services", nl.encode_message(nl.NLMSG_OVERRUN, 0, SEQ, b"", PID), "overrun"),
    ("short-genl", "services", nl.encode_message(FAMILY, 0, SEQ, b"\x01\x01", PID),
     "short generic netlink header"),
    ("no-nest", "services", dest_msg(DEST_OLD), "reply without the expected nest"),
    ("trailing", "services", _S + b"\0" * 8, "trailing bytes"),
    ("attr-len-zero", "services", _setlen(_S, 24, 0), "bad attribute length"),
    ("attr-overruns-nest", "services", _setlen(_S, 24, 0x7000), "bad attribute length"),
    ("missing-af", "services", service_msg({k: v for k, v in SVC_FWM.items() if k != "af"}),
     "missing attribute"),
    ("missing-sched", "services",
     service_msg({k: v for k, v in SVC_FWM.items() if k != "sched_name"}), "missing attribute"),
    ("short-flags", "services",
     msg(nl.nested(1, nl.attr(1, struct.pack("=H", AF4)), nl.attr(5, b"\1\0\0\0"),
                   nl.attr(6, b"rr\0"), nl.attr(7, b"\0\0\0\0"))),
     "attribute too short"),
    ("short-addr", "services",
     service_msg(dict(SVC_TCP4, addr=b"\1\2")), "address attribute too short"),
    ("long-sched", "services",
     service_msg(dict(SVC_FWM, sched_name="x" * 16)), "name longer than 15 bytes"),
    ("stats-missing-counter", "services",
     service_msg(dict(SVC_FWM, stats={"conns": 1})), "missing attribute"),
    ("stats64-short-counter", "dests",
     msg(nl.nested(2, spec.encode_attrs("dest", {k: v for k, v in DEST_OLD.items()
                                                   if k != "stats"}),
                     nl.nested(12, *[nl.attr(i, b"\1\0\0\0") for i in range(1, 11)]))),
     "attribute too short"),
    ("dest-missing-weight", "dests",
     dest_msg({k: v for k, v in DEST_OLD.items() if k != "weight"}), "missing attribute"),
    ("dest-short-tun-port", "dests",
     msg(nl.nested(2, spec.encode_attrs("dest", DEST_OLD), nl.attr(14, b"\1"))),
     "attribute too short"),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name,kind,buf,expected", DUMP_VECTORS, ids=[v[0] for v in DUMP_VECTORS])
def test_dump_vector(impl, name, kind, buf, expected):
    assert run_dump(impl, kind, buf) == expected
    # a bytearray and a memoryview work the same as bytes
    assert run_dump(impl, kind, bytearray(buf)) == expected
    assert run_dump(impl, kind, memoryview(buf)) == expected


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name,kind,buf,message", ERROR_VECTORS, ids=[v[0] for v in ERROR_VECTORS])
def test_dump_error_vector(impl, name, kind, buf, message):
    with pytest.raises(_decode_py.DecodeError) as e:
        run_dump(impl, kind, buf)
    assert str(e.value) == message


# ----------------------------------------------------------- connections

HEADER = b"Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
CONN_LINES = [
    (b"TCP C0000201 D431 C000020A 0050 0A010203 1F90 ESTABLISHED     899\n",
     ("TCP", AF4, "192.0.2.1", 0xD431, "192.0.2.10", 80, "10.1.2.3", 8080,
      "ESTABLISHED", 899, "", "")),
    (b"UDP 2001:0db8:0000:0000:0000:0000:0000:0001 0035 2001:0db8:0000:0000:0000:0000:0000:00ff"
     b" 0035 fe80:0000:0000:0000:0000:0000:0001:0002 0035 UDP             299\n",
     ("UDP", AF6, "2001:db8::1", 53, "2001:db8::ff", 53, "fe80::1:2", 53, "UDP", 299, "", "")),
    # IPv4 service with an IPv6 real server (the destination has its own family)
    (b"TCP 0A000001 0001 0A000002 0002 0000:0000:0000:0000:0000:ffff:0a00:0003 0003 NONE"
     b"               0\n",
     ("TCP", AF4, "10.0.0.1", 1, "10.0.0.2", 2, "::ffff:10.0.0.3", 3, "NONE", 0, "", "")),
    # persistence engine columns: a template with SIP call-id
    (b"UDP 0A000001 13C4 0A000002 13C4 0A000003 13C4 UDP             180 sip a84b4c76e66710\n",
     ("UDP", AF4, "10.0.0.1", 5060, "10.0.0.2", 5060, "10.0.0.3", 5060, "UDP", 180,
      "sip", "a84b4c76e66710")),
    (b"SCTP 00000000 0000 FFFFFFFF FFFF 7F000001 ffff CLOSED          18446744073709551615\n",
     ("SCTP", AF4, "0.0.0.0", 0, "255.255.255.255", 0xFFFF, "127.0.0.1", 0xFFFF, "CLOSED",
      2 ** 64 - 1, "", "")),
    # data with inner spaces is kept; trailing white space is not
    (b"IP 0A000001 0000 0A000002 0000 0A000003 0000 NONE 5 xx a b\tc \r\n",
     ("IP", AF4, "10.0.0.1", 0, "10.0.0.2", 0, "10.0.0.3", 0, "NONE", 5, "xx", "a b\tc")),
]
CONN_TEXT = HEADER + b"".join(line for line, _ in CONN_LINES)
CONN_RECORDS = [rec for _, rec in CONN_LINES]

CONN_ERRORS = [
    ("short", b"TCP 0A000001 0001 0A000002 0002 0A000003 0003 NONE\n", "short connection line"),
    ("bad-ipv4", b"TCP 0A00001 0001 0A000002 0002 0A000003 0003 NONE 1\n",
     "bad field in connection line"),
    ("bad-hex", b"TCP 0A00000G 0001 0A000002 0002 0A000003 0003 NONE 1\n",
     "bad field in connection line"),
    ("bad-ipv6", b"TCP 2001::db8::1 0001 2001::2 0002 0A000003 0003 NONE 1\n",
     "bad field in connection line"),
    ("mixed-client-virtual", b"TCP 0A000001 0001 2001::2 0002 0A000003 0003 NONE 1\n",
     "bad field in connection line"),
    ("long-port", b"TCP 0A000001 00001 0A000002 0002 0A000003 0003 NONE 1\n",
     "bad field in connection line"),
    ("signed-port", b"TCP 0A000001 +001 0A000002 0002 0A000003 0003 NONE 1\n",
     "bad field in connection line"),
    ("expires-overflow", b"TCP 0A000001 0001 0A000002 0002 0A000003 0003 NONE 18446744073709551616\n",
     "bad field in connection line"),
    ("expires-negative", b"TCP 0A000001 0001 0A000002 0002 0A000003 0003 NONE -1\n",
     "bad field in connection line"),
    ("nul-in-ipv6", b"TCP 2001::\0 0001 2001::2 0002 0A000003 0003 NONE 1\n",
     "bad field in connection line"),
    ("long-line", b"TCP 0A000001 0001 0A000002 0002 0A000003 0003 NONE 1 sip " + b"x" * 5000 + b"\n",
     "connection line longer than 4096 bytes"),
]


def conns(impl, chunk, final):
    """decode_conns with its records (an iterator) taken into a list."""
    recs, used = impl.decode_conns(chunk, final)
    return list(recs), used


@pytest.mark.parametrize("impl", IMPLS)
def test_conn_records_are_an_iterator(impl):
    """Both decoders hand records out as an iterator (C makes each tuple
    as it is taken), so no caller can come to rely on len() or indexing
    with one decoder and break with the other."""
    for final in (False, True):
        recs, used = impl.decode_conns(CONN_TEXT, final)
        assert iter(recs) is recs and used == len(CONN_TEXT)
        with pytest.raises(TypeError):
            len(recs)
        assert next(recs) == CONN_RECORDS[0]
        assert list(recs) == CONN_RECORDS[1:]
    empty, used = impl.decode_conns(HEADER, True)
    assert iter(empty) is empty and list(empty) == [] and used == len(HEADER)


@pytest.mark.parametrize("impl", IMPLS)
def test_conn_vector(impl):
    assert conns(impl, CONN_TEXT, False) == (CONN_RECORDS, len(CONN_TEXT))
    assert conns(impl, CONN_TEXT, True) == (CONN_RECORDS, len(CONN_TEXT))
    assert conns(impl, bytearray(CONN_TEXT), True) == (CONN_RECORDS, len(CONN_TEXT))


@pytest.mark.parametrize("impl", IMPLS)
def test_conn_addresses_round_trip(impl):
    for rec in conns(impl, CONN_TEXT, True)[0]:
        for text in (rec[2], rec[4], rec[6]):
            af = AF6 if ":" in text else AF4
            assert socket.inet_ntop(af, socket.inet_pton(af, text)) == text


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name,text,message", CONN_ERRORS, ids=[v[0] for v in CONN_ERRORS])
def test_conn_error_vector(impl, name, text, message):
    for final in (False, True):
        with pytest.raises(_decode_py.DecodeError) as e:
            conns(impl, HEADER + text, final)
        assert str(e.value) == message
