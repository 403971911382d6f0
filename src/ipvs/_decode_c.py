# Python face of the compiled C decoder (module ipvs._ipvs_cdecoder, built by
# cffi from csrc/). Importing this module fails when it was not built.
#
# Rule: the same functions, signatures and results as _decode_py. The C code
# fills fixed-size records in a buffer we own; tuples are then made by
# struct.iter_unpack / zip, which run at C speed, because per-field access
# through cffi would cost more than the decoding itself.
from __future__ import annotations

import gc
import struct
from _operator import itemgetter as _pick  # operator.py only re-exports it
from itertools import chain as _chain, repeat as _repeat

from ._base import DecodeError
from ._decode_py import ERRORS, MAX_LINE
from ._ipvs_cdecoder import ffi, lib  # ImportError when not built

_SVC = struct.Struct("=HH16sH2xI16sIII16s10Q")
_DEST = struct.Struct("=16sH2xIiIIIIIHBxHH10Q")
assert _SVC.size == ffi.sizeof("struct ipvs_service_rec")
assert _DEST.size == ffi.sizeof("struct ipvs_dest_rec")

# Smallest wire size of a message that yields a record (header, genl header
# and the required attributes), so len // size + 1 records always fit. If
# the estimate were ever wrong, C says IPVS_E_FULL and we retry with the
# bound every message must meet (24 bytes).
_MIN_SVC_MSG = 64
_MIN_DEST_MSG = 88
_E_FULL = lib.IPVS_E_FULL


class _no_gc:
    """Build a batch of record tuples with the cyclic GC paused: they hold
    only str/int/bytes, so they cannot form cycles, and thousands of new
    tuples would otherwise set off repeated collections that cost more
    than the decoding (measured: 3x, when the connection records were
    made the same way)."""

    def __enter__(self):
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            gc.enable()


def _raise(rc):
    raise DecodeError(ERRORS.get(rc, "decoder error %d" % rc))


def _dump(fn, rec, ctype, buf, seq, pid, args, min_msg):
    n = len(buf)
    count = ffi.new("size_t *")
    status = ffi.new("int *")
    error = ffi.new("int64_t *")
    cbuf = ffi.from_buffer("uint8_t[]", buf)
    for size in (min_msg, 24):
        cap = n // size + 1
        out = bytearray(cap * rec.size)
        rc = fn(cbuf, n, seq, pid, *args,
                ffi.from_buffer(ctype, out), cap, count, status, error)
        if rc != _E_FULL:
            break
    if rc:
        _raise(rc)
    return out, count[0], status[0], error[0]


def decode_services(buf, seq, pid):
    """One receive buffer of a GET_SERVICE reply -> (records, status, errno)."""
    out, n, status, error = _dump(lib.ipvs_decode_services, _SVC, "struct ipvs_service_rec[]",
                                  buf, seq, pid, (), _MIN_SVC_MSG)
    with _no_gc():
        recs = [r[:5] + (r[5].rstrip(b"\0").decode("latin-1"),) + r[6:9]
                + (r[9].rstrip(b"\0").decode("latin-1"),) + r[10:]
                for r in _SVC.iter_unpack(memoryview(out)[:n * _SVC.size])]
    return recs, status, error


def decode_dests(buf, seq, pid, svc_af):
    """One receive buffer of a GET_DEST dump -> (records, status, errno)."""
    out, n, status, error = _dump(lib.ipvs_decode_dests, _DEST, "struct ipvs_dest_rec[]",
                                  buf, seq, pid, (svc_af,), _MIN_DEST_MSG)
    with _no_gc():
        recs = list(_DEST.iter_unpack(memoryview(out)[:n * _DEST.size]))
    return recs, status, error


# Output memory for the connection decoder is not cleared: C writes every
# byte that is read back, and clearing ~1 MB per call was measurable.
_raw = ffi.new_allocator(should_clear_after_alloc=False)
_ADDR_ROOM = 46  # longest inet_ntop text and its '\n'
_LINE_GUESS = 64  # kernel lines are 67 bytes or more; shorter ones take another call
# Input per C call: the output space asked for is about six times the input
# (most of it never touched), so a caller decoding a whole 100 MB table in
# one go must not turn into one 600 MB allocation.
_SLICE = 1 << 20
# Columns given a dictionary (C's bit k is string column k): protocol,
# virtual and real address, state, PE name; the client address and the PE
# data are mostly distinct.
_DICTS = 1 << 0 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 5
# which of the string columns hold addresses (caddr, vaddr, daddr)
_ADDR_COLUMNS = (False, True, True, True, False, False, False)


