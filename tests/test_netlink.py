"""The wire codec and the IPVS request encoder, byte for byte.

Every request the library can send is compared with bytes built here by a
deliberately separate, naive encoder (struct calls written out per field),
so a slip in the spec tables (a byte order, an attribute id, padding) shows
up as a difference. The kernel tests prove the kernel accepts the same bytes.
"""
import socket
import struct

import pytest

import ipvs
from ipvs import _netlink as nl
from ipvs import _spec as spec
from ipvs._requests import (daemon_attrs, dest_attrs, dest_key_attrs, service_attrs,
                            service_key_attrs)

FAM = 0x25  # an IPVS family id as the kernel might assign it
SEQ = 0x01020304
REQ_ACK = 0x0005  # NLM_F_REQUEST | NLM_F_ACK
REQ_DUMP = 0x0305  # ... | NLM_F_DUMP


# ----------------------------------------------------------- naive encoder

def pad(b):
    return b + b"\0" * (-len(b) % 4)


def A(t, payload):
    return pad(struct.pack("<HH", 4 + len(payload), t) + payload)


def N(t, *children):
    return A(t | 0x8000, b"".join(children))


def u8(t, v):
    return A(t, bytes([v]))


def u16(t, v):
    return A(t, struct.pack("<H", v))


def be16(t, v):
    return A(t, struct.pack(">H", v))


def u32(t, v):
    return A(t, struct.pack("<I", v))


def s(t, v):
    return A(t, v.encode() + b"\0")


def msg(cmd, flags, *attrs):
    body = bytes([cmd, 1, 0, 0]) + b"".join(attrs)
    return struct.pack("<IHHII", 16 + len(body), FAM, flags, SEQ, 0) + body


def in6(a):
    return socket.inet_pton(socket.AF_INET6, a)


def in4_16(a):
    return socket.inet_pton(socket.AF_INET, a) + bytes(12)


TCP_SVC = ipvs.Service(protocol="tcp", address="192.168.10.1", port=80, scheduler="rr",
                       flags=ipvs.SVC_F_PERSISTENT, timeout=300, netmask="255.255.255.0")
TCP_KEY = (u16(1, 2), u16(2, 6), A(3, in4_16("192.168.10.1")), be16(4, 80))
TCP_FULL = TCP_KEY + (s(6, "rr"), A(7, struct.pack("<II", 1, 0xFFFFFFFF)), u32(8, 300),
                      A(9, socket.inet_pton(socket.AF_INET, "255.255.255.0")))

V6_SVC = ipvs.Service(protocol="udp", address="2001:db8::1", port=53, scheduler="sh",
                      flags=ipvs.SVC_F_SCHED1 | ipvs.SVC_F_SCHED2, netmask="64")
V6_KEY = (u16(1, 10), u16(2, 17), A(3, in6("2001:db8::1")), be16(4, 53))
V6_FULL = V6_KEY + (s(6, "sh"), A(7, struct.pack("<II", 0x18, 0xFFFFFFFF)), u32(8, 0),
                    A(9, struct.pack("<I", 64)))

FWM_SVC = ipvs.Service(fwmark=0xFFFFFFFE, scheduler="wlc", pe_name="sip",
                       flags=ipvs.SVC_F_PERSISTENT, timeout=3)
FWM_KEY = (u16(1, 2), u32(5, 0xFFFFFFFE))
FWM_FULL = FWM_KEY + (s(6, "wlc"), A(7, struct.pack("<II", 1, 0xFFFFFFFF)), u32(8, 3),
                      A(9, b"\xff\xff\xff\xff"), s(11, "sip"))

SCTP_SVC = ipvs.Service(protocol="sctp", address="10.0.0.9", port=3868, scheduler="lc",
                        flags=ipvs.SVC_F_ONEPACKET)
SCTP_FULL = (u16(1, 2), u16(2, 132), A(3, in4_16("10.0.0.9")), be16(4, 3868), s(6, "lc"),
             A(7, struct.pack("<II", 4, 0xFFFFFFFF)), u32(8, 0), A(9, b"\xff" * 4))

