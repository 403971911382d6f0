# Model: frozen value objects shared by the library and the CLI.
#
# Rule: objects are validated (and normalised) when built, so everything
# downstream can trust them; no protocol or I/O code here.
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
from _operator import attrgetter  # the C module: operator.py costs an import

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any, Callable, Optional, Type, TypeVar, Union

    from typing_extensions import dataclass_transform

    _T = TypeVar("_T")

from .vocab import (AF_INET, AF_INET6, DAEMON_BACKUP, DAEMON_MASTER, DAEMON_STATE_NAMES,
                     DAEMON_STATES, DEFAULT_SCHEDULER, FORWARDING, FWD_BYPASS, FWD_LOCAL,
                     FWD_MASK, FWD_MASQ, FWD_ROUTE, FWD_TUNNEL, IPPROTO_SCTP, IPPROTO_TCP,
                     IPPROTO_UDP, PROTOCOL_NAMES, PROTOCOLS, SVC_F_HASHED, SVC_F_ONEPACKET,
                     SVC_F_PERSISTENT, SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3, TUN_F_CSUM,
                     TUN_F_NOCSUM, TUN_F_REMCSUM, TUN_GRE, TUN_GUE, TUN_IPIP, TUNNEL_TYPES)

# the vocabulary's numbers and names, as this module has always offered them
__all__ = ["AF_INET", "AF_INET6", "DAEMON_BACKUP", "DAEMON_MASTER", "DAEMON_STATES",
           "FORWARDING", "FWD_BYPASS", "FWD_LOCAL", "FWD_MASK", "FWD_MASQ", "FWD_ROUTE",
           "FWD_TUNNEL", "IPPROTO_SCTP", "IPPROTO_TCP", "IPPROTO_UDP", "PROTOCOL_NAMES",
           "PROTOCOLS", "SVC_F_HASHED", "SVC_F_ONEPACKET", "SVC_F_PERSISTENT",
           "SVC_F_SCHED1", "SVC_F_SCHED2", "SVC_F_SCHED3", "TUN_F_CSUM", "TUN_F_NOCSUM",
           "TUN_F_REMCSUM", "TUN_GRE", "TUN_GUE", "TUN_IPIP", "TUNNEL_TYPES",
           "FrozenInstanceError", "Stats", "Service", "Destination", "Timeouts",
           "SyncDaemon", "Info", "Connection", "FIELD_MAP_COLUMNS", "mapped", "field_values",
           "family_of",
           "normalize_address", "pack_address", "unpack_address"]


class FrozenInstanceError(AttributeError):
    """A model object was changed: they are values (use .replace())."""


_MISSING = object()


def _make_value_class(kw_only=True):
    """_value_class: a class decorator: an immutable value object whose fields are the
    class's annotations (defaults from the class body), built with keyword
    arguments (also positional ones unless `kw_only`), checked by the
    class's __post_init__; equality, hashing and repr by field values, and
    replace(**changes). What dataclasses(frozen=True, kw_only=True) gives,
    without importing dataclasses and inspect and generating the methods
    with exec at every start: a third of the CLI's import time."""
    positional = not kw_only

    def make(cls):
        names = tuple(cls.__dict__.get("__annotations__", {}))
        defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
        post = cls.__dict__.get("__post_init__")
        qual = cls.__qualname__

        def __init__(self, *args, **kw):
            if args and (not positional or len(args) > len(names)):
                raise TypeError("%s() takes %s positional arguments" % (
                    qual, "no" if not positional else "at most %d" % len(names)))
            d = self.__dict__
            for n, v in zip(names, args):
                if n in kw:
                    raise TypeError("%s() got multiple values for argument %r" % (qual, n))
                d[n] = v
            for n in names[len(args):]:
                v = kw.pop(n, _MISSING)
                if v is _MISSING:
                    v = defaults.get(n, _MISSING)
                    if v is _MISSING:
                        raise TypeError("%s() missing required argument: %r" % (qual, n))
                d[n] = v
            if kw:
                raise TypeError("%s() got an unexpected keyword argument %r"
                                % (qual, next(iter(kw))))
            if post is not None:
                post(self)

        def __setattr__(self, name, value):
            raise FrozenInstanceError("cannot assign to field %r" % name)

        def __delattr__(self, name):
            raise FrozenInstanceError("cannot delete field %r" % name)

        def _values(self):
            d = self.__dict__
            return tuple([d[n] for n in names])

        def __eq__(self, other):
            if other.__class__ is self.__class__:
                return _values(self) == _values(other)
            return NotImplemented

        def __hash__(self):
            return hash(_values(self))

        def __repr__(self):
            d = self.__dict__
            return "%s(%s)" % (qual, ", ".join("%s=%r" % (n, d[n]) for n in names))

        def replace(self, **changes):
            kw = dict(self.__dict__)
            kw.update(changes)
            return cls(**kw)

        for f in (__init__, __setattr__, __delattr__, __eq__, __hash__, __repr__, replace):
            f.__qualname__ = "%s.%s" % (qual, f.__name__)
            setattr(cls, f.__name__, f)
        cls._FIELDS = names
        return cls
    return make


