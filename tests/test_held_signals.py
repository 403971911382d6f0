"""Which signals --apply, -R --atomic and --drain hold while they change
the table (their effect on a run: tests/kernel/test_input.py)."""
import signal

from ipvs.cli._heldsignals import HeldSignals


def test_every_terminating_signal_is_held():
    """Which signals the atomic runs hold: every one whose default action
    ends the process but the faults, the real-time ones included."""
    from ipvs.cli._heldsignals import HeldSignals
    held = set(HeldSignals.held(signal))
    for name in ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM",
                 "SIGVTALRM", "SIGPROF", "SIGXCPU", "SIGIO", "SIGPWR", "SIGABRT"):
        assert getattr(signal, name) in held, name
    assert set(range(signal.SIGRTMIN, signal.SIGRTMAX + 1)) <= held
    for name in ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGSYS", "SIGTRAP", "SIGKILL",
                 "SIGCHLD", "SIGWINCH", "SIGCONT", "SIGSTOP", "SIGTSTP"):
        assert getattr(signal, name) not in held, name
