# Options beyond ipvsadm 1.31: --json/-j [--pretty], --apply [FILE]
# [--dry-run], -R --atomic, --netns NAME, --status, --about.
#
# Rule: these words are taken out of the argument vector before ipvsadm's
# own parser sees the rest, and only when one of them is there does this
# module run at all: without them every behaviour is ipvsadm's, byte for
# byte. Listings reuse the runner's model building; JSON comes from the
# library (ipvs._json), plans from ipvs._plan.
from __future__ import annotations

import os

from . import _options as O
from ._run import CONN_FILE, Exit, Runner, restore_words

EBADF = 9  # errno's value; importing errno costs every start-up a module

WORDS = ("--json", "-j", "--pretty", "--apply", "--dry-run", "--atomic", "--netns", "--status",
         "--about",
         "--drain", "--prometheus", "--labels", "--watch")  # these four: _opswords


def wanted(argv) -> bool:
    """Does this command line use any of these options? (cheap)"""
    for a in argv[1:]:
        if a in WORDS or a.startswith(("--netns=", "--apply=", "--drain=", "--labels=",
                                       "--watch=")):
            return True
    return False


class Extras:
    def __init__(self):
        self.json = False
        self.pretty = False
        self.apply = None  # None, or a file name ("-": standard input)
        self.dry_run = False
        self.atomic = False
        self.netns = None
        self.status = False
        self.about = False
        from ._opswords import Words
        self.ops = Words()  # --drain, --prometheus, --watch


def _usage_error(msg):
    raise Exit(2, msg)


def split(argv):
    """(Extras, the remaining argv for ipvsadm's parser)."""
    x = Extras()
    rest = [argv[0]]
    from . import _opswords
    try:
        x.ops, args = _opswords.take(argv[1:])
    except ValueError as e:
        _usage_error(str(e))
    i = 0
    json_wanted = any(a in ("--json", "-j") for a in args)
    pretty_p = json_wanted and any(a in ("--apply", "--status") or a.startswith("--apply=")
                                   for a in args)
    listing = json_wanted and any(a in ("-L", "-l", "--list", "-S", "--save") or
                  (a.startswith("-") and not a.startswith("--") and ("L" in a or "l" in a)
                   and len(a) > 1) for a in args)
    while i < len(args):
        a = args[i]
        if a in ("--json", "-j"):
            x.json = True
        elif a == "--pretty":
            x.pretty = True
        elif a == "--dry-run":
            x.dry_run = True
        elif a == "--atomic":
            x.atomic = True
        elif a == "--status":
            x.status = True
        elif a == "--about":
            x.about = True
        elif a == "--netns" or a.startswith("--netns="):
            if a == "--netns":
                i += 1
                if i >= len(args):
                    _usage_error("--netns needs the name of a network namespace")
                x.netns = args[i]
            else:
                x.netns = a[len("--netns="):]
            if not x.netns:
                _usage_error("--netns needs the name of a network namespace")
        elif a == "--apply" or a.startswith("--apply="):
            if a == "--apply":
                # an optional FILE: the next word, unless it is an option
                if i + 1 < len(args) and (args[i + 1] == "-" or not args[i + 1].startswith("-")):
                    i += 1
                    x.apply = args[i]
                else:
                    x.apply = "-"
            else:
                x.apply = a[len("--apply="):] or "-"
        elif a == "-p" and (listing or pretty_p):
            x.pretty = True  # ip -j -p; -p (persistent) is no listing option
        else:
            rest.append(a)
        i += 1
    if x.about and len(args) > 1:
        _usage_error("--about takes no other command or option")
    if x.pretty and not x.json:
        _usage_error("--pretty goes with --json")
    if x.dry_run and x.apply is None:
        _usage_error("--dry-run goes with --apply")
    if x.apply is not None and len(rest) > 1:
        _usage_error("--apply takes no other command or option (only --dry-run, --json, "
                     "--netns)")
    if x.status and (len(rest) > 1 or x.apply is not None):
        _usage_error("--status takes no other command or option (only --json, --pretty, "
                     "--netns)")
    if x.atomic and not any(a in ("-R", "--restore") for a in rest[1:]):
        _usage_error("--atomic goes with -R (--restore)")
    if x.json and x.apply is not None and not x.dry_run:
        _usage_error("--json goes with listings and with --apply --dry-run")
    ops_error = _opswords.checks(x.ops, rest, x.apply, x.json)
    if ops_error:
        _usage_error(ops_error)
    return x, rest


