"""The Client and transport against a fake kernel.

The fake is a socket-like object driven by a function from one request to
its reply buffers (the idea of mdlayher/netlink's nltest). It covers what the
real kernel will not do on demand: interrupted dumps, EINTR, replies out of
sequence, a missing IPVS family. Everything else is proven in tests/kernel.
"""
import errno
import struct

import pytest

import ipvs
from ipvs import _netlink as nl
from ipvs import _spec as spec
from ipvs._transport import DUMP_RETRIES

FAMILY = 0x2A
PID = 4242


def hdr(mtype, flags, seq, payload):
    return struct.pack("=IHHII", 16 + len(payload), mtype, flags, seq, PID) + payload + \
        b"\0" * (-len(payload) % 4)


def ack(seq, err=0):
    return hdr(nl.NLMSG_ERROR, nl.NLM_F_CAPPED, seq, struct.pack("=i", -err) + b"\0" * 16)


def done(seq, err=0, flags=nl.NLM_F_MULTI):
    return hdr(nl.NLMSG_DONE, flags, seq, struct.pack("=i", -err))


def family_reply(seq):
    body = bytes([1, 2, 0, 0]) + nl.attr(nl.CTRL_ATTR_FAMILY_ID, struct.pack("=H", FAMILY)) + \
        nl.attr(nl.CTRL_ATTR_FAMILY_NAME, b"IPVS\0")
    return hdr(nl.GENL_ID_CTRL, 0, seq, body)


def service_msg(seq, port, flags=nl.NLM_F_MULTI):
    svc = spec.encode_attrs("service", {
        "af": 2, "protocol": 6, "addr": bytes([10, 0, 0, 1]) + bytes(12), "port": port,
        "sched_name": "rr", "flags": (2, 0xFFFFFFFF), "timeout": 0,
        "netmask": b"\xff" * 4,
        "stats64": {f: 0 for f in spec.STATS_FIELDS},
        "stats": {f: 0 for f in spec.STATS_FIELDS}})
    return hdr(FAMILY, flags, seq, bytes([spec.CMD_NEW_SERVICE, 1, 0, 0]) + nl.nested(1, svc))


def _is_success_ack(buf):
    m = next(nl.iter_messages(buf))
    return m.type == nl.NLMSG_ERROR and nl.decode_error(m).error == 0


class FakeKernel:
    """Answers each request with handler(type, cmd, seq, flags) -> [buffers]."""

    def __init__(self, handler):
        self.handler = handler
        self.pending = []
        self.requests = []
        self.sends = 0
        self.eintr = 0

    # the socket API the transport uses
    def setsockopt(self, *a):
        pass

    def bind(self, addr):
        pass

    def getsockname(self):
        return (PID, 0)

    def close(self):
        pass

    def send(self, data):
        data = bytes(data)
        self.sends += 1
        for m in nl.iter_messages(data):  # the kernel handles each message in turn
            cmd = data[m.start]
            self.requests.append((m.type, cmd, m.flags))
            if m.type == nl.GENL_ID_CTRL:
                self.pending.append(family_reply(m.seq) + ack(m.seq))
            else:
                replies = self.handler(m.type, cmd, m.seq, m.flags)
                if not m.flags & nl.NLM_F_ACK:
                    # as netlink_rcv_skb: an error always, a success only when asked
                    replies = [r for r in replies if not _is_success_ack(r)]
                self.pending.extend(replies)
        return len(data)

    def recv_into(self, buf, nbytes=0, flags=0):
        if self.eintr:
            self.eintr -= 1
            raise InterruptedError()
        data = self.pending.pop(0)
        buf[:len(data)] = data
        return len(data)


def test_family_resolved_once_and_requests_reuse_the_socket():
    fake = FakeKernel(lambda t, cmd, seq, f: [ack(seq)])
    c = ipvs.Client(sock=fake)
    c.flush()
    c.zero()
    assert c.family == FAMILY
    assert [r[:2] for r in fake.requests] == [(nl.GENL_ID_CTRL, nl.CTRL_CMD_GETFAMILY),
                                             (FAMILY, spec.CMD_FLUSH), (FAMILY, spec.CMD_ZERO)]


