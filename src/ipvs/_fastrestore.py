# A fast path for ipvsadm -R: the plain rule lines that `ipvsadm -S -n`
# writes for the bulk of a large table (TCP/UDP services with a scheduler
# only; real servers with a forwarding method and a weight only, IPv4,
# numeric). Such a line is turned into its encoded operation (what
# Client.batch() takes) with one regular expression instead of the full
# option grammar; everything else, and every value the full parser would
# treat specially (port 0, a weight over INT_MAX, a 16-character scheduler
# name, ...), returns None and goes through the full parser.
#
# Rule: for every line it accepts, the result equals the encoding of what
# the CLI's full parser, its checks and Runner.operation() make of the same
# line (tests/test_cli_fastrestore.py compares the two on generated lines).
# Attribute ids and layouts come from the spec (_spec.TABLES), the words
# from the vocabulary: nothing of the wire format is written here.
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import re

from .vocab import (AF_INET, DEFAULT_SCHEDULER, FORWARDING_SWITCHES, IPPROTO_TCP, IPPROTO_UDP,
                     PROTOCOL_OPTIONS, FWD_MASQ)

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IP4 = r"%s\.%s\.%s\.%s" % ((_OCTET,) * 4)
_PORT = r"[1-9][0-9]{0,4}"
_PROTOCOL = {PROTOCOL_OPTIONS[p]: p for p in (IPPROTO_TCP, IPPROTO_UDP)}  # "-t" -> 6
_FWD = {letter: method for letter, _, method in FORWARDING_SWITCHES}  # "m" -> masq
_PROTO_RE = "(%s)" % "|".join(_PROTOCOL)
_FWD_RE = "-([%s])" % "".join(_FWD)
_SERVICE = re.compile(r"-A %s (%s):(%s) -s ([a-z]{1,15})\Z" % (_PROTO_RE, _IP4, _PORT))
_DEST = re.compile(r"-a %s (%s):(%s) -r (%s):(%s) %s -w (0|[1-9][0-9]{0,9})\Z"
                   % (_PROTO_RE, _IP4, _PORT, _IP4, _PORT, _FWD_RE))
_MASQ = [k for k, v in _FWD.items() if v == FWD_MASQ][0]
_INT_MAX = 2 ** 31 - 1
_PAD12 = bytes(12)


def attr_id(table: str, name: str) -> int:
    """The id of attribute `name` of spec table `table` (_spec.TABLES)."""
    from . import _spec
    return _spec.TABLES[table][name].id


class FastRestore:
    """operation(line) -> the encoded operation that ipvsadm's command for
    this -R line encodes to (hand it to Client.batch() as it is), or None
    when the line is not a plain one: then parse it in full.

    A real-server line is encoded straight from the matched text (the
    destination attributes in one struct pack, the service's key attribute
    cached per distinct service text: a restore file names each service
    again in every one of its real-server lines)."""

    def __init__(self):
        from . import _netlink as nl
        from . import _spec as spec
        from ._client import DEST_FIELDS, EncodedOp, encode_operation, service_key_nest
        from ._model import Service
        self._EncodedOp = EncodedOp
        self._encode = encode_operation
        # the five attributes a plain line gives, then every other one that
        # NEW_DEST sends (DEST_FIELDS), as 0: no edit here for a new one
        given = ("addr_family", "addr", "port", "fwd_method", "weight")
        rest = tuple(f for f in DEST_FIELDS if f not in given)
        self._dest_nest = spec.fixed_encoder("dest", given + rest, {"addr": 16})
        self._zeros = (0,) * len(rest)
        self._key_nest = service_key_nest
        self._nested = nl.nested
        self._Service = Service
        self._NEW_DEST = spec.CMD_NEW_DEST
        self._service_id = attr_id("cmd", "service")
        self._dest_id = attr_id("cmd", "dest")
        self._keys = {}

    def _service(self, flag, addr, port, scheduler=DEFAULT_SCHEDULER):
        return self._Service(af=AF_INET, protocol=_PROTOCOL[flag], address=addr,
                             port=port, scheduler=scheduler, flags=0, timeout=0,
                             netmask="255.255.255.255", pe_name="")

    def _service_attr(self, flag, addr, port, svc=None):
        """The encoded "service" attribute naming this service (port: as
        the line writes it)."""
        key = (flag, addr, port)
        enc = self._keys.get(key)
        if enc is None:
            if len(self._keys) > 100000:
                self._keys.clear()  # bounded memory for huge inputs
            if svc is None:
                svc = self._service(flag, addr, int(port))
            enc = self._keys[key] = self._nested(self._service_id, self._key_nest(svc))
        return enc

    def operation(self, line: str):
        line = line.strip(" \t\n\r")  # config_stream's separators
        if line.startswith("-a "):
            m = _DEST.match(line)
            if m is None:
                return None
            flag, vaddr, vport, raddr, rport, fwd, weight = m.groups()
            vport_n, rport_n, weight_n = int(vport), int(rport), int(weight)
            if vport_n > 65535 or rport_n > 65535 or weight_n > _INT_MAX:
                return None
            if fwd != _MASQ:
                rport_n = vport_n  # ipvsadm: DR and tunnel servers use the service port
            dest = self._dest_nest(AF_INET, socket.inet_aton(raddr) + _PAD12, rport_n,
                                   _FWD[fwd], weight_n, *self._zeros)
            return self._EncodedOp("add_destination", self._NEW_DEST,
                                   self._service_attr(flag, vaddr, vport)
                                   + self._nested(self._dest_id, dest))
        if line.startswith("-A "):
            m = _SERVICE.match(line)
            if m is None:
                return None
            flag, addr, port, scheduler = m.groups()
            if int(port) > 65535:
                return None
            svc = self._service(flag, addr, int(port), scheduler)
            self._service_attr(flag, addr, port, svc)  # its real-server lines follow
            return self._encode(("add_service", svc))
        return None


__all__ = ["FastRestore", "attr_id"]
