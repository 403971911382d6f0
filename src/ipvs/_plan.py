# Plans: the fewest kernel operations that turn one table into another.
#
# Rule: planning is a pure function over model objects (no I/O), so it is
# tested against an in-memory table on the host; only apply(), the Journal
# (which undoes our own operations, see "undoing") and the snapshot helpers
# talk to a Client. What the kernel lets us change in place
# is edited in place (SET_SERVICE: scheduler, flags, timeout, netmask, pe;
# SET_DEST: forwarding, weight, thresholds, tunnel); a changed key is a new
# object (add, then delete). Never a flush.
#
# Order (a service that is in both tables never disappears, and one that
# keeps destinations never runs with none): new services with their
# destinations; then, per kept service, its edit, new destinations, edited
# ones, removed ones; last, removed services (deleting a service deletes its
# destinations, so they cost nothing extra).
from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

from ._base import IPVSError
from ._model import (AF_INET6, FWD_MASK, PROTOCOL_NAMES, SVC_F_HASHED, Destination,
                     Service, SyncDaemon, Timeouts)

Table = List[Tuple[Service, List[Destination]]]  # (service, its destinations), in order


@dataclasses.dataclass(frozen=True)
class Operation:
    """One kernel operation of a plan: `name` is a Client method
    (add_service, edit_service, delete_service, add_destination,
    edit_destination, delete_destination)."""
    name: str
    service: Service
    destination: Optional[Destination] = None

    def batch_args(self) -> tuple:
        """The tuple Client.batch() takes."""
        if self.destination is None:
            return (self.name, self.service)
        return (self.name, self.service, self.destination)

    def command(self) -> str:
        """The ipvsadm command line (numeric, without the program name)."""
        return operation_command(self)

    def __str__(self) -> str:
        return self.command()


class PlanError(IPVSError, ValueError):
    """A target table that no sequence of operations can reach (a service
    or destination given twice)."""


class ApplyError(IPVSError):
    """An operation of an apply failed. `operation` is the Operation,
    `error` what stopped it (the KernelError, or any other exception met
    before or while it ran: a ProtocolError, an Interrupted), `index` its
    position in the plan; `rolled_back` tells whether our own operations
    were all undone (False: `rollback_errors` lists what could not be put
    back, UndoFailure objects for an atomic apply)."""

    def __init__(self, operation: Operation, error: Exception, index: int,
                 rolled_back: bool, rollback_errors=()):
        self.operation = operation
        self.error = error
        self.index = index
        self.rolled_back = rolled_back
        self.rollback_errors = list(rollback_errors)
        state = "table restored" if rolled_back else "ROLLBACK INCOMPLETE"
        IPVSError.__init__(self, "%s: %s (%s)" % (operation.command(), error, state))


# --------------------------------------------------------------- comparing

def service_settings(s: Service) -> tuple:
    """What SET_SERVICE can change. The kernel reports its internal
    'hashed' flag; it is not part of a rule."""
    return (s.scheduler, s.flags & ~SVC_F_HASHED, s.timeout, s.netmask, s.pe_name)


def dest_settings(d: Destination) -> tuple:
    """What SET_DEST can change."""
    return (d.fwd_method & FWD_MASK, d.weight, d.u_threshold, d.l_threshold,
            d.tun_type, d.tun_port, d.tun_flags)


def clean_service(s: Service) -> Service:
    """A service as a rule: no counters, no kernel-internal flag."""
    if s.stats is None and not s.flags & SVC_F_HASHED:
        return s
    return s.replace(stats=None, flags=s.flags & ~SVC_F_HASHED)


def clean_destination(d: Destination) -> Destination:
    if d.stats is None and not (d.active_conns or d.inactive_conns or d.persistent_conns) \
            and d.fwd_method == d.fwd_method & FWD_MASK:
        return d
    return d.replace(stats=None, active_conns=0, inactive_conns=0, persistent_conns=0,
                     fwd_method=d.fwd_method & FWD_MASK)


