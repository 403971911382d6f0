# Pure-Python twin of the C decoder (csrc/: ipvs_decoder.c and the ipvs_conn* files).
#
# Rule: the same signatures and the same results as the C module, record for
# record, and the same checks in the same order, so bad bytes give the same
# DecodeError (same message) from both. Nothing else is ever raised.
#
# Records are flat tuples, declared in _records (service, dest: read by
# functions generated here from the compiled spec, _spec.LAYOUTS; conn:
# CONN_FIELDS); consumers index them by name (_records.SVC.port).
# The dump functions return (records, status, errno); the connection
# decoder returns (records, consumed), its -Lnc renderer (text, consumed).
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import _struct as struct  # the C module: struct.py is one more file to read

from . import _layout, _netlink as nl, _spec
from ._netlink import NLMSG_DONE, NLMSG_ERROR
from ._base import (DONE, E_AFTER_DONE, E_BIG, E_ATTR_LEN, E_CONN_FIELD, E_CONN_SHORT,  # noqa: F401
                    E_LINE_LONG, E_LONG_STRING, E_MISSING, E_MSG_LEN, E_NO_NEST, E_OVERRUN,
                    E_PROC_LAYOUT, E_SEQ, E_SHORT_ADDR, E_SHORT_ATTR, E_SHORT_ERROR,
                    E_SHORT_GENL, E_TRAILING, ERRORS, INTERRUPTED, MAX_LINE, DecodeError,
                    fail as _fail)
from ._conntext import numeric_lines

_NLA = struct.Struct("=HH").unpack_from
_U16 = struct.Struct("=H").unpack_from
_BE16 = struct.Struct("!H").unpack_from
_U32 = struct.Struct("=I").unpack_from
_U64 = struct.Struct("=Q").unpack_from
_I32 = struct.Struct("=i").unpack_from
_FLAGS = struct.Struct("=II").unpack_from
_HDR = nl.NLMSG_HDR.unpack_from

_TYPE_MASK = 0x3FFF

_ZERO16 = bytes(16)


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
    return _name(bytes(buf[span[0]:span[1]]))


def _name(raw):
    """A name's payload up to its first NUL (at most 15 bytes), as text
    (also _shapes' reads)."""
    n = raw.find(b"\0")
    if n >= 0:
        raw = raw[:n]
    if len(raw) > 15:
        _fail(E_LONG_STRING)
    return raw.decode("latin-1")


def _missing():
    _fail(E_MISSING)


def _flags(buf, pos):
    flags, mask = _FLAGS(buf, pos)
    return flags & mask


# how the generated code reads each kind of field: an expression of the
# attribute's start p (checked by _need); addr and string check themselves
_READ = {"u8": "buf[%s]", "u16": "_U16(buf, %s)[0]", "be16": "_BE16(buf, %s)[0]",
         "u32": "_U32(buf, %s)[0]", "i32": "_I32(buf, %s)[0]", "u64": "_U64(buf, %s)[0]",
         "flags": "_flags(buf, %s)"}


def _field_code(f, v, size):
    """Lines that set variable v to field f of the attributes in `a`."""
    if f.read == "addr":
        read = "_addr(buf, a, %d)" % f.id
    elif f.read == "string":
        read = "_string(buf, a, %d, %s)" % (f.id, f.need == "required")
    elif f.read == "nest":
        read = "_r_%s(buf, a[%d]) if %d in a else _r_%s(buf, a[%d]) if %d in a else %s" % (
            f.record, f.id, f.id, f.alt_record, f.alt, f.alt,
            repr((0,) * size) if f.need == "optional" else "_missing()")
    else:
        read = _READ[f.read] % ("_need(a, %d, %d)" % (f.id, _layout.READ_SIZE[f.read]))
    default = "arg" if f.need == "arg" else repr(
        _ZERO16 if f.read == "addr" else f.default)
    if f.need in ("optional", "arg") and f.read not in ("string", "nest"):
        read = "%s if %d in a else %s" % (read, f.id, default)
    if f.unless is not None:
        return ["if %d in a:" % f.unless, "    %s = %s" % (v, default),
                "else:", "    %s = %s" % (v, read)]
    return ["%s = %s" % (v, read)]


def _record_code(layout, top):
    """Source of the function that makes a layout's tuple from its nest."""
    args = "buf, s, e, arg" if top else "buf, span"
    lines = ["def _r_%s(%s):" % (layout.name, args),
             "    a = _attrs(buf, s, e)" if top else "    a = _attrs(buf, span[0], span[1])"]
    parts = {}
    for f in layout.fields:
        size = layout.subs[f.record].index._width if f.read == "nest" else 1
        v = "v%d" % f.index
        lines += ["    " + line for line in _field_code(f, v, size)]
        parts[f.index] = (v, f.read == "nest")
    out, group = [], []
    for i in sorted(parts):
        v, flat = parts[i]
        if flat:
            if group:
                out.append("(%s,)" % ", ".join(group))
                group = []
            out.append(v)
        else:
            group.append(v)
    if group:
        out.append("(%s,)" % ", ".join(group))
    lines.append("    return " + " + ".join(out))
    return "\n".join(lines) + "\n"


