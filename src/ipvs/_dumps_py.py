# The twin's dump loop: the GET_DEST dumps of many services, one after
# another on each socket, each receive buffer decoded by the decode it is
# handed (the seam's run_dumps, _decode_py's, hands it the twin's).
#
# The other socket's share of a listing runs in a child process beside
# this one's (os.fork: the kernel then works on two CPUs, and the child
# decodes and writes its services' lines while this process does its
# own); its text, statuses and errnos come back through a pipe. Only
# from a process with no other thread (fork copies only the caller's), and
# only for a listing (lines): records would have to be sent back as
# objects. Otherwise the other share runs after the first, in order.
# Threads, tried, made the twin slower in the VM (two threads fighting for
# the GIL cost more than the kernel's waits they hid).
#
# Rule: the same results and errors as C's run_dumps (_decode_c).
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import _struct as struct
import _thread
import errno
import os

from . import _netlink as nl
from ._base import DONE, E_BIG, E_MSG_LEN, DecodeError, fail as _fail

_HDR = nl.NLMSG_HDR.unpack_from
_COUNTS = struct.Struct("=II")  # dumps, listings
_FAILED = struct.Struct("=ci")  # what the child raised: D (DecodeError) or O (OSError), errno


def run_dumps(sock, requests, pid, args, lines, decode, more=(), counts=None):
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
    args[first] on are theirs (C runs them beside this one's; here a
    child process does for a listing, else they run after it); the
    results are in args' order all the same. counts: a list, given, that
    each dump's number of records is appended to."""
    bounds = [m[3] for m in more] + [len(args)]
    if lines is not None and len(more) == 1 and _may_fork(more[0][0]):
        out = _beside(sock, requests, pid, args, lines, decode, more[0])
        if out is not None:
            if counts is not None:
                counts.extend(out[3])
            return out[:3]
    records, statuses, errors = _one_channel(sock, requests, pid, args[:bounds[0]], decode)
    for m, a, b in zip(more, bounds, bounds[1:]):
        r, s, e = _one_channel(m[0], m[1], m[2], args[a:b], decode)
        records += r
        statuses += s
        errors += e
    if counts is not None:
        counts.extend(map(len, records))
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


def _may_fork(other):
    """Whether the other channel may run in a child process."""
    return isinstance(other, socket.socket) and hasattr(os, "fork") and \
        _thread._count() == 0


def _part(lines, records, a, b):
    """Groups a to b of a listing (lines is run_dumps'), as latin-1 bytes."""
    from .lines import render_groups
    program, texts, sort, pieces = lines
    return render_groups(program, None if texts is None else texts[a:b], records, sort,
                         None if pieces is None else pieces[a:b]).encode("latin-1")


def _beside(sock, requests, pid, args, lines, decode, other):
    """run_dumps' listings with the other channel's dumps, and its lines,
    made by a child process while this one makes its own, and the number
    of records of each dump; None when no child process can be had
    (nothing was sent)."""
    osock, oreqs, opid, half = other
    from . import lines as _lines  # noqa: F401 (loaded once, before the fork)
    try:
        rfd, wfd = os.pipe()
    except OSError:
        return None
    try:
        child = os.fork()
    except OSError:
        os.close(rfd)
        os.close(wfd)
        return None
    if child == 0:  # the child: never returns
        try:
            os.close(rfd)
            try:
                recs, st, err = _one_channel(osock, oreqs, opid, args[half:], decode)
                parts = [_part(one, recs, half, len(args)) for one in lines]
                out = [b"K", _COUNTS.pack(len(st), len(parts)),
                       struct.pack("=%di%dq%dQ%dQ" % (len(st), len(err), len(recs), len(parts)),
                                   *st, *err, *map(len, recs), *map(len, parts))] + parts
            except DecodeError as e:
                out = [_FAILED.pack(b"D", 0), str(e).encode("utf-8")]
            except OSError as e:
                out = [_FAILED.pack(b"O", e.errno or errno.EIO), (e.strerror or "").encode("utf-8")]
            view = memoryview(b"".join(out))
            while view:
                view = view[os.write(wfd, view):]
        finally:
            os._exit(0)
    os.close(wfd)
    try:
        records, statuses, errors = _one_channel(sock, requests, pid, args[:half], decode)
        mine = [_part(one, records, 0, half) for one in lines]
        got = _read_all(rfd)
    except BaseException:
        _stop(child)
        raise
    finally:
        os.close(rfd)
    _reap(child)
    theirs = _unpack(got, len(args) - half, len(lines))
    return ([iter((m, t)) for m, t in zip(mine, theirs[3])],
            statuses + theirs[0], errors + theirs[1], list(map(len, records)) + theirs[2])


def _read_all(fd):
    out = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(out)
        out.append(chunk)


def _unpack(got, n, k):
    """(statuses, errnos, record counts, listings) of the child's report,
    or what it raised."""
    if got[:1] == b"K" and len(got) >= 9 and _COUNTS.unpack_from(got, 1) == (n, k):
        head = struct.Struct("=%di%dq%dQ%dQ" % (n, n, n, k))
        if len(got) >= 9 + head.size:
            v = head.unpack_from(got, 9)
            at, parts = 9 + head.size, []
            for size in v[3 * n:]:
                parts.append(got[at:at + size])
                at += size
            if at == len(got):
                return list(v[:n]), list(v[n:2 * n]), list(v[2 * n:3 * n]), parts
    if got[:1] in (b"D", b"O") and len(got) >= _FAILED.size:
        kind, code = _FAILED.unpack_from(got)
        text = got[_FAILED.size:].decode("utf-8", "replace")
        if kind == b"D":
            raise DecodeError(text)
        raise OSError(code, text)
    raise OSError(errno.EIO, "the dump helper process failed")


def _stop(child):
    try:
        os.kill(child, 9)
    except OSError:
        pass
    _reap(child)


def _reap(child):
    try:
        os.waitpid(child, 0)
    except ChildProcessError:  # (reaped by someone else: the pipe said all)
        pass


def _chunks(lines, records):
    """One listing of run_dumps' lines as the twin makes it: one chunk,
    when asked for."""
    from .lines import render_groups
    program, texts, sort, pieces = lines
    yield render_groups(program, texts, records, sort, pieces).encode("latin-1")