def normalize_table(table: Iterable) -> Table:
    """Check a table (pairs of a Service and its Destinations) and strip
    what is not part of a rule. PlanError on a duplicate service or
    destination."""
    out: Table = []
    seen = set()
    for entry in table:
        try:
            svc, dests = entry
        except (TypeError, ValueError):
            raise PlanError("a table entry is a (Service, [Destination, ...]) pair") from None
        if not isinstance(svc, Service):
            raise PlanError("not a Service: %r" % (svc,))
        if svc.key in seen:
            raise PlanError("service given twice: %s" % service_spec(svc))
        seen.add(svc.key)
        dseen = set()
        clean = []
        for d in dests:
            if not isinstance(d, Destination):
                raise PlanError("not a Destination: %r" % (d,))
            if d.key in dseen:
                raise PlanError("destination given twice: %s -r %s"
                                % (service_spec(svc), _hostport(d.af, d.address, d.port)))
            dseen.add(d.key)
            clean.append(clean_destination(d))
        out.append((clean_service(svc), clean))
    return out


def plan(current: Iterable, target: Iterable) -> List[Operation]:
    """The operations that make table `current` equal to table `target`,
    in a safe order (see the module header). Empty when they are equal."""
    cur = normalize_table(current)
    tgt = normalize_table(target)
    cur_by_key = {s.key: (s, ds) for s, ds in cur}
    tgt_keys = {s.key for s, _ in tgt}
    adds: List[Operation] = []
    changes: List[Operation] = []
    for svc, dests in tgt:
        old = cur_by_key.get(svc.key)
        if old is None:
            adds.append(Operation("add_service", svc))
            adds.extend(Operation("add_destination", svc, d) for d in dests)
            continue
        old_svc, old_dests = old
        if service_settings(old_svc) != service_settings(svc):
            changes.append(Operation("edit_service", svc))
        old_by_key = {d.key: d for d in old_dests}
        new_keys = {d.key for d in dests}
        edits = []
        for d in dests:
            od = old_by_key.get(d.key)
            if od is None:
                changes.append(Operation("add_destination", svc, d))
            elif dest_settings(od) != dest_settings(d):
                edits.append(Operation("edit_destination", svc, d))
        changes.extend(edits)
        changes.extend(Operation("delete_destination", svc, d)
                       for d in old_dests if d.key not in new_keys)
    deletes = [Operation("delete_service", s) for s, _ in cur if s.key not in tgt_keys]
    return adds + changes + deletes


def simulate(table: Iterable, operations: Iterable[Operation]) -> Table:
    """Run operations on an in-memory table as the kernel would; KeyError
    / ValueError where the kernel would refuse (for tests and dry runs)."""
    state = {s.key: (s, {d.key: d for d in ds}) for s, ds in normalize_table(table)}
    for op in operations:
        k = op.service.key
        if op.name == "add_service":
            if k in state:
                raise ValueError("Service already exists")
            state[k] = (clean_service(op.service), {})
        elif op.name == "edit_service":
            state[k] = (clean_service(op.service), state[k][1])
        elif op.name == "delete_service":
            del state[k]
        else:
            dests = state[k][1]
            d = op.destination
            if op.name == "add_destination":
                if d.key in dests:
                    raise ValueError("Destination already exists")
                dests[d.key] = clean_destination(d)
            elif op.name == "edit_destination":
                if d.key not in dests:
                    raise KeyError("No such destination")
                dests[d.key] = clean_destination(d)
            elif op.name == "delete_destination":
                del dests[d.key]
            else:
                raise ValueError("not a plan operation: %s" % op.name)
    return [(s, list(ds.values())) for s, ds in state.values()]


def same_table(a: Iterable, b: Iterable) -> bool:
    """Equal as rules (order, counters and the hashed flag ignored)."""
    def canon(t):
        return {s.key: (service_settings(s), {d.key: dest_settings(d) for d in ds})
                for s, ds in normalize_table(t)}
    return canon(a) == canon(b)


# ------------------------------------------------------------ with a client

