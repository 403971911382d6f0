"""run_dumps: many GET_DEST dumps, one after another, on one socket, from
both decoders (C: the whole loop in one call, the GIL released), against a
peer thread playing the kernel on a datagram socket pair. The expected
results are written from the shared vectors' hand-made records."""
import errno
import signal
import socket
import struct
import threading
import time

import pytest

from ipvs import _decode_py
from ipvs._base import DecodeError
from test_decoder_vectors import (AF4, AF6, DEST_GUE6, DEST_GUE6_REC, DEST_MASQ4,
                                  DEST_MASQ4_REC, DEST_OLD, DEST_OLD_REC, IMPLS, PID,
                                  dest_msg, done, error)
from ipvs import _netlink as nl

FIRST_SEQ = 500


def requests(n, first=FIRST_SEQ):
    """n dump requests back to back, sequence numbers first.. (what the
    peer answers does not depend on their content)."""
    return b"".join(nl.encode_message(0x24, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, first + i,
                                      b"\x01\x01\x00\x00", PID) for i in range(n))


class Peer(threading.Thread):
    """The kernel's end: for request i, the datagrams script[i](seq)."""

    def __init__(self, sock, script, delay=0.0, patience=2.0):
        super().__init__(daemon=True)
        # a loop that stopped early sends no more requests: give up after
        # `patience` seconds without one (or at once on stop())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                        struct.pack("=qq", int(patience), int(patience % 1 * 1e6)))
        self.sock, self.script, self.delay = sock, script, delay
        self.seqs = []

    def run(self):
        try:
            for answer in self.script:
                req = self.sock.recv(1 << 16)
                if not req:  # stop()
                    return
                seq = struct.unpack_from("=I", req, 8)[0]
                self.seqs.append(seq)
                if self.delay:
                    time.sleep(self.delay)
                for dgram in answer(seq):
                    self.sock.send(dgram)
        except OSError:  # our end closed early (a test of a loop that stops)
            pass

    def stop(self):
        """Wake the peer's wait for a request, and let it end."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join(5)


def run(impl, script, args, delay=0.0):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    # a loop that held the GIL while it waits would starve the peer
    # thread: with this, a hang becomes an error instead
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("=qq", 10, 0))
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    peer = Peer(theirs, script, delay)
    peer.start()
    try:
        return impl.run_dumps(ours, requests(len(script)), PID, args), peer.seqs
    finally:
        ours.close()
        peer.stop()
        theirs.close()


def _many(seq, n=300, per=50):
    """n records in datagrams of `per`, then DONE on its own."""
    out = []
    for k in range(0, n, per):
        out.append(b"".join(dest_msg(DEST_OLD, seq=seq) for _ in range(min(per, n - k))))
    return out + [done(seq=seq)]


SCRIPT = [
    lambda s: [dest_msg(DEST_MASQ4, seq=s) + dest_msg(DEST_GUE6, seq=s), done(seq=s)],
    lambda s: [error(errno.ESRCH, seq=s)],  # the service went away
    lambda s: [dest_msg(DEST_OLD, seq=s) + done(seq=s)],  # one datagram
    lambda s: [done(seq=s)],  # no real servers
    _many,  # more records than the first output buffer holds
    lambda s: [dest_msg(DEST_OLD, seq=s, flags=nl.NLM_F_MULTI | nl.NLM_F_DUMP_INTR),
               done(seq=s)],
]
OLD6 = DEST_OLD_REC[:9] + (AF6,) + DEST_OLD_REC[10:]  # a family-less record takes the service's
EXPECTED = ([[DEST_MASQ4_REC, DEST_GUE6_REC], [], [OLD6], [], [DEST_OLD_REC] * 300,
             [DEST_OLD_REC]],
            [1, 1, 1, 1, 1, 3], [0, errno.ESRCH, 0, 0, 0, 0])


@pytest.mark.parametrize("impl", IMPLS)
def test_many_dumps_in_one_call(impl):
    result, seqs = run(impl, SCRIPT, [AF4, AF4, AF6, AF4, AF4, AF4])
    assert seqs == list(range(FIRST_SEQ, FIRST_SEQ + len(SCRIPT)))
    records, statuses, errors = result
    assert (records, list(statuses), list(errors)) == EXPECTED


def run_split(impl, script, args, at, lines=None):
    """run() with the dumps from `at` on sent over a second socket pair (a
    channel of `more`, which C runs in a thread of its own), to a second
    peer; its requests' sequence numbers start at 9000."""
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(2)]
    peers = [Peer(pairs[0][1], script[:at]), Peer(pairs[1][1], script[at:])]
    for (ours, _), peer in zip(pairs, peers):
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("=qq", 10, 0))
        peer.start()
    try:
        more = [(pairs[1][0], requests(len(script) - at, 9000), PID, at)]
        return impl.run_dumps(pairs[0][0], requests(at), PID, args, lines, more=more), \
            [p.seqs for p in peers]
    finally:
        for (ours, theirs), peer in zip(pairs, peers):
            ours.close()
            peer.stop()
            theirs.close()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("at", [1, 3, 5])