if TYPE_CHECKING:
    # What type checkers see instead (the decorator behaves as a frozen,
    # keyword-only dataclass), and the one method that adds. Never run.
    @dataclass_transform(kw_only_default=True, frozen_default=True)
    def _value_class(kw_only: bool = True) -> Callable[[Type[_T]], Type[_T]]: ...

    class _Value:
        def replace(self: _T, **changes: Any) -> _T: ...
else:
    _value_class = _make_value_class
    _Value = object


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


def family_of(address: str) -> int:
    return AF_INET6 if ":" in address else AF_INET


def normalize_address(af: int, address: str) -> str:
    try:
        return socket.inet_ntop(af, socket.inet_pton(af, address))
    except (OSError, ValueError, TypeError):
        raise ValueError("invalid %s address: %r" % ("IPv6" if af == AF_INET6 else "IPv4", address))


def pack_address(af: int, address: Optional[str]) -> bytes:
    """The 16-byte union nf_inet_addr the kernel uses (IPv4 in the first 4)."""
    if not address:
        return bytes(16)
    raw = socket.inet_pton(af, address)
    return raw + bytes(16 - len(raw))


def unpack_address(af: int, raw: bytes) -> str:
    if af == AF_INET6:
        return socket.inet_ntop(AF_INET6, raw[:16].ljust(16, b"\0"))
    return socket.inet_ntop(AF_INET, raw[:4].ljust(4, b"\0"))


# The columns of a model class's FIELD_MAP: how each of its fields meets
# the kernel, a rule and JSON. A new attribute is a field of the class, a
# row of its map and its attribute and record field in the spec; the code
# that moves values between them reads the rows.
#   field: the model field
#   record: the field of _records' record (which names its attribute in
#       the spec's table); None: not from the kernel
#   role: "key" names the object; "set" is sent by the requests that make
#       and change it, and a rule compares it (_table); "count" only the
#       kernel reports (never sent, not part of a rule)
#   json: its key in the JSON object (None: shown otherwise, or not)
#   option: the ipvsadm option a rule writes it with when it is not 0
#       (None: the rule writes it otherwise, or not)
FIELD_MAP_COLUMNS = ("field", "record", "role", "json", "option")


def mapped(cls, column: str, roles: tuple = ()) -> tuple:
    """(field, column value) of each row of cls.FIELD_MAP whose column is
    set (and whose role is one of `roles`, if given), in the map's order."""
    i = FIELD_MAP_COLUMNS.index(column)
    return tuple((row[0], row[i]) for row in cls.FIELD_MAP
                 if row[i] is not None and (not roles or row[2] in roles))


def field_values(cls, roles: tuple, convert: dict):
    """f(obj) -> the values of the fields of cls.FIELD_MAP in `roles`, in
    the map's order, each as convert[field](obj) where given."""
    getters = [convert.get(f) or attrgetter(f) for f, _ in mapped(cls, "field", roles)]
    return lambda obj: tuple([g(obj) for g in getters])


@_value_class(kw_only=False)
class Stats(_Value):
    """Counters and rates of a service, a destination or the whole table.

    Positional construction is allowed here (unlike the other models): the
    decoders hand over the ten counters in this order."""
    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


def stats_from(values) -> Stats:
    """Stats(*values) without __init__'s Python loop: a listing makes one
    of the decoders' ten counters per service and real server."""
    obj = object.__new__(Stats)
    obj.__dict__.update(zip(Stats._FIELDS, values))
    return obj


def _proto_number(protocol) -> int:
    if isinstance(protocol, str):
        try:
            return PROTOCOLS[protocol.lower()]
        except KeyError:
            raise ValueError("unknown protocol %r" % protocol) from None
    return int(protocol)