def read_table(client) -> Table:
    """The kernel's table as rules (no counters), in kernel order."""
    return normalize_table((s, client.destinations(s)) for s in client.services())


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Everything a restore can change: the table, the timeouts and the
    sync daemons."""
    table: Table
    timeouts: Timeouts
    daemons: Tuple[SyncDaemon, ...]


def take_snapshot(client) -> Snapshot:
    return Snapshot(table=read_table(client), timeouts=client.timeouts(),
                    daemons=tuple(client.daemons()))


def restore_snapshot(client, snap: Snapshot) -> list:
    """Reset the kernel to `snap` with the fewest operations; returns the
    errors of what could not be reset (empty: exact). This is a reset: it
    also removes what another writer added since the snapshot. apply() and
    `ipvsadm -R --atomic` do not use it; they undo only their own
    operations (Journal)."""
    errors = []
    ops = plan(read_table(client), snap.table)
    for op, err in zip(ops, client.batch(op.batch_args() for op in ops) if ops else []):
        if err is not None:
            errors.append((op, err))
    if errors:  # a second pass, from what the kernel now holds
        ops = plan(read_table(client), snap.table)
        errs = client.batch(op.batch_args() for op in ops) if ops else []
        errors = [(op, e) for op, e in zip(ops, errs) if e is not None]
    try:
        if client.timeouts() != snap.timeouts:
            client.set_timeouts(snap.timeouts)
        now = client.daemons()
        want = {(d.state, d.mcast_ifn, d.syncid): d for d in snap.daemons}
        for d in now:
            if want.get((d.state, d.mcast_ifn, d.syncid)) != d:
                client.stop_daemon(d)
        have = {(d.state, d.mcast_ifn, d.syncid) for d in client.daemons()}
        for k, d in want.items():
            if k not in have:
                client.start_daemon(d)
    except IPVSError as e:
        errors.append((None, e))
    return errors


# ----------------------------------------------------------------- undoing
# A Journal runs operations one at a time and remembers, for each that the
# kernel accepted, what it replaced. Its undo walks them back in reverse and
# puts back only what is still as we left it: a rule another writer added,
# changed or removed meanwhile is theirs and stays as it is (and is named
# in the report when it stops us from putting ours back). One operation a
# system call, so nothing after a failing operation reaches the kernel.
# What no operation can put back: the counters of a deleted service or
# destination (they start again from zero), its connections, zeroed
# counters (-Z is not undone).

_READ = object()  # Journal.run: read the state the operation replaces first


class Interrupted(IPVSError):
    """A checkpoint asked a journaled run to stop (a signal arrived):
    raised by the caller's checkpoint, answered with the undo."""

    def __init__(self, signum: int):
        IPVSError.__init__(self, "interrupted by signal %d" % signum)
        self.signum = signum


@dataclasses.dataclass(frozen=True)
class UndoFailure:
    """What an undo could not put back: `command` the ipvsadm command that
    would have (numeric, without the program name), `reason` why not."""
    command: str
    reason: str

    def __str__(self) -> str:
        return "%s: %s" % (self.command, self.reason)


def _find_dest(client, svc: Service, dest: Destination):
    """The kernel's destination with dest's key, or None (also when the
    service is gone)."""
    from ._errors import KernelError
    try:
        for d in client.destinations(svc):
            if d.key == dest.key:
                return d
    except KernelError as e:
        if e.errno in (3, 2):  # ESRCH, ENOENT: no such service
            return None
        raise
    return None


def _find_service(client, svc: Service):
    from ._errors import KernelError
    try:
        return client.get_service(svc)
    except KernelError as e:
        if e.errno in (3, 2):
            return None
        raise


def timeouts_command(t: Timeouts) -> str:
    return "--set %d %d %d" % (t.tcp, t.tcp_fin, t.udp)


def daemon_command(d: SyncDaemon, start: bool = True) -> str:
    state = {1: "master", 2: "backup"}.get(d.state, str(d.state))
    if not start:
        return "--stop-daemon %s" % state
    out = "--start-daemon %s --mcast-interface %s --syncid %d" % (state, d.mcast_ifn,
                                                                  d.syncid)
    if d.sync_maxlen:
        out += " --sync-maxlen %d" % d.sync_maxlen
    if d.mcast_group:
        out += " --mcast-group %s" % d.mcast_group
    if d.mcast_port:
        out += " --mcast-port %d" % d.mcast_port
    if d.mcast_ttl:
        out += " --mcast-ttl %d" % d.mcast_ttl
    return out


