# Requests: model objects as the attributes each mutating command sends.
#
# Rule: every NEW/SET/DEL request is encoded here, from each model class's
# FIELD_MAP (_model) through the spec tables (_spec); the Client and the
# fast restore (_fastrestore) send what this module makes, nothing else.
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import _struct as struct  # the C module: struct.py is one more file to read

from . import _spec as spec
from ._base import record_type
from ._keys import service_key_attrs, service_key_nest
from ._model import (AF_INET, AF_INET6, FWD_MASK, Destination, Service, SyncDaemon, Timeouts,
                     field_values, mapped, pack_address)
from ._records import RECORDS

_U32 = struct.Struct("=I")

# ------------------------------------------------------- model -> attributes

def netmask_bytes(svc: Service) -> bytes:
    if svc.af == AF_INET6:
        return _U32.pack(int(svc.netmask))
    return socket.inet_pton(AF_INET, svc.netmask)


# Both directions derive from each model class's FIELD_MAP; only a value
# that differs from the record's or the attribute's has a converter here.

def attr_writer(cls, record: str, roles: tuple, convert: dict, records=RECORDS):
    """(attribute names, f(obj) -> their values in that order) for the
    fields of cls.FIELD_MAP in `roles`; each attribute is the one that
    record's field of that name is read from (_records). convert: {model
    field: f(obj) -> attribute value} where the value is not the field's."""
    attrs = {f[0]: f[1] for f in records[record][2]}
    return (tuple(attrs[rec] for _, rec in mapped(cls, "record", roles)),
            field_values(cls, roles, convert))


_SERVICE_WRITE = {"flags": lambda s: (s.flags, 0xFFFFFFFF), "netmask": netmask_bytes,
                  "pe_name": lambda s: s.pe_name or None}  # None: not sent
SERVICE_SET_FIELDS, _service_settings = attr_writer(Service, "service", ("set",), _SERVICE_WRITE)


def service_attrs(svc: Service) -> dict:
    """Every settable attribute of a service (add and edit)."""
    a = service_key_attrs(svc)
    a.update((k, v) for k, v in zip(SERVICE_SET_FIELDS, _service_settings(svc))
             if v is not None)
    return a


_DEST_WRITE = {"address": lambda d: pack_address(d.af, d.address),
               "fwd_method": lambda d: d.fwd_method & FWD_MASK,
               "weight": lambda d: d.weight & 0xFFFFFFFF}  # an i32 sent as the u32
DEST_KEY_FIELDS, _dest_key_values = attr_writer(Destination, "dest", ("key",), _DEST_WRITE)
# the destination attributes every NEW_DEST/SET_DEST sends (dest_nest's
# order; the fast restore encodes its lines with the same list)
DEST_FIELDS, dest_values = attr_writer(Destination, "dest", ("key", "set"), _DEST_WRITE)
_DEST_NEST = spec.fixed_encoder("dest", DEST_FIELDS, {"addr": 16})


def dest_key_attrs(d: Destination) -> dict:
    return dict(zip(DEST_KEY_FIELDS, _dest_key_values(d)))


def dest_attrs(d: Destination) -> dict:
    return dict(zip(DEST_FIELDS, dest_values(d)))


def dest_nest(d: Destination) -> spec.Encoded:
    """encode_attrs("dest", dest_attrs(d)) in one pack (tests check so)."""
    return spec.Encoded(_DEST_NEST(*dest_values(d)))


def daemon_attrs(d: SyncDaemon) -> dict:
    a = {"state": d.state, "mcast_ifn": d.mcast_ifn, "sync_id": d.syncid}
    if d.sync_maxlen:
        a["sync_maxlen"] = d.sync_maxlen
    if d.mcast_port:
        a["mcast_port"] = d.mcast_port
    if d.mcast_ttl:
        a["mcast_ttl"] = d.mcast_ttl
    if d.mcast_group:
        if ":" in d.mcast_group:
            a["mcast_group6"] = socket.inet_pton(AF_INET6, d.mcast_group)
        else:
            a["mcast_group"] = socket.inet_pton(AF_INET, d.mcast_group)
    return a


# ------------------------------------------------------ mutating operations
# name -> (command, function from the call's arguments to the attributes).
# Each mutating Client method and Client.batch() encode through this table,
# and the name selects ipvsadm's error text (_errors).

def _daemon_key_attrs(d: SyncDaemon) -> dict:
    return {"daemon": {"state": d.state, "mcast_ifn": d.mcast_ifn, "sync_id": d.syncid}}


def _timeout_attrs(t: Timeouts) -> dict:
    return {"timeout_tcp": t.tcp, "timeout_tcp_fin": t.tcp_fin, "timeout_udp": t.udp}




OPERATIONS = {
    "add_service": (spec.CMD_NEW_SERVICE, lambda s: {"service": service_attrs(s)}),
    "edit_service": (spec.CMD_SET_SERVICE, lambda s: {"service": service_attrs(s)}),
    "delete_service": (spec.CMD_DEL_SERVICE, lambda s: {"service": service_key_nest(s)}),
    "add_destination": (spec.CMD_NEW_DEST, lambda s, d: {"service": service_key_nest(s),
                                                         "dest": dest_nest(d)}),
    "edit_destination": (spec.CMD_SET_DEST, lambda s, d: {"service": service_key_nest(s),
                                                          "dest": dest_nest(d)}),
    "delete_destination": (spec.CMD_DEL_DEST, lambda s, d: {"service": service_key_nest(s),
                                                            "dest": dest_key_attrs(d)}),
    "flush": (spec.CMD_FLUSH, lambda: None),
    "zero": (spec.CMD_ZERO, lambda s=None: {"service": service_key_attrs(s)} if s else None),
    "set_timeouts": (spec.CMD_SET_CONFIG, _timeout_attrs),
    "start_daemon": (spec.CMD_NEW_DAEMON, lambda d: {"daemon": daemon_attrs(d)}),
    "stop_daemon": (spec.CMD_DEL_DAEMON, _daemon_key_attrs),
}


# An operation as the bytes it sends: what batch() makes of each tuple, and
# what a caller that encodes faster itself (ipvsadm -R's plain lines) may
# hand to batch() in place of the tuple.
EncodedOp = record_type("EncodedOp", "operation cmd attrs", module=__name__)


def encode_operation(op) -> EncodedOp:
    """(name, *arguments) of a mutating Client method -> EncodedOp."""
    if type(op) is EncodedOp:
        return op
    cmd, attrs = OPERATIONS[op[0]]
    return EncodedOp(op[0], cmd, spec.encode_attrs("cmd", attrs(*op[1:]) or {}))
