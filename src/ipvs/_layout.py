# The records of _records compiled against attribute tables (_spec's).
#
# Rule: the one place a record's layout is derived: the order the decoders
# check its fields in, the index of each field in its tuple, its offset and
# width in the C engine's record (natural alignment, explicit padding), and
# the smallest reply message that carries one. Both decoders are built
# from what this makes (make_decoders(compile_records(tables))).
from __future__ import annotations

import _struct as struct  # the C module: struct.py is one more file to read

from ._records import FIELD, RECORDS, Index

# views of _records' tuples by name
class _Field:
    """A _records field tuple read by name (a class costs start-up less
    than a namedtuple, which compiles code)."""
    __slots__ = FIELD

    def __init__(self, values):
        for k, v in zip(FIELD, values):
            setattr(self, k, v)

# How a field is read from its attribute (the wire width follows from it):
# u8 u16 be16 u32 i32 (signed) u64; flags: {flags, mask} read as flags & mask;
# addr: 4..16 bytes, kept as 16 (zero padded); string: up to the first NUL,
# at most 15 bytes; nest: a sub-record (the attribute's, else alt's).
READ_SIZE = {"u8": 1, "u16": 2, "be16": 2, "u32": 4, "i32": 4, "u64": 8,
             "flags": 8, "addr": 4, "string": 0, "nest": 0}

# What one field of a record is stored as: struct code (the C engine
# writes ints of that width); ints of a sub-record are all u64, so that
# the 32- and 64-bit stats fill the same slots.
_STORE = {"u8": "B", "u16": "H", "be16": "H", "u32": "I", "i32": "i", "u64": "Q",
          "flags": "I", "addr": "16s", "string": "16s"}

class Compiled:
    """One field compiled: wire id, how read, need, default, unless/alt
    ids, sub-record names, index in the tuple (a nest: its first), offset
    in the C record, bytes stored."""
    __slots__ = ("name", "id", "read", "need", "default", "unless", "alt", "record",
                 "alt_record", "index", "offset", "store")

    def __init__(self, *values):
        for k, v in zip(self.__slots__, values):
            setattr(self, k, v)


def _read_of(field, attr):
    if field.read is not None:
        return field.read
    if attr.type in ("u8", "u16", "u32", "u64"):
        return "be16" if attr.type == "u16" and attr.order == "big" else attr.type
    if attr.type in ("flags", "string", "nest"):
        return attr.type
    raise TypeError("%s: say how to read a %s attribute" % (field.name, attr.type))


class Layout:
    """One record compiled: fields in check order, tuple indexes, the C
    layout (struct format with explicit padding, size), the smallest reply
    message that carries it, and the index constants."""

    def __init__(self, name, rec, tables, records, sub=False):
        self.name = name
        table_name, nest, rec_fields = rec
        self.table = table_name
        table = tables[table_name]
        self.nest_id = tables["cmd"][nest].id if nest else None
        self.subs = {}
        fields, fmt, pos, index, min_msg = [], "=", 0, 0, 24
        positions = {}
        for f in map(_Field, rec_fields):
            attr = table[f.attr]
            read = _read_of(f, attr)
            if read == "nest":
                s = self.subs[f.record] = Layout(f.record, records[f.record], tables, records, True)
                s2 = self.subs[f.alt_record] = Layout(f.alt_record, records[f.alt_record],
                                                      tables, records, True)
                if s.fmt != s2.fmt:
                    raise TypeError("%s: %s and %s differ in layout" % (f.name, f.record,
                                                                         f.alt_record))
                code, width, align, n = s.fmt[1:], s.size, 8, s.index._width
            else:
                code = "Q" if sub and _STORE[read] in "BHIi" else _STORE[read]
                width = struct.calcsize("=" + code)
                align, n = (1 if code.endswith("s") else width), 1
            pad = -pos % align
            fmt += "x" * pad
            pos += pad
            fields.append(Compiled(
                f.name, attr.id, read, f.need, f.default,
                table[f.unless].id if f.unless else None,
                table[f.alt].id if f.alt else None, f.record, f.alt_record,
                index, pos, width))
            positions[f.name] = index if n == 1 else slice(index, index + n)
            fmt += code
            pos += width
            index += n
            if f.need == "required" and not f.unless:
                min_msg += (4 + READ_SIZE[read] + 3) & ~3
        fmt += "x" * (-pos % 8)
        self.fmt = fmt
        self.size = struct.calcsize(fmt)
        self.min_msg = min_msg
        self.index = Index(_width=index, **positions)
        self.fields = _check_order(fields)
        self.max_attr = max([f.id for f in fields] + [f.alt or 0 for f in fields] +
                            [f.unless or 0 for f in fields])


def _check_order(fields):
    """The order the decoders check fields in: record order, except that a
    field another one is read `unless` comes just before the first of them
    (its presence decides whether they are read at all)."""
    by_id = {f.id: f for f in fields}
    out = []
    for f in fields:
        if f.unless is not None and by_id[f.unless] not in out:
            out.append(by_id[f.unless])
        if f not in out:
            out.append(f)
    return out


def compile_records(tables, records=None) -> dict:
    """{name: Layout} of the top-level records (service, dest) of a spec:
    _spec's TABLES (or an edited copy, as tests make) and RECORDS (or a
    copy)."""
    records = RECORDS if records is None else records
    return {name: Layout(name, rec, tables, records)
            for name, rec in records.items() if rec[1]}
