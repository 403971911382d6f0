# Options beyond ipvsadm 1.31: --json/-j [--pretty], --apply [FILE]
# [--dry-run], -R --atomic, --netns NAME|PATH, --status, --about.
#
# Rule: these words are taken out of the argument vector before ipvsadm's
# own parser sees the rest, and only when one of them is there does this
# module run at all: without them every behaviour is ipvsadm's, byte for
# byte. Listings are the runner's (read once, _listing), shown here as JSON
# (ipvs.to_json); plans and journals are the library's (ipvs.apply,
# ipvs.Journal), used through its public API.
from __future__ import annotations

import os

from . import _options as O
from ._exits import EXIT_CHANGED, EXIT_LOCKED
from ._heldsignals import HeldSignals
from ._run import Exit, Runner, restore_words

EBADF = 9  # errno's value; importing errno costs every start-up a module

from . import WORDS, wanted  # noqa: F401 (which words bring this module in: cli's)
from ._extras import Extras, split  # noqa: F401 (the words, taken out of argv)


class BeyondRunner(Runner):
    def __init__(self, prog, out, err, stdin, extras):
        Runner.__init__(self, prog, out, err, stdin)
        self.x = extras
        self.json = extras.json

    # --------------------------------------------------------- the kernel

    def _new_client(self):
        from .. import Client
        return Client(netns=self.x.netns)

    # ----------------------------------------------------------- commands

    def run(self, argv):
        if self.x.about:
            self.out.write(about())
            return 0
        if self.x.status:
            return self.show_status()
        if self.x.recover is not None:
            from ._killedruns import recover
            return recover(self)
        if self.x.ops.any:  # --drain, --prometheus, --watch
            from ._opsrun import run_operators
            return run_operators(self, argv)
        if self.x.apply is not None:
            return self.apply_rules()
        if self.x.json and len(argv) > 1:
            try:
                ce = O.check_command(O.parse_options(argv))
            except O.PoptFailure:
                ce = None  # ipvsadm's own message, from Runner.run
            if ce is not None and ce.cmd not in (O.CMD_LIST, O.CMD_SAVE):
                raise Exit(2, "--json goes with listings (-L, -l, -S)")
        if self.x.atomic:
            return self.atomic_restore(argv)
        return Runner.run(self, argv)

    def _write_json(self, value):
        from .. import dumps
        self.out.write(dumps(value, pretty=self.x.pretty))

    # ------------------------------------------------------------ status

    def show_status(self):
        from .. import IPVSError, KernelError
        try:
            st = self.client.status()
        except KernelError as e:
            raise Exit(1, e.strerror) from None
        try:
            killed = self.client.killed_run()
        except (IPVSError, OSError):  # (a journal this user may not read)
            killed = None
        if self.x.json:
            from .. import to_json
            doc = to_json(st)
            if killed is not None:
                doc["killed_run"] = {"pid": killed.pid, "command": killed.command,
                                     "operations": killed.total, "done": killed.answered}
            self._write_json([doc])
        else:
            from ._statusview import status_text
            self.out.write(status_text(st, killed, self.prog))
        return 0

    # -------------------------------------------------------------- JSON

    def _estimating(self, fmt):
        # rates only: a listing without them reads no sysctl
        return self.client.estimating() if fmt & O.FMT_RATE else True

    def json_table(self, client, fmt):
        """The whole table for a JSON listing: the compact document's text
        as the dumps are read (ipvs.json_table: no object per real server),
        or, for --pretty, the (service, destinations) pairs."""
        if self.x.pretty:
            return client.entries()
        from .. import json_table
        return json_table(client, stats=bool(fmt & O.FMT_STATS), rate=bool(fmt & O.FMT_RATE),
                          estimating=self._estimating(fmt), sort=not fmt & O.FMT_NOSORT)

    def show(self, kind, data, fmt):
        """A listing's data (Listings.fetch: read once, netlink's records
        when self.json) as JSON, sorted as the text listing sorts."""
        if not self.json:
            return Runner.show(self, kind, data, fmt)
        if kind == "table" and not isinstance(data, list):  # json_table's text
            self._write_bytes(data)
            return
        from .. import to_json
        from ..rules import dest_sort_key, sorted_table
        counters = dict(stats=bool(fmt & O.FMT_STATS), rate=bool(fmt & O.FMT_RATE))
        if kind == "table":
            if not fmt & O.FMT_NOSORT:
                data = sorted_table(data)
            value = to_json(data, estimating=self._estimating(fmt), **counters)
        elif kind == "service":
            svc, dests = data
            if not fmt & O.FMT_NOSORT:
                dests = sorted(dests, key=dest_sort_key)
            value = [to_json((svc, dests), estimating=self._estimating(fmt), **counters)]
        elif kind == "connections":  # streamed: a million of them in bounded memory
            from .. import connection_record_json, dump_array, iter_records_from
            dump_array(map(connection_record_json, iter_records_from(data)), self.out.write,
                       pretty=self.x.pretty)
            return
        elif kind == "daemons":
            value = to_json(data)
        else:
            value = [to_json(data)]
        self._write_json(value)

    # ------------------------------------------------------------- apply

    def read_rules(self):
        """The target table from -S lines: [(Service, [Destination])].
        From a named file (--apply FILE, often run through sudo), no
        message quotes the file beyond the ipvsadm words recognised in
        it: a line number and a reason (_ruleinput). With --scope, a
        service outside it is refused here, before the kernel is read."""
        from . import _ruleinput as R
        name = self.x.apply
        named = name != "-"
        try:
            if named:
                with R.open_rules(name) as f:
                    lines = R.whole_lines(f)
            else:
                if not hasattr(self.stdin, "readline"):
                    raise OSError(EBADF, os.strerror(EBADF))
                lines = R.whole_lines(self.stdin)
        except OSError as e:
            raise Exit(1, "%s: cannot read %s: %s" % (self.prog, name,
                                                      e.strerror or os.strerror(EBADF))) \
                from None
        except R.InputRefused as e:
            raise Exit(1, "%s: line %d: %s; nothing changed" % (self.prog, e.number, e.reason)) \
                from None
        from .. import KernelError
        table = {}
        order = []
        first = {}  # key -> the line number of its first rule
        for n, line in lines:
            words = restore_words(line)
            if not words or words[0].startswith("#"):
                continue
            where = "%s: line %d" % (self.prog, n)
            shown = ": " + line.strip() if not named else ""
            try:
                ce = O.check_command(O.parse_options([self.prog] + words))
            except O.PoptFailure as e:
                raise Exit(1, "%s: %s" % (where, R.popt_reason(e.text) if named else e.text)) \
                    from None
            except O.ParseExit as e:
                if named:
                    msg = R.file_reason(e.message, words) if e.message \
                        else "not an ipvsadm rule"
                else:
                    msg = e.message or "bad command: %s" % line.strip()
                raise Exit(1, "%s: %s" % (where, msg)) from None
            if ce.cmd not in (O.CMD_ADD, O.CMD_ADDDEST):
                raise Exit(1, "%s: --apply takes -A and -a lines, as ipvsadm -S prints them%s"
                           % (where, shown))
            try:
                svc = self.service(ce)
                dest = self.destination(ce) if ce.cmd == O.CMD_ADDDEST else None
            except KernelError as e:
                raise Exit(1, "%s: %s" % (where, e.strerror)) from None
            if named:  # the rule as recognised, and where it was first given
                from .. import Operation
                shown = ": " + (Operation("add_service", svc) if dest is None else
                                Operation("add_destination", svc, dest)).command()
            if dest is None:
                if self.x.scope is not None and not self.x.scope.covers(svc):
                    from ..rules import service_spec
                    raise Exit(1, "%s: service outside --scope: %s; nothing changed"
                               % (where, service_spec(svc)))
                if svc.key in table:
                    raise Exit(1, "%s: service given twice%s%s"
                               % (where, _first(first, svc.key, named), shown))
                table[svc.key] = (svc, {})
                first[svc.key] = n
                order.append(svc.key)
            else:
                if svc.key not in table:
                    raise Exit(1, "%s: destination of a service with no -A line before it%s"
                               % (where, shown))
                dests = table[svc.key][1]
                if dest.key in dests:
                    raise Exit(1, "%s: destination given twice%s%s"
                               % (where, _first(first, (svc.key, dest.key), named), shown))
                dests[dest.key] = dest
                first[(svc.key, dest.key)] = n
        return [(table[k][0], list(table[k][1].values())) for k in order]

    def apply_rules(self):
        target = self.read_rules()
        c = self.client
        from .. import ApplyError, Interrupted
        scope = self.x.scope
        if self.x.dry_run:
            ops = c.plan(target, scope=scope)
            if self.x.json:
                from .. import to_json
                # scoped: one object, so that the scope shows with an empty plan too
                self._write_json(to_json(ops) if scope is None else
                                 [{"scope": list(scope.items), "operations": to_json(ops)}])
            else:
                for op in ops:
                    self.out.write("%s %s\n" % (self.prog, op.command()))
            return 0
        from ._killedruns import journal_file
        with self.writer_lock() as lock, HeldSignals() as held:
            record = journal_file(self, lock, "--apply")
            try:  # (every way out of apply() but SIGKILL: whole, or undone)
                c.apply(target, atomic=True, checkpoint=held.checkpoint, record=record,
                        scope=scope)
            except ApplyError as e:
                self._report_undo(e.rollback_errors)
                if isinstance(e.error, Interrupted):
                    msg = "%s: interrupted before %s %s; %s" % (
                        self.prog, self.prog, e.operation.command(), _state(e.rolled_back))
                    raise Exit(128 + e.error.signum, msg, signum=e.error.signum) from None
                raise Exit(1, "%s: %s %s: %s; %s" % (self.prog, self.prog, e.operation.command(),
                                                      _error_text(e.error),
                                                      _state(e.rolled_back))) from None
            finally:
                record.finish()
        held.act()  # a signal during the last operation: the apply is whole
        return self._check_applied(target)

    def _check_applied(self, target):
        """Read the table again after a whole apply: anything that differs
        from the rules is another writer's doing (keepalived, kube-proxy, a
        person: they take no lock); say what, with exit status 4."""
        left = self.client.plan(target, scope=self.x.scope)
        for op in left:
            self.err.write("%s: another writer changed the table during the apply; to make it "
                           "the rules': %s %s\n" % (self.prog, self.prog, op.command()))
        return EXIT_CHANGED if left else 0

    def writer_lock(self, recovering=False):
        """The namespace's writers' lock for a run that changes the table
        (--wait: how long to wait for it); Exit(3) when another holds it,
        Exit(5) when a killed run's journal is there (but to --recover)."""
        from .. import LockBusy
        try:
            lock = self.client.writer_lock(self.x.wait)
        except LockBusy as e:
            raise Exit(EXIT_LOCKED, "%s: %s" % (self.prog, e)) from None
        except OSError as e:
            raise Exit(1, "%s: cannot take the writers' lock: %s" % (self.prog, _error_text(e))) \
                from None
        if not recovering:
            from ._killedruns import refuse_after_killed_run
            try:
                refuse_after_killed_run(self, lock)
            except BaseException:
                lock.release()
                raise
        return lock

    def _report_undo(self, failures):
        for f in failures:
            self.err.write("%s: could not put back: %s %s: %s\n"
                           % (self.prog, self.prog, f.command, f.reason))

    # ---------------------------------------------------- atomic restore

    def atomic_restore(self, argv):
        """-R --atomic: every line takes effect, or none: at the first
        failing line (or a signal, or any error) our own operations are
        undone in reverse (ipvs.Journal: the table, the timeouts and the
        daemons; what another writer did meanwhile stays) and the failing
        line is named."""
        if len(argv) != 2:
            try:  # ipvsadm's own complaints first
                O.check_command(O.parse_options(argv))
            except O.PoptFailure as e:
                self.err.write(e.text + "\n")
                return 0xFF  # process_options() returns -1
        from ._ruleinput import InputRefused, whole_lines
        try:  # all of it before the first change; refused when cut short
            lines = whole_lines(self.stdin)
        except (OSError, AttributeError) as e:
            raise Exit(1, "%s: cannot read standard input: %s"
                       % (self.prog, os.strerror(getattr(e, "errno", None) or EBADF))) \
                from None
        except InputRefused as e:
            raise Exit(1, "%s: line %d: %s; nothing restored" % (self.prog, e.number, e.reason)) \
                from None
        from .. import Interrupted, Journal
        from ._killedruns import journal_file
        with self.writer_lock() as lock, HeldSignals() as held:
            record = journal_file(self, lock, "-R --atomic")
            record.begin(sum(1 for _, line in lines if restore_words(line)))
            self.journal = Journal(self.client, record)
            n, line = 0, ""
            try:
                for n, line in lines:
                    words = restore_words(line)
                    if not words:
                        continue
                    held.checkpoint()
                    failure = None
                    try:
                        if self.process([self.prog] + words, True) != 0:
                            failure = Exit(1)
                    except (O.ParseExit, Exit) as e:
                        failure = e
                    if failure is None:
                        continue
                    failures = self._undo()
                    if isinstance(failure, O.ParseExit):
                        from . import _parse_exit
                        _parse_exit(failure, self.prog, self.out, self.err)
                    elif failure.message:
                        self.err.write(failure.message + "\n")
                    raise Exit(1, "%s: line %d failed, nothing restored (%s): %s"
                               % (self.prog, n, _state(not failures), line.strip()))
            except Interrupted as e:
                failures = self._undo()
                raise Exit(128 + e.signum, "%s: interrupted at line %d, nothing restored (%s)"
                           % (self.prog, n, _state(not failures)), signum=e.signum) \
                    from None
            except Exit:
                raise
            except Exception as e:  # a socket error, a bug: undone all the same
                failures = self._undo()
                raise Exit(1, "%s: line %d failed, nothing restored (%s): %s: %s"
                           % (self.prog, n, _state(not failures), line.strip(),
                              _error_text(e))) from None
            except BaseException:
                self.journal.undo()
                raise
            finally:  # (every way out but SIGKILL: whole, or undone)
                record.finish()
        held.act()
        return 0

    def _undo(self):
        """Undo this restore's own operations; say what could not be put back."""
        failures = self.journal.undo()
        self._report_undo(failures)
        return failures

    def execute(self, ce):
        if not self.x.atomic:
            return Runner.execute(self, ce)
        self.journal.run(self.operation(ce))


