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
#
# RuleBatch runs whole runs of such lines through the decoder seam's
# encode_rules (C: csrc/ipvs_rules.c, straight from the input's bytes into
# a send buffer; the twin: FastRestore on each line), from templates made
# here by encoding sample lines with FastRestore (rule_templates): C only
# writes a line's values into them.
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Optional

from .vocab import (AF_INET, DEFAULT_SCHEDULER, FORWARDING_SWITCHES, IPPROTO_TCP, IPPROTO_UDP,
                     PROTOCOL_OPTIONS, FWD_MASQ)

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IP4 = r"%s\.%s\.%s\.%s" % ((_OCTET,) * 4)
_PORT = r"[1-9][0-9]{0,4}"
_PROTOCOL = {PROTOCOL_OPTIONS[p]: p for p in (IPPROTO_TCP, IPPROTO_UDP)}  # "-t" -> 6
_FWD = {letter: method for letter, _, method in FORWARDING_SWITCHES}  # "m" -> masq
_PROTO_RE = "(%s)" % "|".join(_PROTOCOL)
_FWD_RE = "-([%s])" % "".join(_FWD)
_SERVICE = r"-A %s (%s):(%s) -s ([a-z]{1,15})\Z" % (_PROTO_RE, _IP4, _PORT)
_DEST = (r"-a %s (%s):(%s) -r (%s):(%s) %s -w (0|[1-9][0-9]{0,9})\Z"
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
        from ._keys import service_key_nest
        from ._model import Service
        from ._requests import DEST_FIELDS, EncodedOp, encode_operation
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
        self._match = None  # the regular expressions' match methods, made on first use

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
        if self._match is None:
            import re  # (not before: C's path never needs it)
            self._match = re.compile(_SERVICE).match, re.compile(_DEST).match
        line = line.strip(" \t\n\r")  # config_stream's separators
        if line.startswith("-a "):
            m = self._match[1](line)
            if m is None:
                return None
            flag, vaddr, vport, raddr, rport, fwd, weight = m.groups()
            vport_n, rport_n, weight_n = int(vport), int(rport), int(weight)
            if vport_n > 65535 or rport_n > 65535 or weight_n > _INT_MAX:
                return None
            return self.dest(flag, vaddr, vport, raddr, rport_n, fwd, weight_n)
        if line.startswith("-A "):
            m = self._match[0](line)
            if m is None:
                return None
            flag, addr, port, scheduler = m.groups()
            if int(port) > 65535:
                return None
            return self.service(flag, addr, port, scheduler)
        return None

    def dest(self, flag, vaddr, vport, raddr, rport, fwd, weight):
        """A real-server line's operation from its checked values (vport
        as the line writes it, rport and weight as numbers)."""
        if fwd != _MASQ:
            rport = int(vport)  # ipvsadm: DR and tunnel servers use the service port
        dest = self._dest_nest(AF_INET, socket.inet_aton(raddr) + _PAD12, rport,
                               _FWD[fwd], weight, *self._zeros)
        return self._EncodedOp("add_destination", self._NEW_DEST,
                               self._service_attr(flag, vaddr, vport)
                               + self._nested(self._dest_id, dest))

    def service(self, flag, addr, port, scheduler):
        """A service line's operation from its checked values (port as the
        line writes it)."""
        svc = self._service(flag, addr, int(port), scheduler)
        self._service_attr(flag, addr, port, svc)  # its real-server lines follow
        return self._encode(("add_service", svc))


# Where a plain line's values go: the attribute (its table, its name) ->
# the value (csrc/ipvs_rules.c's IPVS_RF_* by name); how each is written
# follows from the attribute's type in the spec (_KINDS).
_SLOTS = {("service", "protocol"): "proto", ("service", "addr"): "vaddr",
          ("service", "port"): "vport", ("service", "sched_name"): "sched",
          ("dest", "addr"): "raddr", ("dest", "port"): "rport",
          ("dest", "fwd_method"): "fwd", ("dest", "weight"): "weight"}
_KINDS = {("u16", "host"): "u16", ("u16", "big"): "be16", ("u32", "host"): "u32",
          ("binary", "host"): "addr4", ("string", "host"): "string"}
# the values the templates are encoded from (every value in a slot is
# overwritten): a real server, then a service for each padded size of the
# scheduler's name (4, 8, 12, 16 bytes with its NUL)
_SAMPLES = (("dest", "-t", "1.1.1.1", "1", "1.1.1.1", 1, _MASQ, 1),) + tuple(
    ("service", "-t", "1.1.1.1", "1", "x" * n) for n in (3, 7, 11, 15))


def rule_templates(family: int, version: int, fast: Optional[FastRestore] = None) -> list:
    """[(operation, message, [(offset, size, kind, value)])] for
    csrc/ipvs_rules.c: the request of each sample (_SAMPLES) as FastRestore
    (`fast`, or a new one) encodes its line, flagged NLM_F_REQUEST, with the
    slots its line's values take."""
    from . import _netlink as nl
    from . import _spec
    fast = fast or FastRestore()
    out = []
    for line in _SAMPLES:
        op = getattr(fast, line[0])(*line[1:])
        msg = nl.encode_genl(family, op.cmd, version, op.attrs, flags=nl.NLM_F_REQUEST)
        slots: list = []
        _slots(msg, nl.NLMSG_HDR.size + nl.GENL_HDR.size, len(msg), "cmd", slots)
        dest = op.cmd == _spec.CMD_NEW_DEST
        if sorted(f for _, _, _, f in slots) != sorted(
                f for (t, a), f in _SLOTS.items()
                if ((t == "dest" or a != "sched_name") if dest else t == "service")):
            raise AssertionError("the values of %r are not one attribute each" % (line,))
        out.append((op.operation, msg, slots))
    return out


def _slots(msg, start, end, table, slots):
    from . import _netlink as nl
    from . import _spec
    by_id = {a.id: a for a in _spec.TABLES[table].values()}
    for atype, s, e in nl.iter_attrs(msg, start, end):
        a = by_id[atype]
        if a.type == "nest":
            _slots(msg, s, e, a.nest, slots)
            continue
        value = _SLOTS.get((table, a.name))
        if value is None:
            continue
        slots.append((s, e - s, _KINDS[(a.type, a.order)], value))


def rule_grammar():
    """The letters of a plain line and their values: ((protocol letter,
    protocol), ...), ((forwarding letter, method), ...), the letter that
    keeps the real server's port."""
    return (tuple((flag[1], p) for flag, p in _PROTOCOL.items()),
            tuple(_FWD.items()), _MASQ)


class RulePlan:
    """What encode_rules needs for one kernel family: the family id and
    version, FastRestore's operation (the twin's), the templates and
    letters (C's), and, made by the C decoder on first use, its tables
    (.c)."""

    def __init__(self, family: int, version: int):
        self.family, self.version = family, version
        self._fast = FastRestore()
        self.operation = self._fast.operation
        self.c = None
        self._templates = None

    def templates(self) -> list:
        if self._templates is None:
            self._templates = rule_templates(self.family, self.version, self._fast)
        return self._templates

    def operations(self) -> dict:
        """{command: operation name} of the requests it writes."""
        from ._netlink import NLMSG_HDR
        return {msg[NLMSG_HDR.size]: op for op, msg, _ in self.templates()}

    def grammar(self) -> tuple:
        return rule_grammar()


class RuleBatch:
    """The table-changing lines of a restore, packed into one buffer and
    sent BATCH_BYTES at a time (Conn.execute_packed): runs of plain lines
    through the decoder seam's encode_rules (lines()), any other operation
    one at a time (add()). report(KernelError) is called for each failed
    one, in order, when its buffer is sent; flush() sends what is queued.
    status: the status of the last operation sent (0, -1; None: none yet).
    connect() gives the Client, called at the first operation (opening the
    kernel connection where ipvsadm would first need it)."""

    def __init__(self, connect, report):
        self._connect, self._report = connect, report
        self._client = self._plan = self._probe = None
        self._used = self._count = self._last = 0
        self._first = None
        self._names: dict = {}  # seq -> operation, for add()'s
        self.status = None

    def _open(self):
        from . import _spec
        from ._transport import BATCH_BYTES
        self._client = c = self._connect()
        self._plan = RulePlan(c.family, _spec.GENL_VERSION)
        self._cap = BATCH_BYTES
        self._buf = bytearray(2 * BATCH_BYTES)  # room for add()'s last one past cap
        self._ops = self._plan.operations()

    def lines(self, data: bytes, pos: int = 0) -> int:
        """Queue the plain lines of data (whole lines, bytes) from pos on,
        sending each full buffer; return where they end: len(data), or the
        start of a line that is not plain (parse it in full, then call
        again after it). Blank lines are skipped."""
        from ._decoder import encode_rules
        if self._client is None:
            # the kernel is opened at the first operation, not before: is the
            # first line with words a plain one? (encode_rules answers on a
            # plan for no family; else it stops at that line, or at the end)
            first = self._probe_lines(data, pos)
            if not first[2]:
                return first[1]
            self._open()
        conn = self._client._conn
        while pos < len(data):
            seq = conn.peek_seq()
            full, pos, n, used, last = encode_rules(data, pos, self._plan, seq, self._buf,
                                                    self._used, self._cap)
            if n:
                conn.next_seqs(n)
                if self._first is None:
                    self._first = seq
                self._count += n
                self._used, self._last = used, last
            if not full:
                break
            if not n and not self._count:
                raise ValueError("a request larger than the send buffer")
            self.flush()
        return pos

    def _probe_lines(self, data: bytes, pos: int) -> tuple:
        """encode_rules over data from pos into a scratch buffer of a few
        requests, numbered for no family (the kernel is not open yet)."""
        from . import _spec
        from ._decoder import encode_rules
        if self._probe is None:
            self._probe = RulePlan(0, _spec.GENL_VERSION)
        return encode_rules(data, pos, self._probe, 1, bytearray(512), 0, 512)

    def add(self, op) -> None:
        """Queue one operation: (Client method name, arguments...), as
        Client.batch takes it, or its EncodedOp."""
        from . import _netlink as nl
        from ._requests import encode_operation
        op = encode_operation(op)
        if self._client is None:
            self._open()
        conn = self._client._conn
        seq = conn.next_seq()
        msg = nl.encode_genl(self._client.family, op.cmd, self._plan.version, op.attrs,
                             flags=nl.NLM_F_REQUEST, seq=seq)
        if self._used + len(msg) > self._cap and self._count:
            self.flush()
        if len(msg) > len(self._buf) - self._used:
            raise ValueError("a request of %d bytes" % len(msg))
        self._buf[self._used:self._used + len(msg)] = msg
        self._names[seq] = op.operation
        if self._first is None:
            self._first = seq
        self._last, self._used = self._used, self._used + len(msg)
        self._count += 1

    def flush(self) -> None:
        """Send what is queued (status: its last operation's)."""
        if not self._count:
            return
        from ._errors import KernelError
        first, count, used, last, names = (self._first, self._count, self._used, self._last,
                                           self._names)
        self._count = self._used = 0
        self._first, self._names = None, {}
        view = memoryview(self._buf)[:used]
        try:
            errors = self._client._conn.execute_packed(view, first, count, last)
        finally:
            view.release()
        self.status = 0
        if not errors:
            return
        cmds = None
        for seq, info in errors.items():
            name = names.get(seq)
            if name is None:
                if cmds is None:
                    cmds = _commands(self._buf, used)
                name = self._ops.get(cmds.get(seq))
            self._report(KernelError(info.error, name, info.msg))
        if (first - 1 + count - 1) % 0xFFFFFFFF + 1 in errors:
            self.status = -1


def _commands(buf, used):
    """{sequence number: command} of the messages in buf[:used]."""
    from . import _netlink as nl
    out, pos = {}, 0
    while pos + nl.NLMSG_HDR.size + nl.GENL_HDR.size <= used:
        n, _, _, seq, _ = nl.NLMSG_HDR.unpack_from(buf, pos)
        out[seq] = buf[pos + nl.NLMSG_HDR.size]
        pos += nl.align4(max(n, nl.NLMSG_HDR.size))
    return out


__all__ = ["FastRestore", "attr_id", "RuleBatch", "RulePlan", "rule_templates"]
