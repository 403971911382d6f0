# JSON: model objects -> JSON-ready values with documented keys
# (docs/json.md), and a writer that prints them as iproute2's `ip -j` does.
#
# Rule: pure functions, no I/O. Numbers are exact integers (never the
# K/M/G abbreviations of the text listing), addresses always numeric.
# Following `ip -j`: every listing is a top-level array of objects; keys
# are lower-case with underscores; a key that does not apply to an object
# is left out rather than set to null; flags are arrays of strings;
# counters appear only when asked for (ip -s: here --stats / --rate).
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time (it imports re, functools, ...)
    from typing import Iterable, Optional

    from ._status import Status

from ._model import (Connection, Destination, Info, Service, Stats, SyncDaemon, Timeouts,
                     mapped)
from ._records import CONN_FIELDS
from .vocab import (AF_INET6, FAMILY_NAMES, FORWARDING_NAMES, FWD_MASK, FWD_TUNNEL,
                     PROTOCOL_NAMES, STATS_COUNTERS, STATS_RATES, SVC_F_ONEPACKET,
                     SVC_F_PERSISTENT, TUN_GRE, TUN_GUE, TUNNEL_FLAG_NAMES, TUNNEL_TYPE_NAMES,
                     sched_flag_names)


def _name(names, number) -> str:
    """A number's name from a vocabulary tuple (index = number), else the digits."""
    return names[number] if 0 <= number < len(names) else str(number)


def _family(af: int) -> str:
    return FAMILY_NAMES.get(af, str(af))


def stats_json(st: Optional[Stats]) -> dict:
    st = st or Stats()
    return {k: getattr(st, k) for k in STATS_COUNTERS}


def rate_json(st: Optional[Stats], estimating: bool = True) -> dict:
    # With the kernel's estimation off (sysctl run_estimation = 0) every
    # rate reads 0: not a rate of zero but no estimate at all, so the
    # numbers are left out and the object says why.
    if not estimating:
        return {"estimating": False}
    st = st or Stats()
    return {k: getattr(st, k) for k in STATS_RATES}


def service_flags(s: Service) -> list:
    out = []
    if s.flags & SVC_F_PERSISTENT:
        out.append("persistent")
    if s.flags & SVC_F_ONEPACKET:
        out.append("one-packet")
    out.extend(sched_flag_names(s.scheduler, s.flags, generic_rest=True))
    return out


_ROWS: dict = {}  # model class -> its JSON rows, made on first use


def fields_json(obj, special: dict) -> dict:
    """The keys of obj's class FIELD_MAP, in its order: each field's value
    under its key, or the keys special[field](obj, key) gives (none: the
    key does not apply to this object and is left out)."""
    rows = _ROWS.get(type(obj))
    if rows is None:
        rows = _ROWS[type(obj)] = [(f, k, special.get(f)) for f, k in mapped(type(obj), "json")]
    o: dict = {}
    for field, key, conv in rows:
        if conv is None:
            o[key] = getattr(obj, field)
        else:
            o.update(conv(obj, key))
    return o


def _family_json(obj, key) -> dict:
    return {key: _family(obj.af)}


def _unless_fwmark(value):
    """A key of an address service, which a firewall-mark service has not."""
    return lambda s, key: {} if s.fwmark else {key: value(s)}


_SERVICE_JSON = {
    "af": _family_json,
    "fwmark": lambda s, key: {key: s.fwmark} if s.fwmark else {},
    "protocol": _unless_fwmark(lambda s: PROTOCOL_NAMES.get(s.protocol, str(s.protocol))),
    "address": _unless_fwmark(lambda s: s.address),
    "port": _unless_fwmark(lambda s: s.port),
    "flags": lambda s, key: {key: service_flags(s)},
    "netmask": lambda s, key: ({"prefixlen": int(s.netmask)} if s.af == AF_INET6
                               else {key: s.netmask}),
    "pe_name": lambda s, key: {key: s.pe_name} if s.pe_name else {},
}
_DEST_JSON = {
    "af": _family_json,
    "fwd_method": lambda d, key: {key: FORWARDING_NAMES.get(d.fwd_method & FWD_MASK,
                                                            str(d.fwd_method & FWD_MASK))},
}


