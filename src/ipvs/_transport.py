# Transport: the only module that touches a socket.
#
# One NETLINK_GENERIC socket per client, reused for every request; the
# family id resolved once; each reply checked against the request's sequence
# number and our port id (the codec's Exchange does the checking).
#
# An exchange cut short (an exception, KeyboardInterrupt, a bad reply) leaves
# its rest queued on the socket; the next exchange first drains the socket
# (non-blocking reads until none is left; reading also runs a dump the
# kernel still has to finish), so a Client stays usable after any error.
from __future__ import annotations

import errno
import os
import _socket as socket  # the C module: socket.py would import enum and selectors
import _struct
from itertools import repeat
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from . import _netlink as nl
from ._errors import IPVSError, KernelError, NotAvailableError, ProtocolError

RCVBUF = 4 << 20  # socket receive buffer: room for many dump chunks
RECV_CHUNK = nl.RECV_CHUNK
DUMP_RETRIES = 5  # restarts of a dump the kernel flagged as interrupted
BATCH_BYTES = 32 << 10  # requests packed into one send() by execute_batch
SPLIT_DUMPS = 64  # dumps from which execute_dumps runs half on a spare socket
_TIMEVAL = _struct.Struct("@ll")  # struct timeval (SO_RCVTIMEO)


class Conn:
    """A generic-netlink socket bound to one family."""

    netns = None  # the namespace the socket was made in (a _netns.Netns), held open

    def __init__(self, family_name: str = "IPVS", *, sock=None, netns=None,
                 family: Optional[int] = None, timeout: Optional[float] = None):
        """sock: an already open socket-like object (tests pass a fake
        kernel here); by default a new NETLINK_GENERIC socket, created in
        network namespace `netns` when given: a name or path (see _netns),
        opened here and held until close(), or a _netns.Netns held by
        another Conn (a spare shares its parent's).
        family: the family's id, when known (no lookup). timeout: seconds
        a receive may wait for the kernel (SO_RCVTIMEO: the socket stays
        blocking for C's loop) before ProtocolError; None waits for ever."""
        self._own = sock is None  # our socket: a spare one may be made (spare())
        self._spare, self._netns_mine, self._timeout = None, False, timeout
        if sock is None:
            def new_socket():
                return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                     nl.NETLINK_GENERIC)
            try:
                if netns is None:
                    sock = new_socket()
                else:
                    from ._netns import Netns
                    if not isinstance(netns, Netns):
                        netns, self._netns_mine = Netns(netns), True
                    self.netns = netns
                    sock = netns.run(new_socket)
            except IPVSError:  # NetnsError: the namespace, not IPVS
                self._close_netns()
                raise
            except OSError as e:
                self._close_netns()
                raise KernelError(e.errno or errno.EPROTONOSUPPORT) from None
        self.sock = sock
        self._dirty = False  # an exchange began and did not end
        self._buf = bytearray(RECV_CHUNK)
        self._view = memoryview(self._buf)
        try:
            self._setup()
            self.family = self._resolve(family_name) if family is None else family
        except BaseException:
            self.sock.close()
            self._close_netns()
            raise

    def _setup(self) -> None:
        s = self.sock
        for opt in (33, socket.SO_RCVBUF):  # SO_RCVBUFFORCE needs CAP_NET_ADMIN
            try:
                s.setsockopt(socket.SOL_SOCKET, opt, RCVBUF)
                break
            except OSError:
                continue
        for opt in (nl.NETLINK_EXT_ACK, nl.NETLINK_CAP_ACK):
            try:
                s.setsockopt(nl.SOL_NETLINK, opt, 1)
            except OSError:
                pass  # old kernels: errors still arrive, without the text
        if self._timeout is not None and self._own:
            sec = int(self._timeout)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                         _TIMEVAL.pack(sec, int((self._timeout - sec) * 1e6)))
        s.bind((0, 0))
        self.pid = s.getsockname()[0]
        self._seq = int.from_bytes(os.urandom(2), "little") + 1

    def begin(self) -> None:
        """Start an exchange: drain what an exchange cut short left."""
        if self._dirty:
            self._drain()
        self._dirty = True

    def end(self) -> None:
        """The exchange read its whole reply."""
        self._dirty = False

    def _drain(self) -> None:
        for _ in range(1 << 20):  # bounded: a broken socket must not spin forever
            try:
                self.sock.recv_into(self._buf, 0, socket.MSG_DONTWAIT | socket.MSG_TRUNC)
            except InterruptedError:
                continue
            except BlockingIOError:
                return  # nothing left
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    continue  # an overrun is reported once; go on draining
                return

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
        return self._seq

    def peek_seq(self) -> int:
        """The number next_seq() will give (for requests encoded before
        they are counted: claim them with next_seqs())."""
        return (self._seq + 1) & 0xFFFFFFFF or 1

    def next_seqs(self, n: int):
        """The next n sequence numbers (next_seq() n times), as a range
        when they do not wrap."""
        first = self._seq + 1
        if first + n - 1 <= 0xFFFFFFFF:
            self._seq = first + n - 1 if n else self._seq
            return range(first, first + n)
        return [self.next_seq() for _ in range(n)]

    def close(self) -> None:
        if self._spare is not None:
            self._spare.close()
        self.sock.close()
        self._close_netns()

    def _close_netns(self) -> None:
        if self._netns_mine:
            self.netns.close()

    def spare(self) -> Optional["Conn"]:
        """A second Conn of this one's kind (namespace, family; its own
        port id and sequence numbers), made on first use, for dumps run
        beside this one's; None when this Conn was handed its socket (a
        test's fake kernel) or a new socket cannot be had."""
        if self._spare is None and self._own:
            try:
                self._spare = Conn(netns=self.netns, family=self.family, timeout=self._timeout)
            except (OSError, IPVSError):
                self._own = False  # not again
        return self._spare

    # ------------------------------------------------------------ raw I/O

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = self.sock.send(view)
            except InterruptedError:
                continue
            view = view[n:]

    def recv(self) -> bytes:
        while True:
            try:
                n = self.sock.recv_into(self._buf, 0, socket.MSG_TRUNC)
            except InterruptedError:
                continue
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    raise ProtocolError("netlink receive buffer overrun") from None
                if e.errno == errno.EAGAIN:
                    raise self._silent() from None
                raise
            if n > len(self._buf):
                raise ProtocolError("netlink message larger than the receive buffer")
            return bytes(self._view[:n])

    # ------------------------------------------------------- request/reply

    def buffers(self, request: bytes, exchange: nl.Exchange) -> Iterator[bytes]:
        """Send one request and yield the raw receive buffers of its reply.

        The caller decodes each buffer and tells when the reply is complete
        through exchange.done (the fast decoders track it themselves)."""
        self.send(request)
        while not exchange.done:
            yield self.recv()

    def execute(self, build: Callable[[int], bytes], *, dump: bool = False,
                operation: Optional[str] = None, feed=None) -> list:
        """Send the request build(seq) makes; return its data messages, or
        what feed(buffer, exchange) makes of each receive buffer, joined
        (a fast decoder: it settles the exchange with what it found).

        Kernel errors become KernelError with ipvsadm's text for `operation`;
        an interrupted dump is restarted a bounded number of times."""
        for _ in range(DUMP_RETRIES):
            self.begin()
            seq = self.next_seq()
            ex = nl.Exchange(seq, self.pid, dump)
            read = ex.feed if feed is None else (lambda buf: feed(buf, ex))
            out: list = []
            try:
                for buf in self.buffers(build(seq), ex):
                    out.extend(read(buf))
            except nl.NetlinkError as e:
                self.end()  # an error ends the reply
                raise KernelError(e.errno, operation, e.ext_msg) from None
            except nl.DumpInterrupted:
                self.end()  # raised at the end of the reply: nothing to drain
                continue
            except nl.DecodeError as e:
                raise ProtocolError(str(e)) from None
            self.end()
            return out
        raise ProtocolError("dump interrupted %d times in a row" % DUMP_RETRIES)

    def _requests(self, family: int, flags: int, bodies: Sequence[bytes]) -> bytes:
        # (map over the bodies: no Python step per request)
        heads = map(nl.NLMSG_HDR.pack, map((16).__add__, map(len, bodies)), repeat(family),
                    repeat(flags), self.next_seqs(len(bodies)), repeat(0))
        return b"".join(map(bytes.__add__, heads, bodies))

    def execute_dumps(self, family: int, flags: int, bodies: Sequence[bytes], run) -> tuple:
        """Dump requests of `family` with `flags`, one for each of the
        message bodies (4-byte aligned), run by run(sock, requests, pid,
        more) (a decoder's dump loop: C runs them all in one call); returns
        what it returns. From SPLIT_DUMPS requests on, the second half goes
        to a spare socket: more = [(its socket, its requests, its port id,
        the index of its first request)], which C runs in a thread beside
        the first half (the kernel then works on two CPUs). The sequence
        numbers are ours; a failure leaves the sockets to be drained."""
        spare = self.spare() if len(bodies) >= SPLIT_DUMPS else None
        half = (len(bodies) + 1) // 2 if spare is not None else len(bodies)
        self.begin()
        more = []
        if spare is not None:
            spare.begin()
            more.append((spare.sock, spare._requests(family, flags, bodies[half:]), spare.pid,
                         half))
        requests = self._requests(family, flags, bodies[:half])
        try:
            out = run(self.sock, requests, self.pid, more)
        except nl.DecodeError as e:
            raise ProtocolError(str(e)) from None
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                raise ProtocolError("netlink receive buffer overrun") from None
            if e.errno == errno.EAGAIN:
                raise self._silent() from None
            raise
        self.end()
        if spare is not None:
            spare.end()
        return out

    def execute_batch(self, family: int, version: int,
                      requests: Sequence[Tuple[int, bytes]]) -> List[Optional[nl.ErrorInfo]]:
        """Send many requests (command, encoded attributes), packed several
        to a send() (execute_packed). Returns, per request, None or the
        kernel's ErrorInfo."""
        results: List[Optional[nl.ErrorInfo]] = [None] * len(requests)
        encode, quiet = nl.encode_genl, nl.NLM_F_REQUEST
        i = 0
        while i < len(requests):
            j, size = i, 0
            while j < len(requests) and size < BATCH_BYTES:
                size += len(requests[j][1]) + 20
                j += 1
            index = {seq: k for k, seq in enumerate(self.next_seqs(j - i), i)}
            chunk = [encode(family, cmd, version, attrs, flags=quiet, seq=seq)
                     for (cmd, attrs), seq in zip(requests[i:j], index)]
            buf = bytearray(b"".join(chunk))
            errors = self.execute_packed(buf, next(iter(index)), j - i, len(buf) - len(chunk[-1]))
            for seq, info in errors.items():
                results[index[seq]] = info
            i = j
        return results

    def execute_packed(self, buf, first: int, count: int, last: int) -> dict:
        """Send `count` requests encoded back to back in buf (writable), all
        flagged NLM_F_REQUEST only, numbered from `first` as next_seqs()
        numbers them, the last one at offset `last`: one send() (many
        messages to a system call). Returns {sequence number: ErrorInfo}
        of the failed ones, in order.

        The kernel handles the messages of one buffer in order, each on its
        own (a failure does not stop the ones after it). It answers every
        failed request with an error whatever its flags, and a successful
        one only when it asks for an ack: so only the last one asks (its
        flags are set here), and once that answer is in, every error has
        arrived before it. (Tens of thousands of acks nobody reads cost
        the kernel an allocation each and us a decode each.)"""
        final = (first - 1 + count - 1) % 0xFFFFFFFF + 1
        length, kind, flags, seq, pid = nl.NLMSG_HDR.unpack_from(buf, last)
        nl.NLMSG_HDR.pack_into(buf, last, length, kind, flags | nl.NLM_F_ACK, seq, pid)
        self.begin()
        self.send(buf)
        errors: dict = {}
        try:
            while True:
                for m in nl.iter_messages(self.recv()):
                    if (not m.seq or (m.seq - first) % 0xFFFFFFFF >= count or m.pid != self.pid
                            or m.type != nl.NLMSG_ERROR or m.seq in errors):
                        raise ProtocolError("unexpected reply in a batch (seq %d)" % m.seq)
                    info = nl.decode_error(m)
                    if info.error:
                        errors[m.seq] = info
                    elif m.seq != final:
                        raise ProtocolError("an ack nobody asked for (seq %d)" % m.seq)
                    if m.seq == final:
                        self.end()
                        return errors
        except nl.DecodeError as e:
            raise ProtocolError(str(e)) from None

    def _silent(self) -> ProtocolError:
        return ProtocolError("no answer from the kernel within %g s" % self._timeout)

    def _resolve(self, name: str) -> int:
        try:
            msgs = self.execute(lambda seq: nl.encode_getfamily(name, seq))
        except KernelError as e:
            if e.errno == errno.ENOENT:
                raise NotAvailableError() from None
            raise
        if not msgs:
            raise ProtocolError("no reply to CTRL_CMD_GETFAMILY")
        return nl.decode_family_id(msgs[0])
