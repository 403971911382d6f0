# Pure-Python twin of the C decoder (csrc/ipvs_decoder.c).
#
# Rule: the same signatures and the same results as the C module, record for
# record, and the same checks in the same order, so bad bytes give the same
# DecodeError (same message) from both. Nothing else is ever raised.
#
# Records are flat tuples:
#   service: (af, protocol, addr16, port, fwmark, sched_name, flags & mask,
#             timeout, netmask (u32 as read, host order), pe_name, *10 stats)
#   dest:    (addr16, port, fwd_method, weight (signed), u_thresh, l_thresh,
#             active, inactive, persist, af, tun_type, tun_port, tun_flags,
#             *10 stats)
#   conn:    (protocol, af, caddr, cport, vaddr, vport, daddr, dport, state,
#             expires, pe_name, pe_data)  -- the fields of model.Connection
# The dump functions return (records, status, errno); the connection
# decoder returns (records, consumed), its -Lnc renderer (text, consumed).
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import struct

from ._base import DecodeError
from ._conntext import numeric_lines

_HDR = struct.Struct("=IHHII").unpack_from
_NLA = struct.Struct("=HH").unpack_from
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

# The C module returns these codes; both twins raise DecodeError(ERRORS[code]).
ERRORS = {
    1: "bad message length",
    2: "data after the end of the reply",
    3: "reply out of sequence",
    4: "short error message",
    5: "overrun",
    6: "short generic netlink header",
    7: "reply without the expected nest",
    8: "trailing bytes",
    9: "bad attribute length",
    10: "missing attribute",
    11: "attribute too short",
    12: "address attribute too short",
    13: "name longer than 15 bytes",
    14: "connection line longer than 4096 bytes",
    15: "short connection line",
    16: "bad field in connection line",
}
E_MSG_LEN, E_AFTER_DONE, E_SEQ, E_SHORT_ERROR, E_OVERRUN, E_SHORT_GENL, E_NO_NEST, \
    E_TRAILING, E_ATTR_LEN, E_MISSING, E_SHORT_ATTR, E_SHORT_ADDR, E_LONG_STRING, \
    E_LINE_LONG, E_CONN_SHORT, E_CONN_FIELD = range(1, 17)

MAX_LINE = 4096

_ZERO16 = bytes(16)
_NOSTATS = (0,) * 10


def _fail(code):
    raise DecodeError(ERRORS[code])


def _attrs(buf, pos, end):
    """{type: (start, end)} of the attributes in buf[pos:end]; the last of
    a type wins; 1..3 bytes after the last attribute are ignored."""
    out = {}
    while pos + 4 <= end:
        alen, atype = _NLA(buf, pos)
        if alen < 4 or pos + alen > end:
            _fail(E_ATTR_LEN)
        out[atype & _TYPE_MASK] = (pos + 4, pos + alen)
        pos += (alen + 3) & ~3
    return out


def _need(a, key, size):
    span = a.get(key)
    if span is None:
        _fail(E_MISSING)
    s, e = span
    if e - s < size:
        _fail(E_SHORT_ATTR)
    return s


def _stats(buf, a, key32, key64):
    """Ten counters, preferring the 64-bit nest when the kernel sends it."""
    span = a.get(key64)
    wide = span is not None
    if not wide:
        span = a.get(key32)
        if span is None:
            return _NOSTATS
    st = _attrs(buf, span[0], span[1])
    if wide:
        return tuple([_U64(buf, _need(st, i, 8))[0] for i in range(1, 11)])
    return tuple([_U64(buf, _need(st, i, 8))[0] if i == 4 or i == 5
                  else _U32(buf, _need(st, i, 4))[0] for i in range(1, 11)])


def _addr(buf, a, key):
    s, e = a.get(key, (0, 0))
    if e - s < 4:
        _fail(E_SHORT_ADDR)
    raw = bytes(buf[s:min(e, s + 16)])
    return raw + _ZERO16[len(raw):]


def _string(buf, a, key, required):
    """Payload up to its first NUL (IPVS names: at most 15 bytes)."""
    span = a.get(key)
    if span is None:
        if required:
            _fail(E_MISSING)
        return ""
    raw = bytes(buf[span[0]:span[1]])
    n = raw.find(b"\0")
    if n >= 0:
        raw = raw[:n]
    if len(raw) > 15:
        _fail(E_LONG_STRING)
    return raw.decode("latin-1")


def _service(buf, s, e, _arg):
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
    tun_type = buf[_need(a, 13, 1)] if 13 in a else 0
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
        mlen, mtype, mflags, mseq, mpid = _HDR(buf, pos)
        if mlen < 16 or pos + mlen > end:
            _fail(E_MSG_LEN)
        if status & DONE:
            _fail(E_AFTER_DONE)
        if mseq != seq or (pid and mpid != pid):
            _fail(E_SEQ)
        if mflags & NLM_F_DUMP_INTR:
            status |= INTERRUPTED
        body = pos + 16
        mend = pos + mlen
        if mtype == NLMSG_DONE or mtype == NLMSG_ERROR:
            if mend - body < 4:
                _fail(E_SHORT_ERROR)
            error = -_I32(buf, body)[0]
            status |= DONE
        elif mtype == NLMSG_OVERRUN:
            _fail(E_OVERRUN)
        elif mtype != NLMSG_NOOP:
            if mend - body < 4:
                _fail(E_SHORT_GENL)
            span = _attrs(buf, body + 4, mend).get(nest_type)
            if span is None:
                _fail(E_NO_NEST)
            records.append(parse(buf, span[0], span[1], arg))
        pos += (mlen + 3) & ~3
    if pos < end:
        _fail(E_TRAILING)
    return records, status, error


