# The IPVS generic-netlink protocol as data.
#
# Rule: every command and attribute of <linux/ip_vs.h> is declared here once,
# with its wire type and byte order as fields. Encoding and decoding of
# attribute sets is generic over these tables; adding an attribute is one
# line in one table.
from __future__ import annotations

import _struct as struct  # the C module: struct.py is one more file to read
from itertools import repeat
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Dict, Optional

from . import _layout, _netlink as nl
from ._base import record_type
from ._records import STATS_FIELDS

GENL_NAME = "IPVS"
GENL_VERSION = 1

# commands (enum in ip_vs.h, 1..17)
CMD_NEW_SERVICE = 1
CMD_SET_SERVICE = 2
CMD_DEL_SERVICE = 3
CMD_GET_SERVICE = 4
CMD_NEW_DEST = 5
CMD_SET_DEST = 6
CMD_DEL_DEST = 7
CMD_GET_DEST = 8
CMD_NEW_DAEMON = 9
CMD_DEL_DAEMON = 10
CMD_GET_DAEMON = 11
CMD_SET_CONFIG = 12
CMD_GET_CONFIG = 13
CMD_SET_INFO = 14
CMD_GET_INFO = 15
CMD_ZERO = 16
CMD_FLUSH = 17

COMMANDS = {
    "new_service": CMD_NEW_SERVICE, "set_service": CMD_SET_SERVICE,
    "del_service": CMD_DEL_SERVICE, "get_service": CMD_GET_SERVICE,
    "new_dest": CMD_NEW_DEST, "set_dest": CMD_SET_DEST,
    "del_dest": CMD_DEL_DEST, "get_dest": CMD_GET_DEST,
    "new_daemon": CMD_NEW_DAEMON, "del_daemon": CMD_DEL_DAEMON,
    "get_daemon": CMD_GET_DAEMON, "set_config": CMD_SET_CONFIG,
    "get_config": CMD_GET_CONFIG, "set_info": CMD_SET_INFO,
    "get_info": CMD_GET_INFO, "zero": CMD_ZERO, "flush": CMD_FLUSH,
}


# type: u8 u16 u32 u64 string binary nest flags; order: "host" or "big"
# (network byte order); nest: the name of the nested table, for type "nest"
Attr = record_type("Attr", "name id type order nest", defaults=("host", None), module=__name__)


def _table(*attrs: Attr) -> Dict[str, Attr]:
    return {a.name: a for a in attrs}


# IPVS_STATS_ATTR_* and IPVS_STATS64_ATTR_*: the same ids; the 32-bit nest
# has u32 counters and rates but u64 byte counts
_STATS_IDS = (("conns", 1), ("inpkts", 2), ("outpkts", 3), ("inbytes", 4), ("outbytes", 5),
              ("cps", 6), ("inpps", 7), ("outpps", 8), ("inbps", 9), ("outbps", 10))


def _stats_table(wide: bool) -> Dict[str, Attr]:
    return _table(*[Attr(n, i, "u64" if wide or n in ("inbytes", "outbytes") else "u32")
                    for n, i in _STATS_IDS], Attr("pad", 11, "binary"))


