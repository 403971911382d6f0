# The undo journal of an atomic run on disk, beside the namespace's writers'
# lock (/run/ipvsadm/net-<inode>.journal), so that a run killed where no
# signal can be held (SIGKILL: the OOM killer, a supervisor's stop timeout)
# leaves a record of what it changed: the next writer says so, and
# --recover undoes it with the same compare-before-undo rules as the run's
# own undo (ipvs._journal).
#
# Rule: one JSON object a line, appended. A header (who, what, when), then
# for each operation a line written before it is sent (what it is and what
# it replaced), and one when the kernel refuses it. Operations go one at a
# time, so each line says the one before was answered: only the last one
# is in doubt (settled by reading). An undo appends a line for each step it has
# taken, so an undo cut short is taken up where it stopped. The file is
# removed when the run (or its undo) ends. Under /run: a reboot, which
# empties the kernel's table, empties it too (the boot id is kept anyway).
from __future__ import annotations

import json
import os
import time
from typing import List, Optional

from ._base import IPVSError
from ._model import Destination, Service, SyncDaemon, Timeouts

FORMAT = 1
MAX_SIZE = 512 << 20  # a journal larger than this is not read (nor one of ours)
_TYPES = {c.__name__: c for c in (Service, Destination, Timeouts, SyncDaemon)}


def undo_killed_run(client, killed: "KilledRun", file: "JournalFile") -> list:
    """Undo what a killed run left, by the rules of a run's own undo
    (ipvs.Journal: only what is still as it left it), writing each step
    to `file`; the UndoFailures."""
    from ._journal import Journal
    journal = Journal(client, file)
    journal.done = [(op, before, doubt, n) for n, op, before, doubt in killed.entries]
    return journal.undo()


class JournalFileError(IPVSError):
    """A journal file that cannot be written or read."""


def start_time(pid: int) -> Optional[str]:
    """Field 22 of /proc/PID/stat (the start time in clock ticks since
    boot): with the pid, names one process even when pids are reused."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold anything
    rest = data[data.rfind(b")") + 2:].split()
    return rest[19].decode() if len(rest) > 19 else None


def journal_path(lock_path: str) -> str:
    """The journal beside a writers' lock file."""
    base = lock_path[:-len(".lock")] if lock_path.endswith(".lock") else lock_path
    return base + ".journal"


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _enc(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (tuple, list)):
        return [_enc(x) for x in v]
    name = type(v).__name__
    if name not in _TYPES:
        raise TypeError("not journaled: %s" % name)
    return {name: {f: _enc(getattr(v, f)) for f in v._FIELDS if f != "stats"}}


def _dec(v):
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if isinstance(v, dict):
        (name, fields), = v.items()
        return _TYPES[name](**fields)
    return v


class JournalFile:
    """The journal of the run in progress, written as it goes."""

    def __init__(self, path: str, command: str):
        """Made (never over another: a killed run's is read first) when
        the run takes the lock; its header once the run knows how many
        operations it has (begin)."""
        self.path, self.command = path, command
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | \
            os.O_CLOEXEC
        try:
            self._fd = os.open(path, flags, 0o600)
        except OSError as e:
            raise JournalFileError("cannot write the journal %s: %s" % (path, e.strerror)) \
                from None
        self.seq = 0
        self._last = (None, "")

    def begin(self, total: int) -> None:
        pid = os.getpid()
        self._line({"ipvsadm-journal": FORMAT, "pid": pid, "start": start_time(pid),
                    "boot": boot_id(), "time": int(time.time()), "command": self.command,
                    "total": total})

    def _line(self, obj) -> None:
        self._write(json.dumps(obj, separators=(",", ":")))

    def _write(self, text: str) -> None:
        data = (text + "\n").encode()
        while data:  # (a short write to /run's tmpfs: only when it is full)
            n = os.write(self._fd, data)
            data = data[n:]

    def _json(self, v) -> str:
        """v as JSON; the last service's text kept (a run's operations come
        a service at a time)."""
        if type(v) is Service:
            if v is not self._last[0]:
                self._last = (v, json.dumps(_enc(v), separators=(",", ":")))
            return self._last[1]
        return json.dumps(_enc(v), separators=(",", ":"))

    def operation(self, op: tuple, before) -> int:
        """Before an operation is sent: what it is, what it replaces; its
        number, for the lines that follow."""
        self.seq += 1
        self._write('{"n":%d,"op":[%s],"before":%s}' % (
            self.seq, ",".join(self._json(v) for v in op), self._json(before)))
        return self.seq

    def refused(self, n: int) -> None:
        """The kernel refused operation n: it did nothing."""
        self._line({"no": n})

    def undone(self, n: int) -> None:
        """The undo has taken its step for operation n (done or reported)."""
        self._line({"undone": n})

    def finish(self) -> None:
        """The run is whole or undone: the journal goes."""
        if self._fd < 0:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = -1

    @classmethod
    def resume(cls, path: str) -> "JournalFile":
        """An existing journal, to append an undo's steps to."""
        self = object.__new__(cls)
        self.path, self.command, self.seq, self._last = path, "", 0, (None, "")
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as e:
            raise JournalFileError("cannot write the journal %s: %s" % (path, e.strerror)) \
                from None
        return self


