# The records the decoders make from dump replies, as data (part of the spec).
#
# Rule: each record (service, destination, their stats, connection) is
# declared here once: which attribute of _spec's tables fills each field,
# how it is read, whether it is required or what it defaults to. The index
# constants consumers use (SVC.port, DEST.stats) are made here; the check
# order and the layout (tuple indexes, C offsets) in _layout, from which
# both decoders are built. No module outside the spec (_spec, _records,
# _layout) names an IPVS attribute id or a record offset.
# Imports nothing: the listing code reads SVC at start-up, where `ipvsadm
# -h` must stay cheap; _layout compiles the records with _spec's attribute
# tables (_spec.LAYOUTS).
from __future__ import annotations

import sys

# How a field is read from its attribute (the wire width follows from it):
# u8 u16 be16 u32 i32 (signed) u64; flags: {flags, mask} read as flags & mask;
# addr: 4..16 bytes, kept as 16 (zero padded); string: up to the first NUL,
# at most 15 bytes; nest: a sub-record (the attribute's, else alt's).
READS = ("u8", "u16", "be16", "u32", "i32", "u64", "flags", "addr", "string", "nest")

# need: "required" (missing: an error), "optional" (missing: default),
# "arg" (missing: the decode call's argument, e.g. the service's family).
# unless: an attribute whose presence makes the field its default unread
# (a firewall-mark service has no protocol, address or port).
# record/alt/alt_record: for a nest, the sub-record of the attribute, and
# the attribute (and sub-record) to fall back to when it is absent.
FIELD = ("name", "attr", "read", "need", "default", "unless", "record", "alt", "alt_record")


def Field(name, attr, read=None, need="required", default=0, unless=None, record=None,
          alt=None, alt_record=None) -> tuple:
    """A field, as a tuple in FIELD's order (_layout reads it by those
    names). Plain tuples and functions, no classes: making a class costs
    more at start-up than all of this module's data."""
    return (name, attr, read, need, default, unless, record, alt, alt_record)


def Record(table, nest, fields) -> tuple:
    """table: the _spec.TABLES table of the field attributes; nest: the
    attribute of the command table a reply message carries the record in
    (None: a sub-record); fields: Field tuples, in record order."""
    return (table, nest, fields)


# the counters of both stats nests (_spec declares their attributes)
STATS_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes",
                "cps", "inpps", "outpps", "inbps", "outbps")
_STATS = STATS_FIELDS

RECORDS = {
    "stats64": Record("stats64", None, tuple(Field(n, n) for n in _STATS)),
    # the 32-bit nest of kernels before 4.1; its byte counters are u64 too
    "stats32": Record("stats", None, tuple(Field(n, n) for n in _STATS)),
    "service": Record("service", "service", (
        Field("af", "af"),
        Field("protocol", "protocol", unless="fwmark"),
        Field("addr", "addr", "addr", unless="fwmark"),
        Field("port", "port", unless="fwmark"),
        Field("fwmark", "fwmark", need="optional"),
        Field("sched_name", "sched_name"),
        Field("flags", "flags"),  # flags & mask
        Field("timeout", "timeout"),
        # IPv4: the mask (network order), IPv6: the prefix length; read as
        # a host-order u32 and interpreted by family by the consumer
        Field("netmask", "netmask", "u32"),
        Field("pe_name", "pe_name", need="optional", default=""),
        Field("stats", "stats64", "nest", "optional", record="stats64",
              alt="stats", alt_record="stats32"),
    )),
    "dest": Record("dest", "dest", (
        Field("addr", "addr", "addr"),
        Field("port", "port"),
        Field("fwd_method", "fwd_method"),
        Field("weight", "weight", "i32"),
        Field("u_thresh", "u_thresh"),
        Field("l_thresh", "l_thresh"),
        Field("active_conns", "active_conns"),
        Field("inact_conns", "inact_conns"),
        Field("persist_conns", "persist_conns"),
        Field("af", "addr_family", need="arg"),  # older kernels: the service's
        Field("tun_type", "tun_type", need="optional"),
        Field("tun_port", "tun_port", need="optional"),
        Field("tun_flags", "tun_flags", need="optional"),
        Field("stats", "stats64", "nest", "optional", record="stats64",
              alt="stats", alt_record="stats32"),
    )),
}

# /proc/net/ip_vs_conn lines (text, not netlink): the fields of
# model.Connection, in record order
CONN_FIELDS = ("protocol", "af", "caddr", "cport", "vaddr", "vport", "daddr", "dport",
               "state", "expires", "pe_name", "pe_data")

# the type of sys.implementation is types.SimpleNamespace, without
# importing types
Index = type(sys.implementation)


def _index(name, records=None):
    """The index constants of a record without compiling it (no tables
    needed: only field order and sub-record sizes)."""
    records = RECORDS if records is None else records
    positions, i = {}, 0
    for f in records[name][2]:
        n = len(records[f[6]][2]) if f[6] else 1
        positions[f[0]] = i if n == 1 else slice(i, i + n)
        i += n
    return Index(_width=i, **positions)


SVC = _index("service")
DEST = _index("dest")
CONN = Index(_width=len(CONN_FIELDS), **{n: i for i, n in enumerate(CONN_FIELDS)})