class Journal:
    """Operations (tuples as Client.batch takes them) run one at a time
    through `client`, each remembered with what it replaced, so undo()
    can walk back exactly our own changes."""

    def __init__(self, client):
        self.client = client
        self.done: list = []  # (operation tuple, what it replaced)

    def run(self, op: tuple, before=_READ) -> None:
        """Run one operation; KernelError if the kernel refuses it (then
        nothing is recorded). `before`: what it replaces (the old Service,
        (Service, [Destination]), Destination, Timeouts, SyncDaemon, table),
        read from the kernel first when not given."""
        name = op[0]
        c = self.client
        if before is _READ:
            before = None
            if name == "edit_service":
                before = _find_service(c, op[1])
            elif name == "delete_service":
                old = _find_service(c, op[1])
                before = None if old is None else (old, c.destinations(old))
            elif name in ("edit_destination", "delete_destination"):
                before = _find_dest(c, op[1], op[2])
            elif name == "flush":
                before = read_table(c)
            elif name == "set_timeouts":
                before = c.timeouts()
            elif name == "stop_daemon":
                before = next((d for d in c.daemons() if d.state == op[1].state), None)
        getattr(c, name)(*op[1:])
        if name != "zero":  # zeroed counters cannot be put back
            self.done.append((op, before))

    def undo(self) -> List[UndoFailure]:
        """Undo every recorded operation, last first, where the kernel
        still holds what we left; returns what could not be put back."""
        from ._errors import KernelError
        failures: List[UndoFailure] = []
        while self.done:
            op, before = self.done.pop()
            try:
                self._undo_one(op, before, failures)
            except KernelError as e:
                failures.append(UndoFailure(_undo_command(op, before), e.strerror))
            except IPVSError as e:  # ProtocolError: the next step may still work
                failures.append(UndoFailure(_undo_command(op, before), str(e)))
        return failures

    def _undo_one(self, op, before, failures) -> None:
        c = self.client
        name = op[0]
        theirs = "changed by another writer meanwhile, left as it is"
        if name == "add_service":
            s = op[1]
            now = _find_service(c, s)
            if now is None:
                return  # already gone
            if service_settings(now) != service_settings(s):
                failures.append(UndoFailure("-D " + service_spec(s), theirs))
            elif c.destinations(now):
                failures.append(UndoFailure("-D " + service_spec(s), "another writer added "
                                            "real servers to it meanwhile, left as it is"))
            else:
                c.delete_service(s)
        elif name == "edit_service":
            s = op[1]
            now = _find_service(c, s)
            if before is None or now is None or service_settings(now) != service_settings(s):
                failures.append(UndoFailure(_undo_command(op, before), theirs))
            else:
                c.edit_service(clean_service(before))
        elif name == "delete_service":
            if before is None:
                return
            s, dests = before
            if _find_service(c, s) is not None:
                failures.append(UndoFailure(_undo_command(op, before), "another writer added "
                                            "the service again meanwhile, left as it is"))
                return
            self._readd(s, dests, failures)
        elif name == "add_destination":
            s, d = op[1], op[2]
            now = _find_dest(c, s, d)
            if now is None:
                return
            if dest_settings(now) != dest_settings(d):
                failures.append(UndoFailure(_undo_command(op, before), theirs))
            else:
                c.delete_destination(s, d)
        elif name == "edit_destination":
            s, d = op[1], op[2]
            now = _find_dest(c, s, d)
            if before is None or now is None or dest_settings(now) != dest_settings(d):
                failures.append(UndoFailure(_undo_command(op, before), theirs))
            else:
                c.edit_destination(s, clean_destination(before))
        elif name == "delete_destination":
            s = op[1]
            if before is None:
                return
            if _find_dest(c, s, before) is not None:
                failures.append(UndoFailure(_undo_command(op, before), "another writer added "
                                            "it again meanwhile, left as it is"))
            else:
                c.add_destination(s, clean_destination(before))
        elif name == "flush":
            for s, dests in before or ():
                if _find_service(c, s) is not None:
                    failures.append(UndoFailure("-A " + service_spec(s) + _service_options(s),
                                                "another writer added the service again "
                                                "meanwhile, left as it is"))
                    continue
                self._readd(s, dests, failures)
        elif name == "set_timeouts":
            t = op[1]
            now = c.timeouts()
            fields = [f for f in ("tcp", "tcp_fin", "udp") if getattr(t, f)]
            if before is None or any(getattr(now, f) != getattr(t, f) for f in fields):
                failures.append(UndoFailure(_undo_command(op, before), theirs))
            else:
                c.set_timeouts(Timeouts(**{f: getattr(before, f) if f in fields else 0
                                           for f in ("tcp", "tcp_fin", "udp")}))
        elif name == "start_daemon":
            d = op[1]
            now = [x for x in c.daemons() if x.state == d.state]
            if not now:
                return
            if (now[0].mcast_ifn, now[0].syncid) != (d.mcast_ifn, d.syncid):
                failures.append(UndoFailure(daemon_command(d, start=False), theirs))
            else:
                c.stop_daemon(d)
        elif name == "stop_daemon":
            if before is None:
                return
            if any(x.state == before.state for x in c.daemons()):
                failures.append(UndoFailure(daemon_command(before), "another writer started "
                                            "a daemon meanwhile, left as it is"))
            else:
                c.start_daemon(before)

    def _readd(self, s, dests, failures) -> None:
        from ._errors import KernelError
        s = clean_service(s)
        try:
            self.client.add_service(s)
        except KernelError as e:
            failures.append(UndoFailure("-A " + service_spec(s) + _service_options(s),
                                        e.strerror))
            return
        for d in dests:
            d = clean_destination(d)
            try:
                self.client.add_destination(s, d)
            except KernelError as e:
                failures.append(UndoFailure(operation_command(
                    Operation("add_destination", s, d)), e.strerror))


