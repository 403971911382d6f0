# A table as rules: (Service, [Destination]) pairs checked, stripped of what
# is not part of a rule (counters, the kernel's hashed flag) and compared by
# what the kernel lets a rule change. Plans (_plan) and the undo journal
# (_journal) both stand on it.
#
# Rule: pure functions over model objects; read_table() is the one that
# talks to a client, and only through its listing methods.
from __future__ import annotations

from typing import Iterable, List, Tuple

from ._base import IPVSError
from ._model import Destination, Service, field_values
from .rules import endpoint, service_spec
from .vocab import FWD_MASK, SVC_F_HASHED

Table = List[Tuple[Service, List[Destination]]]  # (service, its destinations), in order


class PlanError(IPVSError, ValueError):
    """A target table that no sequence of operations can reach (a service
    or destination given twice)."""


# --------------------------------------------------------------- comparing

def _settings(normalize: dict):
    """f(obj) -> what the kernel lets a rule change: the values of the
    "set" fields of its class's FIELD_MAP, each as normalize[field](obj)
    where given (one reader per model class, made on first use)."""
    readers: dict = {}

    def settings(obj) -> tuple:
        read = readers.get(type(obj))
        if read is None:
            read = readers[type(obj)] = field_values(type(obj), ("set",), normalize)
        return read(obj)
    return settings


# What SET_SERVICE can change. The kernel reports its internal 'hashed'
# flag; it is not part of a rule.
service_settings = _settings({"flags": lambda s: s.flags & ~SVC_F_HASHED})
# What SET_DEST can change (the method without the kernel's other bits).
dest_settings = _settings({"fwd_method": lambda d: d.fwd_method & FWD_MASK})


def clean_service(s: Service) -> Service:
    """A service as a rule: no counters, no kernel-internal flag."""
    if s.stats is None and not s.flags & SVC_F_HASHED:
        return s
    return s.replace(stats=None, flags=s.flags & ~SVC_F_HASHED)


def clean_destination(d: Destination) -> Destination:
    if d.stats is None and not (d.active_conns or d.inactive_conns or d.persistent_conns) \
            and d.fwd_method == d.fwd_method & FWD_MASK:
        return d
    return d.replace(stats=None, active_conns=0, inactive_conns=0, persistent_conns=0,
                     fwd_method=d.fwd_method & FWD_MASK)


def normalize_table(table: Iterable) -> Table:
    """Check a table (pairs of a Service and its Destinations) and strip
    what is not part of a rule. PlanError on a duplicate service or
    destination."""
    out: Table = []
    seen = set()
    for entry in table:
        try:
            svc, dests = entry
        except (TypeError, ValueError):
            raise PlanError("a table entry is a (Service, [Destination, ...]) pair") from None
        if not isinstance(svc, Service):
            raise PlanError("not a Service: %r" % (svc,))
        if svc.key in seen:
            raise PlanError("service given twice: %s" % service_spec(svc))
        seen.add(svc.key)
        dseen = set()
        clean = []
        for d in dests:
            if not isinstance(d, Destination):
                raise PlanError("not a Destination: %r" % (d,))
            if d.key in dseen:
                raise PlanError("destination given twice: %s -r %s"
                                % (service_spec(svc), endpoint(d.af, d.address, d.port)))
            dseen.add(d.key)
            clean.append(clean_destination(d))
        out.append((clean_service(svc), clean))
    return out


def same_table(a: Iterable, b: Iterable) -> bool:
    """Equal as rules (order, counters and the hashed flag ignored)."""
    def canon(t):
        return {s.key: (service_settings(s), {d.key: dest_settings(d) for d in ds})
                for s, ds in normalize_table(t)}
    return canon(a) == canon(b)


def read_table(client) -> Table:
    """The kernel's table as rules (no counters), in kernel order."""
    return normalize_table(client.entries())



__all__ = ["Table", "PlanError", "service_settings", "dest_settings", "clean_service",
           "clean_destination", "normalize_table", "same_table", "read_table"]
