"""The ipvsadm-compatible command line: `ipvsadm`, `ipvsadm-save`,
`ipvsadm-restore` and `python -m ipvs`.

main(argv, stdout, stderr, stdin) runs one invocation in-process and
returns its exit status; the console scripts call it with the process's
own streams. Imports are deferred so that `ipvsadm -h` starts fast.
"""


import os
import sys

__all__ = ["main", "save_main", "restore_main"]


def _program(argv0):
    # ipvsadm prints argv[0] as typed; a Python script only sees the path it
    # was run from, so use its base name ("ipvsadm" for the usual call).
    name = os.path.basename(argv0 or "")
    if not name or name in ("__main__.py", "-m", "-c"):
        return "ipvsadm"
    return name


def main(argv=None, stdout=None, stderr=None, stdin=None):
    """Run ipvsadm with argv (program name first); return the exit status."""
    standalone = argv is None
    if argv is None:
        argv = sys.argv
    argv = [_program(argv[0] if argv else "")] + list(argv[1:])
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    inp = stdin if stdin is not None else sys.stdin
    if standalone:
        _standalone_streams()
    try:
        return _main(argv, out, err, inp)
    except BrokenPipeError:
        _silence_stdout(out)
        return 141
    except KeyboardInterrupt:
        return 130
    finally:
        try:
            out.flush()
        except BrokenPipeError:
            _silence_stdout(out)
        except Exception:
            pass


def _main(argv, out, err, inp):
    from ._options import ParseExit
    from ._run import Exit, Runner
    try:
        from . import _beyond  # --json, --apply, -R --atomic, --netns
        if _beyond.wanted(argv):
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
        return e.status
    except (BrokenPipeError, KeyboardInterrupt):
        raise
    except Exception as e:  # never a traceback
        from .._base import IPVSError
        if isinstance(e, IPVSError):
            err.write("%s\n" % (e,))
        else:
            err.write("%s: internal error: %s: %s\n" % (argv[0], type(e).__name__, e))
        return 1


def _parse_exit(e, prog, out, err):
    from . import _render
    if e.usage:
        (out if e.status == 0 else err).write(_render.usage(prog))
    elif e.version:
        (out if e.status == 0 else err).write(_render.VERSION_LINE)
    elif e.tryhelp:
        err.write("Try `%s -h' or '%s --help' for more information.\n" % (prog, prog))
    elif e.message is not None:
        err.write(e.message + "\n")
    return e.status


def _silence_stdout(out):
    # A closed pipe ends the program quietly, as it does the C tool; keep
    # the interpreter's final flush from complaining about it.
    try:
        fd = out.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (AttributeError, ValueError, OSError):
        pass


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
        _standalone_streams()
    return main(args, stdout, stderr)


def restore_main(argv=None, stdin=None, stdout=None, stderr=None):
    """ipvsadm-restore: replace the table with the rules read from stdin.

    Unlike Debian's script, the input is checked before the table is
    flushed: a syntax error leaves the current rules in place."""
    inp = stdin if stdin is not None else sys.stdin
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    if argv is None:
        _standalone_streams()
    lines = [line for line in inp.read().splitlines() if not line.startswith("#")]
    from ._options import ParseExit, PoptFailure, check_command, parse_options, CMD_RESTORE
    from ._run import _ASCII_SPACE
    for line in lines:
        words = [w for w in line.translate(_ASCII_SPACE).split(" ") if w]
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


def _standalone_streams():
    # arguments and input may hold any bytes: pass them through, as C does
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="surrogateescape")
        except (AttributeError, ValueError, OSError):
            pass