def service_json(s: Service, dests: Optional[Iterable[Destination]] = None, *,
                 stats: bool = False, rate: bool = False, estimating: bool = True) -> dict:
    o = fields_json(s, _SERVICE_JSON)
    if stats:
        o["stats"] = stats_json(s.stats)
    if rate:
        o["rate"] = rate_json(s.stats, estimating)
    if dests is not None:
        o["destinations"] = [dest_json(d, stats=stats, rate=rate, estimating=estimating)
                             for d in dests]
    return o


def dest_json(d: Destination, *, stats: bool = False, rate: bool = False,
              estimating: bool = True) -> dict:
    o = fields_json(d, _DEST_JSON)
    if d.fwd_method & FWD_MASK == FWD_TUNNEL:
        t = {"type": _name(TUNNEL_TYPE_NAMES, d.tun_type)}
        if d.tun_type == TUN_GUE:
            t["port"] = d.tun_port
        if d.tun_type in (TUN_GUE, TUN_GRE):
            t["flags"] = _name(TUNNEL_FLAG_NAMES, d.tun_flags)
        o["tunnel"] = t
    if stats:
        o["stats"] = stats_json(d.stats)
    if rate:
        o["rate"] = rate_json(d.stats, estimating)
    return o


def connection_record_json(r) -> dict:
    """A connection's record (the layout _records.CONN_FIELDS declares) as
    JSON-ready values: -Lnc --json writes each straight from the decoder's
    record, and connection_json reads a Connection through this."""
    protocol, af, caddr, cport, vaddr, vport, daddr, dport, state, expires, pe_name, pe_data = r
    o = {"protocol": protocol.lower(), "family": _family(af),
         "source": caddr, "source_port": cport,
         "virtual": vaddr, "virtual_port": vport,
         "destination": daddr, "destination_port": dport,
         "state": state, "expires": expires}
    if pe_name:
        o["pe"] = pe_name
        o["pe_data"] = pe_data
    return o


def connection_json(c: Connection) -> dict:
    return connection_record_json([getattr(c, name) for name in CONN_FIELDS])


def timeouts_json(t: Timeouts) -> dict:
    return {"tcp": t.tcp, "tcp_fin": t.tcp_fin, "udp": t.udp}


def daemon_json(d: SyncDaemon) -> dict:
    o = {"state": d.state_name, "mcast_interface": d.mcast_ifn, "syncid": d.syncid,
         "sync_maxlen": d.sync_maxlen}
    if d.mcast_group:
        o["mcast_group"] = d.mcast_group
    o["mcast_port"] = d.mcast_port
    o["mcast_ttl"] = d.mcast_ttl
    return o


def info_json(i: Info) -> dict:
    return {"version": i.version_string, "conn_tab_size": i.conn_tab_size}


def to_json(obj, *, stats: bool = False, rate: bool = False, estimating: bool = True):
    """A model object, a (Service, [Destination]) pair, or a list of them,
    as JSON-ready values (dicts, lists, str, int) with the documented keys.
    estimating=False (Client.estimating() said so): each rate object is
    {"estimating": false}, without the zeros the kernel reports then."""
    if isinstance(obj, (list, tuple)):
        if (len(obj) == 2 and isinstance(obj[0], Service)
                and not isinstance(obj[1], (Service, Destination))):
            return service_json(obj[0], obj[1], stats=stats, rate=rate, estimating=estimating)
        return [to_json(x, stats=stats, rate=rate, estimating=estimating) for x in obj]
    if isinstance(obj, Service):
        return service_json(obj, stats=stats, rate=rate, estimating=estimating)
    if isinstance(obj, Destination):
        return dest_json(obj, stats=stats, rate=rate, estimating=estimating)
    if isinstance(obj, Connection):
        return connection_json(obj)
    if isinstance(obj, Timeouts):
        return timeouts_json(obj)
    if isinstance(obj, SyncDaemon):
        return daemon_json(obj)
    if isinstance(obj, Info):
        return info_json(obj)
    from ._status import Status  # (read only when a listing gets this far)
    if isinstance(obj, Status):
        return status_json(obj)
    if isinstance(obj, Stats):
        return dict(stats_json(obj), **rate_json(obj))
    if hasattr(obj, "batch_args"):  # a plan Operation
        return operation_json(obj)
    raise TypeError("no JSON form for %r" % (obj,))