def decode_services(buf, seq, pid):
    """One receive buffer of a GET_SERVICE reply -> (records, status, errno)."""
    return _walk(buf, seq, pid, 1, _service, None)


def decode_dests(buf, seq, pid, svc_af):
    """One receive buffer of a GET_DEST dump -> (records, status, errno)."""
    return _walk(buf, seq, pid, 2, _dest, svc_af)


# ------------------------------------------------------ /proc/net/ip_vs_conn
#
# Line format (net/netfilter/ipvs/ip_vs_conn.c, ip_vs_conn_seq_show):
#   "%-3s %08X %04X %08X %04X %s %04X %-11s %7lu%s\n" for IPv4, %pI6 for
#   IPv6 addresses (the destination has its own family), and the optional
#   " <pe name> <pe data>" at the end. The header line starts with "Pro".

_HEX = b"0123456789abcdefABCDEF"
_AF_INET = int(socket.AF_INET)
_AF_INET6 = int(socket.AF_INET6)
_ntop = socket.inet_ntop
_pton = socket.inet_pton


def _conn_addr(tok):
    """(family, inet_ntop text) of an address token, or None."""
    if b":" in tok:
        if len(tok) >= 64 or b"\0" in tok:
            return None
        try:
            return _AF_INET6, _ntop(_AF_INET6, _pton(_AF_INET6, tok.decode("latin-1")))
        except (OSError, ValueError, UnicodeError):
            return None
    if len(tok) != 8 or tok.strip(_HEX):
        return None
    return _AF_INET, _ntop(_AF_INET, bytes.fromhex(tok.decode("ascii")))


def _conn_port(tok):
    if not 1 <= len(tok) <= 4 or tok.strip(_HEX):
        return None
    return int(tok, 16)


def _conn_line(line):
    """One line without its newline -> record, or None (blank or header)."""
    if len(line) > MAX_LINE:
        _fail(E_LINE_LONG)
    f = line.split(None, 10)
    if not f or f[0] == b"Pro":
        return None
    if len(f) < 9:
        _fail(E_CONN_SHORT)
    c = _conn_addr(f[1])
    cport = _conn_port(f[2])
    if c is None or cport is None:
        _fail(E_CONN_FIELD)
    v = _conn_addr(f[3])
    vport = _conn_port(f[4])
    if v is None or v[0] != c[0] or vport is None:
        _fail(E_CONN_FIELD)
    d = _conn_addr(f[5])
    dport = _conn_port(f[6])
    if d is None or dport is None:
        _fail(E_CONN_FIELD)
    exp = f[8]
    if not 1 <= len(exp) <= 20 or not exp.isdigit():
        _fail(E_CONN_FIELD)
    expires = int(exp)
    if expires >= 1 << 64:
        _fail(E_CONN_FIELD)
    n = len(f)
    return (f[0].decode("latin-1"), c[0], c[1], cport, v[1], vport, d[1], dport,
            f[7].decode("latin-1"), expires,
            f[9].decode("latin-1") if n > 9 else "",
            f[10].rstrip().decode("latin-1") if n > 10 else "")


def decode_conns(chunk, final):
    """Complete lines of a /proc/net/ip_vs_conn chunk -> (records, consumed).

    consumed is the offset after the last complete line; the caller keeps
    the rest for the next call. With final=True a last line without a
    newline is decoded too. A pending partial line longer than MAX_LINE is
    an error, so a caller never buffers more than that."""
    records = []
    append = records.append
    end = len(chunk)
    last = chunk.rfind(b"\n") + 1 if not final else end
    if not final and end - last > MAX_LINE:
        # the lines before it are checked first, as the C decoder does
        for line in chunk[:last].split(b"\n")[:-1]:
            _conn_line(line)
        _fail(E_LINE_LONG)
    if last == 0:
        return iter(records), 0
    body = bytes(chunk[:last])
    lines = body.split(b"\n")
    if body.endswith(b"\n"):
        lines.pop()
    for line in lines:
        r = _conn_line(line)
        if r is not None:
            append(r)
    return iter(records), last  # an iterator, as C's: callers must not len() it


def render_conns_numeric(chunk, final):
    """Complete lines of a /proc/net/ip_vs_conn chunk -> (the `ipvsadm
    -Lnc` lines of their connections as bytes, consumed).

    Takes the lines decode_conns takes and fails where it fails; the text
    is _conntext.numeric_lines' (tokens are latin-1, so each input byte of
    the protocol and state comes out as itself)."""
    records, used = decode_conns(chunk, final)
    return numeric_lines(records).encode("latin-1"), used
