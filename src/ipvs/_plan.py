# Plans: the fewest kernel operations that turn one table into another.
#
# Rule: planning is a pure function over model objects (no I/O), so it is
# tested against an in-memory table on the host; only apply() and the
# snapshot helpers talk to a Client. What the kernel lets us change in place
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
from typing import Iterable, List, Optional, Sequence, Tuple

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
    `error` the KernelError, `index` its position in the plan;
    `rolled_back` tells whether the table was put back as it was
    (False: `rollback_errors` lists what could not be undone)."""

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
    """Put the kernel back to `snap` with the fewest operations; returns
    the errors of what could not be undone (empty: exact)."""
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


def apply(client, target: Iterable, *, atomic: bool = True) -> List[Operation]:
    """Make the kernel's table equal to `target` (pairs of Service and
    Destinations) with the fewest operations, batched; returns the plan
    that ran (empty: nothing to do).

    On a failed operation raises ApplyError; with atomic (the default) the
    table is first put back to what it was before the call."""
    tgt = normalize_table(target)
    before = read_table(client)
    ops = plan(before, tgt)
    if not ops:
        return ops
    results = client.batch(op.batch_args() for op in ops)
    failed = [(i, e) for i, e in enumerate(results) if e is not None]
    if not failed:
        return ops
    i, err = failed[0]
    if not atomic:
        raise ApplyError(ops[i], err, i, rolled_back=False)
    undo = plan(read_table(client), before)
    undo_errs = [(op, e) for op, e in
                 zip(undo, client.batch(op.batch_args() for op in undo) if undo else [])
                 if e is not None]
    if undo_errs:
        undo_errs = restore_snapshot(client, Snapshot(before, client.timeouts(),
                                                      tuple(client.daemons())))
    raise ApplyError(ops[i], err, i, rolled_back=not undo_errs, rollback_errors=undo_errs)


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


__all__ = ["Operation", "PlanError", "ApplyError", "Snapshot", "plan", "apply",
           "read_table", "take_snapshot", "restore_snapshot", "simulate", "same_table",
           "normalize_table", "operation_command"]
