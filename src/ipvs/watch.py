# Rates for the live view (`ipvsadm -L --watch`): per-interval rates of every
# service and real server from the deltas of the kernel's 64-bit counters.
#
# Rule: pure functions over model objects and times; take_sample() is the
# one reader of the kernel (public Client API). The kernel folds its
# per-CPU counters into the ones it reports every 2 s, so an interval
# shorter than that shows the traffic in steps; intervals of 2 s or more
# are steady.
from __future__ import annotations

import time
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import List, Optional, Sequence, Tuple

from ._model import AF_INET6, Stats

RATE_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")

# (key, title, what it sorts by) of every column, in display order; the
# key is what the user presses to sort by it
COLUMNS = tuple(tuple(line.split()) for line in """
n NAME      name
c CONN/S    conn_rate
p INPKT/S   inpkt_rate
P OUTPKT/S  outpkt_rate
b INBYTE/S  inbyte_rate
B OUTBYTE/S outbyte_rate
t CONNS     conns
a ACTIVE    active
i INACT     inactive
w WEIGHT    weight
""".strip().splitlines())
SORT_KEYS = {k: attr for k, _, attr in COLUMNS}


class Sample:
    """The table at one moment: (Service, [Destination]) pairs with Stats,
    and the monotonic time of the read."""

    __slots__ = ("entries", "time")

    def __init__(self, entries, t: float):
        self.entries = list(entries)
        self.time = t


def take_sample(client, clock=time.monotonic) -> Sample:
    return Sample(client.live_entries(), clock())


def counter_rates(prev: Optional[Stats], cur: Stats, seconds: float) -> Optional[Tuple]:
    """Per-second rates of the five counters between two readings, or None
    without a previous reading. A counter that went down was zeroed
    (ipvsadm -Z) in between: its rate counts from 0."""
    if prev is None or seconds <= 0:
        return None
    out = []
    for f in RATE_FIELDS:
        a, b = getattr(prev, f), getattr(cur, f)
        out.append((b - a if b >= a else b) / seconds)
    return tuple(out)


def _host(af, address, port):
    return ("[%s]:%d" if af == AF_INET6 else "%s:%d") % (address, port)


def service_name(s) -> str:
    if s.fwmark:
        return "FWM %d%s" % (s.fwmark, " IPv6" if s.af == AF_INET6 else "")
    return "%s %s" % (s.protocol_name.upper(), _host(s.af, s.address, s.port))


class Row:
    """One line of the view: a service (dest None) or one of its real servers."""

    __slots__ = ("name", "service", "dest", "rates", "stats", "active", "inactive",
                 "weight", "sort_name")

    def __init__(self, name, service, dest, rates, stats, active, inactive, weight, sort_name):
        self.name = name
        self.service = service
        self.dest = dest
        self.rates = rates  # None (first sample) or the five per-second rates
        self.stats = stats
        self.active = active
        self.inactive = inactive
        self.weight = weight
        self.sort_name = sort_name

    def value(self, attr):
        if attr == "name":
            return self.sort_name
        if attr.endswith("_rate"):
            i = ("conn_rate", "inpkt_rate", "outpkt_rate", "inbyte_rate",
                 "outbyte_rate").index(attr)
            return self.rates[i] if self.rates is not None else -1.0
        if attr == "conns":
            return self.stats.conns
        return getattr(self, attr)


def _sort_name(af, address, port):
    import socket
    return (af, socket.inet_pton(af, address), port)


def groups(prev: Optional[Sample], cur: Sample) -> List[Tuple[Row, List[Row]]]:
    """(service row, [real-server rows]) for every service of `cur`, with
    rates over the time since `prev` (None: no rates yet)."""
    seconds = cur.time - prev.time if prev is not None else 0.0
    before = {}
    if prev is not None:
        for s, ds in prev.entries:
            before[s.key] = (s.stats, {d.key: d.stats for d in ds})
    zero = Stats()
    out = []
    for s, ds in cur.entries:
        old = before.get(s.key)
        st = s.stats or zero
        srow = Row(service_name(s), s, None,
                   counter_rates(old[0] if old else None, st, seconds) if prev else None, st,
                   sum(d.active_conns for d in ds), sum(d.inactive_conns for d in ds),
                   sum(d.weight for d in ds),
                   (0, s.fwmark) if s.fwmark else (1,) + _sort_name(s.af, s.address, s.port)
                   + (s.protocol,))
        drows = []
        for d in ds:
            dst = d.stats or zero
            was = old[1].get(d.key) if old else None
            rates = counter_rates(was or (zero if old else None), dst, seconds) if prev else None
            drows.append(Row("  -> " + _host(d.af, d.address, d.port), s, d, rates, dst,
                             d.active_conns, d.inactive_conns, d.weight,
                             _sort_name(d.af, d.address, d.port)))
        out.append((srow, drows))
    return out


def sort_groups(gs, attr: str, descending: bool = True):
    """Services sorted by `attr`, and the real servers inside each; names
    ascend unless `descending` is asked the other way round."""
    if attr == "name":
        descending = not descending
    key = (lambda r: r.value(attr))
    return [(s, sorted(ds, key=key, reverse=descending))
            for s, ds in sorted(gs, key=lambda g: key(g[0]), reverse=descending)]


def total_row(gs) -> Row:
    """The sum over services (what the header shows)."""
    known = [s.rates for s, _ in gs if s.rates is not None]  # new services: no rate yet
    rates = tuple(sum(r[i] for r in known) for i in range(5)) if known else None
    st = Stats(*[sum(getattr(s.stats, f) for s, _ in gs) for f in RATE_FIELDS])
    return Row("TOTAL", None, None, rates, st, sum(s.active for s, _ in gs),
               sum(s.inactive for s, _ in gs), sum(s.weight for s, _ in gs), ())


def human(v: float) -> str:
    """A rate or count in at most 6 characters: 950, 12.3K, 4.56M, ..."""
    if v < 0:
        return "-"
    if v < 1000:
        return ("%.1f" % v).rstrip("0").rstrip(".") if v != int(v) else "%d" % v
    for unit in "KMGTPE":
        v /= 1000.0
        if v < 1000:
            return ("%.2f%s" if v < 10 else "%.1f%s" if v < 100 else "%.0f%s") % (v, unit)
    return "%.0fE" % v


def cells(row: Row, exact: bool = False) -> Sequence[str]:
    """The text of each column of a row (COLUMNS order)."""
    if row.rates is None:
        rates = ["-"] * 5
    else:
        rates = [("%.1f" % r) if exact else human(r) for r in row.rates]
    conns = str(row.stats.conns) if exact else human(row.stats.conns)
    return [row.name] + rates + [conns, str(row.active), str(row.inactive), str(row.weight)]
