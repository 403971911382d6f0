# The undo journal: operations run one at a time, each remembered with what
# it replaced, so that an atomic apply or restore can walk back exactly its
# own changes.
#
# Rule: talks to a client only through its public methods; what it prints
# in a report are ipvsadm commands, from the rule words (ipvs.rules).
from __future__ import annotations

import collections
import dataclasses
from typing import List

from ._base import IPVSError
from ._model import Destination, Service, Timeouts
from .rules import (daemon_command, operation_command, service_options, service_rule,
                     service_spec, timeouts_command)
from ._table import clean_destination, clean_service, dest_settings, read_table, \
    service_settings

# what operation_command() reads of a plan's Operation
_Op = collections.namedtuple("_Op", "name service destination", defaults=(None,))

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
                    failures.append(UndoFailure(service_rule(s),
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
            failures.append(UndoFailure(service_rule(s),
                                        e.strerror))
            return
        for d in dests:
            d = clean_destination(d)
            try:
                self.client.add_destination(s, d)
            except KernelError as e:
                failures.append(UndoFailure(operation_command(
                    _Op("add_destination", s, d)), e.strerror))


def _undo_command(op, before) -> str:
    """The ipvsadm command that undoes `op` (for reports)."""
    name = op[0]
    if name == "add_service":
        return "-D " + service_spec(op[1])
    if name == "edit_service":
        return operation_command(_Op("edit_service", before or op[1]))
    if name == "delete_service":
        return "-A " + service_spec(op[1]) + service_options(before[0] if before else op[1])
    if name == "add_destination":
        return operation_command(_Op("delete_destination", op[1], op[2]))
    if name == "edit_destination":
        return operation_command(_Op("edit_destination", op[1], before or op[2]))
    if name == "delete_destination":
        return operation_command(_Op("add_destination", op[1], before or op[2]))
    if name == "set_timeouts":
        return timeouts_command(before or op[1])
    if name == "start_daemon":
        return daemon_command(op[1], start=False)
    if name == "stop_daemon":
        return daemon_command(before or op[1])
    return name



__all__ = ["Interrupted", "UndoFailure", "Journal"]
