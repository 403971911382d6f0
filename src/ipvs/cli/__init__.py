"""The ipvsadm-compatible command line: `ipvsadm`, `ipvsadm-save`,
`ipvsadm-restore` and `python -m ipvs`.

main(argv, stdout, stderr, stdin) runs one invocation in-process and
returns its exit status; the console scripts call it with the process's
own streams. Imports are deferred so that `ipvsadm -h` starts fast.
"""


import os
import sys

__all__ = ["main", "save_main", "restore_main"]

# The options beyond ipvsadm 1.31 (_beyond). Only a command line that uses
# one of them loads that module: ipvsadm's own commands never pay for it.
WORDS = ("--json", "-j", "--pretty", "--apply", "--dry-run", "--atomic", "--netns", "--status",
         "--about", "--wait", "--recover", "--scope",
         "--drain", "--prometheus", "--labels", "--watch")  # these four: _opswords


def wanted(argv) -> bool:
    """Does this command line use any of these options? (cheap)"""
    for a in argv[1:]:
        if a in WORDS or a.startswith(("--netns=", "--apply=", "--drain=", "--labels=",
                                       "--watch=", "--wait=", "--recover=",
                                       "--scope=")):
            return True
    return False


def _program(argv0):
    # ipvsadm prints argv[0] as typed; a Python script only sees the path it
    # was run from, so use its base name ("ipvsadm" for the usual call).
    name = os.path.basename(argv0 or "")
    if not name or name in ("__main__.py", "-m", "-c"):
        return "ipvsadm"
    return name


def main(argv=None, stdout=None, stderr=None, stdin=None):
    """Run ipvsadm with argv (program name first); return the exit status."""
    if argv is None:
        return _standalone(lambda out, err, inp: main(sys.argv, out, err, inp))
    argv = [_program(argv[0] if argv else "")] + list(argv[1:])
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    inp = stdin if stdin is not None else sys.stdin
    try:
        return _main(argv, out, err, inp)
    except KeyboardInterrupt:
        if isinstance(out, _FdWriter):
            raise  # standalone: the process dies of SIGINT, as C would
        return 130


def _main(argv, out, err, inp):
    from ._options import ParseExit
    from ._run import Exit, Runner
    try:
        if wanted(argv):
            from . import _beyond  # --json, --apply, -R --atomic, --netns, ...
            runner, argv = _beyond.make_runner(argv, out, err, inp)
        else:
            runner = Runner(argv[0], out, err, inp)
        try:
            return runner.run(argv)
        finally:
            runner.close()
    except ParseExit as e:
        return _parse_exit(e, argv[0], out, err)
    except Exit as e:
        if e.message is not None:
            err.write(e.message + "\n")
        if e.signum and isinstance(out, _FdWriter):
            raise _Killed(e.signum) from None  # standalone: die of it, as C would
        return e.status
    except Exception as e:  # never a traceback
        from .. import IPVSError
        if isinstance(e, IPVSError):
            err.write("%s\n" % (e,))
        else:
            err.write("%s: internal error: %s: %s\n" % (argv[0], type(e).__name__, e))
        return 1


def _parse_exit(e, prog, out, err):
    from . import _usage
    if e.usage:
        (out if e.status == 0 else err).write(_usage.usage(prog))
    elif e.version:
        (out if e.status == 0 else err).write(_usage.VERSION_LINE)
    elif e.tryhelp:
        err.write("Try `%s -h' or '%s --help' for more information.\n" % (prog, prog))
    elif e.message is not None:
        err.write(e.message + "\n")
    return e.status


def save_main(argv=None, stdout=None, stderr=None):
    """ipvsadm-save [-n]: the table as ipvsadm commands."""
    if argv is None:
        argv = sys.argv
    err = stderr if stderr is not None else sys.stderr
    numeric = False
    for a in argv[1:]:
        if a == "-n":
            numeric = True
        elif a.startswith("-"):
            name = os.path.basename(argv[0]) or "ipvsadm-save"
            err.write("%s: Script to save the IPVS table to stdout.\n"
                      "   With the -n option, prints out the table in numeric format.\n" % name)
            return 1
    args = ["ipvsadm", "-S"] + (["-n"] if numeric else [])
    if argv is sys.argv:
        return _standalone(lambda out, err, inp: main(args, out, err))
    return main(args, stdout, stderr)


def restore_main(argv=None, stdin=None, stdout=None, stderr=None):
    """ipvsadm-restore: replace the table with the rules read from stdin.

    Unlike Debian's script, the input is checked before the table is
    flushed: a syntax error leaves the current rules in place."""
    if argv is None:
        return _standalone(lambda out, err, inp: restore_main([], inp, out, err))
    inp = stdin if stdin is not None else sys.stdin
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        lines = [line for line in inp.read().splitlines() if not line.startswith("#")]
    except KeyboardInterrupt:
        if isinstance(out, _FdWriter):
            raise
        return 130
    except (OSError, AttributeError) as e:  # stdin closed, unreadable: flush nothing
        err.write("ipvsadm-restore: cannot read standard input: %s\n"
                  % os.strerror(getattr(e, "errno", None) or 9))
        return 1
    from ._options import ParseExit, PoptFailure, check_command, parse_options, CMD_RESTORE
    from ._run import restore_words
    for line in lines:
        words = restore_words(line)
        if not words:
            continue
        try:
            ce = check_command(parse_options(["ipvsadm"] + words))
            if ce.cmd == CMD_RESTORE:
                raise ParseExit(255, tryhelp=True)
        except ParseExit as e:
            if e.status != 0:  # what would stop ipvsadm -R half-way
                return _parse_exit(e, "ipvsadm", out, err)
        except PoptFailure:
            pass  # ipvsadm -R reports it and goes on with the next line
    import io
    status = main(["ipvsadm", "-C"], out, err)
    if status:
        return status
    return main(["ipvsadm", "-R"], out, err, io.StringIO("\n".join(lines) + "\n"))