TABLES: Dict[str, Dict[str, Attr]] = {
    "cmd": _table(
        Attr("service", 1, "nest", nest="service"),
        Attr("dest", 2, "nest", nest="dest"),
        Attr("daemon", 3, "nest", nest="daemon"),
        Attr("timeout_tcp", 4, "u32"),
        Attr("timeout_tcp_fin", 5, "u32"),
        Attr("timeout_udp", 6, "u32"),
    ),
    "service": _table(
        Attr("af", 1, "u16"),
        Attr("protocol", 2, "u16"),
        Attr("addr", 3, "binary"),  # struct in6_addr / in_addr, network order
        Attr("port", 4, "u16", "big"),
        Attr("fwmark", 5, "u32"),
        Attr("sched_name", 6, "string"),
        Attr("flags", 7, "flags"),  # struct ip_vs_flags {flags, mask}
        Attr("timeout", 8, "u32"),
        # IPv4: the mask itself (network order); IPv6: the prefix length
        # (host order). Kept as raw bytes; the model interprets it by family.
        Attr("netmask", 9, "binary"),
        Attr("stats", 10, "nest", nest="stats"),
        Attr("pe_name", 11, "string"),
        Attr("stats64", 12, "nest", nest="stats64"),
    ),
    "dest": _table(
        Attr("addr", 1, "binary"),
        Attr("port", 2, "u16", "big"),
        Attr("fwd_method", 3, "u32"),
        Attr("weight", 4, "u32"),
        Attr("u_thresh", 5, "u32"),
        Attr("l_thresh", 6, "u32"),
        Attr("active_conns", 7, "u32"),
        Attr("inact_conns", 8, "u32"),
        Attr("persist_conns", 9, "u32"),
        Attr("stats", 10, "nest", nest="stats"),
        Attr("addr_family", 11, "u16"),
        Attr("stats64", 12, "nest", nest="stats64"),
        Attr("tun_type", 13, "u8"),
        Attr("tun_port", 14, "u16", "big"),
        Attr("tun_flags", 15, "u16"),
    ),
    "daemon": _table(
        Attr("state", 1, "u32"),
        Attr("mcast_ifn", 2, "string"),
        Attr("sync_id", 3, "u32"),
        Attr("sync_maxlen", 4, "u16"),
        Attr("mcast_group", 5, "binary"),  # in_addr, network order
        Attr("mcast_group6", 6, "binary"),  # in6_addr
        Attr("mcast_port", 7, "u16"),
        Attr("mcast_ttl", 8, "u8"),
    ),
    "stats": _stats_table(wide=False),
    "stats64": _stats_table(wide=True),
    "info": _table(
        Attr("version", 1, "u32"),
        Attr("conn_tab_size", 2, "u32"),
    ),
}

# reverse maps: table -> id -> Attr
BY_ID: Dict[str, Dict[int, Attr]] = {
    name: {a.id: a for a in table.values()} for name, table in TABLES.items()
}

# the decoded records, declared in _records, compiled with these tables
LAYOUTS = _layout.compile_records(TABLES)

_INT = {
    ("u8", "host"): struct.Struct("=B"), ("u8", "big"): struct.Struct("!B"),
    ("u16", "host"): struct.Struct("=H"), ("u16", "big"): struct.Struct("!H"),
    ("u32", "host"): struct.Struct("=I"), ("u32", "big"): struct.Struct("!I"),
    ("u64", "host"): struct.Struct("=Q"), ("u64", "big"): struct.Struct("!Q"),
}
_FLAGS = struct.Struct("=II")


def _encoder(a: Attr):
    """A function value -> encoded attribute for one spec entry. Fixed-size
    types get their header and padding computed here, once, so encoding a
    request is a few pack calls rather than a walk through the generic path
    (ipvsadm -R sends tens of thousands of requests)."""
    t = a.type
    if t in ("u8", "u16", "u32", "u64"):
        pack = _INT[t, a.order].pack
        size = _INT[t, a.order].size
        head = nl.NLA_HDR.pack(4 + size, a.id)
        pad = b"\0" * (nl.align4(4 + size) - 4 - size)
        return lambda v: head + pack(v) + pad
    if t == "flags":
        head = nl.NLA_HDR.pack(4 + _FLAGS.size, a.id)
        return lambda v: head + _FLAGS.pack(*v)
    if t == "string":
        return lambda v: nl.attr(a.id, v.encode() + b"\0")
    if t == "binary":
        return lambda v: nl.attr(a.id, bytes(v))
    if t == "nest":
        return lambda v: nl.nested(a.id, v if type(v) is Encoded else encode_attrs(a.nest, v))
    raise TypeError(t)


class Encoded(bytes):
    """The already encoded content of a nest, passed in place of its dict
    (the client reuses a service's encoded key across many requests)."""


_ENCODERS = {name: [(attr_name, _encoder(a)) for attr_name, a in table.items()]
             for name, table in TABLES.items()}


def encode_attrs(table: str, values: dict) -> bytes:
    """Encode {name: value} in the order of the table (deterministic bytes)."""
    out = []
    n = 0
    for name, enc in _ENCODERS[table]:
        v = values.get(name)
        if name in values:
            n += 1
            if v is not None:
                out.append(enc(v))
    if n != len(values):
        unknown = set(values) - set(TABLES[table])
        raise KeyError("%s has no attribute %s" % (table, ", ".join(sorted(unknown))))
    return b"".join(out)


def _to_big(size: int):
    import sys
    if sys.byteorder == "big":
        return None
    return lambda v: int.from_bytes(v.to_bytes(size, "big"), "little")


