# Commands of the operators' options: -d ... --drain, --apply --drain,
# -L --prometheus, -L --watch.
#
# Rule: a client of the library's public API (ipvs.Client, the model
# classes, ipvs.drain / metrics / watch as their documented functions);
# the runner given is the BeyondRunner, for its client, streams and the
# service/destination building of ipvsadm's grammar.
from __future__ import annotations

import time

from . import _options as O
from ._run import Exit


def run_operators(runner, argv):
    w = runner.x.ops
    if w.drain is not None:
        if runner.x.apply is not None:
            return apply_drained(runner, w.drain)
        return delete_drained(runner, argv, w.drain)
    if w.prometheus:
        from ._opsmetrics import prometheus_listing
        return prometheus_listing(runner, argv)
    from ._watchview import watch_listing
    return watch_listing(runner, argv)


def parse_command(argv, status=255):
    """ipvsadm's parse and checks of argv; popt's complaint: Exit(status)."""
    try:
        ce = O.parse_options(argv)
    except O.PoptFailure as e:
        raise Exit(status, e.text) from None
    O.check_command(ce)
    return ce


def _signals():
    from ._heldsignals import HeldSignals

    class Signals(HeldSignals):
        """The signals HeldSignals holds only noted while a drain runs;
        checkpoint() turns one into ipvs.Interrupted between kernel
        operations, so a signal never cuts a netlink exchange in half and
        never lets the delete run; sleep() wakes up for it."""

        def sleep(self, seconds):
            end = time.monotonic() + seconds
            while not self.signum:
                left = end - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(left, 0.1))
    return Signals()


def is_tty(stream) -> bool:
    """Is this stream a terminal? (main()'s own writers have no isatty())"""
    import os
    try:
        return bool(stream.isatty())
    except AttributeError:
        pass
    except (ValueError, OSError):
        return False
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False


class _Progress:
    """One rewritten status line on stderr when it is a terminal; nothing
    otherwise (scripts and logs see only the outcome)."""

    def __init__(self, err, what):
        self.err = err
        self.what = what
        self.tty = is_tty(err)
        self.shown = False

    def __call__(self, p):
        if not self.tty:
            return
        self.err.write("\r\033[K%s: %d active, %d inactive, %d persistent; %ds of %ds"
                       % (self.what, p.active, p.inactive, p.persistent, p.elapsed, p.timeout))
        self.err.flush()
        self.shown = True

    def end(self):
        if self.shown:
            self.err.write("\n")
            self.shown = False


def _interrupted(runner, progress, signum, what):
    progress.end()
    raise Exit(128 + signum, "%s: drain interrupted: %s left in place at weight 0"
               % (runner.prog, what), signum=signum)


def delete_drained(runner, argv, timeout):
    """-d -t VIP:PORT -r RIP:PORT --drain [SECONDS]."""
    ce = parse_command(argv)
    if ce.cmd != O.CMD_DELDEST:
        raise Exit(2, "--drain goes with -d (--delete-server) and with --apply")
    from .. import drain as _drain
    from .. import KernelError
    from .. import Interrupted
    c = runner.client
    svc = runner.service(ce)
    dest = runner.destination(ce)
    from ..rules import service_spec
    what = "%s -r %s" % (service_spec(svc), _hostport(dest))
    progress = _Progress(runner.err, "draining " + what)
    writes = []

    def writing():  # the lock for the weight's change, then for the delete
        writes.append(1)
        if len(writes) == 1:
            return runner.writer_lock()
        progress.end()
        return _after_drain_lock(runner, "%s left in place at weight 0" % what)

    with _signals() as sig:
        try:
            _drain.drain(c, svc, dest, timeout=timeout, progress=progress, sleep=sig.sleep,
                         checkpoint=sig.checkpoint, writing=writing)
        except Interrupted as e:
            _interrupted(runner, progress, e.signum, what)
        except _drain.DrainChanged as e:
            progress.end()
            _report_changed(runner, e.changed)
            raise Exit(1) from None
        except KernelError as e:
            progress.end()
            raise Exit(255, e.strerror) from None  # as ipvsadm -d fails
    progress.end()
    sig.act()  # a signal during the delete: it is done; end by it now
    return 0