def test_missing_family_is_not_available():
    class NoIPVS(FakeKernel):
        def send(self, data):
            seq = struct.unpack_from("=I", data, 8)[0]
            self.pending.append(ack(seq, errno.ENOENT))
            return len(data)
    with pytest.raises(ipvs.NotAvailableError) as ei:
        ipvs.Client(sock=NoIPVS(None))
    assert ei.value.errno == errno.ENOPROTOOPT
    assert "load ip_vs" in ei.value.hint


def test_interrupted_dump_is_restarted():
    calls = []

    def handler(t, cmd, seq, flags):
        calls.append(seq)
        if len(calls) == 1:  # the table changed under the first dump
            return [service_msg(seq, 80, nl.NLM_F_MULTI | nl.NLM_F_DUMP_INTR), done(seq)]
        return [service_msg(seq, 80) + service_msg(seq, 81), done(seq)]
    c = ipvs.Client(sock=FakeKernel(handler))
    assert [s.port for s in c.services()] == [80, 81]
    assert len(calls) == 2 and calls[0] != calls[1]


def test_dump_interrupted_every_time_gives_up():
    fake = FakeKernel(lambda t, cmd, seq, f: [
        service_msg(seq, 80, nl.NLM_F_MULTI | nl.NLM_F_DUMP_INTR), done(seq)])
    c = ipvs.Client(sock=fake)
    with pytest.raises(ipvs.ProtocolError):
        c.services()
    assert len(fake.requests) == 1 + DUMP_RETRIES


def test_eintr_is_retried():
    fake = FakeKernel(lambda t, cmd, seq, f: [ack(seq)])
    c = ipvs.Client(sock=fake)
    fake.eintr = 3
    c.flush()
    assert fake.eintr == 0


def test_reply_out_of_sequence_is_a_protocol_error():
    fake = FakeKernel(lambda t, cmd, seq, f: [ack(seq + 1)])
    c = ipvs.Client(sock=fake)
    with pytest.raises(ipvs.ProtocolError):
        c.flush()


def test_kernel_error_carries_ipvsadm_text():
    fake = FakeKernel(lambda t, cmd, seq, f: [ack(seq, errno.EEXIST)])
    c = ipvs.Client(sock=fake)
    with pytest.raises(ipvs.KernelError) as ei:
        c.add_service(ipvs.Service(protocol="tcp", address="10.0.0.1", port=80))
    assert isinstance(ei.value, OSError)
    assert (ei.value.errno, str(ei.value)) == (errno.EEXIST, "Service already exists")


def test_dump_error_in_done():
    fake = FakeKernel(lambda t, cmd, seq, f: [done(seq, errno.ESRCH)])
    c = ipvs.Client(sock=fake)
    with pytest.raises(ipvs.KernelError) as ei:
        c.services()
    assert ei.value.errno == errno.ESRCH and ei.value.strerror == "No such service"


def test_batch_packs_requests_and_matches_acks():
    svcs = [ipvs.Service(protocol="tcp", address="10.0.0.1", port=p) for p in range(1, 301)]

    seen = []

    def handler(t, cmd, seq, flags):
        # the kernel refuses the 150th request; the rest go through
        seen.append(seq)
        return [ack(seq, errno.EEXIST if len(seen) == 150 else 0)]
    fake = FakeKernel(handler)
    c = ipvs.Client(sock=fake)
    sends_before = fake.sends
    ops = [("add_service", s) for s in svcs] + \
        [("add_destination", svcs[0], ipvs.Destination(address="10.0.1.1", port=80))]
    results = c.batch(ops)
    assert len(results) == 301
    failed = [i for i, r in enumerate(results) if r is not None]
    assert failed == [149]
    err = results[149]
    assert isinstance(err, ipvs.KernelError)
    assert (err.errno, err.strerror) == (errno.EEXIST, "Service already exists")
    assert [r[1] for r in fake.requests[-301:]] == [spec.CMD_NEW_SERVICE] * 300 + [
        spec.CMD_NEW_DEST]
    sends = fake.sends - sends_before
    assert sends < 10  # many requests to a send()
    # only the last request of each send asks for an ack
    asking = [i for i, r in enumerate(fake.requests[-301:]) if r[2] & nl.NLM_F_ACK]
    assert len(asking) == sends and asking[-1] == 300


def test_batch_rejects_a_stray_reply():
    fake = FakeKernel(lambda t, cmd, seq, f: [ack(seq + 1000)])
    c = ipvs.Client(sock=fake)
    with pytest.raises(ipvs.ProtocolError):
        c.batch([("flush",)])


