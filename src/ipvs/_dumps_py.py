# The twin's dump loop: the GET_DEST dumps of many services, one after
# another on each socket, each receive buffer decoded by the decode it is
# handed (the seam's run_dumps, _decode_py's, hands it the twin's).
# The other sockets' shares run after the first's, in order: threads,
# tried, made the twin slower in the VM (two threads fighting for the GIL
# cost more than the kernel's waits they hid).
#
# Rule: the same results and errors as C's run_dumps (_decode_c).
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import errno

from . import _netlink as nl
from ._base import DONE, E_BIG, E_MSG_LEN, fail as _fail

_HDR = nl.NLMSG_HDR.unpack_from


def run_dumps(sock, requests, pid, args, lines, decode, more=()):
    """The dumps of several requests, one after another, on `sock` (the
    transport's socket; the requests carry its sequence numbers): the
    request messages back to back in `requests`, args[i] what dump i's
    records default their family to. -> (records of each dump, status of
    each, errno of each). Bad bytes raise DecodeError, a failed system call
    OSError; either leaves the rest of a reply on the socket.
    lines = [(program, texts, sort, pieces), ...]: the result's first item
    is instead one listing for each, as an iterator of bytes-like chunks
    of latin-1 text made as they are asked for: texts[i] then the lines of
    dump i's records (a lines.Program, sorted by address and port when
    sort, its piece columns from pieces[i], or empty when pieces is None).
    decode(buf, seq, pid, arg): a receive buffer's (records, status, errno).
    more: other channels [(sock, requests, pid, first)]: the dumps from
    args[first] on are theirs (C runs them beside this one's; here they
    run after it); the results are in args' order all the same."""
    bounds = [m[3] for m in more] + [len(args)]
    records, statuses, errors = _one_channel(sock, requests, pid, args[:bounds[0]], decode)
    for m, a, b in zip(more, bounds, bounds[1:]):
        r, s, e = _one_channel(m[0], m[1], m[2], args[a:b], decode)
        records += r
        statuses += s
        errors += e
    if lines is not None:
        return [_chunks(one, records) for one in lines], statuses, errors
    return records, statuses, errors


def _one_channel(sock, requests, pid, args, decode):
    buf = bytearray(nl.RECV_CHUNK)
    view = memoryview(buf)
    recv_into, send = sock.recv_into, sock.send
    records, statuses, errors = [], [], []
    pos, total = 0, len(requests)
    for arg in args:
        if total - pos < 16:
            _fail(E_MSG_LEN)
        mlen, _, _, seq, _ = _HDR(requests, pos)
        if mlen < 16 or mlen > total - pos:
            _fail(E_MSG_LEN)
        if send(requests[pos:pos + mlen]) != mlen:
            raise OSError(errno.EMSGSIZE, "short netlink send")
        pos += (mlen + 3) & ~3
        recs, status, error = [], 0, 0
        while not status & DONE:
            try:
                n = recv_into(buf, 0, socket.MSG_TRUNC)
            except InterruptedError:  # (a socket retries by itself: PEP 475)
                continue
            if n == 0:
                raise OSError(errno.EPIPE, "the peer went away")
            if n > nl.RECV_CHUNK:
                _fail(E_BIG)
            got, st, err = decode(view[:n], seq, pid, arg)
            recs += got
            status |= st
            error = err or error
        records.append(recs)
        statuses.append(status)
        errors.append(error)
    return records, statuses, errors


def _chunks(lines, records):
    """One listing of run_dumps' lines as the twin makes it: one chunk,
    when asked for."""
    from .lines import render_groups
    program, texts, sort, pieces = lines
    yield render_groups(program, texts, records, sort, pieces).encode("latin-1")


