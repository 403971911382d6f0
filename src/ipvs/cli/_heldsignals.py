# Signals held off while an atomic change and its undo run (--apply,
# -R --atomic, --recover): a signal whose default action ends the process
# is noted, turned into ipvs.Interrupted between operations, and acted on
# (the process ends by it) once the table is whole or undone.
#
# Rule: signal handlers only note; the work decides when to stop.

from ._exits import Exit


class HeldSignals:
    """Every signal whose default action ends the process, held off while
    an atomic change and its undo run: the handler only notes the signal;
    checkpoint() turns it into ipvs.Interrupted between operations, act()
    (after the work is whole or undone) ends the program by that signal as
    the C tool would end. Not held: the faults a process raises on itself
    (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGSYS, SIGTRAP: returning from them
    would run the faulting instruction again), SIGKILL (no process can),
    the signals whose default is to ignore or to stop the process, and
    what is ignored already (nohup's SIGHUP; SIGPIPE and SIGXFSZ, which
    Python ignores: a closed pipe and a too large file are errors of the
    write instead)."""

    # default action: ignore, or stop (then SIGCONT goes on where it was)
    HARMLESS = ("SIGCHLD", "SIGCONT", "SIGURG", "SIGWINCH", "SIGSTOP", "SIGTSTP", "SIGTTIN",
                "SIGTTOU", "SIGKILL")
    FAULTS = ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGSYS", "SIGTRAP")

    def __init__(self):
        self.signum = 0
        self._old = {}

    @classmethod
    def held(cls, signal):
        """The signal numbers this holds (the real-time ones included)."""
        skip = {getattr(signal, n) for n in cls.HARMLESS + cls.FAULTS if hasattr(signal, n)}
        return sorted(n for n in signal.valid_signals() if n not in skip)

    def __enter__(self):
        import signal
        self._signal = signal
        for num in self.held(signal):
            try:
                if signal.getsignal(num) == signal.SIG_IGN:
                    continue  # ignored before we came: stays ignored
                self._old[num] = signal.signal(num, self._note)
            except (ValueError, OSError):  # not the main thread; one glibc keeps
                pass
        return self

    def _note(self, signum, frame):
        if not self.signum:
            self.signum = signum

    def checkpoint(self):
        if self.signum:
            from .. import Interrupted
            raise Interrupted(self.signum)

    def __exit__(self, *exc):
        for num, old in self._old.items():
            try:
                self._signal.signal(num, old)
            except (ValueError, OSError, TypeError):
                pass
        return False

    def act(self):
        if self.signum:
            raise Exit(128 + self.signum, signum=self.signum)
