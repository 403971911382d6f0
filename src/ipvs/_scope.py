# Scopes: which virtual services a scoped apply owns, written as a selector
# (address prefixes with an optional protocol and port range, firewall-mark
# ranges), so that what another control plane (keepalived, a person) put in
# the same table is neither changed nor removed, and a service taken out of
# the rules is still ours to remove on the next run.
#
# Rule: text in, a predicate over Service objects out; no I/O, no kernel.
# A scope is given as text and kept as given (--scope's words, JSON's
# "scope"); the grammar is the one in the man page (ipvsadm(8), --scope).
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
from typing import Iterable, NamedTuple, Optional, Tuple

from .vocab import AF_INET, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP

PROTOCOLS = {"tcp": IPPROTO_TCP, "udp": IPPROTO_UDP, "sctp": IPPROTO_SCTP}
MAX_PORT = 0xFFFF
MAX_FWMARK = 0xFFFFFFFF
_BITS = {AF_INET: 32, AF_INET6: 128}


class _Item(NamedTuple):
    text: str  # as given
    fwmarks: Optional[Tuple[int, int]]  # a firewall-mark item: (first, last)
    af: int = 0
    protocol: int = 0  # 0: any
    network: int = 0  # the prefix as an integer, host bits 0
    prefixlen: int = 0
    ports: Tuple[int, int] = (0, MAX_PORT)


def _number(text):
    """Decimal digits, a few of them (int() of thousands is refused)."""
    return text.isdigit() and text.isascii() and len(text) <= 10


def _range(text, lowest, highest):
    """(first, last) from N or N-M within [lowest, highest], or None."""
    first, dash, last = text.partition("-")
    if not (_number(first) and (not dash or _number(last))):
        return None
    a = int(first)
    b = int(last) if dash else a
    return (a, b) if lowest <= a <= b <= highest else None


def _prefix(text):
    """(af, network as an integer, prefix length) of ADDRESS[/LEN];
    ValueError with the reason."""
    address, slash, length = text.partition("/")
    af = AF_INET6 if ":" in address else AF_INET
    bits = _BITS[af]
    try:
        value = int.from_bytes(socket.inet_pton(af, address), "big")
    except (OSError, ValueError):
        raise ValueError("not an address prefix") from None
    if not slash:
        return af, value, bits
    if not _number(length) or int(length) > bits:
        raise ValueError("not a prefix length (0-%d)" % bits)
    n = int(length)
    if value & ((1 << (bits - n)) - 1):
        raise ValueError("host bits set beyond /%d" % n)
    return af, value, n


def parse_item(text: str) -> _Item:
    """One item of a scope; ValueError naming what is wrong with it."""
    given = text
    if text.startswith("fwmark:"):
        marks = _range(text[len("fwmark:"):], 1, MAX_FWMARK)
        if marks is None:
            raise ValueError("%s: not a firewall mark or range (1-%d)" % (given, MAX_FWMARK))
        return _Item(given, marks)
    protocol = 0
    head, colon, tail = text.partition(":")
    if colon and head in PROTOCOLS:
        protocol, text = PROTOCOLS[head], tail
    ports = None
    if text.startswith("["):  # [IPv6/LEN], then :PORTS if any
        inner, bracket, after = text[1:].partition("]")
        if not bracket or ":" not in inner or (after and not after.startswith(":")):
            raise ValueError("%s: not an address prefix" % given)
        text, ports = inner, after[1:] if after else None
    elif text.count(":") == 1:  # IPv4/LEN:PORTS
        text, ports = text.split(":")
    try:
        af, network, length = _prefix(text)
    except ValueError as e:
        raise ValueError("%s: %s" % (given, e)) from None
    item = _Item(given, None, af, protocol, network, length)
    if ports is not None:
        span = _range(ports, 0, MAX_PORT)
        if span is None:
            raise ValueError("%s: not a port or port range (0-%d)" % (given, MAX_PORT))
        item = item._replace(ports=span)
    return item


class Scope:
    """The virtual services a scoped apply owns: `Scope("10.1.0.0/16,
    tcp:[2001:db8::/32]:443,fwmark:100-199")`. A service is in the scope
    when any item covers it; `items` are the items as given. ValueError on
    a spec that is not one (the message names the item)."""

    def __init__(self, spec: str):
        words = [w.strip() for w in spec.split(",")]
        if not spec.strip() or any(not w for w in words):
            raise ValueError("an empty item (items are separated by single commas)")
        self._items = tuple(parse_item(w) for w in words)
        self.items = tuple(i.text for i in self._items)

    def __repr__(self):
        return "Scope(%r)" % ",".join(self.items)

    def covers(self, service) -> bool:
        """Is this Service (its key: fwmark, or protocol, address and port)
        in the scope?"""
        if service.fwmark:
            return any(i.fwmarks is not None and i.fwmarks[0] <= service.fwmark <= i.fwmarks[1]
                       for i in self._items)
        value = None
        for i in self._items:
            if i.fwmarks is not None or i.af != service.af:
                continue
            if i.protocol and i.protocol != service.protocol:
                continue
            if not i.ports[0] <= service.port <= i.ports[1]:
                continue
            if value is None:
                value = int.from_bytes(socket.inet_pton(service.af, service.address), "big")
            shift = _BITS[i.af] - i.prefixlen
            if value >> shift == i.network >> shift:
                return True
        return False

    def select(self, table: Iterable) -> list:
        """The (Service, destinations) pairs of `table` in the scope."""
        return [entry for entry in table if self.covers(entry[0])]


__all__ = ["Scope"]
