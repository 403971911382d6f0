# Listing lines as ipvs.lines programs: the columns of each numeric
# per-service format's real-server line and service line, compiled once,
# and the whole-table listing that runs them (Client.table_lines: C writes
# every line from the dumps' records when the C decoder is active).
#
# Rule: the formats are _render's (service_line, service_name and the
# values they share); this module only says them again as columns, and a
# test holds the two to the same text for every format.
from .. import Destination, lines as _lines, rules as _rules, service_from_record
from ..vocab import (FORWARDING_LABELS, FORWARDING_OPTIONS, FWD_MASK, FWD_TUNNEL, PROTOCOL_LABELS,
                     PROTOCOL_OPTIONS, SVC_F_ONEPACKET, SVC_F_PERSISTENT, SVC_F_SCHED_ANY,
                     TUN_GRE, TUN_GUE, TUNNEL_FLAG_OPTIONS, TUNNEL_TYPE_NAMES)
from ._options import (FMT_EXACT, FMT_NOSORT, FMT_PERSISTENTCONN, FMT_RATE, FMT_RULE,
                       FMT_STATS, FMT_THRESHOLDS, FMT_TUN_INFO)
from ._render import (_MARK, _MARK_V6, _NAME_CUT, _UNKNOWN_PROTOCOL, NULL, info_line,
                      service_line, title)

_COUNTERS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")


def _spaced(*columns):
    """(field, width) pairs as left-justified numbers, each after a space."""
    out = ()
    for field, width in columns:
        out += (_lines.text(" "), _lines.number(field, width))
    return out


def dest_columns(fmt):
    """The real-server line of a numeric listing in format fmt, as columns
    of ipvs.lines (None: a format these cannot write)."""
    head = (_lines.text("  -> "), _lines.endpoint(28, cut4=28))  # addrport's 59, then 28
    if fmt & FMT_RULE:
        return _rule_columns()
    if fmt & FMT_STATS:
        return head + tuple(_lines.largenum("stats." + f) for f in _COUNTERS)
    if fmt & FMT_RATE:
        rates = ()
        for f in ("cps", "inpps", "outpps"):
            rates += (_lines.text(" "), _lines.number("stats." + f, 8, left=False))
        return head + rates + (_lines.largenum("stats.inbps"), _lines.largenum("stats.outbps"))
    if fmt & FMT_THRESHOLDS:
        return head + _spaced(("u_thresh", 10), ("l_thresh", 10), ("active_conns", 10),
                              ("inact_conns", 10))
    if fmt & FMT_PERSISTENTCONN:
        return head + _spaced(("weight", 9), ("persist_conns", 11), ("active_conns", 10),
                              ("inact_conns", 10))
    if fmt & FMT_TUN_INFO:
        return None
    return head + (_lines.text(" "), _lines.label("fwd_method", FWD_MASK, FORWARDING_LABELS,
                                                  NULL, 7)) + _spaced(
        ("weight", 6), ("active_conns", 10), ("inact_conns", 10))


def _spec_column():
    """A service as a rule names it (rules.service_spec, numeric)."""
    return _lines.service(0, 0xFFFF, 59, PROTOCOL_OPTIONS, _rules.UNKNOWN_PROTOCOL_OPTION,
                          _rules.MARK_OPTION, _rules.MARK_V6, 0)


def service_columns(fmt):
    """The service line of a numeric listing in format fmt, as columns of
    ipvs.lines over service records (what service_line() writes; None:
    a format these cannot write)."""
    if fmt & FMT_RULE:  # -A, the service, -s (see service_fix)
        return (_lines.text("-A "), _spec_column(), _lines.text(" -s "),
                _lines.string("sched_name"))
    if not fmt & (FMT_STATS | FMT_RATE | FMT_THRESHOLDS | FMT_PERSISTENTCONN):
        return None
    name = _lines.service(33 if fmt & (FMT_STATS | FMT_RATE) else 0, _NAME_CUT, 59,
                          PROTOCOL_LABELS, _UNKNOWN_PROTOCOL, _MARK, _MARK_V6, 4)
    if not fmt & (FMT_STATS | FMT_RATE):
        # the plain line, for a service without flags (see service_fix)
        return (name, _lines.text(" "), _lines.string("sched_name"))
    fields = _COUNTERS if fmt & FMT_STATS else ("cps", "inpps", "outpps", "inbps", "outbps")
    return (name,) + tuple(_lines.largenum("stats." + f) for f in fields)


# what a plain service line (and a rule) writes beyond its name and scheduler
_PLAIN_EXTRAS = SVC_F_SCHED_ANY | SVC_F_PERSISTENT | SVC_F_ONEPACKET