@pytest.mark.parametrize("operation,err,text", [
    ("add_destination", errno.EEXIST, "Destination already exists"),
    ("edit_destination", errno.ENOENT, "No such destination"),
    ("start_daemon", errno.EEXIST, "Daemon has already run"),
    ("flush", errno.EPERM, "Permission denied (you must be root)"),
    ("flush", errno.EINVAL,
     "Invalid operation.  Possibly wrong module version, address not unicast, ..."),
    ("flush", errno.EBUSY, "Device or resource busy"),
])
def test_strerror_table(operation, err, text):
    assert ipvs.ipvs_strerror(operation, err) == text


def dest_msg(seq, port, flags=nl.NLM_F_MULTI):
    d = spec.encode_attrs("dest", {
        "addr": bytes([10, 9, 0, port & 0xFF]) + bytes(12), "port": port, "fwd_method": 0,
        "weight": 1, "u_thresh": 0, "l_thresh": 0, "active_conns": port, "inact_conns": 0,
        "persist_conns": 0, "addr_family": 2,
        "stats64": {f: port for f in spec.STATS_FIELDS}})
    return hdr(FAMILY, flags, seq, bytes([spec.CMD_NEW_DEST, 1, 0, 0]) + nl.nested(2, d))


def table_kernel(interrupt_first=False, gone=None):
    """Services on ports 80..82, service p with real servers p*10 .. p*10+p%3;
    GET_DEST requests are told apart by their order (the fake does not
    parse attributes)."""
    state = {"dumps": 0, "interrupted": False}

    def handler(t, cmd, seq, flags):
        if cmd == spec.CMD_GET_SERVICE:
            return [b"".join(service_msg(seq, p) for p in (80, 81, 82)), done(seq)]
        i = state["dumps"] % 3
        state["dumps"] += 1
        p = 80 + i
        if gone == p:
            return [ack(seq, errno.ESRCH)]
        flag = nl.NLM_F_MULTI
        if interrupt_first and i == 1 and not state["interrupted"]:
            state["interrupted"] = True
            flag |= nl.NLM_F_DUMP_INTR
        msgs = b"".join(dest_msg(seq, p * 10 + k, flag) for k in range(p % 3))
        return ([msgs] if msgs else []) + [done(seq)]
    return FakeKernel(handler)


def test_entries_are_the_per_service_listing_in_one_go():
    one = ipvs.Client(sock=table_kernel())
    slow = [(s, one.destinations(s)) for s in one.services()]
    fake = table_kernel()
    c = ipvs.Client(sock=fake)
    assert c.entries() == slow
    assert [len(ds) for _, ds in slow] == [2, 0, 1]
    sent = [r for r in fake.requests if r[1] == spec.CMD_GET_DEST]
    assert len(sent) == 3 and all(f & nl.NLM_F_DUMP for _, _, f in sent)


def test_entries_read_an_interrupted_dump_again():
    c = ipvs.Client(sock=table_kernel(interrupt_first=True))
    got = c.entries()
    assert [[d.port for d in ds] for _, ds in got] == [[800, 801], [], [820]]


def test_entries_raise_the_kernel_error_and_the_client_goes_on():
    fake = table_kernel(gone=81)
    c = ipvs.Client(sock=fake)
    with pytest.raises(ipvs.KernelError) as ei:
        c.entries()
    assert ei.value.errno == errno.ESRCH and ei.value.strerror == "No such service"
    fake.handler = table_kernel().handler
    assert [len(ds) for _, ds in c.entries()] == [2, 0, 1]


def test_entries_with_eintr():
    fake = table_kernel()
    c = ipvs.Client(sock=fake)
    services = c.services()
    fake.eintr = 2
    assert [len(ds) for _, ds in c.entries(services)] == [2, 0, 1]


