# The lock our table writers take (--apply, -R --atomic, the writes of
# --drain), one per network namespace: IPVS has no transactions and no
# generation number, so two read-modify-write runs that overlap would each
# plan from the same read and leave the union of their changes.
#
# Rule: flock(2) on /run/ipvsadm/net-<inode>.lock, the inode being the
# network namespace's (nsfs) one, so every name or path of one namespace
# gives one lock; the holder writes "pid starttime" into it for the message
# of the one it keeps waiting. The kernel drops the lock when the holder's
# last descriptor closes, SIGKILL included: a dead holder never blocks.
# Only cooperating writers take it (keepalived, kube-proxy and ipvsadm
# 1.31's commands do not).
from __future__ import annotations

import errno
import fcntl
import os
import time
from typing import Optional

from ._base import IPVSError
from ._journalfile import (JournalFile, KilledRun, journal_path, read_killed, start_time,
                           undo_killed_run)

LOCK_DIR = "/run/ipvsadm"
POLL = 0.05  # seconds between tries while waiting


class LockBusy(IPVSError):
    """Another writer holds the namespace's lock (and did not let go in
    the time given)."""

    def __init__(self, pid: Optional[int]):
        self.pid = pid
        who = "another ipvsadm (pid %d)" % pid if pid else "another ipvsadm"
        IPVSError.__init__(self, "%s is changing the table" % who)


def namespace_inode(ns_file: str = "/proc/self/ns/net") -> int:
    """The inode of a network namespace file (what identifies the
    namespace), without opening it."""
    return os.stat(ns_file).st_ino


def lock_path(inode: int, lock_dir: str = LOCK_DIR) -> str:
    return os.path.join(lock_dir, "net-%d.lock" % inode)


class WriterLock:
    """The namespace's writer lock, held from acquire() until release()
    (or the process's end). wait: None or 0 fails at once when it is
    held; a number of seconds waits that long at most."""

    def __init__(self, inode: int, *, lock_dir: str = LOCK_DIR):
        self.path = lock_path(inode, lock_dir)
        self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def acquire(self, wait: Optional[float] = None) -> None:
        if self._fd >= 0:
            return
        fd = self._open()
        deadline = time.monotonic() + wait if wait else None
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise
                if deadline is None or time.monotonic() >= deadline:
                    raise LockBusy(self._holder(fd))
                time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
            me = os.getpid()
            os.ftruncate(fd, 0)
            os.pwrite(fd, ("%d %s\n" % (me, start_time(me) or "?")).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                os.ftruncate(fd, 0)  # the next holder's pid, not ours, is what counts
            except OSError:
                pass
            os.close(fd)  # (closing drops the flock)

    # The journal of an atomic run, beside the lock: only its holder
    # writes, reads or removes it (ipvs._journalfile).

    def journal(self, command: str) -> JournalFile:
        """A new journal for the run `command` (JournalFileError: cannot)."""
        return JournalFile(journal_path(self.path), command)

    def killed_run(self) -> Optional[KilledRun]:
        """The run killed before its end whose journal is there, or None.
        One that is not pending (of another boot, or that sent nothing) is
        removed. JournalFileError: one that cannot be read."""
        killed = read_killed(journal_path(self.path))
        if killed is not None and not killed.pending:
            self.drop_journal()
            return None
        return killed

    def undo_killed_run(self, client, killed: KilledRun) -> list:
        """Undo what `killed` left (its journal's steps written as they are
        taken, the journal removed at the end); the UndoFailures."""
        file = JournalFile.resume(journal_path(self.path))
        failures = undo_killed_run(client, killed, file)
        file.finish()
        return failures

    def drop_journal(self) -> None:
        try:
            os.unlink(journal_path(self.path))
        except FileNotFoundError:
            pass

    def __enter__(self) -> "WriterLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _open(self) -> int:
        directory = os.path.dirname(self.path)
        try:
            os.mkdir(directory, 0o755)
        except FileExistsError:
            pass
        # O_NOFOLLOW: the lock is ours, never a file a link points at
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)

    @staticmethod
    def _holder(fd: int) -> Optional[int]:
        """The holder's pid, when the file names a live process that is the
        one that wrote it (same start time)."""
        try:
            words = os.pread(fd, 64, 0).split()
            pid = int(words[0])
        except (OSError, ValueError, IndexError):
            return None
        start = words[1].decode("ascii", "replace") if len(words) > 1 else "?"
        return pid if start == "?" or start_time(pid) == start else None