def status_json(st: Status) -> dict:
    """An ipvs.Status (--status): tables (present where the kernel has
    /proc/net/ip_vs_status) and sysctls hold what this kernel reports."""
    o = {"version": st.version, "conn_tab_size": st.conn_tab_size,
         "estimating": st.estimating}
    if st.tables:
        o["tables"] = dict(st.tables)
    o["sysctls"] = dict(st.sysctls)
    return o


def operation_json(op) -> dict:
    o = {"operation": op.name, "command": op.command(), "service": service_json(op.service)}
    if op.destination is not None:
        o["destination"] = dest_json(op.destination)
    return o


# ----------------------------------------------------------------- writer

def _json_dumps(*args, **kw) -> str:
    """json.dumps, the json module (which imports re, enum, functools)
    read on first use: this name is then json.dumps itself, so the writers'
    calls per key and per item cost no import statement."""
    global _json_dumps
    import json
    _json_dumps = json.dumps
    return json.dumps(*args, **kw)


def _string(s: str) -> str:
    return _json_dumps(s, ensure_ascii=False)


def _pretty(value, out: list, depth: int) -> None:
    # iproute2's json_writer with pretty printing (ip -j -p): a key per line
    # indented four spaces per level, arrays on one line as "[ a,b ]",
    # "[ {" and "} ]" where an array holds objects.
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{")
        first = True
        for k, v in value.items():
            if not first:
                out.append(",")
            first = False
            out.append("\n" + "    " * (depth + 1) + _string(str(k)) + ": ")
            _pretty(v, out, depth + 1)
        out.append("\n" + "    " * depth + "}")
    elif isinstance(value, (list, tuple)):
        out.append("[ ")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _pretty(v, out, depth + 1)
        if value:
            out.append(" ")
        out.append("]")
    else:
        out.append(_scalar(value))


def _scalar(v) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, str):
        return _string(v)
    raise TypeError("not a JSON value: %r" % (v,))


def dumps(value, *, pretty: bool = False) -> str:
    """One JSON document, as `ip -j` (compact) or `ip -j -p` prints it,
    with the final newline."""
    if not pretty:
        return _json_dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"
    out: list = []
    _pretty(value, out, 0)
    return "".join(out) + "\n"


def dump_array(items, write, *, pretty: bool = False, batch: int = 1024) -> None:
    """The document dumps(list(items)) gives, written through write() in
    pieces as the items (JSON-ready values) are taken: a listing of a
    million connections never holds them all. Compact, each batch of items
    is one encoder call (the array's text without its brackets)."""
    write("[ " if pretty else "[")
    buf: list = []
    sep = ""
    if not pretty:
        import json  # (read on first use, as _json_dumps reads it)
        encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        for v in items:
            buf.append(v)
            if len(buf) >= batch:
                write(sep + encode(buf)[1:-1])
                buf.clear()
                sep = ","
        write((sep + encode(buf)[1:-1] if buf else "") + "]\n")
        return
    for v in items:
        piece: list = []
        _pretty(v, piece, 1)
        buf.append(sep + "".join(piece))
        sep = ","
        if len(buf) >= batch:
            write("".join(buf))
            buf.clear()
    write("".join(buf) + (" ]\n" if sep else "]\n"))


__all__ = ["to_json", "dumps", "dump_array", "service_json", "dest_json", "connection_json",
           "connection_record_json", "timeouts_json", "daemon_json", "info_json",
           "operation_json", "status_json"]
