"""Line programs: a listing line declared as data (its columns), compiled
once against a record layout, then run over dump records by either
decoder: C writes the lines from its raw records (csrc/ipvs_lines.c), the
twin runs the Python function compiled here over its tuples.

    prog = Program([text("  -> "), endpoint(28), largenum("stats.conns")])
    client.destination_lines(services, prog, texts)   # the listing's text

A format is declared once, as columns (ipvsadm's are in the CLI's
renderer); fields are named as the dump records name them ("weight",
"u_thresh", "stats.conns"); offsets and tuple indexes come from the layout.
"""
from __future__ import annotations

import _socket as socket
from _functools import partial as _partial  # (functools.py: one more file to read)

from . import _spec
from ._client import dest_to_record

__all__ = ["text", "endpoint", "address", "piece", "number", "largenum", "label", "service",
           "string", "when", "Program",
           "numeric_endpoint", "address_text", "dest_record", "largenum_text",
           "render_groups"]

AF_INET, AF_INET6 = int(socket.AF_INET), int(socket.AF_INET6)
_ntop = socket.inet_ntop
_ntop4 = _partial(_ntop, AF_INET)  # an IPv4 address's 4 bytes as text


def text(s):
    """Literal text."""
    return ("text", s)


def endpoint(width, cut=59, cut4=None):
    """The record's address and port, numeric ("a.b.c.d:port",
    "[v6]:port"), at most `cut` characters (one not of an IPv6 address:
    at most `cut4`, by default `cut`), left-justified in `width`."""
    return ("endpoint", width, cut, cut if cut4 is None else cut4)


def number(field, width, left=True):
    """An int field, %-Nd (left) or %Nd."""
    return ("int", field, width, left)


def largenum(field):
    """A counter as ipvsadm prints it (exact with --exact)."""
    return ("largenum", field)


def address():
    """The record's address alone, numeric."""
    return ("address",)


def piece(k):
    """The group's piece k (0 or 1): text each group (a service) gives its
    lines, such as the labels of its own in a metric line."""
    return ("group", k)


def label(field, mask, labels, default, width):
    """labels[field & mask], else default (None: the value in decimal),
    left-justified in width."""
    return ("label", field, mask, labels, default, width)


def string(field, width=0):
    """A string field (a scheduler's name), left-justified in width."""
    return ("string", field, width)


def when(field, mask, values, n):
    """The next n columns only when field & mask is one of values (None:
    is not 0)."""
    if values is not None and not all(0 <= v < 64 for v in values):
        raise ValueError("when: values 0 to 63 only")
    return ("when", field, mask, None if values is None else tuple(values), n)


def service(width, cut, ep_cut, protocols, unknown, mark, v6, proto_width):
    """A service record's name as ipvsadm lists it, left-justified in
    width: with a firewall mark, `mark`, the mark and `v6` for IPv6; else
    protocols[protocol] (else `unknown`) left-justified in proto_width, a
    space and the numeric endpoint cut to ep_cut; the whole cut to `cut`
    unless IPv6. (A program with this column runs over service records:
    Program(..., layout=_spec.LAYOUTS["service"]).)"""
    return ("service", width, cut, ep_cut, protocols, unknown, mark, v6, proto_width)


def _service_name(af_i, fw_i, proto_i, addr_i, port_i, col):
    """The twin's SERVICE column: f(record) -> its text, unpadded."""
    _, _, cut, ep_cut, protocols, unknown, mark, v6, proto_width = col
    head = "%%-%ds %%s" % proto_width
    get = protocols.get

    def name(r):
        if r[fw_i]:
            s = "%s%d%s" % (mark, r[fw_i], v6 if r[af_i] == AF_INET6 else "")
        else:
            s = head % (get(r[proto_i], unknown),
                        numeric_endpoint(r[af_i], r[addr_i], r[port_i])[:ep_cut])
        return s if r[af_i] == AF_INET6 else s[:cut]
    return name


def address_text(af, addr):
    """A record's packed address (16 bytes) as text."""
    return _ntop(AF_INET6, addr) if af == AF_INET6 else _ntop(AF_INET, addr[:4])


def numeric_endpoint(af, addr, port):
    return ("%s:%d" if af == AF_INET else "[%s]:%d") % (address_text(af, addr), port)


