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

from ._base import DecodeError
from ._decode_py import ERRORS
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
    than the decoding (measured: 3x on the connection table)."""

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


# Each record's strings take at most its line plus the growth of three
# addresses (8 hex digits -> up to 15, IPv6 -> at most 45) and 7 separators.
_PER_LINE = 3 * 46 + 8


def decode_conns(chunk, final):
    """Complete lines of a /proc/net/ip_vs_conn chunk -> (records, consumed)."""
    n = len(chunk)
    lines = chunk.count(b"\n") + 1
    sout = bytearray(n + lines * _PER_LINE)
    nout = bytearray(lines * 5 * 8)
    sused = ffi.new("size_t *")
    count = ffi.new("size_t *")
    consumed = ffi.new("size_t *")
    rc = lib.ipvs_decode_conns(ffi.from_buffer("uint8_t[]", chunk), n, 1 if final else 0,
                               ffi.from_buffer("uint8_t[]", sout), len(sout), sused,
                               ffi.from_buffer("uint64_t[]", nout), lines, count, consumed)
    if rc:
        _raise(rc)
    k = count[0]
    if not k:
        return [], consumed[0]
    s = str(memoryview(sout)[:sused[0]], "latin-1").split("\n")
    m = memoryview(nout).cast("Q")
    e = 5 * k
    with _no_gc():
        recs = list(zip(s[0::7], m[0:e:5].tolist(), s[1::7], m[1:e:5].tolist(),
                        s[2::7], m[2:e:5].tolist(), s[3::7], m[3:e:5].tolist(),
                        s[4::7], m[4:e:5].tolist(), s[5::7], s[6::7]))
    return recs, consumed[0]