@_value_class()
class Service(_Value):
    """A virtual service: (protocol, address, port) or a firewall mark.

    netmask: for IPv4 the persistence mask as dotted quad; for IPv6 the
    prefix length as a string of digits ("128"). flags holds the raw service
    flags (persistent, one-packet, scheduler flags); the properties read them.
    """
    af: int = 0
    protocol: int = 0
    address: Optional[str] = None
    port: int = 0
    fwmark: int = 0
    scheduler: str = DEFAULT_SCHEDULER
    flags: int = 0
    timeout: int = 0
    netmask: Optional[str] = None
    pe_name: str = ""
    stats: Optional[Stats] = None

    # How each field meets the kernel, a rule and JSON, in JSON order (see
    # FIELD_MAP_COLUMNS). A firewall-mark service has no protocol, address
    # or port, an address service no fwmark: JSON leaves them out.
    FIELD_MAP = (
        ("af", "af", "key", "family", None),
        ("fwmark", "fwmark", "key", "fwmark", None),
        ("protocol", "protocol", "key", "protocol", None),
        ("address", "addr", "key", "address", None),
        ("port", "port", "key", "port", None),
        ("scheduler", "sched_name", "set", "scheduler", None),
        ("flags", "flags", "set", "flags", None),
        ("timeout", "timeout", "set", "timeout", None),
        ("netmask", "netmask", "set", "netmask", None),  # JSON: prefixlen for IPv6
        ("pe_name", "pe_name", "set", "pe", None),
        ("stats", "stats", "count", None, None),  # JSON: with --stats, --rate
    )

    if TYPE_CHECKING:  # the protocol may be given by name; checked by tests/test_typing.py
        def __init__(self, *, af: int = 0, protocol: Union[int, str] = 0,
                     address: Optional[str] = None, port: int = 0, fwmark: int = 0,
                     scheduler: str = DEFAULT_SCHEDULER, flags: int = 0, timeout: int = 0,
                     netmask: Optional[str] = None, pe_name: str = "",
                     stats: Optional[Stats] = None) -> None: ...

    def __post_init__(self):
        if self.fwmark:
            if not 0 < self.fwmark <= 0xFFFFFFFF:
                raise ValueError("fwmark out of range: %r" % self.fwmark)
            _set(self, "af", self.af or AF_INET)
            _set(self, "protocol", 0)
            _set(self, "address", None)
            _set(self, "port", 0)
        else:
            if not self.address:
                raise ValueError("a service needs an address or a fwmark")
            _set(self, "protocol", _proto_number(self.protocol or IPPROTO_TCP))
            af = self.af or family_of(self.address)
            _set(self, "af", af)
            _set(self, "address", normalize_address(af, self.address))
            if not 0 <= self.port <= 0xFFFF:
                raise ValueError("port out of range: %r" % self.port)
        if self.af not in (AF_INET, AF_INET6):
            raise ValueError("address family must be AF_INET or AF_INET6")
        if self.netmask is None:
            _set(self, "netmask", "128" if self.af == AF_INET6 else "255.255.255.255")
        elif self.af == AF_INET6:
            p = int(self.netmask)
            if not 1 <= p <= 128:
                raise ValueError("IPv6 prefix length out of range: %r" % self.netmask)
            _set(self, "netmask", str(p))
        else:
            _set(self, "netmask", normalize_address(AF_INET, self.netmask))
        if len(self.scheduler.encode()) >= 16:
            raise ValueError("scheduler name too long")
        if len(self.pe_name.encode()) >= 16:
            raise ValueError("persistence engine name too long")

    # identity of a service, as the kernel matches it
    @property
    def key(self):
        return (self.af, self.protocol, self.address, self.port, self.fwmark)

    @property
    def persistent(self) -> bool:
        return bool(self.flags & SVC_F_PERSISTENT)

    @property
    def one_packet(self) -> bool:
        return bool(self.flags & SVC_F_ONEPACKET)

    @property
    def protocol_name(self) -> str:
        return PROTOCOL_NAMES.get(self.protocol, str(self.protocol))