def test_dumps_split_over_two_sockets(impl, at):
    """The dumps of two channels (the transport's spare socket takes the
    second half of a large table's): records, statuses and errors in the
    requests' order, as from one socket."""
    (records, statuses, errors), seqs = run_split(impl, SCRIPT,
                                                  [AF4, AF4, AF6, AF4, AF4, AF4], at)
    assert (records, list(statuses), list(errors)) == EXPECTED
    assert seqs == [list(range(FIRST_SEQ, FIRST_SEQ + at)),
                    list(range(9000, 9000 + len(SCRIPT) - at))]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("at", [1, 2])
def test_a_bad_reply_on_either_socket_is_raised(impl, at):
    """A damaged reply on the second channel (or the first) raises its
    error once both channels have stopped (no thread is left on a socket)."""
    bad = lambda s: [dest_msg(DEST_OLD, seq=s)[:-4]]  # noqa: E731
    script = [lambda s: [done(seq=s)], bad, lambda s: [done(seq=s)]]
    with pytest.raises(DecodeError, match="bad message length"):
        run_split(impl, script, [AF4] * 3, at)


def _too_big(s):
    pad = nl.encode_message(nl.NLMSG_NOOP, 0, s, bytes(70000), PID)
    return [pad]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("answer,message", [
    (lambda s: [dest_msg(DEST_OLD, seq=s + 1) + done(seq=s + 1)], "reply out of sequence"),
    (lambda s: [dest_msg(DEST_OLD, seq=s)[:-4]], "bad message length"),
    (_too_big, "netlink message larger than the receive buffer"),
], ids=["seq", "cut", "too-big"])
def test_bad_replies_give_the_same_error(impl, answer, message):
    with pytest.raises(DecodeError, match=message):
        run(impl, [lambda s: [done(seq=s)], answer], [AF4, AF4])


@pytest.mark.parametrize("impl", IMPLS)
def test_a_signal_runs_its_handler_and_the_dumps_go_on(impl):
    seen = []
    old = signal.signal(signal.SIGALRM, lambda *a: seen.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        result, _ = run(impl, SCRIPT, [AF4, AF4, AF6, AF4, AF4, AF4], delay=0.15)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert seen == [1]
    records, statuses, errors = result
    assert (records, list(statuses), list(errors)) == EXPECTED


class Stop(Exception):
    pass


def _raise(*a):
    raise Stop()


@pytest.mark.parametrize("impl", IMPLS)
def test_a_handler_that_raises_stops_the_loop(impl):
    old = signal.signal(signal.SIGALRM, _raise)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(Stop):
            run(impl, SCRIPT, [AF4] * 6, delay=0.3)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_the_twin_loop_takes_any_decoder():
    """C's run_dumps hands a socket-like object that is no socket (a test's
    fake kernel) to the twin's loop with the C buffer decoder: the same
    records either way."""
    calls = []

    def decode(buf, seq, pid, arg):
        calls.append(seq)
        return _decode_py.decode_dests(buf, seq, pid, arg)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    peer = Peer(theirs, SCRIPT)
    peer.start()
    try:
        got = _decode_py.run_dumps(ours, requests(len(SCRIPT)), PID,
                                   [AF4, AF4, AF6, AF4, AF4, AF4], decode=decode)
    finally:
        ours.close()
        peer.stop()
        theirs.close()
    assert (got[0], got[1], got[2]) == EXPECTED
    assert calls[0] == FIRST_SEQ and len(calls) == 2 + 1 + 1 + 1 + 7 + 2


def _outcome(impl, script, args, timeout):
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("=qq", timeout, 0))
    # (time enough for either end on a busy machine: a loop or a peer that
    # waited less ended some runs with EAGAIN under load)
    peer = Peer(theirs, script, patience=timeout)
    peer.start()
    try:
        records, statuses, errors = impl.run_dumps(ours, requests(len(script)), PID, args)
        return "ok", records, list(statuses), list(errors)
    except DecodeError as e:
        return "decode", str(e)
    except OSError as e:  # a reply with no end: the receive times out
        return "os", e.errno
    finally:
        ours.close()
        peer.stop()
        theirs.close()


@pytest.mark.skipif(IMPLS[1].values[0] is None, reason="C decoder not built")
@pytest.mark.parametrize("seed", range(40))
def test_damaged_replies_give_the_same_outcome(seed):
    """The whole loop fuzzed: each script's datagrams with bytes changed,
    cut or doubled give the same records, error message or errno from the
    C loop and the twin's."""
    import random
    rng = random.Random(seed)
    seq = FIRST_SEQ
    answers = []
    for i, answer in enumerate(SCRIPT[:4]):
        dgrams = [bytearray(d) for d in answer(seq + i)]
        d = rng.choice(dgrams)
        for _ in range(rng.randint(1, 3)):
            if not d:
                break
            what = rng.random()
            if what < 0.6:
                d[rng.randrange(len(d))] = rng.randrange(256)
            elif what < 0.8:
                del d[rng.randrange(len(d)):]
            else:
                d += d[:rng.randrange(len(d) + 1)]
        answers.append(lambda s, ds=[bytes(x) for x in dgrams]: ds)
    args = [AF4, AF6, AF4, AF6]
    c = _outcome(IMPLS[1].values[0], answers, args, 2)
    py = _outcome(_decode_py, answers, args, 2)
    assert c == py
