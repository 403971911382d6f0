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
import _struct as struct  # the C module: struct.py is one more file to read

from . import _proctable
from ._decoder import proc_numeric
from ._keys import record_sort_key
from ._records import SVC
from .rules import packed
from .vocab import (AF_INET, AF_INET6, PROTOCOL_LABELS, SVC_F_ONEPACKET, SVC_F_PERSISTENT,
                     SVC_F_SCHED_ANY)


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
    common services (plain IPv4, no flags but persistence) straight from
    their records and the real-server text the decoder writes from the file
    (proc_numeric: C when active), any other through render(service,
    destinations), with destinations a ProcDestinations where the file
    vouches for them, else netlink's [Destination]. ValueError: the file
    or a line in it not in the kernel's layout."""
    from ._client import service_from_record
    table = proc_numeric(data, sort)
    if table is None:
        raise ValueError("/proc/net/ip_vs is not in the kernel's layout")
    records = client.service_records()
    if sort:
        records = sorted(records, key=record_sort_key)
    texts = [numeric_service_from_record(r, table) for r in records]
    rest = [i for i, t in enumerate(texts) if t is None]
    if rest:
        services = [service_from_record(records[i]) for i in rest]
        proc = _proctable.parse(data)
        for i, (svc, dests) in zip(rest, fast_table(client, proc, services)):
            texts[i] = render(svc, dests)
    return "".join(texts)


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


_U32 = struct.Struct("=I")  # how the records hold an IPv4 netmask


def numeric_service_from_record(r, table):
    """The plain -n listing of one service, straight from its netlink
    record and its entry in proc_numeric()'s table (no model objects: the
    path of tables with tens of thousands of services). None when the
    service is not the plain IPv4 kind this handles (firewall mark, IPv6,
    scheduler flags, one-packet, a persistence engine, real servers not all
    IPv4) or the table does not hold it: the caller takes the general
    path."""
    if (r[SVC.af] != AF_INET or r[SVC.fwmark]
            or r[SVC.flags] & (SVC_F_ONEPACKET | SVC_F_SCHED_ANY) or r[SVC.pe_name]):
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


__all__ = ["ProcDestinations", "read_proc_file", "read_proc_table", "fast_table",
           "numeric_listing", "split_line"]