@_value_class()
class Destination(_Value):
    """A real server of a service."""
    address: str
    port: int = 0
    af: int = 0
    fwd_method: int = FWD_ROUTE
    weight: int = 1
    u_threshold: int = 0
    l_threshold: int = 0
    tun_type: int = TUN_IPIP
    tun_port: int = 0
    tun_flags: int = TUN_F_NOCSUM
    active_conns: int = 0
    inactive_conns: int = 0
    persistent_conns: int = 0
    stats: Optional[Stats] = None

    # How each field meets the kernel, a rule and JSON, in JSON order (see
    # FIELD_MAP_COLUMNS): the reader of records, the request attributes,
    # the settings a plan compares, the JSON keys and the rule words are
    # derived from these rows.
    FIELD_MAP = (
        ("af", "af", "key", "family", None),
        ("address", "addr", "key", "address", None),
        ("port", "port", "key", "port", None),
        ("fwd_method", "fwd_method", "set", "forward", None),
        ("weight", "weight", "set", "weight", None),  # the rule writes -w always
        ("u_threshold", "u_thresh", "set", "u_threshold", "-x"),
        ("l_threshold", "l_thresh", "set", "l_threshold", "-y"),
        ("active_conns", "active_conns", "count", "active_conns", None),
        ("inactive_conns", "inact_conns", "count", "inactive_conns", None),
        ("persistent_conns", "persist_conns", "count", "persistent_conns", None),
        ("tun_type", "tun_type", "set", None, None),  # JSON and rule: the tunnel's
        ("tun_port", "tun_port", "set", None, None),
        ("tun_flags", "tun_flags", "set", None, None),
        ("stats", "stats", "count", None, None),  # JSON: with --stats, --rate
    )

    if TYPE_CHECKING:  # methods and tunnel types may be given by name
        def __init__(self, *, address: str, port: int = 0, af: int = 0,
                     fwd_method: Union[int, str] = FWD_ROUTE, weight: int = 1,
                     u_threshold: int = 0, l_threshold: int = 0,
                     tun_type: Union[int, str] = TUN_IPIP, tun_port: int = 0,
                     tun_flags: int = TUN_F_NOCSUM, active_conns: int = 0,
                     inactive_conns: int = 0, persistent_conns: int = 0,
                     stats: Optional[Stats] = None) -> None: ...

    def __post_init__(self):
        af = self.af or family_of(self.address)
        _set(self, "af", af)
        _set(self, "address", normalize_address(af, self.address))
        if isinstance(self.fwd_method, str):
            _set(self, "fwd_method", FORWARDING[self.fwd_method])
        if isinstance(self.tun_type, str):
            _set(self, "tun_type", TUNNEL_TYPES[self.tun_type])
        if not 0 <= self.port <= 0xFFFF or not 0 <= self.tun_port <= 0xFFFF:
            raise ValueError("port out of range")
        if not -(2 ** 31) <= self.weight < 2 ** 31:
            raise ValueError("weight out of range")

    @property
    def key(self):
        return (self.af, self.address, self.port)


@_value_class()
class Timeouts(_Value):
    """Connection timeouts in seconds (0 in a set request: leave unchanged)."""
    tcp: int = 0
    tcp_fin: int = 0
    udp: int = 0


@_value_class()
class SyncDaemon(_Value):
    """A connection synchronisation daemon (master or backup)."""
    state: int = DAEMON_MASTER
    mcast_ifn: str = ""
    syncid: int = 0
    sync_maxlen: int = 0
    mcast_group: Optional[str] = None
    mcast_port: int = 0
    mcast_ttl: int = 0

    if TYPE_CHECKING:  # the state may be given by name
        def __init__(self, *, state: Union[int, str] = DAEMON_MASTER, mcast_ifn: str = "",
                     syncid: int = 0, sync_maxlen: int = 0, mcast_group: Optional[str] = None,
                     mcast_port: int = 0, mcast_ttl: int = 0) -> None: ...

    def __post_init__(self):
        if isinstance(self.state, str):
            _set(self, "state", DAEMON_STATES[self.state])
        if self.mcast_group:
            _set(self, "mcast_group",
                 normalize_address(family_of(self.mcast_group), self.mcast_group))

    @property
    def state_name(self) -> str:
        return DAEMON_STATE_NAMES.get(self.state, str(self.state))


@_value_class()
class Info(_Value):
    """IPVS version and connection hash table size."""
    version: int = 0
    conn_tab_size: int = 0

    @property
    def version_string(self) -> str:
        v = self.version
        return "%d.%d.%d" % ((v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF)


@_value_class()
class Connection(_Value):
    """One entry of /proc/net/ip_vs_conn."""
    protocol: str
    af: int
    caddr: str
    cport: int
    vaddr: str
    vport: int
    daddr: str
    dport: int
    state: str
    expires: int
    pe_name: str = ""
    pe_data: str = ""
