# The C line writer's Python face (csrc/ipvs_lines.c): an ipvs.lines
# Program's columns as C tables (made once, kept on the program), and the
# call that writes a listing's text from the raw records the C dump loop
# left (_decode_c.run_dumps). Importing this fails when C was not built.
from __future__ import annotations

import _struct  # the C module: struct.py is one more file to read
from itertools import accumulate as _accumulate, chain as _chain
from _operator import add as _add

from ._decode_c import _E_FULL, _raise, _raw
from ._ipvs_cdecoder import ffi, lib  # ImportError when not built

_flat = _chain.from_iterable


def _u32s(values):
    """values as native u32s in a writable buffer (what array("I", values)
    gives; struct rather than array, whose import loads collections.abc)."""
    values = list(values)
    return bytearray(_struct.pack("=%dI" % len(values), *values))


_OPS_BY_KIND = {"text": lib.IPVS_L_TEXT, "endpoint": lib.IPVS_L_ENDPOINT, "int": lib.IPVS_L_INT,
                "largenum": lib.IPVS_L_LARGENUM, "label": lib.IPVS_L_LABEL,
                "address": lib.IPVS_L_ADDRESS, "group": lib.IPVS_L_GROUP,
                "service": lib.IPVS_L_SERVICE, "string": lib.IPVS_L_STRING,
                "when": lib.IPVS_L_WHEN, "sep": lib.IPVS_L_SEP}
_LINES_OUT = 1 << 20


def _c_program(program):
    """A lines.Program's C tables (made once, kept on the program): the
    columns, the key, the literal text and the label table."""
    c = getattr(program, "_c", None)
    if c is not None:
        return c
    # the separator before all but a group's first line, the columns, the end
    specs = ([("sep", program.sep)] if program.sep else []) + list(program.cols) + (
        [("text", program.end)] if program.end else [])
    cols = ffi.new("struct ipvs_col[]", len(specs))
    blob, labels = bytearray(), []

    def put(s):
        b = s.encode("latin-1")
        blob.extend(b)
        return len(blob) - len(b), len(b)

    def at(col, addr, af, port):
        col.offset, col.offset2, col.offset3 = addr.offset, af.offset, port.offset
    for col, spec in zip(cols, specs):
        kind = spec[0]
        col.op = _OPS_BY_KIND[kind]
        if kind in ("text", "sep"):
            col.a, col.b = put(spec[1])
        elif kind == "endpoint":
            col.width, col.b, col.a = spec[1], spec[2], spec[3]
            at(col, *spec[4:7])
        elif kind == "address":
            at(col, *spec[1:4])
        elif kind == "group":
            col.a = spec[1]
        elif kind == "string":
            col.width, col.offset, col.size = spec[2], spec[3].offset, spec[3].size
        elif kind == "when":
            f, values = spec[5], spec[3]
            col.offset, col.size, col.mask, col.a = f.offset, f.size, spec[2], spec[4]
            if values is None:
                col.flags = lib.IPVS_C_NONZERO
            else:
                bits = sum(1 << v for v in set(values))  # (lines.when: 0 to 63)
                col.cut, col.cut2 = bits & 0xFFFFFFFF, bits >> 32
        elif kind == "service":
            width, cut, ep_cut, _, unknown, mark, v6, proto_width = spec[1:9]
            at(col, *spec[9:12])
            fw, proto, table = spec[12:15]
            col.offset4, col.offset5 = fw.offset, proto.offset
            col.width, col.cut, col.cut2 = width, cut, proto_width << 8 | ep_cut
            col.a, col.b = len(labels) // 2, len(table)
            for t in table + (unknown, mark, v6):
                labels.extend(put(t))
        else:
            f = spec[-1] if kind != "label" else spec[6]
            col.offset, col.size = f.offset, f.size
            col.flags = lib.IPVS_C_SIGNED if f.signed else 0
            if kind == "int":
                col.width = spec[2]
                col.flags |= lib.IPVS_C_LEFT if spec[3] else 0
            elif kind == "largenum":
                col.flags |= lib.IPVS_C_EXACT if program.exact else 0
            else:  # label: the table, then the default once more past its end
                table = spec[7]
                col.width, col.mask, col.a, col.b = spec[5], spec[2], len(labels) // 2, \
                    len(table)
                if spec[4] is None:  # past the table: the value itself
                    col.flags |= lib.IPVS_C_NUMBER
                for t in table + (spec[4] or "",):
                    labels.extend(put(t))
    key = ffi.new("struct ipvs_col *")
    at(key, *program.key)
    c = program._c = (cols, len(specs), key, bytes(blob),
                      ffi.new("uint32_t[]", labels or [0]))
    return c


