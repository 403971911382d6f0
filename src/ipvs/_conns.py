# The connection table, streamed from /proc/net/ip_vs_conn.
#
# Rule: constant memory in the table size: the file is read in large chunks
# and records are yielded as they are decoded, never collected.
from __future__ import annotations

import socket
from typing import Iterator

from ._base import DecodeError
from ._model import AF_INET, AF_INET6, Connection

READ_SIZE = 1 << 20  # each read() of the proc file returns at most a page or so


def _addr(field: str):
    if ":" in field:
        return AF_INET6, socket.inet_ntop(AF_INET6, socket.inet_pton(AF_INET6, field))
    return AF_INET, socket.inet_ntop(AF_INET, int(field, 16).to_bytes(4, "big"))


def parse_line(line: str) -> Connection:
    f = line.split()
    if len(f) < 9:
        raise DecodeError("short connection line: %r" % line)
    try:
        af, caddr = _addr(f[1])
        _, vaddr = _addr(f[3])
        _, daddr = _addr(f[5])
        return Connection(protocol=f[0], af=af, caddr=caddr, cport=int(f[2], 16),
                          vaddr=vaddr, vport=int(f[4], 16), daddr=daddr,
                          dport=int(f[6], 16), state=f[7], expires=int(f[8]),
                          pe_name=f[9] if len(f) > 9 else "",
                          pe_data=f[10] if len(f) > 10 else "")
    except (ValueError, OSError, OverflowError):
        raise DecodeError("bad connection line: %r" % line) from None


def iter_connections(path: str = "/proc/net/ip_vs_conn") -> Iterator[Connection]:
    with open(path, "rb", buffering=0) as f:
        rest = b""
        first = True
        while True:
            chunk = f.read(READ_SIZE)
            if not chunk:
                break
            data = rest + chunk
            lines = data.split(b"\n")
            rest = lines.pop()
            for raw in lines:
                if first:
                    first = False
                    if raw.startswith(b"Pro "):
                        continue
                if raw:
                    yield parse_line(raw.decode("latin-1"))
        if rest.strip():
            yield parse_line(rest.decode("latin-1"))
