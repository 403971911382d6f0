# Destinations of every service from one bulk read of /proc/net/ip_vs.
#
# Netlink lists destinations one service per request. With thousands of
# services that is thousands of round trips, and under emulation the
# kernel's share of those alone (measured: ~4.5 s for 5000 services) is
# more than half of what ipvsadm 1.31 takes for the whole listing. The proc
# file holds, for every service at once, exactly the destination fields of
# the plain listing (address, port, forwarding method, weight, active and
# inactive connections), printed with the same widths ipvsadm uses.
#
# Services still come from netlink: the proc text has no persistence
# engines, no scheduler flags and no family for firewall-mark services.
# This module only pairs each netlink service with its destination lines,
# and answers None for a service it cannot pair with certainty (absent from
# the text, a different scheduler there, a firewall mark used by both
# families); the caller then asks netlink for that service's destinations.
#
# Rule: no I/O but reading the file object handed in.
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import _struct as struct  # the C module: struct.py is one more file to read

from ._records import SVC
from .vocab import (AF_INET, AF_INET6, FWMARK_LABEL, PROTOCOL_LABELS, SVC_F_ONEPACKET,
                    SVC_F_PERSISTENT, SVC_F_SCHED_ANY)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Dict, List, Optional, Tuple

READ_SIZE = 1 << 20
_TITLE = "Prot LocalAddress:Port Scheduler Flags"

# A table: {(protocol name, address:port as the file prints it):
#            (scheduler, [destination line, ...])}


def read_bytes(f) -> bytes:
    """All of an open (binary) proc file."""
    chunks = []
    while True:
        b = f.read(READ_SIZE)
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def body_start(data: bytes) -> Optional[int]:
    """Where the services begin in the file's bytes: after its three title
    lines; None if they are not the kernel's."""
    one = data.find(b"\n")
    two = data.find(b"\n", one + 1) if one >= 0 else -1
    if (two < 0 or not data.startswith(b"IP Virtual Server version ")
            or data[one + 1:two] != _TITLE.encode()
            or not data.startswith(b"  -> RemoteAddress:Port", two + 1)):
        return None
    three = data.find(b"\n", two + 1)
    return three + 1 if three >= 0 else len(data)


def parse(data: bytes) -> Optional[dict]:
    """The destination lines of every service in the file's bytes (the
    table above), keyed as service_key() keys a service; None if the text
    is not the layout this module knows."""
    start = body_start(data)
    if start is None:
        return None
    table: dict = {}
    dests: Optional[List[str]] = None
    for line in data[start:].decode("latin-1").split("\n"):
        if line[:5] == "  -> ":
            # "  -> %08X:%04X      " at least: the renderer indexes into it
            if dests is None or len(line) < 24:
                return None
            dests.append(line)
        elif line:
            f = line.split()
            if len(f) < 3:
                return None
            dests = []
            # a service seen twice (the file is read a page at a time while
            # the table may change): the later text is the newer
            table[(f[0], f[1])] = (f[2], dests)
    return table


_HEX = "0123456789ABCDEFabcdef"
_V4_NAMES: Dict[str, str] = {}


def numeric_block(lines, sort) -> Optional[str]:
    """What `ipvsadm -Ln` prints of one service's real-server lines when
    every one is an IPv4 line in the kernel's layout ("  -> %08X:%04X" and
    six spaces): each as "  -> %-28s REST" with a.b.c.d:port, sorted by
    their text (address, then port) when sort; else None. The twin of C's
    ipvs_proc_numeric (csrc/ipvs_proctext.c)."""
    for line in lines:
        if (line[13] != ":" or line[18:24] != "      " or line[5:13].strip(_HEX)
                or line[14:18].strip(_HEX)):
            return None
    if sort and len(lines) > 1:
        lines = sorted(lines)
    # at most 21 characters: never cut to 28
    return "".join(["  -> %-28s %s\n" % (v4_name(line[5:13]) + ":" + str(int(line[14:18], 16)),
                                         line[24:]) for line in lines])


def v4_name(h: str) -> str:
    """The dotted address of the file's 8 hex digits (made once each)."""
    a = _V4_NAMES.get(h)
    if a is None:
        a = _V4_NAMES[h] = "%d.%d.%d.%d" % tuple(bytes.fromhex(h))
    return a