class KilledRun:
    """A journal whose run ended without removing it: who it was, and the
    operations not yet undone, first to last, as (number, operation, what
    it replaced, in doubt)."""

    def __init__(self, header: dict, entries: list, answered: int):
        self.pid = header.get("pid")
        self.start = header.get("start")
        self.boot = header.get("boot")
        self.time = header.get("time")
        self.command = header.get("command", "")
        self.total = header.get("total", 0)
        self.entries = entries
        self.answered = answered  # operations the kernel did (the last one's aside)

    @property
    def alive(self) -> bool:
        """Its process still runs (same pid, same start time, same boot)."""
        return (bool(self.pid) and self.boot == boot_id()
                and start_time(self.pid) == self.start)

    @property
    def other_boot(self) -> bool:
        return bool(self.boot) and self.boot != boot_id()

    @property
    def pending(self) -> bool:
        """Its changes may still be in the table: it sent operations not
        yet undone, in this boot (a reboot empties the table)."""
        return bool(self.entries) and not self.other_boot


def read_killed(path: str) -> Optional[KilledRun]:
    """The journal at `path`, or None when there is none. A line cut short
    (the run died while writing it) ends it; its operation was not sent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise JournalFileError("cannot read the journal %s: %s" % (path, e.strerror)) from None
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_SIZE + 1)
    if len(data) > MAX_SIZE:
        raise JournalFileError("the journal %s is larger than %d bytes" % (path, MAX_SIZE))
    lines = data.split(b"\n")[:-1]  # (what follows the last newline was cut short)
    if not lines:  # ended before its header: no operation was sent
        return KilledRun({}, [], 0)
    try:
        header = json.loads(lines[0])
        if header.get("ipvsadm-journal") != FORMAT:
            raise ValueError("not a journal of this format")
        ops: dict = {}
        refused, undone = set(), set()
        for raw in lines[1:]:
            rec = json.loads(raw)
            if "op" in rec:
                ops[rec["n"]] = (tuple(_dec(rec["op"])), _dec(rec["before"]))
            elif "no" in rec:
                refused.add(rec["no"])
            else:
                undone.add(rec["undone"])
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise JournalFileError("the journal %s cannot be read: %s" % (path, e)) from None
    # One operation at a time: each is written once the one before was
    # answered, so only the last one's outcome is unknown (unless refused).
    last = max(ops, default=0)
    made = sum(1 for n in ops if n != last and n not in refused)
    entries: List[tuple] = [(n, op, before, n == last)
                            for n, (op, before) in sorted(ops.items())
                            if n not in refused and n not in undone]
    return KilledRun(header, entries, made)


__all__ = ["JournalFile", "JournalFileError", "KilledRun", "journal_path", "read_killed",
           "start_time", "undo_killed_run"]
