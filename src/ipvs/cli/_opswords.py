# The operators' options: --drain [SECONDS], --prometheus [--labels LIST],
# --watch [SECONDS]. None of them is an ipvsadm 1.31 option.
#
# Rule: words only (no kernel, no library import): take() removes these
# words from the argument vector before the other extensions and ipvsadm's
# own parser see it; checks() says what is wrong with their combination.
from __future__ import annotations

WORDS = ("--drain", "--prometheus", "--labels", "--watch")

# defaults, in seconds: ipvs.drain.DEFAULT_TIMEOUT (a unit test checks that
# they agree; the library is not imported here, for start-up), and a watch
# refreshed every 2 s, as top(1) refreshes every 3
DEFAULT_DRAIN = 300.0
DEFAULT_WATCH = 2.0
MAX_WATCH = 3600.0  # an hour: an interval beyond is a mistake (1e10 overflowed sleep)


class Words:
    def __init__(self):
        self.drain = None  # None, or the timeout in seconds (float)
        self.prometheus = False
        self.labels = None  # None, or the text given to --labels
        self.watch = None  # None, or the interval in seconds (float)

    @property
    def any(self) -> bool:
        return (self.drain is not None or self.prometheus or self.labels is not None
                or self.watch is not None)


def wanted(a: str) -> bool:
    return a in WORDS or a.startswith(("--drain=", "--labels=", "--watch="))


def _seconds(text, option, lowest):
    try:
        v = float(text)
    except ValueError:
        v = None
    if v is None or v != v or v in (float("inf"),) or v < lowest:
        raise ValueError("%s: not a number of seconds%s: %s"
                         % (option, " above 0" if lowest > 0 else "", text))
    return v


def _number_next(args, i):
    """The next word when it is a number (an optional value), else None."""
    if i + 1 < len(args):
        try:
            float(args[i + 1])
            return args[i + 1]
        except ValueError:
            return None
    return None


def take(args, default_drain=DEFAULT_DRAIN, default_watch=DEFAULT_WATCH):
    """(Words, the other words). ValueError with the message on bad input."""
    w = Words()
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, value = a.partition("=")
        if name in ("--drain", "--watch") and (eq or a == name):
            lowest = 0.0 if name == "--drain" else 0.1
            if not eq:
                value = _number_next(args, i)
                if value is not None:
                    i += 1
            if value is None:
                v = default_drain if name == "--drain" else default_watch
            else:
                v = _seconds(value, name, lowest)
                if name == "--watch" and v < 0.1:
                    raise ValueError("--watch: the interval is at least 0.1 seconds")
                if name == "--watch" and v > MAX_WATCH:
                    raise ValueError("--watch: the interval is at most %d seconds" % MAX_WATCH)
            if name == "--drain":
                w.drain = v
            else:
                w.watch = v
        elif a == "--prometheus":
            w.prometheus = True
        elif name == "--labels":
            if not eq:
                i += 1
                if i >= len(args):
                    raise ValueError("--labels needs a comma-separated list of labels")
                value = args[i]
            w.labels = value
        else:
            rest.append(a)
        i += 1
    return w, rest


def checks(w: Words, rest, apply_file, json):
    """The message for a combination these options do not take, or None."""
    if w.labels is not None and not w.prometheus:
        return "--labels goes with --prometheus"
    if json and (w.prometheus or w.watch is not None or w.drain is not None):
        return "--json does not go with --drain, --prometheus or --watch"
    if w.drain is not None and (w.prometheus or w.watch is not None):
        return "--drain does not go with --prometheus or --watch"
    if w.prometheus and w.watch is not None:
        return "--prometheus does not go with --watch"
    if apply_file is not None and (w.prometheus or w.watch is not None):
        return "--apply does not go with --prometheus or --watch"
    listing = any(a in ("-L", "-l", "--list") or
                  (a.startswith("-") and not a.startswith("--") and ("L" in a or "l" in a))
                  for a in rest[1:])
    if (w.prometheus or w.watch is not None) and not listing:
        return "%s goes with -L (--list)" % ("--prometheus" if w.prometheus else "--watch")
    return None
