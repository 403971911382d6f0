# Runs killed before their end (SIGKILL: the OOM killer, a supervisor's
# stop timeout; a crash): the journal an atomic run keeps beside the
# namespace's writers' lock, what our writers say when they find one, and
# --recover[=forget].
#
# Rule: only with the writers' lock held, through its methods; ipvsadm
# 1.31's commands never come here.

from ._exits import EXIT_KILLED, Exit
from ._heldsignals import HeldSignals


def journal_file(runner, lock, command):
    """The journal of the atomic run `command` about to start."""
    from .. import IPVSError
    try:
        return lock.journal(command)
    except IPVSError as e:
        raise Exit(1, "%s: %s" % (runner.prog, e)) from None


def killed_run(runner, lock, forget=False):
    """The run killed before its end whose journal is there, or None. One
    that cannot be read stops the command, but for --recover=forget
    (forget=True), which drops it and says so (then Exit(0))."""
    from .. import IPVSError
    try:
        return lock.killed_run()
    except IPVSError as e:
        if not forget:
            raise Exit(1, "%s: %s; remove it to go on" % (runner.prog, e)) from None
    lock.drop_journal()
    runner.out.write("%s: the journal, which could not be read, is dropped; the table stays "
                     "as it is\n" % runner.prog)
    raise Exit(0)


def _who(prog, killed, was=", killed"):
    return ("an earlier %s %s (pid %s)%s after %d of %d operations"
            % (prog, killed.command, killed.pid, was, killed.answered, killed.total))


def refuse_after_killed_run(runner, lock):
    """Exit(5) when a killed run's changes may still be in the table (the
    caller lets go of the lock)."""
    killed = killed_run(runner, lock)
    if killed is None:
        return
    p = runner.prog
    raise Exit(EXIT_KILLED, "%s: %s; the table holds its changes: %s --recover undoes them, "
               "%s --recover=forget keeps them" % (p, _who(p, killed, " was killed"), p, p))


def recover(runner):
    """--recover: undo what a killed run left, by the rules of its own
    undo (only what is still as it left it); --recover=forget: drop its
    journal and keep the table as it is."""
    p = runner.prog
    forget = runner.x.recover == "forget"
    with runner.writer_lock(recovering=True) as lock:
        killed = killed_run(runner, lock, forget)
        if killed is None:
            runner.out.write("%s: no killed run's journal: nothing to recover\n" % p)
            return 0
        if forget:
            lock.drop_journal()
            runner.out.write("%s: the journal of %s, is dropped; the table stays as it is\n"
                             % (p, _who(p, killed)))
            return 0
        from .. import IPVSError
        with HeldSignals() as held:
            try:
                failures = lock.undo_killed_run(runner.client, killed)
            except IPVSError as e:
                raise Exit(1, "%s: %s" % (p, e)) from None
        runner._report_undo(failures)
        (runner.err if failures else runner.out).write(
            "%s: undone the changes of %s; %s\n"
            % (p, _who(p, killed), "COULD NOT RESTORE THE TABLE" if failures
               else "the table is as it was"))
        held.act()
        return 1 if failures else 0
