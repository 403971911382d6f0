# How the command line stops: the exceptions that end an ipvsadm run with
# its exit status and message (cli.main() prints them), and the two ways
# the grammar gives up.
#
# Rule: exceptions only; imports nothing.


class ParseExit(Exception):
    """Stop with `message` on stderr (when not None) and exit `status`.
    usage=True: print the usage text instead (to stdout for status 0)."""

    def __init__(self, status, message=None, *, usage=False, version=False, tryhelp=False):
        Exception.__init__(self, message)
        self.status, self.message = status, message
        # what to print instead of the message: the usage text, the
        # version line, or the hint to try -h
        self.usage, self.version, self.tryhelp = usage, version, tryhelp


def fail(msg):
    raise ParseExit(2, msg)


def tryhelp():
    raise ParseExit(255, tryhelp=True)


class Exit(Exception):
    """Stop the program now with this status (after printing `message`).
    signum: end by that signal instead (a standalone run kills itself with
    it, as the C tool dies of it; in-process, the status is 128 + signum)."""

    def __init__(self, status, message=None, signum=0):
        Exception.__init__(self, message)
        self.status = status
        self.message = message
        self.signum = signum


# Exit statuses beyond ipvsadm 1.31's 0, 1, 2 and 255 (and 128 + a signal's
# number): the man page's EXIT STATUS lists them.
EXIT_LOCKED = 3  # another writer holds the namespace's writers' lock (--wait)
EXIT_CHANGED = 4  # --apply was whole, but the table read after it is not the rules'
EXIT_KILLED = 5  # a killed run's journal is there: --recover first