# A Destination as the decoders' record (what programs run over)
dest_record = dest_to_record
# what a program over service records is compiled against
SERVICE_LAYOUT = _spec.LAYOUTS["service"]


def largenum_text(i, exact):
    """ipvsadm's print_largenum."""
    if exact:
        n = len(str(i))
        return "%*d" % (9 if n <= 8 else n + 1, i)
    if i < 100000000:
        return "%9d" % i
    if i < 1000000000:
        return "%8dK" % (i // 1000)
    if i < 100000000000:
        return "%8dM" % (i // 1000000)
    if i < 100000000000000:
        return "%8dG" % (i // 1000000000)
    return "%8dT" % (i // 1000000000000)


class Field:
    """A field of a layout by its dotted name: tuple index, byte offset and
    width in the C record, signedness."""

    def __init__(self, layout, name):
        top, _, sub = name.partition(".")
        f = next(f for f in layout.fields if f.name == top)
        if sub:
            rec = layout.subs[f.record]
            g = next(g for g in rec.fields if g.name == sub)
            self.index, self.offset, self.size = f.index + g.index, f.offset + g.offset, g.store
            self.signed = g.read == "i32"
        else:
            self.index, self.offset, self.size, self.signed = f.index, f.offset, f.store, \
                f.read == "i32"


class Program:
    """Columns compiled against a layout (by default the dest record's):
    .line(record, ep=numeric_endpoint) the text of one line for a record
    tuple, its columns then `end`; .cols the columns with fields resolved
    (for C); .key the (address, family, port) fields the lines sort by.
    sep: written before each line of a group but its first (a JSON
    array's commas)."""

    def __init__(self, columns, exact=False, layout=None, end="\n", sep=""):
        layout = _spec.LAYOUTS["dest"] if layout is None else layout
        self.exact, self.end, self.sep = exact, end, sep
        self.size = layout.size
        addr, af, port = (Field(layout, n) for n in ("addr", "af", "port"))
        self.key = (addr, af, port)
        self.cols = []
        env = {"_large": largenum_text, "_default_ep": numeric_endpoint, "_address": address_text,
               "_ntop4": _ntop4}
        parts = []  # ("%-8s", "its value's source") or ("when", "condition", columns)
        for k, col in enumerate(columns):
            kind = col[0]
            if kind == "text":
                parts.append((col[1].replace("%", "%%"), None))
                self.cols.append(col)
            elif kind == "endpoint":
                # numeric_endpoint's IPv4 text inline when ep is it (no call)
                a, f, p = addr.index, af.index, port.index
                ep = ("('%%s:%%d' %% (_ntop4(r[%d][:4]), r[%d]) if ep is _default_ep and "
                      "r[%d] == %d else ep(r[%d], r[%d], r[%d]))" % (a, p, f, AF_INET, f, a, p))
                parts.append(("%%-%ds" % col[1], "%s[:%d if r[%d] == %d else %d]"
                              % (ep, col[2], f, AF_INET6, col[3])))
                self.cols.append(col + (addr, af, port))
            elif kind == "address":
                parts.append(("%s", "_address(r[%d], r[%d])" % (af.index, addr.index)))
                self.cols.append(col + (addr, af, port))
            elif kind == "service":
                fw, proto = Field(layout, "fwmark"), Field(layout, "protocol")
                env["_service%d" % k] = _service_name(af.index, fw.index, proto.index,
                                                      addr.index, port.index, col)
                parts.append(("%%-%ds" % col[1], "_service%d(r)" % k))
                # the C table: protocols 0 .. the largest, unknown, mark, v6
                table = tuple(col[4].get(v, col[5]) for v in range(max(col[4], default=0) + 1))
                self.cols.append(col + (addr, af, port, fw, proto, table))
            elif kind == "string":
                f = Field(layout, col[1])
                parts.append(("%%-%ds" % col[2], "r[%d]" % f.index))
                self.cols.append(col + (f,))
            elif kind == "group":
                parts.append(("%s", "g[%d]" % col[1]))
                self.cols.append(col)
            elif kind == "int":
                f = Field(layout, col[1])
                parts.append(("%%%s%dd" % ("-" if col[3] else "", col[2]), "r[%d]" % f.index))
                self.cols.append(col + (f,))
            elif kind == "largenum":
                f = Field(layout, col[1])
                # the common width inline, the rest largenum_text's: no call
                # a value for most lines (exact: up to 8 characters)
                v = "r[%d]" % f.index
                low = "-10000000 < " if exact else ""
                parts.append(("%s", "('%%9d' %% %s if %s%s < 100000000 else _large(%s, %s))" % (
                    v, low, v, v, exact)))
                self.cols.append(col + (f,))
            elif kind == "label":
                f = Field(layout, col[1])
                # C's table: the values 0 .. the largest with a label (then the
                # default; None: the value)
                table = tuple(col[3].get(v, str(v) if col[4] is None else col[4])
                              for v in range(min(col[2], max(col[3], default=0)) + 1))
                env["_labels%d" % k] = dict(enumerate(table))
                if col[4] is None:
                    env["_label%d" % k] = lambda v, t=env["_labels%d" % k]: (
                        t[v] if v in t else str(v))
                    value = "_label%d(r[%d] & %d)" % (k, f.index, col[2])
                else:
                    value = "_labels%d.get(r[%d] & %d, %r)" % (k, f.index, col[2], col[4])
                parts.append(("%%-%ds" % col[5], value))
                self.cols.append(col + (f, table))
            elif kind == "when":
                if col[4] > len(columns) - k - 1:
                    raise ValueError("when: %d columns, %d after it" % (col[4],
                                                                       len(columns) - k - 1))
                f = Field(layout, col[1])
                v = "r[%d] & %d" % (f.index, col[2])
                cond = "(%s) != 0" % v if col[3] is None else "(%s) in %r" % (
                    v, frozenset(col[3]))
                parts.append(("when", cond, col[4]))
                self.cols.append(col + (f,))
            else:
                raise ValueError("unknown column %r" % (kind,))
        src = "def line(r, ep=_default_ep, g=()):\n" + _line_code(parts, end)
        exec(compile(src, "<ipvs line>", "exec"), env)
        self.line = env["line"]
        a, f, p = addr.index, af.index, port.index
        self.sort_key = lambda r: (r[a] if r[f] == AF_INET6 else r[a][:4], r[p])

    def lines(self, records, sort=True, ep=numeric_endpoint, pieces=("", "")):
        """The lines of records (tuples), sorted by address and port; ep:
        f(af, packed address, port) -> the endpoint's text (e.g. names);
        pieces: what piece(0) and piece(1) write."""
        if sort:
            records = sorted(records, key=self.sort_key)
        line = self.line
        return self.sep.join([line(r, ep, pieces) for r in records])


def _line_code(parts, end="\n") -> str:
    """The body of a line function: one format of every column when none is
    conditional, else the pieces joined, a `when` column an if-block over
    the next columns it names."""
    if not any(p[0] == "when" for p in parts):
        args = [a for _, a in parts if a is not None]
        return "    return %r %% (%s)\n" % ("".join(f for f, _ in parts) + end.replace("%", "%%"),
                                             ", ".join(args) + ("," if len(args) == 1 else ""))
    out = ["    o = []\n"]

    def emit(items, indent):
        i = 0
        while i < len(items):
            if items[i][0] == "when":
                _, cond, n = items[i]
                out.append("%sif %s:\n%s    pass\n" % (indent, cond, indent))
                emit(items[i + 1:i + 1 + n], indent + "    ")
                i += 1 + n
            else:
                fmt, arg = items[i]
                out.append("%so.append(%s)\n" % (indent, repr(fmt.replace("%%", "%"))
                                                  if arg is None else "%r %% (%s,)" % (fmt, arg)))
                i += 1
    emit(parts, "    ")
    out.append("    o.append(%r)\n    return ''.join(o)\n" % end)
    return "".join(out)


def render_groups(program, texts, records, sort=True, pieces=None):
    """The twin's listing: each group's text (texts None: none), then its
    records' lines (pieces: each group's two pieces, or None: empty ones)."""
    out = []
    for i, recs in enumerate(records):
        if texts is not None:
            out.append(texts[i])
        out.append(program.lines(recs, sort, pieces=pieces[i] if pieces else ("", "")))
    return "".join(out)
