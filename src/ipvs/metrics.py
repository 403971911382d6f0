# Prometheus text exposition (format 0.0.4) of the IPVS table: what
# `ipvsadm -L --prometheus` prints and `python -m ipvs.exporter` serves.
#
# Rule: metrics_exposition() is a pure function from model objects to text (golden-
# text tested); the functions given a client read the kernel through the public
# Client API only, metrics_chunks() for a whole scrape. Names and labels follow
# node_exporter's ipvs collector wherever it measures the same thing
# (node_ipvs_connections_total and the other four global counters,
# node_ipvs_backend_connections_active, _inactive and _weight, with its six
# backend labels and its --collector.ipvs.backend-labels semantics: series that
# a shorter label set makes equal are summed); what it lacks carries the same
# prefix.
from __future__ import annotations

import operator
import time
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Iterable, Optional, Sequence, Tuple

from ._model import Service, Stats, unpack_address
from ._records import SVC
from .vocab import PROTOCOL_LABELS

BACKEND_LABELS = ("local_address", "local_port", "remote_address", "remote_port", "proto",
                  "local_mark")
SERVICE_LABELS = ("local_address", "local_port", "proto", "local_mark")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# (suffix, Stats field, help): counters, then the kernel's rate estimates
_COUNTERS = (
    ("connections_total", "conns", "The total number of connections made."),
    ("incoming_packets_total", "inpkts", "The total number of incoming packets."),
    ("outgoing_packets_total", "outpkts", "The total number of outgoing packets."),
    ("incoming_bytes_total", "inbytes", "The total amount of incoming data."),
    ("outgoing_bytes_total", "outbytes", "The total amount of outgoing data."),
)
_RATES = (
    ("connections_per_second", "cps", "Connections per second, the kernel's estimate."),
    ("incoming_packets_per_second", "inpps",
     "Incoming packets per second, the kernel's estimate."),
    ("outgoing_packets_per_second", "outpps",
     "Outgoing packets per second, the kernel's estimate."),
    ("incoming_bytes_per_second", "inbps", "Incoming bytes per second, the kernel's estimate."),
    ("outgoing_bytes_per_second", "outbps",
     "Outgoing bytes per second, the kernel's estimate."),
)
_BACKEND_GAUGES = (
    ("backend_connections_active", "active_conns",
     "The current active connections by local and remote address."),
    ("backend_connections_inactive", "inactive_conns",
     "The current inactive connections by local and remote address."),
    ("backend_connections_persistent", "persistent_conns",
     "The current persistent connections (templates) by local and remote address."),
    ("backend_weight", "weight", "The current backend weight by local and remote address."),
)
_PROTO = PROTOCOL_LABELS


def parse_labels(text: str) -> Tuple[str, ...]:
    """The backend labels named in a comma-separated list, in the canonical
    order (as node_exporter's --collector.ipvs.backend-labels); an empty
    list means none. ValueError naming the unknown ones."""
    wanted = {w.strip() for w in text.split(",") if w.strip()}
    unknown = sorted(wanted - set(BACKEND_LABELS))
    if unknown:
        raise ValueError("unknown IPVS backend labels: %s (known: %s)"
                         % (", ".join(unknown), ",".join(BACKEND_LABELS)))
    return tuple(n for n in BACKEND_LABELS if n in wanted)


def _escape(v: str) -> str:
    if "\\" not in v and "\n" not in v and '"' not in v:  # addresses, ports: the usual case
        return v
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def service_label_values(s: Service) -> dict:
    """node_exporter's values: proto TCP/UDP (SCTP here too) or FWM; the
    mark as /proc/net/ip_vs prints it (%08X); no address for a mark."""
    return dict(zip(SERVICE_LABELS, _service_values(s)))


def _service_values(s: Service) -> tuple:
    """service_label_values(s)'s values, in SERVICE_LABELS' order."""
    return _values(s.fwmark, s.address, s.port, s.protocol)


