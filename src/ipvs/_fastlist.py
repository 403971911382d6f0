# The fast listing: every service with its real servers, from one netlink
# dump of the services and one read of /proc/net/ip_vs for the real servers
# (netlink lists them one service a request: thousands of round trips for
# thousands of services). The file vouches for a service's real servers
# only where it names the service beyond doubt (see _proctable.pair);
# for any other service netlink is asked, as always.
#
# What the file holds of a real server is what the plain listing shows
# (address, port, forwarding method, weight, active and inactive
# connections), so the real servers come as ProcDestinations, the file's
# lines, not as Destination objects (no thresholds, tunnels or counters).
#
# Rule: reads the kernel only through a Client (its services, service
# records, destinations and proc_file()); pure otherwise.
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors

from . import _proctable
from ._decoder import numeric_services
from ._keys import record_sort_keys
from .rules import packed
from .vocab import AF_INET, AF_INET6


class ProcDestinations(list):
    """A service's real servers as the lines /proc/net/ip_vs prints them
    ("  -> 0A000002:0050      Masq    1      0          0"); split_line()
    reads one, in_order() sorts them as ipvsadm sorts real servers."""

    def in_order(self, sort=True) -> list:
        """The lines, sorted by (address, port) unless sort is false."""
        lines = self
        if sort and len(lines) > 1:
            v6 = sum(1 for line in lines if line[5] == "[")
            if v6 == 0 or v6 == len(lines):
                # fixed-width hex (IPv4) or fully written-out IPv6: the text
                # sorts as (address, port) do
                lines = sorted(lines)
            else:
                lines = sorted(lines, key=_line_sort_key)
        return lines


def read_proc_file(client):
    """The bytes of the client's /proc/net/ip_vs, or None if it cannot be
    read."""
    try:
        with open(client.proc_file("ip_vs"), "rb") as f:
            return _proctable.read_bytes(f)
    except OSError:
        return None


def read_proc_table(client, data=None):
    """The real-server lines of every service from the client's
    /proc/net/ip_vs (see _proctable.parse), or from its bytes when given
    (read_proc_file()); None if the file cannot be read or is not in the
    layout this knows."""
    if data is None:
        data = read_proc_file(client)
    return None if data is None else _proctable.parse(data)


def fast_table(client, proc=None, services=None) -> list:
    """Every service (or those given) with its real servers: [(Service,
    destinations)] in kernel order, where destinations is a
    ProcDestinations when the proc table `proc` (read_proc_table(), read
    here when not given) vouches for them, else the service's
    [Destination] from netlink (the dumps of all such run in one go)."""
    if proc is None:
        proc = read_proc_table(client)
    if services is None:
        services = client.services()
    if proc is None:
        return client.entries(services)
    lines = _proctable.pair(proc, services)
    dumped = iter(client.entries([s for s, d in zip(services, lines) if d is None]))
    return [(s, ProcDestinations(d)) if d is not None else next(dumped)
            for s, d in zip(services, lines)]


def numeric_listing(client, data, render, *, sort=True) -> str:
    """The services of `ipvsadm -Ln` after its title lines, from netlink's
    service records and /proc/net/ip_vs's bytes (read_proc_file()): the
    common services (plain IPv4, no flags but persistence) written by the
    decoder from their records and the file's real-server lines
    (numeric_services: C when active, no Python step per service), any
    other through render(service, destinations), with destinations a
    ProcDestinations where the file vouches for them, else netlink's
    [Destination]. ValueError: the file or a line in it not in the
    kernel's layout."""
    records, raw = client.service_table()
    order = list(range(len(records)))
    if sort:
        order.sort(key=record_sort_keys(records).__getitem__)
    got = numeric_services(data, records, raw, order, sort)
    if got is None:
        raise ValueError("/proc/net/ip_vs is not in the kernel's layout")
    text, holes = got
    if not holes:
        return text
    from ._client import service_from_record
    services = [service_from_record(records[i]) for _, i in holes]
    pieces, last = [], 0
    for (at, _), (svc, dests) in zip(holes, fast_table(client, _proctable.parse(data),
                                                       services)):
        pieces += (text[last:at], render(svc, dests))
        last = at
    pieces.append(text[last:])
    return "".join(pieces)


def _proc_v6(full):
    return socket.inet_ntop(AF_INET6, bytes.fromhex(full.replace(":", "")))


def split_line(line):
    """(af, address, port, the text after the address column) of one
    destination line; ValueError if it is not in the kernel's layout."""
    if line[5] != "[":
        # "  -> %08X:%04X      %-7s %-6d %-10d %-10d"
        if line[13] != ":" or line[18:24] != "      ":
            raise ValueError(line)
        return AF_INET, _proctable.v4_name(line[5:13]), int(line[14:18], 16), line[24:]
    # "  -> [%pI6]:%04X      %-7s ...": the address written out in full
    end = line.index("]", 6)
    if line[end + 1] != ":" or line[end + 6:end + 12] != "      ":
        raise ValueError(line)
    return AF_INET6, _proc_v6(line[6:end]), int(line[end + 2:end + 6], 16), line[end + 12:]


def _line_sort_key(line):
    af, address, port, _ = split_line(line)
    return (packed(af, address), port)


__all__ = ["ProcDestinations", "read_proc_file", "read_proc_table", "fast_table",
           "numeric_listing", "split_line"]