def service_fix(fmt, names):
    """For Client.table_lines: f(records, texts) that writes, from the
    object, the line of each service whose line service_columns(fmt) does
    not hold (the plain line of a service with flags); None: none such."""
    if fmt & (FMT_STATS | FMT_RATE):
        return None

    def fix(records, texts):
        at = _lines.Field(_lines.SERVICE_LAYOUT, "flags").index
        # a rule also writes the persistence engine of a service without flags
        pe = _lines.Field(_lines.SERVICE_LAYOUT, "pe_name").index if fmt & FMT_RULE else None
        for i, r in enumerate(records):
            if r[at] & _PLAIN_EXTRAS or (pe is not None and r[pe]):
                texts[i] = service_line(service_from_record(r), fmt, names)
    return fix


def _rule_columns():
    """-a, the service (the group's piece 0), -r, the real server, then
    rules.dest_options(d, save=True)'s words."""
    T, types = FWD_TUNNEL, range(len(TUNNEL_TYPE_NAMES))
    cols = (_lines.text("-a "), _lines.piece(0), _lines.text(" -r "),
            _lines.endpoint(0, cut4=59), _lines.text(" "),
            _lines.label("fwd_method", FWD_MASK, FORWARDING_OPTIONS, NULL, 0),
            _lines.text(" -w "), _lines.number("weight", 0),
            _lines.when("fwd_method", FWD_MASK, (T,), 9),
            _lines.when("tun_type", 0xFFFF, types, 8),
            _lines.text(" --tun-type "),
            _lines.label("tun_type", 0xFFFF, dict(enumerate(TUNNEL_TYPE_NAMES)), "", 0),
            _lines.when("tun_type", 0xFFFF, (TUN_GUE,), 2),
            _lines.text(" --tun-port "), _lines.number("tun_port", 0),
            _lines.when("tun_type", 0xFFFF, (TUN_GUE, TUN_GRE), 2),
            _lines.text(" "),
            _lines.label("tun_flags", 0xFFFF, dict(enumerate(TUNNEL_FLAG_OPTIONS)), "?", 0))
    for field, opt in _rules.option_record_fields(Destination):
        cols += (_lines.when(field, 0xFFFFFFFF, None, 2), _lines.text(" %s " % opt),
                 _lines.number(field, 0))
    return cols


_PROGRAMS: dict = {}


def dest_program(fmt):
    """dest_columns(fmt) compiled (once per format), or None."""
    key = fmt & (FMT_RULE | FMT_STATS | FMT_RATE | FMT_THRESHOLDS | FMT_PERSISTENTCONN
                 | FMT_TUN_INFO | FMT_EXACT)
    if key not in _PROGRAMS:
        cols = dest_columns(fmt)
        _PROGRAMS[key] = None if cols is None else _lines.Program(cols, exact=bool(fmt & FMT_EXACT))
    return _PROGRAMS[key]


def service_program(fmt):
    """service_columns(fmt) compiled over service records (once per
    format), or None."""
    key = ("service", fmt & (FMT_RULE | FMT_STATS | FMT_RATE | FMT_THRESHOLDS
                             | FMT_PERSISTENTCONN | FMT_EXACT))
    if key not in _PROGRAMS:
        cols = service_columns(fmt)
        _PROGRAMS[key] = None if cols is None else _lines.Program(
            cols, exact=bool(fmt & FMT_EXACT), layout=_lines.SERVICE_LAYOUT)
    return _PROGRAMS[key]


def program_table(info, client, fmt, names):
    """A numeric listing whose real-server lines a program writes
    (dest_program(fmt)): every line by Client.table_lines when a program
    writes the service lines too (service_program(fmt)), else the service
    lines here and every real-server line by Client.destination_lines (in
    C with the C decoder)."""
    head = service_program(fmt)
    if head is not None:
        piece = None
        if fmt & FMT_RULE:  # each real server's line names its service again
            piece = _PROGRAMS.get("spec") or _PROGRAMS.setdefault("spec", _lines.Program(
                (_spec_column(),), layout=_lines.SERVICE_LAYOUT))
        return ("" if fmt & FMT_RULE else info_line(info)) + title(fmt) + b"".join(
            client.table_lines(head, dest_program(fmt), sort=not fmt & FMT_NOSORT,
                               fix=service_fix(fmt, names), piece=piece)).decode("latin-1")
    services = client.services()
    sort = not fmt & FMT_NOSORT
    if sort:
        services = sorted(services, key=_rules.service_sort_key)
    texts = [service_line(s, fmt, names) for s in services]
    return info_line(info) + title(fmt) + client.destination_lines(
        services, dest_program(fmt), texts, sort=sort)