def _record_values(r) -> tuple:
    """_service_values of a service record (fields ipvs._records.SVC)."""
    mark = r[SVC.fwmark]
    return _values(mark, None if mark else unpack_address(r[SVC.af], r[SVC.addr]), r[SVC.port],
                   r[SVC.protocol])


def _values(fwmark, address, port, protocol) -> tuple:
    if fwmark:
        return ("", "0", "FWM", "%08X" % fwmark)
    return (address, str(port), _PROTO.get(protocol, str(protocol)), "")


def _labels(names: Sequence[str], values: dict) -> str:
    if not names:
        return ""
    return "{" + ",".join([f'{n}="{_escape(values[n])}"' for n in names]) + "}"


def _family(out, name, kind, help_text, rows, i=0):
    """One metric family: value i of every (labels, values) row."""
    out.append(_header(name, kind, help_text))
    # f-strings: twice as fast as %-formatting here, where a scrape of
    # 20,000 real servers writes some 300,000 lines
    out.append("".join([f"{name}{lab} {v[i]}\n" for lab, v in rows]))


def _header(name, kind, help_text):
    return "# HELP %s %s\n# TYPE %s %s\n" % (name, help_text, name, kind)


def _kind(suffix):
    return "counter" if suffix.endswith("_total") else "gauge"


def metrics_exposition(entries: Iterable, *, totals: Optional[Stats] = None,
                       labels: Sequence[str] = BACKEND_LABELS,
                       scrape_seconds: Optional[float] = None,
                       prefix: str = "node_ipvs_") -> str:
    """The exposition text for `entries`, (Service, [Destination]) pairs
    with their Stats; `totals` the table-wide Stats (/proc/net/ip_vs_stats,
    node_exporter's five counters) when known; `labels` the labels a
    real-server series carries (see parse_labels)."""
    entries = list(entries)
    values, stats = _service_rows([s for s, _ in entries])
    out = _service_families(totals, prefix, _label_texts(values)[0], stats)
    stat_fields = [f for _, f, _ in _COUNTERS + _RATES]
    zero = Stats()
    # real servers, summed over what a shorter label set makes equal
    fields = [f for _, f, _ in _BACKEND_GAUGES]
    rows = {}
    for s, dests in entries:
        sv = service_label_values(s)
        for d in dests:
            values = dict(sv)
            values["remote_address"] = d.address
            values["remote_port"] = str(d.port)
            key = _labels(labels, values)
            st = d.stats or zero
            vals = [getattr(d, f) for f in fields] + [getattr(st, f) for f in stat_fields]
            old = rows.get(key)
            rows[key] = vals if old is None else [a + b for a, b in zip(old, vals)]
    keyed = list(rows.items())
    for i, (name, kind, help_text, _) in enumerate(_backend_families(prefix)):
        _family(out, name, kind, help_text, keyed, i)
    _family(out, prefix + "services", "gauge", "The number of virtual services.",
            [("", (len(entries),))])
    if scrape_seconds is not None:
        out.append(duration_family(scrape_seconds, prefix))
    return "".join(out)


_STATS_VALUES = operator.attrgetter(*[f for _, f, _ in _COUNTERS + _RATES])


def _service_rows(services) -> tuple:
    """Each service object's _service_values and its ten stats values."""
    zero = Stats()
    return ([_service_values(s) for s in services],
            [_STATS_VALUES(s.stats or zero) for s in services])


def _service_families(totals, prefix, labels, stats) -> list:
    """The exposition's part before the real servers: the table's totals
    and every service's counters and rates (labels: each service's label
    text, stats: its ten values), a text per family."""
    return list(_service_family_texts(totals, prefix, labels, stats))


def _service_family_texts(totals, prefix, labels, stats):
    """_service_families' texts, each made when it is asked for."""
    if totals is not None:
        out: list = []
        row = [("", _STATS_VALUES(totals))]
        for i, (suffix, _, help_text) in enumerate(_COUNTERS + _RATES):
            _family(out, prefix + suffix, _kind(suffix), help_text, row, i)
        yield "".join(out)
    svc_rows = list(zip(labels, stats))
    for i, (suffix, _, help_text) in enumerate(_COUNTERS + _RATES):
        out = []
        _family(out, prefix + "service_" + suffix, _kind(suffix),
                help_text[:-1] + ", by service.", svc_rows, i)
        yield "".join(out)