def _walk(buf, seq, pid, nest_type, parse, arg):
    """Every dump's message loop (nl.Reply checks) -> (records, status, error)."""
    if len(buf) == 20:  # a dump's usual last buffer: its NLMSG_DONE alone (as Reply reads it)
        mlen, mtype, mflags, mseq, mpid = _HDR(buf, 0)
        if mlen == 20 and mtype == NLMSG_DONE and mseq == seq and (not pid or mpid == pid):
            return [], DONE | (INTERRUPTED if mflags & nl.NLM_F_DUMP_INTR else 0), \
                -_I32(buf, 16)[0]
    records = []
    reply = nl.Reply(seq, pid)
    for mtype, _, body, mend in reply.messages(buf):
        if mtype == NLMSG_DONE or mtype == NLMSG_ERROR:
            continue
        if mend - body < 4:
            _fail(E_SHORT_GENL)
        # the usual body: the nest alone, to the message's end (_attrs' span)
        alen, atype = _NLA(buf, body + 4) if mend - body >= 8 else (0, 0)
        span = (body + 8, mend) if alen >= 4 and body + 4 + alen == mend and \
            atype & _TYPE_MASK == nest_type else _attrs(buf, body + 4, mend).get(nest_type)
        if span is None:
            _fail(E_NO_NEST)
        records.append(parse(buf, span[0], span[1], arg))
    return records, (DONE if reply.done else 0) | (INTERRUPTED if reply.interrupted else 0), \
        reply.error


def make_decoders(layouts):
    """(decode_services, decode_dests, run_dumps) for compiled records
    ({name: _layout.Layout}): their record functions generated from the
    spec."""
    env = {"_attrs": _attrs, "_need": _need, "_addr": _addr, "_string": _string,
           "_flags": _flags, "_missing": _missing, "buf": None, "_U16": _U16, "_BE16": _BE16,
           "_U32": _U32,
           "_I32": _I32, "_U64": _U64}
    src = []
    for top in layouts.values():
        for sub in top.subs.values():
            src.append(_record_code(sub, False))
        src.append(_record_code(top, True))
    exec(compile("\n".join(src), "<ipvs records>", "exec"), env)
    svc, dest = layouts["service"], layouts["dest"]
    from ._shapes import buffered, shaped  # (learned shapes: one unpack a record, a buffer)
    parse_svc, parse_dest = shaped(svc, env["_r_service"]), shaped(dest, env["_r_dest"])
    fast, learn = buffered(parse_dest)

    def decode_services(buf, seq, pid):
        """One receive buffer of a GET_SERVICE reply -> (records, status, errno)."""
        return _walk(buf, seq, pid, svc.nest_id, parse_svc, None)

    def decode_dests(buf, seq, pid, svc_af):
        """One receive buffer of a GET_DEST dump -> (records, status, errno)."""
        recs = fast(buf, seq, pid, svc_af)
        if recs is not None:
            return recs, 0, 0
        out = _walk(buf, seq, pid, dest.nest_id, parse_dest, svc_af)
        if out[0] and not out[1] and not out[2]:
            learn(buf, seq, pid, svc_af, out[0])
        return out

    def run_dumps_here(sock, requests, pid, args, lines=None, more=(), counts=None):
        """run_dumps() with these records' dest decoder."""
        return run_dumps(sock, requests, pid, args, lines, decode_dests, more, counts)

    return decode_services, decode_dests, run_dumps_here


_made: list = []  # the default spec's decoders, made on first use


def _default():
    # made when first needed: with C active the twin's are never compiled
    if not _made:
        _made.extend(make_decoders(_spec.LAYOUTS))
    return _made


def decode_services(buf, seq, pid):
    """One receive buffer of a GET_SERVICE reply -> (records, status, errno)."""
    return (_made or _default())[0](buf, seq, pid)


def decode_dests(buf, seq, pid, svc_af):
    """One receive buffer of a GET_DEST dump -> (records, status, errno)."""
    return (_made or _default())[1](buf, seq, pid, svc_af)


def run_dumps(sock, requests, pid, args, lines=None, decode=None, more=(), counts=None):
    """_dumps_py.run_dumps (the twin's dump loop), by default with the
    twin's decode_dests."""
    from ._dumps_py import run_dumps as run
    return run(sock, requests, pid, args, lines, decode or (_made or _default())[1], more,
               counts)


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


def proc_numeric(data, sort):
    """_proctable.numeric_table (see _decoder)."""
    from ._proctable import numeric_table
    return numeric_table(data, sort)


def numeric_services(data, records, raw, order, sort):
    """_proctable.numeric_services (raw, C's layout of records, unread)."""
    from ._proctable import numeric_services as services, numeric_table
    table = numeric_table(data, sort)
    return None if table is None else services(table, records, order)


def encode_rules(data, pos, plan, seq, out, used, cap):
    """The plain `ipvsadm -R` lines of data (bytes) from pos on, each as
    the request FastRestore encodes it (plan.operation), flagged
    NLM_F_REQUEST and numbered from seq, written to the bytearray out
    from byte used on, none past cap. Blank lines (only " \\t\\n\\r") are
    skipped. Returns (full, pos, count, used, last): full when the next
    request would not fit, pos where it stopped (len(data), or the start of
    a line that is not plain, or of the one that did not fit), the requests
    written, the new used, the offset of the last one (None: none)."""
    op, family, version = plan.operation, plan.family, plan.version
    encode, flags = nl.encode_genl, nl.NLM_F_REQUEST
    n, count, last = len(data), 0, None
    while pos < n:
        end = data.find(b"\n", pos) + 1 or n
        line = data[pos:end]
        if line.strip(b" \t\n\r"):
            e = op(line.decode("latin-1"))  # (a byte a plain line cannot hold fails its match)
            if e is None:
                break
            msg = encode(family, e.cmd, version, e.attrs, flags=flags, seq=seq)
            if len(msg) > cap - used:
                return True, pos, count, used, last
            out[used:used + len(msg)] = msg
            last, used, count = used, used + len(msg), count + 1
            seq = (seq + 1) & 0xFFFFFFFF or 1
        pos = end
    return False, pos, count, used, last

