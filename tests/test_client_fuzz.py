"""The Client against a fake kernel that sends random and mutated replies:
every call either returns model objects or raises one of the documented
exceptions (KernelError, ProtocolError; IPVSError at large), never anything
else, and a Client stays usable after any failed or interrupted exchange.
Time-bounded (hypothesis deadline off, a fixed number of examples) so it
fits CI; scripts/sanitize runs it again over the sanitizer build of the C
decoder."""
import errno
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import ipvs
from ipvs import _netlink as nl
from ipvs import _spec as spec

from test_client_fake import FAMILY, FakeKernel, ack, done, hdr, service_msg

SVC = ipvs.Service(protocol="tcp", address="10.0.0.1", port=80)
DEST = ipvs.Destination(address="10.0.0.2", port=80)


def daemon_msg(seq, group=b"\xe0\0\0\x51"):
    d = spec.encode_attrs("daemon", {"state": 1, "mcast_ifn": "lo", "sync_id": 1})
    d += nl.attr(5, group)
    return hdr(FAMILY, nl.NLM_F_MULTI, seq, bytes([spec.CMD_NEW_DAEMON, 1, 0, 0]) +
               nl.nested(1, d))


CALLS = [
    lambda c: c.services(),
    lambda c: c.destinations(SVC),
    lambda c: c.get_service(SVC),
    lambda c: c.info(),
    lambda c: c.timeouts(),
    lambda c: c.daemons(),
    lambda c: c.add_service(SVC),
    lambda c: c.batch([("add_service", SVC), ("add_destination", SVC, DEST)]),
]


def good_reply(cmd, seq, flags):
    """What a kernel would answer, to mutate."""
    if cmd == spec.CMD_GET_SERVICE and flags & nl.NLM_F_DUMP:
        return [service_msg(seq, 80) + service_msg(seq, 81) + done(seq)]
    if cmd == spec.CMD_GET_SERVICE:
        return [service_msg(seq, 80, flags=0) + ack(seq)]
    if cmd == spec.CMD_GET_DAEMON:
        return [daemon_msg(seq) + done(seq)]
    if flags & nl.NLM_F_DUMP:
        return [done(seq)]
    return [ack(seq)]


def mutate(data, rnd):
    b = bytearray(data)
    for _ in range(rnd.randrange(1, 6)):
        what = rnd.random()
        if what < 0.4 and b:
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        elif what < 0.6:
            b = b[:rnd.randrange(len(b) + 1)]
        elif what < 0.75 and len(b) >= 20:
            # an errno anywhere in int's range, INT_MIN included
            struct.pack_into("=i", b, 16, rnd.choice([-2 ** 31, 2 ** 31 - 1, -1, -9999, 0]))
        elif what < 0.9:
            b += bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))
        else:
            b = bytearray(rnd.randbytes(rnd.randrange(0, 64)))
    return bytes(b)


class Mutating(FakeKernel):
    def __init__(self, rnd):
        FakeKernel.__init__(self, self.answer)
        self.rnd = rnd

    def answer(self, t, cmd, seq, flags):
        out = good_reply(cmd, seq, flags)
        if not flags & nl.NLM_F_ACK and not flags & nl.NLM_F_DUMP and \
                cmd != spec.CMD_GET_SERVICE:
            out = []  # a quiet request of a batch: the kernel sends nothing
        if self.rnd is not None and self.rnd.random() < 0.7:
            out = [mutate(x, self.rnd) for x in out]
        return out

    def send(self, data):
        data = bytes(data)
        for m in nl.iter_messages(data):
            if m.type == nl.GENL_ID_CTRL:
                FakeKernel.send(self, data)
                continue
            self.pending.extend(self.answer(m.type, data[m.start], m.seq, m.flags))
        return len(data)

    def recv_into(self, buf, nbytes=0, flags=0):
        if not self.pending:
            if flags & 0x40:  # MSG_DONTWAIT: what the drain asks
                raise BlockingIOError()
            raise TimeoutError("the client waits for a reply nobody sends")
        data = self.pending.pop(0)
        n = min(len(data), len(buf))
        buf[:n] = data[:n]
        return len(data)


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.randoms(use_true_random=False), st.lists(st.integers(0, len(CALLS) - 1),
                                                   min_size=1, max_size=6))
def test_any_reply_gives_a_model_or_a_documented_error(rnd, calls):
    k = Mutating(rnd)
    c = ipvs.Client(sock=k)
    for i in calls:
        try:
            CALLS[i](c)
        except (ipvs.KernelError, ipvs.ProtocolError):
            pass
        except TimeoutError:
            pass  # a truncated reply: the fake has nothing more to send
        k.pending.clear() if rnd.random() < 0.2 else None


def test_errno_int_min_is_a_kernel_error():
    k = FakeKernel(lambda t, cmd, seq, flags: [
        hdr(nl.NLMSG_ERROR, nl.NLM_F_CAPPED, seq, struct.pack("=i", -2 ** 31) + bytes(16))])
    c = ipvs.Client(sock=k)
    with pytest.raises(ipvs.KernelError) as ei:
        c.add_service(SVC)
    assert ei.value.errno == 2 ** 31 and "Unknown error" in ei.value.strerror


def test_get_service_bad_reply_is_a_protocol_error():
    k = FakeKernel(lambda t, cmd, seq, flags: [
        hdr(FAMILY, 0, seq, bytes([spec.CMD_NEW_SERVICE, 1, 0, 0]) + nl.attr(1, b"\1\2\3"))
        + ack(seq)])
    with pytest.raises(ipvs.ProtocolError):
        ipvs.Client(sock=k).get_service(SVC)


def test_short_mcast_group_is_a_protocol_error():
    k = FakeKernel(lambda t, cmd, seq, flags: [daemon_msg(seq, b"\xe0\0") + done(seq)])
    with pytest.raises(ipvs.ProtocolError):
        ipvs.Client(sock=k).daemons()


def test_client_recovers_after_an_interrupted_exchange():
    """A KeyboardInterrupt between the request and its reply leaves the
    reply queued; the next call drains it and gets its own answer."""
    k = Mutating(None)
    k.answer = lambda t, cmd, seq, flags: good_reply(cmd, seq, flags)
    c = ipvs.Client(sock=k)
    real = k.recv_into
    state = {"armed": True}

    def interrupted(buf, nbytes=0, flags=0):
        if state["armed"] and not flags & 0x40:
            state["armed"] = False
            raise KeyboardInterrupt
        return real(buf, nbytes, flags)
    k.recv_into = interrupted
    with pytest.raises(KeyboardInterrupt):
        c.services()
    assert k.pending  # the dump's reply is still queued
    assert [s.port for s in c.services()] == [80, 81]
    assert c.timeouts() is not None
    # a batch cut short by a bad reply: the next request still works
    k.answer = lambda t, cmd, seq, flags: [ack(seq + 1000)]
    with pytest.raises(ipvs.ProtocolError):
        c.batch([("add_service", SVC)])
    k.answer = lambda t, cmd, seq, flags: good_reply(cmd, seq, flags)
    assert [s.port for s in c.services()] == [80, 81]