def _fixed(table: str, names, sizes: Optional[dict]):
    """(struct pack, [(index into names, length, attribute id, converter
    or None)] in the table's order) of fixed_encoder's attributes."""
    tab = TABLES[table]
    order = sorted(range(len(names)), key=lambda i: list(tab).index(names[i]))
    fmt, fields = "=", []
    for i in order:
        a = tab[names[i]]
        if a.type in ("u8", "u16", "u32", "u64"):
            size = _INT[a.type, a.order].size
            code = {1: "B", 2: "H", 4: "I", 8: "Q"}[size]
            conv = _to_big(size) if a.order == "big" else None
        elif a.type == "binary":
            size = (sizes or {})[names[i]]
            code, conv = "%ds" % size, None
        else:
            raise TypeError("%s: not a fixed-size type" % a.type)
        fmt += "HH" + code + "x" * (nl.align4(4 + size) - 4 - size)
        fields.append((i, size, a.id, conv))
    return struct.Struct(fmt).pack, fields


def fixed_encoder(table: str, names, sizes: Optional[dict] = None):
    """A function f(*values) -> bytes for attributes that are always all
    present and of fixed size (values in the order of `names`; `sizes`
    gives the length of each binary one): the bytes encode_attrs(table,
    dict(zip(names, values))) makes, with one struct pack instead of an
    encoder call per attribute. The hot path of large restores: every
    real-server line encodes the same ten destination attributes."""
    pack, fields = _fixed(table, names, sizes)
    args, env = [], {"pack": pack}
    for i, size, aid, conv in fields:
        v = "v%d" % i
        if conv is not None:
            env["c%d" % i] = conv
            v = "c%d(v%d)" % (i, i)
        args.append("%d, %d, %s" % (4 + size, aid, v))
    src = "def encode(%s):\n    return pack(%s)\n" % (
        ", ".join("v%d" % i for i in range(len(names))), ", ".join(args))
    exec(src, env)
    return env["encode"]


def fixed_column_encoder(table: str, names, sizes: Optional[dict] = None):
    """fixed_encoder over columns: f(*columns) -> [the bytes of each row],
    its struct pack mapped over the columns (a value that needs converting
    converted once for each distinct value): no Python step per row."""
    pack, fields = _fixed(table, names, sizes)

    def encode(*cols):
        n, args = len(cols[0]), []
        for i, size, aid, conv in fields:
            col = cols[i]
            if conv is not None:
                col = map({v: conv(v) for v in set(col)}.__getitem__, col)
            args += (repeat(4 + size, n), repeat(aid, n), col)
        return list(map(pack, *args))
    return encode


def decode_value(a: Attr, buf, s: int, e: int):
    t = a.type
    if t in ("u8", "u16", "u32", "u64"):
        st = _INT[t, a.order]
        if e - s < st.size:
            raise nl.DecodeError("attribute %s: %d bytes, needs %d" % (a.name, e - s, st.size))
        return st.unpack_from(buf, s)[0]
    if t == "string":
        raw = bytes(buf[s:e])
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    if t == "binary":
        return bytes(buf[s:e])
    if t == "flags":
        if e - s < _FLAGS.size:
            raise nl.DecodeError("attribute %s: short" % a.name)
        return _FLAGS.unpack_from(buf, s)
    if t == "nest":
        return decode_attrs(a.nest, buf, s, e)
    raise TypeError(t)


def decode_attrs(table: str, buf, start: int = 0, end: Optional[int] = None) -> dict:
    """Decode an attribute set into {name: value}; unknown ids are skipped
    (newer kernels may add attributes)."""
    ids = BY_ID[table]
    out = {}
    for t, s, e in nl.iter_attrs(buf, start, end):
        a = ids.get(t)
        if a is not None:
            out[a.name] = decode_value(a, buf, s, e)
    return out


DUMP_FLAGS = nl.NLM_F_REQUEST | nl.NLM_F_ACK | nl.NLM_F_DUMP  # a dump request's


def encode_request(family: int, cmd: int, values: Optional[dict] = None, *,
                   dump: bool = False, seq: int = 0) -> bytes:
    """A complete IPVS request message."""
    return nl.encode_genl(family, cmd, GENL_VERSION, encode_attrs("cmd", values or {}),
                          flags=DUMP_FLAGS if dump else nl.NLM_F_REQUEST | nl.NLM_F_ACK, seq=seq)