def _backend_families(prefix):
    """(name, type, help, Destination field or "stats.<counter>") of each
    real-server family, in the exposition's order."""
    out = [(prefix + suffix, "gauge", help_text, field)
           for suffix, field, help_text in _BACKEND_GAUGES]
    out += [(prefix + "backend_" + suffix, _kind(suffix), help_text[:-1] + ", by real server.",
             "stats." + field) for suffix, field, help_text in _COUNTERS + _RATES]
    return out


_PROGRAMS: dict = {}


# BACKEND_LABELS split around the real server's two: the service's own
# labels before and after them
_REMOTE = BACKEND_LABELS.index("remote_address")
assert BACKEND_LABELS[_REMOTE + 1] == "remote_port"
_BEFORE, _AFTER = BACKEND_LABELS[:_REMOTE], BACKEND_LABELS[_REMOTE + 2:]
assert SERVICE_LABELS == _BEFORE + _AFTER and _BEFORE and _AFTER  # one text serves both


_BEFORE_TEXT = "".join(['%s="%%s",' % n for n in _BEFORE])
_AFTER_TEXT = "".join([',%s="%%s"' % n for n in _AFTER])


def _label_texts(values):
    """Each service's label text ({local_address="...",...}, as _labels
    writes it) and the two pieces of its real servers' label text around
    their own two labels, from its _service_values: per service two
    formats, and the escaping only where a value needs it (addresses and
    ports never do)."""
    k = len(_BEFORE)
    texts, pieces = [], []
    for v in values:
        every = "".join(v)
        if "\\" in every or "\n" in every or '"' in every:
            v = tuple([_escape(x) for x in v])
        before, after = _BEFORE_TEXT % v[:k], _AFTER_TEXT % v[k:]
        texts.append("{" + before + after[1:] + "}")
        pieces.append((before, after))
    return texts, pieces


def _backend_programs(prefix):
    """One ipvs.lines program per real-server family: a series with every
    label (the service's own labels as two pieces around the real server's
    address and port) and its value, written from the dump records."""
    progs = _PROGRAMS.get(prefix)
    if progs is None:
        from . import lines as L
        from ._model import Destination, mapped
        record = dict(mapped(Destination, "record"))
        progs = _PROGRAMS[prefix] = [
            L.Program([L.text(name + "{"), L.piece(0),
                       L.text('%s="' % BACKEND_LABELS[_REMOTE]), L.address(),
                       L.text('",%s="' % BACKEND_LABELS[_REMOTE + 1]), L.number("port", 0),
                       L.text('"'), L.piece(1), L.text("} "),
                       L.number(field if "." in field else record[field], 0)])
            for name, _, _, field in _backend_families(prefix)]
    return progs


def fast_exposition(client, totals=None, prefix: str = "node_ipvs_",
                    services=None) -> Optional[str]:
    """metrics_exposition() of the client's whole table (or of `services`,
    as client.services() lists them) with every label, its real-server
    series written from the dump records in one decoder call (C: no Python
    object per real server); None when it cannot vouch for the same text
    (two services with the same labels: their series would be summed)."""
    chunks = fast_chunks(client, totals, prefix, services)
    return None if chunks is None else b"".join(chunks).decode()


