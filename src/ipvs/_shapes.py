# The twin's fast read of a record's nest by its shape.
#
# A dump's records come from one kernel and mostly have one shape: the same
# attributes, of the same lengths, in the same order (a GET_DEST reply's
# real servers differ in values only). The generic reader (_decode_py's
# generated _r_* functions) walks every attribute into a dict and reads
# each field through a call. Here the first nest of each length is
# learned: its attribute header words (all of them, the nests' it reads
# included) and where each field's bytes are, as one struct format; a nest
# of the same length whose header words are the learned ones has its
# fields at the same places, so one unpack_from reads it whole, and a
# function generated for the shape makes the record.
#
# Rule: the same records as the generic reader, always: a shape is learned
# only from a nest the generic reader decodes, and only if the shape's
# record of that nest is the generic reader's; any other nest (another
# shape, an error) goes to the generic reader. A name (a string field) is
# cut and checked by value by the generic reader's _name.
from __future__ import annotations

import _struct as struct  # the C module: struct.py is one more file to read

from ._decode_py import _NLA, _TYPE_MASK, _name  # (the generic reader's own)
from ._layout import READ_SIZE

_MOST = 64  # shapes kept per reader (lengths seen), beyond which: the generic reader
# how a field's first bytes are unpacked (be16 as two bytes: no mixed byte order)
_CODES = {"u8": "B", "u16": "H", "be16": "BB", "u32": "I", "i32": "i", "u64": "Q",
          "flags": "II"}


def shaped(layout, generic):
    """generic(buf, s, e, arg), the layout's nest reader, with the fast
    read of learned shapes in front of it."""
    shapes: dict = {}  # nest length -> (unpack_from, header picker, header words, build)

    def read(buf, s, e, arg):
        shape = shapes.get(e - s)
        if shape is not None:
            vals = shape[0](buf, s)
            if shape[1](vals) == shape[2]:
                return shape[3](vals, arg)
            return generic(buf, s, e, arg)
        rec = generic(buf, s, e, arg)  # (raises on a bad nest: nothing learned)
        if e - s not in shapes and len(shapes) < _MOST:
            shapes[e - s] = _learn(layout, buf, s, e, arg, rec)
        return rec
    read.shapes = shapes
    return read


def _walk(buf, s, e, heads):
    """{type: (start, end)} of the attributes in buf[s:e] (the last of a
    type wins), each header's offset added to heads; None where the
    generic reader would fail."""
    out = {}
    while s + 4 <= e:
        alen, atype = _NLA(buf, s)
        if alen < 4 or s + alen > e:
            return None
        heads.append(s)
        out[atype & _TYPE_MASK] = (s + 4, s + alen)
        s += (alen + 3) & ~3
    return out


def _plan(layout, buf, s, e, heads, reads):
    """The expressions that make layout's fields (in tuple order) from the
    unpacked values, the reads they need added to reads [(offset, code,
    slot)]; None where the nest cannot be read so."""
    a = _walk(buf, s, e, heads)
    if a is None:
        return None
    exprs = {}
    for f in layout.fields:
        if f.read == "nest":
            span = a.get(f.id)
            sub = f.record
            if span is None:
                span, sub = a.get(f.alt), f.alt_record
            if span is None:
                if f.need != "optional":
                    return None
                exprs[f.index] = ["0"] * layout.subs[f.record].index._width
                continue
            inner = _plan(layout.subs[sub], buf, span[0], span[1], heads, reads)
            if inner is None:
                return None
            exprs[f.index] = inner
            continue
        # (what the generic reader gives a field it does not read)
        default = "arg" if f.need == "arg" else repr(bytes(16) if f.read == "addr" else f.default)
        if f.unless is not None and f.unless in a:
            exprs[f.index] = [default]
            continue
        span = a.get(f.id)
        if span is None:
            if f.read == "string" and f.need != "required":
                exprs[f.index] = ['""']
            elif f.need not in ("arg", "optional") or f.read == "string":
                return None
            else:
                exprs[f.index] = [default]
            continue
        n = span[1] - span[0]
        if n < READ_SIZE[f.read]:
            return None
        if f.read == "addr":
            code = "%ds" % min(n, 16)
        elif f.read == "string":
            code = "%ds" % n
        else:
            code = _CODES.get(f.read)
            if code is None:
                return None
        slot = "T[%d]" % len(reads)
        reads.append((span[0], code, len(reads)))
        if f.read == "addr" and n < 16:
            slot += " + %r" % bytes(16 - n)
        elif f.read == "string":
            slot = "_name(%s)" % slot
        elif f.read == "be16":
            slot = "(%s << 8 | T[%d])" % (slot, len(reads))
            reads.append((span[0] + 1, "", len(reads)))  # (the second byte's slot)
        elif f.read == "flags":
            slot = "(%s & T[%d])" % (slot, len(reads))
            reads.append((span[0] + 4, "", len(reads)))
        exprs[f.index] = [slot]
    return [x for i in sorted(exprs) for x in exprs[i]]


