"""An in-memory stand-in for the kernel's IPVS table, for host tests of
plans and applies: the Client methods _plan uses, with the kernel's
refusals (EEXIST, ESRCH, ENOENT) and optional injected failures."""
import errno

from ipvs._errors import KernelError
from ipvs._model import SVC_F_HASHED, Stats, Timeouts


def decode_encoded(op):
    """An operation tuple back from an EncodedOp (what ipvsadm -R hands
    to the kernel), through the library's own decoder tables; any other
    operation as it is."""
    import socket
    from ipvs import Destination, Service, Timeouts
    from ipvs import _spec as spec
    from ipvs._requests import EncodedOp
    from ipvs._model import unpack_address
    if type(op) is not EncodedOp:
        return op
    a = spec.decode_attrs("cmd", op.attrs)
    if op.operation == "set_timeouts":
        return (op.operation, Timeouts(tcp=a.get("timeout_tcp", 0),
                                       tcp_fin=a.get("timeout_tcp_fin", 0),
                                       udp=a.get("timeout_udp", 0)))
    if "service" not in a:  # flush, or zero of everything
        assert op.operation in ("flush", "zero"), op.operation
        return (op.operation,)
    s = a["service"]
    if s.get("fwmark"):
        svc = Service(af=s["af"], fwmark=s["fwmark"])
    else:
        svc = Service(af=s["af"], protocol=s["protocol"],
                      address=unpack_address(s["af"], s["addr"]), port=s["port"])
    if op.operation in ("add_service", "edit_service"):
        mask = s["netmask"]
        svc = svc.replace(scheduler=s["sched_name"], flags=s["flags"][0], timeout=s["timeout"],
                          pe_name=s.get("pe_name", ""),
                          netmask=socket.inet_ntop(socket.AF_INET, mask) if svc.af == socket.AF_INET
                          else str(int.from_bytes(mask, "little")))
    if "dest" not in a:
        return (op.operation, svc)
    d = a["dest"]
    return (op.operation, svc, Destination(
        address=unpack_address(d["addr_family"], d["addr"]), port=d["port"], af=d["addr_family"],
        fwd_method=d["fwd_method"], weight=d["weight"], u_threshold=d["u_thresh"],
        l_threshold=d["l_thresh"], tun_type=d["tun_type"], tun_port=d["tun_port"],
        tun_flags=d["tun_flags"]))


class MemConn:
    """What ipvs._fastrestore.RuleBatch uses of a Client's transport
    (Conn): sequence numbers and execute_packed(), whose requests, real
    netlink messages, are decoded back to operations (decode_encoded) and
    run by the kernel's batch()."""

    def __init__(self, kernel):
        self.kernel, self._seq = kernel, 0

    def peek_seq(self):
        return self._seq + 1

    def next_seq(self):
        self._seq += 1
        return self._seq

    def next_seqs(self, n):
        first, self._seq = self._seq + 1, self._seq + n
        return range(first, first + n)

    def execute_packed(self, buf, first, count, last):
        from ipvs import _netlink as nl
        from ipvs._requests import OPERATIONS, EncodedOp
        names = {cmd: name for name, (cmd, _) in OPERATIONS.items()}
        ops, seqs, pos = [], [], 0
        for _ in range(count):
            n, _, flags, seq, _ = nl.NLMSG_HDR.unpack_from(buf, pos)
            assert flags == nl.NLM_F_REQUEST  # (Conn.execute_packed asks for the last ack)
            cmd = buf[pos + nl.NLMSG_HDR.size]
            body = pos + nl.NLMSG_HDR.size + nl.GENL_HDR.size
            ops.append(EncodedOp(names[cmd], cmd, bytes(buf[body:pos + n])))
            seqs.append(seq)
            pos += nl.align4(n)
        assert seqs == list(range(first, first + count)) and pos == len(buf)
        return {seq: nl.ErrorInfo(e.errno, "", None)
                for seq, e in zip(seqs, self.kernel.batch(ops)) if e is not None}


