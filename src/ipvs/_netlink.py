# Netlink / generic-netlink wire codec.
#
# Rule: no I/O in this module. Everything here is a pure function over bytes
# (or a small state machine fed with bytes), so every byte the project sends
# or accepts can be checked in a unit test without a kernel.
from __future__ import annotations

import errno as _errno
import _struct as struct  # the C module: struct.py is one more file to read
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Iterator, List, Optional, Tuple

from ._base import (E_AFTER_DONE, E_MSG_LEN, E_OVERRUN, E_SEQ, E_SHORT_ERROR, E_TRAILING,
                    DecodeError, fail, record_type)

# <linux/netlink.h>
NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_ECHO = 0x08
NLM_F_DUMP_INTR = 0x10
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
# flags of an NLMSG_ERROR message
NLM_F_CAPPED = 0x100
NLM_F_ACK_TLVS = 0x200

NLMSGERR_ATTR_MSG = 1
NLMSGERR_ATTR_OFFS = 2

NLA_F_NESTED = 0x8000
NLA_F_NET_BYTEORDER = 0x4000
NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xFFFF

# socket options (SOL_NETLINK = 270)
SOL_NETLINK = 270
NETLINK_EXT_ACK = 11
NETLINK_CAP_ACK = 10
NETLINK_GENERIC = 16

# <linux/genetlink.h>
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_VERSION = 2

NLMSG_HDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
GENL_HDR = struct.Struct("=BBH")  # cmd, version, reserved
NLA_HDR = struct.Struct("=HH")  # len, type
RECV_CHUNK = 64 << 10  # a receive buffer: the kernel's dump skbs are at most 32 KiB
HDRLEN = NLMSG_HDR.size + GENL_HDR.size




def align4(n: int) -> int:
    return (n + 3) & ~3


# ---------------------------------------------------------------- attributes

def attr(atype: int, payload: bytes) -> bytes:
    """One attribute: header, payload, zero padding to 4 bytes."""
    n = NLA_HDR.size + len(payload)
    return NLA_HDR.pack(n, atype) + payload + b"\0" * (align4(n) - n)


def nested(atype: int, *children: bytes) -> bytes:
    return attr(atype | NLA_F_NESTED, b"".join(children))


def iter_attrs(buf, start: int = 0, end: Optional[int] = None) -> Iterator[Tuple[int, int, int]]:
    """Yield (type, payload_start, payload_end) for each attribute in buf[start:end].

    Types are returned without the NESTED / NET_BYTEORDER flag bits. A
    truncated or overlong attribute raises DecodeError.
    """
    if end is None:
        end = len(buf)
    pos = start
    unpack = NLA_HDR.unpack_from
    while pos + 4 <= end:
        alen, atype = unpack(buf, pos)
        if alen < 4 or pos + alen > end:
            raise DecodeError("attribute length %d at offset %d overruns its container" % (alen, pos))
        yield atype & NLA_TYPE_MASK, pos + 4, pos + alen
        pos += align4(alen)


def attrs_dict(buf, start: int = 0, end: Optional[int] = None) -> dict:
    """Map attribute type -> bytes (the last one wins, as in the kernel's nla_parse)."""
    return {t: bytes(buf[s:e]) for t, s, e in iter_attrs(buf, start, end)}


# ---------------------------------------------------------------- messages

def encode_message(msg_type: int, flags: int, seq: int, payload: bytes, pid: int = 0) -> bytes:
    n = NLMSG_HDR.size + len(payload)
    return NLMSG_HDR.pack(n, msg_type, flags, seq, pid) + payload + b"\0" * (align4(n) - n)


def encode_genl(family: int, cmd: int, version: int, attrs: bytes = b"", *,
                flags: int = NLM_F_REQUEST | NLM_F_ACK, seq: int = 0, pid: int = 0) -> bytes:
    return encode_message(family, flags, seq, GENL_HDR.pack(cmd, version, 0) + attrs, pid)


