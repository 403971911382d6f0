# Python face of the compiled C decoder (module ipvs._ipvs_cdecoder, built by
# cffi from csrc/). Importing this module fails when it was not built.
#
# Rule: the same functions, signatures and results as _decode_py. The C code
# fills fixed-size records in a buffer we own; tuples are then made by
# struct.iter_unpack / zip, which run at C speed, because per-field access
# through cffi would cost more than the decoding itself.
from __future__ import annotations

import _socket
import _thread
import errno
import gc
import os
import _struct as struct  # the C module: struct.py is one more file to read
from _operator import itemgetter as _pick, methodcaller  # operator.py only re-exports them
from itertools import chain as _chain, repeat as _repeat

from . import _layout, _netlink as nl, _spec
from ._base import ERRORS, MAX_LINE, DecodeError
from ._ipvs_cdecoder import ffi, lib  # ImportError when not built
from ._records import CONN_FIELDS

_E_FULL = lib.IPVS_E_FULL
_E_OS = lib.IPVS_E_OS
_READS = {"u8": lib.IPVS_R_U8, "u16": lib.IPVS_R_U16, "be16": lib.IPVS_R_BE16,
          "u32": lib.IPVS_R_U32, "i32": lib.IPVS_R_I32, "u64": lib.IPVS_R_U64,
          "flags": lib.IPVS_R_FLAGS, "addr": lib.IPVS_R_ADDR, "string": lib.IPVS_R_STRING,
          "nest": lib.IPVS_R_NEST}
_OPS = {("u32", 4): lib.IPVS_OP_U32_4, ("i32", 4): lib.IPVS_OP_U32_4,
        ("u64", 8): lib.IPVS_OP_U64_8, ("u32", 8): lib.IPVS_OP_U32_8,
        ("u16", 2): lib.IPVS_OP_U16_2, ("be16", 2): lib.IPVS_OP_BE16_2,
        ("flags", 4): lib.IPVS_OP_FLAGS_4}


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


class RawRecords(list):
    """A buffer's service records, with .raw: the same records in C's
    layout, back to back (what C's line programs read)."""

    raw = b""


def _raise(rc):
    raise DecodeError(ERRORS.get(rc, "decoder error %d" % rc))


class _Tables:
    """The C engine's tables for compiled records ({name: _layout.Layout}):
    every record and sub-record, fields in check order. The cffi objects
    live as long as this, and the engine reads them on every call."""

    def __init__(self, layouts):
        recs = []  # Layouts, in records[] order
        for top in layouts.values():
            for sub in [top] + list(top.subs.values()):
                if sub.name not in [r.name for r in recs]:
                    recs.append(sub)
        where = {r.name: i for i, r in enumerate(recs)}
        nfields = sum(len(r.fields) for r in recs)
        self.fields = ffi.new("struct ipvs_field[]", nfields)
        self.records = ffi.new("struct ipvs_record[]", len(recs))
        k = 0
        for i, r in enumerate(recs):
            cr = self.records[i]
            cr.first, cr.count, cr.size = k, len(r.fields), r.size
            cr.max_attr, cr.nest = r.max_attr, r.nest_id or 0
            for f in r.fields:
                cf = self.fields[k]
                k += 1
                cf.attr, cf.read, cf.offset, cf.store = f.id, _READS[f.read], f.offset, f.store
                cf.size = _layout.READ_SIZE[f.read]
                cf.op = _OPS.get((f.read, f.store), lib.IPVS_OP_ANY)
                cf.flags = ((lib.IPVS_F_OPTIONAL if f.need == "optional" else 0)
                            | (lib.IPVS_F_ARG if f.need == "arg" else 0)
                            | (lib.IPVS_F_UNLESS if f.unless is not None else 0))
                cf.alt = f.unless if f.unless is not None else f.alt or 0
                if f.read == "nest":
                    cf.sub, cf.alt_sub = where[f.record], where[f.alt_record]
                elif type(f.default) is int:
                    cf.dflt = f.default
        self.spec = ffi.new("struct ipvs_spec *", {
            "fields": self.fields, "records": self.records,
            "nlmsg_noop": nl.NLMSG_NOOP, "nlmsg_error": nl.NLMSG_ERROR,
            "nlmsg_done": nl.NLMSG_DONE, "nlmsg_overrun": nl.NLMSG_OVERRUN,
            "nlm_f_dump_intr": nl.NLM_F_DUMP_INTR})
        self.where = where
        if lib.ipvs_check_spec(self.spec, len(recs), nfields):
            raise ValueError("the C decoder cannot run these record tables")


