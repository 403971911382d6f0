# A fast path for ipvsadm -R: the plain rule lines that `ipvsadm -S -n`
# writes for the bulk of a large table (TCP/UDP services with a scheduler
# only; real servers with a forwarding method and a weight only, IPv4,
# numeric). Such a line is turned into its library operation with one regular
# expression instead of the full option grammar; everything else, and every
# value the full parser would treat specially (port 0, a weight over
# INT_MAX, a 16-character scheduler name, ...), returns None and goes
# through the full parser.
#
# Rule: for every line it accepts, the result equals what the full parser,
# its checks and Runner.operation() make of the same line
# (tests/test_cli_fastrestore.py compares the two on generated lines).
from __future__ import annotations

import re
import socket

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IP4 = r"%s\.%s\.%s\.%s" % ((_OCTET,) * 4)
_PORT = r"[1-9][0-9]{0,4}"
_SERVICE = re.compile(r"-A (-[tu]) (%s):(%s) -s ([a-z]{1,15})\Z" % (_IP4, _PORT))
_DEST = re.compile(r"-a (-[tu]) (%s):(%s) -r (%s):(%s) -([mgi]) -w (0|[1-9][0-9]{0,9})\Z"
                   % (_IP4, _PORT, _IP4, _PORT))
_PROTOCOL = {"-t": 6, "-u": 17}
_FWD = {"m": 0, "i": 2, "g": 3}  # IP_VS_CONN_F_MASQ, _TUNNEL, _DROUTE
_INT_MAX = 2 ** 31 - 1


class FastRestore:
    """Line -> operation tuple (as Runner.operation makes) or None.

    Services are built once per distinct service text: in a restore file
    each service is named again by every one of its real-server lines."""

    def __init__(self):
        from .._model import Destination, Service
        self._Service = Service
        self._Destination = Destination
        self._services = {}

    def _service(self, flag, addr, port, scheduler="wlc"):
        key = (flag, addr, port, scheduler)
        svc = self._services.get(key)
        if svc is None:
            if len(self._services) > 100000:
                self._services.clear()  # bounded memory for huge inputs
            svc = self._Service(af=socket.AF_INET, protocol=_PROTOCOL[flag], address=addr,
                                port=port, scheduler=scheduler, flags=0, timeout=0,
                                netmask="255.255.255.255", pe_name="")
            self._services[key] = svc
        return svc

    def operation(self, line: str):
        line = line.strip(" \t\n\r\v\f")
        if line.startswith("-a "):
            m = _DEST.match(line)
            if m is None:
                return None
            flag, vaddr, vport, raddr, rport, fwd, weight = m.groups()
            vport, rport, weight = int(vport), int(rport), int(weight)
            if vport > 65535 or rport > 65535 or weight > _INT_MAX:
                return None
            if fwd != "m":
                rport = vport  # ipvsadm: DR and tunnel servers use the service port
            svc = self._service(flag, vaddr, vport)
            return ("add_destination", svc, self._Destination(
                address=raddr, port=rport, af=socket.AF_INET, fwd_method=_FWD[fwd],
                weight=weight))
        if line.startswith("-A "):
            m = _SERVICE.match(line)
            if m is None:
                return None
            flag, addr, port, scheduler = m.groups()
            port = int(port)
            if port > 65535:
                return None
            return ("add_service", self._service(flag, addr, port, scheduler))
        return None