def _first(first, key, named):
    return " (first on line %d)" % first[key] if named else ""


def _error_text(e):
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def _state(rolled_back):
    return "the table is as it was" if rolled_back else "COULD NOT RESTORE THE TABLE"


def about():
    """What is running: this package, the interpreter, the decoder and,
    when it is not the C one, why not (-v stays ipvsadm's line)."""
    import sys
    from .. import DECODER, DECODER_REASON, __version__
    from ._usage import VERSION_LINE
    lines = [
        "ipvs %s, a Python rebuild of %s" % (__version__, VERSION_LINE.split(" (")[0]),
        "python %d.%d.%d (%s) %s" % (sys.version_info[:3] + (sys.implementation.name,
                                                            sys.executable or "?")),
        "decoder: %s" % DECODER,
    ]
    if DECODER_REASON is not None:
        lines.append("why not c: %s" % DECODER_REASON)
    return "\n".join(lines) + "\n"


def make_runner(argv, out, err, inp):
    """(runner, the argv it runs) for a command line that uses these
    options; Exit(2) on a usage error."""
    x, rest = split(argv)
    return BeyondRunner(rest[0], out, err, inp, x), rest


def run(argv, out, err, inp):
    """main()'s work for these options, without its error handling."""
    runner, rest = make_runner(argv, out, err, inp)
    try:
        return runner.run(rest) & 0xFF
    finally:
        runner.close()