NAT_DEST = ipvs.Destination(address="192.168.20.2", port=8080, fwd_method="masq", weight=7,
                            u_threshold=1000, l_threshold=100)
NAT_KEY = (u16(11, 2), A(1, in4_16("192.168.20.2")), be16(2, 8080))
NAT_FULL = (A(1, in4_16("192.168.20.2")), be16(2, 8080), u32(3, 0), u32(4, 7), u32(5, 1000),
            u32(6, 100), u16(11, 2), u8(13, 0), be16(14, 0), u16(15, 0))

GUE_DEST = ipvs.Destination(address="2001:db8::2", port=53, fwd_method="tunnel",
                            tun_type="gue", tun_port=6080, tun_flags=ipvs.TUN_F_REMCSUM)
GUE_FULL = (A(1, in6("2001:db8::2")), be16(2, 53), u32(3, 2), u32(4, 1), u32(5, 0), u32(6, 0),
            u16(11, 10), u8(13, 1), be16(14, 6080), u16(15, 2))


def encode(cmd, values=None, dump=False):
    return spec.encode_request(FAM, cmd, values, dump=dump, seq=SEQ)


REQUESTS = {
    "new_service_tcp": (encode(spec.CMD_NEW_SERVICE, {"service": service_attrs(TCP_SVC)}),
                        msg(1, REQ_ACK, N(1, *TCP_FULL))),
    "new_service_v6": (encode(spec.CMD_NEW_SERVICE, {"service": service_attrs(V6_SVC)}),
                       msg(1, REQ_ACK, N(1, *V6_FULL))),
    "new_service_fwmark_pe": (encode(spec.CMD_NEW_SERVICE, {"service": service_attrs(FWM_SVC)}),
                              msg(1, REQ_ACK, N(1, *FWM_FULL))),
    "new_service_sctp_ops": (encode(spec.CMD_NEW_SERVICE, {"service": service_attrs(SCTP_SVC)}),
                             msg(1, REQ_ACK, N(1, *SCTP_FULL))),
    "set_service": (encode(spec.CMD_SET_SERVICE, {"service": service_attrs(TCP_SVC)}),
                    msg(2, REQ_ACK, N(1, *TCP_FULL))),
    "del_service": (encode(spec.CMD_DEL_SERVICE, {"service": service_key_attrs(TCP_SVC)}),
                    msg(3, REQ_ACK, N(1, *TCP_KEY))),
    "get_service": (encode(spec.CMD_GET_SERVICE, {"service": service_key_attrs(V6_SVC)}),
                    msg(4, REQ_ACK, N(1, *V6_KEY))),
    "get_services_dump": (encode(spec.CMD_GET_SERVICE, dump=True), msg(4, REQ_DUMP)),
    "new_dest_nat": (encode(spec.CMD_NEW_DEST, {"service": service_key_attrs(TCP_SVC),
                                                "dest": dest_attrs(NAT_DEST)}),
                     msg(5, REQ_ACK, N(1, *TCP_KEY), N(2, *NAT_FULL))),
    "new_dest_gue6": (encode(spec.CMD_NEW_DEST, {"service": service_key_attrs(V6_SVC),
                                                 "dest": dest_attrs(GUE_DEST)}),
                      msg(5, REQ_ACK, N(1, *V6_KEY), N(2, *GUE_FULL))),
    "set_dest": (encode(spec.CMD_SET_DEST, {"service": service_key_attrs(FWM_SVC),
                                            "dest": dest_attrs(NAT_DEST)}),
                 msg(6, REQ_ACK, N(1, *FWM_KEY), N(2, *NAT_FULL))),
    "del_dest": (encode(spec.CMD_DEL_DEST, {"service": service_key_attrs(TCP_SVC),
                                            "dest": dest_key_attrs(NAT_DEST)}),
                 msg(7, REQ_ACK, N(1, *TCP_KEY), N(2, A(1, in4_16("192.168.20.2")),
                                                     be16(2, 8080), u16(11, 2)))),
    "get_dests_dump": (encode(spec.CMD_GET_DEST, {"service": service_key_attrs(TCP_SVC)},
                              dump=True),
                       msg(8, REQ_DUMP, N(1, *TCP_KEY))),
    "new_daemon_full": (
        encode(spec.CMD_NEW_DAEMON, {"daemon": daemon_attrs(ipvs.SyncDaemon(
            state="master", mcast_ifn="eth0", syncid=9, sync_maxlen=1400,
            mcast_group="239.1.2.3", mcast_port=8850, mcast_ttl=3))}),
        msg(9, REQ_ACK, N(3, u32(1, 1), s(2, "eth0"), u32(3, 9), u16(4, 1400),
                          A(5, socket.inet_pton(socket.AF_INET, "239.1.2.3")),
                          u16(7, 8850), u8(8, 3)))),
    "new_daemon_v6_group": (
        encode(spec.CMD_NEW_DAEMON, {"daemon": daemon_attrs(ipvs.SyncDaemon(
            state="backup", mcast_ifn="lo", syncid=0, mcast_group="ff02::81"))}),
        msg(9, REQ_ACK, N(3, u32(1, 2), s(2, "lo"), u32(3, 0), A(6, in6("ff02::81"))))),
    "del_daemon": (encode(spec.CMD_DEL_DAEMON, {"daemon": {"state": 2, "mcast_ifn": "lo",
                                                           "sync_id": 0}}),
                   msg(10, REQ_ACK, N(3, u32(1, 2), s(2, "lo"), u32(3, 0)))),
    "get_daemons_dump": (encode(spec.CMD_GET_DAEMON, dump=True), msg(11, REQ_DUMP)),
    "set_config": (encode(spec.CMD_SET_CONFIG, {"timeout_tcp": 900, "timeout_tcp_fin": 120,
                                                "timeout_udp": 300}),
                   msg(12, REQ_ACK, u32(4, 900), u32(5, 120), u32(6, 300))),
    "get_config": (encode(spec.CMD_GET_CONFIG), msg(13, REQ_ACK)),
    "set_info": (encode(spec.CMD_SET_INFO), msg(14, REQ_ACK)),
    "get_info": (encode(spec.CMD_GET_INFO), msg(15, REQ_ACK)),
    "zero_all": (encode(spec.CMD_ZERO), msg(16, REQ_ACK)),
    "zero_one": (encode(spec.CMD_ZERO, {"service": service_key_attrs(FWM_SVC)}),
                 msg(16, REQ_ACK, N(1, *FWM_KEY))),
    "flush": (encode(spec.CMD_FLUSH), msg(17, REQ_ACK)),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_bytes(name):
    got, want = REQUESTS[name]
    assert got.hex() == want.hex()


def test_every_command_has_a_vector():
    cmds = {bytes.fromhex(want.hex())[16] for _, want in REQUESTS.values()}
    assert cmds == set(range(1, 18))


def test_getfamily_request():
    want = struct.pack("<IHHII", 16 + 4 + 12, 0x10, REQ_ACK, 5, 0) + bytes([3, 1, 0, 0]) + \
        A(2, b"IPVS\0")
    assert nl.encode_getfamily("IPVS", seq=5) == want


# --------------------------------------------------------------- decoding

def reply(mtype, flags, seq, payload, pid=0):
    return struct.pack("<IHHII", 16 + len(payload), mtype, flags, seq, pid) + pad(payload)


def ack(seq, err=0, pid=0, flags=nl.NLM_F_CAPPED):
    return reply(2, flags, seq, struct.pack("<i", -err) + b"\0" * 16, pid=pid)


def test_attrs_alignment_and_nesting():
    raw = nl.attr(1, b"a") + nl.nested(2, nl.attr(3, b"xyz12"), nl.attr(4, b""))
    items = list(nl.iter_attrs(raw))
    assert [(t, raw[s:e]) for t, s, e in items[:1]] == [(1, b"a")]
    assert items[1][0] == 2  # the NESTED flag is stripped
    inner = [(t, raw[s:e]) for t, s, e in nl.iter_attrs(raw, items[1][1], items[1][2])]
    assert inner == [(3, b"xyz12"), (4, b"")]


@pytest.mark.parametrize("bad", [
    b"\x03\x00\x01\x00",  # length below the header size
    b"\x09\x00\x01\x00abcd",  # length past the end
])
def test_attrs_reject_bad_lengths(bad):
    with pytest.raises(nl.DecodeError):
        list(nl.iter_attrs(bad))


def test_messages_trailing_bytes_rejected():
    good = reply(0x25, 0, 1, b"\x01\x01\x00\x00")
    assert len(list(nl.iter_messages(good))) == 1
    for junk in (b"\0", b"\0" * 15, good[:18]):
        with pytest.raises(nl.DecodeError):
            list(nl.iter_messages(good + junk))


def test_exchange_plain_request_reply_then_ack():
    ex = nl.Exchange(7, pid=99)
    data = reply(0x25, 0, 7, b"\x0e\x01\x00\x00" + u32(1, 0x010201), pid=99)
    got = ex.feed(data)
    assert len(got) == 1 and not ex.done
    assert ex.feed(ack(7, pid=99)) == []
    assert ex.done


def test_exchange_error_with_extended_ack():
    ext = nl.attr(nl.NLMSGERR_ATTR_MSG, b"Attribute failed policy validation\0") + \
        nl.attr(nl.NLMSGERR_ATTR_OFFS, struct.pack("<I", 36))
    buf = reply(2, nl.NLM_F_CAPPED | nl.NLM_F_ACK_TLVS, 3,
                struct.pack("<i", -22) + b"\0" * 16 + ext)
    ex = nl.Exchange(3)
    with pytest.raises(nl.NetlinkError) as ei:
        ex.feed(buf)
    assert ei.value.errno == 22
    assert ei.value.ext_msg == "Attribute failed policy validation"
    assert ei.value.offset == 36


def test_exchange_error_uncapped_skips_echoed_request():
    request = msg(3, REQ_ACK, N(1, *TCP_KEY))
    buf = reply(2, 0, SEQ, struct.pack("<i", -3) + request)
    with pytest.raises(nl.NetlinkError) as ei:
        nl.Exchange(SEQ).feed(buf)
    assert ei.value.errno == 3 and ei.value.ext_msg == ""


def test_exchange_dump_multipart_done_and_errno():
    part = reply(0x25, nl.NLM_F_MULTI, 4, b"\x01\x01\x00\x00")
    ex = nl.Exchange(4, dump=True)
    assert len(ex.feed(part + part)) == 2 and not ex.done
    assert ex.feed(reply(3, nl.NLM_F_MULTI, 4, struct.pack("<i", 0))) == []
    assert ex.done
    ex = nl.Exchange(4, dump=True)
    with pytest.raises(nl.NetlinkError) as ei:
        ex.feed(reply(3, nl.NLM_F_MULTI, 4, struct.pack("<i", -3)))
    assert ei.value.errno == 3


def test_exchange_dump_interrupted():
    ex = nl.Exchange(4, dump=True)
    ex.feed(reply(0x25, nl.NLM_F_MULTI | nl.NLM_F_DUMP_INTR, 4, b"\x01\x01\x00\x00"))
    with pytest.raises(nl.DumpInterrupted):
        ex.feed(reply(3, nl.NLM_F_MULTI, 4, struct.pack("<i", 0)))


@pytest.mark.parametrize("seq,pid", [(5, 1), (4, 2)])
def test_exchange_rejects_foreign_replies(seq, pid):
    ex = nl.Exchange(4, pid=1, dump=True)
    with pytest.raises(nl.DecodeError):
        ex.feed(reply(0x25, nl.NLM_F_MULTI, seq, b"\x01\x01\x00\x00", pid=pid))


def test_exchange_rejects_data_after_done():
    ex = nl.Exchange(4, dump=True)
    done = reply(3, nl.NLM_F_MULTI, 4, struct.pack("<i", 0))
    with pytest.raises(nl.DecodeError):
        ex.feed(done + reply(0x25, nl.NLM_F_MULTI, 4, b"\x01\x01\x00\x00"))


def test_spec_roundtrip_every_table():
    values = {
        "service": {"af": 10, "protocol": 17, "addr": in6("2001:db8::1"), "port": 53,
                    "fwmark": 0, "sched_name": "rr", "flags": (3, 0xFFFFFFFF), "timeout": 7,
                    "netmask": b"\x40\0\0\0", "pe_name": "sip",
                    "stats": {"conns": 1, "inbytes": 2 ** 40},
                    "stats64": {"conns": 2 ** 63, "outbps": 5}},
        "dest": {"addr": in4_16("1.2.3.4"), "port": 80, "fwd_method": 3, "weight": 2,
                 "u_thresh": 1, "l_thresh": 0, "active_conns": 5, "inact_conns": 6,
                 "persist_conns": 7, "addr_family": 2, "tun_type": 2, "tun_port": 1,
                 "tun_flags": 1, "stats": {"cps": 9}},
        "daemon": {"state": 1, "mcast_ifn": "eth0", "sync_id": 1, "sync_maxlen": 1000,
                   "mcast_group": b"\xe0\0\0\x51", "mcast_group6": in6("ff02::1"),
                   "mcast_port": 8848, "mcast_ttl": 1},
        "timeout_tcp": 1, "timeout_tcp_fin": 2, "timeout_udp": 3,
    }
    raw = spec.encode_attrs("cmd", values)
    assert spec.decode_attrs("cmd", raw) == values
    info = spec.encode_attrs("info", {"version": 0x010201, "conn_tab_size": 4096})
    assert spec.decode_attrs("info", info) == {"version": 0x010201, "conn_tab_size": 4096}


def test_spec_tables_match_header():
    """Attribute ids in the spec tables against the kernel's uapi header."""
    import re
    try:
        header = open("/usr/include/linux/ip_vs.h").read()
    except OSError:
        pytest.skip("linux/ip_vs.h not installed")
    prefixes = {"cmd": "IPVS_CMD_ATTR_", "service": "IPVS_SVC_ATTR_",
                "dest": "IPVS_DEST_ATTR_", "daemon": "IPVS_DAEMON_ATTR_",
                "stats": "IPVS_STATS_ATTR_", "info": "IPVS_INFO_ATTR_"}
    for table, prefix in prefixes.items():
        names = re.findall(r"^\s*%s(\w+)\s*[,=]" % prefix, header, re.M)
        names = [n for n in names if n != "UNSPEC"]
        ids = {n.lower(): i + 1 for i, n in enumerate(names)}
        for a in spec.TABLES[table].values():
            assert ids[a.name] == a.id, (table, a.name)
        assert len(spec.TABLES[table]) == len(ids), table
    cmds = [n for n in re.findall(r"^\s*IPVS_CMD_(\w+)\s*[,=]", header, re.M)
            if not n.startswith("ATTR") and n != "UNSPEC"]
    assert {n.lower(): i + 1 for i, n in enumerate(cmds)} == spec.COMMANDS


def test_fixed_destination_encoder_equals_the_generic_one():
    # _requests.dest_nest packs the ten destination attributes with one struct;
    # it must make the generic encoder's bytes for every kind of destination
    import tablegen
    from ipvs import Destination
    from ipvs._requests import dest_attrs, dest_nest
    rng = tablegen.seeded(7)
    dests = [Destination(address="::1", port=65535, weight=2**31 - 1, u_threshold=2**32 - 1,
                         l_threshold=1, fwd_method="tunnel", tun_type="gue", tun_port=65535,
                         tun_flags=2)]
    for _ in range(200):
        svc = tablegen.random_service(rng, rng.choice(tablegen.SERVICE_KEYS))
        dests.append(tablegen.random_dest(rng, svc, rng.randint(1, 9)))
    for d in dests:
        assert dest_nest(d) == spec.encode_attrs("dest", dest_attrs(d))