def encode_getfamily(name: str, seq: int = 0) -> bytes:
    return encode_genl(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1,
                       attr(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0"),
                       flags=NLM_F_REQUEST | NLM_F_ACK, seq=seq)


class Message(record_type("Message", "type flags seq pid buf start end", module=__name__)):
    """One netlink message: header fields, the buffer it lives in (bytes or
    memoryview), the offset of its payload (after nlmsghdr) and its end
    (before padding)."""
    __slots__ = ()

    def payload(self) -> bytes:
        return bytes(self.buf[self.start:self.end])


def iter_messages(buf) -> Iterator[Message]:
    """Split one receive buffer into netlink messages."""
    pos = 0
    end = len(buf)
    unpack = NLMSG_HDR.unpack_from
    while pos + NLMSG_HDR.size <= end:
        mlen, mtype, mflags, seq, pid = unpack(buf, pos)
        if mlen < NLMSG_HDR.size or pos + mlen > end:
            raise DecodeError("message length %d at offset %d overruns the buffer" % (mlen, pos))
        yield Message(mtype, mflags, seq, pid, buf, pos + NLMSG_HDR.size, pos + mlen)
        pos += align4(mlen)
    if pos < end:
        raise DecodeError("%d trailing bytes after the last message" % (end - pos))


# error: positive errno, 0 for an ack; msg: the extended-ack message ('' if
# none); offset: the extended-ack offset of the bad attribute, or None
ErrorInfo = record_type("ErrorInfo", "error msg offset", module=__name__)


def decode_error(m: Message) -> ErrorInfo:
    """Decode the payload of an NLMSG_ERROR (or NLMSG_DONE with errno)."""
    buf, start, end = m.buf, m.start, m.end
    if end - start < 4:
        raise DecodeError("short NLMSG_ERROR")
    (err,) = struct.unpack_from("=i", buf, start)
    if m.type == NLMSG_DONE:
        return ErrorInfo(-err, "", None)
    # the original request header follows; its payload too unless CAPPED
    pos = start + 4
    if end - pos < NLMSG_HDR.size:
        raise DecodeError("short NLMSG_ERROR")
    olen = NLMSG_HDR.unpack_from(buf, pos)[0]
    if m.flags & NLM_F_CAPPED or err == 0:
        pos += NLMSG_HDR.size
    else:
        pos += align4(olen)
        if pos > end:
            pos = end  # the kernel may cap silently on old kernels
    msg, offs = "", None
    if m.flags & NLM_F_ACK_TLVS and pos < end:
        for t, s, e in iter_attrs(buf, pos, end):
            if t == NLMSGERR_ATTR_MSG:
                msg = bytes(buf[s:e]).split(b"\0", 1)[0].decode("utf-8", "replace")
            elif t == NLMSGERR_ATTR_OFFS and e - s >= 4:
                offs = struct.unpack_from("=I", buf, s)[0]
    return ErrorInfo(-err, msg, offs)


class NetlinkError(OSError):
    """An error reported by the kernel in an NLMSG_ERROR (errno kept)."""

    def __init__(self, err: int, ext_msg: str = "", offset: Optional[int] = None):
        super().__init__(err, ext_msg or _strerror(err))
        self.ext_msg = ext_msg
        self.offset = offset


def _strerror(err: int) -> str:
    import os
    try:  # the wire holds any int (INT_MIN too); strerror takes a C int
        return os.strerror(err)
    except (OverflowError, ValueError):
        return "Unknown error %d" % err


class DumpInterrupted(Exception):
    """The kernel flagged NLM_F_DUMP_INTR: the table changed during the dump."""


# ------------------------------------------------------ request state machine

class Reply:
    """The checks every reply to a request must pass, in one place: each
    message framed within the buffer, none after the end of the reply
    (NLMSG_DONE or NLMSG_ERROR), each with the request's sequence number
    and our port id, no NLMSG_OVERRUN, no bytes after the last message.
    Failures raise DecodeError with _base.ERRORS' message for the code the
    C decoder's walk returns for the same bytes (it makes these checks in
    the same order, on the same constants, handed to it by _decode_c).

    messages(buf) yields (type, flags, body start, end) of every message
    but NLMSG_NOOP, the end of the reply included; `done`, `interrupted`
    (NLM_F_DUMP_INTR seen) and `error` (the errno of the final message)
    say where the reply stands."""

    __slots__ = ("seq", "pid", "done", "interrupted", "error")

    def __init__(self, seq: int, pid: int = 0):
        self.seq = seq
        self.pid = pid
        self.done = False
        self.interrupted = False
        self.error = 0

    def messages(self, buf) -> Iterator[Tuple[int, int, int, int]]:
        seq, pid = self.seq, self.pid
        unpack = NLMSG_HDR.unpack_from
        pos = 0
        end = len(buf)
        while pos + 16 <= end:
            mlen, mtype, mflags, mseq, mpid = unpack(buf, pos)
            if mlen < 16 or pos + mlen > end:
                fail(E_MSG_LEN)
            if self.done:
                fail(E_AFTER_DONE)
            if mseq != seq or (pid and mpid != pid):
                fail(E_SEQ)
            if mflags & NLM_F_DUMP_INTR:
                self.interrupted = True
            body = pos + 16
            mend = pos + mlen
            if mtype == NLMSG_DONE or mtype == NLMSG_ERROR:
                if mend - body < 4:
                    fail(E_SHORT_ERROR)
                self.error = -_I32(buf, body)[0]
                self.done = True
                yield mtype, mflags, body, mend
            elif mtype == NLMSG_OVERRUN:
                fail(E_OVERRUN)
            elif mtype != NLMSG_NOOP:
                yield mtype, mflags, body, mend
            pos += (mlen + 3) & ~3
        if pos < end:
            fail(E_TRAILING)


_I32 = struct.Struct("=i").unpack_from


class Exchange(Reply):
    """State of one request: which replies belong to it, when it is over.

    Feed every receive buffer with feed(); it returns the data messages
    (anything that is not an ack/error/DONE) of this request and raises
    NetlinkError for an error reply, DumpInterrupted at the end of a dump
    the kernel flagged. `done` becomes true at the final ack (plain
    request) or NLMSG_DONE (dump). The checks are Reply's: a message from
    another sequence number or port id raises DecodeError (one socket
    serves one request at a time, so a stray reply means the stream is out
    of step). A fast decoder that reads the buffers itself reports what it
    found with settle()."""

    __slots__ = ("dump",)

    def __init__(self, seq: int, pid: int = 0, dump: bool = False):
        Reply.__init__(self, seq, pid)
        self.dump = dump

    def feed(self, buf) -> List[Message]:
        out = []
        for mtype, mflags, body, mend in self.messages(buf):
            m = Message(mtype, mflags, self.seq, self.pid, buf, body, mend)
            if mtype == NLMSG_ERROR or mtype == NLMSG_DONE:
                info = decode_error(m)
                if info.error:
                    raise NetlinkError(info.error, info.msg, info.offset)
            else:
                out.append(m)
        self.settle(self.done, self.interrupted, 0)
        return out

    def settle(self, done: bool, interrupted: bool, error: int) -> None:
        """Record a buffer's outcome: raise NetlinkError(error) for a
        kernel error, DumpInterrupted once a flagged reply is complete."""
        self.done = self.done or bool(done)
        self.interrupted = self.interrupted or bool(interrupted)
        if error:
            raise NetlinkError(error)
        if self.done and self.interrupted:
            raise DumpInterrupted()


def genl_payload(m: Message) -> Tuple[int, int]:
    """(cmd, attribute start) of a generic-netlink message."""
    if m.end - m.start < GENL_HDR.size:
        raise DecodeError("short generic netlink header")
    cmd = m.buf[m.start]
    return cmd, m.start + GENL_HDR.size


def decode_family_id(m: Message) -> int:
    _, pos = genl_payload(m)
    for t, s, e in iter_attrs(m.buf, pos, m.end):
        if t == CTRL_ATTR_FAMILY_ID and e - s >= 2:
            return struct.unpack_from("=H", m.buf, s)[0]
    raise DecodeError("CTRL_CMD_NEWFAMILY without a family id")