# ----------------------------------------------------- the process's streams
# A standalone run does not write through sys.stdout: a TextIOWrapper over
# an unbuffered file (PYTHONUNBUFFERED=1) drops the rest of a short write,
# and its errors surface as "Exception ignored" at exit. Every byte goes
# through os.write here, each count checked; a failure ends the program
# with ipvsadm-style text on stderr and status 1, EPIPE as SIGPIPE ends the
# C tool (killed by it, silently), Ctrl-C and the signals an atomic change
# held off likewise by the signal. Closed descriptors 0-2 are held by
# /dev/null (so no socket takes their number and receives our output) and
# behave as closed: reading fails, writing fails.

EBADF, EPIPE, SIGINT, SIGPIPE = 9, 32, 2, 13
OUT_BUFFER = 64 << 10


class _WriteFailed(BaseException):
    """A write to stdout failed (a BaseException: nothing on the way may
    swallow it; the atomic paths undo on it as on any other)."""

    def __init__(self, errno):
        BaseException.__init__(self, errno)
        self.errno = errno


class _Killed(BaseException):
    """End the process by this signal."""

    def __init__(self, signum):
        BaseException.__init__(self, signum)
        self.signum = signum


class _FdWriter:
    """Text to a file descriptor: buffered (unless a terminal), encoded as
    the arguments were decoded, written with os.write until every byte is
    out. stdout raises _WriteFailed; stderr (where there is nowhere left to
    complain) notes the failure in `failed` and goes on, except EPIPE."""

    def __init__(self, fd, is_stderr, closed):
        self.fd = fd
        self.is_stderr = is_stderr
        self.closed_fd = closed
        self.failed = 0
        self.parts = []
        self.size = 0
        try:
            self.tty = not closed and os.isatty(fd)
        except OSError:
            self.tty = False

    def fileno(self):
        return self.fd

    def write(self, text):
        self.parts.append(text)
        self.size += len(text)
        if self.size >= OUT_BUFFER or self.tty or self.is_stderr:
            self.flush()
        return len(text)

    @property
    def buffer(self):
        """The binary layer, as sys.stdout.buffer is one: bytes written
        through it go out after the text written before them."""
        return _Bytes(self)

    def write_bytes(self, data):
        self.flush()
        self._emit(data)
        return len(data)

    def flush(self):
        if not self.parts:
            return
        data = "".join(self.parts).encode("utf-8", "surrogateescape")
        self.parts = []
        self.size = 0
        self._emit(data)

    def _emit(self, data):
        view = memoryview(data)
        while view:
            try:
                if self.closed_fd:
                    raise OSError(EBADF, "closed")
                n = os.write(self.fd, view)
            except InterruptedError:
                continue
            except OSError as e:
                if self.is_stderr and e.errno != EPIPE:
                    self.failed = e.errno or EBADF
                    return
                raise _WriteFailed(e.errno or EBADF) from None
            view = view[n:]


class _Bytes:
    """_FdWriter's binary layer (what code that writes bytes looks for)."""

    def __init__(self, writer):
        self.write = writer.write_bytes
        self.flush = writer.flush


class _ClosedInput:
    """Standard input when descriptor 0 was closed: reading fails (EBADF)."""

    def read(self, *a):
        raise OSError(EBADF, os.strerror(EBADF))

    def __iter__(self):
        return self

    def __next__(self):
        self.read()

    def readline(self, *a):
        self.read()


def _closed(fd):
    """Was descriptor fd closed when we started? Then hold its number with
    /dev/null."""
    try:
        os.fstat(fd)
        return False
    except OSError:
        pass
    try:
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    except OSError:
        pass
    return True


def _standalone(run):
    """run(out, err, inp) with the process's own streams; the exit status,
    or the process ends by a signal."""
    closed = [_closed(fd) for fd in (0, 1, 2)]
    out, err = _FdWriter(1, False, closed[1]), _FdWriter(2, True, closed[2])
    inp = sys.stdin
    if closed[0] or inp is None:
        inp = _ClosedInput()
    else:
        # arguments and input may hold any bytes: pass them through, as C
        # does; lines end at \n only (\r separates words, as in config_stream)
        try:
            inp.reconfigure(encoding="utf-8", errors="surrogateescape", newline="\n")
        except (AttributeError, ValueError, OSError):
            pass
    signum = 0
    try:
        try:
            status = run(out, err, inp)
        finally:
            if not closed[1] or out.parts:
                out.flush()
    except KeyboardInterrupt:
        signum = SIGINT
    except _Killed as e:
        signum = e.signum
    except _WriteFailed as e:
        if e.errno == EPIPE:
            signum = SIGPIPE
        else:
            prog = _program(sys.argv[0] if sys.argv else "")
            out.parts = []
            err.write("%s: write error: %s\n" % (prog, os.strerror(e.errno)))
            status = 1
    if signum:
        try:
            err.flush()
        except BaseException:
            pass
        import _signal  # loaded by the interpreter at start-up already
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        os._exit(128 + signum)  # not reached
    if err.failed and not status:
        status = 1
    return status