def fast_chunks(client, totals=None, prefix: str = "node_ipvs_", services=None):
    """fast_exposition() as it is written: None, or an iterator of
    bytes-like chunks of its UTF-8 text. The kernel is read here, before
    the first chunk; C's real-server text is handed on as C writes it (a
    5000 x 4 table makes 46 MB of it: each copy of that was measurable).
    Without `services`, the table is read as Client.live_listing() reads
    it (a service deleted meanwhile is left out), as records, not objects:
    a scrape needs only their labels, counters and keys."""
    if services is not None:
        values, stats = _service_rows(services)
        labels, pieces = _label_texts(values)
        if not services or len(set(labels)) < len(labels):
            return None
        texts = client.destination_chunks(services, _lines(prefix, pieces))
        return _fast_chunks(len(services), totals, prefix, labels, stats, texts)

    made = []  # the label texts of the last services dump read

    def lines(records):
        labels, pieces = _label_texts([_record_values(r) for r in records])
        if not records or len(set(labels)) < len(labels):  # (escaping keeps them apart)
            raise _Unvouched
        made.append(labels)
        return _lines(prefix, pieces)
    try:
        records, texts = client.live_listing(lines)
    except _Unvouched:
        return None
    labels = made[-1]
    if len(labels) != len(records):  # services left out
        labels = _label_texts([_record_values(r) for r in records])[0]
    return _fast_chunks(len(records), totals, prefix, labels,
                        [r[SVC.stats] for r in records], texts)


class _Unvouched(Exception):
    """fast_chunks cannot vouch for metrics_exposition's text."""


def _lines(prefix, pieces):
    return [(p, None, False, pieces) for p in _backend_programs(prefix)]


def _fast_chunks(n, totals, prefix, labels, stats, texts):
    # the services' families one at a time (5000 services make 4.5 MB of
    # them), the label texts let go before the real servers' text
    for text in _service_family_texts(totals, prefix, labels, stats):
        yield text.encode()
    labels = stats = text = None
    for (name, kind, help_text, _), chunks in zip(_backend_families(prefix), texts):
        yield _header(name, kind, help_text).encode()
        yield from chunks
    out: list = []
    _family(out, prefix + "services", "gauge", "The number of virtual services.",
            [("", (n,))])
    yield "".join(out).encode()


def duration_family(seconds: float, prefix: str = "node_ipvs_") -> str:
    name = prefix + "scrape_duration_seconds"
    return ("# HELP %s Seconds the scrape of the IPVS table took (reading and formatting).\n"
            "# TYPE %s gauge\n%s %.6f\n" % (name, name, name, seconds))


def read_totals(client) -> Optional[Stats]:
    """The table-wide counters and rates of /proc/net/ip_vs_stats (hex
    fields, as node_exporter reads them), or None when it cannot be read."""
    try:
        with open(client.proc_file("ip_vs_stats")) as f:
            lines = f.read().splitlines()
        counts = [int(x, 16) for x in lines[2].split()]
        rates = [int(x, 16) for x in lines[5].split()]
        return Stats(*(counts[:5] + rates[:5]))
    except (OSError, ValueError, IndexError, TypeError):
        return None


def collect_metrics(client, *, labels: Sequence[str] = BACKEND_LABELS,
                    clock=time.perf_counter) -> str:
    """One scrape: every service and real server with its Stats (one dump
    per service, as ipvsadm -Ln --stats does; a service deleted during the
    scrape is left out, see Client.live_listing), the table-wide totals,
    and the scrape's own duration. KernelError from the kernel as it
    comes."""
    return b"".join(metrics_chunks(client, labels=labels, clock=clock)).decode()


def metrics_chunks(client, *, labels: Sequence[str] = BACKEND_LABELS,
                   clock=time.perf_counter):
    """collect_metrics() as it is written: an iterator of bytes-like chunks
    of the UTF-8 text, to hand to a writer one by one (a large table's
    text is never held whole). The kernel is read when the first chunk is
    asked for, before it is made; the duration (the last chunk) counts
    until the series before it were made and taken."""
    t0 = clock()
    totals = read_totals(client)
    chunks = None
    if tuple(labels) == BACKEND_LABELS:
        chunks = fast_chunks(client, totals)
    if chunks is None:  # (services read again when the fast path could not vouch)
        chunks = [metrics_exposition(client.live_entries(), totals=totals,
                                     labels=labels).encode()]
    yield from chunks
    yield duration_family(clock() - t0).encode()
