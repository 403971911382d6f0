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
from typing import Callable, Iterable, List, Optional, Tuple

from ._base import IPVSError
from ._journal import Interrupted, Journal, UndoFailure
from ._model import Destination, Service, SyncDaemon, Timeouts
from .rules import operation_command, service_spec
from ._table import (PlanError, Table, clean_destination, clean_service, dest_settings,
                     normalize_table, read_table, same_table, service_settings)


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


def plan(current: Iterable, target: Iterable, *, scope=None) -> List[Operation]:
    """The operations that make table `current` equal to table `target`,
    in a safe order (see the module header). Empty when they are equal.
    scope: an ipvs.Scope; then only the services it covers are planned
    for (the rest of `current` stays as it is), and a service of `target`
    outside it is a PlanError."""
    cur = normalize_table(current)
    tgt = normalize_table(target)
    if scope is not None:
        for svc, _ in tgt:
            if not scope.covers(svc):
                raise PlanError("service outside the scope: %s" % service_spec(svc))
        cur = scope.select(cur)
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


# ------------------------------------------------------------ with a client

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


def apply(client, target: Iterable, *, atomic: bool = True,
          checkpoint: Optional[Callable[[], None]] = None, record=None,
          scope=None) -> List[Operation]:
    """Make the kernel's table equal to `target` (pairs of Service and
    Destinations) with the fewest operations; returns the plan that ran
    (empty: nothing to do).

    atomic (the default): the operations run one a system call; at the
    first that fails, or any exception (a socket error, an Interrupted
    from `checkpoint`, which is called before each operation), nothing
    after it runs and our own operations are undone in reverse (Journal),
    leaving what another writer did meanwhile alone (what each operation
    replaced is read right before it, not taken from the plan's read; an
    operation whose answer was lost is settled by reading the kernel);
    then ApplyError
    (`rolled_back` False and `rollback_errors` the UndoFailures when
    something could not be put back). A BaseException (KeyboardInterrupt)
    is undone too and raised again.
    record: a JournalFile (ipvs._journalfile) the atomic run writes each
    operation and each undo step to, so that a run killed before its end
    can be undone later (--recover).
    Not atomic: batched, a failure does not stop the rest; ApplyError
    for the first failure.
    scope: an ipvs.Scope; only the services it covers are changed (see
    plan()), from the same single read of the table."""
    tgt = normalize_table(target)
    before = read_table(client)
    ops = plan(before, tgt, scope=scope)
    if not ops:
        return ops
    if not atomic:
        results = client.batch(op.batch_args() for op in ops)
        failed = [(i, e) for i, e in enumerate(results) if e is not None]
        if failed:
            i, err = failed[0]
            raise ApplyError(ops[i], err, i, rolled_back=False)
        return ops
    journal = Journal(client, record)
    if record is not None:
        record.begin(len(ops))
    for i, op in enumerate(ops):
        try:
            if checkpoint is not None:
                checkpoint()
            journal.run(op.batch_args())  # reads what it replaces (Journal)
        except Exception as e:
            failures = journal.undo()
            raise ApplyError(op, e, i, rolled_back=not failures,
                             rollback_errors=failures) from None
        except BaseException:
            journal.undo()
            raise
    return ops



__all__ = ["Operation", "PlanError", "ApplyError", "Snapshot", "plan", "apply", "Journal",
           "Interrupted", "UndoFailure",
           "read_table", "take_snapshot", "restore_snapshot", "simulate", "same_table",
           "normalize_table", "operation_command", "service_settings", "dest_settings",
           "clean_service", "clean_destination", "Table"]
