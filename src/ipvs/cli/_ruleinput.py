# The input of --apply and -R --atomic: whole lines, in bounded memory, and
# from --apply FILE only what a rules file can be.
#
# Rule: a run that changes the table as a whole reads all of its input
# before its first change, and refuses input that looks cut short (a last
# line without its newline: a copy or a download that stopped half-way
# would otherwise be applied, and everything after the cut removed). A file
# named on the command line (the program is often run through sudo) is
# opened only if it is a regular file or a pipe, and no message quotes what
# it holds beyond the ipvsadm words recognised in it: a line number and a
# reason instead. Plain -R reads as ipvsadm 1.31 reads (_run).
from __future__ import annotations

import os
import re
import stat

from ._scanner import _BY_LONG, _BY_SHORT

MAX_LINE = 65536  # characters of one line, its newline excluded
MAX_INPUT = 256 << 20  # characters of the whole input (about 5 million rules)


class InputRefused(Exception):
    """The input is refused at line `number` for `reason` (quotes none of it)."""

    def __init__(self, number: int, reason: str):
        Exception.__init__(self, number, reason)
        self.number, self.reason = number, reason


def whole_lines(stream):
    """[(number, line without its newline)] of a text stream (lines end
    at \\n only); InputRefused for a line over MAX_LINE, an input over
    MAX_INPUT or a last line without a newline. OSError from the stream
    goes on up."""
    lines = []
    total = 0
    number = 0
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return lines
        number += 1
        total += len(line)
        if total > MAX_INPUT:
            raise InputRefused(number, "the input is longer than %d MiB" % (MAX_INPUT >> 20))
        if line[-1] != "\n":
            if len(line) > MAX_LINE:
                raise InputRefused(number, "longer than %d characters" % MAX_LINE)
            raise InputRefused(number, "no newline at its end: the input looks cut short")
        lines.append((number, line[:-1]))


def open_rules(name: str):
    """A text stream of the file `name`, opened only if it is a regular
    file or a pipe (checked on what is opened, not only on the name).
    OSError otherwise, with its reason in strerror."""
    try:
        fd = os.open(name, os.O_PATH | os.O_CLOEXEC)
    except AttributeError:  # no O_PATH: check the name, then what is opened
        fd = -1
    try:
        if fd >= 0:
            _check(os.fstat(fd))
            try:  # reopen that very inode for reading
                rd = os.open("/proc/self/fd/%d" % fd, os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)
            except FileNotFoundError:  # no /proc
                _check(os.stat(name))
                rd = os.open(name, os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)
        else:
            _check(os.stat(name))
            rd = os.open(name, os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)
    finally:
        if fd >= 0:
            os.close(fd)
    try:
        _check(os.fstat(rd))
        return open(rd, encoding="utf-8", errors="surrogateescape", newline="\n")
    except BaseException:
        os.close(rd)
        raise


def _check(st) -> None:
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        raise OSError(0, "not a regular file or a pipe")


# ipvsadm's option words: what a message may quote of a file's line
_OPTION_WORDS = frozenset(["--" + k for k in _BY_LONG] + ["-" + k for k in _BY_SHORT])
_QUOTED = re.compile(r" ?`[^']*'")
_UNEXPECTED = re.compile(r"^(unexpected argument) .*", re.S)


def file_reason(message: str, words) -> str:
    """ipvsadm's complaint about a line of a named file, without what the
    line holds: quoted values are left out, and a message that still
    holds a word of the line that is not an ipvsadm option is replaced."""
    text = _UNEXPECTED.sub(r"\1", _QUOTED.sub("", message))
    for w in words:
        for part in (w, w.split("=", 1)[-1]):
            if part and part not in _OPTION_WORDS and re.search(
                    r"(?<![\w.:-])%s(?![\w.:-])" % re.escape(part), text):
                return "not an ipvsadm rule"
    return text


def popt_reason(text: str) -> str:
    """popt's '<option>: <reason>' without the option (it may be anything)."""
    return text.rsplit(": ", 1)[-1]


__all__ = ["InputRefused", "whole_lines", "open_rules", "file_reason", "popt_reason",
           "MAX_LINE", "MAX_INPUT"]