def test_entries_send_the_requests_destinations_sends():
    """The bulk path's requests (bodies packed once, headers by the
    transport) are the bytes the one-service request encodes, but for the
    sequence number."""
    class Recording(FakeKernel):
        raw = []

        def send(self, data):
            for m in nl.iter_messages(bytes(data)):
                if data[m.start] == spec.CMD_GET_DEST:
                    self.raw.append(bytes(data[m.start - 16:m.end]))
            return FakeKernel.send(self, data)
    fake = Recording(table_kernel().handler)
    c = ipvs.Client(sock=fake)
    services = c.services() + [ipvs.Service(protocol="udp", address="2001:db8::9", port=53),
                               ipvs.Service(fwmark=3, af=10)]
    for s in services:
        try:
            c.destinations(s)
        except ipvs.KernelError:
            pass
    one = list(fake.raw)
    fake.raw.clear()
    try:
        c.entries(services)
    except ipvs.KernelError:
        pass
    strip = [r[:8] + r[12:] for r in one]
    assert [r[:8] + r[12:] for r in fake.raw] == strip and len(strip) == 5
    # the scrape's path: the services' records instead of objects
    fake.raw.clear()
    assert c.destination_chunks(c.service_records(), []) == []
    assert [r[:8] + r[12:] for r in fake.raw] == strip[:3]


@pytest.mark.parametrize("seed", range(20))
def test_a_records_key_is_its_objects_key(seed):
    """record_key_payload (the key a scrape sends for a service record) is
    service_key_payload's bytes for the object: every family and kind."""
    import memkernel
    import tablegen
    from ipvs._keys import record_key_payload, service_key_payload
    k = memkernel.MemKernel(tablegen.random_table(tablegen.seeded(seed)))
    services, records = k.services(), k.service_records()
    assert len(services) == len(records)
    for s, r in zip(services, records):
        assert record_key_payload(r) == service_key_payload(s), s


def churn_kernel(later=(80, 82), gone=None):
    """table_kernel's table, but every services dump after the first lists
    only `later`: a service removed while the real servers were read (the
    kernels seen answer its real-server dump with no real server; `gone`:
    a port whose dump answers ESRCH instead)."""
    inner = table_kernel(gone=gone).handler
    state = {"services": 0}

    def handler(t, cmd, seq, flags):
        if cmd == spec.CMD_GET_SERVICE:
            state["services"] += 1
            ports = (80, 81, 82) if state["services"] == 1 else later
            return [b"".join(service_msg(seq, p) for p in ports), done(seq)]
        return inner(t, cmd, seq, flags)
    return FakeKernel(handler), state


def test_live_listing_leaves_out_a_service_gone_between_the_dumps():
    fake, state = churn_kernel()
    c = ipvs.Client(sock=fake)
    got = c.live_entries()
    assert [(s.port, [d.port for d in ds]) for s, ds in got] == [(80, [800, 801]), (82, [820])]
    assert state["services"] == 2  # the second dump: only because one came back empty
    # still there after: an empty service is an empty service
    fake, state = churn_kernel(later=(80, 81, 82))
    got = ipvs.Client(sock=fake).live_entries()
    assert [(s.port, len(ds)) for s, ds in got] == [(80, 2), (81, 0), (82, 1)]


def test_live_listing_leaves_out_a_service_that_answers_no_such_service():
    fake, state = churn_kernel(later=(80, 81), gone=82)
    c = ipvs.Client(sock=fake)
    assert [(s.port, len(ds)) for s, ds in c.live_entries()] == [(80, 2), (81, 0)]
    # the listing that keeps ipvsadm's behaviour fails as ipvsadm fails
    fake.handler = churn_kernel(later=(80, 81), gone=82)[0].handler
    with pytest.raises(ipvs.KernelError) as ei:
        c.entries()
    assert ei.value.strerror == "No such service"


def test_live_listing_raises_other_kernel_errors():
    fake = table_kernel(gone=81)
    base = fake.handler

    def handler(t, cmd, seq, flags):
        got = base(t, cmd, seq, flags)
        if cmd == spec.CMD_GET_DEST and got[0] == ack(seq, errno.ESRCH):
            return [ack(seq, errno.EPERM)]
        return got
    fake.handler = handler
    with pytest.raises(ipvs.KernelError) as ei:
        ipvs.Client(sock=fake).live_entries()
    assert ei.value.errno == errno.EPERM


def test_scrape_leaves_out_a_service_gone_between_the_dumps():
    from ipvs import metrics as M
    fake, _ = churn_kernel()
    text = M.collect_metrics(ipvs.Client(sock=fake))
    assert 'local_port="81"' not in text and "node_ipvs_services 2\n" in text
    assert 'node_ipvs_backend_weight{local_address="10.0.0.1",local_port="82",' \
           'remote_address="10.9.0.52",remote_port="820",proto="TCP",local_mark=""} 1' in text
