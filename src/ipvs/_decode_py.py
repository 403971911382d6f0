# Pure-Python twin of the C dump decoder (csrc/ipvs_decoder.c).
#
# Rule: the same signatures and the same results as the C module, record for
# record; bad bytes raise DecodeError and nothing else. The records are flat
# tuples (layouts in _records.py) so both twins can build them cheaply.
from __future__ import annotations

import struct

from ._base import DecodeError

_HDR = struct.Struct("=IHHII")
_NLA = struct.Struct("=HH")
_U8 = struct.Struct("=B").unpack_from
_U16 = struct.Struct("=H").unpack_from
_BE16 = struct.Struct("!H").unpack_from
_U32 = struct.Struct("=I").unpack_from
_U64 = struct.Struct("=Q").unpack_from
_I32 = struct.Struct("=i").unpack_from
_FLAGS = struct.Struct("=II").unpack_from

NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN = 1, 2, 3, 4
NLM_F_DUMP_INTR = 0x10
_TYPE_MASK = 0x3FFF

# status bits returned next to the records
DONE = 1
INTERRUPTED = 2

_ZERO16 = bytes(16)


def _attrs(buf, pos, end):
    """{type: (start, end)} of the attributes in buf[pos:end]."""
    out = {}
    while pos + 4 <= end:
        alen, atype = _NLA.unpack_from(buf, pos)
        if alen < 4 or pos + alen > end:
            raise DecodeError("bad attribute length")
        out[atype & _TYPE_MASK] = (pos + 4, pos + alen)
        pos += (alen + 3) & ~3
    return out


def _need(a, key, size):
    try:
        s, e = a[key]
    except KeyError:
        raise DecodeError("missing attribute %d" % key) from None
    if e - s < size:
        raise DecodeError("attribute %d too short" % key)
    return s


def _stats(buf, a, key32, key64):
    """Ten counters, preferring the 64-bit nest when the kernel sends it."""
    if key64 in a:
        s, e = a[key64]
        width = 8
    elif key32 in a:
        s, e = a[key32]
        width = 0
    else:
        return (0,) * 10
    st = _attrs(buf, s, e)
    out = []
    for i in range(1, 11):
        if width == 8 or i in (4, 5):
            p = _need(st, i, 8)
            out.append(_U64(buf, p)[0])
        else:
            p = _need(st, i, 4)
            out.append(_U32(buf, p)[0])
    return tuple(out)


def _addr(buf, a, key):
    s, e = a.get(key, (0, 0))
    if e - s < 4:
        raise DecodeError("address attribute too short")
    raw = bytes(buf[s:min(e, s + 16)])
    return raw + _ZERO16[len(raw):]


def _service(buf, s, e):
    a = _attrs(buf, s, e)
    af = _U16(buf, _need(a, 1, 2))[0]
    if 5 in a:
        fwmark = _U32(buf, _need(a, 5, 4))[0]
        protocol, addr, port = 0, _ZERO16, 0
    else:
        fwmark = 0
        protocol = _U16(buf, _need(a, 2, 2))[0]
        addr = _addr(buf, a, 3)
        port = _BE16(buf, _need(a, 4, 2))[0]
    sched = _string(buf, a, 6, True)
    flags, mask = _FLAGS(buf, _need(a, 7, 8))
    timeout = _U32(buf, _need(a, 8, 4))[0]
    netmask = _U32(buf, _need(a, 9, 4))[0]
    pe = _string(buf, a, 11, False)
    return (af, protocol, addr, port, fwmark, sched, flags & mask, timeout, netmask, pe) + \
        _stats(buf, a, 10, 12)


def _string(buf, a, key, required):
    if key not in a:
        if required:
            raise DecodeError("missing attribute %d" % key)
        return ""
    s, e = a[key]
    raw = bytes(buf[s:e])
    n = raw.find(b"\0")
    if n >= 0:
        raw = raw[:n]
    return raw.decode("latin-1")


def _dest(buf, s, e, svc_af):
    a = _attrs(buf, s, e)
    addr = _addr(buf, a, 1)
    port = _BE16(buf, _need(a, 2, 2))[0]
    fwd = _U32(buf, _need(a, 3, 4))[0]
    weight = _I32(buf, _need(a, 4, 4))[0]
    uth = _U32(buf, _need(a, 5, 4))[0]
    lth = _U32(buf, _need(a, 6, 4))[0]
    act = _U32(buf, _need(a, 7, 4))[0]
    inact = _U32(buf, _need(a, 8, 4))[0]
    pers = _U32(buf, _need(a, 9, 4))[0]
    af = _U16(buf, _need(a, 11, 2))[0] if 11 in a else svc_af
    tun_type = _U8(buf, _need(a, 13, 1))[0] if 13 in a else 0
    tun_port = _BE16(buf, _need(a, 14, 2))[0] if 14 in a else 0
    tun_flags = _U16(buf, _need(a, 15, 2))[0] if 15 in a else 0
    return (addr, port, fwd, weight, uth, lth, act, inact, pers, af,
            tun_type, tun_port, tun_flags) + _stats(buf, a, 10, 12)


def _walk(buf, seq, pid, nest_type, parse, arg):
    """Shared message loop: returns (records, status, error)."""
    records = []
    status = 0
    error = 0
    pos = 0
    end = len(buf)
    while pos + 16 <= end:
        mlen, mtype, mflags, mseq, mpid = _HDR.unpack_from(buf, pos)
        if mlen < 16 or pos + mlen > end:
            raise DecodeError("bad message length")
        if status & DONE:
            raise DecodeError("data after the end of the reply")
        if mseq != seq or (pid and mpid != pid):
            raise DecodeError("reply out of sequence")
        if mflags & NLM_F_DUMP_INTR:
            status |= INTERRUPTED
        body = pos + 16
        mend = pos + mlen
        if mtype == NLMSG_DONE or mtype == NLMSG_ERROR:
            if mend - body < 4:
                raise DecodeError("short error message")
            error = -_I32(buf, body)[0]
            status |= DONE
        elif mtype == NLMSG_OVERRUN:
            raise DecodeError("overrun")
        elif mtype != NLMSG_NOOP:
            if mend - body < 4:
                raise DecodeError("short generic netlink header")
            top = _attrs(buf, body + 4, mend)
            if nest_type not in top:
                raise DecodeError("reply without the expected nest")
            s, e = top[nest_type]
            records.append(parse(buf, s, e, arg) if arg is not None else parse(buf, s, e))
        pos += (mlen + 3) & ~3
    if pos < end:
        raise DecodeError("trailing bytes")
    return records, status, error


def decode_services(buf, seq, pid):
    """One receive buffer of a GET_SERVICE reply -> (records, status, errno)."""
    return _walk(buf, seq, pid, 1, _service, None)


def decode_dests(buf, seq, pid, svc_af):
    """One receive buffer of a GET_DEST dump -> (records, status, errno)."""
    return _walk(buf, seq, pid, 2, _dest, svc_af)