def _hostport(d):
    return ("[%s]:%d" if ":" in d.address else "%s:%d") % (d.address, d.port)


def _report_changed(runner, changed):
    from ..rules import service_spec
    for svc, d in changed:
        runner.err.write("%s: %s -r %s: changed by another writer while draining (weight "
                         "%d), not deleted\n" % (runner.prog, service_spec(svc), _hostport(d),
                                                 d.weight))


def _after_drain_lock(runner, waiting):
    """The writers' lock for the removals after the wait; when another
    writer keeps it, say what the first step left."""
    try:
        return runner.writer_lock()
    except Exit as e:
        if e.message:
            e.message = "%s; %s" % (e.message, waiting)
            e.args = (e.message,)
        raise


def apply_drained(runner, timeout):
    """--apply FILE --drain [SECONDS] [--dry-run]: the plan in two steps.
    First everything but the removals, with the real servers to remove (and
    those of services to remove) set to weight 0, in one atomic apply; then
    the wait; then the removals, in a second atomic apply, of only what is
    still as the first step left it (a real server another writer changed
    meanwhile stays, and is named; exit status 1)."""
    target = runner.read_rules()
    c = runner.client
    from .. import drain as _drain
    from .. import ApplyError, Interrupted
    scope = runner.x.scope  # (read_rules refused a rule outside it)
    first, pairs, second = _drain.plan_drained(c, target, scope)
    if runner.x.dry_run:
        p = runner.prog
        for op in first:
            runner.out.write("%s %s\n" % (p, op.command()))
        if pairs:
            runner.out.write("# drain %d real server%s (up to %gs), then:\n"
                             % (len(pairs), "" if len(pairs) == 1 else "s", timeout))
        for op in second:
            runner.out.write("%s %s\n" % (p, op.command()))
        return 0
    stage, pairs = _drain.drain_stage(c.table(), target, scope)
    drained = [(svc, d.replace(weight=0)) for svc, d in pairs]
    progress = _Progress(runner.err, "draining %d real servers" % len(pairs))
    n = len(pairs)
    waiting = ("the rules' other changes are in place and the %d real server%s to remove "
               "%s still there at weight 0; nothing was deleted (run the same --apply "
               "--drain again to finish)" % (n, "" if n == 1 else "s", "is" if n == 1 else "are")
               if pairs else "the rules are in place (nothing to drain)")
    step = 1
    changed = []
    with _signals() as sig:
        try:
            with runner.writer_lock():
                c.apply(stage, atomic=True, checkpoint=sig.checkpoint, scope=scope)
            step = 2
            if pairs:
                _drain.wait_drained(c, pairs, timeout=timeout, progress=progress,
                                    sleep=sig.sleep, checkpoint=sig.checkpoint)
            progress.end()
            sig.checkpoint()
            step = 3
            with _after_drain_lock(runner, waiting):
                changed = _drain.changed_while_draining(c, drained)
                if changed:
                    target = _drain.keep_changed(target, c.table(), changed)
                c.apply(target, atomic=True, checkpoint=sig.checkpoint, scope=scope)
        except Interrupted as e:  # while waiting, or right after a step
            progress.end()
            raise Exit(128 + e.signum, "%s: --apply --drain interrupted: %s"
                       % (runner.prog, waiting), signum=e.signum) from None
        except ApplyError as e:
            progress.end()
            runner._report_undo(e.rollback_errors)
            if not e.rolled_back:
                state = "COULD NOT RESTORE THE TABLE"
            elif step == 1:
                state = "the table is as it was"
            else:
                state = "the removals are undone: " + waiting
            if isinstance(e.error, Interrupted):
                raise Exit(128 + e.error.signum, "%s: --apply --drain interrupted; %s" % (
                    runner.prog, state), signum=e.error.signum) from None
            msg = getattr(e.error, "strerror", None) or str(e.error)
            raise Exit(1, "%s: %s %s: %s; %s" % (
                runner.prog, runner.prog, e.operation.command(), msg, state)) from None
    if changed:
        _report_changed(runner, changed)
    sig.act()  # a signal during the last step: it is whole; end by it now
    return 1 if changed else 0