class BeyondRunner(Runner):
    def __init__(self, prog, out, err, stdin, extras):
        Runner.__init__(self, prog, out, err, stdin)
        self.x = extras

    # --------------------------------------------------------- the kernel

    def _new_client(self):
        from .._client import Client
        return Client(netns=self.x.netns)

    # ----------------------------------------------------------- commands

    def run(self, argv):
        if self.x.about:
            self.out.write(about())
            return 0
        if self.x.status:
            return self.show_status()
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
        from .._json import dumps
        self.out.write(dumps(value, pretty=self.x.pretty))

    # ------------------------------------------------------------ status

    def show_status(self):
        from .._errors import KernelError
        try:
            st = self.client.status()
        except KernelError as e:
            raise Exit(1, e.strerror) from None
        if self.x.json:
            from .._json import to_json
            self._write_json([to_json(st)])
        else:
            from ._statusview import status_text
            self.out.write(status_text(st))
        return 0

    # -------------------------------------------------------------- JSON

    def _estimating(self, fmt):
        # rates only: a listing without them reads no sysctl
        return self.client.estimating() if fmt & O.FMT_RATE else True

    def list_all(self, fmt):
        if not self.x.json:
            return Runner.list_all(self, fmt)
        from .._errors import KernelError
        from .._json import to_json
        from . import _render as R
        c = self.client
        try:
            entries = [(s, c.destinations(s)) for s in c.services()]
        except KernelError as e:
            self._fail_listing(e)
        if not fmt & O.FMT_NOSORT:
            entries = sorted(((s, sorted(ds, key=R.dest_sort_key)) for s, ds in entries),
                             key=lambda e: R.service_sort_key(e[0]))
        self._write_json(to_json(entries, stats=bool(fmt & O.FMT_STATS),
                                 rate=bool(fmt & O.FMT_RATE), estimating=self._estimating(fmt)))

    def list_service(self, ce):
        if not self.x.json:
            return Runner.list_service(self, ce)
        from .._errors import KernelError
        from .._json import to_json
        from . import _render as R
        c = self.client
        try:
            svc = c.get_service(self.service(ce))
            dests = c.destinations(svc)
        except KernelError as e:
            self._fail_listing(e)
        if not ce.format & O.FMT_NOSORT:
            dests = sorted(dests, key=R.dest_sort_key)
        fmt = ce.format
        self._write_json([to_json((svc, dests), stats=bool(fmt & O.FMT_STATS),
                                  rate=bool(fmt & O.FMT_RATE), estimating=self._estimating(fmt))])

    def list_timeouts(self):
        if not self.x.json:
            return Runner.list_timeouts(self)
        from .._errors import KernelError
        from .._json import to_json
        try:
            t = self.client.timeouts()
        except KernelError:
            raise Exit(1) from None
        self._write_json([to_json(t)])

    def list_daemons(self):
        if not self.x.json:
            return Runner.list_daemons(self)
        from .._errors import KernelError
        from .._json import to_json
        try:
            ds = self.client.daemons()
        except KernelError:
            raise Exit(1) from None
        self._write_json(to_json(ds))

    def list_connections(self, fmt):
        if not self.x.json:
            return Runner.list_connections(self, fmt)
        from .._conns import connection_from_record, iter_records_from
        from .._json import to_json
        try:
            f = self.open_connections()
        except OSError:
            raise Exit(1, "cannot open file %s" % CONN_FILE) from None
        with f:
            if not f.readline():
                raise Exit(1, "unexpected input from %s" % CONN_FILE)
            conns = [connection_from_record(r) for r in iter_records_from(f)]
        self._write_json(to_json(conns))

    # ------------------------------------------------------------- apply

    def read_rules(self):
        """The target table from -S lines: [(Service, [Destination])]."""
        name = self.x.apply
        try:
            if name == "-":
                text = self.stdin.read()
                if text is None:
                    raise OSError(EBADF, os.strerror(EBADF))
            else:
                with open(name, encoding="utf-8", errors="surrogateescape") as f:
                    text = f.read()
        except OSError as e:
            raise Exit(1, "%s: cannot read %s: %s" % (self.prog, name, e.strerror)) from None
        from .._errors import KernelError
        table = {}
        order = []
        for n, line in enumerate(text.splitlines(), 1):
            words = restore_words(line)
            if not words or words[0].startswith("#"):
                continue
            where = "%s: line %d" % (self.prog, n)
            try:
                ce = O.check_command(O.parse_options([self.prog] + words))
            except O.PoptFailure as e:
                raise Exit(1, "%s: %s" % (where, e.text)) from None
            except O.ParseExit as e:
                raise Exit(1, "%s: %s" % (where, e.message or "bad command: %s" % line.strip())) \
                    from None
            if ce.cmd not in (O.CMD_ADD, O.CMD_ADDDEST):
                raise Exit(1, "%s: --apply takes -A and -a lines, as ipvsadm -S prints them: %s"
                           % (where, line.strip()))
            try:
                svc = self.service(ce)
                dest = self.destination(ce) if ce.cmd == O.CMD_ADDDEST else None
            except KernelError as e:
                raise Exit(1, "%s: %s" % (where, e.strerror)) from None
            if dest is None:
                if svc.key in table:
                    raise Exit(1, "%s: service given twice: %s" % (where, line.strip()))
                table[svc.key] = (svc, {})
                order.append(svc.key)
            else:
                if svc.key not in table:
                    raise Exit(1, "%s: destination of a service with no -A line before it: %s"
                               % (where, line.strip()))
                dests = table[svc.key][1]
                if dest.key in dests:
                    raise Exit(1, "%s: destination given twice: %s" % (where, line.strip()))
                dests[dest.key] = dest
        return [(table[k][0], list(table[k][1].values())) for k in order]

    def apply_rules(self):
        target = self.read_rules()
        c = self.client
        from .._plan import ApplyError, Interrupted
        if self.x.dry_run:
            ops = c.plan(target)
            if self.x.json:
                from .._json import to_json
                self._write_json(to_json(ops))
            else:
                for op in ops:
                    self.out.write("%s %s\n" % (self.prog, op.command()))
            return 0
        with HeldSignals() as held:
            try:
                c.apply(target, atomic=True, checkpoint=held.checkpoint)
            except ApplyError as e:
                self._report_undo(e.rollback_errors)
                if isinstance(e.error, Interrupted):
                    msg = "%s: interrupted before %s %s; %s" % (
                        self.prog, self.prog, e.operation.command(), _state(e.rolled_back))
                    raise Exit(128 + e.error.signum, msg, signum=e.error.signum) from None
                raise Exit(1, "%s: %s %s: %s; %s" % (self.prog, self.prog, e.operation.command(),
                                                      _error_text(e.error),
                                                      _state(e.rolled_back))) from None
        held.act()  # a signal during the last operation: the apply is whole
        return 0

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
        try:
            lines = self.stdin.read().splitlines()
        except (OSError, AttributeError) as e:
            raise Exit(1, "%s: cannot read standard input: %s"
                       % (self.prog, os.strerror(getattr(e, "errno", None) or EBADF))) \
                from None
        from .._plan import Interrupted, Journal
        c = self.client
        self.journal = Journal(c)
        with HeldSignals() as held:
            n, line = 0, ""
            try:
                for n, line in enumerate(lines, 1):
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


