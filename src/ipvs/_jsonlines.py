# The whole table as compact JSON (`ipvsadm -Ln --json`), written from the
# dumps' records by line programs (ipvs.lines): C writes every object from
# its raw records when the C decoder is active, the twin runs the compiled
# lines over its tuples; no model object or dict is made per real server.
#
# Rule: the keys, their order and when each applies are _json's (the model
# classes' FIELD_MAP and service_json/dest_json); this module says them
# again as columns, and tests/test_jsonlines.py holds the document to
# dumps(to_json(...)) of the same table. A service these columns cannot
# write (flags, a persistence engine, a netmask other than the full one,
# an unknown family, a scheduler name JSON would escape) is written from
# its object.
from __future__ import annotations

from . import lines as L
from ._json import service_json
from ._model import Destination, Service, mapped
from ._records import SVC
from .vocab import (AF_INET, AF_INET6, FAMILY_NAMES, FORWARDING_NAMES, FWD_MASK, FWD_TUNNEL,
                    PROTOCOL_NAMES, STATS_COUNTERS, STATS_RATES, SVC_F_ONEPACKET,
                    SVC_F_PERSISTENT, SVC_F_SCHED_ANY, TUN_GRE, TUN_GUE, TUNNEL_FLAG_NAMES,
                    TUNNEL_TYPE_NAMES)

T = L.text
_MARK = 0xFFFFFFFF  # a u32 field's whole value
_FULL_NETMASK = 0xFFFFFFFF  # IPv4's /32, which the plain columns write as text:
_FULL_NETMASK_TEXT = "%d.%d.%d.%d" % tuple(_FULL_NETMASK.to_bytes(4, "big"))
# the flags whose names the object writes ("flags": [] when none is set)
_NAMED_FLAGS = SVC_F_PERSISTENT | SVC_F_ONEPACKET | SVC_F_SCHED_ANY
_DESTINATIONS = ',"destinations":['


def _quoted(lead, key, col):
    return (T('%s"%s":"' % (lead, key)), col, T('"'))


def _number(lead, key, field):
    return (T('%s"%s":' % (lead, key)), L.number(field, 0))


def _family(lead, key, field):
    return _quoted(lead, key, L.label(field, 0xFFFF, FAMILY_NAMES, None, 0))


def _address_service(n):
    """Columns only an address service has (n of them, after this one)."""
    return (L.when("fwmark", _MARK, (0,), n),)


_SERVICE_COLUMNS = {
    "af": _family,
    "fwmark": lambda lead, key, f: (L.when(f, _MARK, None, 2),) + _number(lead, key, f),
    "protocol": lambda lead, key, f: _address_service(3) + _quoted(
        lead, key, L.label(f, 0xFFFF, PROTOCOL_NAMES, None, 0)),
    "address": lambda lead, key, f: _address_service(3) + _quoted(lead, key, L.address()),
    "port": lambda lead, key, f: _address_service(2) + _number(lead, key, f),
    "scheduler": lambda lead, key, f: _quoted(lead, key, L.string(f)),
    "flags": lambda lead, key, f: (T('%s"%s":[]' % (lead, key)),),
    "netmask": lambda lead, key, f: (
        L.when("af", 0xFFFF, (AF_INET,), 1), T('%s"%s":"%s"' % (lead, key, _FULL_NETMASK_TEXT)),
        L.when("af", 0xFFFF, (AF_INET6,), 2)) + _number(lead, "prefixlen", f),
    "pe_name": lambda lead, key, f: (),
}
_DEST_COLUMNS = {
    "af": _family,
    "address": lambda lead, key, f: _quoted(lead, key, L.address()),
    "fwd_method": lambda lead, key, f: _quoted(
        lead, key, L.label(f, FWD_MASK, FORWARDING_NAMES, None, 0)),
}


def _fields(cls, special):
    """The columns of cls's JSON keys (_json.fields_json's), in order."""
    record = dict(mapped(cls, "record"))
    cols: tuple = ()
    for i, (field, key) in enumerate(mapped(cls, "json")):
        lead = "{" if i == 0 else ","
        make = special.get(field, _number)
        cols += make(lead, key, record[field])
    return cols