def _undo_command(op, before) -> str:
    """The ipvsadm command that undoes `op` (for reports)."""
    name = op[0]
    if name == "add_service":
        return "-D " + service_spec(op[1])
    if name == "edit_service":
        return operation_command(Operation("edit_service", before or op[1]))
    if name == "delete_service":
        return "-A " + service_spec(op[1]) + _service_options(before[0] if before else op[1])
    if name == "add_destination":
        return operation_command(Operation("delete_destination", op[1], op[2]))
    if name == "edit_destination":
        return operation_command(Operation("edit_destination", op[1], before or op[2]))
    if name == "delete_destination":
        return operation_command(Operation("add_destination", op[1], before or op[2]))
    if name == "set_timeouts":
        return timeouts_command(before or op[1])
    if name == "start_daemon":
        return daemon_command(op[1], start=False)
    if name == "stop_daemon":
        return daemon_command(before or op[1])
    return name


def apply(client, target: Iterable, *, atomic: bool = True,
          checkpoint: Optional[Callable[[], None]] = None) -> List[Operation]:
    """Make the kernel's table equal to `target` (pairs of Service and
    Destinations) with the fewest operations; returns the plan that ran
    (empty: nothing to do).

    atomic (the default): the operations run one a system call; at the
    first that fails, or any exception (a socket error, an Interrupted
    from `checkpoint`, which is called before each operation), nothing
    after it runs and our own operations are undone in reverse (Journal),
    leaving what another writer did meanwhile alone; then ApplyError
    (`rolled_back` False and `rollback_errors` the UndoFailures when
    something could not be put back). A BaseException (KeyboardInterrupt)
    is undone too and raised again.
    Not atomic: batched, a failure does not stop the rest; ApplyError
    for the first failure."""
    tgt = normalize_table(target)
    before = read_table(client)
    ops = plan(before, tgt)
    if not ops:
        return ops
    if not atomic:
        results = client.batch(op.batch_args() for op in ops)
        failed = [(i, e) for i, e in enumerate(results) if e is not None]
        if failed:
            i, err = failed[0]
            raise ApplyError(ops[i], err, i, rolled_back=False)
        return ops
    old = {s.key: (s, ds) for s, ds in before}
    journal = Journal(client)
    for i, op in enumerate(ops):
        try:
            if checkpoint is not None:
                checkpoint()
            journal.run(op.batch_args(), before=_replaced(op, old))
        except Exception as e:
            failures = journal.undo()
            raise ApplyError(op, e, i, rolled_back=not failures,
                             rollback_errors=failures) from None
        except BaseException:
            journal.undo()
            raise
    return ops


