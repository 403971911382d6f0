# Client: the library API over the transport.
#
# Rule: model objects in, model objects out. Requests are encoded by
# _requests, dumps decoded through the decoder seam (_decoder), sockets
# touched only by the transport (_transport).
from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import _struct as struct  # the C module: struct.py is one more file to read
from _operator import itemgetter  # the C module: operator.py is another file
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations stay strings
    from typing import Iterable, Iterator, List, Optional

    from ._status import Status
    from ._writelock import WriterLock

from . import _netlink as nl
from . import _spec as spec
from ._decoder import DONE, INTERRUPTED, decode_dests, decode_services
from ._errors import KernelError, ProtocolError
from ._model import (AF_INET, AF_INET6, Connection, Destination, Info, Service, Stats,
                     SyncDaemon, Timeouts, mapped, pack_address, stats_from, unpack_address)
from ._keys import service_key_nest
from ._records import DEST, SVC
from ._requests import OPERATIONS, encode_operation
from ._tablemethods import TableMethods
from ._transport import Conn

_U32 = struct.Struct("=I")


# ------------------------------------------------------- records -> model

def record_reader(cls, index, convert: dict):
    """f(record) -> a cls object, each field of cls.FIELD_MAP from its
    record field (`index`: the record's index constants, SVC, DEST);
    convert: {model field: f(record, index)} where the value differs. Built
    without __post_init__: the decoders have checked the bytes and
    unpack_address gives canonical text, so validating again would only cost
    time on huge tables (tests/test_replies.py checks they equal validated ones)."""
    plain = [(f, getattr(index, rec)) for f, rec in mapped(cls, "record") if f not in convert]
    names = tuple(f for f, _ in plain)
    get = itemgetter(*[i for _, i in plain], 0)  # a tuple even of one (zip drops 0)
    conv = tuple(convert.items())
    new = object.__new__

    def read(r):
        obj = new(cls)
        d = obj.__dict__
        d.update(zip(names, get(r)))
        for f, c in conv:
            d[f] = c(r, index)
        return obj
    return read


def _netmask(r, i):
    if r[i.af] == AF_INET6:
        return str(r[i.netmask])
    return socket.inet_ntop(AF_INET, _U32.pack(r[i.netmask]))


_SERVICE_READ = {
    "address": lambda r, i: None if r[i.fwmark] else unpack_address(r[i.af], r[i.addr]),
    "netmask": _netmask, "stats": lambda r, i: stats_from(r[i.stats])}
_DEST_READ = {"address": lambda r, i: unpack_address(r[i.af], r[i.addr]),
              "stats": lambda r, i: stats_from(r[i.stats])}
service_from_record = record_reader(Service, SVC, _SERVICE_READ)
dest_from_record = record_reader(Destination, DEST, _DEST_READ)


def dest_to_record(d: Destination) -> tuple:
    """The decoders' record of a destination (dest_from_record's inverse,
    from the same map): what ipvs.lines programs run over."""
    r = [0] * DEST._width
    for f, i in _DEST_RECORD:
        r[i] = getattr(d, f)
    r[DEST.addr] = pack_address(d.af, d.address).ljust(16, b"\0")
    st = d.stats or Stats()
    r[DEST.stats] = [getattr(st, f) for f in Stats._FIELDS]
    return tuple(r)


_DEST_RECORD = [(f, getattr(DEST, rec)) for f, rec in mapped(Destination, "record")
                if f not in _DEST_READ]


def daemon_from_attrs(a: dict) -> SyncDaemon:
    group = None
    try:
        if "mcast_group6" in a:
            group = socket.inet_ntop(AF_INET6, a["mcast_group6"][:16])
        elif "mcast_group" in a:
            group = socket.inet_ntop(AF_INET, a["mcast_group"][:4])
    except ValueError:  # shorter than an address
        raise ProtocolError("short multicast group attribute") from None
    return SyncDaemon(state=a.get("state", 0), mcast_ifn=a.get("mcast_ifn", ""),
                      syncid=a.get("sync_id", 0), sync_maxlen=a.get("sync_maxlen", 0),
                      mcast_group=group, mcast_port=a.get("mcast_port", 0),
                      mcast_ttl=a.get("mcast_ttl", 0))


# ------------------------------------------------------------------ client