def numeric_table(data: bytes, sort) -> Optional[dict]:
    """{key: (scheduler, numeric_block() of its lines)} of the file's
    bytes, keyed as parse() keys; None where parse() gives None. The
    twin's; the decoders' proc_numeric() is the seam."""
    table = parse(data)
    if table is None:
        return None
    return {key: (sched, numeric_block(lines, sort)) for key, (sched, lines) in table.items()}


# what takes a service off numeric_service()'s path (to the general one)
GENERAL_FLAGS = SVC_F_ONEPACKET | SVC_F_SCHED_ANY
_U32 = struct.Struct("=I")  # how the records hold an IPv4 netmask


def numeric_service(r, table) -> Optional[str]:
    """The plain -n listing of one service, straight from its netlink
    record and its entry in numeric_table()'s table (no model objects: the
    path of tables with tens of thousands of services). None when the
    service is not the plain IPv4 kind this handles (firewall mark, IPv6,
    scheduler flags, one-packet, a persistence engine, real servers not all
    IPv4) or the table does not hold it: the caller takes the general
    path. The twin of C's ipvs_proc_services (csrc/ipvs_proctext.c)."""
    if (r[SVC.af] != AF_INET or r[SVC.fwmark] or r[SVC.flags] & GENERAL_FLAGS
            or r[SVC.pe_name]):
        return None
    proto = PROTOCOL_LABELS.get(r[SVC.protocol])
    if proto is None:
        return None
    a = r[SVC.addr]
    entry = table.get((proto, "%08X:%04X" % (int.from_bytes(a[:4], "big"), r[SVC.port])))
    if entry is None or entry[0] != r[SVC.sched_name] or entry[1] is None:
        return None
    head = "%-4s %d.%d.%d.%d:%d %s" % (proto, a[0], a[1], a[2], a[3], r[SVC.port],
                                       r[SVC.sched_name])
    if r[SVC.flags] & SVC_F_PERSISTENT:
        head += " persistent %d" % r[SVC.timeout]
        mask = _U32.pack(r[SVC.netmask])
        if mask != b"\xff\xff\xff\xff":
            head += " mask %d.%d.%d.%d" % tuple(mask)
    return head + "\n" + entry[1]


def numeric_services(table, records, order) -> Tuple[str, List[Tuple[int, int]]]:
    """(text, holes): numeric_service() of records[i] for each i of order,
    one after another, with table (numeric_table()'s); each service it
    cannot write is a hole, (where its text goes in text, i)."""
    texts, holes, at = [], [], 0
    for i in order:
        t = numeric_service(records[i], table)
        if t is None:
            holes.append((at, i))
        else:
            texts.append(t)
            at += len(t)
    return "".join(texts), holes


def service_key(svc) -> Optional[Tuple[str, str]]:
    """How the proc file names a service: ("TCP", "0A000001:0050"),
    ("UDP", "[2001:0db8:...:0001]:0035") or ("FWM", "00000001")."""
    if svc.fwmark:
        return (FWMARK_LABEL, "%08X" % svc.fwmark)
    name = PROTOCOL_LABELS.get(svc.protocol)
    if name is None or not svc.address:
        return None
    if svc.af == AF_INET6:
        h = socket.inet_pton(AF_INET6, svc.address).hex()
        return (name, "[%s]:%04X" % (":".join(h[i:i + 4] for i in range(0, 32, 4)), svc.port))
    return (name, "%08X:%04X" % (int.from_bytes(socket.inet_aton(svc.address), "big"),
                                 svc.port))


def pair(table: dict, services) -> List[Optional[List[str]]]:
    """For each service, its destination lines from the table, or None
    where the table cannot say for certain."""
    marks: Dict[int, int] = {}
    for s in services:
        if s.fwmark:
            marks[s.fwmark] = marks.get(s.fwmark, 0) + 1
    out: List[Optional[List[str]]] = []
    for s in services:
        key = service_key(s)
        entry = table.get(key) if key is not None else None
        if entry is None or entry[0] != s.scheduler or (s.fwmark and marks[s.fwmark] > 1):
            out.append(None)
        else:
            out.append(entry[1])
    return out