def _error_text(e):
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def _state(rolled_back):
    return "the table is as it was" if rolled_back else "COULD NOT RESTORE THE TABLE"


class HeldSignals:
    """SIGINT, SIGTERM and SIGHUP held off while an atomic change and its
    undo run: the handler only notes the signal; checkpoint() turns it into
    ipvs.Interrupted between operations, act() (after the work is whole or
    undone) ends the program by that signal as the C tool would end."""

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self):
        self.signum = 0
        self._old = {}

    def __enter__(self):
        import signal
        self._signal = signal
        for name in self.SIGNALS:
            num = getattr(signal, name)
            try:
                self._old[num] = signal.signal(num, self._note)
            except (ValueError, OSError):  # not the main thread
                pass
        return self

    def _note(self, signum, frame):
        if not self.signum:
            self.signum = signum

    def checkpoint(self):
        if self.signum:
            from .._plan import Interrupted
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


def about():
    """What is running: this package, the interpreter, the decoder and,
    when it is not the C one, why not (-v stays ipvsadm's line)."""
    import sys
    from .. import __version__
    from .. import _decoder
    from ._render import VERSION_LINE
    lines = [
        "ipvs %s, a Python rebuild of %s" % (__version__, VERSION_LINE.split(" (")[0]),
        "python %d.%d.%d (%s) %s" % (sys.version_info[:3] + (sys.implementation.name,
                                                            sys.executable or "?")),
        "decoder: %s" % _decoder.DECODER,
    ]
    if _decoder.DECODER_REASON is not None:
        lines.append("why not c: %s" % _decoder.DECODER_REASON)
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