def _unpacker(layout):
    """(struct of the C record, function from its unpacked tuples to the
    records: each string field cut at its NUL and made str). Over columns:
    the tuples transposed, each string column mapped, transposed back, so
    no Python step is made per record."""
    strings = [f.index for f in layout.fields if f.read == "string"]
    rec = struct.Struct(layout.fmt)
    if not strings:
        return rec, list  # no strings to cut: the tuples are the records

    def tuples(it):
        cols = list(zip(*it))
        if not cols:
            return []
        for i in strings:
            cols[i] = map(_latin1, map(_cut_nul, cols[i]))
        return list(zip(*cols))
    return rec, tuples


_cut_nul = methodcaller("rstrip", b"\0")
_latin1 = methodcaller("decode", "latin-1")


def make_decoders(layouts):
    """(decode_services, decode_dests, run_dumps) for compiled records
    ({name: _layout.Layout}), run by the C engine on tables made from them."""
    tables = _Tables(layouts)

    def dumper(layout, keep_raw=False):
        rec, tuples = _unpacker(layout)
        index, min_msg, spec = tables.where[layout.name], layout.min_msg, tables.spec

        def dump(buf, seq, pid, arg):
            n = len(buf)
            count = ffi.new("size_t *")
            status = ffi.new("int *")
            error = ffi.new("int64_t *")
            cbuf = ffi.from_buffer("uint8_t[]", buf)
            for size in (min_msg, 24):
                cap = n // size + 1
                out = bytearray(cap * rec.size)
                rc = lib.ipvs_decode_dump(cbuf, n, seq, pid, spec, index, arg,
                                          ffi.from_buffer("uint8_t[]", out), cap,
                                          count, status, error)
                if rc != _E_FULL:
                    break
            if rc:
                _raise(rc)
            with _no_gc():
                recs = tuples(rec.iter_unpack(memoryview(out)[:count[0] * rec.size]))
            if keep_raw:
                recs = RawRecords(recs)
                recs.raw = bytes(memoryview(out)[:count[0] * rec.size])
            return recs, status[0], error[0]
        dump.tables = tables  # kept alive with the function
        return dump

    services, dests = dumper(layouts["service"], True), dumper(layouts["dest"])
    dest_rec, dest_tuples = _unpacker(layouts["dest"])
    dest_index = tables.where[layouts["dest"].name]

    def decode_dests(buf, seq, pid, svc_af):
        """One receive buffer of a GET_DEST dump -> (records, status, errno)."""
        return dests(buf, seq, pid, svc_af)

    def dump_all(fd, requests, pid, args):
        """Every dump of one channel by ipvs_run_dumps (called again for
        more room, and after a signal: Python runs its handler on the way
        round, which may raise) -> (records buffer, count, counts,
        statuses, errors)."""
        n = len(args)
        st = ffi.new("struct ipvs_dumps *")
        counts = ffi.new("uint32_t[]", n)
        statuses = ffi.new("int[]", n)
        errors = ffi.new("int64_t[]", n)
        cargs = ffi.new("uint64_t[]", list(args))
        rx = _raw("uint8_t[]", nl.RECV_CHUNK)
        creqs = ffi.from_buffer("uint8_t[]", requests)
        size = dest_rec.size
        cap = 4 * n + 64
        out = _raw("uint8_t[]", cap * size)
        while True:
            rc = lib.ipvs_run_dumps(fd, creqs, len(requests), n, cargs, pid, tables.spec,
                                    dest_index, rx, nl.RECV_CHUNK, out, cap, st,
                                    counts, statuses, errors)
            if rc == _E_OS and st.oserr == errno.EINTR:
                continue
            if rc == _E_FULL:  # one block for all: C renders from it
                bigger = _raw("uint8_t[]", 2 * cap * size)
                ffi.memmove(bigger, out, st.count * size)
                out, cap = bigger, 2 * cap
                continue
            if rc == _E_OS:
                raise OSError(st.oserr, os.strerror(st.oserr))
            if rc:
                _raise(rc)
            return out, st.count, list(counts), list(statuses), list(errors)

    def beside(fd, requests, pid, args):
        """dump_all in a thread of its own (the GIL is released in C) ->
        f(): waits for it, then (True, its result) or (False, what it
        raised)."""
        done, box = _thread.allocate_lock(), []
        done.acquire()

        def work():
            try:
                box.append((True, dump_all(fd, requests, pid, args)))
            except BaseException as e:  # handed to the caller
                box.append((False, e))
            finally:
                done.release()
        _thread.start_new_thread(work, ())

        def wait():
            with done:
                return box[0]
        return wait

    def run_dumps(sock, requests, pid, args, lines=None, more=(), counts=None):
        """_decode_py.run_dumps of GET_DEST requests, every dump run by one
        C call (or a few: it returns for more room or a signal), the GIL
        released; with lines, C writes the listing from the raw records.
        more: the other channels, each run by a thread of its own beside
        this one. A socket-like object that is not a real socket (a test's
        fake kernel) goes through the twin's loop with this decoder.
        counts: a list, given, that each dump's number of records is
        appended to."""
        if not isinstance(sock, _socket.socket) or any(
                not isinstance(m[0], _socket.socket) for m in more):
            from . import _decode_py  # (the twin, loaded only for this)
            return _decode_py.run_dumps(sock, requests, pid, args, lines, decode_dests, more,
                                        counts)
        bounds = [m[3] for m in more] + [len(args)]
        waits = [beside(m[0].fileno(), m[1], m[2], args[a:b])
                 for m, a, b in zip(more, bounds, bounds[1:])]
        try:
            parts = [dump_all(sock.fileno(), requests, pid, args[:bounds[0]])]
        finally:  # never leave a thread on a socket: wait for every one
            others = [wait() for wait in waits]
        for ok, value in others:
            if not ok:
                raise value
            parts.append(value)
        size = dest_rec.size
        if len(parts) == 1:
            out, total, counts_of, statuses, errors = parts[0]
        else:
            total = sum(p[1] for p in parts)
            out = _raw("uint8_t[]", max(total, 1) * size)
            at, counts_of, statuses, errors = 0, [], [], []
            for buf, k, c, s, e in parts:
                ffi.memmove(out + at * size, buf, k * size)
                at += k
                counts_of += c
                statuses += s
                errors += e
        if counts is not None:
            counts.extend(counts_of)
        if lines is not None:
            from ._lines_c import render_chunks
            made: dict = {}
            n = len(args)
            return [render_chunks(one, out, total, counts_of, n, made) for one in lines], \
                statuses, errors
        with _no_gc():
            recs = dest_tuples(dest_rec.iter_unpack(ffi.buffer(out, total * size)))
            out_recs, p = [], 0
            for c in counts_of:
                out_recs.append(recs[p:p + c])
                p += c
        return out_recs, statuses, errors

    decode_dests.tables = tables
    run_dumps.tables = tables

    def decode_services(buf, seq, pid):
        """One receive buffer of a GET_SERVICE reply -> (records, status,
        errno); the records a RawRecords."""
        return services(buf, seq, pid, 0)

    return decode_services, decode_dests, run_dumps


decode_services, decode_dests, run_dumps = make_decoders(_spec.LAYOUTS)


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
# C's columns (ipvs_decoder.h), by record field: the records are made in
# the order _records declares
_STRING_COLUMNS = ("protocol", "caddr", "vaddr", "daddr", "state", "pe_name", "pe_data")
_NUMBER_COLUMNS = ("af", "cport", "vport", "dport", "expires")
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
            columns = dict(zip(_STRING_COLUMNS, s))
            for i, name in enumerate(_NUMBER_COLUMNS):
                columns[name] = m[i * cap:i * cap + k].tolist()
            batches.append(zip(*[columns[name] for name in CONN_FIELDS]))
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
