# The undo journal: operations run one at a time, each remembered with what
# it replaced, so that an atomic apply or restore can walk back exactly its
# own changes.
#
# Rule: talks to a client only through its public methods; what it prints
# in a report are ipvsadm commands, from the rule words (ipvs.rules).
from __future__ import annotations

import collections
import dataclasses
import time
from typing import Dict, List, Optional

from ._base import IPVSError
from ._errors import KernelError
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
#
# What an operation replaces is read from the kernel right before the first
# operation on its service (one dump of that service: its settings and its
# real servers), then kept current with our own operations as they succeed;
# the service is read again before a later operation once three times as
# long as that read took has passed (another writer's change in between is
# seen then). So the reads take at most a quarter of the run's time, and
# both the run and its undo stay linear in the table. The undo reads afresh
# in the same way and compares before it writes.
#
# An operation whose outcome is unknown (the request may have been done but
# its answer was lost: a receive overrun, a damaged reply, a MemoryError or
# any other exception while it ran) is recorded as in doubt; the undo
# settles it by reading the kernel: the state it replaced still there means
# it was not done (nothing to undo), what it asked for there means it was.

_READ = object()  # Journal.run: read the state the operation replaces first
_GONE = (3, 2)  # ESRCH, ENOENT: no such service


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


_clock = time.monotonic
# A service read from the kernel is read again before an operation once
# this many times as long as that read took has passed since it: another
# writer's change is then seen within that time, and the reads cost at
# most a quarter of the run, whatever the size of the service.
REFRESH = 3


class _Known:
    """The kernel's services as last read (one dump each, on first need,
    again once REFRESH times the read's duration has passed), kept current
    with the operations this side runs: key -> [Service or None (absent),
    {destination key: Destination}, (when the read ended, how long it
    took) or absent when not read]."""

    def __init__(self, client):
        self.client = client
        self.svcs: Dict[tuple, list] = {}
        self.rest_absent = False  # after a flush: what was not read is absent

    def entry(self, svc: Service) -> list:
        e = self.svcs.get(svc.key)
        if e is not None and len(e) > 2 and _clock() - e[2][0] > REFRESH * e[2][1]:
            e = None  # read long enough ago: read again
        if e is None:
            if self.rest_absent:
                e = [None, {}]
            else:
                e = self.read(svc)
            self.svcs[svc.key] = e
        return e

    def read(self, svc: Service) -> list:
        c = self.client
        start = _clock()
        try:
            now = c.get_service(svc)
            dests = c.destinations(now)
        except KernelError as e:
            if e.errno not in _GONE:
                raise
            now, dests = None, ()
        end = _clock()
        return [now, {d.key: d for d in dests}, (end, end - start)]

    def peek(self, svc: Service) -> Optional[list]:
        """The entry when known without a read, else None."""
        e = self.svcs.get(svc.key)
        if e is None and self.rest_absent:
            e = self.svcs[svc.key] = [None, {}]
        return e

    def service(self, svc: Service) -> Optional[Service]:
        return self.entry(svc)[0]

    def dest(self, svc: Service, dest: Destination) -> Optional[Destination]:
        return self.entry(svc)[1].get(dest.key)

    def dests(self, svc: Service) -> List[Destination]:
        return list(self.entry(svc)[1].values())

    def forget(self, svc: Service) -> None:
        self.svcs.pop(svc.key, None)
        if self.rest_absent:  # no longer known to be absent: read it again
            self.svcs[svc.key] = self.read(svc)

    def done(self, op: tuple) -> None:
        """Our operation `op` succeeded: the kernel now holds its result."""
        name = op[0]
        if name == "flush":
            self.svcs.clear()
            self.rest_absent = True
            return
        if name not in _TABLE_OPS:
            return
        key = op[1].key
        e = self.svcs.get(key)
        if name == "add_service":
            self.svcs[key] = [op[1], {}]  # it was not there: no real servers
        elif e is None:
            return  # not read: read when needed
        elif name == "edit_service":
            e[0] = op[1]
        elif name == "delete_service":
            self.svcs[key] = [None, {}]
        elif name == "delete_destination":
            e[1].pop(op[2].key, None)
        else:  # add_destination, edit_destination
            e[1][op[2].key] = op[2]


_TABLE_OPS = frozenset(("add_service", "edit_service", "delete_service", "add_destination",
                        "edit_destination", "delete_destination"))