def _replaced(op: Operation, old: dict):
    """What `op` replaces, from the table the plan was made from."""
    entry = old.get(op.service.key)
    if op.name == "edit_service":
        return entry[0] if entry else None
    if op.name == "delete_service":
        return entry
    if op.name in ("edit_destination", "delete_destination") and entry:
        return next((d for d in entry[1] if d.key == op.destination.key), None)
    return None


# ------------------------------------------------------- ipvsadm commands

_PROTO_OPT = {6: "-t", 17: "-u", 132: "--sctp-service"}
_FWD_OPT = {0: "-m", 1: "-g", 2: "-i", 3: "-g"}
_SCHED_FLAG_NAMES = {"sh": ("sh-fallback", "sh-port"), "mh": ("mh-fallback", "mh-port")}
_TUN_TYPES = ("ipip", "gue", "gre")
_TUN_FLAG_OPTS = ("--tun-nocsum", "--tun-csum", "--tun-remcsum")


def _hostport(af, address, port) -> str:
    return ("[%s]:%d" if af == AF_INET6 else "%s:%d") % (address, port)


def service_spec(s: Service) -> str:
    """-t ADDR:PORT, -u ..., --sctp-service ..., or -f MARK [-6]."""
    if s.fwmark:
        return "-f %d%s" % (s.fwmark, " -6" if s.af == AF_INET6 else "")
    return "%s %s" % (_PROTO_OPT.get(s.protocol, "--protocol-%s" % PROTOCOL_NAMES.get(
        s.protocol, s.protocol)), _hostport(s.af, s.address, s.port))


def sched_flag_names(s: Service) -> List[str]:
    names = _SCHED_FLAG_NAMES.get(s.scheduler, ("flag-1", "flag-2", "flag-3"))
    return [n for n, bit in zip(names, (0x8, 0x10, 0x20)) if s.flags & bit]


def _service_options(s: Service) -> str:
    out = " -s %s" % s.scheduler
    if s.persistent:
        out += " -p %d" % s.timeout
        full = "128" if s.af == AF_INET6 else "255.255.255.255"
        if s.netmask != full:
            out += " -M %s" % s.netmask
    if s.pe_name:
        out += " --pe %s" % s.pe_name
    if s.one_packet:
        out += " -o"
    flags = sched_flag_names(s)
    if flags:
        out += " -b " + ",".join(flags)
    return out


def _dest_options(d: Destination) -> str:
    fwd = d.fwd_method & FWD_MASK
    out = " %s -w %d" % (_FWD_OPT.get(fwd, "-g"), d.weight)
    if fwd == 2:
        if 0 <= d.tun_type < len(_TUN_TYPES):
            out += " --tun-type %s" % _TUN_TYPES[d.tun_type]
        if d.tun_type == 1:
            out += " --tun-port %d" % d.tun_port
        if d.tun_type in (1, 2) and 0 <= d.tun_flags < len(_TUN_FLAG_OPTS):
            out += " " + _TUN_FLAG_OPTS[d.tun_flags]
    if d.u_threshold:
        out += " -x %d" % d.u_threshold
    if d.l_threshold:
        out += " -y %d" % d.l_threshold
    return out


def operation_command(op: Operation) -> str:
    spec = service_spec(op.service)
    if op.name == "add_service":
        return "-A " + spec + _service_options(op.service)
    if op.name == "edit_service":
        return "-E " + spec + _service_options(op.service)
    if op.name == "delete_service":
        return "-D " + spec
    d = op.destination
    real = " -r " + _hostport(d.af, d.address, d.port)
    if op.name == "add_destination":
        return "-a " + spec + real + _dest_options(d)
    if op.name == "edit_destination":
        return "-e " + spec + real + _dest_options(d)
    if op.name == "delete_destination":
        return "-d " + spec + real
    raise ValueError("not a plan operation: %s" % op.name)


__all__ = ["Operation", "PlanError", "ApplyError", "Snapshot", "plan", "apply", "Journal",
           "Interrupted", "UndoFailure",
           "read_table", "take_snapshot", "restore_snapshot", "simulate", "same_table",
           "normalize_table", "operation_command"]