def _counters(stats, rate, estimating):
    cols: tuple = ()
    for on, name, fields in ((stats, "stats", STATS_COUNTERS), (rate, "rate", STATS_RATES)):
        if not on:
            continue
        if name == "rate" and not estimating:
            cols += (T(',"rate":{"estimating":false}'),)
            continue
        for i, f in enumerate(fields):
            cols += _number(',"%s":{' % name if i == 0 else ",", f, "stats." + f)
        cols += (T("}"),)
    return cols


def _tunnel():
    """dest_json's tunnel object, for a tunnelled real server."""
    inner = (T(',"tunnel":{"type":"'),
             L.label("tun_type", 0xFF, dict(enumerate(TUNNEL_TYPE_NAMES)), None, 0), T('"'),
             L.when("tun_type", 0xFF, (TUN_GUE,), 2)) + _number(",", "port", "tun_port") + (
        L.when("tun_type", 0xFF, (TUN_GUE, TUN_GRE), 3),) + _quoted(
        ",", "flags", L.label("tun_flags", 0xFFFF, dict(enumerate(TUNNEL_FLAG_NAMES)), None, 0)
    ) + (T("}"),)
    return (L.when("fwd_method", FWD_MASK, (FWD_TUNNEL,), len(inner)),) + inner


_PROGRAMS: dict = {}


def programs(stats=False, rate=False, estimating=True):
    """(the service program, the real-server program) of the compact
    document: a service's object up to its destinations' "[", a real
    server's object (with the commas between them)."""
    key = (stats, rate, estimating)
    if key not in _PROGRAMS:
        counters = _counters(stats, rate, estimating)
        head = _fields(Service, _SERVICE_COLUMNS) + counters + (T(_DESTINATIONS),)
        dest = _fields(Destination, _DEST_COLUMNS) + _tunnel() + counters + (T("}"),)
        _PROGRAMS[key] = (L.Program(head, layout=L.SERVICE_LAYOUT),
                          L.Program(dest, end="", sep=","))
    return _PROGRAMS[key]


def _plain_name(s):
    return s.isascii() and s.isprintable() and '"' not in s and "\\" not in s


def plain_service(r) -> bool:
    """Whether the service program writes service record r as
    service_json writes its object."""
    af = r[SVC.af]
    return (not r[SVC.flags] & _NAMED_FLAGS and not r[SVC.pe_name]
            and (af == AF_INET6 or af == AF_INET and r[SVC.netmask] == _FULL_NETMASK)
            and _plain_name(r[SVC.sched_name]))


def _fix(stats, rate, estimating):
    from ._client import service_from_record

    def fix(records, texts):
        for i, r in enumerate(records):
            if not plain_service(r):
                import json  # (only for a service the columns cannot write)
                o = service_json(service_from_record(r), stats=stats, rate=rate,
                                 estimating=estimating)
                # ASCII (a name beyond it escaped), without its "}"
                texts[i] = json.dumps(o, separators=(",", ":"))[:-1] + _DESTINATIONS
    return fix


def json_table(client, *, stats: bool = False, rate: bool = False, estimating: bool = True,
               sort: bool = True):
    """The table as one compact JSON document, as an iterator of bytes-like
    chunks of ASCII text, made as they are asked for: what
    dumps(to_json(sorted_table(client.entries()), ...)) gives (without
    sorting when sort is false), for listings of any size in bounded
    memory (a string beyond ASCII, which only a scheduler or persistence
    engine name could hold, escaped as \\uXXXX, where dumps leaves it).
    estimating: Client.estimating() (with rate). The dumps are
    read by this call (a KernelError comes from it), the text made later."""
    head, dest = programs(stats, rate, estimating)
    return _document(client.table_lines(head, dest, sort=sort,
                                        fix=_fix(stats, rate, estimating), end="", sep="]},"))


def _document(chunks):
    yield b"["
    seen = False
    for c in chunks:
        seen = seen or len(c) > 0
        yield c
    yield b"]}]\n" if seen else b"]\n"