_THEIRS = "changed by another writer meanwhile, left as it is"


class Journal:
    """Operations (tuples as Client.batch takes them) run one at a time
    through `client`, each remembered with what it replaced, so undo()
    can walk back exactly our own changes."""

    def __init__(self, client, file=None):
        """file: a JournalFile (ipvs._journalfile) each operation and undo
        step is written to, so that a run SIGKILL ends can be undone later."""
        self.client = client
        self.file = file
        self.done: list = []  # (operation, what it replaced, in doubt, number in the file)
        self._known = _Known(client)

    def run(self, op: tuple, before=_READ) -> None:
        """Run one operation; KernelError if the kernel refuses it (then
        nothing is recorded). `before`: what it replaces (the old Service,
        (Service, [Destination]), Destination, Timeouts, SyncDaemon, table),
        read from the kernel when not given (see the module's notes). Any
        other exception while it runs records it as in doubt (settled by
        the undo) and goes on up."""
        name = op[0]
        c = self.client
        k = self._known
        if before is _READ:
            before = None
            if name == "edit_service":
                before = k.service(op[1])
            elif name == "delete_service":
                old = k.service(op[1])
                before = None if old is None else (old, k.dests(op[1]))
            elif name in ("edit_destination", "delete_destination"):
                before = k.dest(op[1], op[2])
            elif name in ("add_service", "add_destination"):
                # what was there, when known without a read (an add the
                # kernel accepts replaced nothing; this settles one in doubt)
                e = k.peek(op[1])
                if e is not None:
                    before = e[0] if name == "add_service" else e[1].get(op[2].key)
            elif name == "flush":
                before = read_table(c)
            elif name == "set_timeouts":
                before = c.timeouts()
            elif name == "stop_daemon":
                before = next((d for d in c.daemons() if d.state == op[1].state), None)
        f = self.file
        n = f.operation(op, before) if f is not None and name != "zero" else 0
        try:
            getattr(c, name)(*op[1:])
        except KernelError:
            if n:
                f.refused(n)
            raise  # refused: the kernel did nothing
        except BaseException:
            if name != "zero":
                self.done.append((op, before, True, n))
            if name in _TABLE_OPS:
                self._known.svcs.pop(op[1].key, None)
            elif name == "flush":
                self._known.svcs.clear()
                self._known.rest_absent = False
            raise
        if name != "zero":  # zeroed counters cannot be put back
            self.done.append((op, before, False, n))
        k.done(op)

    @property
    def in_doubt(self) -> int:
        """How many recorded operations have an unknown outcome."""
        return sum(1 for e in self.done if e[2])

    def undo(self) -> List[UndoFailure]:
        """Undo every recorded operation, last first, where the kernel
        still holds what we left; returns what could not be put back."""
        failures: List[UndoFailure] = []
        self._known = known = _Known(self.client)  # read afresh, once a service
        while self.done:
            op, before, doubt, n = self.done.pop()
            try:
                self._undo_one(op, before, doubt, failures)
            except KernelError as e:
                failures.append(UndoFailure(_undo_command(op, before), e.strerror))
                self._forget(op)
            except IPVSError as e:  # ProtocolError: the next step may still work
                failures.append(UndoFailure(_undo_command(op, before), str(e)))
                self._forget(op)
            if n:
                self.file.undone(n)
        known.svcs.clear()
        return failures

    def _forget(self, op) -> None:
        try:
            if op[0] in _TABLE_OPS:
                self._known.svcs.pop(op[1].key, None)
            elif op[0] == "flush":
                self._known.svcs.clear()
        except Exception:
            pass

    def _write(self, op: tuple) -> None:
        getattr(self.client, op[0])(*op[1:])
        self._known.done(op)

    def _undo_one(self, op, before, doubt, failures) -> None:
        c = self.client
        k = self._known
        name = op[0]
        if name == "add_service":
            s = op[1]
            now = k.service(s)
            if now is None:
                return  # already gone (or, in doubt, never added)
            if doubt and before is not None and \
                    service_settings(now) == service_settings(before):
                return  # in doubt and the old one is there: not done
            if service_settings(now) != service_settings(s):
                failures.append(UndoFailure("-D " + service_spec(s), _THEIRS))
                return
            k.forget(s)  # right before a delete that takes its real servers along
            if k.dests(s):
                failures.append(UndoFailure("-D " + service_spec(s), "another writer added "
                                            "real servers to it meanwhile, left as it is"))
            elif k.service(s) is not None:
                self._write(("delete_service", s))
        elif name == "edit_service":
            s = op[1]
            now = k.service(s)
            if doubt and now is not None and before is not None and \
                    service_settings(now) == service_settings(before):
                return
            if before is None or now is None or service_settings(now) != service_settings(s):
                failures.append(UndoFailure(_undo_command(op, before), _THEIRS))
            elif service_settings(before) != service_settings(s):
                self._write(("edit_service", clean_service(before)))
        elif name == "delete_service":
            if before is None:
                return
            s, dests = before
            now = k.service(s)
            if now is not None:
                if doubt and service_settings(now) == service_settings(s):
                    return  # in doubt and still there: not done
                failures.append(UndoFailure(_undo_command(op, before), "another writer added "
                                            "the service again meanwhile, left as it is"))
                return
            self._readd(s, dests, failures)
        elif name == "add_destination":
            s, d = op[1], op[2]
            now = k.dest(s, d)
            if now is None:
                return
            if doubt and before is not None and dest_settings(now) == dest_settings(before):
                return
            if dest_settings(now) != dest_settings(d):
                failures.append(UndoFailure(_undo_command(op, before), _THEIRS))
            else:
                self._write(("delete_destination", s, d))
        elif name == "edit_destination":
            s, d = op[1], op[2]
            now = k.dest(s, d)
            if doubt and now is not None and before is not None and \
                    dest_settings(now) == dest_settings(before):
                return
            if before is None or now is None or dest_settings(now) != dest_settings(d):
                failures.append(UndoFailure(_undo_command(op, before), _THEIRS))
            elif dest_settings(before) != dest_settings(d):
                self._write(("edit_destination", s, clean_destination(before)))
        elif name == "delete_destination":
            s = op[1]
            if before is None:
                return
            now = k.dest(s, before)
            if now is not None:
                if doubt and dest_settings(now) == dest_settings(before):
                    return
                failures.append(UndoFailure(_undo_command(op, before), "another writer added "
                                            "it again meanwhile, left as it is"))
            elif k.service(s) is None:
                failures.append(UndoFailure(_undo_command(op, before), "its service is gone "
                                            "(deleted by another writer), left as it is"))
            else:
                self._write(("add_destination", s, clean_destination(before)))
        elif name == "flush":
            for s, dests in before or ():
                now = k.service(s)
                if now is not None:
                    if doubt and service_settings(now) == service_settings(s):
                        continue  # in doubt and still there: not flushed
                    failures.append(UndoFailure(service_rule(s),
                                                "another writer added the service again "
                                                "meanwhile, left as it is"))
                    continue
                self._readd(s, dests, failures)
        elif name == "set_timeouts":
            t = op[1]
            now = c.timeouts()
            fields = [f for f in ("tcp", "tcp_fin", "udp") if getattr(t, f)]
            if doubt and before is not None and \
                    all(getattr(now, f) == getattr(before, f) for f in fields):
                return
            if before is None or any(getattr(now, f) != getattr(t, f) for f in fields):
                failures.append(UndoFailure(_undo_command(op, before), _THEIRS))
            else:
                c.set_timeouts(Timeouts(**{f: getattr(before, f) if f in fields else 0
                                           for f in ("tcp", "tcp_fin", "udp")}))
        elif name == "start_daemon":
            d = op[1]
            now = [x for x in c.daemons() if x.state == d.state]
            if not now:
                return
            if (now[0].mcast_ifn, now[0].syncid) != (d.mcast_ifn, d.syncid):
                if not doubt:
                    failures.append(UndoFailure(daemon_command(d, start=False), _THEIRS))
            else:
                c.stop_daemon(d)
        elif name == "stop_daemon":
            if before is None:
                return
            now = [x for x in c.daemons() if x.state == before.state]
            if now:
                if doubt and now[0] == before:
                    return
                failures.append(UndoFailure(daemon_command(before), "another writer started "
                                            "a daemon meanwhile, left as it is"))
            else:
                c.start_daemon(before)

    def _readd(self, s, dests, failures) -> None:
        s = clean_service(s)
        try:
            self._write(("add_service", s))
        except KernelError as e:
            failures.append(UndoFailure(service_rule(s), e.strerror))
            return
        for d in dests:
            d = clean_destination(d)
            try:
                self._write(("add_destination", s, d))
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
