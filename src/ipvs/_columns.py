# The twin's lines by columns: a program's lines for many records at once.
#
# Program.line writes one record's line, a Python call per record. Here
# each column is made for every record by one loop that runs in C (a map
# over the field's values: the endpoints' text, a counter's width, a
# label's table), then every line by one % format over the columns
# (zip), then each group's lines put in order by a sort over keys made
# the same way. What a column cannot make so (a `when` column true for
# some records and not for others) gives None: the caller then runs
# Program.line per record.
#
# Rule: the text of Program.line, always (Program.line is the reference;
# tests hold this to it for every column kind).
from __future__ import annotations

import _socket as socket
from _operator import and_, getitem, itemgetter
from itertools import chain, repeat

AF_INET, AF_INET6 = int(socket.AF_INET), int(socket.AF_INET6)
_FOUR = slice(0, 4)
_LONGEST4 = len("255.255.255.255:65535")


def _column(got, records, field):
    """The field's values of every record (made once, kept in got)."""
    i = field.index
    if i not in got:
        got[i] = list(map(itemgetter(i), records))
    return got[i]


def _four(got, records, af, addr):
    """The records' addresses (their first 4 bytes) when every record is
    IPv4, else None (made once, kept in got)."""
    key = ("v4", addr.index)
    if key not in got:
        got[key] = list(map(getitem, _column(got, records, addr), repeat(_FOUR))) \
            if _column(got, records, af).count(AF_INET) == len(records) else None
    return got[key]


def texts(program, records, pieces=None, counts=None, got=None):
    """[program.line(r, g=pieces of r's group) for r in records] (pieces:
    each group's two pieces, counts: each group's number of records; None:
    empty pieces), or None when the columns cannot be made so. got: the
    columns already made of these records (and pieces), kept for the next
    program over them (a dict; None: none)."""
    from .lines import _ntop4, _service_name, address_text, largenum_text, numeric_endpoint
    n = len(records)
    got = {} if got is None else got

    def column(field):
        return _column(got, records, field)

    def ipv4(af, addr):
        return _four(got, records, af, addr)

    fmt, values = [], []
    cols = program.cols
    k = 0
    while k < len(cols):
        col = cols[k]
        kind = col[0]
        k += 1
        if kind == "text":
            fmt.append(col[1].replace("%", "%%"))
            continue
        if kind == "when":
            _, _, mask, accept, span, f = col
            masked = list(map(and_, column(f), repeat(mask)))
            hits = list(map(bool, masked)) if accept is None else \
                list(map(frozenset(accept).__contains__, masked))
            if not any(hits):
                k += span  # its columns write nothing on any line
            elif not all(hits):
                return None
            continue
        if kind == "endpoint":
            width, cut, cut4, addr, af, port = col[1:]
            four = ipv4(af, addr)
            if four is not None:
                vals = list(map("%s:%d".__mod__, zip(map(_ntop4, four), column(port))))
                if cut4 < _LONGEST4:
                    vals = list(map(getitem, vals, repeat(slice(0, cut4))))
            else:
                def one(a, p, v, cut=cut, cut4=cut4):
                    return numeric_endpoint(v, a, p)[:cut if v == AF_INET6 else cut4]
                vals = list(map(one, column(addr), column(port), column(af)))
            fmt.append("%%-%ds" % width)
        elif kind == "address":
            fmt.append("%s")
            four = ipv4(col[2], col[1])
            vals = list(map(_ntop4, four)) if four is not None else \
                list(map(address_text, column(col[2]), column(col[1])))
        elif kind == "service":
            addr, af, port, fw, proto = col[9:14]
            fmt.append("%%-%ds" % col[1])
            vals = list(map(_service_name(af.index, fw.index, proto.index, addr.index,
                                          port.index, col[:9]), records))
        elif kind == "string":
            fmt.append("%%-%ds" % col[2])
            vals = column(col[3])
        elif kind == "group":
            if not pieces:
                continue  # ("", "") for every group
            fmt.append("%s")
            key = ("group", col[1], id(pieces))
            if key not in got:
                got[key] = list(chain.from_iterable(map(repeat, map(itemgetter(col[1]), pieces),
                                                        counts)))
                got.setdefault("held", []).append(pieces)  # (its id stays its own)
            vals = got[key]
        elif kind == "int":
            fmt.append("%%%s%dd" % ("-" if col[3] else "", col[2]))
            vals = column(col[4])
        elif kind == "largenum":
            vals = column(col[2])
            low = -10000000 if program.exact else None
            if not vals or (max(vals) < 100000000 and (low is None or min(vals) > low)):
                fmt.append("%9d")  # what largenum_text writes for each
            else:
                fmt.append("%s")
                vals = list(map(largenum_text, vals, repeat(program.exact)))
        elif kind == "label":
            _, _, mask, _, default, width, f, table = col
            masked = list(map(and_, column(f), repeat(mask)))
            get = dict(enumerate(table)).get
            vals = list(map(get, masked, map(str, masked) if default is None
                            else repeat(default)))
            fmt.append("%%-%ds" % width)
        else:
            return None
        values.append(vals)
    line = "".join(fmt) + program.end.replace("%", "%%")
    if not values:
        return [line % ()] * n
    return list(map(line.__mod__, zip(*values)))


def render_groups(program, texts_, groups, sort=True, pieces=None, cache=None):
    """lines.render_groups by columns, or None where texts() cannot.
    cache: a dict kept across the listings of the same groups (their
    records and columns made once), or None."""
    if cache is None or cache.get("groups") is not groups:
        got = {"groups": groups, "counts": list(map(len, groups)),
               "records": list(chain.from_iterable(groups))}
        if cache is not None:
            cache.clear()
            cache.update(got)
            got = cache
    else:
        got = cache
    counts, records = got["counts"], got["records"]
    lines = texts(program, records, pieces, counts, got)
    if lines is None:
        return None
    keys = None
    if sort and any(c > 1 for c in counts):
        addr, af, port = program.key
        four = _four(got, records, af, addr)  # (the endpoint column's, when it made them)
        keys = list(zip(four, _column(got, records, port))) if four is not None else \
            list(map(program.sort_key, records))
    out, at, sep = [], 0, program.sep
    key = None if keys is None else keys.__getitem__
    for i, c in enumerate(counts):
        if texts_ is not None:
            out.append(texts_[i])
        if c == 1:
            out.append(lines[at])
        elif c:
            if key is not None:
                out.append(sep.join(map(lines.__getitem__, sorted(range(at, at + c), key=key))))
            else:
                out.append(sep.join(lines[at:at + c]))
        at += c
    return "".join(out)