def _learn(layout, buf, s, e, arg, rec):
    """(unpack_from, header picker, header words, build) of the nest
    buf[s:e]'s shape, or None when it cannot be read so."""
    heads, reads = [], []
    exprs = _plan(layout, buf, s, e, heads, reads)
    if exprs is None:
        return None
    # one item per header word and per read, in byte order; the slots the
    # expressions name are renumbered to the items' order
    items = sorted([(h, "I", None) for h in heads] + [one for one in reads if one[1]])
    fmt, at, where, hidx = "=", s, {}, []
    for k, (off, code, slot) in enumerate(items):
        if off < at:
            return None  # (overlapping reads: not a shape this can read)
        fmt += "%dx" % (off - at) if off > at else ""
        fmt += code
        at = off + struct.calcsize("=" + code)
        if slot is None:
            hidx.append(_index_of(items, k))
        else:
            where[slot] = _index_of(items, k)
            if code in ("BB", "II"):
                where[slot + 1] = where[slot] + 1
    if at > e:
        return None
    fmt += "%dx" % (e - at) if e > at else ""
    build = _compile("(%s,)" % _placed(exprs, where, 0))
    unpack = struct.Struct(fmt).unpack_from
    vals = unpack(buf, s)
    pick = _picker(hidx)
    # (the last item: what a buffer of such nests is made from)
    shape = (unpack, pick, pick(vals), build, (fmt[1:], hidx, exprs, where, len(vals)))
    return shape if build(vals, arg) == rec else None


def _placed(exprs, where, base):
    """The expressions' text, each slot T[k] renamed to its item's index
    in the unpacked tuple plus base."""
    src = ", ".join(exprs)
    for slot in sorted(where, reverse=True):
        src = src.replace("T[%d]" % slot, "U[%d]" % (where[slot] + base))
    return src.replace("U[", "T[")


def _compile(value):
    """build(T, arg) -> value (source text over T, the unpacked tuple)."""
    env: dict = {"_name": _name}
    exec(compile("def build(T, arg):\n    return %s\n" % value, "<ipvs shape>", "exec"), env)
    return env["build"]


# A GET_DEST dump's data buffers are mostly alike too: k messages of one
# length, each the header, the genl header and the record's nest alone,
# every nest of one learned shape. Such a buffer is learned whole (by its
# length): one unpack_from reads its k messages, one compare checks every
# header word (the messages' own, their nests'), another each message's
# sequence number and port id, and one generated function makes the k
# records. A buffer that is not so (another length, a control message, a
# flag such as NLM_F_DUMP_INTR, another nest shape) goes to the message
# walk, which is the only one that learns.
_MSG = "IHHIIII"  # nlmsghdr (len, type, flags, seq, pid), the genl header, the nest's header
_MSG_VALS = 7


def buffered(read):
    """(fast, learn) for a shaped nest reader: fast(buf, seq, pid, arg) ->
    the records of a buffer of a learned shape, else None;
    learn(buf, seq, pid, arg, records), after the walk made a buffer's
    records (no DONE, no error, nothing flagged): learn its shape."""
    buffers: dict = {}  # buffer length -> (unpack_from, header picker, words, id picker, k, build)

    def fast(buf, seq, pid, arg):
        shape = buffers.get(len(buf))
        if shape is None:
            return None
        vals = shape[0](buf, 0)
        if shape[1](vals) != shape[2] or shape[3](vals) != (seq, pid) * shape[4]:
            return None
        return shape[5](vals, arg)

    def learn(buf, seq, pid, arg, records):
        n = len(buf)
        if n not in buffers and len(buffers) < _MOST and pid:
            buffers[n] = _learn_buffer(read.shapes, buf, seq, pid, arg, records)
    fast.buffers = buffers
    return fast, learn


def _learn_buffer(shapes, buf, seq, pid, arg, records):
    """The shape of a buffer of len(records) messages of one length, each
    nest of a learned shape, or None."""
    k, n = len(records), len(buf)
    if not k or n % k:
        return None
    mlen = n // k
    if mlen % 4 or mlen < 24:
        return None
    shape = shapes.get(mlen - 24)
    if shape is None:
        return None
    nfmt, nhidx, exprs, where, w = shape[4]
    fmt = "=" + (_MSG + nfmt) * k
    if struct.calcsize(fmt) != n:
        return None
    step = _MSG_VALS + w
    heads, ids, parts = [], [], []
    for m in range(k):
        b = m * step
        heads += [b, b + 1, b + 2, b + 5, b + 6] + [b + _MSG_VALS + i for i in nhidx]
        ids += [b + 3, b + 4]
        parts.append("(%s,)" % _placed(exprs, where, b + _MSG_VALS))
    unpack = struct.Struct(fmt).unpack_from
    vals = unpack(buf, 0)
    nest_words = shape[2]
    for m in range(k):  # each message its nest alone, the nest of the learned shape
        b = m * step + _MSG_VALS
        if vals[m * step] != mlen or _NLA(buf, m * mlen + 20)[0] != mlen - 20 or \
                shape[1](vals[b:b + w]) != nest_words:
            return None
    pick, who = _picker(heads), _picker(ids)
    build = _compile("[%s]" % ", ".join(parts))
    if build(vals, arg) != records:  # (the walk checked each sequence number and port id)
        return None
    return (unpack, pick, pick(vals), who, k, build)


def _index_of(items, k):
    """The index in the unpacked tuple of items[k]'s first value."""
    return sum(1 if code.endswith("s") else len(code) for _, code, _ in items[:k])


def _picker(indexes):
    from _operator import itemgetter
    if not indexes:
        return lambda t: ()
    if len(indexes) == 1:
        i = indexes[0]
        return lambda t: (t[i],)
    return itemgetter(*indexes)