def _groups(texts, pieces, counts, n):
    """(the groups' text, struct ipvs_group[n], their largest count): the
    texts (None: none) and the two pieces of each group after one another,
    and the groups as eight u32 columns packed at once (setting cffi
    fields one by one cost more than C's whole listing: measured, 5000
    services, 14 programs)."""
    # (map, zip and accumulate: no Python step per group)
    tlen = list(map(len, texts)) if texts is not None else [0] * n  # latin-1: 1 byte a char
    if pieces:
        a_s, b_s = zip(*pieces)
        plen0, plen1 = list(map(len, a_s)), list(map(len, b_s))
        ptext = "".join(map(_add, a_s, b_s))
    else:
        plen0 = plen1 = [0] * n
        ptext = ""
    gtext = ("".join(texts) if texts is not None else "") + ptext
    toff = list(_accumulate(tlen, initial=0))
    first = list(_accumulate(counts, initial=0))[:-1]
    p0 = list(_accumulate(map(_add, plen0, plen1), initial=toff.pop()))[:-1]
    p1 = list(map(_add, p0, plen0))
    flat = _u32s(_flat(zip(toff, tlen, first, counts, p0, plen0, p1, plen1)))
    room = max(tlen, default=0) + max(plen0, default=0) + max(plen1, default=0)
    return gtext.encode("latin-1"), flat, max(counts, default=1) or 1, room


def render_chunks(lines, recs, total, counts, n, made=None, order=None):
    """The listing C writes from `total` raw records (`n` groups, counts
    records each), as it is written: an iterator of bytes-like chunks of
    latin-1 text (each at most about 1 MiB, a buffer of its own, so a
    consumer may keep it), made only as the consumer asks for them: a
    scrape's 46 MB go to their writer chunk by chunk, never joined or
    turned into str (each copy of them was measurable). lines = (program,
    texts, sort, pieces), one of _decode_py.run_dumps' lines. made: a dict
    that keeps the groups for the next call with the same texts and
    pieces (the scrape's 14 programs); the records must outlive the
    iterator (it holds them). order: the records' indexes in the order
    their lines are written (by default as they are, each group's sorted
    when sort)."""
    program, texts, sort, pieces = lines
    cols, ncols, key, blob, labels = _c_program(program)
    made = {} if made is None else made
    k = (id(texts), id(pieces))
    if k not in made:
        made[k] = _groups(texts, pieces, counts, n)
    gtext, flat, most, room = made[k]
    groups = ffi.from_buffer("struct ipvs_group[]", flat) if n else ffi.NULL
    if order is not None:
        order = ffi.from_buffer("uint32_t[]", _u32s(order))
    elif sort:  # sorting rewrites it in place: a new one each time
        order = ffi.from_buffer("uint32_t[]", _u32s(range(total or 1)))
    else:
        if "order" not in made:
            made["order"] = ffi.from_buffer("uint32_t[]", _u32s(range(total or 1)))
        order = made["order"]
    scratch = _raw("uint32_t[]", most)
    st = ffi.new("struct ipvs_lines *")
    cap = _LINES_OUT + room
    while True:
        out = _raw("uint8_t[]", cap)
        st.written = 0
        rc = lib.ipvs_render_lines(recs, total, program.size, cols, ncols,
                                   key if sort else ffi.NULL, blob, labels, gtext, groups, n,
                                   order, scratch, out, cap, st)
        if st.written:
            yield ffi.buffer(out, st.written)
        if rc == _E_FULL:
            if not st.written:  # (cannot happen with these bounds: never spin)
                cap *= 2
            continue
        if rc:
            _raise(rc)
        return


def record_lines(program, raw, total, order) -> str:
    """One line of `program` for each of `total` raw records (C layout,
    back to back in the bytes-like `raw`), in `order` (their indexes), as
    one text: what program.lines() makes of their tuples in that order,
    unsorted."""
    if not total:
        return ""
    recs = ffi.from_buffer("uint8_t[]", raw)
    return b"".join(render_chunks((program, None, False, None), recs, total, [total], 1,
                                  order=order)).decode("latin-1")