def _next_slice(total, pos):
    """(length, last) of the input C is given next: at most _SLICE bytes
    (C stops at the slice's last complete line; the next call starts
    there)."""
    left = total - pos
    return (left, True) if left <= _SLICE else (_SLICE, False)


def decode_conns(chunk, final):
    """Complete lines of a /proc/net/ip_vs_conn chunk -> (records, consumed).

    C writes the records column by column: each string column is one text
    (or, for a column with few distinct values, those values and a byte
    index a record), each number column one array. Every str and int is
    made here, at C speed (str.split(), itemgetter, memoryview.tolist()),
    and a repeated value is one shared object. The records are a zip over
    those columns: each tuple is made as it is taken, and a consumer that
    lets go of one before taking the next gets the same tuple object
    refilled (zip does that only when nothing else holds it)."""
    total = len(chunk)
    src = ffi.from_buffer("uint8_t[]", chunk)
    count = ffi.new("size_t *")
    consumed = ffi.new("size_t *")
    full = ffi.new("unsigned *")
    dicts = _DICTS
    batches = []
    pos = 0
    while True:
        left, last = _next_slice(total, pos)
        cap = left // _LINE_GUESS + 16
        # each string column's region: the bound ipvs_decoder.h gives
        bounds = []
        scap = 0
        for is_addr in _ADDR_COLUMNS:
            start = scap
            scap += _ADDR_ROOM * cap if is_addr else left + cap
            bounds += (start, scap)
        col = ffi.new("size_t[14]", bounds)
        sout = _raw("uint8_t[]", scap)
        iout = _raw("uint8_t[]", 7 * cap)
        nout = _raw("uint64_t[]", 5 * cap)
        rc = lib.ipvs_decode_conns(src + pos, left, 1 if final and last else 0, sout, scap,
                                   col, dicts, iout, full, nout, cap, count, consumed)
        if rc:
            _raise(rc)
        k = count[0]
        pos += consumed[0]
        if k:
            text = memoryview(ffi.buffer(sout))
            index = ffi.buffer(iout)
            s = []
            for i in range(7):
                items = str(text[col[2 * i]:col[2 * i + 1] - 1], "latin-1").split("\n")
                if dicts >> i & 1:
                    if len(items) == 1:  # one value throughout: nothing to pick
                        items = _repeat(items[0], k)
                    else:
                        items = _pick(*index[i * cap:i * cap + k])(items)
                s.append(items)
            m = memoryview(ffi.buffer(nout)).cast("Q")
            batches.append(zip(s[0], m[:k].tolist(), s[1], m[cap:cap + k].tolist(), s[2],
                               m[2 * cap:2 * cap + k].tolist(), s[3],
                               m[3 * cap:3 * cap + k].tolist(), s[4],
                               m[4 * cap:4 * cap + k].tolist(), s[5], s[6]))
        if pos >= total or (last and k < cap and not full[0]) or not consumed[0]:
            break  # (nothing consumed, no error: cannot happen, but never spin)
        dicts &= ~full[0]  # too many values: the rest of the chunk without it
    if len(batches) == 1:
        return batches[0], pos
    return _chain(*batches), pos


_RENDER_ROOM = lib.IPVS_RENDER_ROOM


def render_conns_numeric(chunk, final):
    """Complete lines of a /proc/net/ip_vs_conn chunk -> (the `ipvsadm
    -Lnc` lines of their connections as bytes, consumed).

    C parses each line (with the column decoder's parser) and writes its
    output line, so no Python object is made per connection. Input goes
    to C in slices of at most _SLICE bytes, each with an output buffer of
    twice its size (kernel lines come out at most about 1.3 times as
    long); C stops before a line that might not fit and is called again."""
    total = len(chunk)
    src = ffi.from_buffer("uint8_t[]", chunk)
    written = ffi.new("size_t *")
    full = ffi.new("int *")
    consumed = ffi.new("size_t *")
    pieces = []
    pos = 0
    while True:
        left, last = _next_slice(total, pos)
        cap = 2 * left + MAX_LINE + _RENDER_ROOM
        out = _raw("uint8_t[]", cap)
        rc = lib.ipvs_render_conns_numeric(src + pos, left, 1 if final and last else 0,
                                           out, cap, written, full, consumed)
        if rc:
            _raise(rc)
        if written[0]:
            pieces.append(ffi.buffer(out, written[0])[:])
        pos += consumed[0]
        if pos >= total or (last and not full[0]) or not consumed[0]:
            break  # (nothing consumed, no error: cannot happen, but never spin)
    if len(pieces) == 1:
        return pieces[0], pos
    return b"".join(pieces), pos