class MemKernel:
    def __init__(self, table=(), *, fail=None):
        """fail: a function (operation name, args) -> errno or None, to
        refuse chosen operations."""
        self.svcs = {}
        for s, ds in table:
            self.svcs[s.key] = (s.replace(flags=s.flags | SVC_F_HASHED),
                                {d.key: d for d in ds})
        self.fail = fail
        self.log = []  # every operation run, in order
        self.sends = 0
        self._timeouts = Timeouts(tcp=900, tcp_fin=120, udp=300)
        self._daemons = []
        self.observers = []  # called with self after each operation
        self.between_dumps = []  # called with self inside live_listing
        self.family = 0x1234  # (any: nothing leaves this process)
        self._conn = MemConn(self)

    # reads
    def services(self):
        return [s for s, _ in self.svcs.values()]

    def destinations(self, svc):
        if svc.key not in self.svcs:
            raise KernelError(errno.ESRCH, "list_destinations")
        return list(self.svcs[svc.key][1].values())

    def entries(self, services=None):
        if services is None:
            services = self.services()
        return [(s, self.destinations(s)) for s in services]

    def service_records(self):
        """The decoders' records of this table's services (fields
        ipvs._records.SVC), as the kernel reports them."""
        import _socket as socket  # (socket.py would import enum: see test_about)
        import _struct as struct  # (struct.py: one more file, see test_about)
        from ipvs._model import pack_address
        from ipvs._records import SVC
        out = []
        for s in self.services():
            r = [0] * SVC._width
            for f in ("af", "protocol", "port", "fwmark", "flags", "timeout", "pe_name"):
                r[getattr(SVC, f)] = getattr(s, f)
            r[SVC.addr] = pack_address(s.af, s.address)
            r[SVC.sched_name] = s.scheduler
            r[SVC.netmask] = int(s.netmask) if s.af == socket.AF_INET6 else \
                struct.unpack("=I", socket.inet_aton(s.netmask))[0]
            st = s.stats or Stats()
            r[SVC.stats] = [getattr(st, f) for f in Stats._FIELDS]
            out.append(tuple(r))
        return out

    def service_table(self):
        """Client.service_table: the records, none in C's layout."""
        return self.service_records(), None

    def table_lines(self, head, program, **kw):
        from ipvs._tablemethods import TableMethods
        return TableMethods.table_lines(self, head, program, **kw)

    def destination_chunks(self, services, lines):
        """Client.destination_chunks over this table's objects (as records),
        a listing in chunks of a few lines each (so a consumer that joins
        them wrongly shows); services as objects or as records."""
        from ipvs._client import service_from_record
        from ipvs.lines import dest_record, render_groups
        services = [service_from_record(s) if type(s) is tuple else s for s in services]
        records = [[dest_record(d) for d in self.destinations(s)] for s in services]
        out = []
        for p, t, s, g in lines:
            text = render_groups(p, t, records, s, g).encode("latin-1")
            out.append(iter([text[i:i + 100] for i in range(0, len(text), 100)]))
        return out

    def live_listing(self, lines=None):
        """Client.live_listing over this table: between the services dump
        and the real servers' dumps the observers of "between_dumps" run
        (a test deletes services there); a service gone by then answers
        ESRCH, as this fake's destinations() does, and is left out."""
        from ipvs._client import service_from_record
        from ipvs.lines import dest_record, render_groups
        records = self.service_records()
        made = None if lines is None else lines(records)
        for f in list(self.between_dumps):
            f(self)
        kept, dests, groups = [], [], []
        for r in records:
            try:
                ds = [dest_record(d) for d in self.destinations(service_from_record(r))]
            except KernelError as e:
                if e.errno not in (errno.ENOENT, errno.ESRCH):
                    raise
                groups.append([])  # (in the listings: a vanished one adds no line)
                continue
            kept.append(r)
            dests.append(ds)
            groups.append(ds)
        if made is None:
            return kept, dests
        out = []
        for p, t, s, g in made:
            text = render_groups(p, t, groups, s, g).encode("latin-1")
            out.append(iter([text[i:i + 100] for i in range(0, len(text), 100)]))
        return kept, out

    def live_entries(self):
        from ipvs._client import dest_from_record, service_from_record
        records, dests = self.live_listing()
        return [(service_from_record(s), [dest_from_record(r) for r in ds])
                for s, ds in zip(records, dests)]

    def timeouts(self):
        return self._timeouts

    def set_timeouts(self, t):
        # as the kernel: a field of 0 leaves that timeout unchanged
        old = self._timeouts
        self._timeouts = Timeouts(tcp=t.tcp or old.tcp, tcp_fin=t.tcp_fin or old.tcp_fin,
                                  udp=t.udp or old.udp)

    def daemons(self):
        return list(self._daemons)

    def stop_daemon(self, d):
        # the kernel stops a daemon by its state (master/backup) alone
        left = [x for x in self._daemons if x.state != d.state]
        if len(left) == len(self._daemons):
            raise KernelError(errno.ESRCH, "stop_daemon")
        self._daemons = left

    def start_daemon(self, d):
        self._daemons.append(d)

    def get_service(self, svc):
        if svc.key not in self.svcs:
            raise KernelError(errno.ESRCH, "get_service")
        return self.svcs[svc.key][0]

    # writes: one operation a call (what a Journal runs), or batch()
    def _call(self, name, *args):
        op = (name,) + args
        self.log.append(op)
        self.sends += 1
        self._run(*op)
        for f in self.observers:
            f(self)

    def flush(self):
        self.log.append(("flush",))
        self.svcs.clear()

    def zero(self, s=None):
        self.log.append(("zero", s))

    def add_service(self, s):
        self._call("add_service", s)

    def edit_service(self, s):
        self._call("edit_service", s)

    def delete_service(self, s):
        self._call("delete_service", s)

    def add_destination(self, s, d):
        self._call("add_destination", s, d)

    def edit_destination(self, s, d):
        self._call("edit_destination", s, d)

    def delete_destination(self, s, d):
        self._call("delete_destination", s, d)

    def _run(self, name, *args):
        if self.fail is not None:
            err = self.fail(name, args)
            if err:
                raise KernelError(err, name)
        svc = args[0]
        k = svc.key
        if name == "add_service":
            if k in self.svcs:
                raise KernelError(errno.EEXIST, name)
            self.svcs[k] = (svc.replace(flags=svc.flags | SVC_F_HASHED), {})
        elif name == "edit_service":
            if k not in self.svcs:
                raise KernelError(errno.ESRCH, name)
            self.svcs[k] = (svc.replace(flags=svc.flags | SVC_F_HASHED), self.svcs[k][1])
        elif name == "delete_service":
            if k not in self.svcs:
                raise KernelError(errno.ESRCH, name)
            del self.svcs[k]
        else:
            if k not in self.svcs:
                raise KernelError(errno.ESRCH, name)
            dests = self.svcs[k][1]
            d = args[1]
            if name == "add_destination":
                if d.key in dests:
                    raise KernelError(errno.EEXIST, name)
                dests[d.key] = d
            elif name == "edit_destination":
                if d.key not in dests:
                    raise KernelError(errno.ENOENT, name)
                dests[d.key] = d
            elif name == "delete_destination":
                if d.key not in dests:
                    raise KernelError(errno.ENOENT, name)
                del dests[d.key]
            else:
                raise AssertionError(name)

    def batch(self, ops):
        self.sends += 1
        out = []
        for op in map(decode_encoded, ops):
            self.log.append(op)
            try:
                self._run(*op)
                out.append(None)
            except KernelError as e:
                out.append(e)
            for f in self.observers:
                f(self)
        return out