class Client(TableMethods):
    """One connection to the kernel's IPVS. Use as a context manager.

    Every method raises KernelError (an OSError: .errno, and .strerror with
    the text ipvsadm prints) when the kernel refuses the operation.
    """

    def __init__(self, *, sock=None, netns: Optional[str] = None,
                 timeout: Optional[float] = None):
        """netns: a network namespace to work in instead of the caller's, a
        name (/run/netns/NAME, as `ip -n NAME`) or a path (see _netns), held
        open until close(); NetnsError if it cannot be opened or entered.
        timeout: seconds each receive from the kernel may wait before
        ProtocolError (None: no limit). sock: for tests, a socket-like fake
        kernel (tests/test_client_fake.py)."""
        self.netns = netns
        self._conn = Conn(spec.GENL_NAME, sock=sock, netns=netns, timeout=timeout)
        self.family = self._conn.family


    def writer_lock(self, wait: Optional[float] = None) -> "WriterLock":
        """Take the writers' lock of this client's network namespace (see
        ipvs._writelock) and return it, held until its release() (or the
        end of a `with` block, or of the process). wait: None fails at once
        (LockBusy) when another writer holds it; seconds (math.inf: no end)
        waits that long at most. Only writers that take it are kept apart."""
        from ._writelock import WriterLock
        lock = WriterLock(self._netns_inode())
        lock.acquire(wait)
        return lock

    def _netns_inode(self) -> int:
        import os
        from ._writelock import namespace_inode
        ns = self._conn.netns
        # the namespace held open, not its path again: a path may come to
        # name another namespace later
        return os.fstat(ns.fd).st_ino if ns is not None else namespace_inode()

    def killed_run(self):
        """The run of ours (--apply, -R --atomic) killed before its end
        whose journal is beside this namespace's writers' lock (a KilledRun
        of ipvs._journalfile: pid, command, total, answered, entries), or
        None. Read without the lock: a run still going is not one."""
        from ._journalfile import journal_path, read_killed
        from ._writelock import lock_path
        k = read_killed(journal_path(lock_path(self._netns_inode())))
        return k if k is not None and k.pending and not k.alive else None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- plumbing
    def _request(self, cmd: int, values: Optional[dict] = None, *, dump: bool = False,
                 operation: Optional[str] = None, reply_table: str = "cmd") -> List[dict]:
        msgs = self._conn.execute(
            lambda seq: spec.encode_request(self.family, cmd, values, dump=dump, seq=seq),
            dump=dump, operation=operation)
        out = []
        for m in msgs:
            _, pos = nl.genl_payload(m)
            try:
                out.append(spec.decode_attrs(reply_table, m.buf, pos, m.end))
            except nl.DecodeError as e:
                raise ProtocolError(str(e)) from None
        return out

    def _dump(self, cmd: int, values: dict, decode, extra, operation: str) -> list:
        """A dump decoded buffer by buffer through the decoder seam (the
        transport's request loop: retries, errors, draining)."""
        def feed(buf, ex: nl.Exchange) -> list:
            records, status, err = decode(buf, ex.seq, ex.pid, *extra)
            ex.settle(status & DONE, status & INTERRUPTED, err)
            return records
        return self._conn.execute(
            lambda seq: spec.encode_request(self.family, cmd, values, dump=True, seq=seq),
            dump=True, operation=operation, feed=feed)

    # -- general
    def info(self) -> Info:
        (a,) = self._request(spec.CMD_GET_INFO, operation="info", reply_table="info")[:1] or ({},)
        return Info(version=a.get("version", 0), conn_tab_size=a.get("conn_tab_size", 0))

    def _do(self, operation: str, *args) -> None:
        cmd, attrs = OPERATIONS[operation]
        self._request(cmd, attrs(*args), operation=operation)

    def batch(self, operations: Iterable[tuple]) -> List[Optional[KernelError]]:
        """Run many mutating operations with few system calls.

        operations: tuples (name, *arguments) with the name of a Client
        method, e.g. ("add_service", svc), ("add_destination", svc, dest).
        They reach the kernel in order, packed many to a send(); one that
        fails does not stop the ones after it. Returns, in order, None for
        each success and the KernelError (as the method would raise it) for
        each failure."""
        ops = [encode_operation(op) for op in operations]
        results = self._conn.execute_batch(self.family, spec.GENL_VERSION,
                                           [(op.cmd, op.attrs) for op in ops])
        return [None if r is None else KernelError(r.error, op.operation, r.msg)
                for op, r in zip(ops, results)]

    def flush(self) -> None:
        """Delete every service and destination."""
        self._do("flush")

    def zero(self, service: Optional[Service] = None) -> None:
        """Zero the counters of one service or of all."""
        self._do("zero", service)

    # -- services
    def services(self) -> List[Service]:
        return [service_from_record(r) for r in self.service_records()]

    def service_records(self) -> list:
        """The raw service records (fast path for listings)."""
        return self._dump(spec.CMD_GET_SERVICE, {}, decode_services, (), "list_services")

    def get_service(self, service: Service) -> Service:
        """The kernel's current view of one service (with stats)."""
        values = {"service": service_key_nest(service)}
        msgs = self._conn.execute(
            lambda seq: spec.encode_request(self.family, spec.CMD_GET_SERVICE, values, seq=seq),
            operation="get_service")
        if not msgs:
            raise ProtocolError("no reply to GET_SERVICE")
        m = msgs[0]
        # re-frame the single message so the seam decoder can read it
        raw = bytes(m.buf[m.start - 16:m.end])
        try:
            recs, _, _ = decode_services(raw, m.seq, m.pid)
        except nl.DecodeError as e:
            raise ProtocolError(str(e)) from None
        if not recs:
            raise ProtocolError("GET_SERVICE reply without a service")
        return service_from_record(recs[0])

    def add_service(self, service: Service) -> None:
        self._do("add_service", service)

    def edit_service(self, service: Service) -> None:
        self._do("edit_service", service)

    def delete_service(self, service: Service) -> None:
        self._do("delete_service", service)

    # -- destinations
    def destinations(self, service: Service) -> List[Destination]:
        return [dest_from_record(r) for r in self.destination_records(service)]

    def destination_records(self, service: Service) -> list:
        return self._dump(spec.CMD_GET_DEST, {"service": service_key_nest(service)},
                          decode_dests, (service.af,), "list_destinations")

    def add_destination(self, service: Service, dest: Destination) -> None:
        self._do("add_destination", service, dest)

    def edit_destination(self, service: Service, dest: Destination) -> None:
        self._do("edit_destination", service, dest)

    def delete_destination(self, service: Service, dest: Destination) -> None:
        self._do("delete_destination", service, dest)

    # -- timeouts
    def timeouts(self) -> Timeouts:
        res = self._request(spec.CMD_GET_CONFIG, operation="get_timeouts")
        a = res[0] if res else {}
        return Timeouts(tcp=a.get("timeout_tcp", 0), tcp_fin=a.get("timeout_tcp_fin", 0),
                        udp=a.get("timeout_udp", 0))

    def set_timeouts(self, timeouts: Timeouts) -> None:
        """Set connection timeouts; a field of 0 leaves that timeout unchanged."""
        self._do("set_timeouts", timeouts)

    # -- sync daemons
    def daemons(self) -> List[SyncDaemon]:
        res = self._request(spec.CMD_GET_DAEMON, dump=True, operation="get_daemons")
        return [daemon_from_attrs(a["daemon"]) for a in res if "daemon" in a]

    def start_daemon(self, daemon: SyncDaemon) -> None:
        self._do("start_daemon", daemon)

    def stop_daemon(self, daemon: SyncDaemon) -> None:
        self._do("stop_daemon", daemon)

    # -- connections
    def connections(self, path: Optional[str] = None) -> Iterator[Connection]:
        """Stream the connection table (IPVS has no netlink command for it):
        /proc/net/ip_vs_conn of this client's network namespace."""
        from ._conns import iter_connections
        if path is None and self._conn.netns is not None:
            return self._netns_connections()
        return iter_connections(path or "/proc/net/ip_vs_conn")

    def _netns_connections(self) -> Iterator[Connection]:
        # a generator: the file is opened (in the namespace) on first use
        # and closed with the generator, never left open by a lazy caller
        from ._conns import iter_connections
        yield from iter_connections(self.connections_file())

    def connections_file(self):
        """What to open for the connection table: a path, or (in another
        namespace) a file descriptor opened there, which the reader closes."""
        return self.proc_file("ip_vs_conn")

    def proc_file(self, name: str):
        """What to open for /proc/net/NAME of this client's namespace: a
        path, or a file descriptor opened in the namespace (the reader
        closes it)."""
        ns = self._conn.netns
        return "/proc/net/" + name if ns is None else ns.open("/proc/thread-self/net/" + name)

    # -- kernel status (see _status)
    def _sysctl_texts(self, names=None) -> dict:
        from ._status import read_sysctls
        ns = self._conn.netns
        return read_sysctls(names) if ns is None else ns.run(lambda: read_sysctls(names))

    def sysctls(self) -> dict:
        """{name: value} of every net.ipv4.vs sysctl of this client's
        namespace (numbers as int, lists such as est_cpulist as text)."""
        from ._status import parse_sysctl
        return {k: parse_sysctl(v) for k, v in sorted(self._sysctl_texts().items())}

    def estimating(self) -> bool:
        """Does the kernel estimate rates (sysctl run_estimation, 6.x)? When
        not, every rate (cps, inpps, ...) reads 0 and means nothing."""
        from ._status import estimating
        return estimating(self._sysctl_texts(("run_estimation",)))

    def status(self) -> "Status":
        """IPVS's state in this kernel beyond the rules: version, table
        sizes and load factors (/proc/net/ip_vs_status, 7.x), estimator
        state and every net.ipv4.vs sysctl (ipvs.Status)."""
        from ._status import STATUS_FILE, make_status
        info = self.info()
        try:
            with open(self.proc_file(STATUS_FILE), "rb") as f:
                text = f.read().decode("ascii", "replace")
        except OSError:  # kernels before 7.x have no such file
            text = None
        return make_status(version=info.version_string, conn_tab_size=info.conn_tab_size,
                           status_text=text, sysctls=self._sysctl_texts())
